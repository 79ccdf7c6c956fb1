// Package pipelines turns events on Kafka into rows in the offline store: a pipeline spec
// names a source topic and the event types it takes, a DuckDB SQL transform over each
// decoded batch, and a sink table. The engine decodes CloudEvents, validates them against
// their schemas, builds Arrow record batches and appends them with their Kafka offsets and
// event ids in one DuckDB transaction. It never skips a malformed event silently: those go
// to the dead-letter topic and the pipeline moves on.
package pipelines

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Spec is a pipeline as declared in YAML.
type Spec struct {
	Kind      string `yaml:"kind,omitempty" json:"-"` // "Pipeline" when given (a spec file names its kind)
	Name      string `yaml:"name" json:"name"`
	Source    Source `yaml:"source" json:"source"`
	Transform string `yaml:"transform" json:"transform"`
	Sink      Sink   `yaml:"sink" json:"sink"`
	BatchRows int    `yaml:"batch_rows" json:"batch_rows"`
	// FlushInterval bounds how long events wait in a partial batch.
	FlushInterval time.Duration `yaml:"flush_interval" json:"flush_interval"`
}

// Source is a topic and the event types taken from it.
type Source struct {
	Topic      string   `yaml:"topic" json:"topic"`
	EventTypes []string `yaml:"event_types" json:"event_types"`
}

// Sink is the offline table rows land in.
type Sink struct {
	Table    string `yaml:"table" json:"table"`
	IDColumn string `yaml:"id_column" json:"id_column"`
}

// Bounds of a spec.
const (
	DefaultBatchRows     = 5000
	MaxBatchRows         = 100_000
	DefaultFlushInterval = time.Second
	maxSpecBytes         = 256 << 10
)

var (
	namePattern  = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	identPattern = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
)

// ParseSpec reads and checks one spec; the error names the field to fix.
func ParseSpec(data []byte) (Spec, error) {
	var s Spec
	if len(data) > maxSpecBytes {
		return s, fmt.Errorf("pipeline spec is larger than %d bytes", maxSpecBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("pipeline spec: %w", err)
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if s.Kind != "" && s.Kind != "Pipeline" {
		bad("kind %q: a pipeline spec is of kind Pipeline", s.Kind)
	}
	s.Kind = ""
	if !namePattern.MatchString(s.Name) {
		bad("name %q: use lower-case letters, digits and '-'", s.Name)
	}
	if s.Source.Topic == "" {
		bad("source.topic is required")
	}
	if len(s.Source.EventTypes) == 0 {
		bad("source.event_types lists no event type")
	}
	if !strings.Contains(s.Transform, "{{batch}}") {
		bad("transform must read the batch as {{batch}}")
	}
	if !identPattern.MatchString(s.Sink.Table) {
		bad("sink.table %q is not a plain lower-case identifier", s.Sink.Table)
	}
	if s.Sink.IDColumn == "" {
		s.Sink.IDColumn = "event_id"
	}
	if !identPattern.MatchString(s.Sink.IDColumn) {
		bad("sink.id_column %q is not a plain lower-case identifier", s.Sink.IDColumn)
	}
	switch {
	case s.BatchRows == 0:
		s.BatchRows = DefaultBatchRows
	case s.BatchRows < 1 || s.BatchRows > MaxBatchRows:
		bad("batch_rows %d: use 1 to %d", s.BatchRows, MaxBatchRows)
	}
	if s.FlushInterval == 0 {
		s.FlushInterval = DefaultFlushInterval
	}
	if s.FlushInterval < 0 {
		bad("flush_interval must be positive")
	}
	if len(problems) > 0 {
		return s, fmt.Errorf("pipeline %s: %s", s.Name, strings.Join(problems, "; "))
	}
	return s, nil
}
