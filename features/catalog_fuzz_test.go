package features_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/codexion/codexion/catalog"
	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/pipelines"
)

// FuzzParse reads any file as catalog YAML. Whatever Parse accepts is an object of a known
// kind, named by its spec, whose spec checks again unchanged (defaults already filled),
// reads back equal from the JSON the store keeps, and parses back equal from its own YAML.
// Whatever it refuses is an error, never a panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte(entity + "---\n" + view))
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := testKinds.Parse("f.yaml", data)
		if err != nil {
			return
		}
		for _, o := range objs {
			again := recheck(t, o)
			if !reflect.DeepEqual(again, o.Spec) {
				t.Fatalf("%s %s checks to\n%#v\nnot\n%#v", o.Kind, o.Name, again, o.Spec)
			}
			stored, err := json.Marshal(o.Spec)
			if err != nil {
				t.Fatalf("%s %s: %v", o.Kind, o.Name, err)
			}
			if back := fromJSON(t, o.Kind, stored); !reflect.DeepEqual(back, o.Spec) {
				t.Fatalf("%s %s reads back from %s as\n%#v\nnot\n%#v", o.Kind, o.Name, stored, back, o.Spec)
			}
			text, err := yaml.Marshal(o.Spec)
			if err != nil {
				t.Fatalf("%s %s: %v", o.Kind, o.Name, err)
			}
			reparsed, err := testKinds.Parse("again.yaml", append([]byte("kind: "+o.Kind+"\n"), text...))
			if err != nil || len(reparsed) != 1 || !reflect.DeepEqual(reparsed[0].Spec, o.Spec) {
				t.Fatalf("%s %s does not parse back from\n%s\n%v %#v", o.Kind, o.Name, text, err, reparsed)
			}
		}
	})
}

// recheck checks a copy of o's spec again and returns it.
func recheck(t *testing.T, o catalog.Object) any {
	t.Helper()
	var name string
	var err error
	var out any
	switch s := o.Spec.(type) {
	case pipelines.Spec:
		body, merr := yaml.Marshal(s)
		if merr != nil {
			t.Fatal(merr)
		}
		again, perr := pipelines.ParseSpec(body)
		name, err, out = again.Name, perr, again
	case features.Entity:
		name, err, out = s.Name, s.Check(), s
	case features.View:
		name, err, out = s.Name, s.Check(), s
	case features.Service:
		name, err, out = s.Name, s.Check(), s
	default:
		t.Fatalf("object %s %s has a spec of type %T", o.Kind, o.Name, o.Spec)
	}
	if err != nil {
		t.Fatalf("%s %s was accepted but does not check again: %v", o.Kind, o.Name, err)
	}
	if name == "" || name != o.Name {
		t.Fatalf("%s is named %q, its spec %q", o.Kind, o.Name, name)
	}
	return out
}

func fromJSON(t *testing.T, kind string, stored []byte) any {
	t.Helper()
	var err error
	var out any
	switch kind {
	case pipelines.KindName:
		var s pipelines.Spec
		err, out = json.Unmarshal(stored, &s), &s
	case features.KindEntity:
		var s features.Entity
		err, out = json.Unmarshal(stored, &s), &s
	case features.KindView:
		var s features.View
		err, out = json.Unmarshal(stored, &s), &s
	case features.KindService:
		var s features.Service
		err, out = json.Unmarshal(stored, &s), &s
	default:
		t.Fatalf("unknown kind %q", kind)
	}
	if err != nil {
		t.Fatalf("%s does not read back from %s: %v", kind, stored, err)
	}
	return reflect.ValueOf(out).Elem().Interface()
}
