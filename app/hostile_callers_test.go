package app

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/codexion/codexion/governance/access"
	"github.com/codexion/codexion/platform/auth"
	"github.com/codexion/codexion/platform/httpx"
)

// TestHostileCallersAreRefusedAndWriteNothing is the adversary that keeps the API honest.
// It reads what to attack from the server itself: the route table (Router.Rules) for who may
// call what, and the served API document for every body, field, query parameter and path
// segment. A route or field added later is attacked without touching this test.
func TestHostileCallersAreRefusedAndWriteNothing(t *testing.T) {
	d, ctx := startDevWith(t, devConfig(t), 3*time.Minute)
	defer d.Stop() //nolint:errcheck // test teardown
	a := newAPI(t, d)
	waitOutboxDrained(t, ctx, d.App.DB)

	t.Run("every route refuses every caller it does not allow", func(t *testing.T) {
		before := stateOf(t, ctx, d)
		routeRoleMatrix(t, a, d)
		if after := stateOf(t, ctx, d); !slices.Equal(after, before) {
			t.Fatalf("refused calls changed what is stored:\n%s", stateDiff(before, after))
		}
	})
	t.Run("every field refuses hostile values with a 4xx naming it", func(t *testing.T) {
		allowed := map[string][]string{}
		for _, r := range d.App.Router.Rules() {
			allowed[r.Pattern] = r.Access.Allowed()
		}
		before := stateOf(t, ctx, d)
		t.Run("routes", func(t *testing.T) { fieldSweep(t, a, allowed) })
		if after := stateOf(t, ctx, d); !slices.Equal(after, before) {
			t.Fatalf("refused calls changed what is stored:\n%s", stateDiff(before, after))
		}
	})
}

// stateTables are the tables a write through the API lands in. Counts catch inserts;
// digests of the small ones catch updates too (a closed period, a changed level).
var stateTables = []struct{ table, measure string }{
	{"ledger_entries", "count"},
	{"ledger_lines", "count"},
	{"codexion_outbox", "count"},
	{"codexion_idempotency", "count"},
	{"feature_jobs", "count"},
	{"ledger_books", "digest"},
	{"ledger_accounts", "digest"},
	{"ledger_periods", "digest"},
	{"ledger_rates", "digest"},
	{"catalog_objects", "digest"},
	{"schema_registry_versions", "digest"},
	{"schema_registry_config", "digest"},
}

// stateOf measures every state table and the catalog revision, as "name=value" lines.
func stateOf(t *testing.T, ctx context.Context, d *Dev) []string {
	t.Helper()
	var out []string
	for _, st := range stateTables {
		q := `SELECT count(*)::text FROM ` + st.table
		if st.measure == "digest" {
			q = `SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM ` + st.table + ` t`
		}
		var v string
		if err := d.App.DB.QueryRow(ctx, q).Scan(&v); err != nil {
			t.Fatalf("measure %s: %v", st.table, err)
		}
		out = append(out, st.table+"="+v)
	}
	rev, err := d.App.Features.Catalog.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return append(out, fmt.Sprintf("catalog revision=%d", rev))
}

func stateDiff(before, after []string) string {
	var b strings.Builder
	for i := range before {
		if before[i] != after[i] {
			fmt.Fprintf(&b, "  %s -> %s\n", before[i], after[i])
		}
	}
	return b.String()
}

