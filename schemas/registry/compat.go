package registry

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
)

// The compatibility levels, as Confluent Schema Registry names them.
var Levels = []string{"BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE"}

// maxSchemaDepth bounds recursion through nested schemas.
const maxSchemaDepth = 64

// Compatible reports the rules a new schema breaks against earlier versions (oldest first)
// at the given level. Backward: the new schema can read data written with the old one.
// Forward: the old schema can read data written with the new one.
func Compatible(level string, newSchema any, earlier []any) []string {
	if level == "NONE" || len(earlier) == 0 {
		return nil
	}
	against := earlier[len(earlier)-1:]
	if level == "BACKWARD_TRANSITIVE" || level == "FORWARD_TRANSITIVE" || level == "FULL_TRANSITIVE" {
		against = earlier
	}
	var out []string
	for i, old := range against {
		tag := ""
		if len(against) > 1 {
			tag = fmt.Sprintf(" (against version %d)", len(earlier)-len(against)+i+1)
		}
		if level != "FORWARD" && level != "FORWARD_TRANSITIVE" {
			for _, m := range readable(newSchema, old, "#", 0) {
				out = append(out, "backward: "+m+tag)
			}
		}
		if level != "BACKWARD" && level != "BACKWARD_TRANSITIVE" {
			for _, m := range readable(old, newSchema, "#", 0) {
				out = append(out, "forward: "+m+tag)
			}
		}
	}
	return out
}

// readable lists why data valid against writer might be invalid against reader.
func readable(reader, writer any, path string, depth int) []string {
	if depth > maxSchemaDepth {
		return []string{path + ": schema nested too deep to compare"}
	}
	if acceptsAll(reader) {
		return nil
	}
	if w, ok := writer.(bool); ok && !w {
		return nil // the writer accepts nothing: nothing to read
	}
	r, rok := reader.(map[string]any)
	w, wok := writer.(map[string]any)
	if !rok {
		return []string{path + ": reader accepts nothing"}
	}
	if !wok {
		w = map[string]any{} // writer true: accepts anything
	}
	var out []string
	for _, k := range []string{"oneOf", "anyOf", "allOf", "not", "$ref", "if", "then", "else"} {
		if !reflect.DeepEqual(r[k], w[k]) {
			out = append(out, fmt.Sprintf("%s: COMBINED_TYPE_CHANGED (%s differs)", path, k))
		}
	}
	rt, wt := types(r), types(w)
	if rt != nil {
		if wt == nil {
			out = append(out, fmt.Sprintf("%s: TYPE_NARROWED (reader allows only %v, writer any type)", path, rt))
		} else {
			for _, t := range wt {
				if !slices.Contains(rt, t) && (t != "integer" || !slices.Contains(rt, "number")) {
					out = append(out, fmt.Sprintf("%s: TYPE_CHANGED (writer type %s is not a reader type %v)", path, t, rt))
				}
			}
		}
	}
	if re, ok := r["enum"].([]any); ok {
		we, wok := w["enum"].([]any)
		if !wok {
			out = append(out, path+": ENUM_ARRAY_NARROWED (reader has an enum, writer none)")
		} else {
			for _, v := range we {
				if !containsJSON(re, v) {
					out = append(out, fmt.Sprintf("%s: ENUM_ARRAY_NARROWED (writer value %v not in reader enum)", path, v))
				}
			}
		}
	}
	if rc, ok := r["const"]; ok && !reflect.DeepEqual(rc, w["const"]) {
		out = append(out, path+": CONST_CHANGED")
	}
	for _, k := range []string{"maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties"} {
		if narrowedMax(r[k], w[k]) {
			out = append(out, fmt.Sprintf("%s: %s narrowed", path, k))
		}
	}
	for _, k := range []string{"minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties"} {
		if narrowedMin(r[k], w[k]) {
			out = append(out, fmt.Sprintf("%s: %s narrowed", path, k))
		}
	}
	for _, k := range []string{"pattern", "format", "multipleOf"} {
		if rv, ok := r[k]; ok && !reflect.DeepEqual(rv, w[k]) {
			out = append(out, fmt.Sprintf("%s: %s added or changed", path, k))
		}
	}
	if items, ok := r["items"]; ok {
		wi, wok := w["items"]
		if !wok {
			wi = true
		}
		out = append(out, readable(items, wi, path+"/items", depth+1)...)
	}
	out = append(out, objects(r, w, path, depth)...)
	return out
}

