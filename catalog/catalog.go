// Package catalog keeps what users declare in YAML (pipelines, entities, feature views and
// feature services) as versioned objects in PostgreSQL. An apply parses every document,
// checks each on its own, against the others and against the offline store (through a
// Validator), diffs it with what is in force and writes the changed objects as new
// versions in one transaction: nothing is ever registered half-way. A change that would
// break what is running or what models were trained on needs force.
package catalog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"gopkg.in/yaml.v3"

	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/pipelines"
	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/postgres"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations is the catalog's migration source.
func Migrations() postgres.Source { return postgres.Embedded("catalog", migrations) }

// Kinds of object.
const (
	KindPipeline = "Pipeline"
	KindEntity   = "Entity"
	KindView     = "FeatureView"
	KindService  = "FeatureService"
)

// Kinds lists every kind, in the order objects are shown.
var Kinds = []string{KindPipeline, KindEntity, KindView, KindService}

// Document is one file as sent to apply.
type Document struct {
	File    string `json:"file"`
	Content string `json:"content"`
}

// Column is one column of a derived schema.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Versioned is an object in force with its version.
type Versioned[T any] struct {
	Spec      T         `json:"spec"`
	Version   int       `json:"version"`
	Schema    []Column  `json:"schema,omitempty"`
	AppliedAt time.Time `json:"applied_at"`
	AppliedBy string    `json:"applied_by,omitempty"`
}

// Snapshot is every object in force at one revision.
type Snapshot struct {
	Revision  int64                                  `json:"revision"`
	Pipelines map[string]Versioned[pipelines.Spec]   `json:"pipelines"`
	Entities  map[string]Versioned[features.Entity]  `json:"entities"`
	Views     map[string]Versioned[features.View]    `json:"views"`
	Services  map[string]Versioned[features.Service] `json:"services"`
}

// NewSnapshot returns an empty snapshot.
func NewSnapshot() *Snapshot {
	return &Snapshot{Pipelines: map[string]Versioned[pipelines.Spec]{}, Entities: map[string]Versioned[features.Entity]{},
		Views: map[string]Versioned[features.View]{}, Services: map[string]Versioned[features.Service]{}}
}

// Object is one parsed document.
type Object struct {
	Kind   string
	Name   string
	Spec   any // pipelines.Spec, features.Entity, features.View or features.Service
	Origin string
}

// Parse reads the YAML documents of one file ("---" separated); each names its kind.
func Parse(file string, data []byte) ([]Object, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []Object
	var errs []error
	for i := 0; ; i++ {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, os.ErrClosed) || (err != nil && err.Error() == "EOF") {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: invalid YAML: %w", file, err)
		}
		origin := fmt.Sprintf("%s:%d", file, node.Line)
		obj, err := parseDoc(&node)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", origin, err))
			continue
		}
		obj.Origin = origin
		out = append(out, obj)
	}
	return out, errors.Join(errs...)
}

func parseDoc(doc *yaml.Node) (Object, error) {
	m := doc
	if m.Kind == yaml.DocumentNode && len(m.Content) == 1 {
		m = m.Content[0]
	}
	if m.Kind != yaml.MappingNode {
		return Object{}, fmt.Errorf("a document must be a mapping with kind: one of %s", strings.Join(Kinds, ", "))
	}
	kind := ""
	rest := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "kind" {
			kind = m.Content[i+1].Value
			continue
		}
		rest.Content = append(rest.Content, m.Content[i], m.Content[i+1])
	}
	body, err := yaml.Marshal(rest)
	if err != nil {
		return Object{}, err
	}
	strict := func(v any) error {
		d := yaml.NewDecoder(bytes.NewReader(body))
		d.KnownFields(true)
		if err := d.Decode(v); err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
		return nil
	}
	switch kind {
	case KindPipeline:
		s, err := pipelines.ParseSpec(body)
		return Object{Kind: kind, Name: s.Name, Spec: s}, err
	case KindEntity:
		var e features.Entity
		if err := strict(&e); err != nil {
			return Object{}, err
		}
		return Object{Kind: kind, Name: e.Name, Spec: e}, e.Check()
	case KindView:
		var v features.View
		if err := strict(&v); err != nil {
			return Object{}, err
		}
		return Object{Kind: kind, Name: v.Name, Spec: v}, v.Check()
	case KindService:
		var s features.Service
		if err := strict(&s); err != nil {
			return Object{}, err
		}
		return Object{Kind: kind, Name: s.Name, Spec: s}, s.Check()
	case "":
		return Object{}, fmt.Errorf("kind is missing: use one of %s", strings.Join(Kinds, ", "))
	default:
		return Object{}, fmt.Errorf("kind %q is unknown: use one of %s", kind, strings.Join(Kinds, ", "))
	}
}

