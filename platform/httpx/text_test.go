package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/codexion/codexion/platform"
)

func problemOf(t *testing.T, rec *httptest.ResponseRecorder) Problem {
	t.Helper()
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("body %q: %v", rec.Body.String(), err)
	}
	return p
}

func TestNULAndInvalidUTF8InPathOrQueryAreRefusedBeforeAnyHandler(t *testing.T) {
	served := 0
	r := NewRouter(quiet(), nil)
	r.HandleFunc("GET /v1/things/{id}", Public, func(http.ResponseWriter, *http.Request) { served++ })
	h, _ := chain(t, r, 1024)
	cases := []struct{ target, field, want string }{
		{"/v1/things/a%00b", "path", `path segment 3 ("a\x00b") holds a NUL character`},
		{"/v1/things/a%ffb", "path", `path segment 3 ("a\xffb") holds bytes that are not valid UTF-8`},
		{"/v1/things/1?book=acme%00", "book", "query parameter book holds a NUL character"},
		{"/v1/things/1?book=%c3", "book", "query parameter book holds bytes that are not valid UTF-8"},
		{"/v1/things/1?bo%00ok=acme", "", `query parameter name "bo\x00ok" holds a NUL character`},
		{"/v1/things/1?book=%zz", "", "query string is not valid URL encoding"},
		{"/nowhere%00", "path", "holds a NUL character"},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.target, nil))
		p := problemOf(t, rec)
		field := ""
		if len(p.Errors) == 1 {
			field = p.Errors[0].Field
		}
		if rec.Code != http.StatusBadRequest || p.Code != "invalid_argument" || !strings.Contains(p.Detail, c.want) || field != c.field {
			t.Errorf("GET %s: %d %s %q field %q; want 400 invalid_argument %q field %q", c.target, rec.Code, p.Code, p.Detail, field, c.want, c.field)
		}
	}
	if served != 0 {
		t.Fatalf("the handler ran %d times for refused requests", served)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/things/caf%C3%A9?book=acme&x=%E2%9C%93", nil))
	if rec.Code != http.StatusOK || served != 1 {
		t.Fatalf("clean UTF-8 request: %d, served %d", rec.Code, served)
	}
}

func TestWrongMethodIs405WithAllow(t *testing.T) {
	served := 0
	r := NewRouter(quiet(), nil)
	ok := func(http.ResponseWriter, *http.Request) { served++ }
	r.HandleFunc("GET /v1/things", Public, ok)
	r.HandleFunc("POST /v1/things", Public, ok)
	r.HandleFunc("DELETE /v1/things/{id}", Public, ok)
	h, _ := chain(t, r, 1024)
	for _, c := range []struct{ method, path, allow string }{
		{http.MethodPut, "/v1/things", "GET, HEAD, POST"},
		{http.MethodDelete, "/v1/things", "GET, HEAD, POST"},
		{http.MethodGet, "/v1/things/7", "DELETE"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		p := problemOf(t, rec)
		if rec.Code != http.StatusMethodNotAllowed || p.Code != "method_not_allowed" || rec.Header().Get("Allow") != c.allow {
			t.Errorf("%s %s: %d %s Allow %q; want 405 method_not_allowed Allow %q", c.method, c.path, rec.Code, p.Code, rec.Header().Get("Allow"), c.allow)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/nothing", nil))
	if rec.Code != http.StatusNotFound || rec.Header().Get("Allow") != "" || problemOf(t, rec).Code != "route_not_found" {
		t.Fatalf("unknown path: %d Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
	if served != 0 {
		t.Fatalf("a handler ran %d times for a wrong method", served)
	}
}

func TestErrorBodiesCarryNoWrappedCause(t *testing.T) {
	cause := errors.New(`ERROR: relation "ledger_lines" does not exist (SQLSTATE 42P01)`)
	for _, err := range []error{
		cause,
		fmt.Errorf("post entry: %w", cause),
		platform.Unavailable(cause, "the database is unavailable; retry later"),
		&platform.Error{Kind: platform.KindConflict, Code: "conflict", Err: cause},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/x", nil)
		WriteError(rec, req, quiet(), err)
		if strings.Contains(rec.Body.String(), "SQLSTATE") || strings.Contains(rec.Body.String(), "ledger_lines") {
			t.Errorf("%v: body %s", err, rec.Body)
		}
	}
}

func TestBadBodiesAre400NamingTheFieldAndWriteNothing(t *testing.T) {
	var written []body
	r := NewRouter(quiet(), nil)
	r.HandleFunc("POST /v1/things", Public, func(w http.ResponseWriter, req *http.Request) {
		var b body
		if err := decodeRequest(req, &b); err != nil {
			WriteError(w, req, quiet(), err)
			return
		}
		written = append(written, b)
		w.WriteHeader(http.StatusCreated)
	})
	h, _ := chain(t, r, 1<<20)
	for _, c := range []struct{ in, field string }{
		{`{"name":"acme","name":"x"}`, ""},
		{`{"name":"acme","NAME":"x"}`, ""},
		{`{"name":"a\u0000"}`, "name"},
		{"{\"name\":\"\xff\"}", "name"},
		{`{"name":"\ud800"}`, "name"},
		{`{"amount":` + nested(MaxJSONDepth) + `}`, "amount" + strings.Repeat(".a", MaxJSONDepth-1)},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/things", strings.NewReader(c.in)))
		p := problemOf(t, rec)
		field := ""
		if len(p.Errors) == 1 {
			field = p.Errors[0].Field
		}
		if rec.Code != http.StatusBadRequest || p.Code != "invalid_argument" || field != c.field {
			t.Errorf("%.40q: %d %s field %q (%s); want 400 invalid_argument field %q", c.in, rec.Code, p.Code, field, p.Detail, c.field)
		}
	}
	if len(written) != 0 {
		t.Fatalf("refused bodies were written: %+v", written)
	}
}
