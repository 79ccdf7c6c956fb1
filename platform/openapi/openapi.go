// Package openapi builds an OpenAPI 3.1 document from the routes a router declares and
// the Go types their handlers read and write, so the document cannot drift from the code.
package openapi

import (
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/codexion/codexion/platform/httpx"
)

// Op describes one route beyond what the router knows.
type Op struct {
	Summary  string
	Request  any    // a value of the request body type, or nil
	Response any    // a value of the success body type, or nil
	Status   string // success status, default "200"
	Query    []Param
	Tag      string
}

// Param is a query parameter.
type Param struct {
	Name, Description string
	Required          bool
}

// Doc is the OpenAPI document, kept as plain maps so it marshals in a stable order.
type Doc map[string]any

var (
	pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)
	pkgPath   = regexp.MustCompile(`[\w./-]*\.`) // "github.com/x/ledger." in generic type names
)

// idempotencyKeyDoc describes the Idempotency-Key header of writes (see platform/idempotency).
const idempotencyKeyDoc = "Retry-safe writes. A key belongs to the caller (the token's subject) and this operation " +
	"(method and route): the same key with the same request (path, the query parameters the operation reads, body) " +
	"replays the first result (Idempotency-Replayed: true); with a different request it is 409 idempotency_key_reused. " +
	"Other query parameters play no part, and another caller's key with the same value is a different key."

// Build renders the document for rules, using ops by route pattern.
func Build(title, version string, rules []httpx.Rule, ops map[string]Op) Doc {
	schemas := map[string]any{}
	paths := map[string]any{}
	for _, r := range rules {
		method, path, _ := strings.Cut(r.Pattern, " ")
		op := ops[r.Pattern]
		o := map[string]any{"summary": op.Summary, "operationId": operationID(r.Pattern)}
		if op.Tag != "" {
			o["tags"] = []string{op.Tag}
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range op.Query {
			params = append(params, map[string]any{"name": q.Name, "in": "query", "required": q.Required,
				"description": q.Description, "schema": map[string]any{"type": "string"}})
		}
		if method == "POST" {
			params = append(params, map[string]any{"name": "Idempotency-Key", "in": "header", "required": false,
				"description": idempotencyKeyDoc,
				"schema":      map[string]any{"type": "string", "maxLength": 255}})
		}
		if len(params) > 0 {
			o["parameters"] = params
		}
		if op.Request != nil {
			o["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": schemaRef(reflect.TypeOf(op.Request), schemas)}}}
		}
		status := op.Status
		if status == "" {
			status = "200"
		}
		ok := map[string]any{"description": "success"}
		if op.Response != nil {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": schemaRef(reflect.TypeOf(op.Response), schemas)}}
		}
		responses := map[string]any{status: ok, "default": map[string]any{"$ref": "#/components/responses/Problem"}}
		if r.Access.IsPublic() {
			o["security"] = []any{}
		} else {
			o["description"] = "Roles: " + strings.Join(r.Access.Allowed(), ", ") + "."
			responses["401"] = map[string]any{"$ref": "#/components/responses/Problem"}
			responses["403"] = map[string]any{"$ref": "#/components/responses/Problem"}
		}
		o["responses"] = responses
		p, _ := paths[path].(map[string]any)
		if p == nil {
			p = map[string]any{}
			paths[path] = p
		}
		p[strings.ToLower(method)] = o
	}
	schemas["Problem"] = map[string]any{"type": "object", "description": "RFC 9457 problem details",
		"properties": map[string]any{
			"type": map[string]any{"type": "string"}, "title": map[string]any{"type": "string"},
			"status": map[string]any{"type": "integer"}, "detail": map[string]any{"type": "string"},
			"instance": map[string]any{"type": "string"}, "code": map[string]any{"type": "string", "description": "stable machine-readable code"},
			"request_id": map[string]any{"type": "string"},
			"errors": map[string]any{"type": "array", "items": map[string]any{"type": "object", "properties": map[string]any{
				"field": map[string]any{"type": "string"}, "message": map[string]any{"type": "string"}}}},
		}, "required": []string{"type", "title", "status", "code"}}
	return Doc{
		"openapi": "3.1.0",
		"info":    map[string]any{"title": title, "version": version},
		"paths":   paths,
		"components": map[string]any{
			"schemas":         schemas,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
			"responses": map[string]any{"Problem": map[string]any{"description": "problem details",
				"content": map[string]any{"application/problem+json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}}}},
		},
		"security": []any{map[string]any{"bearer": []string{}}},
	}
}

func operationID(pattern string) string {
	method, path, _ := strings.Cut(pattern, " ")
	parts := []string{strings.ToLower(method)}
	for _, seg := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == ':' || r == '-' || r == '.' }) {
		seg = strings.Trim(seg, "{}")
		if seg == "" {
			continue
		}
		parts = append(parts, strings.ToUpper(seg[:1])+seg[1:])
	}
	return strings.Join(parts, "")
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// schemaRef returns a schema for t, registering named struct types under components.
func schemaRef(t reflect.Type, schemas map[string]any) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case rawType:
		return map[string]any{"type": "object"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaRef(t.Elem(), schemas)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaRef(t.Elem(), schemas)}
	case reflect.Struct:
		name := strings.NewReplacer("[", "", "]", "", "*", "").Replace(pkgPath.ReplaceAllString(t.Name(), ""))
		if name == "" {
			return structSchema(t, schemas)
		}
		if _, ok := schemas[name]; !ok {
			schemas[name] = map[string]any{} // placeholder against recursion
			schemas[name] = structSchema(t, schemas)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

func structSchema(t reflect.Type, schemas map[string]any) map[string]any {
	props := map[string]any{}
	var required []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			if sub, ok := structSchema(f.Type, schemas)["properties"].(map[string]any); ok {
				for k, v := range sub {
					props[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = schemaRef(f.Type, schemas)
		if !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
			required = append(required, name)
		}
	}
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		slices.Sort(required)
		s["required"] = required
	}
	return s
}
