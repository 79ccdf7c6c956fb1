package httpx

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/codexion/codexion/platform"
)

// RefuseBadText answers 400 to a request whose path or query holds a NUL character or
// bytes that are not UTF-8, naming the segment or parameter, before any handler sees it:
// Postgres text cannot hold NUL, and nothing downstream should have to guess at bytes.
// A query string that is not valid URL encoding is refused too, where url.Values would
// drop the bad pair silently.
func RefuseBadText(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkURL(r.URL); err != nil {
			WriteError(w, r, log, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func checkURL(u *url.URL) error {
	if badText(u.Path) != "" {
		for i, seg := range strings.Split(u.Path, "/") {
			if bad := badText(seg); bad != "" {
				e := platform.Invalid("path segment %d (%q) %s", i, seg, bad)
				e.Fields = []platform.FieldError{{Field: "path", Message: fmt.Sprintf("segment %d %s", i, bad)}}
				return e
			}
		}
	}
	if u.RawQuery == "" {
		return nil
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return platform.Invalid("query string is not valid URL encoding: %v", err)
	}
	for name, values := range q {
		if bad := badText(name); bad != "" {
			return platform.Invalid("query parameter name %q %s", name, bad)
		}
		for _, v := range values {
			if bad := badText(v); bad != "" {
				e := platform.Invalid("query parameter %s %s", name, bad)
				e.Fields = []platform.FieldError{{Field: name, Message: bad}}
				return e
			}
		}
	}
	return nil
}

// badText says what is wrong with s, or "" when nothing is.
func badText(s string) string {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return "holds a NUL character; text may not contain it"
	case !utf8.ValidString(s):
		return "holds bytes that are not valid UTF-8; send UTF-8 text"
	}
	return ""
}
