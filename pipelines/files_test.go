//go:build duckdb_arrow

package pipelines

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/codexion/codexion/features/offline"
)

// TestBackfillFromFiles: a file source ingests each file once; a new file, or a file that
// changed, is picked up on the next run, and rows are never doubled.
func TestBackfillFromFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := offline.Open(ctx, filepath.Join(dir, "offline.duckdb"), offline.FileRoots(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	write := func(name string, from, to int, extra ...int) {
		t.Helper()
		ids := fmt.Sprintf("SELECT * FROM range(%d, %d)", from, to)
		if len(extra) == 2 {
			ids += fmt.Sprintf(" UNION ALL SELECT * FROM range(%d, %d)", extra[0], extra[1])
		}
		q := fmt.Sprintf(`COPY (SELECT 'id-' || i AS id, 'acme:' || (i %% 7) AS account_key, (i * 1.5)::DECIMAL(18, 2) AS amount
			FROM (%s) t(i)) TO '%s' (FORMAT parquet)`, ids, filepath.Join(dir, name))
		if _, err := store.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	write("part-1.parquet", 0, 100)
	write("part-2.parquet", 100, 250)
	spec, err := ParseSpec([]byte(fmt.Sprintf(`name: backfill
source: {files: '%s/part-*.parquet'}
transform: SELECT id, account_key, amount * 2 AS doubled FROM {{batch}}
sink: {table: history, id_column: id}
`, dir)))
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Spec: spec, Store: store, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	count := func() (n, distinct int) {
		t.Helper()
		if err := store.DB().QueryRowContext(ctx, `SELECT count(*), count(DISTINCT id) FROM history`).Scan(&n, &distinct); err != nil {
			t.Fatal(err)
		}
		return n, distinct
	}
	for run, want := range []struct {
		prepare     func()
		files, rows int
		total       int
	}{
		{func() {}, 2, 250, 250},
		{func() {}, 0, 0, 250}, // nothing new
		{func() { write("part-3.parquet", 250, 300) }, 1, 50, 300},           // a new file
		{func() { write("part-1.parquet", 0, 100, 1000, 1020) }, 1, 20, 320}, // a changed file: only its new rows
	} {
		want.prepare()
		if lag, err := e.Lag(ctx); err != nil || lag != int64(want.files) {
			t.Fatalf("run %d: lag %d (%v), want %d files", run, lag, err, want.files)
		}
		st, err := e.Run(ctx, true)
		if err != nil || st.Events != want.files || st.Rows != int64(want.rows) {
			t.Fatalf("run %d: %+v %v", run, st, err)
		}
		if n, d := count(); n != want.total || d != want.total {
			t.Fatalf("run %d: %d rows (%d distinct), want %d", run, n, d, want.total)
		}
	}
	var doubled string
	if err := store.DB().QueryRowContext(ctx, `SELECT CAST(doubled AS VARCHAR) FROM history WHERE id = 'id-3'`).Scan(&doubled); err != nil || doubled != "9.00" {
		t.Fatalf("transform: %s %v", doubled, err)
	}
}
