package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

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

// Pipelines is what the feature routes ask of the pipeline orchestrator: the lag of the
// pipeline that writes a view's table, and materializations run as workflows.
type Pipelines interface {
	Lag(pipeline string) *int64
	// MaterializeNow runs a materialization elsewhere, or answers
	// features.ErrMaterializeDirect for one the feature store runs in the request.
	MaterializeNow(ctx context.Context, req features.MaterializeRequest) (features.MaterializeResult, error)
}

// Handler serves the feature store's HTTP routes over its parts.
type Handler struct {
	srv       *Server
	pipelines Pipelines
	log       *slog.Logger
	wrap      func(httpx.HandlerFunc) http.HandlerFunc
}

// NewHandler returns the feature routes over srv; pipelines may be nil (no orchestrator:
// materializations run in the request and views list no lag).
func NewHandler(srv *Server, pipelines Pipelines, log *slog.Logger) *Handler {
	return &Handler{srv: srv, pipelines: pipelines, log: log, wrap: httpx.Adapter(httpx.Problems(log))}
}

// Routes registers the feature routes: Feast's (/get-online-features, /push,
// /materialize, /materialize-incremental) and Codexion's own under /v1.
func (h *Handler) Routes(r *httpx.Router) {
	r.HandleFunc("POST /get-online-features", lookups.HighVolume(), h.wrap(h.getOnline))
	r.HandleFunc("POST /push", engineers, h.wrap(h.push))
	r.HandleFunc("POST /materialize", engineers, h.wrap(h.materialize))
	r.HandleFunc("POST /materialize-incremental", engineers, h.wrap(h.materialize))
	r.HandleFunc("GET /v1/features/views", featureReaders, h.wrap(h.listViews))
	r.HandleFunc("GET /v1/features/views/{name}", featureReaders, h.wrap(h.getView))
	r.HandleFunc("GET /v1/features/tables", featureReaders, h.wrap(h.listTables))
	r.HandleFunc("GET /v1/features/tables/{name}/rows", lookups, h.wrap(h.tableRows))
	r.HandleFunc("POST /v1/features/historical", lookups, h.wrap(h.submitHistorical))
	r.HandleFunc("GET /v1/features/historical/{id}", lookups, h.wrap(h.getJob))
	r.HandleFunc("GET /v1/features/historical/{id}/result", lookups, h.wrap(h.jobResult))
}

