package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/codexion/codexion/platform"
)

// Kind is one kind of object users declare in YAML, registered with the catalog by the
// package that owns it (from app/). The catalog knows nothing of any kind's meaning: it
// parses, versions, diffs and stores what a Kind tells it to.
type Kind interface {
	// Name is the kind as written in a document's `kind:` line, e.g. FeatureView.
	Name() string
	// Plural names the kind's objects in a snapshot's JSON, e.g. views.
	Plural() string
	// Parse reads one document's body (its other keys, as YAML), strictly, checks the
	// object on its own and returns its name and spec. Errors say which field is wrong.
	Parse(body []byte) (name string, spec any, err error)
	// Decode reads a spec as the catalog stored it (its JSON).
	Decode(stored []byte) (any, error)
	// References checks what the object says about others in snap (which holds it).
	References(snap *Snapshot, name string, spec any) error
	// Breaking lists what a new version breaks for the users of the previous one.
	Breaking(prev, next Versioned[any]) []string
	// DeleteBreaks says what deleting an object of the kind breaks; "" when nothing does.
	DeleteBreaks() string
}

// Kinds is the set of registered kinds, in the order objects are shown.
type Kinds struct {
	list   []Kind
	byName map[string]Kind
}

// NewKinds registers kinds; two kinds with one name or plural are a programming error.
func NewKinds(kinds ...Kind) *Kinds {
	k := &Kinds{byName: map[string]Kind{}}
	plurals := map[string]bool{}
	for _, kind := range kinds {
		if _, dup := k.byName[kind.Name()]; dup || plurals[kind.Plural()] {
			panic("catalog kind " + kind.Name() + " is registered twice")
		}
		k.byName[kind.Name()], plurals[kind.Plural()] = kind, true
		k.list = append(k.list, kind)
	}
	return k
}

// Get returns the kind named name.
func (k *Kinds) Get(name string) (Kind, bool) {
	kind, ok := k.byName[name]
	return kind, ok
}

// Names lists the registered kinds' names in registration order.
func (k *Kinds) Names() []string {
	out := make([]string, len(k.list))
	for i, kind := range k.list {
		out[i] = kind.Name()
	}
	return out
}

// Object is one parsed document.
type Object struct {
	Kind   string
	Name   string
	Spec   any // what the kind's Parse returned
	Origin string
}

// DocumentError is one document that could not be read: where it is and why.
type DocumentError struct {
	Origin string // file:line
	Err    error
}

func (e *DocumentError) Error() string { return e.Origin + ": " + e.Err.Error() }
func (e *DocumentError) Unwrap() error { return e.Err }

// Parse reads the YAML documents of one file ("---" separated); each names its kind. Each
// document that cannot be read is a *DocumentError among the joined errors.
func (k *Kinds) Parse(file string, data []byte) ([]Object, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []Object
	var errs []error
	for {
		var node yaml.Node
		err := dec.Decode(&node)
		if err != nil && err.Error() == "EOF" {
			break
		}
		if err != nil {
			return nil, &DocumentError{Origin: file, Err: fmt.Errorf("invalid YAML: %w", err)}
		}
		origin := fmt.Sprintf("%s:%d", file, node.Line)
		obj, err := k.parseDoc(&node)
		if err != nil {
			errs = append(errs, &DocumentError{Origin: origin, Err: err})
			continue
		}
		obj.Origin = origin
		out = append(out, obj)
	}
	return out, errors.Join(errs...)
}

func (k *Kinds) parseDoc(doc *yaml.Node) (Object, error) {
	m := doc
	if m.Kind == yaml.DocumentNode && len(m.Content) == 1 {
		m = m.Content[0]
	}
	known := strings.Join(k.Names(), ", ")
	if m.Kind != yaml.MappingNode {
		return Object{}, fmt.Errorf("a document must be a mapping with kind: one of %s", known)
	}
	kindName := ""
	rest := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "kind" {
			kindName = m.Content[i+1].Value
			continue
		}
		rest.Content = append(rest.Content, m.Content[i], m.Content[i+1])
	}
	kind, ok := k.byName[kindName]
	switch {
	case kindName == "":
		return Object{}, fmt.Errorf("kind is missing: use one of %s", known)
	case !ok:
		return Object{}, fmt.Errorf("kind %q is unknown: use one of %s", kindName, known)
	}
	body, err := yaml.Marshal(rest)
	if err != nil {
		return Object{}, err
	}
	name, spec, err := kind.Parse(body)
	return Object{Kind: kindName, Name: name, Spec: spec}, err
}

// Strict decodes a document body into v, refusing fields v does not have: the Parse of most
// kinds starts with it.
func Strict(body []byte, v any) error {
	d := yaml.NewDecoder(bytes.NewReader(body))
	d.KnownFields(true)
	return d.Decode(v)
}

// fieldPath is the field a spec problem starts with: source.files, features[2].window.
var fieldPath = regexp.MustCompile(`^[a-z_][a-z0-9_]*(\[[0-9]+\])?(\.[a-z_][a-z0-9_]*(\[[0-9]+\])?)*`)

// SpecProblems is the error a kind's Parse returns for a document whose fields are wrong:
// what ("pipeline ledger-lines") with every problem, each also as a field error named by the
// field path its message starts with, so an apply's answer can say file, line and field.
func SpecProblems(what string, problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	e := platform.Invalid("%s: %s", what, strings.Join(problems, "; "))
	for _, p := range problems {
		e.Fields = append(e.Fields, platform.FieldError{Field: fieldPath.FindString(p), Message: p})
	}
	return e
}
