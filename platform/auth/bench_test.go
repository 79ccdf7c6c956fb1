package auth

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/codexion/codexion/platform/httpx"
)

// BenchmarkAuthenticatedRequest measures a request through the whole platform chain
// (request id, tracing, RED metrics, access log, JWT verification, role check) against
// the same handler on a bare ServeMux, in the same process.
func BenchmarkAuthenticatedRequest(b *testing.B) {
	iss, srv, _ := idp(b)
	tok, err := iss.Mint("bench", []string{roleReader}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	handler := func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))

	bare := http.NewServeMux()
	bare.HandleFunc("GET /v1/thing", handler)

	router := httpx.NewRouter(log, Guard(verifier(b, VerifierOptions{Issuer: srv.URL, Audience: DevAudience}), log))
	router.HandleFunc("GET /v1/thing", httpx.Roles(roleReader), handler)
	tp := sdktrace.NewTracerProvider()
	chain := httpx.Chain(router, log, httpx.NewMetrics(prometheus.NewRegistry()), tp.Tracer("bench"),
		propagation.TraceContext{}, 1<<20)

	for _, side := range []struct {
		name string
		h    http.Handler
	}{{"baseline", bare}, {"codexion", chain}} {
		b.Run(side.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, "/v1/thing", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				rec := httptest.NewRecorder()
				side.h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
