package catalog

import (
	"encoding/json"
	"maps"
	"slices"
	"time"
)

// Versioned is an object in force with its version.
type Versioned[T any] struct {
	Spec      T         `json:"spec"`
	Version   int       `json:"version"`
	Schema    []Column  `json:"schema,omitempty"`
	AppliedAt time.Time `json:"applied_at"`
	AppliedBy string    `json:"applied_by,omitempty"`
}

// Key names one object.
type Key struct {
	Kind string
	Name string
}

// Snapshot is every object in force at one revision, by kind and name. Domains read their
// own kinds typed, with Of and Lookup.
type Snapshot struct {
	Revision int64
	kinds    *Kinds
	objects  map[string]map[string]Versioned[any]
}

// NewSnapshot returns an empty snapshot of kinds (nil for none).
func NewSnapshot(kinds *Kinds) *Snapshot {
	return &Snapshot{kinds: kinds, objects: map[string]map[string]Versioned[any]{}}
}

// Get returns one object.
func (s *Snapshot) Get(kind, name string) (Versioned[any], bool) {
	v, ok := s.objects[kind][name]
	return v, ok
}

// Names lists the names of kind's objects, sorted.
func (s *Snapshot) Names(kind string) []string {
	return slices.Sorted(maps.Keys(s.objects[kind]))
}

// Of returns kind's objects with their specs as T (the type its Kind parses to).
func Of[T any](s *Snapshot, kind string) map[string]Versioned[T] {
	out := make(map[string]Versioned[T], len(s.objects[kind]))
	for name, v := range s.objects[kind] {
		if spec, ok := v.Spec.(T); ok {
			out[name] = Versioned[T]{Spec: spec, Version: v.Version, Schema: v.Schema, AppliedAt: v.AppliedAt, AppliedBy: v.AppliedBy}
		}
	}
	return out
}

// Lookup returns one object of kind with its spec as T.
func Lookup[T any](s *Snapshot, kind, name string) (Versioned[T], bool) {
	v, ok := s.objects[kind][name]
	spec, isT := v.Spec.(T)
	if !ok || !isT {
		return Versioned[T]{}, false
	}
	return Versioned[T]{Spec: spec, Version: v.Version, Schema: v.Schema, AppliedAt: v.AppliedAt, AppliedBy: v.AppliedBy}, true
}

func (s *Snapshot) put(kind, name string, v Versioned[any]) {
	if s.objects[kind] == nil {
		s.objects[kind] = map[string]Versioned[any]{}
	}
	s.objects[kind][name] = v
}

func (s *Snapshot) remove(kind, name string) { delete(s.objects[kind], name) }

func (s *Snapshot) clone() *Snapshot {
	c := NewSnapshot(s.kinds)
	c.Revision = s.Revision
	for kind, objs := range s.objects {
		c.objects[kind] = maps.Clone(objs)
	}
	return c
}

// MarshalJSON writes {"revision": N, "<plural>": {name: object}, ...} for every registered
// kind, in registration order.
func (s *Snapshot) MarshalJSON() ([]byte, error) {
	b := []byte(`{"revision":`)
	rev, _ := json.Marshal(s.Revision)
	b = append(b, rev...)
	var kinds []Kind
	if s.kinds != nil {
		kinds = s.kinds.list
	}
	for _, kind := range kinds {
		objs := s.objects[kind.Name()]
		if objs == nil {
			objs = map[string]Versioned[any]{}
		}
		key, _ := json.Marshal(kind.Plural())
		val, err := json.Marshal(objs)
		if err != nil {
			return nil, err
		}
		b = append(append(append(append(b, ','), key...), ':'), val...)
	}
	return append(b, '}'), nil
}
