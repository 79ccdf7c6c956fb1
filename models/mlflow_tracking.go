package models

import (
	"math"
	"net/http"

	"github.com/codexion/codexion/platform/httpx"
)

// trackingRoutes registers MLflow's experiment, run and metric endpoints.
func (h *MLflow) trackingRoutes(r *httpx.Router) {
	h.route(r, "POST", "/experiments/create", mlWriters, "Create an experiment", h.createExperiment)
	h.route(r, "GET", "/experiments/get", mlReaders, "Get an experiment by id", h.getExperiment)
	h.route(r, "GET", "/experiments/get-by-name", mlReaders, "Get an experiment by name", h.getExperimentByName)
	h.route(r, "POST", "/experiments/search", mlReaders, "Search experiments (filter, order_by, pages)", h.searchExperiments)
	h.route(r, "GET", "/experiments/search", mlReaders, "Search experiments (filter, order_by, pages)", h.searchExperiments)
	h.route(r, "POST", "/experiments/update", mlWriters, "Rename an experiment", h.updateExperiment)
	h.route(r, "POST", "/experiments/delete", mlWriters, "Delete an experiment and its runs", h.deleteExperiment)
	h.route(r, "POST", "/experiments/restore", mlWriters, "Restore a deleted experiment and its runs", h.restoreExperiment)
	h.route(r, "POST", "/experiments/set-experiment-tag", mlWriters, "Set an experiment tag", h.setExperimentTag)
	h.route(r, "POST", "/experiments/delete-experiment-tag", mlWriters, "Delete an experiment tag", h.deleteExperimentTag)

	h.route(r, "POST", "/runs/create", mlWriters, "Start a run", h.createRun)
	h.route(r, "GET", "/runs/get", mlReaders, "Get a run with its latest metrics, params, tags and inputs", h.getRun)
	h.route(r, "POST", "/runs/update", mlWriters, "Set a run's status, end time or name", h.updateRun)
	h.route(r, "POST", "/runs/delete", mlWriters, "Delete a run", h.deleteRun)
	h.route(r, "POST", "/runs/restore", mlWriters, "Restore a deleted run", h.restoreRun)
	h.route(r, "POST", "/runs/search", mlReaders, "Search runs (metrics., params., tags., attributes., datasets.)", h.searchRuns)
	h.route(r, "POST", "/runs/log-metric", mlWriters, "Log a metric point", h.logMetric)
	h.route(r, "POST", "/runs/log-parameter", mlWriters, "Log a parameter (never changes once logged)", h.logParam)
	h.route(r, "POST", "/runs/set-tag", mlWriters, "Set a run tag", h.setTag)
	h.route(r, "POST", "/runs/delete-tag", mlWriters, "Delete a run tag", h.deleteTag)
	h.route(r, "POST", "/runs/log-batch", mlWriters, "Log metrics, params and tags at once (MLflow's limits; all or nothing)", h.logBatch)
	h.route(r, "POST", "/runs/log-inputs", mlWriters, "Record the datasets and models a run read", h.logInputs)
	h.route(r, "POST", "/runs/outputs", mlWriters, "Record the logged models a run produced", h.logOutputs)
	h.route(r, "GET", "/metrics/get-history", mlReaders, "Every point of one metric", h.metricHistory)
}

type wireTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func tagsOf(in []wireTag) []Tag {
	out := make([]Tag, len(in))
	for i, t := range in {
		out[i] = Tag(t)
	}
	return out
}

func (h *MLflow) createExperiment(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name             string    `json:"name"`
		ArtifactLocation string    `json:"artifact_location"`
		Tags             []wireTag `json:"tags"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := required("name", req.Name); err != nil {
		return err
	}
	id, err := h.store.CreateExperiment(r.Context(), req.Name, req.ArtifactLocation, tagsOf(req.Tags))
	if err != nil {
		return err
	}
	return reply(w, map[string]string{"experiment_id": id})
}

type experimentRef struct {
	ExperimentID flexString `json:"experiment_id"`
}

func (h *MLflow) getExperiment(w http.ResponseWriter, r *http.Request) error {
	var req experimentRef
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := required("experiment_id", string(req.ExperimentID)); err != nil {
		return err
	}
	e, err := h.store.GetExperiment(r.Context(), string(req.ExperimentID))
	if err != nil {
		return err
	}
	return reply(w, map[string]Experiment{"experiment": e})
}

func (h *MLflow) getExperimentByName(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name string `json:"experiment_name"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := required("experiment_name", req.Name); err != nil {
		return err
	}
	e, err := h.store.GetExperimentByName(r.Context(), req.Name)
	if err != nil {
		return err
	}
	return reply(w, map[string]Experiment{"experiment": e})
}

