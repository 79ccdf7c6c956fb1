// Package auth authenticates callers by bearer JWTs checked against an OIDC issuer's
// JWKS, and checks the roles each route declares. It never trusts a token it could not
// verify, and it never reads roles from anywhere but the verified claims.
package auth

import (
	"context"
	"slices"
)

// The roles Codexion knows. Routes name the ones they allow.
const (
	RoleAdmin             = "admin"
	RoleFinance           = "finance"
	RoleFinanceController = "finance-controller"
	RoleDataEngineer      = "data-engineer"
	RoleMLEngineer        = "ml-engineer"
	RoleMLApprover        = "ml-approver"
	RoleCompliance        = "compliance"
)

// AllRoles lists every role, in a stable order.
var AllRoles = []string{
	RoleAdmin, RoleFinance, RoleFinanceController, RoleDataEngineer,
	RoleMLEngineer, RoleMLApprover, RoleCompliance,
}

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
