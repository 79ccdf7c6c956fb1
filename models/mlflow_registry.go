package models

import (
	"math"
	"net/http"

	"github.com/codexion/codexion/platform/httpx"
)

// registryRoutes registers MLflow's model registry and logged-model endpoints.
func (h *MLflow) registryRoutes(r *httpx.Router) {
	h.route(r, "POST", "/registered-models/create", mlWriters, "Create a registered model", h.createRegisteredModel)
	h.route(r, "GET", "/registered-models/get", mlReaders, "Get a registered model", h.getRegisteredModel)
	h.route(r, "GET", "/registered-models/search", mlReaders, "Search registered models", h.searchRegisteredModels)
	h.route(r, "PATCH", "/registered-models/update", mlWriters, "Set a registered model's description", h.updateRegisteredModel)
	h.route(r, "POST", "/registered-models/rename", mlWriters, "Rename a registered model (versions, tags, aliases follow)", h.renameRegisteredModel)
	h.route(r, "DELETE", "/registered-models/delete", mlWriters, "Delete a registered model", h.deleteRegisteredModel)
	h.route(r, "POST", "/registered-models/set-tag", mlWriters, "Set a registered model tag", h.setRegisteredModelTag)
	h.route(r, "DELETE", "/registered-models/delete-tag", mlWriters, "Delete a registered model tag", h.deleteRegisteredModelTag)
	h.route(r, "POST", "/registered-models/get-latest-versions", mlReaders, "Latest version per stage", h.latestVersions)
	h.route(r, "GET", "/registered-models/get-latest-versions", mlReaders, "Latest version per stage", h.latestVersions)
	h.route(r, "POST", "/registered-models/alias", mlApprovers, "Registered model alias: set (ml-approver), get, delete (ml-approver)", h.setAlias)
	h.route(r, "GET", "/registered-models/alias", mlReaders, "Registered model alias: set (ml-approver), get, delete (ml-approver)", h.versionByAlias)
	h.route(r, "DELETE", "/registered-models/alias", mlApprovers, "Registered model alias: set (ml-approver), get, delete (ml-approver)", h.deleteAlias)

	h.route(r, "POST", "/model-versions/create", mlWriters, "Register a version (READY at once; sources Codexion stores only)", h.createModelVersion)
	h.route(r, "GET", "/model-versions/get", mlReaders, "Get a model version", h.getModelVersion)
	h.route(r, "GET", "/model-versions/search", mlReaders, "Search model versions", h.searchModelVersions)
	h.route(r, "PATCH", "/model-versions/update", mlWriters, "Set a version's description", h.updateModelVersion)
	h.route(r, "DELETE", "/model-versions/delete", mlWriters, "Delete a version (its number is never reused)", h.deleteModelVersion)
	h.route(r, "POST", "/model-versions/set-tag", mlWriters, "Set a version tag", h.setModelVersionTag)
	h.route(r, "DELETE", "/model-versions/delete-tag", mlWriters, "Delete a version tag", h.deleteModelVersionTag)
	h.route(r, "GET", "/model-versions/get-download-uri", mlReaders, "Where a version's artifacts are", h.downloadURI)
	h.route(r, "POST", "/model-versions/transition-stage", mlApprovers, "Move a version to a stage (ml-approver)", h.transitionStage)

	h.route(r, "POST", "/logged-models", mlWriters, "Create a logged model (MLflow 3)", h.createLoggedModel)
	h.route(r, "GET", "/logged-models/{model_id}", mlReaders, "Logged model: get, finalize (PATCH), delete", h.getLoggedModel)
	h.route(r, "PATCH", "/logged-models/{model_id}", mlWriters, "Logged model: get, finalize (PATCH), delete", h.finalizeLoggedModel)
	h.route(r, "DELETE", "/logged-models/{model_id}", mlWriters, "Logged model: get, finalize (PATCH), delete", h.deleteLoggedModel)
	h.route(r, "POST", "/logged-models/search", mlReaders, "Search logged models", h.searchLoggedModels)
	h.route(r, "PATCH", "/logged-models/{model_id}/tags", mlWriters, "Set logged model tags", h.setLoggedModelTags)
	h.route(r, "DELETE", "/logged-models/{model_id}/tags/{tag_key}", mlWriters, "Delete a logged model tag", h.deleteLoggedModelTag)
	h.route(r, "POST", "/logged-models/{model_id}/params", mlWriters, "Log logged model params", h.logLoggedModelParams)
}

type modelRef struct {
	Name string `json:"name"`
}

type versionRef struct {
	Name    string     `json:"name"`
	Version flexString `json:"version"`
}

