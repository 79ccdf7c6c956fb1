package models

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/codexion/codexion/governance/access"
	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/auth"
	"github.com/codexion/codexion/platform/httpx"
	"github.com/codexion/codexion/platform/openapi"
)

// MLflow serves MLflow's tracking, registry and artifact REST APIs over the registry, so
// MLflow's own clients (Python, R, Java, the UI's calls) work against Codexion with a
// bearer token. Requests are read as MLflow's server reads them (GET fields from the query
// string, everything else from a JSON body; unknown fields ignored; int64 as numbers or
// strings) and answers and errors are written as it writes them.
type MLflow struct {
	store *Store
	log   *slog.Logger
	ops   map[string]openapi.Op
}

// NewMLflow returns MLflow's APIs over store.
func NewMLflow(store *Store, log *slog.Logger) *MLflow {
	return &MLflow{store: store, log: log, ops: map[string]openapi.Op{}}
}

// OpenAPI describes the routes Routes registered.
func (h *MLflow) OpenAPI() map[string]openapi.Op { return h.ops }

// mlflowTag groups MLflow's routes in the API document.
const mlflowTag = "mlflow"

// The prefixes MLflow serves its API under: clients use /api, MLflow's web UI /ajax-api.
var mlflowPrefixes = []string{"/api/2.0/mlflow", "/ajax-api/2.0/mlflow"}

// Who may call what. Everyone who works with models reads; ML engineers write; moving an
// alias or a stage (what serving follows) is the approvers'.
var (
	mlReaders   = []string{access.RoleMLEngineer, access.RoleMLApprover, access.RoleCompliance, access.RoleDataEngineer, access.RoleAdmin}
	mlWriters   = []string{access.RoleMLEngineer, access.RoleAdmin}
	mlApprovers = []string{access.RoleMLApprover, access.RoleAdmin}
	// mlScorers may score rows with a registered version (not compliance: scoring reads no record but runs a model).
	mlScorers = []string{access.RoleMLEngineer, access.RoleMLApprover, access.RoleAdmin}
)

// MLflow's error codes and the HTTP status its server answers each with.
var mlflowStatus = map[string]int{
	"INTERNAL_ERROR": 500, "TEMPORARILY_UNAVAILABLE": 503, "BAD_REQUEST": 400, "UNAUTHENTICATED": 401,
	"INVALID_PARAMETER_VALUE": 400, "ENDPOINT_NOT_FOUND": 404, "PERMISSION_DENIED": 403,
	"REQUEST_LIMIT_EXCEEDED": 429, "RESOURCE_CONFLICT": 409, "NOT_IMPLEMENTED": 501, "DATA_LOSS": 500,
	"RESOURCE_ALREADY_EXISTS": 400, "RESOURCE_DOES_NOT_EXIST": 404,
}

// mlflowCodeOf maps an error to MLflow's error code: by its problem code where MLflow
// answers differently from the kind (an unknown alias is a bad parameter there), else by kind.
func mlflowCodeOf(err error) (string, string) {
	var e *platform.Error
	if !errors.As(err, &e) {
		return "INTERNAL_ERROR", ""
	}
	switch e.Code {
	case CodeExperimentExists.Code, CodeModelExists.Code:
		return "RESOURCE_ALREADY_EXISTS", e.Message
	case CodeAliasNotFound.Code, CodeInactive.Code:
		return "INVALID_PARAMETER_VALUE", e.Message
	case CodeArtifactTampered.Code:
		return "DATA_LOSS", e.Message
	case httpx.CodeBodyTooLarge.Code:
		return "INVALID_PARAMETER_VALUE", e.Message
	}
	switch e.Kind {
	case platform.KindInvalid, platform.KindTooLarge:
		return "INVALID_PARAMETER_VALUE", e.Message
	case platform.KindNotFound:
		return "RESOURCE_DOES_NOT_EXIST", e.Message
	case platform.KindConflict:
		return "RESOURCE_CONFLICT", e.Message
	case platform.KindForbidden:
		return "PERMISSION_DENIED", e.Message
	case platform.KindUnauthenticated:
		return "UNAUTHENTICATED", e.Message
	case platform.KindUnavailable:
		return "TEMPORARILY_UNAVAILABLE", e.Message
	}
	return "INTERNAL_ERROR", ""
}