func (h *MLflow) searchExperiments(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		MaxResults flexInt    `json:"max_results"`
		PageToken  string     `json:"page_token"`
		Filter     string     `json:"filter"`
		OrderBy    flexList   `json:"order_by"`
		ViewType   flexString `json:"view_type"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	exps, next, err := h.store.SearchExperiments(r.Context(), ExperimentSearch{Filter: req.Filter, ViewType: string(req.ViewType),
		MaxResults: int(min(max(req.MaxResults, -1), math.MaxInt32)), OrderBy: req.OrderBy, PageToken: req.PageToken})
	if err != nil {
		return err
	}
	return reply(w, struct {
		Experiments   []Experiment `json:"experiments,omitempty"`
		NextPageToken string       `json:"next_page_token,omitempty"`
	}{exps, next})
}

func (h *MLflow) updateExperiment(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ExperimentID flexString `json:"experiment_id"`
		NewName      string     `json:"new_name"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := required("experiment_id", string(req.ExperimentID)); err != nil {
		return err
	}
	if err := required("new_name", req.NewName); err != nil {
		return err
	}
	if err := h.store.UpdateExperiment(r.Context(), string(req.ExperimentID), req.NewName); err != nil {
		return err
	}
	return ok(w)
}

func (h *MLflow) experimentLifecycle(w http.ResponseWriter, r *http.Request, restore bool) error {
	var req experimentRef
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := required("experiment_id", string(req.ExperimentID)); err != nil {
		return err
	}
	change := h.store.DeleteExperiment
	if restore {
		change = h.store.RestoreExperiment
	}
	if err := change(r.Context(), string(req.ExperimentID)); err != nil {
		return err
	}
	return ok(w)
}

func (h *MLflow) deleteExperiment(w http.ResponseWriter, r *http.Request) error {
	return h.experimentLifecycle(w, r, false)
}

func (h *MLflow) restoreExperiment(w http.ResponseWriter, r *http.Request) error {
	return h.experimentLifecycle(w, r, true)
}

func (h *MLflow) setExperimentTag(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ExperimentID flexString `json:"experiment_id"`
		Key          string     `json:"key"`
		Value        string     `json:"value"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := required("experiment_id", string(req.ExperimentID)); err != nil {
		return err
	}
	if err := required("key", req.Key); err != nil {
		return err
	}
	if err := h.store.SetExperimentTag(r.Context(), string(req.ExperimentID), req.Key, req.Value); err != nil {
		return err
	}
	return ok(w)
}

func (h *MLflow) deleteExperimentTag(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ExperimentID flexString `json:"experiment_id"`
		Key          string     `json:"key"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := required("experiment_id", string(req.ExperimentID)); err != nil {
		return err
	}
	if err := required("key", req.Key); err != nil {
		return err
	}
	if err := h.store.DeleteExperimentTag(r.Context(), string(req.ExperimentID), req.Key); err != nil {
		return err
	}
	return ok(w)
}

