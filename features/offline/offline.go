//go:build duckdb_arrow

// Package offline is the feature store's offline store: a DuckDB database file that holds
// raw event tables and feature tables. Ingestion appends Arrow record batches through
// DuckDB's Arrow interface and records, in the same DuckDB transaction, the Kafka offsets
// and event ids it consumed, so a crash at any point neither loses nor doubles rows. One
// process writes a DuckDB file; nothing here may assume a file shared across processes.
package offline

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/duckdb/duckdb-go/v2"
)

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Store is one DuckDB file.
type Store struct {
	db     *sql.DB
	mu     sync.Mutex // one writer at a time: DuckDB allows one write transaction per file
	seq    int
	tables map[string]bool // tables Append knows exist (guarded by mu)

	beforeCommit func(table string) // see SetBeforeCommit

	checkedMu sync.Mutex
	checked   map[string]bool // transforms and expressions that passed their check (guarded by checkedMu)
	exchange  string          // the one folder the store writes files to (Exchange)
	roots     []string        // folders file sources may be read from (FileRoots)
	temporary bool            // an in-memory store, whose exchange folder goes with it
}

// SetBeforeCommit sets a function run after a batch is written and before its transaction
// commits (nil removes it): fault-injection tests use it to stop a process in the middle of
// a batch.
func (s *Store) SetBeforeCommit(fn func(table string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.beforeCommit = fn
}

// Open opens (creating) the DuckDB file at path; ":memory:" or "" opens an in-memory one.
// The database is sandboxed before any query runs (see sandbox.go): it reads and writes no
// file but its own, its exchange folder and the file roots given with FileRoots.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	if path == ":memory:" {
		path = ""
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	exchange, err := exchangeDir(path)
	if err != nil {
		return nil, err
	}
	c, err := duckdb.NewConnector(path, nil)
	if err != nil {
		return nil, fmt.Errorf("open DuckDB %s: %w", path, err)
	}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(4)
	s := &Store{db: db, tables: map[string]bool{}, exchange: exchange, roots: o.fileRoots, temporary: path == ""}
	if err := sandbox(ctx, db, append([]string{exchange}, o.fileRoots...)); err != nil {
		s.Close() //nolint:errcheck // already failing
		return nil, err
	}
	if err := s.init(ctx); err != nil {
		s.Close() //nolint:errcheck // already failing
		return nil, err
	}
	return s, nil
}

func (s *Store) init(ctx context.Context) error {
	for _, stmt := range []string{
		`CREATE TABLE IF NOT EXISTS codexion_offsets (consumer TEXT, topic TEXT, part INTEGER, next_offset BIGINT,
			PRIMARY KEY (consumer, topic, part))`,
		`CREATE TABLE IF NOT EXISTS codexion_ingested (consumer TEXT, event_id TEXT)`,
		`CREATE TABLE IF NOT EXISTS codexion_cluster (consumer TEXT PRIMARY KEY, cluster_id TEXT)`,
	} {
		if _, err := s.db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("offline store schema: %w", err)
		}
	}
	return nil
}

// Close closes the file (and removes an in-memory store's exchange folder).
func (s *Store) Close() error {
	err := s.db.Close()
	if s.temporary {
		err = errors.Join(err, os.RemoveAll(s.exchange))
	}
	return err
}

// DB is the database, for queries.
func (s *Store) DB() *sql.DB { return s.db }

// Offset is where a consumer resumes in one partition.
type Offset struct {
	Topic     string
	Partition int
	Next      int64 // the next offset to read
}

// Batch is what one ingestion step writes: rows as an Arrow record batch, the event id of
// each row's event, and the offsets to resume from afterwards.
type Batch struct {
	Consumer string
	Table    string // target table; created from the record's schema when missing
	Record   arrow.RecordBatch
	EventIDs []string // one per distinct event in the record; duplicates of earlier batches are dropped
	IDColumn string   // the record column holding each row's event id
	Offsets  []Offset
	// Transform, when set, is DuckDB SQL that reads the batch as the table named by the
	// placeholder {{batch}} and returns the rows to store; they must carry IDColumn.
	Transform string
	// KeyColumns names columns whose distinct values among the inserted rows AppendKeys
	// returns (the entities whose features changed).
	KeyColumns []string
	// SourceSQL, instead of Record, is a DuckDB table expression the batch is read from,
	// such as read_parquet('part-1.parquet') for a backfill from files.
	SourceSQL string
}

