package models

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/codexion/codexion/platform"
)

// FuzzBind: whatever body or query an MLflow client (or anyone) sends, reading it is a
// value or a bad request, never a panic or a server error.
func FuzzBind(f *testing.F) {
	f.Add(`{"run_id": "a", "metrics": [{"key": "k", "value": "NaN", "timestamp": "1", "step": 2}]}`, "run_id=a&max_results=5")
	f.Add(`"{\"experiment_id\": 0}"`, "experiment_ids=1&experiment_ids=2&order_by=metrics.a")
	f.Add(`{"experiment_id": 1.5, "tags": [{"key": 3}]}`, "archive_existing_versions=maybe")
	f.Add(`{"value": 1e999, "timestamp": -1}`, "%zz")
	f.Fuzz(func(t *testing.T, body, query string) {
		var batch struct {
			runRef
			Metrics []wireMetric `json:"metrics"`
			Params  []wireTag    `json:"params"`
		}
		var search struct {
			ExperimentIDs flexList   `json:"experiment_ids"`
			MaxResults    flexInt    `json:"max_results"`
			ExperimentID  flexString `json:"experiment_id"`
			Archive       flexBool   `json:"archive_existing_versions"`
			OrderBy       flexList   `json:"order_by"`
		}
		for _, v := range []any{&batch, &search} {
			req := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if err := bind(req, v); err != nil && platform.KindOf(err) != platform.KindInvalid {
				t.Fatalf("body %q: %v is not a bad request", body, err)
			}
			get := httptest.NewRequest(http.MethodGet, "/x", nil)
			get.URL.RawQuery = query
			if err := bind(get, v); err != nil && platform.KindOf(err) != platform.KindInvalid {
				t.Fatalf("query %q: %v is not a bad request", query, err)
			}
		}
		for _, m := range batch.Metrics {
			_, _ = m.metric("metrics[0].")
		}
	})
}
