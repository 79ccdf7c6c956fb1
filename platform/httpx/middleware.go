package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/logging"
)

// RequestIDHeader carries the request id in and out.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds an incoming request id; a longer or odd one is replaced.
const maxRequestIDLen = 128

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// Metrics are the RED metrics of the HTTP server.
type Metrics struct {
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
}

// NewMetrics registers the HTTP metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "codexion_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by route pattern, method and status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "code"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "codexion_http_requests_in_flight",
			Help: "HTTP requests being served now.",
		}),
	}
	reg.MustRegister(m.duration, m.inflight)
	return m
}

type routeInfo struct {
	route   string
	quiet   bool          // successful requests log at debug
	rawBody io.ReadCloser // the body before the server's bound, for routes with their own
}

type routeInfoKey struct{}

func infoFrom(ctx context.Context) *routeInfo {
	i, _ := ctx.Value(routeInfoKey{}).(*routeInfo)
	return i
}

// Chain wraps h with, outermost first: panic recovery, request id, tracing, metrics and
// access log, the body bound, and the refusal of bad text in the path and query.
func Chain(h http.Handler, log *slog.Logger, m *Metrics, tracer trace.Tracer, prop propagation.TextMapPropagator, maxBodyBytes int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		began := time.Now()
		id := r.Header.Get(RequestIDHeader)
		if len(id) > maxRequestIDLen || !requestIDPattern.MatchString(id) {
			id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, id)

		ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tracer.Start(ctx, r.Method+" "+r.URL.Path, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(
				attribute.String("http.request.method", r.Method),
				attribute.String("url.path", r.URL.Path),
				attribute.String("codexion.request_id", id),
			))
		defer span.End()
		info := &routeInfo{route: "unmatched"}
		ctx = context.WithValue(logging.WithRequestID(ctx, id), routeInfoKey{}, info)
		prop.Inject(ctx, propagation.HeaderCarrier(w.Header()))

		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		if r.Body != nil {
			info.rawBody = r.Body
			r.Body = http.MaxBytesReader(rec, r.Body, maxBodyBytes)
		}
		m.inflight.Inc()
		defer func() {
			m.inflight.Dec()
			if p := recover(); p != nil {
				log.ErrorContext(ctx, "panic serving request", "panic", p, "stack", string(debug.Stack()))
				span.SetStatus(codes.Error, "panic")
				if !rec.wrote {
					WriteProblem(rec, Problem{Type: ProblemTypeBase + "internal", Title: "Internal Server Error",
						Status: http.StatusInternalServerError, Code: platform.CodeInternal.Code, RequestID: id,
						Detail: "internal error; report request id " + id})
				}
			}
			elapsed := time.Since(began)
			code := strconv.Itoa(rec.status)
			m.duration.WithLabelValues(info.route, r.Method, code).Observe(elapsed.Seconds())
			span.SetAttributes(attribute.Int("http.response.status_code", rec.status), attribute.String("http.route", info.route))
			if rec.status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(rec.status))
			}
			level := slog.LevelInfo
			if rec.status >= 500 {
				level = slog.LevelError
			}
			if info.route == "GET /metrics" || info.route == "GET /livez" || info.route == "GET /readyz" || (info.quiet && rec.status < 400) {
				level = slog.LevelDebug // probes and high-volume lookups would drown the log
			}
			log.Log(ctx, level, "http request", "method", r.Method, "path", r.URL.Path, "route", info.route,
				"status", rec.status, "bytes", rec.bytes, "duration_ms", float64(elapsed.Microseconds())/1000)
		}()
		RefuseBadText(log, h).ServeHTTP(rec, r.WithContext(ctx))
	})
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status = code
		s.wrote = true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
