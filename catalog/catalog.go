// Package catalog keeps what users declare in YAML as versioned objects in PostgreSQL. The
// kinds of object (pipelines, entities, feature views, ... ) are registered by the packages
// that own them (see Kind); the catalog imports no domain. An apply parses every document,
// checks each on its own, against the others and against whatever the Validator checks,
// diffs it with what is in force and writes the changed objects as new versions in one
// transaction: nothing is ever registered half-way. A change that would break what is
// running or what models were trained on needs force.
package catalog

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/postgres"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations is the catalog's migration source.
func Migrations() postgres.Source { return postgres.Embedded("catalog", migrations) }

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

// Validator checks a whole would-be snapshot against what the objects describe (the feature
// store runs every transform in a scratch database) and returns the schema it derived for
// objects that have one (a pipeline's output columns).
type Validator func(ctx context.Context, next *Snapshot) (map[Key][]Column, error)

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
type Store struct {
	db    *pgxpool.Pool
	kinds *Kinds
}

// NewStore returns the catalog of kinds over db.
func NewStore(db *pgxpool.Pool, kinds *Kinds) *Store { return &Store{db: db, kinds: kinds} }

// Kinds returns the registered kinds.
func (s *Store) Kinds() *Kinds { return s.kinds }

const applyLock = 7_262_001 // advisory lock serializing applies

// Apply parses, checks and diffs docs, then writes every changed object as a new version
// in one transaction. Bad input is KindInvalid naming the file and the field; a breaking
// change without force is KindConflict naming what breaks.
func (s *Store) Apply(ctx context.Context, docs []Document, opts Options, validate Validator) (Result, error) {
	var objs []Object
	var errs []error
	for _, d := range docs {
		o, err := s.kinds.Parse(d.File, []byte(d.Content))
		objs = append(objs, o...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Result{}, invalidDocuments(err)
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
			return Result{}, CodeCatalogBusy.New("the catalog changed %d times while this apply was being checked; apply again", attempt)
		}
	}
}

// maxApplyAttempts bounds how often an apply validates again because others applied meanwhile.
const maxApplyAttempts = 5

// latestRevision is the catalog's latest revision, deletions included.
const latestRevision = `SELECT coalesce(max(revision), 0) FROM catalog_objects`

// validated checks objs applied over the catalog as it is now, without the apply lock, and
// returns the revision it checked against and the pipelines' output columns.
func (s *Store) validated(ctx context.Context, objs []Object, validate Validator) (int64, map[Key][]Column, error) {
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
		prev, _ := next.Get(o.Kind, o.Name)
		next.put(o.Kind, o.Name, Versioned[any]{Spec: o.Spec, Version: prev.Version})
	}
	if err := s.checkReferences(next); err != nil {
		return 0, nil, platform.Invalid("%v", err)
	}
	schemas := map[Key][]Column{}
	if validate != nil {
		if schemas, err = validate(ctx, next); err != nil {
			return 0, nil, err
		}
	}
	return rev, schemas, nil
}

