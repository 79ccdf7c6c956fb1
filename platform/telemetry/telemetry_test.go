package telemetry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

func TestSpansAreExportedOverOTLPWhenConfigured(t *testing.T) {
	var posts atomic.Int32
	var bodyBytes atomic.Int64
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/traces" && r.Method == http.MethodPost {
			n, _ := io.Copy(io.Discard, r.Body)
			bodyBytes.Add(n)
			posts.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()

	tr, err := NewTracing(context.Background(), "codexion-test", collector.URL)
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Exporting {
		t.Fatal("Exporting is false with an endpoint set")
	}
	_, span := tr.Tracer("t").Start(context.Background(), "post entry")
	span.End()
	if err := tr.Stop(context.Background()); err != nil { // flushes the batch
		t.Fatal(err)
	}
	if posts.Load() == 0 || bodyBytes.Load() == 0 {
		t.Fatal("no span reached the OTLP collector")
	}
}

func TestNoEndpointStillMakesTraceIDs(t *testing.T) {
	tr, err := NewTracing(context.Background(), "codexion-test", "")
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Stop(context.Background()) //nolint:errcheck // test teardown
	_, span := tr.Tracer("t").Start(context.Background(), "x")
	defer span.End()
	if tr.Exporting || !span.SpanContext().TraceID().IsValid() {
		t.Fatalf("exporting=%v trace id valid=%v", tr.Exporting, span.SpanContext().TraceID().IsValid())
	}
}

func TestRegistryPassesPromlint(t *testing.T) {
	rec := httptest.NewRecorder()
	MetricsHandler(NewRegistry()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	if !strings.Contains(body, "codexion_build_info{") {
		t.Fatalf("no build info:\n%s", body)
	}
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil || len(problems) > 0 {
		t.Fatalf("promlint: %v %+v", err, problems)
	}
}
