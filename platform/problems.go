package platform

// Code is a problem code, declared once by the part that answers with it: its kind (and so
// its HTTP status), the stable code clients may switch on, and what it means. Every
// declared code is listed in docs/problems.md.
type Code struct {
	Kind   Kind
	Code   string
	Doc    string
	Status int // the HTTP status when it is not the kind's (a router's 405)
}

// HTTPStatus is the status answers with this code carry.
func (c Code) HTTPStatus() int {
	if c.Status != 0 {
		return c.Status
	}
	return c.Kind.HTTPStatus()
}

// New returns an error with this code and a message that says what to fix.
func (c Code) New(format string, args ...any) *Error { return E(c.Kind, c.Code, format, args...) }

// The codes of errors that carry no more specific one, by kind.
var (
	CodeInternal        = Code{Kind: KindInternal, Code: "internal", Doc: "an unexpected failure; the answer carries a request id to report"}
	CodeInvalid         = Code{Kind: KindInvalid, Code: "invalid_argument", Doc: "the request is wrong; the message (and fields, when given) say what to fix"}
	CodeNotFound        = Code{Kind: KindNotFound, Code: "not_found", Doc: "the thing named does not exist"}
	CodeConflict        = Code{Kind: KindConflict, Code: "conflict", Doc: "the request clashes with the current state"}
	CodeForbidden       = Code{Kind: KindForbidden, Code: "forbidden", Doc: "the caller is known but none of its roles may do this"}
	CodeUnauthenticated = Code{Kind: KindUnauthenticated, Code: "unauthenticated", Doc: "no valid bearer token: missing, malformed, expired, or for another issuer or audience"}
	CodeUnavailable     = Code{Kind: KindUnavailable, Code: "unavailable", Doc: "a dependency is down; retrying later may work (Retry-After when known)"}
	CodeTooLarge        = Code{Kind: KindTooLarge, Code: "too_large", Doc: "the request exceeds a bound"}
)

// Codes lists the codes declared here.
func Codes() []Code {
	return []Code{CodeInternal, CodeInvalid, CodeNotFound, CodeConflict, CodeForbidden, CodeUnauthenticated, CodeUnavailable, CodeTooLarge}
}

// DefaultCode is the code of an error of kind k that names none.
func DefaultCode(k Kind) Code {
	for _, c := range Codes() {
		if c.Kind == k {
			return c
		}
	}
	return CodeInternal
}
