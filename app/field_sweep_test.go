package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/codexion/codexion/governance/access"
)

// The sweep's bounds. Each route's variants run one after another and routes run in
// parallel (as many as -parallel, GOMAXPROCS by default), so the whole sweep takes seconds.
const (
	maxVariantsPerRoute = 200
	maxSchemaDepth      = 8       // how deep the body builder follows the API document
	oversizeBodyBytes   = 1 << 20 // a string field's oversize value: under the body limit, over every text bound
	// A query value or path segment this long is far past every bound and still under the
	// HTTP server's header limit, which would answer 431 before any route is reached.
	oversizeURLBytes = 64 << 10
	deepNesting      = 40 // past httpx.MaxJSONDepth
	// A refusal names what is wrong; it does not echo a megabyte back.
	maxRefusalBytes = 8 << 10
)

// apiDoc is the part of the served OpenAPI document the sweep reads.
type apiDoc struct {
	Paths      map[string]map[string]apiOp `json:"paths"`
	Components struct {
		Schemas map[string]*apiSchema `json:"schemas"`
	} `json:"components"`
}

type apiOp struct {
	Parameters []struct {
		In   string `json:"in"`
		Name string `json:"name"`
	} `json:"parameters"`
	RequestBody *struct {
		Content map[string]struct {
			Schema *apiSchema `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
}

type apiSchema struct {
	Ref                  string                `json:"$ref"`
	Type                 string                `json:"type"`
	Format               string                `json:"format"`
	Properties           map[string]*apiSchema `json:"properties"`
	Items                *apiSchema            `json:"items"`
	AdditionalProperties json.RawMessage       `json:"additionalProperties"` // a schema or a bool
}

// jsonNode is a request body built from the document, kept in order so that a variant can
// replace one value with raw bytes, or send one key twice, which no encoder would do.
type jsonNode struct {
	typ    string // declared JSON type; "" when the document allows any
	scalar []byte
	object bool
	isMap  bool // members are the caller's keys, not declared properties
	keys   []string
	vals   []*jsonNode
	items  []*jsonNode // arrays
}

// bodyField is one place in a body a variant can attack.
type bodyField struct {
	path   string // lines[0].memo, for messages
	name   string // what an answer naming it contains: its key, or its map's name
	node   *jsonNode
	member bool // an object member, whose key can be sent twice
}

// variant is one hostile request.
type variant struct {
	class  string // nul, invalid-utf8, oversize, wrong-type, duplicate-key, too-deep
	where  string // the field, parameter or path segment attacked
	field  string // the name an answer refusing it would use
	name   string // what the answer must name; "" when it need not
	target string // the URL: path and query
	body   []byte
}

// fieldSweep sends, as a role each route allows, a valid-shaped body with one field at a
// time made hostile, and hostile values in every query parameter and path segment the API
// document declares. Every answer must be a 4xx with a code; a value the JSON checks or the
// decoder refuse must be named; and (the caller checks) nothing may be written.
func fieldSweep(t *testing.T, a *api, allowed map[string][]string) {
	var doc apiDoc
	if got := send(t, a.base, http.MethodGet, "/v1/openapi.json", "", nil); got.status != http.StatusOK {
		t.Fatalf("GET /v1/openapi.json: %d", got.status)
	} else if err := json.Unmarshal(got.body, &doc); err != nil {
		t.Fatal(err)
	}
	type route struct{ method, path string }
	var routes []route
	for path, ops := range doc.Paths {
		for method := range ops {
			routes = append(routes, route{strings.ToUpper(method), path})
		}
	}
	slices.SortFunc(routes, func(x, y route) int { return strings.Compare(x.path+x.method, y.path+y.method) })
	for pattern, roles := range allowed {
		method, path, _ := strings.Cut(pattern, " ")
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok && len(roles) > 0 {
			t.Errorf("%s is served but not in the API document, so its input is not swept", pattern)
		}
	}

	var mu sync.Mutex
	byClass := map[string]int{}
	var unnamedOversize []string
	for _, r := range routes {
		op := doc.Paths[r.path][strings.ToLower(r.method)]
		roles, ok := allowed[r.method+" "+r.path]
		if !ok {
			t.Errorf("the API document describes %s %s, which the router does not serve", r.method, r.path)
			continue
		}
		token := ""
		if len(roles) > 0 {
			token = a.tokens[roles[0]]
			if slices.Contains(roles, access.RoleAdmin) {
				token = a.tokens[access.RoleAdmin]
			}
		}
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			t.Parallel()
			vs := routeVariants(t, &doc, r.path, op)
			if len(vs) > maxVariantsPerRoute {
				t.Errorf("%d variants, more than the sweep's bound of %d; raise it or split the route's body", len(vs), maxVariantsPerRoute)
				vs = vs[:maxVariantsPerRoute]
			}
			for _, v := range vs {
				got := send(t, a.base, r.method, v.target, token, v.body)
				mu.Lock()
				in, _, _ := strings.Cut(v.where, " ")
				if in != "path" && in != "query" {
					in = "body"
				}
				byClass[in+" "+v.class]++
				mu.Unlock()
				if why := got.refusal(); why != "" {
					t.Errorf("%s in %s: %s", v.class, v.where, why)
					continue
				}
				if v.name != "" && !got.names(v.name) {
					t.Errorf("%s in %s: %d %s does not name %q: %.300s", v.class, v.where, got.status, got.problem.Code, v.name, got.body)
				}
				if len(got.body) > maxRefusalBytes {
					t.Errorf("%s in %s: a %d-byte refusal; a refusal says what is wrong in at most %d: %.200s", v.class, v.where, len(got.body), maxRefusalBytes, got.body)
				}
				if v.class == "oversize" && got.status == http.StatusBadRequest && !got.names(v.field) {
					mu.Lock()
					unnamedOversize = append(unnamedOversize, fmt.Sprintf("%s %s %s: %.160s", r.method, r.path, v.where, got.body))
					mu.Unlock()
				}
			}
		})
	}
	t.Cleanup(func() {
		total := 0
		for _, n := range byClass {
			total += n
		}
		t.Logf("%d routes, %d hostile requests: %v", len(routes), total, byClass)
		slices.Sort(unnamedOversize)
		for _, u := range unnamedOversize {
			t.Logf("oversize refused without naming the field (another check came first): %s", u)
		}
	})
}

// routeVariants builds every hostile request for one operation.
func routeVariants(t *testing.T, doc *apiDoc, path string, op apiOp) []variant {
	var base *jsonNode
	if op.RequestBody != nil {
		if c, ok := op.RequestBody.Content["application/json"]; ok {
			base = doc.build(c.Schema, "", 0)
		}
	}
	var bodyBytes []byte
	if base != nil {
		bodyBytes = base.encode(nil, nil, false)
	}
	var pathParams, queryParams []string
	for _, p := range op.Parameters {
		switch p.In {
		case "path":
			pathParams = append(pathParams, p.Name)
		case "query":
			queryParams = append(queryParams, p.Name)
		}
	}
	target := func(segment, segValue, param, paramValue string) string {
		p := path
		for _, name := range pathParams {
			v := url.PathEscape(pathFill(path, name))
			if name == segment {
				v = segValue
			}
			p = strings.Replace(p, "{"+name+"}", v, 1)
		}
		q := url.Values{}
		for _, name := range queryParams {
			if v, ok := queryFill[name]; ok && name != param {
				q.Set(name, v)
			}
		}
		raw := q.Encode()
		if param != "" {
			if raw != "" {
				raw += "&"
			}
			raw += url.QueryEscape(param) + "=" + paramValue
		}
		if raw != "" {
			p += "?" + raw
		}
		return p
	}

	var vs []variant
	// Path segments and query parameters, escaped as a client would send them.
	hostileURL := []struct{ class, value string }{
		{"nul", "hostile%00"},
		{"invalid-utf8", "hostile%FF"},
		{"oversize", strings.Repeat("x", oversizeURLBytes)},
	}
	for _, name := range pathParams {
		for _, h := range hostileURL {
			v := variant{class: h.class, where: "path {" + name + "}", field: name, target: target(name, h.value, "", ""), body: bodyBytes}
			if h.class != "oversize" {
				v.name = "path"
			}
			vs = append(vs, v)
		}
	}
	for _, name := range queryParams {
		for _, h := range hostileURL {
			v := variant{class: h.class, where: "query " + name, field: name, target: target("", "", name, h.value), body: bodyBytes}
			if h.class != "oversize" {
				v.name = name
			}
			vs = append(vs, v)
		}
	}
	if base == nil {
		return vs
	}
	plain := target("", "", "", "")
	for _, f := range base.fields("", "", false) {
		add := func(class string, raw []byte, dup bool, named bool) {
			v := variant{class: class, where: f.path, field: f.name, target: plain, body: base.encode(f.node, raw, dup)}
			if named {
				v.name = f.name
			}
			vs = append(vs, v)
		}
		if f.node.typ == "string" || f.node.typ == "" {
			add("nul", []byte(`"hostile\u0000"`), false, true)
			add("invalid-utf8", []byte("\"hostile\xff\""), false, true)
			add("oversize", []byte(`"`+strings.Repeat("x", oversizeBodyBytes)+`"`), false, false)
		}
		if wrong := wrongType[f.node.typ]; wrong != "" {
			add("wrong-type", []byte(wrong), false, true)
		}
		if f.member {
			add("duplicate-key", nil, true, true)
		}
		add("too-deep", []byte(strings.Repeat("[", deepNesting)+strings.Repeat("]", deepNesting)), false, true)
	}
	if len(vs) == 0 {
		t.Logf("nothing to attack")
	}
	return vs
}

// wrongType is a value of another JSON type than the one declared.
var wrongType = map[string]string{
	"string": `12345`, "integer": `"12"`, "number": `"1.5"`, "boolean": `"true"`, "object": `["hostile"]`, "array": `{"hostile":1}`,
}

// queryFill gives query parameters the sweep does not attack a value that gets the request
// past its first check, so the attacked one is read.
var queryFill = map[string]string{"book": "acme"}

// pathFill gives a path parameter the sweep does not attack a value: a real name where
// only reads can follow (an account, an offline table, a view), so the query parameters
// behind it are reached; elsewhere a name of nothing ("hostile", a month with no entries),
// so that a write the server wrongly let through would touch nothing that matters.
func pathFill(path, name string) string {
	parts := strings.Split(path, "/")
	before := ""
	for i, p := range parts {
		if p == "{"+name+"}" && i > 0 {
			before = parts[i-1]
		}
	}
	switch {
	case name == "code":
		return "1200"
	case name == "period":
		return "1900-01"
	case name == "kind":
		return "FeatureView"
	case name == "version":
		return "1"
	case before == "ids":
		return "1"
	case name == "id":
		return "00000000-0000-4000-8000-000000000000"
	case before == "tables":
		return "ledger_lines"
	case before == "views":
		return "account_activity"
	}
	return "hostile"
}

// build makes a valid-shaped value for s: every declared property, one item in each array,
// one member in each map.
func (doc *apiDoc) build(s *apiSchema, name string, depth int) *jsonNode {
	if s == nil || depth > maxSchemaDepth {
		return &jsonNode{scalar: []byte(`"hostile"`)}
	}
	if s.Ref != "" {
		return doc.build(doc.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")], name, depth+1)
	}
	n := &jsonNode{typ: s.Type}
	switch s.Type {
	case "object":
		n.object = true
		keys := make([]string, 0, len(s.Properties))
		for k := range s.Properties {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			n.keys, n.vals = append(n.keys, k), append(n.vals, doc.build(s.Properties[k], k, depth+1))
		}
		if len(keys) == 0 {
			var extra *apiSchema
			if len(s.AdditionalProperties) > 0 && s.AdditionalProperties[0] == '{' {
				extra = &apiSchema{}
				_ = json.Unmarshal(s.AdditionalProperties, extra)
			}
			// "0" is a key maps of numbers (partition offsets) take too; the member is
			// named by its map's name, as the decoder names it.
			n.keys, n.vals = []string{"0"}, []*jsonNode{doc.build(extra, name, depth+1)}
			n.isMap = true
		}
	case "array":
		n.items = []*jsonNode{doc.build(s.Items, name, depth+1)}
	case "integer", "number":
		n.scalar = []byte(`1`)
	case "boolean":
		// true: a batch is then all-or-nothing, so one refused entry refuses the call.
		n.scalar = []byte(`true`)
	case "string":
		n.scalar, _ = json.Marshal(sampleString(name, s.Format))
	default:
		n.typ, n.scalar = "", []byte(`"hostile"`)
	}
	return n
}

// sampleString is a plausible value, so that a body gets as far into validation as it can.
func sampleString(name, format string) string {
	switch {
	case format == "date-time":
		return "2026-01-15T00:00:00Z"
	case name == "book":
		return "acme"
	case name == "account":
		return "1200"
	case name == "currency" || name == "base_currency":
		return "EUR"
	case strings.HasSuffix(name, "_date"):
		return "2026-01-15"
	}
	return "hostile"
}

// fields lists every value in the body with its path.
func (n *jsonNode) fields(path, name string, member bool) []bodyField {
	var out []bodyField
	if path != "" {
		out = append(out, bodyField{path: path, name: name, node: n, member: member})
	}
	for i, k := range n.keys {
		p := k
		if path != "" {
			p = path + "." + k
		}
		named := k
		if n.isMap {
			named = name
		}
		out = append(out, n.vals[i].fields(p, named, true)...)
	}
	for i, it := range n.items {
		out = append(out, it.fields(fmt.Sprintf("%s[%d]", path, i), name, false)...)
	}
	return out
}

// encode writes the body with target's value replaced by raw, or, when dup, with target's
// key sent twice.
func (n *jsonNode) encode(target *jsonNode, raw []byte, dup bool) []byte {
	var b bytes.Buffer
	n.write(&b, target, raw, dup)
	return b.Bytes()
}

func (n *jsonNode) write(b *bytes.Buffer, target *jsonNode, raw []byte, dup bool) {
	switch {
	case n == target && !dup:
		b.Write(raw)
	case n.object:
		b.WriteByte('{')
		for i, k := range n.keys {
			times := 1
			if n.vals[i] == target && dup {
				times = 2
			}
			for j := range times {
				if i > 0 || j > 0 {
					b.WriteByte(',')
				}
				key, _ := json.Marshal(k)
				b.Write(key)
				b.WriteByte(':')
				n.vals[i].write(b, target, raw, dup)
			}
		}
		b.WriteByte('}')
	case n.typ == "array":
		b.WriteByte('[')
		for i, it := range n.items {
			if i > 0 {
				b.WriteByte(',')
			}
			it.write(b, target, raw, dup)
		}
		b.WriteByte(']')
	default:
		b.Write(n.scalar)
	}
}
