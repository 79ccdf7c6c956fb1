package registry_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry"

	"github.com/codexion/codexion/internal/apitest"
	"github.com/codexion/codexion/platform/httpx"
	"github.com/codexion/codexion/platform/postgres"
	"github.com/codexion/codexion/schemas/registry"
)

func server(t *testing.T) (string, map[string]string) {
	t.Helper()
	srv := apitest.Start(t, 2<<20, []postgres.Source{registry.Migrations()}, func(r *httpx.Router, db *postgres.Pool, log *slog.Logger) {
		registry.NewHandler(registry.NewStore(db.Pool), log).Routes(r)
	})
	return srv.URL, srv.Tokens
}

const bookV1 = `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
 "properties":{"code":{"type":"string"},"name":{"type":"string"},"base_currency":{"type":"string"}},"required":["code"]}`

// TestConfluentClientWorksUnchanged drives the registry with Confluent's own Go client.
func TestConfluentClientWorksUnchanged(t *testing.T) {
	base, tokens := server(t)
	c, err := schemaregistry.NewClient(schemaregistry.NewConfigWithBearerAuthentication(base+registry.Prefix, tokens["data-engineer"], "codexion", "pool"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	subject := "codexion.ledger.book.created.v1"
	id, err := c.Register(subject, schemaregistry.SchemaInfo{Schema: bookV1, SchemaType: "JSON"}, false)
	if err != nil {
		t.Fatal(err)
	}
	// Whitespace and key order do not make a new schema.
	again, err := c.Register(subject, schemaregistry.SchemaInfo{Schema: strings.ReplaceAll(bookV1, "\n", " "), SchemaType: "JSON"}, false)
	if err != nil || again != id {
		t.Fatalf("re-register: id %d (%v), want %d", again, err, id)
	}
	meta, err := c.GetLatestSchemaMetadata(subject)
	if err != nil || meta.Version != 1 || meta.ID != id {
		t.Fatalf("latest: %+v %v", meta, err)
	}
	subjects, err := c.GetAllSubjects()
	if err != nil || len(subjects) != 1 || subjects[0] != subject {
		t.Fatalf("subjects %v %v", subjects, err)
	}

	// Adding a typed property to an open content model breaks BACKWARD: 409.
	withRegion := strings.Replace(bookV1, `"base_currency":{"type":"string"}`, `"base_currency":{"type":"string"},"region":{"type":"string"}`, 1)
	ok, err := c.TestCompatibility(subject, 1, schemaregistry.SchemaInfo{Schema: withRegion, SchemaType: "JSON"})
	if err != nil || ok {
		t.Fatalf("compatibility of an incompatible schema: %v %v", ok, err)
	}
	_, err = c.Register(subject, schemaregistry.SchemaInfo{Schema: withRegion, SchemaType: "JSON"}, false)
	if err == nil || !strings.Contains(err.Error(), "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL") {
		t.Fatalf("incompatible register: %v", err)
	}
	// Dropping an optional property from an open model is backward compatible.
	noName := strings.Replace(bookV1, `"name":{"type":"string"},`, ``, 1)
	id2, err := c.Register(subject, schemaregistry.SchemaInfo{Schema: noName, SchemaType: "JSON"}, false)
	if err != nil || id2 == id {
		t.Fatalf("compatible register: %d %v", id2, err)
	}
	versions, err := c.GetAllVersions(subject)
	if err != nil || len(versions) != 2 {
		t.Fatalf("versions %v %v", versions, err)
	}
	if _, err := c.UpdateCompatibility(subject, schemaregistry.None); err != nil {
		t.Fatal(err)
	}
	level, err := c.GetCompatibility(subject)
	if err != nil || level != schemaregistry.None {
		t.Fatalf("compatibility %v %v", level, err)
	}
	if _, err := c.Register(subject, schemaregistry.SchemaInfo{Schema: withRegion, SchemaType: "JSON"}, false); err != nil {
		t.Fatalf("NONE still refused: %v", err)
	}
	info, err := c.GetBySubjectAndID(subject, id)
	if err != nil || !strings.Contains(info.Schema, "base_currency") {
		t.Fatalf("by id: %+v %v", info, err)
	}
	if n, err := c.DeleteSubjectVersion(subject, 3, false); err != nil || n != 3 {
		t.Fatalf("delete version: %d %v", n, err)
	}
}

func TestConfluentErrorCodesAndRoles(t *testing.T) {
	base, tokens := server(t)
	do := func(role, method, path, body string) (int, map[string]any, string) {
		req, _ := http.NewRequest(method, base+registry.Prefix+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tokens[role])
		req.Header.Set("Content-Type", registry.ContentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		return resp.StatusCode, m, resp.Header.Get("Content-Type")
	}
	code, m, ct := do("compliance", "GET", "/subjects/nope/versions", "")
	if code != 404 || m["error_code"] != float64(40401) || ct != registry.ContentType {
		t.Fatalf("unknown subject: %d %v %s", code, m, ct)
	}
	// A refusal quoting what was sent does not echo all of it.
	code, m, _ = do("compliance", "GET", "/subjects/"+strings.Repeat("x", 64<<10)+"/versions", "")
	if msg, _ := m["message"].(string); code != 404 || len(msg) > httpx.MaxProblemTextBytes || !strings.HasSuffix(msg, "' not found.") {
		t.Fatalf("a huge unknown subject: %d, a %d-byte message", code, len(msg))
	}
	if code, _, _ := do("compliance", "POST", "/subjects/s/versions", `{"schema":"{}"}`); code != 403 {
		t.Fatalf("compliance registering: %d, want 403", code)
	}
	code, m, _ = do("data-engineer", "POST", "/subjects/s/versions", `{"schema":"{\"type\":\"nonsense\"}"}`)
	if code != 422 || m["error_code"] != float64(42201) {
		t.Fatalf("invalid schema: %d %v", code, m)
	}
	code, m, _ = do("data-engineer", "POST", "/subjects/s/versions", `{"schema":"syntax = \"proto3\";","schemaType":"PROTOBUF"}`)
	if code != 422 || !strings.Contains(m["message"].(string), "PROTOBUF is not supported") {
		t.Fatalf("protobuf: %d %v", code, m)
	}
	if code, _, _ := do("data-engineer", "POST", "/subjects/s/versions", `{"schema":"{\"type\":\"object\"}"}`); code != 200 {
		t.Fatalf("register: %d", code)
	}
	code, m, _ = do("compliance", "GET", "/subjects/s/versions/7", "")
	if code != 404 || m["error_code"] != float64(40402) {
		t.Fatalf("unknown version: %d %v", code, m)
	}
	code, m, _ = do("compliance", "GET", "/subjects/s/versions/zero", "")
	if code != 422 || m["error_code"] != float64(42202) {
		t.Fatalf("bad version: %d %v", code, m)
	}
	code, m, _ = do("compliance", "GET", "/schemas/ids/999", "")
	if code != 404 || m["error_code"] != float64(40403) {
		t.Fatalf("unknown id: %d %v", code, m)
	}
	code, m, _ = do("admin", "PUT", "/config/s", `{"compatibility":"SIDEWAYS"}`)
	if code != 422 || m["error_code"] != float64(42203) {
		t.Fatalf("bad level: %d %v", code, m)
	}
	code, m, _ = do("compliance", "GET", "/config", "")
	if code != 200 || m["compatibilityLevel"] != "BACKWARD" {
		t.Fatalf("global config: %d %v", code, m)
	}
}
