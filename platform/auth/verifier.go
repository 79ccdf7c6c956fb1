package auth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/codexion/codexion/platform"
)

// Bounds on what the verifier fetches and accepts.
const (
	maxTokenBytes       = 16 << 10
	maxJWKSBytes        = 1 << 20
	jwksFetchTimeout    = 5 * time.Second
	jwksMinRefetch      = 10 * time.Second // an unknown kid refetches at most this often
	jwksMaxAge          = 15 * time.Minute
	allowedClockSkew    = 60 * time.Second
	verifiedCacheSize   = 10_000          // tokens remembered after a successful check
	verifiedCacheTTL    = 5 * time.Minute // longest a remembered token skips re-verification
	discoveryPathSuffix = "/.well-known/openid-configuration"
)

var signatureAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.ES256, jose.ES384, jose.EdDSA,
}

// VerifierOptions name the issuer to trust.
type VerifierOptions struct {
	Issuer     string // tokens must carry this iss
	JWKSURL    string // when empty, discovered from Issuer's openid-configuration
	Audience   string // tokens must carry it in aud; required
	RolesClaim string // claim holding roles; a dotted path reaches nested claims ("realm_access.roles")
	HTTPClient *http.Client
}

// Verifier checks bearer tokens. It caches the issuer's keys and refetches them when a
// token names a key it has not seen (key rotation) or the cache is old.
type Verifier struct {
	opts VerifierOptions

	cacheMu  sync.Mutex
	verified map[[32]byte]cachedPrincipal

	mu        sync.Mutex
	keys      jose.JSONWebKeySet
	jwksURL   string
	fetchedAt time.Time
}

// NewVerifier returns a verifier; it fetches keys lazily on the first token. It refuses
// options without an issuer or an audience: an issuer serves many applications, and a
// token minted for another of them must not let its bearer in here.
func NewVerifier(opts VerifierOptions) (*Verifier, error) {
	if opts.Issuer == "" || opts.Audience == "" {
		return nil, platform.Invalid("token checks need an issuer and an audience (auth.issuer, auth.audience)")
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: jwksFetchTimeout}
	}
	if opts.RolesClaim == "" {
		opts.RolesClaim = "roles"
	}
	return &Verifier{opts: opts, jwksURL: opts.JWKSURL, verified: map[[32]byte]cachedPrincipal{}}, nil
}

// cachedPrincipal is a token that verified, remembered so that a client sending the
// same token on every request pays for one signature check, not one per request.
type cachedPrincipal struct {
	p     Principal
	until time.Time // the earlier of the token's expiry and verifiedCacheTTL
}

func (v *Verifier) cached(sum [32]byte, now time.Time) (Principal, bool) {
	v.cacheMu.Lock()
	defer v.cacheMu.Unlock()
	c, ok := v.verified[sum]
	if !ok || now.After(c.until) {
		return Principal{}, false
	}
	return c.p, true
}

func (v *Verifier) remember(sum [32]byte, p Principal, expiry, now time.Time) {
	until := now.Add(verifiedCacheTTL)
	if expiry.Before(until) {
		until = expiry
	}
	v.cacheMu.Lock()
	defer v.cacheMu.Unlock()
	if len(v.verified) >= verifiedCacheSize {
		clear(v.verified) // crude but bounded; a full cache only costs re-verification
	}
	v.verified[sum] = cachedPrincipal{p: p, until: until}
}

func unauthenticated(format string, args ...any) *platform.Error {
	return platform.CodeUnauthenticated.New(format, args...)
}

