package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/codexion/codexion/governance/access"
	"github.com/codexion/codexion/platform/httpx"
	"github.com/codexion/codexion/platform/openapi"
	"github.com/codexion/codexion/schemas"
)

// ContentType is Confluent Schema Registry's media type.
const ContentType = "application/vnd.schemaregistry.v1+json"

// Prefix is the base URL of the Confluent-compatible API.
const Prefix = "/schema-registry"

// maxBodyBytes bounds a request body.
const maxBodyBytes = maxSchemaBytes + 4096

var (
	readers = httpx.Roles(access.AllRoles...)
	writers = httpx.Roles(access.RoleDataEngineer, access.RoleAdmin)
)

// Handler serves the registry API.
type Handler struct {
	store *Store
	log   *slog.Logger
}

// NewHandler returns the registry's handlers.
func NewHandler(store *Store, log *slog.Logger) *Handler { return &Handler{store: store, log: log} }

// Routes registers the Confluent-compatible routes under Prefix.
func (h *Handler) Routes(r *httpx.Router) {
	r.HandleFunc("GET "+Prefix+"/subjects", readers, h.wrap(h.subjects))
	r.HandleFunc("POST "+Prefix+"/subjects/{subject}/versions", writers, h.wrap(h.register))
	r.HandleFunc("POST "+Prefix+"/subjects/{subject}", readers, h.wrap(h.lookup))
	r.HandleFunc("GET "+Prefix+"/subjects/{subject}/versions", readers, h.wrap(h.versions))
	r.HandleFunc("GET "+Prefix+"/subjects/{subject}/versions/{version}", readers, h.wrap(h.version))
	r.HandleFunc("GET "+Prefix+"/subjects/{subject}/versions/{version}/schema", readers, h.wrap(h.rawSchema))
	r.HandleFunc("DELETE "+Prefix+"/subjects/{subject}", writers, h.wrap(h.deleteSubject))
	r.HandleFunc("DELETE "+Prefix+"/subjects/{subject}/versions/{version}", writers, h.wrap(h.deleteVersion))
	r.HandleFunc("GET "+Prefix+"/schemas/ids/{id}", readers, h.wrap(h.byID))
	r.HandleFunc("POST "+Prefix+"/compatibility/subjects/{subject}/versions/{version}", readers, h.wrap(h.compatibility))
	r.HandleFunc("GET "+Prefix+"/config", readers, h.wrap(h.getConfig))
	r.HandleFunc("PUT "+Prefix+"/config", writers, h.wrap(h.putConfig))
	r.HandleFunc("GET "+Prefix+"/config/{subject}", readers, h.wrap(h.getConfig))
	r.HandleFunc("PUT "+Prefix+"/config/{subject}", writers, h.wrap(h.putConfig))
}

func write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// wrap turns a handler that returns its error into one that writes it in Confluent's form.
func (h *Handler) wrap(fn httpx.HandlerFunc) http.HandlerFunc { return httpx.Adapter(h.fail)(fn) }

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var re *Error
	if errors.As(err, &re) {
		write(w, re.Status, re)
		return
	}
	h.log.ErrorContext(r.Context(), "schema registry", "err", err)
	write(w, http.StatusInternalServerError, &Error{Code: 50001, Message: "Error in the backend data store"})
}

// schemaRequest is the body of register, lookup and compatibility calls.
type schemaRequest struct {
	Schema     string      `json:"schema"`
	SchemaType string      `json:"schemaType,omitempty"`
	References []Reference `json:"references,omitempty"`
}

func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return errorf(400, 400, "cannot read the request body: %v", err)
	}
	if len(body) > maxBodyBytes {
		return errorf(413, 413, "request body is larger than %d bytes", maxBodyBytes)
	}
	if err := httpx.CheckJSON(body, httpx.MaxJSONDepth); err != nil {
		return errorf(422, 422, "%s", err.Error())
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errorf(422, 422, "Unrecognized field or malformed JSON: %v", err)
	}
	return nil
}

