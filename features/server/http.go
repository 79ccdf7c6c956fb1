package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/codexion/codexion/catalog"
	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/governance/access"
	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/auth"
	"github.com/codexion/codexion/platform/httpx"
	"github.com/codexion/codexion/platform/idempotency"
	"github.com/codexion/codexion/platform/openapi"
)

// Who may do what. Admin may do everything.
var (
	featureReaders = httpx.Roles(access.RoleDataEngineer, access.RoleMLEngineer, access.RoleMLApprover, access.RoleCompliance, access.RoleAdmin)
	lookups        = httpx.Roles(access.RoleDataEngineer, access.RoleMLEngineer, access.RoleAdmin)
	engineers      = httpx.Roles(access.RoleDataEngineer, access.RoleAdmin)
)

// Routes registers the catalog and feature routes: Feast's (/get-online-features, /push,
// /materialize, /materialize-incremental) and Codexion's own under /v1.
func (s *Server) Routes(r *httpx.Router) {
	r.HandleFunc("POST /v1/catalog/apply", engineers, s.wrap(s.apply))
	r.HandleFunc("GET /v1/catalog", featureReaders, s.wrap(s.getCatalog))
	r.HandleFunc("GET /v1/catalog/{kind}/{name}", featureReaders, s.wrap(s.history))
	r.HandleFunc("DELETE /v1/catalog/{kind}/{name}", engineers, s.wrap(s.deleteObject))
	r.HandleFunc("POST /get-online-features", lookups.HighVolume(), s.wrap(s.getOnline))
	r.HandleFunc("POST /push", engineers, s.wrap(s.push))
	r.HandleFunc("POST /materialize", engineers, s.wrap(s.materialize))
	r.HandleFunc("POST /materialize-incremental", engineers, s.wrap(s.materialize))
	r.HandleFunc("GET /v1/features/views", featureReaders, s.wrap(s.listViews))
	r.HandleFunc("GET /v1/features/views/{name}", featureReaders, s.wrap(s.getView))
	r.HandleFunc("GET /v1/features/tables", featureReaders, s.wrap(s.listTables))
	r.HandleFunc("GET /v1/features/tables/{name}/rows", lookups, s.wrap(s.tableRows))
	r.HandleFunc("POST /v1/features/historical", lookups, s.wrap(s.submitHistorical))
	r.HandleFunc("GET /v1/features/historical/{id}", lookups, s.wrap(s.getJob))
	r.HandleFunc("GET /v1/features/historical/{id}/result", lookups, s.wrap(s.jobResult))
}

// OpenAPI describes the routes.
func (s *Server) OpenAPI() map[string]openapi.Op {
	const cat, feat = "catalog", "features"
	return map[string]openapi.Op{
		"POST /v1/catalog/apply": {Tag: cat, Summary: "Apply YAML specs (pipelines, entities, feature views, feature services): checked, diffed, versioned; breaking changes need force",
			Request: ApplyRequest{}, Response: catalog.Result{}, Query: []openapi.Param{{Name: "dry_run", Description: "true: check and diff only"}, {Name: "force", Description: "true: accept breaking changes"}}},
		"GET /v1/catalog":               {Tag: cat, Summary: "Every object in force", Response: features.Catalog{}},
		"GET /v1/catalog/{kind}/{name}": {Tag: cat, Summary: "Every version of one object, newest first", Response: []catalog.Versioned[json.RawMessage]{}},
		"DELETE /v1/catalog/{kind}/{name}": {Tag: cat, Summary: "Remove an object (recorded as a version; refused while others use it; pipelines, views and services need force)",
			Response: catalog.Result{}, Query: []openapi.Param{{Name: "dry_run"}, {Name: "force"}}},
		"POST /get-online-features":               {Tag: feat, Summary: "Feast-compatible online lookup", Request: OnlineRequest{}, Response: OnlineResponse{}},
		"POST /push":                              {Tag: feat, Summary: "Feast-compatible push of source rows (kept offline, refreshed online)", Request: PushRequest{}, Response: PushResult{}},
		"POST /materialize":                       {Tag: feat, Summary: "Feast-compatible materialization into the online store", Request: MaterializeRequest{}, Response: MaterializeResult{}},
		"POST /materialize-incremental":           {Tag: feat, Summary: "Materialize every entity as of end_ts (default now)", Request: MaterializeRequest{}, Response: MaterializeResult{}},
		"GET /v1/features/views":                  {Tag: feat, Summary: "Feature views with freshness and their pipeline", Response: []ViewInfo{}},
		"GET /v1/features/views/{name}":           {Tag: feat, Summary: "One feature view with freshness", Response: ViewInfo{}},
		"GET /v1/features/tables":                 {Tag: feat, Summary: "Offline tables with their columns and row counts", Response: []Table{}},
		"GET /v1/features/tables/{name}/rows":     {Tag: feat, Summary: "Rows of an offline table", Response: []map[string]any{}, Query: []openapi.Param{{Name: "limit", Description: "1 to 10000 (default 100)"}, {Name: "where", Description: "column=value"}, {Name: "order_by", Description: "column, newest first"}}},
		"POST /v1/features/historical":            {Tag: feat, Summary: "Start a point-in-time training set job (JSON, or CSV/Parquet entity rows with query parameters)", Request: HistoricalRequest{}, Response: Job{}, Status: "202", Query: []openapi.Param{{Name: "feature_service"}, {Name: "features", Description: "comma-separated view:feature"}, {Name: "timestamp_column"}, {Name: "format", Description: "parquet, arrow or csv"}, {Name: "full_feature_names"}}},
		"GET /v1/features/historical/{id}":        {Tag: feat, Summary: "A historical job", Response: Job{}},
		"GET /v1/features/historical/{id}/result": {Tag: feat, Summary: "Download a finished job's training set (Parquet or Arrow IPC stream)"},
	}
}