func (v versionRef) check() error {
	if err := required("name", v.Name); err != nil {
		return err
	}
	return required("version", string(v.Version))
}

func (h *MLflow) createRegisteredModel(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name        string    `json:"name"`
		Tags        []wireTag `json:"tags"`
		Description string    `json:"description"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := required("name", req.Name); err != nil {
		return err
	}
	m, err := h.store.CreateRegisteredModel(r.Context(), req.Name, req.Description, caller(r), tagsOf(req.Tags))
	if err != nil {
		return err
	}
	return reply(w, map[string]RegisteredModel{"registered_model": m})
}

func (h *MLflow) getRegisteredModel(w http.ResponseWriter, r *http.Request) error {
	var req modelRef
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := required("name", req.Name); err != nil {
		return err
	}
	m, err := h.store.GetRegisteredModel(r.Context(), req.Name)
	if err != nil {
		return err
	}
	return reply(w, map[string]RegisteredModel{"registered_model": m})
}

type searchRequest struct {
	Filter     string   `json:"filter"`
	MaxResults flexInt  `json:"max_results"`
	OrderBy    flexList `json:"order_by"`
	PageToken  string   `json:"page_token"`
}

func (s searchRequest) query() RegistrySearch {
	return RegistrySearch{Filter: s.Filter, MaxResults: int(min(max(s.MaxResults, -1), math.MaxInt32)), OrderBy: s.OrderBy, PageToken: s.PageToken}
}

func (h *MLflow) searchRegisteredModels(w http.ResponseWriter, r *http.Request) error {
	var req searchRequest
	if err := bind(r, &req); err != nil {
		return err
	}
	out, next, err := h.store.SearchRegisteredModels(r.Context(), req.query())
	if err != nil {
		return err
	}
	return reply(w, struct {
		RegisteredModels []RegisteredModel `json:"registered_models,omitempty"`
		NextPageToken    string            `json:"next_page_token,omitempty"`
	}{out, next})
}

func (h *MLflow) updateRegisteredModel(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := required("name", req.Name); err != nil {
		return err
	}
	m, err := h.store.UpdateRegisteredModel(r.Context(), req.Name, req.Description)
	if err != nil {
		return err
	}
	return reply(w, map[string]RegisteredModel{"registered_model": m})
}

func (h *MLflow) renameRegisteredModel(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name    string `json:"name"`
		NewName string `json:"new_name"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := required("name", req.Name); err != nil {
		return err
	}
	if err := required("new_name", req.NewName); err != nil {
		return err
	}
	m, err := h.store.RenameRegisteredModel(r.Context(), req.Name, req.NewName)
	if err != nil {
		return err
	}
	return reply(w, map[string]RegisteredModel{"registered_model": m})
}

func (h *MLflow) deleteRegisteredModel(w http.ResponseWriter, r *http.Request) error {
	var req modelRef
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := required("name", req.Name); err != nil {
		return err
	}
	if err := h.store.DeleteRegisteredModel(r.Context(), req.Name); err != nil {
		return err
	}
	return ok(w)
}

type tagRequest struct {
	Name    string     `json:"name"`
	Version flexString `json:"version"`
	Key     string     `json:"key"`
	Value   string     `json:"value"`
}

func (h *MLflow) setRegisteredModelTag(w http.ResponseWriter, r *http.Request) error {
	var req tagRequest
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := required("name", req.Name); err != nil {
		return err
	}
	if err := required("key", req.Key); err != nil {
		return err
	}
	if err := h.store.SetRegisteredModelTag(r.Context(), req.Name, req.Key, req.Value); err != nil {
		return err
	}
	return ok(w)
}

func (h *MLflow) deleteRegisteredModelTag(w http.ResponseWriter, r *http.Request) error {
	var req tagRequest
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := required("name", req.Name); err != nil {
		return err
	}
	if err := required("key", req.Key); err != nil {
		return err
	}
	if err := h.store.DeleteRegisteredModelTag(r.Context(), req.Name, req.Key); err != nil {
		return err
	}
	return ok(w)
}