// mlflowError is the error form of MLflow's API.
type mlflowError struct {
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
}

// fail writes err as MLflow does: {"error_code": ..., "message": ...} with MLflow's status.
func (h *MLflow) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := mlflowCodeOf(err)
	status := mlflowStatus[code]
	if code == "INTERNAL_ERROR" {
		h.log.ErrorContext(r.Context(), "mlflow api", "path", r.URL.Path, "err", err)
		msg = "internal error; report request id " + w.Header().Get(httpx.RequestIDHeader)
	}
	if e := (*platform.Error)(nil); errors.As(err, &e) && e.Kind == platform.KindTooLarge {
		status = http.StatusRequestEntityTooLarge
	}
	httpx.WriteJSON(w, status, mlflowError{ErrorCode: code, Message: httpx.BoundText(msg, 4096)})
}

func (h *MLflow) access(roles []string) httpx.Access { return httpx.Roles(roles...).ErrorsAs(h.fail) }

// route registers fn for method and path under each of MLflow's prefixes.
func (h *MLflow) route(r *httpx.Router, method, path string, roles []string, summary string, fn httpx.HandlerFunc) {
	for _, prefix := range mlflowPrefixes {
		h.handle(r, method+" "+prefix+path, h.access(roles), summary, fn)
	}
}

// handle registers one route and its description.
func (h *MLflow) handle(r *httpx.Router, pattern string, acc httpx.Access, summary string, fn httpx.HandlerFunc) {
	r.HandleFunc(pattern, acc, httpx.Adapter(h.fail)(fn))
	h.ops[pattern] = openapi.Op{Tag: mlflowTag, Summary: summary + " (MLflow REST API)"}
}

// endpointNotFound answers paths under MLflow's prefixes that no route takes, in MLflow's form.
func (h *MLflow) endpointNotFound(w http.ResponseWriter, r *http.Request) {
	httpx.WriteJSON(w, http.StatusNotFound, mlflowError{ErrorCode: "ENDPOINT_NOT_FOUND",
		Message: httpx.BoundText("no MLflow endpoint "+r.Method+" "+r.URL.Path, 1024)})
}

// caller is the authenticated subject, recorded as the user of what it creates.
func caller(r *http.Request) string {
	p, _ := auth.PrincipalFrom(r.Context())
	return p.Subject
}

// ok is MLflow's empty answer.
func ok(w http.ResponseWriter) error {
	httpx.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

func reply(w http.ResponseWriter, v any) error {
	httpx.WriteJSON(w, http.StatusOK, v)
	return nil
}

// required refuses an absent or empty field with MLflow's words.
func required(field, value string) error {
	if value == "" {
		return invalidField(field, "Missing value for required parameter '%s'. See the API docs for more information about request parameters.", field)
	}
	return nil
}

// flexString is a string field that also takes a JSON number (MLflow accepts
// {"experiment_id": 0}).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("must be a string")
	}
	*f = flexString(n.String())
	return nil
}

// flexInt is an int64 field that takes a JSON number or a numeric string, as protobuf
// JSON does (older clients send int64 as strings).
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*f = flexInt(n)
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v != math.Trunc(v) || math.Abs(v) > 1<<62 {
		return errors.New("must be an integer")
	}
	*f = flexInt(v)
	return nil
}

// flexBool is a bool that takes true/false, or their strings in any case.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	switch strings.ToLower(s) {
	case "true":
		*f = true
	case "false":
		*f = false
	default:
		return fmt.Errorf("invalid boolean value: %s, must be 'true' or 'false'", s)
	}
	return nil
}

// flexList is a list of strings that also takes a single string (a query parameter given once).
type flexList []string

