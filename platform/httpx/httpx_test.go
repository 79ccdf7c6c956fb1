package httpx

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/codexion/codexion/platform"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func chain(t *testing.T, r *Router, maxBody int64) (http.Handler, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	return Chain(r, quiet(), NewMetrics(reg), tp.Tracer("t"), propagation.TraceContext{}, maxBody), reg
}

type body struct {
	Name   string `json:"name"`
	Amount string `json:"amount"`
}

// decodeRequest reads and decodes a request body as the handlers do.
func decodeRequest(r *http.Request, v any) error {
	data, err := ReadJSONBody(r)
	if err != nil {
		return err
	}
	return DecodeJSONBytes(data, v)
}

func TestDecodeJSONErrorsSayWhatToFix(t *testing.T) {
	cases := map[string]string{
		``:                          "body is empty",
		`{"name":`:                  "cut short",
		`{"name": 5}`:               `field "name" must be a string, not a JSON number`,
		`{"nmae": "x"}`:             `unknown field "nmae"`,
		`{"name":"a"} {"name":"b"}`: "nothing after it",
		`[1,2]`:                     "must be a JSON httpx.body",
		`{"name":"` + strings.Repeat("x", 100) + `"}`: "larger than 64 bytes",
	}
	for in, want := range cases {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(in))
		req.Body = http.MaxBytesReader(httptest.NewRecorder(), req.Body, 64)
		var b body
		err := decodeRequest(req, &b)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("decode(%q) = %v, want %q", in, err, want)
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "text/plain")
	if err := decodeRequest(req, &body{}); err == nil || !strings.Contains(err.Error(), "send application/json") {
		t.Errorf("content type: %v", err)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add(`{"name":"a","amount":"1.00"}`)
	f.Add(`{"name":`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, in string) {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(in))
		req.Body = http.MaxBytesReader(httptest.NewRecorder(), req.Body, 1024)
		err := decodeRequest(req, &body{})
		if err != nil {
			if k := platform.KindOf(err); k != platform.KindInvalid && k != platform.KindTooLarge {
				t.Fatalf("kind %v for %q: %v", k, in, err)
			}
		}
	})
}

func TestErrorsBecomeProblemDetails(t *testing.T) {
	r := NewRouter(quiet(), nil)
	r.HandleFunc("POST /v1/things", Public, func(w http.ResponseWriter, req *http.Request) {
		var b body
		if err := decodeRequest(req, &b); err != nil {
			WriteError(w, req, quiet(), err)
			return
		}
		WriteError(w, req, quiet(), platform.E(platform.KindConflict, "thing_exists", "thing %s exists", b.Name))
	})
	r.HandleFunc("GET /v1/boom", Public, func(w http.ResponseWriter, req *http.Request) {
		WriteError(w, req, quiet(), io.ErrClosedPipe)
	})
	h, _ := chain(t, r, 1024)

	check := func(method, path, in string, status int, code string) Problem {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(in)))
		if rec.Code != status || rec.Header().Get("Content-Type") != ProblemContentType {
			t.Fatalf("%s %s: %d %q", method, path, rec.Code, rec.Header().Get("Content-Type"))
		}
		var p Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		if p.Code != code || p.Status != status || p.Type != ProblemTypeBase+code || p.RequestID == "" {
			t.Fatalf("%s %s: problem %+v", method, path, p)
		}
		return p
	}
	check("POST", "/v1/things", `{"name":"a"}`, 409, "thing_exists")
	check("POST", "/v1/things", `{"name":`, 400, "invalid_argument")
	check("POST", "/v1/things", `{"name":"`+strings.Repeat("x", 2000)+`"}`, 413, "body_too_large")
	check("GET", "/nowhere", "", 404, "route_not_found")
	p := check("GET", "/v1/boom", "", 500, "internal")
	if strings.Contains(p.Detail, "closed pipe") {
		t.Fatalf("internal error leaks its cause: %q", p.Detail)
	}
}

func TestMetricsByRouteAndCode(t *testing.T) {
	r := NewRouter(quiet(), nil)
	r.HandleFunc("GET /v1/things/{id}", Public, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})
	h, reg := chain(t, r, 1024)
	for _, p := range []string{"/v1/things/1", "/v1/things/2", "/missing"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, p, nil))
	}
	n := testutil.CollectAndCount(reg, "codexion_http_request_duration_seconds")
	if n != 2 {
		t.Fatalf("series = %d, want 2 (one per route and code)", n)
	}
	mfs, _ := reg.Gather()
	var labels []string
	for _, mf := range mfs {
		if mf.GetName() != "codexion_http_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var l []string
			for _, lp := range m.GetLabel() {
				l = append(l, lp.GetName()+"="+lp.GetValue())
			}
			labels = append(labels, strings.Join(l, ",")+" count="+jsonNum(m.GetHistogram().GetSampleCount()))
		}
	}
	got := strings.Join(labels, ";")
	if !strings.Contains(got, "code=418,method=GET,route=GET /v1/things/{id} count=2") ||
		!strings.Contains(got, "code=404,method=GET,route=unmatched count=1") {
		t.Fatalf("series: %s", got)
	}
}

func jsonNum(n uint64) string { b, _ := json.Marshal(n); return string(b) }