func (h *MLflow) latestVersions(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name   string   `json:"name"`
		Stages flexList `json:"stages"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := required("name", req.Name); err != nil {
		return err
	}
	if _, err := h.store.GetRegisteredModel(r.Context(), req.Name); err != nil {
		return err
	}
	out, err := h.store.LatestVersions(r.Context(), req.Name, req.Stages)
	if err != nil {
		return err
	}
	return reply(w, struct {
		ModelVersions []ModelVersion `json:"model_versions,omitempty"`
	}{out})
}

type aliasRequest struct {
	Name    string     `json:"name"`
	Alias   string     `json:"alias"`
	Version flexString `json:"version"`
}

func (h *MLflow) setAlias(w http.ResponseWriter, r *http.Request) error {
	var req aliasRequest
	if err := bind(r, &req); err != nil {
		return err
	}
	for _, f := range [][2]string{{"name", req.Name}, {"alias", req.Alias}, {"version", string(req.Version)}} {
		if err := required(f[0], f[1]); err != nil {
			return err
		}
	}
	if err := h.store.SetAlias(r.Context(), req.Name, req.Alias, string(req.Version)); err != nil {
		return err
	}
	return ok(w)
}

func (h *MLflow) versionByAlias(w http.ResponseWriter, r *http.Request) error {
	var req aliasRequest
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := required("name", req.Name); err != nil {
		return err
	}
	if err := required("alias", req.Alias); err != nil {
		return err
	}
	v, err := h.store.VersionByAlias(r.Context(), req.Name, req.Alias)
	if err != nil {
		return err
	}
	return reply(w, map[string]ModelVersion{"model_version": v})
}

func (h *MLflow) deleteAlias(w http.ResponseWriter, r *http.Request) error {
	var req aliasRequest
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := required("name", req.Name); err != nil {
		return err
	}
	if err := required("alias", req.Alias); err != nil {
		return err
	}
	if err := h.store.DeleteAlias(r.Context(), req.Name, req.Alias); err != nil {
		return err
	}
	return ok(w)
}

func (h *MLflow) createModelVersion(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name        string    `json:"name"`
		Source      string    `json:"source"`
		RunID       string    `json:"run_id"`
		Tags        []wireTag `json:"tags"`
		RunLink     string    `json:"run_link"`
		Description string    `json:"description"`
		ModelID     string    `json:"model_id"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := required("name", req.Name); err != nil {
		return err
	}
	if err := required("source", req.Source); err != nil {
		return err
	}
	v, err := h.store.CreateModelVersion(r.Context(), NewVersion{Name: req.Name, Source: req.Source, RunID: req.RunID, RunLink: req.RunLink,
		Description: req.Description, ModelID: req.ModelID, UserID: caller(r), Tags: tagsOf(req.Tags)})
	if err != nil {
		return err
	}
	return reply(w, map[string]ModelVersion{"model_version": v})
}

func (h *MLflow) getModelVersion(w http.ResponseWriter, r *http.Request) error {
	var req versionRef
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	v, err := h.store.GetModelVersion(r.Context(), req.Name, string(req.Version))
	if err != nil {
		return err
	}
	return reply(w, map[string]ModelVersion{"model_version": v})
}

func (h *MLflow) searchModelVersions(w http.ResponseWriter, r *http.Request) error {
	var req searchRequest
	if err := bind(r, &req); err != nil {
		return err
	}
	out, next, err := h.store.SearchModelVersions(r.Context(), req.query())
	if err != nil {
		return err
	}
	return reply(w, struct {
		ModelVersions []ModelVersion `json:"model_versions,omitempty"`
		NextPageToken string         `json:"next_page_token,omitempty"`
	}{out, next})
}

func (h *MLflow) updateModelVersion(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		versionRef
		Description string `json:"description"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	v, err := h.store.UpdateModelVersion(r.Context(), req.Name, string(req.Version), req.Description)
	if err != nil {
		return err
	}
	return reply(w, map[string]ModelVersion{"model_version": v})
}

func (h *MLflow) deleteModelVersion(w http.ResponseWriter, r *http.Request) error {
	var req versionRef
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	if err := h.store.DeleteModelVersion(r.Context(), req.Name, string(req.Version)); err != nil {
		return err
	}
	return ok(w)
}

func (h *MLflow) setModelVersionTag(w http.ResponseWriter, r *http.Request) error {
	var req tagRequest
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := (versionRef{Name: req.Name, Version: req.Version}).check(); err != nil {
		return err
	}
	if err := required("key", req.Key); err != nil {
		return err
	}
	if err := h.store.SetModelVersionTag(r.Context(), req.Name, string(req.Version), req.Key, req.Value); err != nil {
		return err
	}
	return ok(w)
}

func (h *MLflow) deleteModelVersionTag(w http.ResponseWriter, r *http.Request) error {
	var req tagRequest
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := (versionRef{Name: req.Name, Version: req.Version}).check(); err != nil {
		return err
	}
	if err := required("key", req.Key); err != nil {
		return err
	}
	if err := h.store.DeleteModelVersionTag(r.Context(), req.Name, string(req.Version), req.Key); err != nil {
		return err
	}
	return ok(w)
}

func (h *MLflow) downloadURI(w http.ResponseWriter, r *http.Request) error {
	var req versionRef
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	uri, err := h.store.DownloadURI(r.Context(), req.Name, string(req.Version))
	if err != nil {
		return err
	}
	return reply(w, map[string]string{"artifact_uri": uri})
}

func (h *MLflow) transitionStage(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		versionRef
		Stage           string   `json:"stage"`
		ArchiveExisting flexBool `json:"archive_existing_versions"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	if err := required("stage", req.Stage); err != nil {
		return err
	}
	v, err := h.store.TransitionStage(r.Context(), req.Name, string(req.Version), req.Stage, bool(req.ArchiveExisting))
	if err != nil {
		return err
	}
	return reply(w, map[string]ModelVersion{"model_version": v})
}

