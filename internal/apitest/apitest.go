// Package apitest runs an API for tests: a fresh migrated database on the test cluster,
// the real platform chain (request ids, tracing, metrics, JWT checks against a real JWKS
// over HTTP) and a token for every role.
package apitest

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/codexion/codexion/governance/access"
	"github.com/codexion/codexion/internal/dbtest"
	"github.com/codexion/codexion/platform/auth"
	"github.com/codexion/codexion/platform/httpx"
	"github.com/codexion/codexion/platform/postgres"
)

// Server is a running API.
type Server struct {
	URL    string
	Tokens map[string]string // by role
	DB     *postgres.Pool
}

// Start migrates a new database with sources, lets routes register handlers over it, and
// serves until the test ends; maxBodyBytes bounds request bodies.
func Start(t testing.TB, maxBodyBytes int64, sources []postgres.Source, routes func(r *httpx.Router, db *postgres.Pool, log *slog.Logger)) *Server {
	t.Helper()
	db := dbtest.New(t, dbtest.Options{MaxConns: 32}, sources...)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	iss, err := auth.LoadOrCreateDevIssuer(srv.URL, filepath.Join(t.TempDir(), "issuer-key.json"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(auth.VerifierOptions{Issuer: srv.URL, Audience: auth.DevAudience})
	if err != nil {
		t.Fatal(err)
	}
	r := httpx.NewRouter(log, auth.Guard(v, log))
	iss.Routes(r, "/jwks")
	routes(r, db, log)
	tp := sdktrace.NewTracerProvider()
	mux.Handle("/", httpx.Chain(r, log, httpx.NewMetrics(prometheus.NewRegistry()), tp.Tracer("test"), propagation.TraceContext{}, maxBodyBytes))
	tokens, err := iss.TokensByRole(access.AllRoles)
	if err != nil {
		t.Fatal(err)
	}
	return &Server{URL: srv.URL, Tokens: tokens, DB: db}
}
