package auth

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/httpx"
)

// TokenVerifier turns a bearer token into a principal.
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (Principal, error)
}

// Guard returns the httpx.Guard that authenticates and checks roles: no or a bad
// token is 401, a valid token without an allowed role is 403, both as problem+json.
func Guard(v TokenVerifier, log *slog.Logger) httpx.Guard {
	return func(access httpx.Access, next http.Handler) http.Handler {
		allowed := access.Allowed()
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			raw, ok := bearer(r)
			if !ok {
				access.Refuse(w, r, log, unauthenticated("this route needs a bearer token in the Authorization header"))
				return
			}
			p, err := v.Verify(r.Context(), raw)
			if err != nil {
				access.Refuse(w, r, log, err)
				return
			}
			if !p.HasAny(allowed) {
				access.Refuse(w, r, log, platform.CodeForbidden.New("role %s may not call %s %s; allowed roles: %s",
					rolesText(p.Roles), r.Method, r.URL.Path, strings.Join(allowed, ", ")))
				return
			}
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		})
	}
}

func rolesText(roles []string) string {
	if len(roles) == 0 {
		return "(none)"
	}
	return strings.Join(roles, ",")
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
