// Package features declares and serves features: entities, feature views over offline
// tables (columns or windowed aggregates, with a TTL), and feature services that name sets
// of features. Definitions are YAML documents applied through the catalog; the Server
// answers online lookups (Feast-compatible), materializes views into the online store,
// and builds point-in-time correct training sets from the offline store.
package features

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/codexion/codexion/catalog"
)

// Duration is a span written as Go does ("90m", "1h30m") or in whole days ("7d").
type Duration time.Duration

// ParseDuration reads "7d" or any Go duration.
func ParseDuration(s string) (Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("duration %q: use whole days such as 7d, or 1h, 30m", s)
		}
		return Duration(time.Duration(days) * 24 * time.Hour), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: use whole days such as 7d, or 1h, 30m", s)
	}
	return Duration(d), nil
}

// String writes whole days as "7d", whole hours as "1h", whole minutes as "30m" and
// anything else as Go does.
func (d Duration) String() string {
	td := time.Duration(d)
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}} {
		if td > 0 && td%u.unit == 0 {
			return fmt.Sprintf("%d%s", td/u.unit, u.name)
		}
	}
	return td.String()
}

// UnmarshalYAML reads a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// MarshalYAML writes the string form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalJSON writes the string form.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads the string form.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := ParseDuration(s)
	*d = v
	return err
}

// Entity is what features describe, named by a join key in requests.
type Entity struct {
	Name        string `yaml:"name" json:"name"`
	JoinKey     string `yaml:"join_key" json:"join_key"` // the key's name in requests; default the entity's name
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
}

// View is a feature view: features of one entity computed from one offline table.
type View struct {
	Name        string     `yaml:"name" json:"name"`
	Entity      string     `yaml:"entity" json:"entity"`
	Description string     `yaml:"description,omitempty" json:"description,omitempty"`
	Source      ViewSource `yaml:"source" json:"source"`
	// TTL is how old the entity's latest event may be, at the time asked about, for its
	// values to count; older values come back as OUTSIDE_MAX_AGE online and NULL offline.
	TTL Duration `yaml:"ttl,omitempty" json:"ttl,omitempty"`
	// Online says whether the view is kept in the online store (default true).
	Online *bool `yaml:"online,omitempty" json:"online,omitempty"`
	// MaterializeEvery is how often the orchestrator refreshes the online store; 0 never.
	MaterializeEvery Duration  `yaml:"materialize_every,omitempty" json:"materialize_every,omitempty"`
	Features         []Feature `yaml:"features" json:"features"`
}

// ViewSource names the offline table and its entity key and time columns.
type ViewSource struct {
	Table           string `yaml:"table" json:"table"`
	EntityColumn    string `yaml:"entity_column" json:"entity_column"`
	TimestampColumn string `yaml:"timestamp_column" json:"timestamp_column"`
	// CreatedColumn breaks ties between rows with the same event timestamp: the later wins.
	CreatedColumn string `yaml:"created_column,omitempty" json:"created_column,omitempty"`
}

// Feature is one value of a view: the latest value of a column, or an aggregate of a
// column (any SQL expression over a source row) over a trailing window.
type Feature struct {
	Name        string   `yaml:"name" json:"name"`
	Column      string   `yaml:"column,omitempty" json:"column,omitempty"`
	Aggregation string   `yaml:"aggregation,omitempty" json:"aggregation,omitempty"`
	Window      Duration `yaml:"window,omitempty" json:"window,omitempty"` // 0: all history
	Description string   `yaml:"description,omitempty" json:"description,omitempty"`
}

// Service is a named set of features, as "view:feature" or "view" for all of a view's.
type Service struct {
	Name        string   `yaml:"name" json:"name"`
	Description string   `yaml:"description,omitempty" json:"description,omitempty"`
	Features    []string `yaml:"features" json:"features"`
}

// Aggregations a feature may use. "last" (or none) is the latest value.
var Aggregations = []string{"last", "sum", "count", "avg", "min", "max", "days_since_last"}

var ident = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// IsOnline reports whether the view is served online.
func (v View) IsOnline() bool { return v.Online == nil || *v.Online }

