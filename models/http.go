package models

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"math"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/httpx"
	"github.com/codexion/codexion/platform/idempotency"
	"github.com/codexion/codexion/platform/openapi"
)

// Trainings starts and reports trainings (Temporal workflows, connected in app/).
type Trainings interface {
	// StartTraining starts the training of a declared model; the same training id is the
	// same training however often it is started.
	StartTraining(r *http.Request, model, trainingID, actor string) error
	// TrainingStatus reports a training.
	TrainingStatus(r *http.Request, model, trainingID string) (any, error)
}

// Handler serves Codexion's own model API: training declared models and reading versions
// with their lineage. MLflow's API (MLflow) serves the same registry to MLflow clients.
type Handler struct {
	store     *Store
	trainings Trainings
	log       *slog.Logger
}

// NewHandler returns the model API.
func NewHandler(store *Store, trainings Trainings, log *slog.Logger) *Handler {
	return &Handler{store: store, trainings: trainings, log: log}
}

// Routes registers the model API.
func (h *Handler) Routes(r *httpx.Router) {
	wrap := httpx.Adapter(httpx.Problems(h.log))
	read, write := httpx.Roles(mlReaders...), httpx.Roles(mlWriters...)
	r.HandleFunc("POST /v1/models/{name}/train", write, wrap(h.train))
	r.HandleFunc("GET /v1/models/{name}/trainings/{id}", read, wrap(h.training))
	r.HandleFunc("GET /v1/models", read, wrap(h.list))
	r.HandleFunc("GET /v1/models/{name}", read, wrap(h.get))
	r.HandleFunc("GET /v1/models/{name}/versions", read, wrap(h.versions))
	r.HandleFunc("GET /v1/models/{name}/versions/{version}", read, wrap(h.version))
	r.HandleFunc("POST /v1/models/{name}/versions/{version}/predict", httpx.Roles(mlScorers...), wrap(h.predict))
}

// OpenAPI describes the model API.
func (h *Handler) OpenAPI() map[string]openapi.Op {
	const tag = "models"
	return map[string]openapi.Op{
		"POST /v1/models/{name}/train": {Tag: tag, Summary: "Train a declared model (a TrainModel workflow; Idempotency-Key makes a retry the same training)",
			Response: TrainingStarted{}, Status: "202"},
		"GET /v1/models/{name}/trainings/{id}": {Tag: tag, Summary: "A training's state and, when it succeeded, the version it registered"},
		"GET /v1/models":                       {Tag: tag, Summary: "Registered models with their latest versions and aliases", Response: []RegisteredModel{}},
		"POST /v1/models/{name}/versions/{version}/predict": {Tag: tag, Summary: "Score rows with a version's model (Codexion trainers' models and XGBoost JSON models), read from its checksummed artifacts; MLflow's dataframe_split or dataframe_records",
			Request: PredictRequest{}, Response: PredictResponse{}},
		"GET /v1/models/{name}":                    {Tag: tag, Summary: "A registered model", Response: RegisteredModel{}},
		"GET /v1/models/{name}/versions":           {Tag: tag, Summary: "A model's versions, newest first", Response: []ModelVersion{}},
		"GET /v1/models/{name}/versions/{version}": {Tag: tag, Summary: "A version with its lineage: training set, SQL, trainer, parameters, signature, evaluation, card", Response: ModelVersion{}},
	}
}

// TrainingStarted is the answer to a train request.
type TrainingStarted struct {
	Model      string `json:"model"`
	TrainingID string `json:"training_id"`
	Status     string `json:"status"` // where to follow it
}

func (h *Handler) train(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if !validModelName.MatchString(name) {
		return invalidField("name", "model name %q: use lower-case letters, digits, '-' and '_'", truncate(name))
	}
	key, ok, err := idempotency.FromRequest(r, nil)
	if err != nil {
		return err
	}
	// A training's id comes from its idempotency key (scoped to the caller and route), so a
	// retried request finds the training the first one started.
	id := uuid.NewString()
	if ok {
		sum := sha256.Sum256([]byte(key.Scope + "\x00" + key.Value + "\x00" + name))
		id = hex.EncodeToString(sum[:16])
	}
	if err := h.trainings.StartTraining(r, name, id, caller(r)); err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusAccepted, TrainingStarted{Model: name, TrainingID: id, Status: "/v1/models/" + name + "/trainings/" + id})
	return nil
}

func (h *Handler) training(w http.ResponseWriter, r *http.Request) error {
	st, err := h.trainings.TrainingStatus(r, r.PathValue("name"), r.PathValue("id"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, st)
	return nil
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) error {
	out, _, err := h.store.SearchRegisteredModels(r.Context(), RegistrySearch{MaxResults: MaxRegisteredModelsPerPage})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"items": nonNil(out)})
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) error {
	m, err := h.store.GetRegisteredModel(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, m)
	return nil
}

