// Package registry is Codexion's schema registry: subjects with numbered versions of JSON
// Schemas, global schema ids, and a compatibility level per subject, stored in PostgreSQL
// and served with Confluent Schema Registry's REST API so that existing clients work
// unchanged. Only JSON Schema is supported; Avro and Protobuf are refused with 42201.
// A schema's $ref reaches only the registered subject versions named in its references
// (Confluent's references array); the registry never reads a file or the network for one.
package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/codexion/codexion/platform/httpx"
	"github.com/codexion/codexion/platform/postgres"
	"github.com/codexion/codexion/schemas"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations is the registry's migration source.
func Migrations() postgres.Source { return postgres.Embedded("schema_registry", migrations) }

// Error is a failure in Confluent's terms: an HTTP status and an error code.
type Error struct {
	Status  int    `json:"-"`
	Code    int    `json:"error_code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// errorf makes an Error. Messages quote subjects, versions and schema text the caller
// sent; they are bounded as problem details are, so a refusal never echoes a megabyte.
func errorf(status, code int, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: httpx.BoundText(fmt.Sprintf(format, args...), httpx.MaxProblemTextBytes)}
}

func subjectNotFound(s string) *Error { return errorf(404, 40401, "Subject '%s' not found.", s) }
func versionNotFound(v int) *Error    { return errorf(404, 40402, "Version %d not found.", v) }

// Schema is one registered version of a subject.
type Schema struct {
	Subject    string      `json:"subject"`
	Version    int         `json:"version"`
	ID         int         `json:"id"`
	SchemaType string      `json:"schemaType"`
	Schema     string      `json:"schema"`
	References []Reference `json:"references,omitempty"`
}

// Store is the registry in PostgreSQL.
type Store struct{ db *pgxpool.Pool }

// NewStore returns the registry over db.
func NewStore(db *pgxpool.Pool) *Store { return &Store{db: db} }

// maxSchemaBytes bounds one schema document; maxSchemaJSONDepth bounds its nesting (two
// JSON levels per nested schema, as in properties/name).
const (
	maxSchemaBytes     = 1 << 20
	maxSchemaJSONDepth = 2*maxSchemaDepth + 2
)

// canonical checks that text is a JSON Schema for subject whose every $ref reaches a
// schema in refs (see resolve), and returns its canonical form and fingerprint. Key order
// and whitespace do not change the fingerprint; references do.
func canonical(text, schemaType, subject string, refs []Reference, reached referenced) (any, string, string, error) {
	if schemaType != "" && schemaType != "JSON" {
		return nil, "", "", errorf(422, 42201, "Invalid schema: schemaType %s is not supported; this registry holds JSON Schemas", schemaType)
	}
	if len(text) > maxSchemaBytes {
		return nil, "", "", errorf(422, 42201, "Invalid schema: larger than %d bytes", maxSchemaBytes)
	}
	if err := httpx.CheckJSON([]byte(text), maxSchemaJSONDepth); err != nil {
		return nil, "", "", errorf(422, 42201, "Invalid schema: %v", err)
	}
	doc, err := parseSchema(text)
	if err != nil {
		return nil, "", "", errorf(422, 42201, "Invalid schema: %v", err)
	}
	if err := representable(text); err != nil {
		return nil, "", "", errorf(422, 42201, "Invalid schema: %v", err)
	}
	if err := compiles(text, subjectURL(subject), reached); err != nil {
		return nil, "", "", errorf(422, 42201, "Invalid schema: %v", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, "", "", err
	}
	canon := strings.TrimSpace(buf.String())
	fingerprinted := canon
	if len(refs) > 0 {
		fingerprinted += "\x00" + string(refsJSON(refs))
	}
	sum := sha256.Sum256([]byte(fingerprinted))
	return doc, canon, hex.EncodeToString(sum[:]), nil
}

// representable refuses a number that the canonical form cannot keep: one whose
// float64 value is zero while the number is not (1e-700), so that canonicalizing never
// changes what a schema means. Numbers too large for float64 are refused by parsing.
func representable(text string) error {
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return err
	}
	var walk func(any) error
	walk = func(v any) error {
		switch x := v.(type) {
		case json.Number:
			f, err := x.Float64()
			if err != nil {
				return fmt.Errorf("number %s is out of range", x)
			}
			if exact, ok := new(big.Float).SetString(string(x)); f == 0 && ok && exact.Sign() != 0 {
				return fmt.Errorf("number %s is too close to zero to keep; write 0 or a larger value", x)
			}
		case map[string]any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		case []any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(v)
}

// compiles compiles text at url with the schemas it references and nothing else: the
// compiler's loader refuses every URL, so no file or network is ever read.
func compiles(text, url string, reached referenced) (err error) {
	defer func() {
		// A schema that makes the compiler panic (it has: a huge multipleOf) is refused,
		// not a crash of the request.
		if p := recover(); p != nil {
			err = fmt.Errorf("the schema cannot be compiled (%v)", p)
		}
	}()
	c := jsonschema.NewCompiler()
	c.UseLoader(schemas.NoLoader{})
	for u, t := range reached {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(t))
		if err == nil {
			err = c.AddResource(u, doc)
		}
		if err != nil {
			return err
		}
	}
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return err
	}
	if _, taken := reached[url]; taken {
		return fmt.Errorf("a reference is named %s, which is this subject's own name; name it otherwise", url)
	}
	if err := c.AddResource(url, v); err != nil {
		return err
	}
	_, err = c.Compile(url)
	return err
}

// Register adds schema under subject and returns its global id. The same schema again
// returns the id it already has; an incompatible one is refused with 409 and the rules it
// breaks. A $ref in it may reach only the registered subject versions named in refs.
func (s *Store) Register(ctx context.Context, subject, text, schemaType string, refs ...Reference) (int, error) {
	var id int
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('schema-registry:' || $1))`, subject); err != nil {
			return err
		}
		doc, canon, fp, err := s.check(ctx, tx, subject, text, schemaType, refs)
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `SELECT s.id FROM schema_registry_versions v JOIN schema_registry_schemas s ON s.id = v.schema_id
			WHERE v.subject = $1 AND NOT v.deleted AND s.fingerprint = $2`, subject, fp).Scan(&id)
		if err == nil {
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		earlier, err := s.versions(ctx, tx, subject)
		if err != nil {
			return err
		}
		level, err := s.level(ctx, tx, subject)
		if err != nil {
			return err
		}
		var docs []any
		for _, e := range earlier {
			d, err := parseSchema(e.Schema)
			if err != nil {
				return err
			}
			docs = append(docs, d)
		}
		if msgs := Compatible(level, doc, docs); len(msgs) > 0 {
			return errorf(409, 409, "Schema being registered is incompatible with an earlier schema for subject \"%s\" (%s): %s",
				subject, level, strings.Join(msgs, "; "))
		}
		if err := tx.QueryRow(ctx, `INSERT INTO schema_registry_schemas (schema_type, schema, fingerprint, schema_refs) VALUES ('JSON', $1, $2, $3)
			ON CONFLICT (fingerprint) DO UPDATE SET fingerprint = EXCLUDED.fingerprint RETURNING id`, canon, fp, refsJSON(refs)).Scan(&id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO schema_registry_versions (subject, version, schema_id)
			SELECT $1, coalesce(max(version), 0) + 1, $2 FROM schema_registry_versions WHERE subject = $1`, subject, id)
		return err
	})
	return id, err
}

// check resolves refs in the registry and checks text against them (canonical).
func (s *Store) check(ctx context.Context, q querier, subject, text, schemaType string, refs []Reference) (any, string, string, error) {
	if len(refs) > maxReferences {
		return nil, "", "", invalidReference("more than %d references", maxReferences)
	}
	reached := referenced{}
	if err := resolve(ctx, q, subjectURL(subject), refs, reached, 0); err != nil {
		return nil, "", "", err
	}
	return canonical(text, schemaType, subject, refs, reached)
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (s *Store) versions(ctx context.Context, q querier, subject string) ([]Schema, error) {
	rows, err := q.Query(ctx, `SELECT v.subject, v.version, s.id, s.schema_type, s.schema, s.schema_refs FROM schema_registry_versions v
		JOIN schema_registry_schemas s ON s.id = v.schema_id WHERE v.subject = $1 AND NOT v.deleted ORDER BY v.version`, subject)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Schema, error) {
		var x Schema
		err := r.Scan(&x.Subject, &x.Version, &x.ID, &x.SchemaType, &x.Schema, &x.References)
		return x, err
	})
}

func (s *Store) level(ctx context.Context, q querier, subject string) (string, error) {
	var level string
	err := q.QueryRow(ctx, `SELECT compatibility FROM schema_registry_config WHERE subject IN ($1, '')
		ORDER BY subject DESC LIMIT 1`, subject).Scan(&level)
	return level, err
}

// Set compiles the latest live JSON schema of every subject (a subject is an event type):
// what consumers validate events against.
func (s *Store) Set(ctx context.Context) (*schemas.Set, error) {
	rows, err := s.db.Query(ctx, `SELECT DISTINCT ON (v.subject) v.subject, s.schema, s.schema_refs FROM schema_registry_versions v
		JOIN schema_registry_schemas s ON s.id = v.schema_id WHERE NOT v.deleted AND s.schema_type = 'JSON'
		ORDER BY v.subject, v.version DESC`)
	if err != nil {
		return nil, err
	}
	raw := map[string][]byte{}
	withRefs := map[string][]Reference{}
	var (
		subject, text string
		refs          []Reference
	)
	if _, err := pgx.ForEachRow(rows, []any{&subject, &text, &refs}, func() error {
		raw[subject] = []byte(text)
		if len(refs) > 0 {
			withRefs[subject] = refs
		}
		return nil
	}); err != nil {
		return nil, err
	}
	// The references of every subject go into one compiler, so two subjects that reach
	// different schemas by the same URL cannot both be compiled; resolve says which.
	reached := referenced{}
	for subject, refs := range withRefs {
		if err := resolve(ctx, s.db, subjectURL(subject), refs, reached, 0); err != nil {
			return nil, fmt.Errorf("references of %s: %w", subject, err)
		}
	}
	refDocs := make(map[string][]byte, len(reached))
	for u, t := range reached {
		refDocs[u] = []byte(t)
	}
	return schemas.CompileWithReferences(raw, refDocs)
}

// Subjects lists subjects with at least one live version.
func (s *Store) Subjects(ctx context.Context) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT DISTINCT subject FROM schema_registry_versions WHERE NOT deleted ORDER BY subject`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Versions lists a subject's live versions.
func (s *Store) Versions(ctx context.Context, subject string) ([]Schema, error) {
	vs, err := s.versions(ctx, s.db, subject)
	if err == nil && len(vs) == 0 {
		return nil, subjectNotFound(subject)
	}
	return vs, err
}

// Version returns version v of subject; v < 0 is the latest.
func (s *Store) Version(ctx context.Context, subject string, v int) (Schema, error) {
	vs, err := s.Versions(ctx, subject)
	if err != nil {
		return Schema{}, err
	}
	if v < 0 {
		return vs[len(vs)-1], nil
	}
	i := slices.IndexFunc(vs, func(x Schema) bool { return x.Version == v })
	if i < 0 {
		return Schema{}, versionNotFound(v)
	}
	return vs[i], nil
}

// ByID returns the schema with a global id.
func (s *Store) ByID(ctx context.Context, id int) (Schema, error) {
	var x Schema
	err := s.db.QueryRow(ctx, `SELECT id, schema_type, schema, schema_refs FROM schema_registry_schemas WHERE id = $1`, id).Scan(&x.ID, &x.SchemaType, &x.Schema, &x.References)
	if errors.Is(err, pgx.ErrNoRows) {
		return x, errorf(404, 40403, "Schema %d not found", id)
	}
	return x, err
}

// Lookup finds schema (with its references) among subject's versions.
func (s *Store) Lookup(ctx context.Context, subject, text, schemaType string, refs ...Reference) (Schema, error) {
	vs, err := s.Versions(ctx, subject)
	if err != nil {
		return Schema{}, err
	}
	_, _, fp, err := s.check(ctx, s.db, subject, text, schemaType, refs)
	if err != nil {
		return Schema{}, err
	}
	var version int
	err = s.db.QueryRow(ctx, `SELECT v.version FROM schema_registry_versions v JOIN schema_registry_schemas s ON s.id = v.schema_id
		WHERE v.subject = $1 AND NOT v.deleted AND s.fingerprint = $2 ORDER BY v.version LIMIT 1`, subject, fp).Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		return Schema{}, errorf(404, 40403, "Schema not found")
	}
	if err != nil {
		return Schema{}, err
	}
	i := slices.IndexFunc(vs, func(x Schema) bool { return x.Version == version })
	return vs[i], nil
}

// TestCompatibility checks schema against version v of subject (v < 0: latest) at the
// subject's level, and returns the rules it breaks.
func (s *Store) TestCompatibility(ctx context.Context, subject string, v int, text, schemaType string, refs ...Reference) ([]string, error) {
	doc, _, _, err := s.check(ctx, s.db, subject, text, schemaType, refs)
	if err != nil {
		return nil, err
	}
	level, err := s.level(ctx, s.db, subject)
	if err != nil {
		return nil, err
	}
	vs, err := s.Versions(ctx, subject)
	if err != nil {
		return nil, err
	}
	if v >= 0 {
		i := slices.IndexFunc(vs, func(x Schema) bool { return x.Version == v })
		if i < 0 {
			return nil, versionNotFound(v)
		}
		vs = vs[:i+1]
	}
	if !strings.HasSuffix(level, "_TRANSITIVE") {
		vs = vs[len(vs)-1:]
	}
	var docs []any
	for _, x := range vs {
		d, err := parseSchema(x.Schema)
		if err != nil {
			return nil, err
		}
		docs = append(docs, d)
	}
	return Compatible(level, doc, docs), nil
}

// Level returns the compatibility of subject ("" for the global default); ok is false
// when the subject has no level of its own.
func (s *Store) Level(ctx context.Context, subject string) (string, bool, error) {
	var level string
	err := s.db.QueryRow(ctx, `SELECT compatibility FROM schema_registry_config WHERE subject = $1`, subject).Scan(&level)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return level, err == nil, err
}

// SetLevel sets the compatibility of subject ("" for the global default).
func (s *Store) SetLevel(ctx context.Context, subject, level string) error {
	if !slices.Contains(Levels, level) {
		return errorf(422, 42203, "Invalid compatibility level %q; use one of %s", level, strings.Join(Levels, ", "))
	}
	_, err := s.db.Exec(ctx, `INSERT INTO schema_registry_config (subject, compatibility) VALUES ($1, $2)
		ON CONFLICT (subject) DO UPDATE SET compatibility = EXCLUDED.compatibility`, subject, level)
	return err
}

// DeleteSubject soft-deletes every version of subject and returns their numbers.
func (s *Store) DeleteSubject(ctx context.Context, subject string) ([]int, error) {
	rows, err := s.db.Query(ctx, `UPDATE schema_registry_versions SET deleted = true WHERE subject = $1 AND NOT deleted RETURNING version`, subject)
	if err != nil {
		return nil, err
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err == nil && len(vs) == 0 {
		return nil, subjectNotFound(subject)
	}
	slices.Sort(vs)
	return vs, err
}

// DeleteVersion soft-deletes version v of subject (v < 0: the latest).
func (s *Store) DeleteVersion(ctx context.Context, subject string, v int) (int, error) {
	x, err := s.Version(ctx, subject, v)
	if err != nil {
		return 0, err
	}
	_, err = s.db.Exec(ctx, `UPDATE schema_registry_versions SET deleted = true WHERE subject = $1 AND version = $2`, subject, x.Version)
	return x.Version, err
}