// ReadDir reads every .yaml and .yml file under dir (or the one file dir names), in
// lexical order.
func ReadDir(dir string) ([]Document, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	var paths []string
	if !info.IsDir() {
		paths = []string{dir}
	} else {
		err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if ext := filepath.Ext(p); !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
				paths = append(paths, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%s holds no .yaml files", dir)
	}
	sort.Strings(paths)
	docs := make([]Document, 0, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		docs = append(docs, Document{File: p, Content: string(b)})
	}
	return docs, nil
}

// Validator checks a whole would-be snapshot against the offline store and returns the
// output columns of each pipeline (its sink table's schema).
type Validator func(ctx context.Context, next *Snapshot) (map[string][]Column, error)

// Options of an apply.
type Options struct {
	DryRun bool
	Force  bool   // accept breaking changes
	Actor  string // who applies, recorded with each version
}

// Change is what an apply did (or would do) to one object.
type Change struct {
	Kind     string   `json:"kind"`
	Name     string   `json:"name"`
	Action   string   `json:"action"` // created, updated, unchanged
	Version  int      `json:"version"`
	Breaking []string `json:"breaking,omitempty"`
	Origin   string   `json:"origin"`
}

// Result is an apply's outcome.
type Result struct {
	Revision int64    `json:"revision"`
	DryRun   bool     `json:"dry_run"`
	Changes  []Change `json:"changes"`
}

// Store keeps the catalog in PostgreSQL.
type Store struct{ db *pgxpool.Pool }

// NewStore returns the catalog over db.
func NewStore(db *pgxpool.Pool) *Store { return &Store{db: db} }

const applyLock = 7_262_001 // advisory lock serializing applies

// Apply parses, checks and diffs docs, then writes every changed object as a new version
// in one transaction. Bad input is KindInvalid naming the file and the field; a breaking
// change without force is KindConflict naming what breaks.
func (s *Store) Apply(ctx context.Context, docs []Document, opts Options, validate Validator) (Result, error) {
	var objs []Object
	var errs []error
	for _, d := range docs {
		o, err := Parse(d.File, []byte(d.Content))
		objs = append(objs, o...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Result{}, platform.Invalid("%v", err)
	}
	if len(objs) == 0 {
		return Result{}, platform.Invalid("nothing to apply: no documents")
	}
	seen := map[string]string{}
	for _, o := range objs {
		k := o.Kind + "/" + o.Name
		if prev, ok := seen[k]; ok {
			return Result{}, platform.Invalid("%s %s is declared twice: %s and %s", o.Kind, o.Name, prev, o.Origin)
		}
		seen[k] = o.Origin
	}

	// Validation (which runs every transform in DuckDB) happens outside the apply lock, so a
	// slow one delays no other apply; the lock is then taken only to diff and write. If the
	// catalog moved on meanwhile, what was validated is stale: validate again.
	for attempt := 1; ; attempt++ {
		validatedAt, schemas, err := s.validated(ctx, objs, validate)
		if err != nil {
			return Result{}, err
		}
		tx, cur, err := s.begin(ctx)
		if err != nil {
			return Result{}, err
		}
		var now int64
		if err := tx.QueryRow(ctx, latestRevision).Scan(&now); err != nil {
			tx.Rollback(ctx) //nolint:errcheck // the error above is the one to report
			return Result{}, err
		}
		if now == validatedAt {
			res, err := s.write(ctx, tx, cur, objs, schemas, opts)
			tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
			return res, err
		}
		tx.Rollback(ctx) //nolint:errcheck // nothing was written
		if attempt == maxApplyAttempts {
			return Result{}, platform.E(platform.KindConflict, "catalog_busy",
				"the catalog changed %d times while this apply was being checked; apply again", attempt)
		}
	}
}

// maxApplyAttempts bounds how often an apply validates again because others applied meanwhile.
const maxApplyAttempts = 5

// latestRevision is the catalog's latest revision, deletions included.
const latestRevision = `SELECT coalesce(max(revision), 0) FROM catalog_objects`

// validated checks objs applied over the catalog as it is now, without the apply lock, and
// returns the revision it checked against and the pipelines' output columns.
func (s *Store) validated(ctx context.Context, objs []Object, validate Validator) (int64, map[string][]Column, error) {
	// The revision is read first: a change committed before the snapshot is read makes it
	// look stale (a needless retry), never current.
	rev, err := s.Revision(ctx)
	if err != nil {
		return 0, nil, err
	}
	base, err := s.Snapshot(ctx)
	if err != nil {
		return 0, nil, err
	}
	next := base.clone()
	for _, o := range objs {
		next.put(o)
	}
	if err := next.CheckReferences(); err != nil {
		return 0, nil, platform.Invalid("%v", err)
	}
	schemas := map[string][]Column{}
	if validate != nil {
		if schemas, err = validate(ctx, next); err != nil {
			return 0, nil, err
		}
	}
	return rev, schemas, nil
}

// write diffs objs against cur (the catalog under the apply lock in tx) and records every
// changed object as a new version.
func (s *Store) write(ctx context.Context, tx pgx.Tx, cur *Snapshot, objs []Object, schemas map[string][]Column, opts Options) (Result, error) {
	res := Result{DryRun: opts.DryRun}
	var breaking []string
	type write struct {
		o      Object
		schema []Column
		change int // its index in res.Changes
	}
	var writes []write
	for _, o := range objs {
		prevSpec, prevSchema, prevVer, exists := cur.get(o.Kind, o.Name)
		schema := schemas[o.Name]
		if o.Kind != KindPipeline {
			schema = nil
		}
		ch := Change{Kind: o.Kind, Name: o.Name, Origin: o.Origin, Version: prevVer}
		switch {
		case !exists:
			ch.Action, ch.Version = "created", 1
		case hash(o.Spec) == hash(prevSpec) && hash(schema) == hash(prevSchema):
			ch.Action = "unchanged"
		default:
			ch.Action, ch.Version = "updated", prevVer+1
			ch.Breaking = breakingChanges(o, prevSpec, prevSchema, schema)
			for _, b := range ch.Breaking {
				breaking = append(breaking, fmt.Sprintf("%s %s: %s", o.Kind, o.Name, b))
			}
		}
		if ch.Action != "unchanged" {
			writes = append(writes, write{o, schema, len(res.Changes)})
		}
		res.Changes = append(res.Changes, ch)
	}
	if len(breaking) > 0 && !opts.Force {
		return res, &platform.Error{Kind: platform.KindConflict, Code: "breaking_change",
			Message: "breaking changes need --force (force=true): " + strings.Join(breaking, "; ")}
	}
	if opts.DryRun || len(writes) == 0 {
		res.Revision = cur.Revision
		return res, nil
	}
	if err := tx.QueryRow(ctx, `SELECT nextval('catalog_revision')`).Scan(&res.Revision); err != nil {
		return res, err
	}
	for _, w := range writes {
		v, err := record(ctx, tx, res.Revision, w.o.Kind, w.o.Name, w.o.Spec, w.schema, opts.Actor, false)
		if err != nil {
			return res, err
		}
		res.Changes[w.change].Version = v // after a deletion, versions go on from the last
	}
	return res, tx.Commit(ctx)
}

// begin starts a catalog change: a transaction holding the apply lock, and the catalog as
// it is in that transaction.
func (s *Store) begin(ctx context.Context) (pgx.Tx, *Snapshot, error) {
	tx, err := s.db.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return nil, nil, err
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, applyLock); err != nil {
		tx.Rollback(ctx) //nolint:errcheck // the error above is the one to report
		return nil, nil, err
	}
	cur, err := load(ctx, tx)
	if err != nil {
		tx.Rollback(ctx) //nolint:errcheck // the error above is the one to report
		return nil, nil, err
	}
	return tx, cur, nil
}

// record writes the next version of an object (or of its deletion) and returns its number.
func record(ctx context.Context, tx pgx.Tx, revision int64, kind, name string, spec any, schema []Column, actor string, deleted bool) (int, error) {
	body, _ := json.Marshal(spec)
	var cols []byte
	if schema != nil {
		cols, _ = json.Marshal(schema)
	}
	h := hash(spec)
	if deleted {
		h = "deleted"
	}
	var v int
	err := tx.QueryRow(ctx, `INSERT INTO catalog_objects (kind, name, version, revision, spec, schema, hash, applied_by, deleted)
		VALUES ($1, $2, (SELECT coalesce(max(version), 0) + 1 FROM catalog_objects WHERE kind = $1 AND name = $2), $3, $4, $5, $6, $7, $8)
		RETURNING version`, kind, name, revision, body, cols, h, actor, deleted).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("record %s %s: %w", kind, name, err)
	}
	return v, nil
}

