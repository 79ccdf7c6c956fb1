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
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"gopkg.in/yaml.v3"

	"github.com/codexion/codexion/catalog"
	"github.com/codexion/codexion/features/offline"
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

// Source is a topic and the event types taken from it, or files (for backfills).
type Source struct {
	Topic      string   `yaml:"topic,omitempty" json:"topic,omitempty"`
	EventTypes []string `yaml:"event_types,omitempty" json:"event_types,omitempty"`
	// Files is a glob of Parquet, CSV or JSON files read instead of a topic: each file is
	// one batch, ingested once (again only if its size changes; rows are deduped by id).
	Files  string `yaml:"files,omitempty" json:"files,omitempty"`
	Format string `yaml:"format,omitempty" json:"format,omitempty"` // parquet (default), csv, json
	// Columns, when given, are decoded from each event's data in Go into typed Arrow
	// columns: the batch then holds event_id, event_type, event_time and these columns
	// (one row per element of Explode when set) instead of the raw data as JSON text.
	Explode string   `yaml:"explode,omitempty" json:"explode,omitempty"`
	Columns []Column `yaml:"columns,omitempty" json:"columns,omitempty"`
	// Validate is how events are checked against the registry: "schema" (the default)
	// validates each event's data against the JSON Schema registered for its type;
	// "producer" accepts events whose dataschema names that registered schema, for topics
	// whose producer validated each event before publishing (Codexion's outbox relay does,
	// and dead-letters what fails). Decoded columns are type-checked either way.
	Validate string `yaml:"validate,omitempty" json:"validate,omitempty"`
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
	switch {
	case s.Source.Topic != "" && s.Source.Files != "":
		bad("source names a topic and files: give one")
	case s.Source.Files != "":
		if _, err := filepath.Match(s.Source.Files, ""); err != nil {
			bad("source.files %q is not a valid glob", s.Source.Files)
		}
		if s.Source.Format == "" {
			s.Source.Format = "parquet"
		}
		if s.Source.Format != "parquet" && s.Source.Format != "csv" && s.Source.Format != "json" {
			bad("source.format %q: use parquet, csv or json", s.Source.Format)
		}
		if len(s.Source.EventTypes) > 0 || len(s.Source.Columns) > 0 || s.Source.Explode != "" {
			bad("source.event_types, columns and explode are for topics; a file's columns are read as they are")
		}
	case s.Source.Topic == "":
		bad("source.topic (or source.files) is required")
	case len(s.Source.EventTypes) == 0:
		bad("source.event_types lists no event type")
	}
	seen := map[string]bool{"event_id": true, "event_type": true, "event_time": true}
	for i, c := range s.Source.Columns {
		if !identPattern.MatchString(c.Name) || seen[c.Name] {
			bad("source.columns[%d].name %q: a plain lower-case identifier, once, other than event_id, event_type, event_time", i, c.Name)
		}
		seen[c.Name] = true
	}
	switch s.Source.Validate {
	case "":
		s.Source.Validate = "schema"
	case "schema", "producer":
	default:
		bad("source.validate %q: use schema or producer", s.Source.Validate)
	}
	if len(s.Source.Columns) > 0 || s.Source.Explode != "" {
		if len(s.Source.Columns) == 0 {
			bad("source.explode needs source.columns")
		} else if _, err := newDecoder(s.Source.Explode, s.Source.Columns); err != nil {
			bad("%v", err)
		}
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
	return s, catalog.SpecProblems("pipeline "+s.Name, problems)
}

// BatchTable is DuckDB DDL for an empty table shaped like one of the pipeline's decoded
// batches, which its transform reads as {{batch}}.
func (s Spec) BatchTable() string {
	if s.Source.Files != "" {
		return "AS SELECT * FROM " + FileReader(s.Source.Format, s.Source.Files) + " LIMIT 0"
	}
	if len(s.Source.Columns) == 0 {
		return RawTable
	}
	defs := []string{"event_id VARCHAR", "event_type VARCHAR", "event_time TIMESTAMPTZ"}
	for _, c := range s.Source.Columns {
		defs = append(defs, offline.QuoteIdent(c.Name)+" "+duckType(c.Type))
	}
	return "(" + strings.Join(defs, ", ") + ")"
}

// FileReader is the DuckDB table function reading path (a file or a glob) in format.
func FileReader(format, path string) string {
	quoted := "'" + strings.ReplaceAll(path, "'", "''") + "'"
	switch format {
	case "csv":
		return "read_csv(" + quoted + ", header = true)"
	case "json":
		return "read_json(" + quoted + ")"
	}
	return "read_parquet(" + quoted + ")"
}

// duckType writes a column type the spec declared as DuckDB's name for it: only the types
// arrowType accepts (ParseSpec refused any other), so no text of the spec reaches the DDL.
func duckType(t string) string {
	switch dt := mustArrowType(t).(type) {
	case *arrow.Decimal128Type:
		return fmt.Sprintf("DECIMAL(%d, %d)", dt.Precision, dt.Scale)
	case *arrow.TimestampType:
		return "TIMESTAMP"
	default:
		switch dt.ID() {
		case arrow.INT32:
			return "INTEGER"
		case arrow.INT64:
			return "BIGINT"
		case arrow.FLOAT64:
			return "DOUBLE"
		case arrow.BOOL:
			return "BOOLEAN"
		case arrow.DATE32:
			return "DATE"
		}
	}
	return "VARCHAR"
}

func mustArrowType(t string) arrow.DataType {
	dt, err := arrowType(t)
	if err != nil {
		return arrow.BinaryTypes.String
	}
	return dt
}