// Append writes a batch in one DuckDB transaction: the rows whose event ids were not
// ingested before, those ids, and the offsets to resume from. A crash before the commit
// leaves nothing; a batch delivered again (after a crash or a broker restart) adds nothing.
// It returns how many rows it inserted.
func (s *Store) Append(ctx context.Context, b Batch) (int64, error) {
	n, _, err := s.AppendKeys(ctx, b)
	return n, err
}

// AppendKeys is Append that also returns, for each of b.KeyColumns, the distinct values
// among the rows it inserted.
func (s *Store) AppendKeys(ctx context.Context, b Batch) (int64, map[string][]string, error) {
	return s.appendKeys(ctx, b)
}

func (s *Store) appendKeys(ctx context.Context, b Batch) (inserted int64, keys map[string][]string, err error) {
	for _, k := range b.KeyColumns {
		if !identifier.MatchString(k) {
			return 0, nil, fmt.Errorf("key column %q must be a plain identifier", k)
		}
	}
	if !identifier.MatchString(b.Table) || !identifier.MatchString(b.IDColumn) {
		return 0, nil, fmt.Errorf("table %q and id column %q must be plain identifiers", b.Table, b.IDColumn)
	}
	if b.Transform == "" && b.SourceSQL == "" && b.Record.Schema().FieldIndices(b.IDColumn) == nil {
		return 0, nil, fmt.Errorf("batch for %s has no column %s", b.Table, b.IDColumn)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close()
	s.seq++
	view := fmt.Sprintf("codexion_batch_%d", s.seq)
	stage := view + "_rows"
	source := b.SourceSQL
	if source == "" {
		rdr, err := array.NewRecordReader(b.Record.Schema(), []arrow.RecordBatch{b.Record})
		if err != nil {
			return 0, nil, err
		}
		defer rdr.Release()
		var release func()
		err = conn.Raw(func(dc any) error {
			ar, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
			if err != nil {
				return err
			}
			release, err = ar.RegisterView(rdr, view)
			return err
		})
		if err != nil {
			return 0, nil, fmt.Errorf("register the Arrow batch: %w", err)
		}
		defer release()
		source = view
	}
	// An Arrow view is a single-pass stream: copy it once into a temporary table.
	if _, err := conn.ExecContext(ctx, `CREATE TEMP TABLE `+stage+` AS SELECT * FROM `+source); err != nil {
		return 0, nil, fmt.Errorf("stage batch: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS `+stage) //nolint:errcheck // a temp table dies with the connection anyway
	// rows is what the batch stores: the staged rows, or the transform over them, which
	// is materialized only when the keys of the new rows are asked for.
	rows := stage
	if b.Transform != "" {
		if err := s.checkTransformOnce(ctx, b.Transform); err != nil {
			return 0, nil, err
		}
		rows = "(SELECT * FROM " + WrapTransform(b.Transform, stage) + ")"
		if len(b.KeyColumns) > 0 {
			out := view + "_out"
			if _, err := conn.ExecContext(ctx, `CREATE TEMP TABLE `+out+` AS SELECT * FROM `+rows); err != nil {
				return 0, nil, fmt.Errorf("transform of %s: %w", b.Table, err)
			}
			defer conn.ExecContext(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS `+out) //nolint:errcheck // a temp table dies with the connection anyway
			rows = out
		}
	}
	// Event ids are recorded from the staged batch when it carries them (every event
	// consumed, even one the transform filters out), else from the stored rows.
	ids := rows
	if b.SourceSQL == "" && b.Record.Schema().FieldIndices(b.IDColumn) != nil {
		ids = stage
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, nil, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	if !s.tables[b.Table] {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+QuoteIdent(b.Table)+` AS SELECT * FROM `+rows+` WHERE false`); err != nil {
			return 0, nil, fmt.Errorf("transform of %s: %w", b.Table, err)
		}
	}
	// Rows of events ingested before are skipped. NOT EXISTS plans as an anti join that
	// probes the history by the batch's ids; NOT IN would hash the whole history per batch.
	fresh := ` NOT EXISTS (SELECT 1 FROM codexion_ingested i WHERE i.consumer = ? AND i.event_id = r.` + QuoteIdent(b.IDColumn) + `)`
	if len(b.KeyColumns) > 0 {
		keys = map[string][]string{}
		for _, k := range b.KeyColumns {
			vals, err := distinct(ctx, tx, `SELECT DISTINCT CAST(`+QuoteIdent(k)+` AS VARCHAR) FROM `+rows+` r WHERE `+QuoteIdent(k)+` IS NOT NULL AND `+fresh, b.Consumer)
			if err != nil {
				return 0, nil, fmt.Errorf("keys of %s: %w", b.Table, err)
			}
			keys[k] = vals
		}
	}
	// By name: a batch may carry only some of the table's columns (a push); the rest are NULL.
	res, err := tx.ExecContext(ctx, `INSERT INTO `+QuoteIdent(b.Table)+` BY NAME SELECT * FROM `+rows+` r WHERE `+fresh, b.Consumer)
	if err != nil {
		return 0, nil, fmt.Errorf("insert into %s: %w", b.Table, err)
	}
	inserted, _ = res.RowsAffected()
	if _, err := tx.ExecContext(ctx, `INSERT INTO codexion_ingested SELECT DISTINCT ?, r.`+QuoteIdent(b.IDColumn)+` FROM `+ids+
		` r WHERE `+fresh, b.Consumer, b.Consumer); err != nil {
		return 0, nil, fmt.Errorf("record event ids: %w", err)
	}
	if len(b.Offsets) > 0 {
		var args []any
		values := make([]string, len(b.Offsets))
		for i, o := range b.Offsets {
			values[i] = "(?, ?, ?, ?)"
			args = append(args, b.Consumer, o.Topic, o.Partition, o.Next)
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO codexion_offsets VALUES `+strings.Join(values, ", "), args...); err != nil {
			return 0, nil, fmt.Errorf("record offsets: %w", err)
		}
	}
	if s.beforeCommit != nil {
		s.beforeCommit(b.Table)
	}
	if err := tx.Commit(); err != nil {
		return 0, nil, fmt.Errorf("commit batch into %s: %w", b.Table, err)
	}
	s.tables[b.Table] = true
	return inserted, keys, nil
}

func distinct(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Offsets returns where consumer resumes, by topic and partition.
func (s *Store) Offsets(ctx context.Context, consumer string) ([]Offset, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT topic, part, next_offset FROM codexion_offsets WHERE consumer = ? ORDER BY topic, part`, consumer)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Offset
	for rows.Next() {
		var o Offset
		if err := rows.Scan(&o.Topic, &o.Partition, &o.Next); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// ResetForCluster forgets consumer's offsets when the Kafka cluster differs from the one
// they were read from (an embedded broker restarted empty), so it reads from the start
// again; the event ids it keeps drop what was already ingested. It reports whether it reset.
func (s *Store) ResetForCluster(ctx context.Context, consumer, clusterID string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	var known string
	err = tx.QueryRowContext(ctx, `SELECT cluster_id FROM codexion_cluster WHERE consumer = ?`, consumer).Scan(&known)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, err
	}
	reset := known != "" && known != clusterID
	if reset {
		if _, err := tx.ExecContext(ctx, `DELETE FROM codexion_offsets WHERE consumer = ?`, consumer); err != nil {
			return false, err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO codexion_cluster VALUES (?, ?)`, consumer, clusterID); err != nil {
		return false, err
	}
	return reset, tx.Commit()
}

// ResetConsumer forgets everything consumer ingested into table (its offsets and event
// ids) so that it reads its topic again from the start, and moves the table aside as
// <table>__replaced_<unix seconds> rather than dropping it: rows that did not come from
// the topic (pushes) stay there. A pipeline whose output columns changed is rebuilt so.
// It returns the archived table's name ("" when there was no table).
func (s *Store) ResetConsumer(ctx context.Context, consumer, table string) (string, error) {
	if !identifier.MatchString(table) {
		return "", fmt.Errorf("table %q must be a plain identifier", table)
	}
	cols, err := s.Columns(ctx, table)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	archived := ""
	delete(s.tables, table)
	if len(cols) > 0 {
		archived = fmt.Sprintf("%s__replaced_%d", table, time.Now().Unix())
		if _, err := tx.ExecContext(ctx, `ALTER TABLE `+QuoteIdent(table)+` RENAME TO `+QuoteIdent(archived)); err != nil {
			return "", fmt.Errorf("archive %s: %w", table, err)
		}
	}
	for _, q := range []string{`DELETE FROM codexion_offsets WHERE consumer = ?`,
		`DELETE FROM codexion_ingested WHERE consumer = ?`, `DELETE FROM codexion_cluster WHERE consumer = ?`} {
		var args []any
		if strings.Contains(q, "?") {
			args = []any{consumer}
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return "", fmt.Errorf("reset %s: %w", consumer, err)
		}
	}
	return archived, tx.Commit()
}

// Column is a table column and its DuckDB type.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Columns returns table's columns, or none when it does not exist.
func (s *Store) Columns(ctx context.Context, table string) ([]Column, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_name = ? AND table_schema = 'main' ORDER BY ordinal_position`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Column
	for rows.Next() {
		var c Column
		if err := rows.Scan(&c.Name, &c.Type); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
