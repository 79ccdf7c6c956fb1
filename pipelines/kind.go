package pipelines

import (
	"encoding/json"
	"fmt"

	"github.com/codexion/codexion/catalog"
)

// KindName is how documents declare a pipeline.
const KindName = "Pipeline"

// Kind registers pipelines with the catalog.
type Kind struct{}

var _ catalog.Kind = Kind{}

func (Kind) Name() string   { return KindName }
func (Kind) Plural() string { return "pipelines" }

func (Kind) Parse(body []byte) (string, any, error) {
	s, err := ParseSpec(body)
	return s.Name, s, err
}

func (Kind) Decode(stored []byte) (any, error) {
	var s Spec
	err := json.Unmarshal(stored, &s)
	return s, err
}

// References: no two pipelines write one table.
func (Kind) References(snap *catalog.Snapshot, name string, spec any) error {
	s := spec.(Spec)
	for _, other := range snap.Names(KindName) {
		if other >= name {
			break // each pair is reported once, by its later name
		}
		if p, _ := catalog.Lookup[Spec](snap, KindName, other); p.Spec.Sink.Table == s.Sink.Table {
			return fmt.Errorf("pipelines %s and %s both write table %s", other, name, s.Sink.Table)
		}
	}
	return nil
}

func (Kind) Breaking(prev, next catalog.Versioned[any]) []string {
	p, n := prev.Spec.(Spec), next.Spec.(Spec)
	var out []string
	if n.Sink != p.Sink {
		out = append(out, fmt.Sprintf("sink changes from %s(%s) to %s(%s)", p.Sink.Table, p.Sink.IDColumn, n.Sink.Table, n.Sink.IDColumn))
	}
	if prev.Schema != nil && catalog.SchemaChanged(prev.Schema, next.Schema) {
		out = append(out, fmt.Sprintf("the transform's output columns change (%s → %s); table %s is rebuilt from the topic",
			catalog.ColumnList(prev.Schema), catalog.ColumnList(next.Schema), n.Sink.Table))
	}
	return out
}

func (Kind) DeleteBreaks() string { return "its table stops receiving events" }

// All returns the pipelines in force in snap.
func All(snap *catalog.Snapshot) map[string]catalog.Versioned[Spec] {
	return catalog.Of[Spec](snap, KindName)
}

// For returns the pipeline writing table, if any.
func For(snap *catalog.Snapshot, table string) (catalog.Versioned[Spec], bool) {
	for _, p := range All(snap) {
		if p.Spec.Sink.Table == table {
			return p, true
		}
	}
	return catalog.Versioned[Spec]{}, false
}