// Verify checks raw and returns its principal. Failures are KindUnauthenticated with a
// message that says what is wrong with the token; a JWKS outage is KindUnavailable.
func (v *Verifier) Verify(ctx context.Context, raw string) (Principal, error) {
	if len(raw) > maxTokenBytes {
		return Principal{}, unauthenticated("bearer token is longer than %d bytes", maxTokenBytes)
	}
	now := time.Now()
	sum := sha256.Sum256([]byte(raw))
	if p, ok := v.cached(sum, now); ok {
		return p, nil
	}
	tok, err := jwt.ParseSigned(raw, signatureAlgorithms)
	if err != nil {
		return Principal{}, unauthenticated("bearer token is not a signed JWT: %v", err)
	}
	if len(tok.Headers) != 1 {
		return Principal{}, unauthenticated("bearer token must have exactly one signature")
	}
	kid := tok.Headers[0].KeyID
	key, err := v.key(ctx, kid)
	if err != nil {
		return Principal{}, err
	}
	var std jwt.Claims
	all := map[string]any{}
	if err := tok.Claims(key, &std, &all); err != nil {
		return Principal{}, unauthenticated("bearer token signature does not verify against the issuer's keys")
	}
	exp := jwt.Expected{Issuer: v.opts.Issuer, AnyAudience: jwt.Audience{v.opts.Audience}, Time: now}
	if err := std.ValidateWithLeeway(exp, allowedClockSkew); err != nil {
		switch {
		case errors.Is(err, jwt.ErrExpired):
			return Principal{}, unauthenticated("bearer token expired at %s", std.Expiry.Time().UTC().Format(time.RFC3339))
		case errors.Is(err, jwt.ErrInvalidIssuer):
			return Principal{}, unauthenticated("bearer token issuer %q is not the trusted issuer %q", std.Issuer, v.opts.Issuer)
		case errors.Is(err, jwt.ErrInvalidAudience):
			return Principal{}, unauthenticated("bearer token audience does not include %q", v.opts.Audience)
		default:
			return Principal{}, unauthenticated("bearer token is not valid now: %v", err)
		}
	}
	if std.Expiry == nil {
		return Principal{}, unauthenticated("bearer token has no exp claim; tokens must expire")
	}
	p := Principal{Subject: std.Subject, Issuer: std.Issuer, Roles: rolesFrom(all, v.opts.RolesClaim)}
	v.remember(sum, p, std.Expiry.Time(), now)
	return p, nil
}

func rolesFrom(claims map[string]any, path string) []string {
	var cur any = claims
	for part := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	switch v := cur.(type) {
	case []any:
		roles := make([]string, 0, len(v))
		for _, r := range v {
			if s, ok := r.(string); ok {
				roles = append(roles, s)
			}
		}
		return roles
	case string:
		return strings.Fields(v)
	}
	return nil
}

func (v *Verifier) key(ctx context.Context, kid string) (any, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	fresh := time.Since(v.fetchedAt) < jwksMaxAge
	if k, ok := lookup(v.keys, kid); ok && fresh {
		return k, nil
	}
	if !v.fetchedAt.IsZero() && time.Since(v.fetchedAt) < jwksMinRefetch {
		if k, ok := lookup(v.keys, kid); ok {
			return k, nil
		}
		return nil, unauthenticated("bearer token names key %q, which the issuer does not publish", kid)
	}
	if err := v.refresh(ctx); err != nil {
		if k, ok := lookup(v.keys, kid); ok {
			return k, nil // keep serving with the keys we have while the issuer is down
		}
		return nil, err
	}
	if k, ok := lookup(v.keys, kid); ok {
		return k, nil
	}
	return nil, unauthenticated("bearer token names key %q, which the issuer does not publish", kid)
}

func lookup(set jose.JSONWebKeySet, kid string) (any, bool) {
	if kid == "" {
		if len(set.Keys) == 1 {
			return set.Keys[0].Key, true
		}
		return nil, false
	}
	keys := set.Key(kid)
	if len(keys) == 0 {
		return nil, false
	}
	return keys[0].Key, true
}

func (v *Verifier) refresh(ctx context.Context) error {
	if v.jwksURL == "" {
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := v.getJSON(ctx, strings.TrimRight(v.opts.Issuer, "/")+discoveryPathSuffix, &doc); err != nil {
			return err
		}
		if doc.JWKSURI == "" {
			return platform.Unavailable(nil, "issuer %s publishes no jwks_uri in its openid-configuration", v.opts.Issuer)
		}
		v.jwksURL = doc.JWKSURI
	}
	var set jose.JSONWebKeySet
	if err := v.getJSON(ctx, v.jwksURL, &set); err != nil {
		return err
	}
	v.keys = set
	v.fetchedAt = time.Now()
	return nil
}

func (v *Verifier) getJSON(ctx context.Context, url string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, jwksFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return platform.Unavailable(err, "identity provider URL %s", url)
	}
	resp, err := v.opts.HTTPClient.Do(req)
	if err != nil {
		return platform.Unavailable(err, "identity provider at %s cannot be reached", url)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return platform.Unavailable(nil, "identity provider at %s answered %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes))
	if err != nil {
		return platform.Unavailable(err, "read %s", url)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return platform.Unavailable(fmt.Errorf("decode: %w", err), "identity provider at %s", url)
	}
	return nil
}
