package features

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/codexion/codexion/catalog"
	"github.com/codexion/codexion/pipelines"
	"github.com/codexion/codexion/platform"
)

// How documents declare the feature store's objects.
const (
	KindEntity  = "Entity"
	KindView    = "FeatureView"
	KindService = "FeatureService"
)

// Kinds are the feature store's catalog kinds, to register from app/.
func Kinds() []catalog.Kind { return []catalog.Kind{EntityKind{}, ViewKind{}, ServiceKind{}} }

// parse is Parse for the kinds whose spec checks itself.
func parse[T any, P interface {
	*T
	Check() error
}](body []byte, name func(*T) string) (string, any, error) {
	var v T
	if err := catalog.Strict(body, &v); err != nil {
		return "", nil, err
	}
	err := P(&v).Check()
	return name(&v), v, err
}

func decode[T any](stored []byte) (any, error) {
	var v T
	err := json.Unmarshal(stored, &v)
	return v, err
}

// EntityKind registers entities.
type EntityKind struct{}

func (EntityKind) Name() string   { return KindEntity }
func (EntityKind) Plural() string { return "entities" }
func (EntityKind) Parse(body []byte) (string, any, error) {
	return parse[Entity](body, func(e *Entity) string { return e.Name })
}
func (EntityKind) Decode(stored []byte) (any, error)               { return decode[Entity](stored) }
func (EntityKind) References(*catalog.Snapshot, string, any) error { return nil }
func (EntityKind) DeleteBreaks() string                            { return "" } // views refer to it, and References keeps it while they do
func (EntityKind) Breaking(prev, next catalog.Versioned[any]) []string {
	if p, n := prev.Spec.(Entity), next.Spec.(Entity); n.JoinKey != p.JoinKey {
		return []string{fmt.Sprintf("join_key changes from %s to %s", p.JoinKey, n.JoinKey)}
	}
	return nil
}

// ViewKind registers feature views.
type ViewKind struct{}

func (ViewKind) Name() string   { return KindView }
func (ViewKind) Plural() string { return "views" }
func (ViewKind) Parse(body []byte) (string, any, error) {
	return parse[View](body, func(v *View) string { return v.Name })
}
func (ViewKind) Decode(stored []byte) (any, error) { return decode[View](stored) }
func (ViewKind) DeleteBreaks() string {
	return "its features can no longer be served or used for training"
}

// References: a view's entity is declared.
func (ViewKind) References(snap *catalog.Snapshot, name string, spec any) error {
	v := spec.(View)
	if _, ok := snap.Get(KindEntity, v.Entity); !ok {
		return fmt.Errorf("feature view %s: entity %q is not declared (declared: %s)", name, v.Entity, strings.Join(snap.Names(KindEntity), ", "))
	}
	return nil
}

func (ViewKind) Breaking(prev, next catalog.Versioned[any]) []string {
	p, n := prev.Spec.(View), next.Spec.(View)
	var out []string
	if n.Entity != p.Entity || n.Source.Table != p.Source.Table || n.Source.EntityColumn != p.Source.EntityColumn ||
		n.Source.TimestampColumn != p.Source.TimestampColumn {
		out = append(out, "entity or source changes")
	}
	for _, f := range p.Features {
		nf, ok := n.Feature(f.Name)
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("feature %s is removed", f.Name))
		case nf.Column != f.Column || nf.Aggregation != f.Aggregation || nf.Window != f.Window:
			out = append(out, fmt.Sprintf("feature %s changes meaning", f.Name))
		}
	}
	return out
}

// ServiceKind registers feature services.
type ServiceKind struct{}

func (ServiceKind) Name() string   { return KindService }
func (ServiceKind) Plural() string { return "services" }
func (ServiceKind) Parse(body []byte) (string, any, error) {
	return parse[Service](body, func(s *Service) string { return s.Name })
}
func (ServiceKind) Decode(stored []byte) (any, error) { return decode[Service](stored) }
func (ServiceKind) DeleteBreaks() string              { return "its consumers can no longer ask for it" }

// References: every feature a service lists exists.
func (ServiceKind) References(snap *catalog.Snapshot, name string, spec any) error {
	c := CatalogOf(snap)
	for _, ref := range spec.(Service).Features {
		if _, err := c.Resolve([]string{ref}); err != nil {
			return fmt.Errorf("feature service %s: %w", name, err)
		}
	}
	return nil
}

func (ServiceKind) Breaking(prev, next catalog.Versioned[any]) []string {
	p, n := prev.Spec.(Service), next.Spec.(Service)
	var out []string
	for _, f := range p.Features {
		if !slices.Contains(n.Features, f) {
			out = append(out, fmt.Sprintf("feature %s is removed", f))
		}
	}
	return out
}

// Catalog is the feature store's part of a catalog snapshot, typed: what the feature server
// and the pipelines' orchestration read.
// Its JSON is the whole snapshot's (GET /v1/catalog), which decodes back into it.
type Catalog struct {
	Revision  int64                                        `json:"revision"`
	Pipelines map[string]catalog.Versioned[pipelines.Spec] `json:"pipelines"`
	Entities  map[string]catalog.Versioned[Entity]         `json:"entities"`
	Views     map[string]catalog.Versioned[View]           `json:"views"`
	Services  map[string]catalog.Versioned[Service]        `json:"services"`
	// Snapshot is the whole snapshot it was read from (nil when decoded from JSON).
	Snapshot *catalog.Snapshot `json:"-"`
}

// MarshalJSON writes the whole snapshot the catalog was read from, every kind included.
func (c *Catalog) MarshalJSON() ([]byte, error) {
	if c.Snapshot != nil {
		return json.Marshal(c.Snapshot)
	}
	type plain Catalog
	return json.Marshal((*plain)(c))
}

// CatalogOf reads the feature store's objects out of snap.
func CatalogOf(snap *catalog.Snapshot) *Catalog {
	return &Catalog{Revision: snap.Revision, Pipelines: pipelines.All(snap), Entities: catalog.Of[Entity](snap, KindEntity),
		Views: catalog.Of[View](snap, KindView), Services: catalog.Of[Service](snap, KindService), Snapshot: snap}
}

// Ref is one resolved feature.
type Ref struct {
	View    string
	Feature string
}

// Resolve turns "view:feature" and "view" (every feature of the view) into refs, in order,
// without repeats. The error names the first unknown view or feature.
func (c *Catalog) Resolve(names []string) ([]Ref, error) {
	var out []Ref
	seen := map[Ref]bool{}
	for _, n := range names {
		view, feat, _ := strings.Cut(n, ":")
		v, ok := c.Views[view]
		if !ok {
			return nil, platform.Invalid("feature %q: no feature view %q (views: %s)", n, view, strings.Join(sortedNames(c.Views), ", "))
		}
		var fs []string
		if feat == "" || feat == "*" {
			for _, f := range v.Spec.Features {
				fs = append(fs, f.Name)
			}
		} else {
			if _, ok := v.Spec.Feature(feat); !ok {
				return nil, platform.Invalid("feature %q: view %s has no feature %q", n, view, feat)
			}
			fs = []string{feat}
		}
		for _, f := range fs {
			r := Ref{view, f}
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// PipelineFor returns the pipeline writing table, if any.
func (c *Catalog) PipelineFor(table string) (catalog.Versioned[pipelines.Spec], bool) {
	for _, p := range c.Pipelines {
		if p.Spec.Sink.Table == table {
			return p, true
		}
	}
	return catalog.Versioned[pipelines.Spec]{}, false
}

func sortedNames[T any](m map[string]T) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
