package catalog

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/codexion/codexion/governance/access"
	"github.com/codexion/codexion/platform/auth"
	"github.com/codexion/codexion/platform/httpx"
	"github.com/codexion/codexion/platform/openapi"
)

// Who may do what. Admin may do everything.
var (
	readers = httpx.Roles(access.RoleDataEngineer, access.RoleMLEngineer, access.RoleMLApprover, access.RoleCompliance, access.RoleAdmin)
	writers = httpx.Roles(access.RoleDataEngineer, access.RoleAdmin)
)

// Follower is a part that keeps its own view of the catalog: it is told to read the catalog
// again after an apply or delete through these routes, so the caller's next request sees
// the change (followers also poll for changes made elsewhere).
type Follower interface {
	Reload(ctx context.Context) error
}

// Handler serves the catalog routes: apply, list, history and delete.
type Handler struct {
	store     *Store
	validate  Validator
	followers []Follower
	doc       any // what GET /v1/catalog answers, for the API description
	wrap      func(httpx.HandlerFunc) http.HandlerFunc
}

// NewHandler returns the catalog routes over store. validate checks an apply against what
// the objects run on (the feature store's scratch offline store); doc is a value whose type
// describes the whole catalog in the API description.
func NewHandler(store *Store, validate Validator, doc any, log *slog.Logger, followers ...Follower) *Handler {
	return &Handler{store: store, validate: validate, followers: followers, doc: doc, wrap: httpx.Adapter(httpx.Problems(log))}
}

// Routes registers the catalog routes.
func (h *Handler) Routes(r *httpx.Router) {
	r.HandleFunc("POST /v1/catalog/apply", writers, h.wrap(h.apply))
	r.HandleFunc("GET /v1/catalog", readers, h.wrap(h.getCatalog))
	r.HandleFunc("GET /v1/catalog/{kind}/{name}", readers, h.wrap(h.history))
	r.HandleFunc("DELETE /v1/catalog/{kind}/{name}", writers, h.wrap(h.deleteObject))
}

// OpenAPI describes the routes.
func (h *Handler) OpenAPI() map[string]openapi.Op {
	const cat = "catalog"
	return map[string]openapi.Op{
		"POST /v1/catalog/apply": {Tag: cat, Summary: "Apply YAML specs (every registered kind: pipelines, entities, feature views, feature services, ...): checked, diffed, versioned; breaking changes need force",
			Request: ApplyRequest{}, Response: Result{}, Query: []openapi.Param{{Name: "dry_run", Description: "true: check and diff only"}, {Name: "force", Description: "true: accept breaking changes"}}},
		"GET /v1/catalog":               {Tag: cat, Summary: "Every object in force", Response: h.doc},
		"GET /v1/catalog/{kind}/{name}": {Tag: cat, Summary: "Every version of one object, newest first", Response: []Versioned[json.RawMessage]{}},
		"DELETE /v1/catalog/{kind}/{name}": {Tag: cat, Summary: "Remove an object (recorded as a version; refused while others use it; pipelines, views and services need force)",
			Response: Result{}, Query: []openapi.Param{{Name: "dry_run"}, {Name: "force"}}},
	}
}

// ApplyRequest carries spec files.
type ApplyRequest struct {
	Documents []Document `json:"documents"`
}

func options(r *http.Request) Options {
	p, _ := auth.PrincipalFrom(r.Context())
	return Options{DryRun: r.URL.Query().Get("dry_run") == "true", Force: r.URL.Query().Get("force") == "true", Actor: p.Subject}
}

func (h *Handler) apply(w http.ResponseWriter, r *http.Request) error {
	body, err := httpx.ReadJSONBody(r)
	if err != nil {
		return err
	}
	var req ApplyRequest
	if err := httpx.DecodeJSONBytes(body, &req); err != nil {
		return err
	}
	res, err := h.Apply(r.Context(), req.Documents, options(r))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, res)
	return nil
}

// Apply applies spec documents, validated, and has the followers read the new catalog.
func (h *Handler) Apply(ctx context.Context, docs []Document, opts Options) (Result, error) {
	res, err := h.store.Apply(ctx, docs, opts, h.validate)
	if err != nil || opts.DryRun {
		return res, err
	}
	return res, h.reload(ctx)
}

func (h *Handler) reload(ctx context.Context) error {
	for _, f := range h.followers {
		if err := f.Reload(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (h *Handler) deleteObject(w http.ResponseWriter, r *http.Request) error {
	opts := options(r)
	res, err := h.store.Delete(r.Context(), r.PathValue("kind"), r.PathValue("name"), opts)
	if err != nil {
		return err
	}
	if !opts.DryRun {
		if err := h.reload(r.Context()); err != nil {
			return err
		}
	}
	httpx.WriteJSON(w, http.StatusOK, res)
	return nil
}

func (h *Handler) getCatalog(w http.ResponseWriter, r *http.Request) error {
	snap, err := h.store.Snapshot(r.Context())
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, snap)
	return nil
}

func (h *Handler) history(w http.ResponseWriter, r *http.Request) error {
	hist, err := h.store.History(r.Context(), r.PathValue("kind"), r.PathValue("name"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, hist)
	return nil
}