// write diffs objs against cur (the catalog under the apply lock in tx) and records every
// changed object as a new version.
func (s *Store) write(ctx context.Context, tx pgx.Tx, cur *Snapshot, objs []Object, schemas map[Key][]Column, opts Options) (Result, error) {
	res := Result{DryRun: opts.DryRun}
	var breaking []string
	type write struct {
		o      Object
		schema []Column
		change int // its index in res.Changes
	}
	var writes []write
	for _, o := range objs {
		prev, exists := cur.Get(o.Kind, o.Name)
		schema := schemas[Key{o.Kind, o.Name}]
		ch := Change{Kind: o.Kind, Name: o.Name, Origin: o.Origin, Version: prev.Version}
		switch {
		case !exists:
			ch.Action, ch.Version = "created", 1
		case hash(o.Spec) == hash(prev.Spec) && hash(schema) == hash(prev.Schema):
			ch.Action = "unchanged"
		default:
			kind, _ := s.kinds.Get(o.Kind)
			ch.Action, ch.Version = "updated", prev.Version+1
			ch.Breaking = kind.Breaking(prev, Versioned[any]{Spec: o.Spec, Version: ch.Version, Schema: schema})
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
		return res, &platform.Error{Kind: CodeBreakingChange.Kind, Code: CodeBreakingChange.Code,
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
	cur, err := s.load(ctx, tx)
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
	k, ok := s.kinds.Get(kind)
	if !ok {
		return Result{}, platform.Invalid("kind %q: use one of %s", kind, strings.Join(s.kinds.Names(), ", "))
	}
	tx, cur, err := s.begin(ctx)
	if err != nil {
		return Result{}, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
	prev, ok := cur.Get(kind, name)
	if !ok {
		return Result{}, platform.NotFound("%s %s is not in the catalog", kind, name)
	}
	next := cur.clone()
	next.remove(kind, name)
	if err := s.checkReferences(next); err != nil {
		return Result{}, platform.Invalid("%s %s is still in use: %v", kind, name, err)
	}
	ch := Change{Kind: kind, Name: name, Action: "deleted", Version: prev.Version + 1}
	if why := k.DeleteBreaks(); why != "" {
		ch.Breaking = []string{"removed: " + why}
	}
	res := Result{DryRun: opts.DryRun, Changes: []Change{ch}, Revision: cur.Revision}
	if len(ch.Breaking) > 0 && !opts.Force {
		return res, &platform.Error{Kind: CodeBreakingChange.Kind, Code: CodeBreakingChange.Code,
			Message: fmt.Sprintf("deleting %s %s needs --force (force=true): %s", kind, name, ch.Breaking[0])}
	}
	if opts.DryRun {
		return res, nil
	}
	if err := tx.QueryRow(ctx, `SELECT nextval('catalog_revision')`).Scan(&res.Revision); err != nil {
		return res, err
	}
	if res.Changes[0].Version, err = record(ctx, tx, res.Revision, kind, name, prev.Spec, nil, opts.Actor, true); err != nil {
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
	return s.load(ctx, tx)
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

func (s *Store) load(ctx context.Context, tx pgx.Tx) (*Snapshot, error) {
	rows, err := tx.Query(ctx, `SELECT kind, name, version, revision, spec, schema, applied_at, applied_by FROM (
		SELECT DISTINCT ON (kind, name) kind, name, version, revision, spec, coalesce(schema, 'null') AS schema, applied_at, applied_by, deleted
		FROM catalog_objects ORDER BY kind, name, version DESC) latest WHERE NOT deleted`)
	if err != nil {
		return nil, fmt.Errorf("read the catalog: %w", err)
	}
	defer rows.Close()
	snap := NewSnapshot(s.kinds)
	for rows.Next() {
		var kindName, name, by string
		var ver int
		var rev int64
		var spec, schema []byte
		var at time.Time
		if err := rows.Scan(&kindName, &name, &ver, &rev, &spec, &schema, &at, &by); err != nil {
			return nil, err
		}
		kind, ok := s.kinds.Get(kindName)
		if !ok {
			// Objects of a kind this process does not register (a newer version wrote them,
			// or a part that is not built in) are kept in the database and left out here.
			continue
		}
		v, err := kind.Decode(spec)
		if err != nil {
			return nil, fmt.Errorf("catalog %s %s v%d: %w", kindName, name, ver, err)
		}
		var cols []Column
		_ = json.Unmarshal(schema, &cols)
		snap.put(kindName, name, Versioned[any]{Spec: v, Version: ver, Schema: cols, AppliedAt: at, AppliedBy: by})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Deletions are revisions too.
	if err := tx.QueryRow(ctx, latestRevision).Scan(&snap.Revision); err != nil {
		return nil, err
	}
	return snap, nil
}

// checkReferences asks every kind to check what its objects in snap say about others.
func (s *Store) checkReferences(snap *Snapshot) error {
	var errs []error
	for _, kind := range s.kinds.list {
		for _, name := range snap.Names(kind.Name()) {
			v, _ := snap.Get(kind.Name(), name)
			if err := kind.References(snap, name, v.Spec); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// invalidDocuments is the refusal of documents that cannot be read: each one's file and line
// is a field of the problem, so a client can point at it.
func invalidDocuments(err error) error {
	e := platform.Invalid("%v", err)
	var walk func(error)
	walk = func(err error) {
		var de *DocumentError
		switch x := err.(type) { //nolint:errorlint // walking the tree errors.Join built
		case interface{ Unwrap() []error }:
			for _, c := range x.Unwrap() {
				walk(c)
			}
		default:
			if !errors.As(err, &de) {
				return
			}
			var pe *platform.Error
			if errors.As(de.Err, &pe) && len(pe.Fields) > 0 {
				for _, f := range pe.Fields { // file:line field
					e.Fields = append(e.Fields, platform.FieldError{Field: strings.TrimSpace(de.Origin + " " + f.Field), Message: f.Message})
				}
				return
			}
			e.Fields = append(e.Fields, platform.FieldError{Field: de.Origin, Message: de.Err.Error()})
		}
	}
	walk(err)
	return e
}

// ColumnList writes columns as "name TYPE, ...".
func ColumnList(cols []Column) string {
	var parts []string
	for _, c := range cols {
		parts = append(parts, c.Name+" "+c.Type)
	}
	return strings.Join(parts, ", ")
}

// SchemaChanged reports whether two derived schemas differ.
func SchemaChanged(prev, next []Column) bool { return hash(prev) != hash(next) }

func hash(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
