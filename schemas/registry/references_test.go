package registry_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codexion/codexion/schemas/registry"
)

type registryClient struct {
	t     *testing.T
	base  string
	token string
}

func newRegistryClient(t *testing.T) *registryClient {
	base, tokens := server(t)
	return &registryClient{t: t, base: base + registry.Prefix, token: tokens["data-engineer"]}
}

func (c *registryClient) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var in io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		in = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, c.base+path, in)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", registry.ContentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m
}

func (c *registryClient) subjects() []string {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+"/subjects", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []string
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return out
}

const customerV1 = `{"type":"object","properties":{"id":{"type":"string"}},"required":["id"]}`

func TestSchemaReferencesReachOnlyRegisteredSubjects(t *testing.T) {
	c := newRegistryClient(t)
	if code, m := c.do("POST", "/subjects/acme.customer/versions", map[string]any{"schema": customerV1}); code != 200 {
		t.Fatalf("register customer: %d %v", code, m)
	}
	order := `{"type":"object","properties":{"customer":{"$ref":"customer.json"}},"required":["customer"]}`
	refs := []map[string]any{{"name": "customer.json", "subject": "acme.customer", "version": 1}}
	code, m := c.do("POST", "/subjects/acme.order/versions", map[string]any{"schema": order, "references": refs})
	if code != 200 {
		t.Fatalf("register with a reference to a registered subject: %d %v", code, m)
	}
	id := m["id"]
	code, m = c.do("GET", "/subjects/acme.order/versions/1", nil)
	if got, _ := json.Marshal(m["references"]); code != 200 || string(got) != `[{"name":"customer.json","subject":"acme.customer","version":1}]` {
		t.Fatalf("version 1 references: %d %s", code, got)
	}
	// The same text with other references is another schema.
	if code, m := c.do("POST", "/subjects/acme.order", map[string]any{"schema": order, "references": refs}); code != 200 || m["id"] != id {
		t.Fatalf("lookup with references: %d %v", code, m)
	}
	if code, m := c.do("POST", "/subjects/acme.order", map[string]any{"schema": order}); code != 422 {
		t.Fatalf("lookup without the references it needs: %d %v", code, m)
	}
}

// The compiler never reads a file or the network: every $ref that is not a declared
// reference is refused with the same message, whether or not what it names exists.
func TestSchemaReferencesCannotEscapeTheRegistry(t *testing.T) {
	c := newRegistryClient(t)
	if code, m := c.do("POST", "/subjects/acme.customer/versions", map[string]any{"schema": customerV1}); code != 200 {
		t.Fatalf("register customer: %d %v", code, m)
	}
	secret := filepath.Join(t.TempDir(), "secret.json")
	if err := os.WriteFile(secret, []byte(`{"type":"string"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ref := func(to string) string { return `{"type":"object","properties":{"x":{"$ref":` + jsonString(to) + `}}}` }
	cases := []struct {
		name   string
		schema string
		refs   []map[string]any
		want   string
	}{
		{"an existing local file", ref("file://" + secret), nil, "is not a registered schema"},
		{"a missing local file", ref("file://" + secret + ".missing"), nil, "is not a registered schema"},
		{"/etc/passwd", ref("/etc/passwd"), nil, "is not a registered schema"},
		{"file:///etc/passwd", ref("file:///etc/passwd"), nil, "is not a registered schema"},
		{"a relative path", ref("../../../../etc/passwd"), nil, "is not a registered schema"},
		{"a relative name not declared", ref("customer.json"), nil, "is not a registered schema"},
		{"http", ref("http://127.0.0.1:1/schema.json"), nil, "is not a registered schema"},
		{"https", ref("https://json-schema.example/s.json"), nil, "is not a registered schema"},
		{"$id moved to a file URL", `{"$id":"file:///etc/","type":"object","properties":{"x":{"$ref":"passwd"}}}`, nil, "is not a registered schema"},
		{"a reference to an unregistered subject", ref("customer.json"),
			[]map[string]any{{"name": "customer.json", "subject": "acme.nobody", "version": 1}}, "not registered"},
		{"a reference to an unregistered version", ref("customer.json"),
			[]map[string]any{{"name": "customer.json", "subject": "acme.customer", "version": 2}}, "not registered"},
		{"a reference without a version", ref("customer.json"),
			[]map[string]any{{"name": "customer.json", "subject": "acme.customer"}}, "needs a name"},
		{"a reference named as a file", ref("file:///etc/passwd"),
			[]map[string]any{{"name": "file:///etc/hosts", "subject": "acme.customer", "version": 1}}, "is not a registered schema"},
		{"duplicate keys in the schema", `{"type":"object","type":"string"}`, nil, `has the key "type" twice`},
		{"a NUL in the schema", `{"title":"a\u0000b"}`, nil, "NUL"},
	}
	var fileMessages []string
	for _, tc := range cases {
		body := map[string]any{"schema": tc.schema}
		if tc.refs != nil {
			body["references"] = tc.refs
		}
		for _, path := range []string{"/subjects/acme.escape/versions", "/compatibility/subjects/acme.customer/versions/latest", "/subjects/acme.customer"} {
			code, m := c.do("POST", path, body)
			msg, _ := m["message"].(string)
			if code != 422 || m["error_code"] != float64(42201) || !strings.Contains(msg, tc.want) {
				t.Errorf("%s via %s: %d %v; want 422 42201 %q", tc.name, path, code, m, tc.want)
			}
			if strings.Contains(msg, "no such file") || strings.Contains(msg, "root:") || strings.Contains(msg, "connection refused") {
				t.Errorf("%s via %s: the message tells what is there: %q", tc.name, path, msg)
			}
			if strings.HasSuffix(tc.name, "local file") && path == "/subjects/acme.escape/versions" {
				fileMessages = append(fileMessages, strings.ReplaceAll(msg, ".missing", ""))
			}
		}
	}
	if len(fileMessages) != 2 || fileMessages[0] != fileMessages[1] {
		t.Errorf("an existing and a missing file answer differently: %q", fileMessages)
	}
	if got := c.subjects(); len(got) != 1 || got[0] != "acme.customer" {
		t.Fatalf("subjects after refused registrations: %v, want only acme.customer", got)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