func (h *Handler) versions(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if _, err := h.store.GetRegisteredModel(r.Context(), name); err != nil {
		return err
	}
	out, _, err := h.store.SearchModelVersions(r.Context(), RegistrySearch{Filter: "name = '" + strings.ReplaceAll(name, "'", "") + "'",
		OrderBy: []string{"version_number DESC"}, MaxResults: MaxRegisteredModelsPerPage})
	if err != nil {
		return err
	}
	for i := range out {
		v, err := h.store.GetModelVersion(r.Context(), name, out[i].Version)
		if err != nil {
			return err
		}
		out[i] = v
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"items": nonNil(out)})
	return nil
}

func (h *Handler) version(w http.ResponseWriter, r *http.Request) error {
	v, err := h.store.GetModelVersion(r.Context(), r.PathValue("name"), r.PathValue("version"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, v)
	return nil
}

// Bounds of one predict request: its rows, and the work of scoring them (a deep ensemble of
// many trees costs more a row than a linear model).
const (
	MaxPredictRows  = 10_000
	MaxPredictSteps = 500_000_000
)

// PredictRequest is MLflow's scoring input: columns and rows (dataframe_split), or one
// object per row (dataframe_records). A null is a missing value.
type PredictRequest struct {
	DataframeSplit *struct {
		Columns []string     `json:"columns"`
		Data    [][]*float64 `json:"data"`
	} `json:"dataframe_split,omitempty"`
	DataframeRecords []map[string]*float64 `json:"dataframe_records,omitempty"`
}

// PredictResponse is MLflow's scoring answer and which model answered.
type PredictResponse struct {
	Predictions []float64   `json:"predictions"`
	Model       LoadedModel `json:"model"`
}

func (h *Handler) predict(w http.ResponseWriter, r *http.Request) error {
	var req PredictRequest
	body, err := httpx.ReadJSONBody(r)
	if err != nil {
		return err
	}
	if err := httpx.DecodeJSONBytes(body, &req); err != nil {
		return err
	}
	loaded, err := h.store.LoadModel(r.Context(), r.PathValue("name"), r.PathValue("version"))
	if err != nil {
		return err
	}
	rows, err := predictRows(req, loaded.Model.Features)
	if err != nil {
		return err
	}
	if steps := loaded.Model.Steps(); len(rows)*steps > MaxPredictSteps {
		return invalidField("dataframe_split", "this model visits up to %d nodes a row; one request scores at most %d of its rows", steps, MaxPredictSteps/steps)
	}
	out, err := loaded.Model.PredictAll(rows)
	if err != nil {
		return platform.Invalid("%v", err)
	}
	httpx.WriteJSON(w, http.StatusOK, PredictResponse{Predictions: nonNil(out), Model: loaded})
	return nil
}

// predictRows orders the request's values as the model's features, by name.
func predictRows(req PredictRequest, features []string) ([][]float64, error) {
	val := func(v *float64) float64 {
		if v == nil {
			return math.NaN()
		}
		return *v
	}
	switch {
	case req.DataframeSplit != nil && req.DataframeRecords != nil:
		return nil, invalidField("dataframe_split", "send dataframe_split or dataframe_records, not both")
	case req.DataframeSplit != nil:
		ds := req.DataframeSplit
		if len(ds.Data) > MaxPredictRows {
			return nil, invalidField("dataframe_split.data", "%d rows; one request scores at most %d", len(ds.Data), MaxPredictRows)
		}
		at := map[string]int{}
		for i, c := range ds.Columns {
			at[c] = i
		}
		idx := make([]int, len(features))
		for j, f := range features {
			i, ok := at[f]
			if !ok {
				return nil, invalidField("dataframe_split.columns", "the model needs column %q (it reads %s)", f, strings.Join(features, ", "))
			}
			idx[j] = i
		}
		rows := make([][]float64, len(ds.Data))
		for n, raw := range ds.Data {
			if len(raw) != len(ds.Columns) {
				return nil, invalidField("dataframe_split.data", "row %d has %d values for %d columns", n, len(raw), len(ds.Columns))
			}
			rows[n] = make([]float64, len(features))
			for j, i := range idx {
				rows[n][j] = val(raw[i])
			}
		}
		return rows, nil
	case req.DataframeRecords != nil:
		if len(req.DataframeRecords) > MaxPredictRows {
			return nil, invalidField("dataframe_records", "%d rows; one request scores at most %d", len(req.DataframeRecords), MaxPredictRows)
		}
		rows := make([][]float64, len(req.DataframeRecords))
		for n, rec := range req.DataframeRecords {
			rows[n] = make([]float64, len(features))
			for j, f := range features {
				v, ok := rec[f]
				if !ok {
					return nil, invalidField("dataframe_records", "row %d has no %q (the model reads %s)", n, f, strings.Join(features, ", "))
				}
				rows[n][j] = val(v)
			}
		}
		return rows, nil
	}
	return nil, invalidField("dataframe_split", "send the rows as dataframe_split {columns, data} or dataframe_records [{column: value}]")
}