// Delete removes an object from the catalog by recording a version that says so; its
// history stays. An object others refer to cannot go (the error names who refers to it);
// removing a pipeline, view or service stops data or breaks consumers, so it needs force.
func (s *Store) Delete(ctx context.Context, kind, name string, opts Options) (Result, error) {
	if !slices.Contains(Kinds, kind) {
		return Result{}, platform.Invalid("kind %q: use one of %s", kind, strings.Join(Kinds, ", "))
	}
	tx, cur, err := s.begin(ctx)
	if err != nil {
		return Result{}, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
	spec, _, version, ok := cur.get(kind, name)
	if !ok {
		return Result{}, platform.NotFound("%s %s is not in the catalog", kind, name)
	}
	next := cur.clone()
	next.remove(kind, name)
	if err := next.CheckReferences(); err != nil {
		return Result{}, platform.Invalid("%s %s is still in use: %v", kind, name, err)
	}
	ch := Change{Kind: kind, Name: name, Action: "deleted", Version: version + 1}
	if kind != KindEntity {
		ch.Breaking = []string{"removed: " + map[string]string{KindPipeline: "its table stops receiving events",
			KindView: "its features can no longer be served or used for training", KindService: "its consumers can no longer ask for it"}[kind]}
	}
	res := Result{DryRun: opts.DryRun, Changes: []Change{ch}, Revision: cur.Revision}
	if len(ch.Breaking) > 0 && !opts.Force {
		return res, &platform.Error{Kind: platform.KindConflict, Code: "breaking_change",
			Message: fmt.Sprintf("deleting %s %s needs --force (force=true): %s", kind, name, ch.Breaking[0])}
	}
	if opts.DryRun {
		return res, nil
	}
	if err := tx.QueryRow(ctx, `SELECT nextval('catalog_revision')`).Scan(&res.Revision); err != nil {
		return res, err
	}
	if res.Changes[0].Version, err = record(ctx, tx, res.Revision, kind, name, spec, nil, opts.Actor, true); err != nil {
		return res, err
	}
	return res, tx.Commit(ctx)
}

// Snapshot returns every object in force.
func (s *Store) Snapshot(ctx context.Context) (*Snapshot, error) {
	tx, err := s.db.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	return load(ctx, tx)
}

// Revision returns the latest revision, cheaply, to tell whether a snapshot is current.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	var r int64
	err := s.db.QueryRow(ctx, latestRevision).Scan(&r)
	return r, err
}

