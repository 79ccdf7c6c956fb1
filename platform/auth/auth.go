// Package auth authenticates callers by bearer JWTs checked against an OIDC issuer's
// JWKS, and checks the roles each route declares. It never trusts a token it could not
// verify, and it never reads roles from anywhere but the verified claims. Roles are opaque
// names here; the product's roles are declared in governance/access.
package auth

import (
	"context"
	"slices"
)

// Principal is an authenticated caller.
type Principal struct {
	Subject string   `json:"subject"`
	Issuer  string   `json:"issuer"`
	Roles   []string `json:"roles"`
}

// HasAny reports whether p holds any of roles.
func (p Principal) HasAny(roles []string) bool {
	for _, r := range p.Roles {
		if slices.Contains(roles, r) {
			return true
		}
	}
	return false
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller in ctx; ok is false on public routes.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