func (s *Server) wrap(fn func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			httpx.WriteError(w, r, s.Log, err)
		}
	}
}

func actor(r *http.Request) string {
	p, _ := auth.PrincipalFrom(r.Context())
	return p.Subject
}

func decode(r *http.Request, v any) error {
	body, err := httpx.ReadJSONBody(r)
	if err != nil {
		return err
	}
	return httpx.DecodeJSONBytes(body, v)
}

// ApplyRequest carries spec files.
type ApplyRequest struct {
	Documents []catalog.Document `json:"documents"`
}

func (s *Server) apply(w http.ResponseWriter, r *http.Request) error {
	var req ApplyRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	opts := catalog.Options{DryRun: r.URL.Query().Get("dry_run") == "true", Force: r.URL.Query().Get("force") == "true", Actor: actor(r)}
	res, err := s.Apply(r.Context(), req.Documents, opts)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, res)
	return nil
}

// Apply applies spec documents, validated against the offline store, and reloads.
func (s *Server) Apply(ctx context.Context, docs []catalog.Document, opts catalog.Options) (catalog.Result, error) {
	res, err := s.Catalog.Apply(ctx, docs, opts, s.Validate)
	if err != nil {
		return res, err
	}
	if !opts.DryRun {
		return res, s.Reload(ctx)
	}
	return res, nil
}

