// Package httpx is the HTTP plumbing every API shares: RFC 9457 problem details, JSON
// bodies with bounds, request ids, tracing, RED metrics, access logs, the router that
// makes every route declare who may call it, and the server component. It holds no
// handlers of its own beyond what a bare server needs.
package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/logging"
)

// ProblemContentType is RFC 9457's media type.
const ProblemContentType = "application/problem+json"

// ProblemTypeBase prefixes every problem type URI; the suffix is the stable code.
const ProblemTypeBase = "https://codexion.dev/problems/"

// Problem is an RFC 9457 problem details body with Codexion's stable code.
type Problem struct {
	Type      string                `json:"type"`
	Title     string                `json:"title"`
	Status    int                   `json:"status"`
	Detail    string                `json:"detail,omitempty"`
	Instance  string                `json:"instance,omitempty"`
	Code      string                `json:"code"`
	RequestID string                `json:"request_id,omitempty"`
	Errors    []platform.FieldError `json:"errors,omitempty"`
}

// WriteError writes err as problem+json. A platform.Error keeps its kind, code and
// message, never the error it wraps; anything else is an internal error whose body
// carries only the request id, and whose cause is logged, not sent.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var pe *platform.Error
	p := Problem{Instance: r.URL.Path, RequestID: logging.RequestID(r.Context())}
	if errors.As(err, &pe) && pe.Kind != platform.KindInternal {
		p.Status = pe.Kind.HTTPStatus()
		p.Code = pe.Code
		if p.Code == "" {
			p.Code = platform.DefaultCode(pe.Kind).Code
		}
		// Only the message goes out; a wrapped cause (a driver's error) stays in the log.
		p.Detail = pe.Message
		if p.Detail == "" {
			p.Detail = http.StatusText(p.Status)
		}
		p.Errors = pe.Fields
		if pe.Kind == platform.KindUnavailable && log != nil {
			log.WarnContext(r.Context(), "dependency unavailable", "err", err)
		}
	} else {
		p.Status = http.StatusInternalServerError
		p.Code = platform.CodeInternal.Code
		p.Detail = "internal error; report request id " + p.RequestID
		if log != nil {
			log.ErrorContext(r.Context(), "internal error", "err", err, "path", r.URL.Path)
		}
	}
	p.Type = ProblemTypeBase + p.Code
	p.Title = http.StatusText(p.Status)
	WriteProblem(w, p)
}

// MaxProblemTextBytes bounds each text a problem carries (detail, instance, each field's
// message): many quote what the caller sent, and a refusal must not send a megabyte back.
const MaxProblemTextBytes = 2048

// WriteProblem writes p with its status.
func WriteProblem(w http.ResponseWriter, p Problem) {
	p.Detail, p.Instance = BoundText(p.Detail, MaxProblemTextBytes), BoundText(p.Instance, MaxProblemTextBytes)
	if len(p.Errors) > 0 {
		p.Errors = slices.Clone(p.Errors)
		for i := range p.Errors {
			p.Errors[i].Field = BoundText(p.Errors[i].Field, MaxProblemTextBytes)
			p.Errors[i].Message = BoundText(p.Errors[i].Message, MaxProblemTextBytes)
		}
	}
	h := w.Header()
	h.Set("Content-Type", ProblemContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	if p.Status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
		h.Set("WWW-Authenticate", `Bearer realm="codexion"`)
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// BoundText returns s if it fits in maxBytes; otherwise its head and tail with the middle
// cut out and counted. The tail stays because a message that quotes the caller's value
// usually says what to do about it after the quote. Cuts fall on UTF-8 boundaries.
func BoundText(s string, maxBytes int) string {
	if len(s) <= maxBytes {
		return s
	}
	head, tail := maxBytes*2/3, maxBytes/4
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	from := len(s) - tail
	for from < len(s) && !utf8.RuneStart(s[from]) {
		from++
	}
	return s[:head] + fmt.Sprintf(" …(%d bytes cut)… ", from-head) + s[from:]
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteJSONBytes writes body, JSON already marshalled, with status, as WriteJSON would
// have written the value it came from.
func WriteJSONBytes(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// ReadJSONBody reads the whole body (within the server's bound) for callers that need
// its bytes too, e.g. to hash them for an idempotency key; decode it with DecodeJSONBytes.
func ReadJSONBody(r *http.Request) ([]byte, error) {
	if err := checkContentType(r); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, decodeError(err)
	}
	return data, nil
}

// DecodeJSONBytes reads one JSON object from data into v. Unknown fields, trailing data,
// an empty body and a body past its bound are each an error saying what to fix, and so
// are duplicate keys, invalid UTF-8, NUL characters and nesting past MaxJSONDepth (see
// CheckJSON), each naming the field.
func DecodeJSONBytes(data []byte, v any) error {
	if err := CheckJSON(data, MaxJSONDepth); err != nil {
		return err
	}
	return decode(data, v)
}

func checkContentType(r *http.Request) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return CodeUnsupportedMediaType.New("Content-Type is %q; send application/json", ct)
	}
	return nil
}

func decode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if pathless(err) {
			if name := memberOf(data, v); name != "" {
				e := platform.Invalid("field %q: %v", name, err)
				e.Fields = []platform.FieldError{{Field: name, Message: err.Error()}}
				return e
			}
		}
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		if tooLarge(err) {
			return decodeError(err)
		}
		return platform.Invalid("body must hold one JSON object and nothing after it")
	}
	return nil
}

