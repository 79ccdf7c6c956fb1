//go:build duckdb_arrow

package app

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/codexion/codexion/features/offline"
	"github.com/codexion/codexion/pipelines"
	"github.com/codexion/codexion/schemas"
)

// TestLedgerLinesReachTheOfflineStore: on the dev stack, every journal line of the demo book
// reaches DuckDB through the outbox, Kafka and the ledger-lines pipeline, once.
func TestLedgerLinesReachTheOfflineStore(t *testing.T) {
	d, cfg, ctx := startDev(t)
	defer d.Stop() //nolint:errcheck // test teardown
	var lines int
	if err := d.App.DB.QueryRow(ctx, `SELECT count(*) FROM ledger_lines`).Scan(&lines); err != nil {
		t.Fatal(err)
	}
	waitOutboxDrained(t, ctx, d.App.DB)
	raw, err := os.ReadFile("../examples/ledger/pipelines/ledger-lines.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := pipelines.ParseSpec(raw)
	if err != nil {
		t.Fatal(err)
	}
	set, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	off, err := offline.Open(ctx, filepath.Join(cfg.Dev.DataDir, "offline.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	e := &pipelines.Engine{Spec: spec, Store: off, Brokers: d.Endpoints.Kafka, Schemas: set, Log: quietLog()}
	for range 2 { // the second run finds nothing new
		if _, err := e.Run(ctx, true); err != nil {
			t.Fatal(err)
		}
	}
	var got, distinct int
	if err := off.DB().QueryRowContext(ctx, `SELECT count(*), count(DISTINCT (entry_id, line_no)) FROM ledger_lines`).Scan(&got, &distinct); err != nil {
		t.Fatal(err)
	}
	if got != lines || distinct != lines {
		t.Fatalf("offline store holds %d lines (%d distinct); Postgres has %d", got, distinct, lines)
	}
}
