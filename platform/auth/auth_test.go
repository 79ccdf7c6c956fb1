package auth

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/httpx"
)

// idp is a real HTTP identity provider: discovery document and JWKS over HTTP.

// Roles are opaque names to this package; the product's live in governance/access.
const (
	roleAdmin  = "admin"
	roleReader = "reader"
)

var testRoles = []string{roleAdmin, roleReader}

func idp(t testing.TB) (*DevIssuer, *httptest.Server, *atomic.Int32) {
	t.Helper()
	var fetches atomic.Int32
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	iss, err := LoadOrCreateDevIssuer(srv.URL, filepath.Join(t.TempDir(), "key.json"))
	if err != nil {
		t.Fatal(err)
	}
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": srv.URL + "/jwks"})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		_ = json.NewEncoder(w).Encode(iss.JWKS())
	})
	return iss, srv, &fetches
}

func verifier(t testing.TB, opts VerifierOptions) *Verifier {
	t.Helper()
	v, err := NewVerifier(opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// An issuer serves many applications; without an audience to check, a token it minted for
// any of them would pass here.
func TestVerifierNeedsAnIssuerAndAnAudience(t *testing.T) {
	for _, opts := range []VerifierOptions{{Issuer: "https://idp.example"}, {Audience: "codexion"}, {}} {
		if _, err := NewVerifier(opts); err == nil || platform.KindOf(err) != platform.KindInvalid || !strings.Contains(err.Error(), "auth.audience") {
			t.Errorf("NewVerifier(%+v) = %v, want a refusal naming the settings", opts, err)
		}
	}
}

func TestDevTokensCarryTheDevAudience(t *testing.T) {
	iss, srv, _ := idp(t)
	tok, _ := iss.Mint("a", []string{roleAdmin}, time.Hour)
	if _, err := verifier(t, VerifierOptions{Issuer: srv.URL, Audience: DevAudience}).Verify(context.Background(), tok); err != nil {
		t.Fatalf("dev token refused by a verifier requiring %q: %v", DevAudience, err)
	}
	if _, err := verifier(t, VerifierOptions{Issuer: srv.URL, Audience: "codexion-prod"}).Verify(context.Background(), tok); err == nil {
		t.Fatal("dev token accepted for another audience")
	}
}

func TestVerifyAcceptsIssuerTokens(t *testing.T) {
	iss, srv, fetches := idp(t)
	v := verifier(t, VerifierOptions{Issuer: srv.URL, Audience: DevAudience})
	tok, err := iss.Mint("alice", []string{roleReader}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		p, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Fatal(err)
		}
		if p.Subject != "alice" || len(p.Roles) != 1 || p.Roles[0] != roleReader {
			t.Fatalf("principal = %+v", p)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times for 3 tokens, want 1 (cached)", n)
	}
}

func TestVerifyRejects(t *testing.T) {
	iss, srv, _ := idp(t)
	other, err := LoadOrCreateDevIssuer(srv.URL, filepath.Join(t.TempDir(), "other.json"))
	if err != nil {
		t.Fatal(err)
	}
	wrongIss, err := LoadOrCreateDevIssuer("https://evil.example", filepath.Join(t.TempDir(), "k.json"))
	if err != nil {
		t.Fatal(err)
	}
	expired, _ := iss.Mint("a", []string{roleAdmin}, -2*time.Hour)
	foreign, _ := other.Mint("a", []string{roleAdmin}, time.Hour)
	// Same key as the trusted issuer would make this an issuer test; sign with wrongIss's
	// own key, which the verifier cannot find either: both must fail.
	badIss, _ := wrongIss.Mint("a", []string{roleAdmin}, time.Hour)
	good, _ := iss.Mint("a", []string{roleAdmin}, time.Hour)
	tampered := good[:len(good)-4] + "AAAA"

	cases := map[string]struct{ tok, want string }{
		"garbage":       {"not.a.jwt", "not a signed JWT"},
		"expired":       {expired, "expired at"},
		"unknown key":   {foreign, "which the issuer does not publish"},
		"wrong issuer":  {badIss, "does not publish"},
		"bad signature": {tampered, "signature does not verify"},
		"oversized":     {strings.Repeat("a", maxTokenBytes+1), "longer than"},
	}
	v := verifier(t, VerifierOptions{Issuer: srv.URL, Audience: DevAudience})
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tc.tok)
			if err == nil {
				t.Fatal("accepted")
			}
			if platform.KindOf(err) != platform.KindUnauthenticated {
				t.Errorf("kind = %v", platform.KindOf(err))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestVerifyChecksIssuerAndAudience(t *testing.T) {
	iss, srv, _ := idp(t)
	tok, _ := iss.Mint("a", []string{roleAdmin}, time.Hour)
	v := verifier(t, VerifierOptions{Issuer: srv.URL + "/other", JWKSURL: srv.URL + "/jwks", Audience: DevAudience})
	if _, err := v.Verify(context.Background(), tok); err == nil || !strings.Contains(err.Error(), "is not the trusted issuer") {
		t.Fatalf("err = %v", err)
	}
	v = verifier(t, VerifierOptions{Issuer: srv.URL, Audience: "payroll"})
	if _, err := v.Verify(context.Background(), tok); err == nil || !strings.Contains(err.Error(), `audience does not include "payroll"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestIdentityProviderDownIsUnavailable(t *testing.T) {
	iss, srv, _ := idp(t)
	tok, _ := iss.Mint("a", []string{roleAdmin}, time.Hour)
	srv.Close()
	v := verifier(t, VerifierOptions{Issuer: srv.URL, Audience: DevAudience})
	_, err := v.Verify(context.Background(), tok)
	if platform.KindOf(err) != platform.KindUnavailable {
		t.Fatalf("err = %v (kind %v), want unavailable", err, platform.KindOf(err))
	}
}

func TestRolesFromNestedClaim(t *testing.T) {
	claims := map[string]any{"realm_access": map[string]any{"roles": []any{"finance", 7, "admin"}}, "scope": "a b"}
	if got := rolesFrom(claims, "realm_access.roles"); strings.Join(got, ",") != "finance,admin" {
		t.Fatalf("roles = %v", got)
	}
	if got := rolesFrom(claims, "scope"); strings.Join(got, ",") != "a,b" {
		t.Fatalf("roles = %v", got)
	}
	if got := rolesFrom(claims, "missing.path"); got != nil {
		t.Fatalf("roles = %v", got)
	}
}

func TestGuard401403200(t *testing.T) {
	iss, srv, _ := idp(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := httpx.NewRouter(log, Guard(verifier(t, VerifierOptions{Issuer: srv.URL, Audience: DevAudience}), log))
	r.HandleFunc("GET /v1/admin/thing", httpx.Roles(roleAdmin), func(w http.ResponseWriter, req *http.Request) {
		p, _ := PrincipalFrom(req.Context())
		_, _ = io.WriteString(w, p.Subject)
	})
	admin, _ := iss.Mint("root", []string{roleAdmin}, time.Hour)
	finance, _ := iss.Mint("fin", []string{roleReader}, time.Hour)

	do := func(token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/v1/admin/thing", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		return rec
	}
	for _, tc := range []struct {
		name, token string
		status      int
		code        string
	}{
		{"no token", "", 401, "unauthenticated"},
		{"bad token", "xyz", 401, "unauthenticated"},
		{"wrong role", finance, 403, "forbidden"},
	} {
		rec := do(tc.token)
		if rec.Code != tc.status || rec.Header().Get("Content-Type") != httpx.ProblemContentType {
			t.Fatalf("%s: status %d content-type %q", tc.name, rec.Code, rec.Header().Get("Content-Type"))
		}
		var p httpx.Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Code != tc.code || p.Status != tc.status {
			t.Fatalf("%s: body %s", tc.name, rec.Body)
		}
	}
	if rec := do(admin); rec.Code != 200 || rec.Body.String() != "root" {
		t.Fatalf("admin: %d %s", rec.Code, rec.Body)
	}
}

func TestDevIssuerKeyIsReused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.json")
	a, err := LoadOrCreateDevIssuer("http://x", path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateDevIssuer("http://x", path)
	if err != nil {
		t.Fatal(err)
	}
	if a.key.KeyID != b.key.KeyID {
		t.Fatal("second load made a new key; tokens from the first run would stop working")
	}
	toks, err := b.TokensByRole(testRoles)
	if err != nil || len(toks) != len(testRoles) {
		t.Fatalf("tokens = %d, err %v", len(toks), err)
	}
}
