package httpx

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/codexion/codexion/platform"
)

// The one adapter: a handler's returned error is written by the API's error writer, and a
// handler that succeeds writes its own answer untouched.
func TestAdapterWritesReturnedErrors(t *testing.T) {
	wrap := Adapter(Problems(slog.New(slog.NewTextHandler(io.Discard, nil))))
	fail := wrap(func(http.ResponseWriter, *http.Request) error {
		return platform.Invalid("amount %q: use a decimal", "x")
	})
	rec := httptest.NewRecorder()
	fail(rec, httptest.NewRequest("POST", "/v1/x", nil))
	if rec.Code != 400 || !strings.Contains(rec.Header().Get("Content-Type"), "problem+json") || !strings.Contains(rec.Body.String(), "use a decimal") {
		t.Fatalf("invalid: %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	rec = httptest.NewRecorder()
	wrap(func(http.ResponseWriter, *http.Request) error { return errors.New("disk on fire") })(rec, httptest.NewRequest("GET", "/v1/x", nil))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "disk on fire") {
		t.Fatalf("internal errors are 500 without their text: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	wrap(func(w http.ResponseWriter, _ *http.Request) error { w.WriteHeader(204); return nil })(rec, httptest.NewRequest("GET", "/v1/x", nil))
	if rec.Code != 204 || rec.Body.Len() != 0 {
		t.Fatalf("success: %d %s", rec.Code, rec.Body)
	}
	var got error
	custom := Adapter(func(_ http.ResponseWriter, _ *http.Request, err error) { got = err })
	custom(func(http.ResponseWriter, *http.Request) error { return platform.NotFound("nope") })(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if platform.KindOf(got) != platform.KindNotFound {
		t.Fatalf("a custom error writer gets the error: %v", got)
	}
}