// History lists every version of one object, newest first.
func (s *Store) History(ctx context.Context, kind, name string) ([]Versioned[json.RawMessage], error) {
	rows, err := s.db.Query(ctx, `SELECT spec, version, coalesce(schema, 'null'), applied_at, applied_by FROM catalog_objects
		WHERE kind = $1 AND name = $2 ORDER BY version DESC`, kind, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Versioned[json.RawMessage]
	for rows.Next() {
		var v Versioned[json.RawMessage]
		var schema []byte
		if err := rows.Scan(&v.Spec, &v.Version, &schema, &v.AppliedAt, &v.AppliedBy); err != nil {
			return nil, err
		}
		_ = json.Unmarshal(schema, &v.Schema)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, platform.NotFound("%s %s is not in the catalog", kind, name)
	}
	return out, nil
}

func load(ctx context.Context, tx pgx.Tx) (*Snapshot, error) {
	rows, err := tx.Query(ctx, `SELECT kind, name, version, revision, spec, schema, applied_at, applied_by FROM (
		SELECT DISTINCT ON (kind, name) kind, name, version, revision, spec, coalesce(schema, 'null') AS schema, applied_at, applied_by, deleted
		FROM catalog_objects ORDER BY kind, name, version DESC) latest WHERE NOT deleted`)
	if err != nil {
		return nil, fmt.Errorf("read the catalog: %w", err)
	}
	defer rows.Close()
	snap := NewSnapshot()
	for rows.Next() {
		var kind, name, by string
		var ver int
		var rev int64
		var spec, schema []byte
		var at time.Time
		if err := rows.Scan(&kind, &name, &ver, &rev, &spec, &schema, &at, &by); err != nil {
			return nil, err
		}
		snap.Revision = max(snap.Revision, rev)
		var cols []Column
		_ = json.Unmarshal(schema, &cols)
		switch kind {
		case KindPipeline:
			err = decodeInto(snap.Pipelines, name, spec, ver, cols, at, by)
		case KindEntity:
			err = decodeInto(snap.Entities, name, spec, ver, cols, at, by)
		case KindView:
			err = decodeInto(snap.Views, name, spec, ver, cols, at, by)
		case KindService:
			err = decodeInto(snap.Services, name, spec, ver, cols, at, by)
		}
		if err != nil {
			return nil, fmt.Errorf("catalog %s %s v%d: %w", kind, name, ver, err)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Deletions are revisions too.
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(revision), 0) FROM catalog_objects`).Scan(&snap.Revision); err != nil {
		return nil, err
	}
	return snap, nil
}

func decodeInto[T any](m map[string]Versioned[T], name string, spec []byte, ver int, cols []Column, at time.Time, by string) error {
	var v T
	if err := json.Unmarshal(spec, &v); err != nil {
		return err
	}
	m[name] = Versioned[T]{Spec: v, Version: ver, Schema: cols, AppliedAt: at, AppliedBy: by}
	return nil
}

func (s *Snapshot) clone() *Snapshot {
	c := NewSnapshot()
	c.Revision = s.Revision
	for k, v := range s.Pipelines {
		c.Pipelines[k] = v
	}
	for k, v := range s.Entities {
		c.Entities[k] = v
	}
	for k, v := range s.Views {
		c.Views[k] = v
	}
	for k, v := range s.Services {
		c.Services[k] = v
	}
	return c
}

func (s *Snapshot) put(o Object) {
	switch spec := o.Spec.(type) {
	case pipelines.Spec:
		v := s.Pipelines[o.Name]
		s.Pipelines[o.Name] = Versioned[pipelines.Spec]{Spec: spec, Version: v.Version}
	case features.Entity:
		s.Entities[o.Name] = Versioned[features.Entity]{Spec: spec, Version: s.Entities[o.Name].Version}
	case features.View:
		s.Views[o.Name] = Versioned[features.View]{Spec: spec, Version: s.Views[o.Name].Version}
	case features.Service:
		s.Services[o.Name] = Versioned[features.Service]{Spec: spec, Version: s.Services[o.Name].Version}
	}
}

func (s *Snapshot) remove(kind, name string) {
	switch kind {
	case KindPipeline:
		delete(s.Pipelines, name)
	case KindEntity:
		delete(s.Entities, name)
	case KindView:
		delete(s.Views, name)
	case KindService:
		delete(s.Services, name)
	}
}

func (s *Snapshot) get(kind, name string) (spec any, schema []Column, version int, ok bool) {
	switch kind {
	case KindPipeline:
		v, ok := s.Pipelines[name]
		return v.Spec, v.Schema, v.Version, ok
	case KindEntity:
		v, ok := s.Entities[name]
		return v.Spec, nil, v.Version, ok
	case KindView:
		v, ok := s.Views[name]
		return v.Spec, nil, v.Version, ok
	case KindService:
		v, ok := s.Services[name]
		return v.Spec, nil, v.Version, ok
	}
	return nil, nil, 0, false
}

// CheckReferences checks what objects say about each other: a view's entity exists, a
// service's features exist, no two pipelines write one table.
func (s *Snapshot) CheckReferences() error {
	var errs []error
	sinks := map[string]string{}
	for _, name := range sortedKeys(s.Pipelines) {
		t := s.Pipelines[name].Spec.Sink.Table
		if other, ok := sinks[t]; ok {
			errs = append(errs, fmt.Errorf("pipelines %s and %s both write table %s", other, name, t))
		}
		sinks[t] = name
	}
	for _, name := range sortedKeys(s.Views) {
		v := s.Views[name].Spec
		if _, ok := s.Entities[v.Entity]; !ok {
			errs = append(errs, fmt.Errorf("feature view %s: entity %q is not declared (declared: %s)", name, v.Entity, strings.Join(sortedKeys(s.Entities), ", ")))
		}
	}
	for _, name := range sortedKeys(s.Services) {
		for _, ref := range s.Services[name].Spec.Features {
			if _, err := s.Resolve([]string{ref}); err != nil {
				errs = append(errs, fmt.Errorf("feature service %s: %w", name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Ref is one resolved feature.
type Ref struct {
	View    string
	Feature string
}

// Resolve turns "view:feature" and "view" (every feature of the view) into refs, in order,
// without repeats. The error names the first unknown view or feature.
func (s *Snapshot) Resolve(names []string) ([]Ref, error) {
	var out []Ref
	seen := map[Ref]bool{}
	for _, n := range names {
		view, feat, _ := strings.Cut(n, ":")
		v, ok := s.Views[view]
		if !ok {
			return nil, platform.Invalid("feature %q: no feature view %q (views: %s)", n, view, strings.Join(sortedKeys(s.Views), ", "))
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
func (s *Snapshot) PipelineFor(table string) (Versioned[pipelines.Spec], bool) {
	for _, p := range s.Pipelines {
		if p.Spec.Sink.Table == table {
			return p, true
		}
	}
	return Versioned[pipelines.Spec]{}, false
}

func breakingChanges(o Object, prev any, prevSchema, schema []Column) []string {
	var out []string
	switch n := o.Spec.(type) {
	case pipelines.Spec:
		p := prev.(pipelines.Spec)
		if n.Sink != p.Sink {
			out = append(out, fmt.Sprintf("sink changes from %s(%s) to %s(%s)", p.Sink.Table, p.Sink.IDColumn, n.Sink.Table, n.Sink.IDColumn))
		}
		if prevSchema != nil && hash(prevSchema) != hash(schema) {
			out = append(out, fmt.Sprintf("the transform's output columns change (%s → %s); table %s is rebuilt from the topic",
				columnList(prevSchema), columnList(schema), n.Sink.Table))
		}
	case features.Entity:
		if p := prev.(features.Entity); n.JoinKey != p.JoinKey {
			out = append(out, fmt.Sprintf("join_key changes from %s to %s", p.JoinKey, n.JoinKey))
		}
	case features.View:
		p := prev.(features.View)
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
	case features.Service:
		p := prev.(features.Service)
		for _, f := range p.Features {
			if !slices.Contains(n.Features, f) {
				out = append(out, fmt.Sprintf("feature %s is removed", f))
			}
		}
	}
	return out
}

func columnList(cols []Column) string {
	var parts []string
	for _, c := range cols {
		parts = append(parts, c.Name+" "+c.Type)
	}
	return strings.Join(parts, ", ")
}

func hash(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func sortedKeys[T any](m map[string]T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
