package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/codexion/codexion/catalog"
	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/workflows/ingest"
)

// offlineLines counts ledger_lines rows in the offline store, and distinct lines.
func offlineLines(t *testing.T, d *Dev) (rows, distinct int) {
	t.Helper()
	if err := d.App.Features.Offline.DB().QueryRow(`SELECT count(*), count(DISTINCT (entry_id, line_no)) FROM ledger_lines`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	return rows, distinct
}

func postgresLines(t *testing.T, ctx context.Context, d *Dev) int {
	t.Helper()
	var n int
	if err := d.App.DB.QueryRow(ctx, `SELECT count(*) FROM ledger_lines`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func entry(desc string) map[string]any {
	return map[string]any{"book": "acme", "posting_date": time.Now().UTC().Format(time.DateOnly), "journal": "general", "description": desc,
		"lines": []map[string]any{{"account": "1200", "debit": "3.00"}, {"account": "4000", "credit": "3.00"}}}
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPipelinesOnTemporal: on the dev stack, Temporal runs the applied pipeline (visible to
// Temporal's own CLI), pauses and resumes it, survives the worker being killed mid-stream and
// the Temporal server being down for a while, and reports a failing pipeline until a fixed
// spec is applied. Every line reaches the offline store exactly once throughout.
func TestPipelinesOnTemporal(t *testing.T) {
	cfg := devConfig(t)
	cfg.Features.IngestRun = 3 * time.Second // short activity runs: many hand-overs to the workflow
	d, ctx := startDevWith(t, cfg, 5*time.Minute)
	defer d.Stop() //nolint:errcheck // test teardown
	a := newAPI(t, d)
	drain := func(t *testing.T, name string) {
		t.Helper()
		a.with(t).do("data-engineer", "POST", "/v1/pipelines/"+name+"/drain", nil, nil)
	}
	exactlyOnce := func(t *testing.T) {
		t.Helper()
		waitOutboxDrained(t, ctx, d.App.DB)
		drain(t, "ledger-lines")
		want := postgresLines(t, ctx, d)
		if rows, distinct := offlineLines(t, d); rows != want || distinct != want {
			t.Fatalf("offline store: %d rows (%d distinct); Postgres has %d lines", rows, distinct, want)
		}
	}
	exactlyOnce(t)

	t.Run("Temporal's CLI lists the pipeline workflow and the schedules", func(t *testing.T) {
		out, err := exec.Command(cfg.Dev.TemporalCLI, "workflow", "list", "--address", d.Endpoints.Temporal, "--query", "ExecutionStatus='Running'").CombinedOutput()
		if err != nil || !strings.Contains(string(out), ingest.WorkflowID("ledger-lines")) || !strings.Contains(string(out), "IngestPipeline") {
			t.Fatalf("temporal workflow list: %v\n%s", err, out)
		}
		out, err = exec.Command(cfg.Dev.TemporalCLI, "schedule", "list", "--address", d.Endpoints.Temporal).CombinedOutput()
		if err != nil || !strings.Contains(string(out), ingest.ScheduleID("account_activity")) {
			t.Fatalf("temporal schedule list: %v\n%s", err, out)
		}
	})

	t.Run("a view's schedule materializes it", func(t *testing.T) {
		before := metricValue(t, d, `codexion_feature_online_writes_total{by="materialize",view="account_activity"}`)
		if err := d.App.Temporal.ScheduleClient().GetHandle(ctx, ingest.ScheduleID("account_activity")).Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "the scheduled materialization", func() bool {
			return metricValue(t, d, `codexion_feature_online_writes_total{by="materialize",view="account_activity"}`) > before
		})
	})

	t.Run("pause and resume", func(t *testing.T) {
		a := a.with(t)
		a.do("data-engineer", "POST", "/v1/pipelines/ledger-lines/pause", nil, nil)
		waitFor(t, 15*time.Second, "paused, its run stopped", func() bool {
			st := ingest.Status{}
			a.do("data-engineer", "GET", "/v1/pipelines/ledger-lines", nil, &st)
			return st.Workflow != nil && st.Workflow.Paused && st.Running == nil
		})
		before, _ := offlineLines(t, d)
		a.do("finance", "POST", "/v1/ledger/entries", entry("while paused"), nil)
		waitOutboxDrained(t, ctx, d.App.DB)
		time.Sleep(2 * time.Second)
		if rows, _ := offlineLines(t, d); rows != before {
			t.Fatalf("a paused pipeline wrote %d rows", rows-before)
		}
		a.do("data-engineer", "POST", "/v1/pipelines/ledger-lines/resume", nil, nil)
		exactlyOnce(t)
	})

	// The worker is stopped here, in process; TestProcessesKilledMidWork SIGKILLs the
	// process that owns the offline store with a batch held before its commit.
	t.Run("the worker is stopped mid-stream", func(t *testing.T) {
		a := a.with(t)
		var entries []map[string]any
		for i := range 1000 {
			entries = append(entries, entry(fmt.Sprintf("load %d", i)))
		}
		// The worker stops with a batch written but not committed.
		reached, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		d.App.Features.Offline.SetBeforeCommit(func(table string) {
			if table != "ledger_lines" {
				return
			}
			once.Do(func() { close(reached); <-release })
		})
		defer d.App.Features.Offline.SetBeforeCommit(nil)
		for range 3 {
			a.do("finance", "POST", "/v1/ledger/entries:batch", map[string]any{"atomic": true, "entries": entries}, nil)
		}
		select {
		case <-reached:
		case <-time.After(30 * time.Second):
			t.Fatal("no batch reached its commit")
		}
		go func() { time.Sleep(2 * time.Second); close(release) }() // the transaction then finds its context gone
		if err := d.App.FeatureWorker.Stop(ctx); err != nil {       // the activity in flight is cancelled with it
			t.Fatal(err)
		}
		stopped, _ := offlineLines(t, d)
		if err := d.App.FeatureWorker.Start(ctx); err != nil { // a new worker picks the workflow up
			t.Fatal(err)
		}
		exactlyOnce(t)
		t.Logf("stopped with %d of %d lines ingested", stopped, postgresLines(t, ctx, d))
	})

	t.Run("Temporal down for a while", func(t *testing.T) {
		a := a.with(t)
		if err := d.Temporal.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		code, body := get(t, d.Endpoints.Readyz, "")
		if code != http.StatusServiceUnavailable || !strings.Contains(string(body), "temporal") {
			t.Fatalf("readyz with Temporal down: %d %s", code, body)
		}
		// The API stays up: postings, lookups and the pipeline status (which says why).
		a.do("finance", "POST", "/v1/ledger/entries", entry("while Temporal is down"), nil)
		a.online(features.OnlineRequest{Features: []string{"account_activity:balance"}, Entities: map[string][]any{"account": {"acme:1200"}}})
		var st ingest.Status
		a.do("data-engineer", "GET", "/v1/pipelines/ledger-lines", nil, &st)
		if st.Orchestration == "" {
			t.Fatalf("status with Temporal down says nothing about it: %+v", st)
		}
		time.Sleep(3 * time.Second)
		if err := d.Temporal.Start(ctx); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 60*time.Second, "ready again", func() bool { code, _ := get(t, d.Endpoints.Readyz, ""); return code == http.StatusOK })
		a.do("finance", "POST", "/v1/ledger/entries", entry("after Temporal is back"), nil)
		exactlyOnce(t)
	})

	t.Run("a failing pipeline reports its error and recovers with a fixed spec", func(t *testing.T) {
		a := a.with(t)
		spec := func(transform string) catalog.ApplyRequest {
			return catalog.ApplyRequest{Documents: []catalog.Document{{File: "probe.yaml", Content: `kind: Pipeline
name: probe
source:
  topic: codexion.ledger.entries.v1
  event_types: [codexion.ledger.entry.posted.v1, codexion.ledger.entry.reversed.v1]
  validate: producer
  explode: lines
  columns:
    - {name: book, path: book}
    - {name: line_no, path: item.line_no, type: INTEGER}
transform: ` + transform + `
sink: {table: probe_lines, id_column: event_id}
flush_interval: 200ms
`}}}
		}
		// Valid SQL that fails on real data: the book code is not a number.
		a.do("data-engineer", "POST", "/v1/catalog/apply", spec("SELECT event_id, line_no, CAST(book AS INTEGER) AS book_no FROM {{batch}}"), nil)
		var st ingest.Status
		waitFor(t, 90*time.Second, "the failure in the status query", func() bool {
			a.do("data-engineer", "GET", "/v1/pipelines/probe", nil, &st)
			return st.Workflow != nil && st.Workflow.ConsecutiveFailures > 0 && strings.Contains(st.Workflow.LastError, "acme")
		})
		if !metricAbove(t, d, `codexion_pipeline_errors_total{pipeline="probe"}`, 0) {
			t.Fatal("codexion_pipeline_errors_total{pipeline=\"probe\"} not counted")
		}
		var res catalog.Result
		a.do("data-engineer", "POST", "/v1/catalog/apply?force=true", spec("SELECT event_id, line_no, book FROM {{batch}}"), &res)
		if res.Changes[0].Version != 2 {
			t.Fatalf("fix applied as %+v", res.Changes)
		}
		waitFor(t, 90*time.Second, "recovered", func() bool {
			st = ingest.Status{} // a fresh value: omitted fields must not keep old ones
			a.do("data-engineer", "GET", "/v1/pipelines/probe", nil, &st)
			return st.Workflow != nil && st.Workflow.Version == 2 && st.Workflow.LastError == "" && st.Workflow.Rows > 0
		})
		drain(t, "probe")
		var rows int
		if err := d.App.Features.Offline.DB().QueryRow(`SELECT count(*) FROM probe_lines`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if want := postgresLines(t, ctx, d); rows != want {
			t.Fatalf("probe_lines has %d rows; Postgres has %d lines", rows, want)
		}
		// Deleted from the catalog, its workflow ends.
		if p := a.refused("data-engineer", "DELETE", "/v1/catalog/Pipeline/probe", nil); p.Status != 409 {
			t.Fatalf("delete without force: %d %s", p.Status, p.Detail)
		}
		a.do("data-engineer", "DELETE", "/v1/catalog/Pipeline/probe?force=true", nil, nil)
		waitFor(t, 30*time.Second, "the probe's workflow ended", func() bool {
			desc, err := d.App.Temporal.DescribeWorkflow(ctx, ingest.WorkflowID("probe"), "")
			return err == nil && desc.RawResponse.GetWorkflowExecutionInfo().GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING
		})
	})

	t.Run("backfill is idempotent", func(t *testing.T) {
		a := a.with(t)
		var b ingest.BackfillStatus
		a.do("data-engineer", "POST", "/v1/pipelines/ledger-lines/backfill", ingest.BackfillRequest{}, &b)
		if b.Events == 0 || b.Rows != 0 {
			t.Fatalf("a backfill of an ingested topic read %d events and added %d rows", b.Events, b.Rows)
		}
		// By offsets: only that range is read.
		var part ingest.BackfillStatus
		a.do("data-engineer", "POST", "/v1/pipelines/ledger-lines/backfill", ingest.BackfillRequest{
			ToOffsets: map[int]int64{0: 5, 1: 5, 2: 5}}, &part)
		if part.Events == 0 || part.Events > 15 || part.Rows != 0 {
			t.Fatalf("backfill of offsets [0, 5) in 3 partitions read %d events, added %d rows", part.Events, part.Rows)
		}
		exactlyOnce(t)
	})

	if os.Getenv("CODEXION_RECORD_HISTORY") != "" {
		recordHistory(t, ctx, d, ingest.WorkflowID("ledger-lines"), filepath.Join("..", "workflows", "ingest", "testdata", "ingest_pipeline_history.json"))
	}
}

func metricValue(t *testing.T, d *Dev, series string) float64 {
	t.Helper()
	resp, err := http.Get(d.Endpoints.Metrics)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return 0
}

func metricAbove(t *testing.T, d *Dev, series string, min float64) bool {
	t.Helper()
	return metricValue(t, d, series) > min
}

// recordHistory saves a workflow's history to path for its package's replay test
// (CODEXION_RECORD_HISTORY=1 go test ./app -run 'TestPipelinesOnTemporal|TestFeatureStore').
func recordHistory(t *testing.T, ctx context.Context, d *Dev, workflowID, path string) {
	t.Helper()
	iter := d.App.Temporal.GetWorkflowHistory(ctx, workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var h historypb.History
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	data, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&h)
	if err != nil {
		t.Fatal(err)
	}
	var check any
	if err := json.Unmarshal(data, &check); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d events into %s", len(h.Events), path)
}