// answer is what the server said, read as a problem (RFC 9457), on the schema registry's
// Confluent-compatible routes as Confluent's error body, and on MLflow's as MLflow's.
type answer struct {
	status      int
	contentType string
	body        []byte
	problem     struct {
		Code   string `json:"code"`
		Detail string `json:"detail"`
		Errors []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"errors"`
		ErrorCode int    `json:"error_code"` // Confluent
		Message   string `json:"message"`    // Confluent
	}
	mlflow struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}
}

// refusal reports what is wrong with a as a refusal: it must be a 4xx whose body says, by a
// stable code, what was refused.
func (a answer) refusal() string {
	switch {
	case a.status < 400 || a.status > 499:
		return fmt.Sprintf("answered %d, want a 4xx: %.300s", a.status, a.body)
	case strings.HasPrefix(a.contentType, httpx.ProblemContentType):
		if a.problem.Code == "" {
			return fmt.Sprintf("%d problem without a code: %.300s", a.status, a.body)
		}
	case strings.HasPrefix(a.contentType, "application/vnd.schemaregistry.v1+json"):
		if a.problem.ErrorCode == 0 {
			return fmt.Sprintf("%d registry error without error_code: %.300s", a.status, a.body)
		}
	case strings.HasPrefix(a.contentType, "application/json") && a.mlflow.ErrorCode != "":
		// MLflow's API answers {"error_code": "INVALID_PARAMETER_VALUE", "message": ...}.
	default:
		return fmt.Sprintf("%d answered as %q, not a problem: %.300s", a.status, a.contentType, a.body)
	}
	return ""
}

// names reports whether the answer names field, in its detail or its field errors.
func (a answer) names(field string) bool {
	if strings.Contains(a.problem.Detail, field) || strings.Contains(a.problem.Message, field) || strings.Contains(a.mlflow.Message, field) {
		return true
	}
	for _, e := range a.problem.Errors {
		if strings.Contains(e.Field, field) {
			return true
		}
	}
	return false
}

// send calls the server with raw bytes: a request body and URL exactly as given, which no
// client library would produce (invalid UTF-8, repeated keys).
func send(t *testing.T, base, method, target, token string, body []byte) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, base+target, rd)
	if err != nil {
		t.Fatalf("%s %.200s: %v", method, target, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if method != http.MethodGet {
		// A refused call must not leave its key behind (codexion_idempotency is measured).
		req.Header.Set("Idempotency-Key", "hostile-"+randomHex(8))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %.200s: %v", method, target, err)
	}
	defer resp.Body.Close()
	var a answer
	a.status, a.contentType = resp.StatusCode, resp.Header.Get("Content-Type")
	a.body, _ = io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	_ = json.Unmarshal(a.body, &a.problem)
	_ = json.Unmarshal(a.body, &a.mlflow)
	return a
}

// maxAnswerBytes bounds how much of an answer is read.
const maxAnswerBytes = 8 << 20

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

var pathParam = regexp.MustCompile(`\{([a-zA-Z_]+)(\.\.\.)?\}`)

// routeRoleMatrix calls every route in the router's table as every dev role, without a
// token, and with tokens that must not pass: signed by another key under the issuer's key
// id, expired, for another audience, with no roles, and not a JWT at all. A role the rule
// does not allow gets 403, a bad or missing token 401, each with a problem code; a public
// route answers without a token; an allowed role is never turned away on a read.
func routeRoleMatrix(t *testing.T, a *api, d *Dev) {
	bad, roleless := badTokens(t, d)
	tokens := map[string]string{noRoles: roleless}
	roles := []string{noRoles}
	for role, tok := range a.tokens {
		roles, tokens[role] = append(roles, role), tok
	}
	slices.Sort(roles)
	if len(roles) != len(access.AllRoles)+1 {
		t.Fatalf("dev tokens for %v, roles are %v", roles, access.AllRoles)
	}
	rules := d.App.Router.Rules()
	calls := 0
	for _, r := range rules {
		method, pattern, ok := strings.Cut(r.Pattern, " ")
		if !ok {
			t.Errorf("route %q declares no method", r.Pattern)
			continue
		}
		target := pathParam.ReplaceAllString(pattern, "hostile")
		var body []byte
		if method != http.MethodGet && method != http.MethodHead {
			body = []byte(`{}`)
		}
		call := func(token string) answer { calls++; return send(t, a.base, method, target, token, body) }
		if r.Access.IsPublic() {
			if got := call(""); got.status >= 400 {
				t.Errorf("public %s answers %d without a token: %.200s", r.Pattern, got.status, got.body)
			}
			continue
		}
		for _, tok := range append([]struct{ name, token string }{{"no token", ""}}, bad...) {
			got := call(tok.token)
			if got.status != http.StatusUnauthorized || got.refusal() != "" {
				t.Errorf("%s with %s: %d %.200s; want 401 with a problem code", r.Pattern, tok.name, got.status, got.body)
			}
		}
		for _, role := range roles {
			allowed := slices.Contains(r.Access.Allowed(), role)
			if allowed && method != http.MethodGet {
				continue // an allowed write would write
			}
			got := call(tokens[role])
			switch {
			case !allowed && (got.status != http.StatusForbidden || got.refusal() != ""):
				t.Errorf("%s as %s (allowed: %v): %d %.200s; want 403 with a problem code", r.Pattern, role, r.Access.Allowed(), got.status, got.body)
			case allowed && (got.status == http.StatusUnauthorized || got.status == http.StatusForbidden || got.status >= 500):
				t.Errorf("%s as allowed %s: %d %.200s", r.Pattern, role, got.status, got.body)
			}
		}
	}
	t.Logf("%d routes x (%d roles, a token with no roles, no token, %d bad tokens): %d calls", len(rules), len(roles)-1, len(bad), calls)
}

// noRoles names a valid token that carries no role: it passes authentication and is
// allowed nowhere.
const noRoles = "(no roles)"

// badTokens are tokens the server must refuse with 401, and a valid one with no roles. The
// forged one is the strongest claim: every role, the right issuer, audience and key id,
// signed by another key.
func badTokens(t *testing.T, d *Dev) (bad []struct{ name, token string }, roleless string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(d.Endpoints.DataDir, "dev", "issuer-key.json"))
	if err != nil {
		t.Fatal(err)
	}
	var key jose.JSONWebKey
	if err := json.Unmarshal(raw, &key); err != nil {
		t.Fatal(err)
	}
	_, other, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	mint := func(signWith any, aud string, expiry time.Time, roles []string) string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: signWith},
			(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), key.KeyID))
		if err != nil {
			t.Fatal(err)
		}
		claims := jwt.Claims{Issuer: d.Endpoints.Issuer, Subject: "hostile", Audience: jwt.Audience{aud},
			IssuedAt: jwt.NewNumericDate(now.Add(-2 * time.Hour)), NotBefore: jwt.NewNumericDate(now.Add(-2 * time.Hour)),
			Expiry: jwt.NewNumericDate(expiry)}
		tok, err := jwt.Signed(signer).Claims(claims).Claims(map[string]any{"roles": roles}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	later := now.Add(time.Hour)
	roleless = mint(key.Key, auth.DevAudience, later, []string{})
	return []struct{ name, token string }{
		{"a forged token", mint(other, auth.DevAudience, later, access.AllRoles)},
		{"an expired token", mint(key.Key, auth.DevAudience, now.Add(-time.Hour), access.AllRoles)},
		{"another audience's token", mint(key.Key, "another-app", later, access.AllRoles)},
		{"a token that is not a JWT", "not.a.jwt"},
	}, roleless
}
