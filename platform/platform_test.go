package platform

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestKindOfFollowsWrapping(t *testing.T) {
	err := fmt.Errorf("post entry 42: %w", Invalid("line 3: account 4000 is closed"))
	if got := KindOf(err); got != KindInvalid {
		t.Fatalf("KindOf = %v, want invalid", got)
	}
	if got := KindOf(errors.New("boom")); got != KindInternal {
		t.Fatalf("KindOf(plain) = %v, want internal", got)
	}
}

func TestKindHTTPStatus(t *testing.T) {
	cases := map[Kind]int{
		KindInternal:        http.StatusInternalServerError,
		KindInvalid:         http.StatusBadRequest,
		KindNotFound:        http.StatusNotFound,
		KindConflict:        http.StatusConflict,
		KindForbidden:       http.StatusForbidden,
		KindUnauthenticated: http.StatusUnauthorized,
		KindUnavailable:     http.StatusServiceUnavailable,
		KindTooLarge:        http.StatusRequestEntityTooLarge,
		Kind(200):           http.StatusInternalServerError,
	}
	for k, want := range cases {
		if got := k.HTTPStatus(); got != want {
			t.Errorf("%v.HTTPStatus() = %d, want %d", k, got, want)
		}
	}
}

func TestErrorMessageIncludesCause(t *testing.T) {
	e := Unavailable(errors.New("connection refused"), "postgres at 127.0.0.1:55432")
	if got, want := e.Error(), "postgres at 127.0.0.1:55432: connection refused"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}
