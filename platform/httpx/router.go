package httpx

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/codexion/codexion/platform/logging"
)

// Access says who may call a route. Every route declares one; there is no default.
type Access struct {
	public       bool
	quiet        bool
	roles        []string
	maxBodyBytes int64
	fail         ErrorWriter
}

// Public routes need no token: health, metrics, discovery documents.
var Public = Access{public: true}

// Roles lets through callers holding any of roles.
func Roles(roles ...string) Access {
	if len(roles) == 0 {
		panic("httpx.Roles needs at least one role; use httpx.Public for open routes")
	}
	return Access{roles: slices.Clone(roles)}
}

// HighVolume marks a route called at high rates (online feature lookups): its successful
// requests are logged at debug, not info; they are still counted in the metrics and traced.
func (a Access) HighVolume() Access {
	a.quiet = true
	return a
}

// BodyLimit gives the route its own bound on the request body in place of the server's
// (http.max_body_bytes): artifact uploads are larger than any JSON request.
func (a Access) BodyLimit(maxBodyBytes int64) Access {
	if maxBodyBytes <= 0 {
		panic("httpx.Access.BodyLimit needs a positive bound")
	}
	a.maxBodyBytes = maxBodyBytes
	return a
}

// ErrorsAs makes the guard refuse callers of the route (401, 403) in the route's own error
// form, for APIs that keep another ecosystem's (MLflow's error_code JSON) rather than
// problem details.
func (a Access) ErrorsAs(fail ErrorWriter) Access {
	a.fail = fail
	return a
}

// Refuse writes a guard's refusal of a caller: in the route's error form when it declares
// one, as problem+json otherwise.
func (a Access) Refuse(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if a.fail != nil {
		a.fail(w, r, err)
		return
	}
	WriteError(w, r, log, err)
}

// IsPublic reports whether the route needs no token.
func (a Access) IsPublic() bool { return a.public }

// Allowed lists the roles that may call the route.
func (a Access) Allowed() []string { return a.roles }

// Guard wraps a handler with the authentication and role check for access.
type Guard func(access Access, next http.Handler) http.Handler

// Router is a ServeMux whose every route declares its access.
type Router struct {
	mux   *http.ServeMux
	guard Guard
	log   *slog.Logger
	rules []Rule
}

// Rule records a route and who may call it, for docs and tests.
type Rule struct {
	Pattern string
	Access  Access
}

// NewRouter returns a router that applies guard to every non-public route.
func NewRouter(log *slog.Logger, guard Guard) *Router {
	r := &Router{mux: http.NewServeMux(), guard: guard, log: log}
	r.mux.HandleFunc("/", r.unmatched)
	return r
}

// probeMethods are the methods a path is tried with when the request's own matched
// nothing, to tell a wrong method (405) from a wrong path (404).
var probeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// unmatched answers what no route took. The catch-all "/" pattern takes every method, so
// ServeMux would never answer 405 itself; the methods other routes take on this path are
// found by asking the mux again with each of them.
func (r *Router) unmatched(w http.ResponseWriter, req *http.Request) {
	p := Problem{Instance: req.URL.Path, RequestID: logging.RequestID(req.Context())}
	if allow := r.allowedMethods(req); len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		p.Status, p.Code = http.StatusMethodNotAllowed, CodeMethodNotAllowed.Code
		p.Detail = req.Method + " is not allowed on " + req.URL.Path + "; allowed: " + strings.Join(allow, ", ")
	} else {
		p.Status, p.Code = http.StatusNotFound, CodeRouteNotFound.Code
		p.Detail = "no route " + req.Method + " " + req.URL.Path + "; see /v1/openapi.json"
	}
	p.Type, p.Title = ProblemTypeBase+p.Code, http.StatusText(p.Status)
	WriteProblem(w, p)
}

func (r *Router) allowedMethods(req *http.Request) []string {
	var allow []string
	for _, m := range probeMethods {
		if m == req.Method {
			continue
		}
		probe := *req
		probe.Method = m
		if _, pattern := r.mux.Handler(&probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	return allow
}

// Handle registers h for pattern ("GET /v1/things/{id}") with its access rule.
func (r *Router) Handle(pattern string, access Access, h http.Handler) {
	if !access.public && len(access.roles) == 0 {
		panic("route " + pattern + " declares no access")
	}
	if !access.public {
		h = r.guard(access, h)
	}
	r.rules = append(r.rules, Rule{Pattern: pattern, Access: access})
	r.mux.Handle(pattern, routed(pattern, access, h))
}

// Fallback answers requests under prefix ("/api/x/") that no route takes, in place of the
// router's own 404, for APIs that keep another ecosystem's error form. It is not a route:
// it declares no access and is not listed in Rules.
func (r *Router) Fallback(prefix string, h http.HandlerFunc) {
	if !strings.HasSuffix(prefix, "/") {
		panic("httpx.Router.Fallback needs a prefix ending in /")
	}
	r.mux.Handle(prefix, routed("unmatched", Public, h))
}

// HandleFunc is Handle for a function.
func (r *Router) HandleFunc(pattern string, access Access, h http.HandlerFunc) {
	r.Handle(pattern, access, h)
}

// Rules lists registered routes in registration order.
func (r *Router) Rules() []Rule { return slices.Clone(r.rules) }

func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) { r.mux.ServeHTTP(w, req) }

// routed records the matched pattern for metrics, logs and the span name, and puts the
// route's own body bound in place of the server's.
func routed(pattern string, access Access, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if info := infoFrom(req.Context()); info != nil {
			info.route, info.quiet = pattern, access.quiet
			if access.maxBodyBytes > 0 && info.rawBody != nil {
				req.Body = http.MaxBytesReader(w, info.rawBody, access.maxBodyBytes)
			}
		}
		trace.SpanFromContext(req.Context()).SetName(pattern)
		h.ServeHTTP(w, req)
	})
}
