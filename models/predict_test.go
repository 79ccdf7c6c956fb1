package models_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
	"testing"
)

// putArtifact uploads through MLflow's artifact proxy as an MLflow client does.
func (a *mlflowAPI) putArtifact(p string, body []byte) {
	a.t.Helper()
	req, _ := http.NewRequest(http.MethodPut, a.srv.URL+"/api/2.0/mlflow-artifacts/artifacts/"+p, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		a.t.Fatalf("PUT %s: %d", p, resp.StatusCode)
	}
}

// postJSON sends a body to Codexion's own API and decodes the answer.
func (a *mlflowAPI) postJSON(path string, body any) (int, map[string]any) {
	a.t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, a.srv.URL+path, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	out, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(out, &m)
	return resp.StatusCode, m
}

// registerXGBoost logs a run with an XGBoost model as mlflow.xgboost.log_model does
// (MLmodel with the xgboost flavor, the model file beside it) and registers it.
func (a *mlflowAPI) registerXGBoost(name, mlmodel string, file []byte) string {
	a.t.Helper()
	run := a.ok("POST", api+"/runs/create", map[string]any{"experiment_id": "0", "start_time": 1})
	runID := dig(run, "run", "info", "run_id").(string)
	root := strings.TrimPrefix(dig(run, "run", "info", "artifact_uri").(string), "mlflow-artifacts:/")
	a.putArtifact(root+"/model/MLmodel", []byte(mlmodel))
	a.putArtifact(root+"/model/model.xgb", file)
	if status, _ := a.call(a.token, "POST", api+"/registered-models/create", map[string]any{"name": name}); status != 200 && status != 400 {
		a.t.Fatalf("create %s: %d", name, status)
	}
	v := a.ok("POST", api+"/model-versions/create", map[string]any{"name": name, "source": "runs:/" + runID + "/model", "run_id": runID})
	return dig(v, "model_version", "version").(string)
}

const xgbMLmodel = `artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.xgboost
    data: model.xgb
  xgboost:
    code: null
    data: model.xgb
    model_class: xgboost.core.Booster
    model_format: %s
    xgb_version: 1.7.4
mlflow_version: 2.9.2
`

func TestAnXGBoostModelLoggedByMLflowScoresAsXGBoost(t *testing.T) {
	a := newMLflowAPI(t)
	file, err := os.ReadFile("train/testdata/xgboost_binary.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("train/testdata/xgboost_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Features    []string     `json:"features"`
		Rows        [][]*float64 `json:"rows"`
		Probability []float64    `json:"binary_probability"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	v := a.registerXGBoost("risk-xgb", strings.Replace(xgbMLmodel, "%s", "json", 1), file)
	// Columns in another order than the model's: they are matched by name; nulls are missing.
	cols := append([]string{"extra"}, ref.Features...)
	cols[1], cols[2] = cols[2], cols[1]
	data := make([][]*float64, len(ref.Rows))
	for i, r := range ref.Rows {
		row := append([]*float64{nil}, r...)
		row[1], row[2] = row[2], row[1]
		data[i] = row
	}
	status, out := a.postJSON("/v1/models/risk-xgb/versions/"+v+"/predict", map[string]any{"dataframe_split": map[string]any{"columns": cols, "data": data}})
	if status != 200 {
		t.Fatalf("predict: %d %v", status, out)
	}
	preds := out["predictions"].([]any)
	if len(preds) != len(ref.Probability) || dig(out, "model", "flavor") != "xgboost" || dig(out, "model", "sha256") == "" {
		t.Fatalf("answer: %d predictions, model %v", len(preds), out["model"])
	}
	for i, p := range preds {
		if math.Abs(p.(float64)-ref.Probability[i]) > 1e-6 {
			t.Fatalf("row %d: %v, XGBoost %v", i, p, ref.Probability[i])
		}
	}
	// dataframe_records, and a missing column named.
	rec := map[string]any{}
	for j, f := range ref.Features {
		rec[f] = ref.Rows[0][j]
	}
	if status, out := a.postJSON("/v1/models/risk-xgb/versions/"+v+"/predict", map[string]any{"dataframe_records": []any{rec}}); status != 200 ||
		math.Abs(dig(out, "predictions", 0).(float64)-ref.Probability[0]) > 1e-6 {
		t.Fatalf("records: %d %v", status, out)
	}
	delete(rec, "hour")
	if status, out := a.postJSON("/v1/models/risk-xgb/versions/"+v+"/predict", map[string]any{"dataframe_records": []any{rec}}); status != 400 ||
		!strings.Contains(out["detail"].(string), `"hour"`) {
		t.Fatalf("a missing column: %d %v", status, out)
	}
	// A model saved in XGBoost's binary format is refused saying how to save it.
	bin := a.registerXGBoost("risk-ubj", strings.Replace(xgbMLmodel, "%s", "ubj", 1), []byte("{\x00binary"))
	if status, out := a.postJSON("/v1/models/risk-ubj/versions/"+bin+"/predict", map[string]any{"dataframe_records": []any{}}); status != 400 ||
		out["code"] != "model_not_scorable" || !strings.Contains(out["detail"].(string), `model_format="json"`) {
		t.Fatalf("ubj: %d %v", status, out)
	}
	// An MLmodel that names a file outside its model's folder is refused, whatever the spelling.
	for i, data := range []string{"../../../other/model.xgb", "/etc/passwd", "..", "sub/../../model.xgb"} {
		name := fmt.Sprintf("risk-escape-%d", i)
		v := a.registerXGBoost(name, strings.Replace(strings.Replace(xgbMLmodel, "%s", "json", 1), "data: model.xgb\n    model_class", "data: "+data+"\n    model_class", 1), file)
		if status, out := a.postJSON("/v1/models/"+name+"/versions/"+v+"/predict", map[string]any{"dataframe_records": []any{}}); status != 400 ||
			out["code"] != "model_not_scorable" || !strings.Contains(out["detail"].(string), "outside the model's folder") {
			t.Errorf("data %q: %d %v", data, status, out)
		}
	}
	// A model file changed in storage behind Codexion's back does not load.
	run := a.ok("GET", api+"/model-versions/get-download-uri", map[string]any{"name": "risk-xgb", "version": v})
	key := "artifacts/" + strings.TrimPrefix(run["artifact_uri"].(string), "mlflow-artifacts:/") + "/model.xgb"
	tampered := bytes.Replace(file, []byte(`"base_score":"5E-1"`), []byte(`"base_score":"9E-1"`), 1)
	if bytes.Equal(tampered, file) {
		t.Fatal("the edit did not apply")
	}
	if _, err := a.bucket.Put(context.Background(), key, bytes.NewReader(tampered), int64(len(tampered)), "application/json"); err != nil {
		t.Fatal(err)
	}
	if status, out := a.postJSON("/v1/models/risk-xgb/versions/"+v+"/predict", map[string]any{"dataframe_records": []any{}}); status != 409 || out["code"] != "artifact_tampered" {
		t.Fatalf("tampered: %d %v", status, out)
	}
	// A compliance reader may read the registry but not run models.
	a.token = a.srv.Tokens["compliance"]
	if status, _ := a.postJSON("/v1/models/risk-xgb/versions/"+v+"/predict", map[string]any{"dataframe_records": []any{}}); status != 403 {
		t.Fatalf("compliance scoring: %d", status)
	}
}