func TestRequestIDAndTraceparent(t *testing.T) {
	r := NewRouter(quiet(), nil)
	r.HandleFunc("GET /x", Public, func(http.ResponseWriter, *http.Request) {})
	h, _ := chain(t, r, 1024)

	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req.Header.Set(RequestIDHeader, "client-chosen-1")
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Header().Get(RequestIDHeader) != "client-chosen-1" {
		t.Fatalf("request id = %q", rec.Header().Get(RequestIDHeader))
	}
	if tp := rec.Header().Get("traceparent"); !strings.HasPrefix(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-") {
		t.Fatalf("traceparent = %q, want the caller's trace continued", tp)
	}

	req = httptest.NewRequest(http.MethodGet, "/x", nil)
	req.Header.Set(RequestIDHeader, "bad id with spaces\n")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if id := rec.Header().Get(RequestIDHeader); id == "" || strings.Contains(id, " ") {
		t.Fatalf("unsafe request id echoed: %q", id)
	}
}

func TestPanicIsA500Problem(t *testing.T) {
	r := NewRouter(quiet(), nil)
	r.HandleFunc("GET /panic", Public, func(http.ResponseWriter, *http.Request) { panic("bug") })
	h, _ := chain(t, r, 1024)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/panic", nil))
	if rec.Code != 500 || rec.Header().Get("Content-Type") != ProblemContentType {
		t.Fatalf("%d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}

func TestRouteWithoutAccessPanicsAtRegistration(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("a route without access was accepted")
		}
	}()
	NewRouter(quiet(), nil).HandleFunc("GET /x", Access{}, func(http.ResponseWriter, *http.Request) {})
}

// TestDecodeNamesTheMemberItsTypeRefuses: a type's own UnmarshalJSON (time.Time's) returns
// errors that carry no path; the refusal still names the member.
func TestDecodeNamesTheMemberItsTypeRefuses(t *testing.T) {
	var in struct {
		Name string    `json:"name"`
		From time.Time `json:"from"`
	}
	for _, body := range []string{`{"name":"a","from":12}`, `{"from":"yesterday","name":"a"}`} {
		err := DecodeJSONBytes([]byte(body), &in)
		var pe *platform.Error
		if !errors.As(err, &pe) || pe.Kind != platform.KindInvalid || len(pe.Fields) != 1 || pe.Fields[0].Field != "from" {
			t.Errorf("%s: %v, want an invalid argument naming from", body, err)
		}
	}
}

// TestProblemsDoNotEchoMegabytes: a message quoting a huge value is cut in the middle, so
// the refusal keeps what it says after the quote and stays small and valid UTF-8.
func TestProblemsDoNotEchoMegabytes(t *testing.T) {
	huge := strings.Repeat("é", 1<<19) // 1 MiB, two bytes a rune
	rec := httptest.NewRecorder()
	e := platform.Invalid("period %q is not a month; write it as YYYY-MM", huge)
	e.Fields = []platform.FieldError{{Field: "period", Message: huge}}
	WriteError(rec, httptest.NewRequest(http.MethodGet, "/v1/periods/"+strings.Repeat("x", 1<<16), nil), quiet(), e)
	if rec.Body.Len() > 4*MaxProblemTextBytes {
		t.Fatalf("a %d-byte problem", rec.Body.Len())
	}
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{p.Detail, p.Instance, p.Errors[0].Message} {
		if len(s) > MaxProblemTextBytes || !utf8.ValidString(s) || !strings.Contains(s, "bytes cut") {
			t.Errorf("%d bytes, valid UTF-8 %v: %.80s", len(s), utf8.ValidString(s), s)
		}
	}
	if !strings.HasSuffix(p.Detail, "is not a month; write it as YYYY-MM") || p.Errors[0].Field != "period" {
		t.Errorf("the refusal lost what it says: %.80s … %s", p.Detail, p.Detail[len(p.Detail)-60:])
	}
	if got := BoundText("short", MaxProblemTextBytes); got != "short" {
		t.Errorf("a short text changed: %q", got)
	}
}

func TestARouteWithItsOwnBodyLimitTakesMoreThanTheServersAndNoMoreThanItsOwn(t *testing.T) {
	r := NewRouter(quiet(), nil)
	read := func(w http.ResponseWriter, req *http.Request) {
		n, err := io.Copy(io.Discard, req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		_, _ = io.WriteString(w, jsonNum(uint64(n)))
	}
	r.HandleFunc("PUT /upload", Public.BodyLimit(4096), read)
	r.HandleFunc("PUT /json", Public, read)
	h, _ := chain(t, r, 1024)
	for _, c := range []struct {
		path   string
		size   int
		status int
	}{
		{"/upload", 3000, http.StatusOK},                    // past the server's bound, within the route's
		{"/upload", 5000, http.StatusRequestEntityTooLarge}, // past the route's
		{"/json", 1024, http.StatusOK},
		{"/json", 1025, http.StatusRequestEntityTooLarge}, // other routes keep the server's
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, c.path, strings.NewReader(strings.Repeat("x", c.size))))
		if rec.Code != c.status {
			t.Errorf("PUT %s with %d bytes: %d %s, want %d", c.path, c.size, rec.Code, rec.Body, c.status)
		}
	}
}