func (s *Server) deleteObject(w http.ResponseWriter, r *http.Request) error {
	opts := catalog.Options{DryRun: r.URL.Query().Get("dry_run") == "true", Force: r.URL.Query().Get("force") == "true", Actor: actor(r)}
	res, err := s.Catalog.Delete(r.Context(), r.PathValue("kind"), r.PathValue("name"), opts)
	if err != nil {
		return err
	}
	if !opts.DryRun {
		if err := s.Reload(r.Context()); err != nil {
			return err
		}
	}
	httpx.WriteJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) getCatalog(w http.ResponseWriter, _ *http.Request) error {
	httpx.WriteJSON(w, http.StatusOK, s.Snapshot())
	return nil
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) error {
	h, err := s.Catalog.History(r.Context(), r.PathValue("kind"), r.PathValue("name"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) getOnline(w http.ResponseWriter, r *http.Request) error {
	var req OnlineRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	resp, err := s.GetOnline(r.Context(), req)
	if err != nil {
		return err
	}
	body, err := resp.MarshalJSON()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(append(body, '\n'))
	return err
}

func (s *Server) push(w http.ResponseWriter, r *http.Request) error {
	var req PushRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	res, err := s.Push(r.Context(), req)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) materialize(w http.ResponseWriter, r *http.Request) error {
	var req MaterializeRequest
	if r.ContentLength != 0 {
		if err := decode(r, &req); err != nil {
			return err
		}
	}
	if strings.HasSuffix(r.URL.Path, "-incremental") {
		req.StartTS = nil
	}
	// Checked here, before a workflow is started for it.
	if _, err := materializedViews(s.Snapshot(), req.FeatureViews); err != nil {
		return err
	}
	if s.MaterializeVia != nil {
		res, err := s.MaterializeVia(r.Context(), req)
		if !errors.Is(err, ErrMaterializeDirect) {
			if err != nil {
				return err
			}
			httpx.WriteJSON(w, http.StatusOK, res)
			return nil
		}
	}
	res, err := s.Materialize(r.Context(), req)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, res)
	return nil
}

// ViewInfo is a view as listed, with its freshness and pipeline.
type ViewInfo struct {
	features.View
	Version   int       `json:"version"`
	Freshness Freshness `json:"freshness"`
	Pipeline  string    `json:"pipeline,omitempty"`
	// PipelineLag is how many messages (or files) the pipeline writing the view's table
	// has not ingested yet, as last measured.
	PipelineLag *int64 `json:"pipeline_lag,omitempty"`
}

func (s *Server) viewInfo(name string) (ViewInfo, bool) {
	v, ok := s.Snapshot().Views[name]
	if !ok {
		return ViewInfo{}, false
	}
	info := ViewInfo{View: v.Spec, Version: v.Version}
	s.mu.Lock()
	info.Freshness = s.fresh[name]
	s.mu.Unlock()
	if p, ok := s.Snapshot().PipelineFor(v.Spec.Source.Table); ok {
		info.Pipeline = p.Spec.Name
		if s.PipelineLag != nil {
			info.PipelineLag = s.PipelineLag(p.Spec.Name)
		}
	}
	return info, true
}

func (s *Server) listViews(w http.ResponseWriter, _ *http.Request) error {
	out := []ViewInfo{}
	for _, n := range sortedNames(s.Snapshot().Views) {
		info, _ := s.viewInfo(n)
		out = append(out, info)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getView(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	info, ok := s.viewInfo(name)
	if !ok {
		return platform.NotFound("feature view %s is not in the catalog", name)
	}
	if f, err := s.measure(r.Context(), info.View); err == nil { // asked for one: measure it now
		f.OnlineWritten = info.Freshness.OnlineWritten
		info.Freshness = f
	}
	httpx.WriteJSON(w, http.StatusOK, info)
	return nil
}

func (s *Server) submitHistorical(w http.ResponseWriter, r *http.Request) error {
	var req HistoricalRequest
	kind := InputJSON
	var body []byte // the request's bytes, which its idempotency key's hash covers
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json", "":
		var err error
		if body, err = httpx.ReadJSONBody(r); err != nil {
			return err
		}
		if err := httpx.DecodeJSONBytes(body, &req); err != nil {
			return err
		}
	case "text/csv", "application/vnd.apache.parquet", "application/x-parquet":
		kind = InputCSV
		if ct != "text/csv" {
			kind = InputParquet
		}
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return platform.Invalid("read the entity rows: %v", err)
		}
		q := r.URL.Query()
		req.FeatureService, req.TimestampColumn, req.Format = q.Get("feature_service"), q.Get("timestamp_column"), q.Get("format")
		if f := q.Get("features"); f != "" {
			req.Features = strings.Split(f, ",")
		}
		req.FullFeatureNames, _ = strconv.ParseBool(q.Get("full_feature_names"))
	default:
		return platform.Invalid("Content-Type %q: send application/json, text/csv or application/vnd.apache.parquet", ct)
	}
	key, err := historicalKey(r, body)
	if err != nil {
		return err
	}
	job, replayed, err := s.SubmitHistorical(r.Context(), req, kind, body, actor(r), key)
	if err != nil {
		return err
	}
	if replayed {
		w.Header().Set(idempotency.ReplayedHeader, "true")
	}
	w.Header().Set("Location", "/v1/features/historical/"+job.ID)
	httpx.WriteJSON(w, http.StatusAccepted, job)
	return nil
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) error {
	j, err := s.GetJob(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, j)
	return nil
}

func (s *Server) jobResult(w http.ResponseWriter, r *http.Request) error {
	rc, ct, err := s.JobResult(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	defer rc.Close()
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", `attachment; filename="training-set-`+r.PathValue("id")+extension(ct)+`"`)
	_, err = io.Copy(w, rc)
	if err != nil {
		s.Log.Warn("send training set", "error", err)
	}
	return nil
}

func extension(contentType string) string {
	switch {
	case strings.Contains(contentType, "arrow"):
		return ".arrows"
	case strings.Contains(contentType, "csv"):
		return ".csv"
	}
	return ".parquet"
}
