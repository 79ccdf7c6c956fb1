package models_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/codexion/codexion/app/devstack"
	"github.com/codexion/codexion/connectors/objectstore"
	"github.com/codexion/codexion/governance/access"
	"github.com/codexion/codexion/internal/apitest"
	"github.com/codexion/codexion/models"
	"github.com/codexion/codexion/platform/httpx"
	"github.com/codexion/codexion/platform/postgres"
)

// mlflowAPI serves MLflow's APIs over a fresh database and object store, through the real
// platform chain with real tokens, as an MLflow client pointed at Codexion would see them.
type mlflowAPI struct {
	t      testing.TB
	srv    *apitest.Server
	token  string
	store  *models.Store
	bucket *objectstore.Store
}

func newMLflowAPI(t testing.TB) *mlflowAPI {
	t.Helper()
	objSrv := &devstack.ObjectServer{Addr: "127.0.0.1:0", Dir: t.TempDir()}
	if err := objSrv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = objSrv.Stop(context.Background()) })
	objects, err := objectstore.Open(objectstore.Options{Endpoint: objSrv.Addr, AccessKey: devstack.DevS3AccessKey,
		SecretKey: devstack.DevS3SecretKey, Bucket: "codexion", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := objects.EnsureBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	a := &mlflowAPI{t: t, bucket: objects}
	a.srv = apitest.Start(t, 1<<20, []postgres.Source{models.Migrations()}, func(r *httpx.Router, db *postgres.Pool, log *slog.Logger) {
		a.store = models.NewStore(db.Pool, objects)
		models.NewMLflow(a.store, log).Routes(r)
		models.NewHandler(a.store, nil, log).Routes(r)
	})
	a.token = a.srv.Tokens[access.RoleMLEngineer]
	return a
}

// call sends a request as MLflow's Python client does: GET fields in the query string,
// everything else as a JSON body. It returns the status and the decoded answer.
func (a *mlflowAPI) call(token, method, path string, body any) (int, map[string]any) {
	a.t.Helper()
	var rd io.Reader
	target := a.srv.URL + path
	if method == http.MethodGet && body != nil {
		q := url.Values{}
		for k, v := range body.(map[string]any) {
			switch v := v.(type) {
			case []string:
				q[k] = v
			default:
				q.Set(k, toString(v))
			}
		}
		target += "?" + q.Encode()
	} else if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		a.t.Fatalf("%s %s: answer is not a JSON object: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func toString(v any) string {
	b, _ := json.Marshal(v)
	return strings.Trim(string(b), `"`)
}

// ok calls as the ML engineer and fails the test unless the answer is 200.
func (a *mlflowAPI) ok(method, path string, body any) map[string]any {
	a.t.Helper()
	status, out := a.call(a.token, method, path, body)
	if status != http.StatusOK {
		a.t.Fatalf("%s %s: %d %v", method, path, status, out)
	}
	return out
}

// refused calls and checks MLflow's error form: the status and error_code MLflow answers with.
func (a *mlflowAPI) refused(method, path string, body any, status int, code, msgPart string) {
	a.t.Helper()
	got, out := a.call(a.token, method, path, body)
	if got != status || out["error_code"] != code || !strings.Contains(toString(out["message"]), msgPart) {
		a.t.Errorf("%s %s %v: %d %v, want %d %s containing %q", method, path, body, got, out, status, code, msgPart)
	}
}

func dig(v any, path ...any) any {
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[p]
		case int:
			l, _ := v.([]any)
			if p >= len(l) {
				return nil
			}
			v = l[p]
		}
	}
	return v
}

