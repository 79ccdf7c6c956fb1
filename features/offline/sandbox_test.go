//go:build duckdb_arrow

package offline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUserSQLEscapesAreRefused: every way out of a transform or a feature expression that an
// adversary tried (extra statements, file readers, other tables, other databases, settings)
// is refused by the parse-tree check, and the legitimate shapes pass.
func TestUserSQLEscapesAreRefused(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		transform string
		refused   string // a part of the error; "" when it must pass
	}{
		{"SELECT * FROM {{batch}}", ""},
		{"SELECT event_id, upper(source) AS s FROM {{batch}} WHERE event_type = 'x' -- trailing comment", ""},
		{"WITH x AS (SELECT * FROM {{batch}}) SELECT * FROM x UNION ALL SELECT * FROM {{batch}}", ""},
		{"SELECT * FROM {{batch}} WHERE event_id IN (SELECT event_id FROM {{batch}} LIMIT 1);", ""},
		{"SELECT * FROM {{batch}}) LIMIT 0; COPY (SELECT 1) TO '/tmp/x'; SELECT * FROM (SELECT 1", "one SELECT"},
		{"SELECT * FROM {{batch}}; ATTACH '/tmp/x.db'", "syntax error"},
		{"SELECT * FROM {{batch}}; SELECT 1", "syntax error"},
		{"SELECT * FROM {{batch}}) AS codexion_transform, (SELECT 1", "exactly one SELECT"},
		{"SELECT content FROM read_text('/etc/passwd'), {{batch}}", "table function read_text"},
		{"SELECT * FROM {{batch}} WHERE event_id IN (SELECT a FROM read_csv('/etc/passwd'))", "table function read_csv"},
		{"SELECT * FROM {{batch}}, glob('/root/*')", "table function glob"},
		{"SELECT * FROM {{batch}}, '/etc/passwd'", `table "/etc/passwd"`},
		{"SELECT * FROM {{batch}}, codexion_ingested", `table "codexion_ingested"`},
		{"SELECT * FROM {{batch}}, main.codexion_offsets", "table main.codexion_offsets"},
		{"SELECT * FROM {{batch}}, live.main.t", "table live.main.t"},
		{"SELECT * FROM (WITH codexion_ingested AS (SELECT 1) SELECT 1), codexion_ingested, {{batch}}", `table "codexion_ingested"`},
		{"SELECT current_setting('allowed_directories') AS d FROM {{batch}}", "function current_setting"},
		{"SELECT * FROM {{batch}}, duckdb_settings()", "table function duckdb_settings"},
		{"SELECT * FROM {{batch}}, query('SELECT 1')", "table function query"},
		{"SELECT * FROM batch", "must read the batch"},
		{"COPY (SELECT * FROM {{batch}}) TO '/tmp/x'", "syntax error"},
		{"SELEC * FROM {{batch}}", "syntax error"},
	} {
		err := s.CheckTransform(ctx, tc.transform)
		switch {
		case tc.refused == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.transform, err)
		case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused)):
			t.Errorf("%s: %v, want an error with %q", tc.transform, err, tc.refused)
		}
	}
	for _, tc := range []struct {
		expr    string
		refused string
	}{
		{"amount", ""},
		{"CASE WHEN side = 'debit' THEN amount ELSE -amount END", ""},
		{"coalesce(amount, 0) * 2 -- note", ""},
		{"amount) FROM codexion_row; COPY (SELECT 1) TO '/tmp/x'; SELECT (1", "one SELECT"},
		{"amount) FROM other --", "syntax error"},
		{"amount), (1", "one expression"},
		{"(SELECT max(x) FROM other)", "subquery"},
		{"amount + (SELECT count(*) FROM read_text('/etc/passwd'))", "subquery"},
		{"current_setting('TimeZone')", "function current_setting"},
		{"main.upper(x)", "function main.upper"},
	} {
		err := s.CheckExpr(ctx, tc.expr)
		switch {
		case tc.refused == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.expr, err)
		case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused)):
			t.Errorf("%s: %v, want an error with %q", tc.expr, err, tc.refused)
		}
	}
}

