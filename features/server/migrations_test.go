package server

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/codexion/codexion/catalog"
	"github.com/codexion/codexion/internal/dbtest"
	"github.com/codexion/codexion/platform/postgres"
)

// TestJobsMoveFromTheCatalogWithTheirRows: a database migrated before the feature store kept
// its own jobs table holds a job in the catalog's; after every migration runs, the job is in
// the feature store's table and the catalog keeps no jobs table.
func TestJobsMoveFromTheCatalogWithTheirRows(t *testing.T) {
	ctx := context.Background()
	full := catalog.Migrations()
	old := fstest.MapFS{}
	err := fs.WalkDir(full.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".sql") || p >= "0003" {
			return err
		}
		b, err := fs.ReadFile(full.FS, p)
		old[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	db := dbtest.Migrated(t, postgres.Source{Name: full.Name, FS: old})
	const id = "0190a5a4-7b1c-7cc0-8a7e-3b0b1f2c9d10"
	if _, err := db.Exec(ctx, `INSERT INTO feature_jobs (id, status, request, format, rows, created_by)
		VALUES ($1, 'succeeded', '{"features":["v:f"]}', 'parquet', 42, 'alice')`, id); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Up(ctx, db.Pool, []postgres.Source{full, Migrations()}); err != nil {
		t.Fatal(err)
	}
	var rows int64
	var by string
	if err := db.Pool.QueryRow(ctx, `SELECT rows, created_by FROM feature_jobs WHERE id = $1`, id).Scan(&rows, &by); err != nil || rows != 42 || by != "alice" {
		t.Fatalf("the job after the move: %d rows by %q, %v", rows, by, err)
	}
	var leftover *string
	if err := db.Pool.QueryRow(ctx, `SELECT to_regclass('feature_jobs_leaving_catalog')::text`).Scan(&leftover); err != nil || leftover != nil {
		t.Fatalf("the catalog's old table is still there: %v %v", leftover, err)
	}
}