func (h *MLflow) createRun(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ExperimentID flexString `json:"experiment_id"`
		RunName      string     `json:"run_name"`
		StartTime    flexInt    `json:"start_time"`
		Tags         []wireTag  `json:"tags"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	if req.ExperimentID == "" {
		req.ExperimentID = "0" // MLflow logs to the Default experiment when none is named
	}
	run, err := h.store.CreateRun(r.Context(), NewRun{ExperimentID: string(req.ExperimentID), UserID: caller(r),
		RunName: req.RunName, StartTime: int64(req.StartTime), Tags: tagsOf(req.Tags)})
	if err != nil {
		return err
	}
	return reply(w, map[string]Run{"run": run})
}

// runRef is a run named by run_id or, from older clients, run_uuid.
type runRef struct {
	RunID   string `json:"run_id"`
	RunUUID string `json:"run_uuid"`
}

func (rr runRef) id() (string, error) {
	id := rr.RunID
	if id == "" {
		id = rr.RunUUID
	}
	return id, required("run_id", id)
}

func (h *MLflow) getRun(w http.ResponseWriter, r *http.Request) error {
	var req runRef
	if err := bind(r, &req); err != nil {
		return err
	}
	id, err := req.id()
	if err != nil {
		return err
	}
	run, err := h.store.GetRun(r.Context(), id)
	if err != nil {
		return err
	}
	return reply(w, map[string]Run{"run": run})
}

// runStatusNames are RunStatus's numbers, which clients may send instead of names.
var runStatusNames = map[string]string{"1": RunRunning, "2": RunScheduled, "3": RunFinished, "4": RunFailed, "5": RunKilled}

func (h *MLflow) updateRun(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		runRef
		Status  flexString `json:"status"`
		EndTime *flexInt   `json:"end_time"`
		RunName string     `json:"run_name"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	id, err := req.id()
	if err != nil {
		return err
	}
	status := string(req.Status)
	if name, ok := runStatusNames[status]; ok {
		status = name
	}
	u := RunUpdate{Status: status, RunName: req.RunName}
	if req.EndTime != nil {
		end := int64(*req.EndTime)
		u.EndTime = &end
	}
	info, err := h.store.UpdateRun(r.Context(), id, u)
	if err != nil {
		return err
	}
	return reply(w, map[string]RunInfo{"run_info": info})
}

func (h *MLflow) runLifecycle(w http.ResponseWriter, r *http.Request, restore bool) error {
	var req runRef
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := required("run_id", req.RunID); err != nil {
		return err
	}
	change := h.store.DeleteRun
	if restore {
		change = h.store.RestoreRun
	}
	if err := change(r.Context(), req.RunID); err != nil {
		return err
	}
	return ok(w)
}

func (h *MLflow) deleteRun(w http.ResponseWriter, r *http.Request) error {
	return h.runLifecycle(w, r, false)
}

func (h *MLflow) restoreRun(w http.ResponseWriter, r *http.Request) error {
	return h.runLifecycle(w, r, true)
}

func (h *MLflow) searchRuns(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ExperimentIDs flexList   `json:"experiment_ids"`
		Filter        string     `json:"filter"`
		RunViewType   flexString `json:"run_view_type"`
		MaxResults    flexInt    `json:"max_results"`
		OrderBy       flexList   `json:"order_by"`
		PageToken     string     `json:"page_token"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	runs, next, err := h.store.SearchRuns(r.Context(), RunSearch{ExperimentIDs: req.ExperimentIDs, Filter: req.Filter,
		ViewType: string(req.RunViewType), MaxResults: int(min(max(req.MaxResults, -1), math.MaxInt32)), OrderBy: req.OrderBy, PageToken: req.PageToken})
	if err != nil {
		return err
	}
	return reply(w, struct {
		Runs          []Run  `json:"runs,omitempty"`
		NextPageToken string `json:"next_page_token,omitempty"`
	}{runs, next})
}

// wireMetric is a metric as clients send it: timestamp is required, value may be a string.
type wireMetric struct {
	Key           string   `json:"key"`
	Value         *Float   `json:"value"`
	Timestamp     *flexInt `json:"timestamp"`
	Step          flexInt  `json:"step"`
	ModelID       string   `json:"model_id"`
	DatasetName   string   `json:"dataset_name"`
	DatasetDigest string   `json:"dataset_digest"`
}

func (m wireMetric) metric(field string) (Metric, error) {
	if err := required(field+"key", m.Key); err != nil {
		return Metric{}, err
	}
	if m.Value == nil {
		return Metric{}, required(field+"value", "")
	}
	if m.Timestamp == nil {
		return Metric{}, required(field+"timestamp", "")
	}
	return Metric{Key: m.Key, Value: *m.Value, Timestamp: int64(*m.Timestamp), Step: int64(m.Step),
		ModelID: m.ModelID, DatasetName: m.DatasetName, DatasetDigest: m.DatasetDigest}, nil
}

func (h *MLflow) logMetric(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		runRef
		wireMetric
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	id, err := req.id()
	if err != nil {
		return err
	}
	m, err := req.metric("")
	if err != nil {
		return err
	}
	if err := h.store.LogBatch(r.Context(), id, Batch{Metrics: []Metric{m}}); err != nil {
		return err
	}
	return ok(w)
}

func (h *MLflow) logParam(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		runRef
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	id, err := req.id()
	if err != nil {
		return err
	}
	if err := required("key", req.Key); err != nil {
		return err
	}
	if err := h.store.LogBatch(r.Context(), id, Batch{Params: []Param{{Key: req.Key, Value: req.Value}}}); err != nil {
		return err
	}
	return ok(w)
}

func (h *MLflow) setTag(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		runRef
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	id, err := req.id()
	if err != nil {
		return err
	}
	if err := required("key", req.Key); err != nil {
		return err
	}
	if err := h.store.LogBatch(r.Context(), id, Batch{Tags: []Tag{{Key: req.Key, Value: req.Value}}}); err != nil {
		return err
	}
	return ok(w)
}

func (h *MLflow) deleteTag(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID string `json:"run_id"`
		Key   string `json:"key"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	if err := required("run_id", req.RunID); err != nil {
		return err
	}
	if err := required("key", req.Key); err != nil {
		return err
	}
	if err := h.store.DeleteTag(r.Context(), req.RunID, req.Key); err != nil {
		return err
	}
	return ok(w)
}