func (h *MLflow) createLoggedModel(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ExperimentID flexString `json:"experiment_id"`
		Name         string     `json:"name"`
		ModelType    string     `json:"model_type"`
		SourceRunID  string     `json:"source_run_id"`
		Params       []wireTag  `json:"params"`
		Tags         []wireTag  `json:"tags"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := required("experiment_id", string(req.ExperimentID)); err != nil {
		return err
	}
	params := make([]Param, len(req.Params))
	for i, p := range req.Params {
		params[i] = Param(p)
	}
	m, err := h.store.CreateLoggedModel(r.Context(), NewLoggedModel{ExperimentID: string(req.ExperimentID), Name: req.Name,
		ModelType: req.ModelType, SourceRunID: req.SourceRunID, UserID: caller(r), Params: params, Tags: tagsOf(req.Tags)})
	if err != nil {
		return err
	}
	return reply(w, map[string]LoggedModel{"model": m})
}

func (h *MLflow) getLoggedModel(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		AllowDeleted flexBool `json:"allow_deleted"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	m, err := h.store.GetLoggedModel(r.Context(), r.PathValue("model_id"), bool(req.AllowDeleted))
	if err != nil {
		return err
	}
	return reply(w, map[string]LoggedModel{"model": m})
}

func (h *MLflow) finalizeLoggedModel(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Status flexString `json:"status"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := required("status", string(req.Status)); err != nil {
		return err
	}
	m, err := h.store.FinalizeLoggedModel(r.Context(), r.PathValue("model_id"), string(req.Status))
	if err != nil {
		return err
	}
	return reply(w, map[string]LoggedModel{"model": m})
}

func (h *MLflow) deleteLoggedModel(w http.ResponseWriter, r *http.Request) error {
	if err := h.store.DeleteLoggedModel(r.Context(), r.PathValue("model_id")); err != nil {
		return err
	}
	return ok(w)
}

func (h *MLflow) searchLoggedModels(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ExperimentIDs flexList           `json:"experiment_ids"`
		Filter        string             `json:"filter"`
		MaxResults    flexInt            `json:"max_results"`
		OrderBy       []LoggedModelOrder `json:"order_by"`
		PageToken     string             `json:"page_token"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	out, next, err := h.store.SearchLoggedModels(r.Context(), LoggedModelSearch{ExperimentIDs: req.ExperimentIDs, Filter: req.Filter,
		MaxResults: int(min(max(req.MaxResults, -1), math.MaxInt32)), OrderBy: req.OrderBy, PageToken: req.PageToken})
	if err != nil {
		return err
	}
	return reply(w, struct {
		Models        []LoggedModel `json:"models,omitempty"`
		NextPageToken string        `json:"next_page_token,omitempty"`
	}{out, next})
}

func (h *MLflow) setLoggedModelTags(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Tags []wireTag `json:"tags"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := h.store.SetLoggedModelTags(r.Context(), r.PathValue("model_id"), tagsOf(req.Tags)); err != nil {
		return err
	}
	return ok(w)
}

func (h *MLflow) deleteLoggedModelTag(w http.ResponseWriter, r *http.Request) error {
	if err := h.store.DeleteLoggedModelTag(r.Context(), r.PathValue("model_id"), r.PathValue("tag_key")); err != nil {
		return err
	}
	return ok(w)
}

func (h *MLflow) logLoggedModelParams(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Params []wireTag `json:"params"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	params := make([]Param, len(req.Params))
	for i, p := range req.Params {
		params[i] = Param(p)
	}
	if err := h.store.LogLoggedModelParams(r.Context(), r.PathValue("model_id"), params); err != nil {
		return err
	}
	return ok(w)
}