func (f *flexList) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexList{s}
		return nil
	}
	var items []flexString
	if err := json.Unmarshal(b, &items); err != nil {
		return errors.New("must be a list of strings")
	}
	out := make(flexList, len(items))
	for i, s := range items {
		out[i] = string(s)
	}
	*f = out
	return nil
}

// bind reads a request as MLflow's server does: a GET's fields from its query string
// (repeated keys for lists), any other request's from its JSON body. Unknown fields are
// ignored; a body that is a JSON string holding JSON (old clients) is read through.
func bind(r *http.Request, v any) error {
	var data []byte
	if r.Method == http.MethodGet || (r.Method == http.MethodDelete && r.ContentLength == 0 && r.URL.RawQuery != "") {
		data = queryJSON(r, v)
	} else {
		if ct := r.Header.Get("Content-Type"); ct != "" && r.Method != http.MethodDelete {
			if mt, _, _ := strings.Cut(ct, ";"); strings.TrimSpace(mt) != "application/json" {
				return platform.Invalid("Bad Request. Content-Type must be one of [application/json]. Got '%s'.", httpx.BoundText(ct, 128))
			}
		}
		var err error
		if data, err = io.ReadAll(r.Body); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return httpx.CodeBodyTooLarge.New("body is larger than %d bytes", mbe.Limit)
			}
			return platform.Invalid("reading the body: %v", err)
		}
		data = bytes.TrimSpace(data)
		if len(data) > 0 && data[0] == '"' {
			var inner string
			if json.Unmarshal(data, &inner) == nil {
				data = []byte(inner)
			}
		}
		if len(data) == 0 || !json.Valid(data) || data[0] != '{' {
			data = []byte("{}") // MLflow reads a body it cannot parse as no fields
		}
	}
	if err := json.Unmarshal(data, v); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return invalidField(typ.Field, "Invalid value for parameter '%s' supplied: must be a %s, not a JSON %s. See the API docs for more information about request parameters.", typ.Field, typ.Type, typ.Value)
		}
		if name := refusedMember(data, v); name != "" {
			return invalidField(name, "Invalid value for parameter '%s' supplied: %v. See the API docs for more information about request parameters.", name, err)
		}
		return platform.Invalid("Invalid request: %v. See the API docs for more information about request parameters.", err)
	}
	return nil
}

// refusedMember names the top-level member of data that v's type refuses (a type's own
// UnmarshalJSON does not say which field it was), by decoding each member alone.
func refusedMember(data []byte, v any) string {
	var members map[string]json.RawMessage
	if json.Unmarshal(data, &members) != nil {
		return ""
	}
	t := reflect.TypeOf(v).Elem()
	for name, raw := range members {
		one, err := json.Marshal(map[string]json.RawMessage{name: raw})
		if err == nil && json.Unmarshal(one, reflect.New(t).Interface()) != nil {
			return name
		}
	}
	return ""
}

// queryJSON turns a query string into the JSON object of the fields of v's type.
func queryJSON(r *http.Request, v any) []byte {
	q := r.URL.Query()
	obj := map[string]any{}
	queryFields(reflect.TypeOf(v).Elem(), q, obj)
	data, _ := json.Marshal(obj)
	return data
}

func queryFields(t reflect.Type, q url.Values, obj map[string]any) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			queryFields(f.Type, q, obj)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		vals, ok := q[name]
		if name == "" || !ok || len(vals) == 0 {
			continue
		}
		if f.Type.Kind() == reflect.Slice {
			obj[name] = vals
		} else {
			obj[name] = vals[0]
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// Routes registers MLflow's tracking, registry and artifact APIs.
func (h *MLflow) Routes(r *httpx.Router) {
	h.trackingRoutes(r)
	h.registryRoutes(r)
	h.artifactRoutes(r)
	for _, prefix := range append(slices.Clone(mlflowPrefixes), artifactsPrefix) {
		r.Fallback(prefix+"/", h.endpointNotFound)
	}
}
