package idempotency_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/codexion/codexion/internal/dbtest"
	"github.com/codexion/codexion/platform/auth"
	"github.com/codexion/codexion/platform/httpx"
	"github.com/codexion/codexion/platform/idempotency"
)

// subjectGuard stands in for token checks: the caller is whoever X-Subject names.
func subjectGuard(_ httpx.Access, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := auth.WithPrincipal(r.Context(), auth.Principal{Subject: r.Header.Get("X-Subject"), Roles: []string{"admin"}})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

type written struct {
	Row    int64  `json:"row"`
	Author string `json:"author"`
}

// thingsAPI writes one row per request that is not a replay, under the request's key.
func thingsAPI(t *testing.T) (http.Handler, *pgxpool.Pool) {
	t.Helper()
	db := dbtest.Migrated(t, idempotency.Migrations()).Pool
	if _, err := db.Exec(t.Context(), `CREATE TABLE things (row bigint GENERATED ALWAYS AS IDENTITY, author text NOT NULL, book text)`); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	write := func(w http.ResponseWriter, r *http.Request) {
		body, err := httpx.ReadJSONBody(r)
		if err != nil {
			httpx.WriteError(w, r, log, err)
			return
		}
		k, ok, err := idempotency.FromRequest(r, body, "book")
		if err != nil {
			httpx.WriteError(w, r, log, err)
			return
		}
		var key *idempotency.Key
		if ok {
			key = &k
		}
		var (
			out      written
			replayed bool
		)
		err = pgx.BeginFunc(r.Context(), db, func(tx pgx.Tx) error {
			out, replayed, err = idempotency.Do(r.Context(), tx, key, http.StatusCreated, func() (written, error) {
				var x written
				err := tx.QueryRow(r.Context(), `INSERT INTO things (author, book) VALUES ($1, $2) RETURNING row, author`,
					r.Header.Get("X-Subject"), r.URL.Query().Get("book")).Scan(&x.Row, &x.Author)
				return x, err
			})
			return err
		})
		if err != nil {
			httpx.WriteError(w, r, log, err)
			return
		}
		if replayed {
			w.Header().Set(idempotency.ReplayedHeader, "true")
		}
		httpx.WriteJSON(w, http.StatusCreated, out)
	}
	r := httpx.NewRouter(log, subjectGuard)
	r.HandleFunc("POST /v1/things/{id}", httpx.Roles("admin"), write)
	r.HandleFunc("POST /v1/other-things/{id}", httpx.Roles("admin"), write)
	r.HandleFunc("POST /v1/public/{id}", httpx.Public, write)
	return r, db
}

type answer struct {
	status   int
	replayed bool
	code     string
	body     written
}

func send(t *testing.T, h http.Handler, subject, target, key, body string) answer {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	req.Header.Set("X-Subject", subject)
	req.Header.Set(idempotency.Header, key)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	a := answer{status: rec.Code, replayed: rec.Header().Get(idempotency.ReplayedHeader) == "true"}
	if rec.Code == http.StatusCreated {
		if err := json.Unmarshal(rec.Body.Bytes(), &a.body); err != nil {
			t.Fatal(err)
		}
	} else {
		var p httpx.Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		a.code = p.Code
	}
	return a
}

func rows(t *testing.T, db *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), `SELECT count(*) FROM things`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestKeyIsScopedToTheOperationNotTheRawURL(t *testing.T) {
	h, db := thingsAPI(t)
	first := send(t, h, "alice", "/v1/things/a?book=acme", "k-1", `{"n":1}`)
	if first.status != http.StatusCreated || first.replayed {
		t.Fatalf("first: %+v", first)
	}
	// Extra query parameters and their order are not part of the request.
	for _, target := range []string{"/v1/things/a?book=acme&x=1", "/v1/things/a?x=1&book=acme&utm=z"} {
		again := send(t, h, "alice", target, "k-1", `{"n":1}`)
		if again.status != http.StatusCreated || !again.replayed || again.body != first.body {
			t.Fatalf("%s: %+v, want a replay of %+v", target, again, first.body)
		}
	}
	if n := rows(t, db); n != 1 {
		t.Fatalf("%d rows after retries with extra query parameters, want 1", n)
	}
	// What the operation acts on is: another path value or ?book= with the same key is misuse.
	for _, target := range []string{"/v1/things/b?book=acme", "/v1/things/a?book=other", "/v1/things/a"} {
		if a := send(t, h, "alice", target, "k-1", `{"n":1}`); a.status != http.StatusConflict || a.code != "idempotency_key_reused" {
			t.Fatalf("%s with a used key: %+v, want 409 idempotency_key_reused", target, a)
		}
	}
	if a := send(t, h, "alice", "/v1/things/a?book=acme", "k-1", `{"n":2}`); a.status != http.StatusConflict || a.code != "idempotency_key_reused" {
		t.Fatalf("another body with a used key: %+v", a)
	}
	if n := rows(t, db); n != 1 {
		t.Fatalf("%d rows after refused reuses, want 1", n)
	}
	// Another operation has keys of its own.
	other := send(t, h, "alice", "/v1/other-things/a?book=acme", "k-1", `{"n":1}`)
	if other.status != http.StatusCreated || other.replayed || other.body == first.body {
		t.Fatalf("same key on another route: %+v", other)
	}
	if n := rows(t, db); n != 2 {
		t.Fatalf("%d rows, want 2", n)
	}
}

func TestKeyIsScopedToTheCaller(t *testing.T) {
	h, db := thingsAPI(t)
	alice := send(t, h, "alice", "/v1/things/a", "shared-key", `{"n":1}`)
	bob := send(t, h, "bob", "/v1/things/a", "shared-key", `{"n":1}`)
	if bob.status != http.StatusCreated || bob.replayed || bob.body.Author != "bob" || bob.body == alice.body {
		t.Fatalf("bob with alice's key and body got %+v (alice's: %+v); want a write of his own", bob, alice.body)
	}
	// A subject that imitates the scope's quoting still gets a scope of its own.
	mallory := send(t, h, `alice" POST /v1/things/{id}`, "/v1/things/a", "shared-key", `{"n":1}`)
	if mallory.status != http.StatusCreated || mallory.replayed {
		t.Fatalf("crafted subject: %+v", mallory)
	}
	if again := send(t, h, "bob", "/v1/things/a", "shared-key", `{"n":1}`); !again.replayed || again.body != bob.body {
		t.Fatalf("bob's retry: %+v, want a replay of %+v", again, bob.body)
	}
	if n := rows(t, db); n != 3 {
		t.Fatalf("%d rows, want one each for alice, bob and mallory", n)
	}
}

func TestKeyWithoutAnAuthenticatedCallerIsRefused(t *testing.T) {
	h, db := thingsAPI(t)
	a := send(t, h, "", "/v1/public/a", "k", `{"n":1}`)
	if a.status != http.StatusBadRequest || a.code != "invalid_argument" {
		t.Fatalf("key on a public route: %+v, want 400 invalid_argument", a)
	}
	if n := rows(t, db); n != 0 {
		t.Fatalf("%d rows written by a refused request", n)
	}
}

func TestScopeQuotesTheSubject(t *testing.T) {
	if a, b := idempotency.Scope(`a" POST /x`, "POST /y"), idempotency.Scope("a", `POST /x" POST /y`); a == b {
		t.Fatalf("two callers share the scope %q", a)
	}
}