// pathless reports whether err is a decoding error that does not say where it is: one a
// type's own UnmarshalJSON returned (time.Time's "parsing time"), not the decoder's.
func pathless(err error) bool {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	return !errors.As(err, &syn) && !errors.As(err, &typ) && !tooLarge(err) &&
		!errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) &&
		!strings.HasPrefix(err.Error(), "json: unknown field ")
}

// memberOf finds the top-level member of data that v's type refuses, by decoding each
// member alone into a fresh value. Only refused bodies pay for it, once per member.
func memberOf(data []byte, v any) string {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return ""
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(data, &members) != nil {
		return ""
	}
	for _, name := range slices.Sorted(maps.Keys(members)) {
		one, err := json.Marshal(map[string]json.RawMessage{name: members[name]})
		if err == nil && json.Unmarshal(one, reflect.New(t.Elem()).Interface()) != nil {
			return name
		}
	}
	return ""
}

func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

func decodeError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return CodeBodyTooLarge.New("body is larger than %d bytes", mbe.Limit)
	case errors.Is(err, io.EOF):
		return platform.Invalid("body is empty; send a JSON object")
	case errors.As(err, &syn):
		return platform.Invalid("body is not valid JSON at byte %d: %v", syn.Offset, syn)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return platform.Invalid("body is cut short: the JSON is incomplete")
	case errors.As(err, &typ):
		if typ.Field != "" {
			e := platform.Invalid("field %q must be a %s, not a JSON %s", typ.Field, typ.Type, typ.Value)
			e.Fields = []platform.FieldError{{Field: typ.Field, Message: fmt.Sprintf("must be a %s, not a JSON %s", typ.Type, typ.Value)}}
			return e
		}
		return platform.Invalid("body must be a JSON %s, not a JSON %s", typ.Type, typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return platform.Invalid("unknown field %s; check the field names in the API reference",
			strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return platform.Invalid("body: %v", fmt.Errorf("%w", err))
	}
}

// HandlerFunc is a handler that returns its error instead of writing it.
type HandlerFunc func(http.ResponseWriter, *http.Request) error

// ErrorWriter writes a handler's error the way its API answers errors.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

// Problems writes errors as problem+json (WriteError), logging server errors to log.
func Problems(log *slog.Logger) ErrorWriter {
	return func(w http.ResponseWriter, r *http.Request, err error) { WriteError(w, r, log, err) }
}

// Adapter turns handlers that return their error into http.HandlerFuncs whose errors fail
// writes: the one adapter every API's handlers go through.
func Adapter(fail ErrorWriter) func(HandlerFunc) http.HandlerFunc {
	return func(fn HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if err := fn(w, r); err != nil {
				fail(w, r, err)
			}
		}
	}
}