// OpenAPI describes the routes.
func (h *Handler) OpenAPI() map[string]openapi.Op {
	const feat = "features"
	return map[string]openapi.Op{
		"POST /get-online-features":               {Tag: feat, Summary: "Feast-compatible online lookup", Request: features.OnlineRequest{}, Response: features.OnlineResponse{}},
		"POST /push":                              {Tag: feat, Summary: "Feast-compatible push of source rows (kept offline, refreshed online)", Request: features.PushRequest{}, Response: features.PushResult{}},
		"POST /materialize":                       {Tag: feat, Summary: "Feast-compatible materialization into the online store", Request: features.MaterializeRequest{}, Response: features.MaterializeResult{}},
		"POST /materialize-incremental":           {Tag: feat, Summary: "Materialize every entity as of end_ts (default now)", Request: features.MaterializeRequest{}, Response: features.MaterializeResult{}},
		"GET /v1/features/views":                  {Tag: feat, Summary: "Feature views with freshness and their pipeline", Response: []ViewInfo{}},
		"GET /v1/features/views/{name}":           {Tag: feat, Summary: "One feature view with freshness", Response: ViewInfo{}},
		"GET /v1/features/tables":                 {Tag: feat, Summary: "Offline tables with their columns and row counts", Response: []Table{}},
		"GET /v1/features/tables/{name}/rows":     {Tag: feat, Summary: "Rows of an offline table", Response: []map[string]any{}, Query: []openapi.Param{{Name: "limit", Description: "1 to 10000 (default 100)"}, {Name: "where", Description: "column=value"}, {Name: "order_by", Description: "column, newest first"}}},
		"POST /v1/features/historical":            {Tag: feat, Summary: "Start a point-in-time training set job (JSON, or CSV/Parquet entity rows with query parameters)", Request: HistoricalRequest{}, Response: Job{}, Status: "202", Query: []openapi.Param{{Name: "feature_service"}, {Name: "features", Description: "comma-separated view:feature"}, {Name: "timestamp_column"}, {Name: "format", Description: "parquet, arrow or csv"}, {Name: "full_feature_names"}}},
		"GET /v1/features/historical/{id}":        {Tag: feat, Summary: "A historical job", Response: Job{}},
		"GET /v1/features/historical/{id}/result": {Tag: feat, Summary: "Download a finished job's training set (Parquet or Arrow IPC stream)"},
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

func (h *Handler) getOnline(w http.ResponseWriter, r *http.Request) error {
	var req features.OnlineRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	resp, err := h.srv.Online().GetOnline(r.Context(), req)
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

func (h *Handler) push(w http.ResponseWriter, r *http.Request) error {
	var req features.PushRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	res, err := h.srv.Online().Push(r.Context(), req)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, res)
	return nil
}

func (h *Handler) materialize(w http.ResponseWriter, r *http.Request) error {
	var req features.MaterializeRequest
	if r.ContentLength != 0 {
		if err := decode(r, &req); err != nil {
			return err
		}
	}
	if strings.HasSuffix(r.URL.Path, "-incremental") {
		req.StartTS = nil
	}
	// Checked here, before a workflow is started for it.
	if _, err := materializedViews(h.srv.Snapshot(), req.FeatureViews); err != nil {
		return err
	}
	if h.pipelines != nil {
		res, err := h.pipelines.MaterializeNow(r.Context(), req)
		if !errors.Is(err, features.ErrMaterializeDirect) {
			if err != nil {
				return err
			}
			httpx.WriteJSON(w, http.StatusOK, res)
			return nil
		}
	}
	res, err := h.srv.Online().Materialize(r.Context(), req)
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

func (h *Handler) viewInfo(name string) (ViewInfo, bool) {
	snap := h.srv.Snapshot()
	v, ok := snap.Views[name]
	if !ok {
		return ViewInfo{}, false
	}
	info := ViewInfo{View: v.Spec, Version: v.Version, Freshness: h.srv.Freshness(name)}
	if p, ok := snap.PipelineFor(v.Spec.Source.Table); ok {
		info.Pipeline = p.Spec.Name
		if h.pipelines != nil {
			info.PipelineLag = h.pipelines.Lag(p.Spec.Name)
		}
	}
	return info, true
}

func (h *Handler) listViews(w http.ResponseWriter, _ *http.Request) error {
	out := []ViewInfo{}
	for _, n := range sortedNames(h.srv.Snapshot().Views) {
		info, _ := h.viewInfo(n)
		out = append(out, info)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) getView(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	info, ok := h.viewInfo(name)
	if !ok {
		return platform.NotFound("feature view %s is not in the catalog", name)
	}
	if f, err := h.srv.measure(r.Context(), info.View); err == nil { // asked for one: measure it now
		f.OnlineWritten = info.Freshness.OnlineWritten
		info.Freshness = f
	}
	httpx.WriteJSON(w, http.StatusOK, info)
	return nil
}

func (h *Handler) submitHistorical(w http.ResponseWriter, r *http.Request) error {
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
	job, replayed, err := h.srv.TrainingSets().Submit(r.Context(), req, kind, body, actor(r), key)
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

func (h *Handler) getJob(w http.ResponseWriter, r *http.Request) error {
	j, err := h.srv.TrainingSets().Job(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, j)
	return nil
}

func (h *Handler) jobResult(w http.ResponseWriter, r *http.Request) error {
	rc, ct, err := h.srv.TrainingSets().Result(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	defer rc.Close()
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", `attachment; filename="training-set-`+r.PathValue("id")+extension(ct)+`"`)
	_, err = io.Copy(w, rc)
	if err != nil {
		h.log.Warn("send training set", "error", err)
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
