// Package schemas holds Codexion's event contracts: the CloudEvents 1.0 envelope every
// event travels in, the form in which a domain declares the event types it publishes (type,
// aggregate, topic, JSON Schema 2020-12), and compiled schema sets. Producers validate a
// payload before it leaves; consumers may validate on arrival. It never decides what a
// domain publishes (each domain declares that itself), only whether a payload matches.
package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/codexion/codexion/platform/httpx"
)

// BaseURI prefixes every schema's $id; the dataschema of an event is BaseURI+type+".json".
const BaseURI = "https://codexion.dev/schemas/"

// SpecVersion and ContentType of the structured CloudEvents JSON format.
const (
	SpecVersion = "1.0"
	ContentType = "application/cloudevents+json"
)

// Event is a CloudEvent in structured JSON mode. ID is unique and is every consumer's
// dedupe key; TraceParent carries the W3C trace context as an extension attribute.
type Event struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	DataSchema      string          `json:"dataschema"`
	TraceParent     string          `json:"traceparent,omitempty"`
	Data            json.RawMessage `json:"data"`
}

// DataSchemaOf names the schema of an event type.
func DataSchemaOf(eventType string) string { return BaseURI + eventType + ".json" }

// Decode reads a structured CloudEvent and checks its required attributes. A message is
// one JSON object and nothing after it; as in request bodies, a key given twice or in two
// cases, NUL, invalid UTF-8 and nesting past httpx.MaxJSONDepth are refused, so that every
// consumer reads the attributes (the id it dedupes by) as the producer wrote them.
func Decode(b []byte) (Event, error) {
	if err := httpx.CheckJSON(b, httpx.MaxJSONDepth); err != nil {
		return Event{}, fmt.Errorf("not a CloudEvents JSON document: %w", err)
	}
	var e Event
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&e); err != nil {
		return Event{}, fmt.Errorf("not a CloudEvents JSON document: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Event{}, errors.New("not a CloudEvents JSON document: data follows the event")
	}
	var missing []string
	for name, v := range map[string]string{"specversion": e.SpecVersion, "id": e.ID, "source": e.Source, "type": e.Type} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return Event{}, fmt.Errorf("CloudEvent lacks %s", strings.Join(missing, ", "))
	}
	if e.SpecVersion != SpecVersion {
		return Event{}, fmt.Errorf("CloudEvent specversion %q; this consumer reads %s", e.SpecVersion, SpecVersion)
	}
	return e, nil
}

// Set is the compiled schemas of every known event type.
type Set struct {
	schemas map[string]*jsonschema.Schema
	raw     map[string][]byte
}

// NoLoader is the JSON Schema compiler's loader: it loads nothing. A $ref reaches only
// the documents added to the compiler (the metaschemas, the set's own schemas and the
// registry's references); never a file, a URL on the network, or anything else.
type NoLoader struct{}

// Load refuses every URL with the same words, so that nothing is learned about it.
func (NoLoader) Load(string) (any, error) {
	return nil, errNotRegistered
}

var errNotRegistered = errors.New("it is not a registered schema; a $ref may reach only the subjects named in the schema's references")

// Compile builds a set from JSON Schema texts by event type (as the registry holds them).
func Compile(raw map[string][]byte) (*Set, error) {
	return CompileWithReferences(raw, nil)
}

// CompileWithReferences is Compile with the schemas that raw's references reach, by the
// absolute URL each $ref resolves to.
func CompileWithReferences(raw, refs map[string][]byte) (*Set, error) {
	c := jsonschema.NewCompiler()
	c.UseLoader(NoLoader{})
	c.AssertFormat()
	s := &Set{schemas: map[string]*jsonschema.Schema{}, raw: map[string][]byte{}}
	for u, body := range refs {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("referenced schema %s: %w", u, err)
		}
		if err := c.AddResource(u, doc); err != nil {
			return nil, fmt.Errorf("referenced schema %s: %w", u, err)
		}
	}
	for typ, body := range raw {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("schema of %s: %w", typ, err)
		}
		s.raw[typ] = body
		if ref, ok := refs[DataSchemaOf(typ)]; ok {
			if !bytes.Equal(ref, body) {
				return nil, fmt.Errorf("schema of %s: a reference reaches another version of it than the latest", typ)
			}
			continue // added as a reference
		}
		if err := c.AddResource(DataSchemaOf(typ), doc); err != nil {
			return nil, fmt.Errorf("schema of %s: %w", typ, err)
		}
	}
	for typ := range s.raw {
		sch, err := c.Compile(DataSchemaOf(typ))
		if err != nil {
			return nil, fmt.Errorf("compile schema of %s: %w", typ, err)
		}
		s.schemas[typ] = sch
	}
	return s, nil
}

// Types lists the known event types, sorted.
func (s *Set) Types() []string {
	out := make([]string, 0, len(s.raw))
	for t := range s.raw {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Raw returns a type's schema document.
func (s *Set) Raw(eventType string) ([]byte, bool) {
	b, ok := s.raw[eventType]
	return b, ok
}

// Validate checks data against the schema of eventType. The error says which field broke
// which rule.
func (s *Set) Validate(eventType string, data []byte) error {
	sch, ok := s.schemas[eventType]
	if !ok {
		return fmt.Errorf("no schema is registered for event type %q", eventType)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("payload is not JSON: %w", err)
	}
	if err := sch.Validate(v); err != nil {
		return fmt.Errorf("payload does not match %s: %s", eventType, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return nil
}
