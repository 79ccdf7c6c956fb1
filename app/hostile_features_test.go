package app

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codexion/codexion/catalog"
	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/features/server"
)

// hostileFeatureInput tries, through the API as a data or ML engineer, every way user SQL
// and identifiers were once able to leave the feature store: extra statements in a
// transform, file readers, other tables, a file source outside the roots, a subquery in a
// feature expression, an injected column name in a training-set request and in table
// browsing. Each must be a 400 naming the field, leak no file content, write no file and
// change no catalog revision.
func hostileFeatureInput(t *testing.T, a *api, d *Dev) {
	ctx := context.Background()
	dir := t.TempDir()
	pwned := filepath.Join(dir, "pwned.csv")
	copyTo := "COPY (SELECT 'x' AS x) TO '" + pwned + "'"
	revision := func() int64 {
		r, err := d.App.Features.Catalog.Revision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	before := revision()
	pipeline := func(source, transform string) string {
		return fmt.Sprintf("kind: Pipeline\nname: hostile\nsource: %s\ntransform: %q\nsink: {table: hostile_rows}\n", source, transform)
	}
	topic := "{topic: codexion.ledger.entries.v1, event_types: [codexion.ledger.entry.posted.v1]}"
	view := func(expr string) string {
		return fmt.Sprintf(`kind: FeatureView
name: hostile_view
entity: account
source: {table: ledger_lines, entity_column: account_key, timestamp_column: posted_at}
features:
  - {name: f, column: %q, aggregation: sum}
`, expr)
	}
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"extra statements", pipeline(topic, "SELECT * FROM {{batch}}) LIMIT 0; "+copyTo+"; SELECT * FROM (SELECT 1"), "one SELECT"},
		{"attach", pipeline(topic, "SELECT * FROM {{batch}}; ATTACH '"+d.Endpoints.DataDir+"/offline.duckdb' AS live"), "transform"},
		{"read_text", pipeline(topic, "SELECT b.*, t.content FROM {{batch}} b, read_text('/etc/passwd') t"), "table function read_text"},
		{"read_csv in a subquery", pipeline(topic, "SELECT * FROM {{batch}} WHERE event_id NOT IN (SELECT column0 FROM read_csv('/etc/passwd'))"), "table function read_csv"},
		{"a file by name", pipeline(topic, "SELECT * FROM {{batch}}, '/etc/passwd'"), "only {{batch}}"},
		{"another table", pipeline(topic, "SELECT * FROM {{batch}} UNION ALL BY NAME SELECT * FROM codexion_ingested"), `table "codexion_ingested"`},
		{"settings", pipeline(topic, "SELECT *, current_setting('allowed_directories') AS d FROM {{batch}}"), "function current_setting"},
		{"file source outside the roots", pipeline("{files: /etc/passwd, format: csv}", "SELECT * FROM {{batch}}"), "outside the file roots"},
		{"file source climbing out", pipeline("{files: '"+d.Endpoints.DataDir+"/imports/../dev-tokens.json', format: json}", "SELECT * FROM {{batch}}"), "outside the file roots"},
		{"subquery in a feature", view("amount + (SELECT count(*) FROM read_text('/etc/passwd'))"), "subquery"},
		{"statements in a feature", view("debit), (SELECT 1"), "one expression"},
	} {
		for _, dry := range []string{"?dry_run=true", ""} {
			e := a.refused("data-engineer", "POST", "/v1/catalog/apply"+dry, catalog.ApplyRequest{Documents: []catalog.Document{{File: "hostile.yaml", Content: tc.doc}}})
			if e.Status != 400 || !strings.Contains(e.Detail, tc.want) {
				t.Errorf("%s%s: %d %s, want 400 with %q", tc.name, dry, e.Status, e.Detail, tc.want)
			}
			if strings.Contains(e.Detail, "root:") {
				t.Errorf("%s: the answer leaks a file: %s", tc.name, e.Detail)
			}
		}
	}
	if _, err := os.Stat(pwned); !os.IsNotExist(err) {
		t.Fatalf("a hostile spec wrote %s", pwned)
	}
	if after := revision(); after != before {
		t.Fatalf("refused applies moved the catalog from revision %d to %d", before, after)
	}

	// Identifiers from requests are quoted, never spliced.
	inject := "event_timestamp AS TIMESTAMP) IS NULL; " + copyTo + "; SELECT (1"
	e := a.refused("ml-engineer", "POST", "/v1/features/historical", server.HistoricalRequest{
		Features: []string{"account_activity:balance"}, TimestampColumn: inject,
		Entities: map[string][]any{"account": {"acme:1200"}, "event_timestamp": {"2026-03-01T00:00:00Z"}}})
	if e.Status != 400 || !strings.Contains(e.Detail, "lack column") {
		t.Errorf("historical timestamp_column: %d %s", e.Status, e.Detail)
	}
	for _, q := range []string{"where=" + url.QueryEscape(inject+"=1"), "order_by=" + url.QueryEscape("posted_at; "+copyTo)} {
		e := a.refused("ml-engineer", "GET", "/v1/features/tables/ledger_lines/rows?"+q, nil)
		if e.Status != 400 || strings.Contains(e.Detail, "SELECT") && !strings.Contains(e.Detail, "is not a column") {
			t.Errorf("table rows ?%s: %d %s", q, e.Status, e.Detail)
		}
	}
	if _, err := os.Stat(pwned); !os.IsNotExist(err) {
		t.Fatalf("an injected identifier wrote %s", pwned)
	}

	// Bounded answers: keys no requested view uses are refused, not echoed.
	e = a.refused("ml-engineer", "POST", "/get-online-features", features.OnlineRequest{Features: []string{"account_activity:balance"},
		Entities: map[string][]any{"account": {"acme:1200"}, "padding": {strings.Repeat("x", 100_000)}}})
	if e.Status != 400 || !strings.Contains(e.Detail, `"padding" is not a join key`) {
		t.Errorf("unused join key: %d %s", e.Status, e.Detail)
	}
	// A materialization of an unknown view is refused before any workflow starts.
	e = a.refused("data-engineer", "POST", "/materialize-incremental", features.MaterializeRequest{FeatureViews: []string{"no_such_view"}})
	if e.Status != 400 || !strings.Contains(e.Detail, "no_such_view") {
		t.Errorf("materialize an unknown view: %d %s", e.Status, e.Detail)
	}
}
