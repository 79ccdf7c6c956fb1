package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Source is one domain's migrations: files named NNNN_description.sql in FS's root.
type Source struct {
	Name string // e.g. "ledger"; migrations are tracked per source
	FS   fs.FS
}

// Migration is one numbered SQL file.
type Migration struct {
	Source   string
	Version  int
	Name     string
	Checksum string
	SQL      string
}

// Status is a migration with whether and when it was applied.
type Status struct {
	Migration
	AppliedAt *time.Time
}

var fileName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// migrationsLockID is the advisory lock that serialises concurrent migrators.
const migrationsLockID = 0x636f6465 // "code"

const createTable = `CREATE TABLE IF NOT EXISTS codexion_schema_migrations (
	source     text        NOT NULL,
	version    integer     NOT NULL,
	name       text        NOT NULL,
	checksum   text        NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (source, version)
)`

// Load reads and orders the migrations of every source. Versions within a source must
// run 1, 2, 3... without gaps, so a missing file is caught before anything runs.
func Load(sources []Source) ([]Migration, error) {
	var all []Migration
	for _, src := range sources {
		entries, err := fs.ReadDir(src.FS, ".")
		if err != nil {
			return nil, fmt.Errorf("migrations %s: %w", src.Name, err)
		}
		var ms []Migration
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			m := fileName.FindStringSubmatch(e.Name())
			if m == nil {
				return nil, fmt.Errorf("migrations %s: file %s is not named NNNN_description.sql", src.Name, e.Name())
			}
			body, err := fs.ReadFile(src.FS, path.Clean(e.Name()))
			if err != nil {
				return nil, err
			}
			v, _ := strconv.Atoi(m[1])
			sum := sha256.Sum256(body)
			ms = append(ms, Migration{Source: src.Name, Version: v, Name: m[2], Checksum: hex.EncodeToString(sum[:]), SQL: string(body)})
		}
		slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
		for i, m := range ms {
			if m.Version != i+1 {
				return nil, fmt.Errorf("migrations %s: expected version %04d, found %04d_%s", src.Name, i+1, m.Version, m.Name)
			}
		}
		all = append(all, ms...)
	}
	return all, nil
}

// Up applies every pending migration, each in its own transaction, under an advisory
// lock so that concurrent starts apply each migration once. An applied migration whose
// file has changed is an error: migrations are append-only.
func Up(ctx context.Context, pool *pgxpool.Pool, sources []Source) (applied []Migration, err error) {
	ms, err := Load(sources)
	if err != nil {
		return nil, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationsLockID); err != nil {
		return nil, err
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationsLockID)
	}()
	if _, err := conn.Exec(ctx, createTable); err != nil {
		return nil, err
	}
	done, err := appliedChecksums(ctx, conn.Conn())
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		key := fmt.Sprintf("%s/%d", m.Source, m.Version)
		if sum, ok := done[key]; ok {
			if sum != m.Checksum {
				return applied, fmt.Errorf("migration %s %04d_%s was changed after it was applied; add a new migration instead", m.Source, m.Version, m.Name)
			}
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO codexion_schema_migrations (source, version, name, checksum) VALUES ($1, $2, $3, $4)`,
				m.Source, m.Version, m.Name, m.Checksum)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migration %s %04d_%s: %w", m.Source, m.Version, m.Name, err)
		}
		applied = append(applied, m)
	}
	return applied, nil
}

// List reports every known migration and whether it was applied.
func List(ctx context.Context, pool *pgxpool.Pool, sources []Source) ([]Status, error) {
	ms, err := Load(sources)
	if err != nil {
		return nil, err
	}
	if _, err := pool.Exec(ctx, createTable); err != nil {
		return nil, err
	}
	rows, err := pool.Query(ctx, `SELECT source, version, applied_at FROM codexion_schema_migrations`)
	if err != nil {
		return nil, err
	}
	at := map[string]time.Time{}
	for rows.Next() {
		var (
			src string
			v   int
			t   time.Time
		)
		if err := rows.Scan(&src, &v, &t); err != nil {
			return nil, err
		}
		at[fmt.Sprintf("%s/%d", src, v)] = t
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]Status, len(ms))
	for i, m := range ms {
		out[i] = Status{Migration: m}
		if t, ok := at[fmt.Sprintf("%s/%d", m.Source, m.Version)]; ok {
			out[i].AppliedAt = &t
		}
	}
	return out, nil
}

func appliedChecksums(ctx context.Context, conn *pgx.Conn) (map[string]string, error) {
	rows, err := conn.Query(ctx, `SELECT source, version, checksum FROM codexion_schema_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var (
			src, sum string
			v        int
		)
		if err := rows.Scan(&src, &v, &sum); err != nil {
			return nil, err
		}
		out[fmt.Sprintf("%s/%d", src, v)] = sum
	}
	return out, rows.Err()
}

// Embedded is the migration source of a domain that embeds its files as migrations/*.sql.
func Embedded(name string, files fs.FS) Source {
	sub, err := fs.Sub(files, "migrations")
	if err != nil {
		panic("migrations of " + name + ": " + err.Error()) // the embed directive guarantees the folder
	}
	return Source{Name: name, FS: sub}
}