func (h *Handler) readSchema(r *http.Request) (schemaRequest, error) {
	var in schemaRequest
	if err := decode(r, &in); err != nil {
		return in, err
	}
	if in.Schema == "" {
		return in, errorf(422, 42201, "Invalid schema: the schema field is empty")
	}
	return in, nil
}

// versionParam reads {version}: a number from 1, or "latest" (-1).
func versionParam(r *http.Request) (int, error) {
	v := r.PathValue("version")
	if v == "latest" || v == "-1" {
		return -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1<<30 {
		return 0, errorf(422, 42202, "The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"", v)
	}
	return n, nil
}

func (h *Handler) subjects(w http.ResponseWriter, r *http.Request) error {
	subs, err := h.store.Subjects(r.Context())
	if err != nil {
		return err
	}
	if subs == nil {
		subs = []string{}
	}
	write(w, 200, subs)
	return nil
}

func (h *Handler) register(w http.ResponseWriter, r *http.Request) error {
	in, err := h.readSchema(r)
	if err != nil {
		return err
	}
	id, err := h.store.Register(r.Context(), r.PathValue("subject"), in.Schema, in.SchemaType, in.References...)
	if err != nil {
		return err
	}
	write(w, 200, map[string]int{"id": id})
	return nil
}

func (h *Handler) lookup(w http.ResponseWriter, r *http.Request) error {
	in, err := h.readSchema(r)
	if err != nil {
		return err
	}
	s, err := h.store.Lookup(r.Context(), r.PathValue("subject"), in.Schema, in.SchemaType, in.References...)
	if err != nil {
		return err
	}
	write(w, 200, s)
	return nil
}

func (h *Handler) versions(w http.ResponseWriter, r *http.Request) error {
	vs, err := h.store.Versions(r.Context(), r.PathValue("subject"))
	if err != nil {
		return err
	}
	out := make([]int, len(vs))
	for i, v := range vs {
		out[i] = v.Version
	}
	write(w, 200, out)
	return nil
}

func (h *Handler) version(w http.ResponseWriter, r *http.Request) error {
	v, err := versionParam(r)
	if err != nil {
		return err
	}
	s, err := h.store.Version(r.Context(), r.PathValue("subject"), v)
	if err != nil {
		return err
	}
	write(w, 200, s)
	return nil
}

func (h *Handler) rawSchema(w http.ResponseWriter, r *http.Request) error {
	v, err := versionParam(r)
	if err != nil {
		return err
	}
	s, err := h.store.Version(r.Context(), r.PathValue("subject"), v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", ContentType)
	_, _ = io.WriteString(w, s.Schema)
	return nil
}

func (h *Handler) byID(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 1 {
		return errorf(404, 40403, "Schema %s not found", r.PathValue("id"))
	}
	s, err := h.store.ByID(r.Context(), id)
	if err != nil {
		return err
	}
	write(w, 200, map[string]any{"schema": s.Schema, "schemaType": s.SchemaType, "references": refsKey(s.References)})
	return nil
}

func (h *Handler) compatibility(w http.ResponseWriter, r *http.Request) error {
	v, err := versionParam(r)
	if err != nil {
		return err
	}
	in, err := h.readSchema(r)
	if err != nil {
		return err
	}
	msgs, err := h.store.TestCompatibility(r.Context(), r.PathValue("subject"), v, in.Schema, in.SchemaType, in.References...)
	if err != nil {
		return err
	}
	out := map[string]any{"is_compatible": len(msgs) == 0}
	if r.URL.Query().Get("verbose") == "true" {
		if msgs == nil {
			msgs = []string{}
		}
		out["messages"] = msgs
	}
	write(w, 200, out)
	return nil
}

func (h *Handler) getConfig(w http.ResponseWriter, r *http.Request) error {
	subject := r.PathValue("subject")
	level, ok, err := h.store.Level(r.Context(), subject)
	if err != nil {
		return err
	}
	if !ok {
		if r.URL.Query().Get("defaultToGlobal") != "true" {
			return errorf(404, 40408, "Subject '%s' does not have subject-level compatibility configured", subject)
		}
		if level, _, err = h.store.Level(r.Context(), ""); err != nil {
			return err
		}
	}
	write(w, 200, map[string]string{"compatibilityLevel": level})
	return nil
}

// configRequest is the body of a compatibility level change.
type configRequest struct {
	Compatibility string `json:"compatibility"`
}

func (h *Handler) putConfig(w http.ResponseWriter, r *http.Request) error {
	var in configRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := h.store.SetLevel(r.Context(), r.PathValue("subject"), in.Compatibility); err != nil {
		return err
	}
	write(w, 200, map[string]string{"compatibility": in.Compatibility})
	return nil
}

func (h *Handler) deleteSubject(w http.ResponseWriter, r *http.Request) error {
	vs, err := h.store.DeleteSubject(r.Context(), r.PathValue("subject"))
	if err != nil {
		return err
	}
	write(w, 200, vs)
	return nil
}

func (h *Handler) deleteVersion(w http.ResponseWriter, r *http.Request) error {
	v, err := versionParam(r)
	if err != nil {
		return err
	}
	n, err := h.store.DeleteVersion(r.Context(), r.PathValue("subject"), v)
	if err != nil {
		return err
	}
	write(w, 200, n)
	return nil
}

// OpenAPI describes the registry routes for the API document.
func (h *Handler) OpenAPI() map[string]openapi.Op {
	const tag = "schema-registry"
	return map[string]openapi.Op{
		"GET " + Prefix + "/subjects":                                             {Tag: tag, Summary: "List subjects (Confluent Schema Registry API)", Response: []string{}},
		"POST " + Prefix + "/subjects/{subject}/versions":                         {Tag: tag, Summary: "Register a JSON Schema under a subject; 409 when incompatible", Request: schemaRequest{}, Response: map[string]int{}},
		"POST " + Prefix + "/subjects/{subject}":                                  {Tag: tag, Summary: "Find a schema among a subject's versions", Request: schemaRequest{}, Response: Schema{}},
		"GET " + Prefix + "/subjects/{subject}/versions":                          {Tag: tag, Summary: "List a subject's versions", Response: []int{}},
		"GET " + Prefix + "/subjects/{subject}/versions/{version}":                {Tag: tag, Summary: "A version (a number or latest)", Response: Schema{}},
		"GET " + Prefix + "/subjects/{subject}/versions/{version}/schema":         {Tag: tag, Summary: "A version's schema document"},
		"DELETE " + Prefix + "/subjects/{subject}":                                {Tag: tag, Summary: "Soft-delete a subject", Response: []int{}},
		"DELETE " + Prefix + "/subjects/{subject}/versions/{version}":             {Tag: tag, Summary: "Soft-delete a version", Response: 0},
		"GET " + Prefix + "/schemas/ids/{id}":                                     {Tag: tag, Summary: "A schema by global id", Response: map[string]string{}},
		"POST " + Prefix + "/compatibility/subjects/{subject}/versions/{version}": {Tag: tag, Summary: "Test a schema against a version (?verbose=true lists broken rules)", Request: schemaRequest{}, Response: map[string]any{}},
		"GET " + Prefix + "/config":                                               {Tag: tag, Summary: "Global compatibility level", Response: map[string]string{}},
		"PUT " + Prefix + "/config":                                               {Tag: tag, Summary: "Set the global compatibility level", Request: configRequest{}, Response: map[string]string{}},
		"GET " + Prefix + "/config/{subject}":                                     {Tag: tag, Summary: "A subject's compatibility level", Response: map[string]string{}},
		"PUT " + Prefix + "/config/{subject}":                                     {Tag: tag, Summary: "Set a subject's compatibility level", Request: configRequest{}, Response: map[string]string{}},
	}
}

// RegisterAll registers every embedded event schema under its event type as subject, so
// the registry always holds what this build publishes. An incompatible change fails.
func (s *Store) RegisterAll(ctx context.Context, set *schemas.Set) error {
	for _, typ := range set.Types() {
		raw, _ := set.Raw(typ)
		if _, err := s.Register(ctx, typ, string(raw), "JSON"); err != nil {
			return fmt.Errorf("register the schema of %s: %w", typ, err)
		}
	}
	return nil
}