// TestStoreIsSandboxed: whatever SQL reaches the database, it reads and writes no file
// outside the store's own folders, attaches nothing, installs nothing and cannot unlock
// its settings; files under a file root stay readable.
func TestStoreIsSandboxed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	roots := filepath.Join(dir, "imports")
	secret := filepath.Join(dir, "secret.txt")
	for path, body := range map[string]string{filepath.Join(roots, "a.csv"): "a,b\n1,2\n", secret: "token"} {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(secret, filepath.Join(roots, "link.csv")); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, filepath.Join(dir, "offline.duckdb"), FileRoots(roots))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db := s.DB()
	for _, stmt := range []string{
		"SELECT * FROM read_text('" + secret + "')",
		"SELECT * FROM read_csv('" + roots + "/../secret.txt')",
		"COPY (SELECT 1) TO '" + filepath.Join(dir, "out.csv") + "'",
		"ATTACH '" + filepath.Join(dir, "other.duckdb") + "'",
		"SET enable_external_access = true",
		"SET lock_configuration = false",
		"INSTALL httpfs",
		"LOAD httpfs",
		"SELECT * FROM glob('/etc/*')",
	} {
		if _, err := db.ExecContext(ctx, stmt); err == nil {
			t.Errorf("%s: ran", stmt)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out.csv")); !os.IsNotExist(err) {
		t.Fatalf("COPY wrote a file: %v", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM read_csv('"+filepath.Join(roots, "a.csv")+"')").Scan(&n); err != nil || n != 1 {
		t.Fatalf("a file under a root: %d rows, %v", n, err)
	}
	var tz string
	if err := db.QueryRowContext(ctx, "SELECT current_setting('TimeZone')").Scan(&tz); err != nil || tz != "UTC" {
		t.Fatalf("time zone %q, %v", tz, err)
	}
	if _, err := s.CheckFileSource(filepath.Join(roots, "*.csv")); err != nil {
		t.Fatalf("a glob under a root: %v", err)
	}
	for _, p := range []string{"/etc/passwd", filepath.Join(roots, "..", "*.txt"), dir + "/*"} {
		if _, err := s.CheckFileSource(p); err == nil || !strings.Contains(err.Error(), "outside the file roots") {
			t.Errorf("%s: %v", p, err)
		}
	}
	if _, err := s.ReadableFile(filepath.Join(roots, "link.csv")); err == nil {
		t.Error("a link out of the root was readable")
	}
	bare, err := Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	if _, err := bare.CheckFileSource(filepath.Join(roots, "a.csv")); err == nil || !strings.Contains(err.Error(), "no file roots") {
		t.Fatalf("without roots: %v", err)
	}
}

// TestStoredSQLMeetsTheRulesBeforeItRuns: a transform or expression that reached the store
// without passing apply (a catalog stored before a rule existed) is refused before it runs,
// and nothing is written.
func TestStoredSQLMeetsTheRulesBeforeItRuns(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rows.csv"), []byte("id,v\na,1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, ":memory:", FileRoots(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Append(ctx, Batch{Consumer: "old", Table: "t", IDColumn: "id", SourceSQL: "read_csv('" + filepath.Join(dir, "rows.csv") + "')",
		Transform: "SELECT * FROM {{batch}} UNION ALL BY NAME SELECT consumer AS id FROM codexion_ingested"})
	if err == nil || !strings.Contains(err.Error(), `table "codexion_ingested"`) {
		t.Fatalf("a stored transform reading another table: %v", err)
	}
	if cols, _ := s.Columns(ctx, "t"); len(cols) != 0 {
		t.Fatalf("the refused batch created its table: %v", cols)
	}
	if err := s.CheckExprsOnce(ctx, "v", "v + (SELECT 1)"); err == nil || !strings.Contains(err.Error(), "subquery") {
		t.Fatalf("a stored expression with a subquery: %v", err)
	}
	n, err := s.Append(ctx, Batch{Consumer: "ok", Table: "t", IDColumn: "id", SourceSQL: "read_csv('" + filepath.Join(dir, "rows.csv") + "')",
		Transform: "SELECT id, v * 2 AS v FROM {{batch}}"})
	if err != nil || n != 1 {
		t.Fatalf("a good transform: %d rows, %v", n, err)
	}
}