func (h *MLflow) logBatch(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		runRef
		Metrics []wireMetric `json:"metrics"`
		Params  []wireTag    `json:"params"`
		Tags    []wireTag    `json:"tags"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	id, err := req.id()
	if err != nil {
		return err
	}
	if len(req.Metrics) > MaxMetricsPerBatch {
		return checkBatch(Batch{Metrics: make([]Metric, len(req.Metrics))})
	}
	b := Batch{Metrics: make([]Metric, len(req.Metrics)), Params: make([]Param, len(req.Params)), Tags: tagsOf(req.Tags)}
	for i, wm := range req.Metrics {
		if b.Metrics[i], err = wm.metric("metrics[" + itoa(i) + "]."); err != nil {
			return err
		}
	}
	for i, p := range req.Params {
		if err := required("params["+itoa(i)+"].key", p.Key); err != nil {
			return err
		}
		b.Params[i] = Param(p)
	}
	for i, t := range req.Tags {
		if err := required("tags["+itoa(i)+"].key", t.Key); err != nil {
			return err
		}
	}
	if err := h.store.LogBatch(r.Context(), id, b); err != nil {
		return err
	}
	return ok(w)
}

func (h *MLflow) metricHistory(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		runRef
		MetricKey  string  `json:"metric_key"`
		PageToken  string  `json:"page_token"`
		MaxResults flexInt `json:"max_results"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	id, err := req.id()
	if err != nil {
		return err
	}
	if err := required("metric_key", req.MetricKey); err != nil {
		return err
	}
	limit := int(req.MaxResults)
	if limit <= 0 || limit > MaxHistoryPoints {
		limit = MaxHistoryPoints
	}
	offset, err := decodePageToken(req.PageToken)
	if err != nil {
		return err
	}
	points, more, err := h.store.MetricHistory(r.Context(), id, req.MetricKey, offset, limit)
	if err != nil {
		return err
	}
	next := ""
	if more {
		next = encodePageToken(offset + limit)
	}
	return reply(w, struct {
		Metrics       []Metric `json:"metrics,omitempty"`
		NextPageToken string   `json:"next_page_token,omitempty"`
	}{points, next})
}

func (h *MLflow) logInputs(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		runRef
		Datasets []DatasetInput `json:"datasets"`
		Models   []ModelInput   `json:"models"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	id, err := req.id()
	if err != nil {
		return err
	}
	if err := h.store.LogInputs(r.Context(), id, req.Datasets, req.Models); err != nil {
		return err
	}
	return ok(w)
}

func (h *MLflow) logOutputs(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		runRef
		Models []struct {
			ModelID string  `json:"model_id"`
			Step    flexInt `json:"step"`
		} `json:"models"`
	}
	if err := bind(r, &req); err != nil {
		return err
	}
	id, err := req.id()
	if err != nil {
		return err
	}
	outs := make([]ModelOutput, len(req.Models))
	for i, m := range req.Models {
		outs[i] = ModelOutput{ModelID: m.ModelID, Step: int64(m.Step)}
	}
	if err := h.store.LogOutputs(r.Context(), id, outs); err != nil {
		return err
	}
	return ok(w)
}
