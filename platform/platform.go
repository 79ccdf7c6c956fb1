// Package platform holds the plumbing every domain shares and that speaks no domain words:
// the one error type, mapped once to HTTP statuses and problem-details codes. Its
// subpackages hold config, logging, HTTP middleware, authentication, telemetry and
// lifecycle. Nothing under platform/ may import a domain package.
package platform

import (
	"errors"
	"fmt"
	"net/http"
)

// Kind classifies an error by what the caller can do about it.
type Kind uint8

const (
	KindInternal        Kind = iota // a bug or an unexpected failure; the caller cannot fix it
	KindInvalid                     // the input is wrong; the message says what to fix
	KindNotFound                    // the thing named does not exist
	KindConflict                    // the request clashes with current state
	KindForbidden                   // the caller is known but not allowed
	KindUnauthenticated             // the caller is not known
	KindUnavailable                 // a dependency is down; retrying later may work
	KindTooLarge                    // the request body exceeds its bound
)

var kindNames = [...]string{
	KindInternal:        "internal",
	KindInvalid:         "invalid",
	KindNotFound:        "not_found",
	KindConflict:        "conflict",
	KindForbidden:       "forbidden",
	KindUnauthenticated: "unauthenticated",
	KindUnavailable:     "unavailable",
	KindTooLarge:        "too_large",
}

var kindStatus = [...]int{
	KindInternal:        http.StatusInternalServerError,
	KindInvalid:         http.StatusBadRequest,
	KindNotFound:        http.StatusNotFound,
	KindConflict:        http.StatusConflict,
	KindForbidden:       http.StatusForbidden,
	KindUnauthenticated: http.StatusUnauthorized,
	KindUnavailable:     http.StatusServiceUnavailable,
	KindTooLarge:        http.StatusRequestEntityTooLarge,
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// HTTPStatus is the one place a kind becomes an HTTP status.
func (k Kind) HTTPStatus() int {
	if int(k) < len(kindStatus) {
		return kindStatus[k]
	}
	return http.StatusInternalServerError
}

// FieldError names one field of the input that is wrong and why.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the project's one error type. Code is stable and machine readable
// (a client may switch on it); Message is for people and says what to fix.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Fields  []FieldError
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil && e.Message == "" {
		return e.Err.Error()
	}
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an error of the given kind with a stable code and a message.
func E(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid reports bad input; code defaults to "invalid_argument".
func Invalid(format string, args ...any) *Error { return CodeInvalid.New(format, args...) }

// NotFound reports a missing thing.
func NotFound(format string, args ...any) *Error { return CodeNotFound.New(format, args...) }

// Unavailable reports a dependency that is down, wrapping the cause.
func Unavailable(err error, format string, args ...any) *Error {
	e := CodeUnavailable.New(format, args...)
	e.Err = err
	return e
}

// KindOf returns the kind of the first *Error in err's chain, or KindInternal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}
