package app

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/codexion/codexion/platform/config"
)

var updateDocs = flag.Bool("update", false, "rewrite docs/api/openapi.json")

// TestOpenAPIDocIsCompleteAndCurrent: every route the server registers is described, and
// docs/api/openapi.json is what the server serves.
func TestOpenAPIDocIsCompleteAndCurrent(t *testing.T) {
	cfg := config.Default()
	cfg.Database.URL = "postgres://u:p@127.0.0.1:1/db"
	cfg.Kafka.Brokers = []string{"127.0.0.1:1"}
	cfg.Temporal.Address = "127.0.0.1:1"
	cfg.S3.Endpoint, cfg.S3.AccessKey, cfg.S3.SecretKey = "127.0.0.1:1", "a", "b"
	cfg.Auth.Issuer, cfg.Auth.Audience = "http://127.0.0.1:1", "codexion"
	a, err := New(context.Background(), cfg, ModeServe, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	doc := a.OpenAPI(a.ops)
	doc["info"] = map[string]any{"title": "Codexion API", "version": "see GET /v1/openapi.json on a running server"}
	paths := doc["paths"].(map[string]any)
	for _, r := range a.Router.Rules() {
		method, path, _ := strings.Cut(r.Pattern, " ")
		op := paths[path].(map[string]any)[strings.ToLower(method)].(map[string]any)
		if op["summary"] == "" || op["summary"] == nil {
			t.Errorf("route %s has no description in the API document", r.Pattern)
		}
	}
	for _, want := range []string{"/v1/ledger/entries", "/v1/ledger/entries:batch", "/v1/ledger/trial-balance", "/readyz"} {
		if paths[want] == nil {
			t.Errorf("document lacks %s", want)
		}
	}
	got, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	const file = "../docs/api/openapi.json"
	if *updateDocs {
		if err := os.MkdirAll("../docs/api", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil || string(want) != string(got) {
		t.Fatalf("docs/api/openapi.json is stale (%v); run go test ./app -run TestOpenAPIDoc -update", err)
	}
}