// Aggregated reports whether any feature aggregates (then every feature is computed as of
// the time asked about, not taken from the latest row).
func (v View) Aggregated() bool {
	for _, f := range v.Features {
		if f.agg() != "last" {
			return true
		}
	}
	return false
}

func (f Feature) agg() string {
	if f.Aggregation == "" {
		return "last"
	}
	return f.Aggregation
}

// Feature returns the named feature.
func (v View) Feature(name string) (Feature, bool) {
	i := slices.IndexFunc(v.Features, func(f Feature) bool { return f.Name == name })
	if i < 0 {
		return Feature{}, false
	}
	return v.Features[i], true
}

// Check validates an entity on its own and fills defaults.
func (e *Entity) Check() error {
	var p problems
	if !ident.MatchString(e.Name) {
		p.add("name %q: use lower-case letters, digits and '_'", e.Name)
	}
	if e.JoinKey == "" {
		e.JoinKey = e.Name
	}
	if !ident.MatchString(e.JoinKey) {
		p.add("join_key %q: use lower-case letters, digits and '_'", e.JoinKey)
	}
	return p.err("entity " + e.Name)
}

// Expressions lists the SQL expressions of the view's features (user SQL, checked by
// offline.CheckExpr before it runs).
func (v View) Expressions() []string {
	var out []string
	for _, f := range v.Features {
		if f.Column != "" {
			out = append(out, f.Column)
		}
	}
	return out
}

// Check validates a view on its own (not its references) and fills defaults.
func (v *View) Check() error {
	var p problems
	if !ident.MatchString(v.Name) {
		p.add("name %q: use lower-case letters, digits and '_'", v.Name)
	}
	if v.Entity == "" {
		p.add("entity is required")
	}
	for field, val := range map[string]string{"source.table": v.Source.Table, "source.entity_column": v.Source.EntityColumn,
		"source.timestamp_column": v.Source.TimestampColumn} {
		if !ident.MatchString(val) {
			p.add("%s %q is required and must be a plain lower-case identifier", field, val)
		}
	}
	if v.Source.CreatedColumn != "" && !ident.MatchString(v.Source.CreatedColumn) {
		p.add("source.created_column %q must be a plain lower-case identifier", v.Source.CreatedColumn)
	}
	if v.TTL < 0 || v.MaterializeEvery < 0 {
		p.add("ttl and materialize_every must not be negative")
	}
	if len(v.Features) == 0 {
		p.add("features lists nothing")
	}
	seen := map[string]bool{}
	for i, f := range v.Features {
		at := fmt.Sprintf("features[%d]", i)
		if !ident.MatchString(f.Name) {
			p.add("%s.name %q: use lower-case letters, digits and '_'", at, f.Name)
		}
		if seen[f.Name] {
			p.add("%s.name %q appears twice", at, f.Name)
		}
		seen[f.Name] = true
		if !slices.Contains(Aggregations, f.agg()) {
			p.add("%s.aggregation %q: use one of %s", at, f.Aggregation, strings.Join(Aggregations, ", "))
		}
		switch {
		case f.agg() == "days_since_last":
			if f.Column != "" || f.Window != 0 {
				p.add("%s: days_since_last takes neither column nor window", at)
			}
		case f.Column == "":
			p.add("%s.column is required (a column or SQL expression of %s)", at, v.Source.Table)
		case strings.Contains(f.Column, ";"):
			p.add("%s.column must be one expression, without ';'", at)
		}
		if f.Window < 0 || (f.Window > 0 && f.agg() == "last") {
			p.add("%s.window is for aggregations and must be positive", at)
		}
	}
	return p.err("feature view " + v.Name)
}

// Check validates a service on its own.
func (s *Service) Check() error {
	var p problems
	if !ident.MatchString(s.Name) {
		p.add("name %q: use lower-case letters, digits and '_'", s.Name)
	}
	if len(s.Features) == 0 {
		p.add("features lists nothing")
	}
	return p.err("feature service " + s.Name)
}

type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (p problems) err(what string) error { return catalog.SpecProblems(what, p) }