// objects applies the property rules, including open and closed content models: a writer
// with an open model may have written any property, so a reader that adds a property (with
// a schema narrower than "anything") cannot be sure to read it; a reader with a closed model
// cannot read a property the writer may have written.
func objects(r, w map[string]any, path string, depth int) []string {
	var out []string
	rp, _ := r["properties"].(map[string]any)
	wp, _ := w["properties"].(map[string]any)
	wAdd, wHas := w["additionalProperties"]
	if !wHas {
		wAdd = true
	}
	rAdd, rHas := r["additionalProperties"]
	if !rHas {
		rAdd = true
	}
	rReq, _ := r["required"].([]any)
	wReq, _ := w["required"].([]any)
	for _, q := range rReq {
		if !containsJSON(wReq, q) {
			out = append(out, fmt.Sprintf("%s: REQUIRED_PROPERTY_ADDED (%v)", path, q))
		}
	}
	for _, name := range sortedKeys(rp) {
		sub := path + "/properties/" + name
		if ws, ok := wp[name]; ok {
			out = append(out, readable(rp[name], ws, sub, depth+1)...)
			continue
		}
		if b, ok := wAdd.(bool); ok && !b {
			continue // closed writer never wrote it
		}
		if len(readable(rp[name], wAdd, sub, depth+1)) > 0 {
			out = append(out, fmt.Sprintf("%s: PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", sub))
		}
	}
	for _, name := range sortedKeys(wp) {
		if _, ok := rp[name]; ok {
			continue
		}
		sub := path + "/properties/" + name
		if b, ok := rAdd.(bool); ok && !b {
			out = append(out, fmt.Sprintf("%s: PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", sub))
			continue
		}
		for _, m := range readable(rAdd, wp[name], sub, depth+1) {
			out = append(out, m+" (PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL)")
		}
	}
	if b, ok := rAdd.(bool); ok && !b {
		if wb, ok := wAdd.(bool); !ok || wb {
			out = append(out, path+": ADDITIONAL_PROPERTIES_REMOVED (reader closed, writer open)")
		}
	}
	return out
}

func acceptsAll(s any) bool {
	switch v := s.(type) {
	case bool:
		return v
	case map[string]any:
		for k := range v {
			switch k {
			case "$schema", "$id", "title", "description", "$comment", "examples", "default":
			default:
				return false
			}
		}
		return true
	}
	return false
}

func types(s map[string]any) []string {
	switch t := s["type"].(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			if str, ok := x.(string); ok {
				out = append(out, str)
			}
		}
		return out
	}
	return nil
}

func num(v any) (float64, bool) {
	f, ok := v.(float64)
	return f, ok
}

func narrowedMax(r, w any) bool {
	rv, rok := num(r)
	if !rok {
		return false
	}
	wv, wok := num(w)
	return !wok || rv < wv
}

func narrowedMin(r, w any) bool {
	rv, rok := num(r)
	if !rok {
		return false
	}
	wv, wok := num(w)
	return !wok || rv > wv
}

func containsJSON(list []any, v any) bool {
	for _, x := range list {
		if reflect.DeepEqual(x, v) {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// parseSchema reads a schema document.
func parseSchema(s string) (any, error) {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, err
	}
	switch v.(type) {
	case map[string]any, bool:
		return v, nil
	}
	return nil, fmt.Errorf("a JSON Schema is an object or a boolean")
}
