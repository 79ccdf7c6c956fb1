package auth

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/codexion/codexion/platform/httpx"
)

// DevIssuer is the local identity provider of `codexion dev`: a signing key kept under the
// data directory, its JWKS and discovery document, and tokens for every role. It exists
// so that the dev stack runs the same token checks as production; never use it there.
type DevIssuer struct {
	issuer string
	key    jose.JSONWebKey // private
}

// DevTokenTTL is how long dev tokens last.
const DevTokenTTL = 30 * 24 * time.Hour

// DevAudience is the aud of every dev token; the dev stack requires it as serve requires
// the configured one.
const DevAudience = "codexion"

// LoadOrCreateDevIssuer reads the key at keyPath, creating it on first use, so tokens
// written by an earlier run stay valid.
func LoadOrCreateDevIssuer(issuer, keyPath string) (*DevIssuer, error) {
	data, err := os.ReadFile(keyPath)
	if err == nil {
		var k jose.JSONWebKey
		if err := json.Unmarshal(data, &k); err != nil || k.IsPublic() {
			return nil, fmt.Errorf("dev signing key %s is unreadable; delete it to make a new one", keyPath)
		}
		return &DevIssuer{issuer: issuer, key: k}, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	k := jose.JSONWebKey{Key: priv, Algorithm: string(jose.EdDSA), Use: "sig"}
	thumb, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	k.KeyID = fmt.Sprintf("dev-%x", thumb[:8])
	out, err := json.Marshal(k)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(keyPath), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(keyPath, out, 0o600); err != nil {
		return nil, err
	}
	return &DevIssuer{issuer: issuer, key: k}, nil
}

// Issuer is the iss of the tokens it mints.
func (d *DevIssuer) Issuer() string { return d.issuer }

// JWKS is the public key set.
func (d *DevIssuer) JWKS() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{d.key.Public()}}
}

// Mint signs a token for subject with roles.
func (d *DevIssuer) Mint(subject string, roles []string, ttl time.Duration) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: d.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), d.key.KeyID))
	if err != nil {
		return "", err
	}
	now := time.Now()
	claims := jwt.Claims{
		Issuer: d.issuer, Subject: subject, Audience: jwt.Audience{DevAudience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
		Expiry: jwt.NewNumericDate(now.Add(ttl)),
	}
	return jwt.Signed(signer).Claims(claims).Claims(map[string]any{"roles": roles}).Serialize()
}

// TokensByRole mints one token for each of roles, subject "dev-<role>".
func (d *DevIssuer) TokensByRole(roles []string) (map[string]string, error) {
	out := make(map[string]string, len(roles))
	for _, role := range roles {
		tok, err := d.Mint("dev-"+role, []string{role}, DevTokenTTL)
		if err != nil {
			return nil, err
		}
		out[role] = tok
	}
	return out, nil
}

// Routes serves the discovery document and the JWKS, both public.
func (d *DevIssuer) Routes(r *httpx.Router, jwksPath string) {
	r.HandleFunc("GET "+jwksPath, httpx.Public, func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, d.JWKS())
	})
	r.HandleFunc("GET "+discoveryPathSuffix, httpx.Public, func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]any{
			"issuer":                                d.issuer,
			"jwks_uri":                              d.issuer + jwksPath,
			"id_token_signing_alg_values_supported": []string{string(jose.EdDSA)},
		})
	})
}
