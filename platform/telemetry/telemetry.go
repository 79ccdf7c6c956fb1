// Package telemetry sets up Prometheus metrics and OpenTelemetry tracing for the process.
// Metrics live in a registry owned by the app, never the global one, so tests can run
// several apps in one process. Traces are exported only when an OTLP endpoint is set.
package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/codexion/codexion/platform/buildinfo"
)

// NewRegistry returns a registry with Go runtime and process collectors and
// codexion_build_info.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	info := buildinfo.Get()
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "codexion_build_info",
		Help:        "Build of the running Codexion binary; always 1.",
		ConstLabels: prometheus.Labels{"version": info.Version, "commit": info.Commit, "go_version": info.GoVersion},
	})
	buildInfo.Set(1)
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo,
	)
	return reg
}

// MetricsHandler serves reg in the Prometheus text format.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, EnableOpenMetrics: false})
}

// Tracing is the process's tracer provider and propagator.
type Tracing struct {
	Provider   *sdktrace.TracerProvider
	Propagator propagation.TextMapPropagator
	Exporting  bool
}

// NewTracing builds a tracer provider. With an OTLP endpoint ("http://collector:4318" or
// "collector:4318") spans are batched and exported over OTLP/HTTP; without one, spans
// still get ids (so logs carry trace ids) but go nowhere.
func NewTracing(ctx context.Context, serviceName, otlpEndpoint string) (*Tracing, error) {
	res := resource.NewSchemaless(
		semconv.ServiceName(serviceName),
		semconv.ServiceVersion(buildinfo.Get().Version),
	)
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	exporting := false
	if otlpEndpoint != "" {
		var eopts []otlptracehttp.Option
		if strings.Contains(otlpEndpoint, "://") {
			eopts = append(eopts, otlptracehttp.WithEndpointURL(strings.TrimRight(otlpEndpoint, "/")+"/v1/traces"))
		} else {
			eopts = append(eopts, otlptracehttp.WithEndpoint(otlpEndpoint), otlptracehttp.WithInsecure())
		}
		exp, err := otlptracehttp.New(ctx, eopts...)
		if err != nil {
			return nil, fmt.Errorf("otlp exporter for %s: %w", otlpEndpoint, err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
		exporting = true
	}
	return &Tracing{
		Provider:   sdktrace.NewTracerProvider(opts...),
		Propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		Exporting:  exporting,
	}, nil
}

// Tracer returns a named tracer.
func (t *Tracing) Tracer(name string) trace.Tracer { return t.Provider.Tracer(name) }

func (t *Tracing) Name() string { return "tracing" }

func (t *Tracing) Start(context.Context) error { return nil }

// Stop flushes spans not yet exported.
func (t *Tracing) Stop(ctx context.Context) error { return t.Provider.Shutdown(ctx) }