const api = "/api/2.0/mlflow"

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func TestAnMLflowClientTracksARunAsWithMLflow(t *testing.T) {
	a := newMLflowAPI(t)
	// set_experiment: get-by-name answers RESOURCE_DOES_NOT_EXIST, then create.
	a.refused("GET", api+"/experiments/get-by-name", map[string]any{"experiment_name": "entry-risk"}, 404, "RESOURCE_DOES_NOT_EXIST", "entry-risk")
	created := a.ok("POST", api+"/experiments/create", map[string]any{"name": "entry-risk"})
	exp, _ := created["experiment_id"].(string)
	if exp == "" || exp == "0" {
		t.Fatalf("experiment_id = %v; MLflow answers ids as strings", created)
	}
	a.refused("POST", api+"/experiments/create", map[string]any{"name": "entry-risk"}, 400, "RESOURCE_ALREADY_EXISTS", "already exists")
	got := a.ok("GET", api+"/experiments/get", map[string]any{"experiment_id": exp})
	if dig(got, "experiment", "artifact_location") != "mlflow-artifacts:/"+exp || dig(got, "experiment", "lifecycle_stage") != "active" {
		t.Fatalf("experiment = %v", got)
	}

	// start_run with the tags the client sends; start_time as a number, experiment_id as a number.
	run := a.ok("POST", api+"/runs/create", map[string]any{"experiment_id": json.Number(exp), "start_time": 1717000000000,
		"tags": []map[string]string{{"key": "mlflow.user", "value": "ana"}, {"key": "mlflow.source.type", "value": "LOCAL"}}})
	runID, _ := dig(run, "run", "info", "run_id").(string)
	if len(runID) != 32 || dig(run, "run", "info", "run_uuid") != runID || dig(run, "run", "info", "status") != "RUNNING" ||
		dig(run, "run", "info", "start_time") != float64(1717000000000) || dig(run, "run", "info", "artifact_uri") != "mlflow-artifacts:/"+exp+"/"+runID+"/artifacts" {
		t.Fatalf("run = %v", run)
	}
	ref := func(extra map[string]any) map[string]any {
		m := map[string]any{"run_id": runID, "run_uuid": runID}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	a.ok("POST", api+"/runs/log-parameter", ref(map[string]any{"key": "lr", "value": "0.1"}))
	a.ok("POST", api+"/runs/log-parameter", ref(map[string]any{"key": "lr", "value": "0.1"})) // a retry
	a.refused("POST", api+"/runs/log-parameter", ref(map[string]any{"key": "lr", "value": "0.2"}), 400, "INVALID_PARAMETER_VALUE", "Changing param values is not allowed")
	a.ok("POST", api+"/runs/log-metric", ref(map[string]any{"key": "auc", "value": 0.81, "timestamp": 1717000001000, "step": 0}))
	a.ok("POST", api+"/runs/log-metric", ref(map[string]any{"key": "auc", "value": "NaN", "timestamp": "1717000002000", "step": "1"}))
	a.refused("POST", api+"/runs/log-metric", ref(map[string]any{"key": "auc", "value": 0.5}), 400, "INVALID_PARAMETER_VALUE", "'timestamp'")
	a.refused("POST", api+"/runs/log-metric", ref(map[string]any{"key": "auc", "value": "high", "timestamp": 1}), 400, "INVALID_PARAMETER_VALUE", "value")
	a.ok("POST", api+"/runs/log-batch", map[string]any{"run_id": runID,
		"metrics": []map[string]any{{"key": "loss", "value": 0.4, "timestamp": 1717000003000, "step": 0}, {"key": "loss", "value": 0.3, "timestamp": 1717000004000, "step": 1}},
		"params":  []map[string]any{{"key": "depth", "value": "3"}},
		"tags":    []map[string]any{{"key": "team", "value": "risk"}}})
	hist := a.ok("GET", api+"/metrics/get-history", ref(map[string]any{"metric_key": "auc"}))
	if n := len(dig(hist, "metrics").([]any)); n != 2 || dig(hist, "metrics", 1, "value") != "NaN" {
		t.Fatalf("history = %v", hist)
	}
	a.ok("POST", api+"/runs/update", ref(map[string]any{"status": "FINISHED", "end_time": 1717000009000}))
	got = a.ok("GET", api+"/runs/get", ref(nil))
	if dig(got, "run", "info", "status") != "FINISHED" || dig(got, "run", "info", "end_time") != float64(1717000009000) {
		t.Fatalf("run after update = %v", got)
	}
	// Search as the client does (POST, max_results, order_by), with the grammar's three kinds.
	found := a.ok("POST", api+"/runs/search", map[string]any{"experiment_ids": []string{exp}, "max_results": 1000,
		"filter": "metrics.loss < 0.35 and params.lr = '0.1' and tags.team = 'risk'", "order_by": []string{"metrics.loss DESC"}})
	if dig(found, "runs", 0, "info", "run_id") != runID || dig(found, "next_page_token") != nil {
		t.Fatalf("search = %v", found)
	}
	a.refused("POST", api+"/runs/search", map[string]any{"experiment_ids": []string{exp}, "filter": "metrics.loss <"}, 400, "INVALID_PARAMETER_VALUE", "metrics.loss")
	// Unknown fields from newer clients are ignored, as MLflow's server ignores them.
	a.ok("POST", api+"/runs/set-tag", ref(map[string]any{"key": "k", "value": "v", "some_future_field": true}))
	// Deleted experiment: its runs go with it, and writing to them is refused.
	a.ok("POST", api+"/experiments/delete", map[string]any{"experiment_id": exp})
	a.refused("POST", api+"/runs/set-tag", ref(map[string]any{"key": "k", "value": "w"}), 400, "INVALID_PARAMETER_VALUE", "must be in the 'active' state")
	a.refused("POST", api+"/experiments/delete", map[string]any{"experiment_id": exp}, 404, "RESOURCE_DOES_NOT_EXIST", "No Experiment")
	a.ok("POST", api+"/experiments/restore", map[string]any{"experiment_id": exp})
	a.refused("GET", api+"/runs/get", map[string]any{"run_id": "0123456789abcdef0123456789abcdef"}, 404, "RESOURCE_DOES_NOT_EXIST", "not found")
	a.refused("GET", api+"/runs/get", map[string]any{}, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'run_id'")
}

func TestLogBatchOverMLflowsLimitsIsRefusedWhole(t *testing.T) {
	a := newMLflowAPI(t)
	run := a.ok("POST", api+"/runs/create", map[string]any{"experiment_id": "0", "start_time": 1})
	runID := dig(run, "run", "info", "run_id").(string)
	metrics := make([]map[string]any, 1001)
	for i := range metrics {
		metrics[i] = map[string]any{"key": "m", "value": i, "timestamp": i, "step": i}
	}
	a.refused("POST", api+"/runs/log-batch", map[string]any{"run_id": runID, "metrics": metrics}, 400, "INVALID_PARAMETER_VALUE", "at most 1000 metrics")
	params := make([]map[string]any, 101)
	for i := range params {
		params[i] = map[string]any{"key": "p" + toString(i), "value": "v"}
	}
	a.refused("POST", api+"/runs/log-batch", map[string]any{"run_id": runID, "params": params}, 400, "INVALID_PARAMETER_VALUE", "at most 100 params")
	a.refused("POST", api+"/runs/log-batch", map[string]any{"run_id": runID, "params": []map[string]any{{"key": "p", "value": strings.Repeat("x", 6001)}}},
		400, "INVALID_PARAMETER_VALUE", "exceeded length limit of 6000")
	a.refused("POST", api+"/runs/log-batch", map[string]any{"run_id": runID, "metrics": []map[string]any{{"key": "../escape", "value": 1, "timestamp": 1}}},
		400, "INVALID_PARAMETER_VALUE", "would resolve to")
	got := a.ok("GET", api+"/runs/get", map[string]any{"run_id": runID})
	if dig(got, "run", "data", "metrics") != nil || dig(got, "run", "data", "params") != nil {
		t.Fatalf("a refused batch left data behind: %v", got)
	}
}

func TestRegistryAliasesNeedAnApproverAndAnswerAsMLflow(t *testing.T) {
	a := newMLflowAPI(t)
	run := a.ok("POST", api+"/runs/create", map[string]any{"experiment_id": "0", "start_time": 1})
	runID := dig(run, "run", "info", "run_id").(string)
	a.ok("POST", api+"/registered-models/create", map[string]any{"name": "entry-risk"})
	a.refused("POST", api+"/registered-models/create", map[string]any{"name": "entry-risk"}, 400, "RESOURCE_ALREADY_EXISTS", "already exists")
	v := a.ok("POST", api+"/model-versions/create", map[string]any{"name": "entry-risk", "source": "runs:/" + runID + "/model", "run_id": runID})
	if dig(v, "model_version", "version") != "1" || dig(v, "model_version", "status") != "READY" {
		t.Fatalf("version = %v (version is a string, status READY at once)", v)
	}
	a.refused("POST", api+"/model-versions/create", map[string]any{"name": "entry-risk", "source": "s3://elsewhere/model"}, 400, "INVALID_PARAMETER_VALUE", "source")
	alias := map[string]any{"name": "entry-risk", "alias": "champion", "version": "1"}
	if status, out := a.call(a.token, "POST", api+"/registered-models/alias", alias); status != 403 || out["error_code"] != "PERMISSION_DENIED" {
		t.Fatalf("an ML engineer moving champion: %d %v", status, out)
	}
	if status, out := a.call("", "GET", api+"/registered-models/get", map[string]any{"name": "entry-risk"}); status != 401 || out["error_code"] != "UNAUTHENTICATED" {
		t.Fatalf("no token: %d %v", status, out)
	}
	if status, out := a.call(a.srv.Tokens[access.RoleMLApprover], "POST", api+"/registered-models/alias", alias); status != 200 {
		t.Fatalf("the approver moving champion: %d %v", status, out)
	}
	got := a.ok("GET", api+"/registered-models/alias", map[string]any{"name": "entry-risk", "alias": "champion"})
	if dig(got, "model_version", "version") != "1" || dig(got, "model_version", "aliases", 0) != "champion" {
		t.Fatalf("by alias = %v", got)
	}
	a.refused("GET", api+"/registered-models/alias", map[string]any{"name": "entry-risk", "alias": "challenger"}, 400, "INVALID_PARAMETER_VALUE", "alias challenger not found")
	a.refused("GET", api+"/model-versions/get", map[string]any{"name": "entry-risk", "version": "7"}, 404, "RESOURCE_DOES_NOT_EXIST", "not found")
	uri := a.ok("GET", api+"/model-versions/get-download-uri", map[string]any{"name": "entry-risk", "version": "1"})
	if uri["artifact_uri"] != "mlflow-artifacts:/0/"+runID+"/artifacts/model" {
		t.Fatalf("download uri = %v", uri)
	}
	latest := a.ok("POST", api+"/registered-models/get-latest-versions", map[string]any{"name": "entry-risk", "stages": []string{"None"}})
	if dig(latest, "model_versions", 0, "version") != "1" {
		t.Fatalf("latest = %v", latest)
	}
	found := a.ok("GET", api+"/registered-models/search", map[string]any{"filter": "name LIKE 'entry-%'", "max_results": 10})
	if dig(found, "registered_models", 0, "name") != "entry-risk" {
		t.Fatalf("search = %v", found)
	}
	a.refused("GET", api+"/nope", map[string]any{}, 404, "ENDPOINT_NOT_FOUND", "nope")
}

func TestArtifactsAreCheckedAgainstTheirDigestAndPathsCannotEscape(t *testing.T) {
	a := newMLflowAPI(t)
	put := func(p, body string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPut, a.srv.URL+"/api/2.0/mlflow-artifacts/artifacts/"+p, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+a.token)
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		raw, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(raw, &out)
		return resp.StatusCode, out
	}
	get := func(p string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/api/2.0/mlflow-artifacts/artifacts/"+p, nil)
		req.Header.Set("Authorization", "Bearer "+a.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	// 2 MiB: past the server's JSON bound (1 MiB here), within the artifact bound.
	model := strings.Repeat("weights;", 256<<10)
	if status, out := put("1/abc/artifacts/model/model.bin", model); status != 200 {
		t.Fatalf("put: %d %v", status, out)
	}
	if status, out := put("1/abc/artifacts/model/MLmodel", "flavors: {}\n"); status != 200 {
		t.Fatalf("put: %d %v", status, out)
	}
	if status, body := get("1/abc/artifacts/model/model.bin"); status != 200 || body != model {
		t.Fatalf("get: %d, %d bytes", status, len(body))
	}
	list := a.ok("GET", "/api/2.0/mlflow-artifacts/artifacts", map[string]any{"path": "1/abc/artifacts/model"})
	if dig(list, "files", 0, "path") != "MLmodel" || dig(list, "files", 0, "is_dir") != false || dig(list, "files", 1, "file_size") != float64(len(model)) {
		t.Fatalf("list = %v", list)
	}
	// Encoded escapes reach the handler decoded once and are refused there; plain ".."
	// and "." never reach it (the server's mux answers them with a redirect to the clean
	// path, which the client does not follow for a PUT).
	for _, bad := range []string{"1/abc/%2e%2e/x", "1/abc/..%2fx", "1/a%5cb", "1/abc/%252e%252e/x"} {
		if status, out := put(bad, "x"); status != 400 || out["error_code"] != "INVALID_PARAMETER_VALUE" {
			t.Errorf("put %s: %d %v", bad, status, out)
		}
	}
	for _, bad := range []string{"1/../../etc/passwd", "1/./x", "/etc/passwd", "1/abc/%00x"} {
		if status, out := put(bad, "x"); status < 300 {
			t.Errorf("put %s: %d %v", bad, status, out)
		}
	}
	all, err := a.bucket.List(context.Background(), "", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range all {
		if !strings.HasPrefix(o.Key, "artifacts/1/abc/artifacts/model/") {
			t.Errorf("an upload landed at %s", o.Key)
		}
	}
	// Someone changes the bytes in storage behind Codexion's back: the download is refused.
	if _, err := a.bucket.Put(context.Background(), "artifacts/1/abc/artifacts/model/MLmodel", strings.NewReader("flavors: {evil}\n"), 16, "text/plain"); err != nil {
		t.Fatal(err)
	}
	if status, body := get("1/abc/artifacts/model/MLmodel"); status != 500 || !strings.Contains(body, "DATA_LOSS") {
		t.Fatalf("a tampered artifact: %d %s", status, body)
	}
	// And an object put straight into the bucket is not served either.
	if _, err := a.bucket.Put(context.Background(), "artifacts/1/abc/artifacts/planted.pkl", strings.NewReader("x"), 1, "text/plain"); err != nil {
		t.Fatal(err)
	}
	if status, body := get("1/abc/artifacts/planted.pkl"); status != 500 || !strings.Contains(body, "not stored through Codexion") {
		t.Fatalf("a planted artifact: %d %s", status, body)
	}
}

// TestTheMLflow3LogModelRegisterAndLoadSequence replays the calls MLflow 3's Python client
// makes for `mlflow.sklearn.log_model(model, name="model", registered_model_name="m")` and
// then `mlflow.pyfunc.load_model("models:/m@champion")`, in order and with the bodies it
// sends (read from MLflow's client code), and checks each answer is what that client reads.
func TestTheMLflow3LogModelRegisterAndLoadSequence(t *testing.T) {
	a := newMLflowAPI(t)
	exp := a.ok("POST", api+"/experiments/create", map[string]any{"name": "sk"})["experiment_id"].(string)
	run := a.ok("POST", api+"/runs/create", map[string]any{"experiment_id": exp, "start_time": 1717000000000,
		"tags": []map[string]string{{"key": "mlflow.user", "value": "ana"}}})
	runID := dig(run, "run", "info", "run_id").(string)
	a.ok("POST", api+"/runs/log-parameter", map[string]any{"run_id": runID, "run_uuid": runID, "key": "alpha", "value": "0.5"})
	a.ok("POST", api+"/runs/log-metric", map[string]any{"run_id": runID, "run_uuid": runID, "key": "rmse", "value": 0.7, "timestamp": 1717000001000, "step": 0})

	// Model.log: get the run, create the logged model (PENDING) with the run's params.
	a.ok("GET", api+"/runs/get", map[string]any{"run_id": runID, "run_uuid": runID})
	lm := a.ok("POST", api+"/logged-models", map[string]any{"experiment_id": exp, "name": "model", "source_run_id": runID,
		"params": []map[string]string{{"key": "alpha", "value": "0.5"}}, "tags": []map[string]string{{"key": "mlflow.user", "value": "ana"}}})
	modelID, _ := dig(lm, "model", "info", "model_id").(string)
	artifactURI, _ := dig(lm, "model", "info", "artifact_uri").(string)
	if !strings.HasPrefix(modelID, "m-") || dig(lm, "model", "info", "status") != "LOGGED_MODEL_PENDING" ||
		artifactURI != "mlflow-artifacts:/"+exp+"/models/"+modelID+"/artifacts" {
		t.Fatalf("logged model = %v", lm)
	}
	a.ok("POST", api+"/runs/outputs", map[string]any{"run_id": runID, "models": []map[string]any{{"model_id": modelID, "step": 0}}})
	hist := a.ok("GET", api+"/metrics/get-history", map[string]any{"run_id": runID, "run_uuid": runID, "metric_key": "rmse"})
	a.ok("POST", api+"/runs/log-batch", map[string]any{"run_id": runID, "metrics": []map[string]any{{"key": "rmse",
		"value": dig(hist, "metrics", 0, "value"), "timestamp": dig(hist, "metrics", 0, "timestamp"), "step": 0, "model_id": modelID, "run_id": runID}}})
	a.ok("GET", api+"/logged-models/"+modelID, nil)
	// The flavor's files, uploaded to the proxied artifact API under the model's location.
	files := map[string]string{"MLmodel": "artifact_path: " + artifactURI + "\nflavors:\n  python_function: {}\nmodel_id: " + modelID + "\n",
		"model.pkl": strings.Repeat("\x80\x04pickle", 1000), "requirements.txt": "scikit-learn==1.5.0\n"}
	root := strings.TrimPrefix(artifactURI, "mlflow-artifacts:/")
	for name, body := range files {
		req, _ := http.NewRequest(http.MethodPut, a.srv.URL+"/api/2.0/mlflow-artifacts/artifacts/"+root+"/"+name, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+a.token)
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("upload %s: %v %v", name, resp, err)
		}
		_ = resp.Body.Close()
	}
	fin := a.ok("PATCH", api+"/logged-models/"+modelID, map[string]any{"model_id": modelID, "status": "LOGGED_MODEL_READY"})
	if dig(fin, "model", "info", "status") != "LOGGED_MODEL_READY" {
		t.Fatalf("finalized = %v", fin)
	}
	// Registration: create the model (already-exists is swallowed by the client), then the
	// version from the logged model with no run_id: the registry fills it in.
	a.ok("POST", api+"/registered-models/create", map[string]any{"name": "m"})
	mv := a.ok("POST", api+"/model-versions/create", map[string]any{"name": "m", "source": "models:/" + modelID, "model_id": modelID})
	if dig(mv, "model_version", "status") != "READY" || dig(mv, "model_version", "run_id") != runID || dig(mv, "model_version", "model_id") != modelID {
		t.Fatalf("model version = %v", mv)
	}
	a.ok("GET", api+"/logged-models/"+modelID, nil)
	a.ok("PATCH", api+"/logged-models/"+modelID+"/tags", map[string]any{"tags": []map[string]string{{"key": "mlflow.modelVersions", "value": `[{"name": "m", "version": "1"}]`}}})
	a.ok("POST", api+"/runs/update", map[string]any{"run_id": runID, "run_uuid": runID, "status": "FINISHED", "end_time": 1717000009000})
	got := a.ok("GET", api+"/logged-models/"+modelID, nil)
	if dig(got, "model", "info", "registrations", 0, "name") != "m" || dig(got, "model", "data", "metrics", 0, "key") != "rmse" {
		t.Fatalf("logged model after registration = %v", got)
	}
	// A finalized model's files cannot be changed; the same bytes again (a retry) are fine.
	req, _ := http.NewRequest(http.MethodPut, a.srv.URL+"/api/2.0/mlflow-artifacts/artifacts/"+root+"/model.pkl", strings.NewReader("evil"))
	req.Header.Set("Authorization", "Bearer "+a.token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("overwriting a registered model's file: %v %v", resp, err)
	}

	// load_model("models:/m@champion"): alias → download URI → list → download each file.
	if status, out := a.call(a.srv.Tokens[access.RoleMLApprover], "POST", api+"/registered-models/alias", map[string]any{"name": "m", "alias": "champion", "version": "1"}); status != 200 {
		t.Fatalf("set alias: %d %v", status, out)
	}
	byAlias := a.ok("GET", api+"/registered-models/alias", map[string]any{"name": "m", "alias": "champion"})
	uri := a.ok("GET", api+"/model-versions/get-download-uri", map[string]any{"name": "m", "version": dig(byAlias, "model_version", "version")})
	if uri["artifact_uri"] != artifactURI {
		t.Fatalf("download uri = %v, want the logged model's location %s", uri, artifactURI)
	}
	list := a.ok("GET", "/api/2.0/mlflow-artifacts/artifacts", map[string]any{"path": root})
	listed := map[string]bool{}
	for _, f := range list["files"].([]any) {
		listed[f.(map[string]any)["path"].(string)] = true
	}
	for name, body := range files {
		if !listed[name] {
			t.Fatalf("listing %v lacks %s", list, name)
		}
		req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/api/2.0/mlflow-artifacts/artifacts/"+root+"/"+name, nil)
		req.Header.Set("Authorization", "Bearer "+a.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || string(got) != body {
			t.Fatalf("download %s: %d, %d bytes", name, resp.StatusCode, len(got))
		}
	}
}
