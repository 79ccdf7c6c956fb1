package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/codexion/codexion/internal/dbtest"
	"github.com/codexion/codexion/platform"
)

// toy is a kind this package has never heard of, declared only here: a threshold that
// refers to another threshold by name.
type toy struct {
	Name    string  `yaml:"name" json:"name"`
	Limit   float64 `yaml:"limit" json:"limit"`
	Follows string  `yaml:"follows,omitempty" json:"follows,omitempty"`
}

type toyKind struct{}

func (toyKind) Name() string   { return "Threshold" }
func (toyKind) Plural() string { return "thresholds" }
func (toyKind) Parse(body []byte) (string, any, error) {
	var t toy
	if err := Strict(body, &t); err != nil {
		return "", nil, err
	}
	if t.Limit <= 0 {
		return t.Name, t, fmt.Errorf("threshold %s: limit must be positive", t.Name)
	}
	return t.Name, t, nil
}
func (toyKind) Decode(stored []byte) (any, error) {
	var t toy
	err := json.Unmarshal(stored, &t)
	return t, err
}
func (toyKind) References(snap *Snapshot, name string, spec any) error {
	if f := spec.(toy).Follows; f != "" {
		if _, ok := snap.Get("Threshold", f); !ok {
			return fmt.Errorf("threshold %s follows %q, which is not declared", name, f)
		}
	}
	return nil
}
func (toyKind) Breaking(prev, next Versioned[any]) []string {
	if next.Spec.(toy).Limit < prev.Spec.(toy).Limit {
		return []string{"the limit goes down"}
	}
	return nil
}
func (toyKind) DeleteBreaks() string { return "" }

// TestANewKindNeedsNoEditOfTheCatalog: a kind registered from outside is parsed strictly,
// versioned, diffed with its own breaking rule, checked for its references, shown in the
// snapshot's JSON under its plural, and deleted, with nothing in this package knowing it.
func TestANewKindNeedsNoEditOfTheCatalog(t *testing.T) {
	ctx := context.Background()
	s := NewStore(dbtest.Migrated(t, Migrations()).Pool, NewKinds(toyKind{}))
	doc := func(content string) []Document { return []Document{{File: "t.yaml", Content: content}} }
	if _, err := s.Apply(ctx, doc("kind: Threshold\nname: a\nlimit: 10\n---\nkind: Threshold\nname: b\nlimit: 5\nfollows: a\n"), Options{}, nil); err != nil {
		t.Fatal(err)
	}
	_, err := s.Apply(ctx, doc("kind: Threshold\nname: c\nlimit: 1\nfollows: nope\n"), Options{}, nil)
	if platform.KindOf(err) != platform.KindInvalid || !strings.Contains(err.Error(), `follows "nope"`) {
		t.Fatalf("a dangling reference: %v", err)
	}
	_, err = s.Apply(ctx, doc("kind: Threshold\nname: a\nlimit: 10\ncolour: red\n"), Options{}, nil)
	if platform.KindOf(err) != platform.KindInvalid || !strings.Contains(err.Error(), "colour") {
		t.Fatalf("an unknown field: %v", err)
	}
	var pe *platform.Error
	if _, err = s.Apply(ctx, doc("kind: Threshold\nname: z\nlimit: -1\n"), Options{}, nil); !asError(err, &pe) || len(pe.Fields) != 1 || pe.Fields[0].Field != "t.yaml:1" {
		t.Fatalf("a bad document names its file and line as the field: %+v", pe)
	}
	_, err = s.Apply(ctx, doc("kind: Threshold\nname: a\nlimit: 3\n"), Options{}, nil)
	if platform.KindOf(err) != platform.KindConflict || !strings.Contains(err.Error(), "the limit goes down") {
		t.Fatalf("a breaking change without force: %v", err)
	}
	res, err := s.Apply(ctx, doc("kind: Threshold\nname: a\nlimit: 3\n"), Options{Force: true}, nil)
	if err != nil || res.Changes[0].Version != 2 {
		t.Fatalf("forced: %+v %v", res, err)
	}
	snap, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := Lookup[toy](snap, "Threshold", "a"); !ok || a.Spec.Limit != 3 || a.Version != 2 {
		t.Fatalf("typed lookup: %+v %v", a, ok)
	}
	body, _ := json.Marshal(snap)
	if !strings.Contains(string(body), `"thresholds":{"a":`) {
		t.Fatalf("snapshot JSON: %s", body)
	}
	if _, err := s.Delete(ctx, "Threshold", "a", Options{}); platform.KindOf(err) != platform.KindInvalid {
		t.Fatalf("deleting what another follows: %v", err)
	}
	if _, err := s.Delete(ctx, "Threshold", "b", Options{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := s.Delete(ctx, "Gadget", "x", Options{}); platform.KindOf(err) != platform.KindInvalid || !strings.Contains(err.Error(), "Threshold") {
		t.Fatalf("an unregistered kind: %v", err)
	}
}

func asError(err error, target **platform.Error) bool {
	e, ok := err.(*platform.Error) //nolint:errorlint // Apply returns the problem itself
	*target = e
	return ok
}
