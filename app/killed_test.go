package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/codexion/codexion/connectors/objectstore"
	"github.com/codexion/codexion/features/offline"
	"github.com/codexion/codexion/features/server"
	"github.com/codexion/codexion/platform/config"
	"github.com/codexion/codexion/platform/postgres"
	"github.com/codexion/codexion/workflows/trainingset"
)

// A dev process that the parent test starts and SIGKILLs. It runs the app on services the
// parent owns (PostgreSQL, the broker, S3, Temporal), so they outlive it. While a hold
// file exists in its data directory it stops at that point and says so on stdout:
//   - hold-batch: a pipeline batch into ledger_lines is written and not committed;
//   - hold-training-set: a training set is built and not uploaded.
const (
	childConfigEnv  = "CODEXION_DEV_CHILD_CONFIG"
	childReady      = "dev child ready"
	childHeldBatch  = "held a ledger_lines batch before its commit"
	childHeldSet    = "held training set "
	holdBatchFile   = "hold-batch"
	holdTrainingSet = "hold-training-set"
)

// TestDevChildProcess is the process TestProcessesKilledMidWork starts and kills; it runs
// only as that child.
func TestDevChildProcess(t *testing.T) {
	raw := os.Getenv(childConfigEnv)
	if raw == "" {
		t.Skip("runs as the child of TestProcessesKilledMidWork")
	}
	var cfg config.Config
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	d, err := StartDev(context.Background(), cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))) // the parent shows it on failure
	if err != nil {
		t.Fatal(err)
	}
	holding := func(name string) bool { _, err := os.Stat(filepath.Join(cfg.Dev.DataDir, name)); return err == nil }
	var once sync.Once
	d.App.Features.Offline.SetBeforeCommit(func(table string) {
		if table == "ledger_lines" && holding(holdBatchFile) {
			once.Do(func() {
				fmt.Println(childHeldBatch)
				time.Sleep(time.Hour) // until SIGKILL
			})
		}
	})
	d.App.Features.TrainingSets().SetBeforeUpload(func(jobID string) {
		if holding(holdTrainingSet) {
			fmt.Println(childHeldSet + jobID)
			time.Sleep(time.Hour) // until SIGKILL
		}
	})
	fmt.Println(childReady)
	time.Sleep(time.Hour) // until SIGKILL
}

// child is a running dev child process.
type child struct {
	cmd   *exec.Cmd
	lines chan string
	log   string // its stderr
}

// tail is the end of the child's log, for a failure message.
func (c *child) tail() string {
	raw, _ := os.ReadFile(c.log)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	return strings.Join(lines[max(0, len(lines)-30):], "\n")
}

// startChild starts a dev process with cfg and waits until it is ready.
func startChild(t *testing.T, cfg config.Config, n int) *child {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDevChildProcess$", "-test.count=1", "-test.timeout=10m")
	cmd.Env = append(os.Environ(), childConfigEnv+"="+string(raw))
	stderr, err := os.Create(filepath.Join(t.TempDir(), fmt.Sprintf("child-%d.log", n)))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, lines: make(chan string, 16), log: stderr.Name()}
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			c.lines <- s.Text()
		}
		close(c.lines)
	}()
	t.Cleanup(func() { c.kill(t) })
	c.await(t, childReady, 3*time.Minute, stderr.Name())
	return c
}

// await waits for a line starting with prefix and returns it.
func (c *child) await(t *testing.T, prefix string, within time.Duration, logs ...string) string {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("the child exited before saying %q (logs: %v)", prefix, logs)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-timeout:
			t.Fatalf("the child did not say %q within %s (logs: %v)", prefix, within, logs)
		}
	}
}

// kill sends SIGKILL and reaps the process: no deferred function, no graceful stop.
func (c *child) kill(t *testing.T) {
	if c.cmd.ProcessState != nil {
		return
	}
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Logf("kill: %v", err)
	}
	_ = c.cmd.Wait()
	if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && (!ws.Signaled() || ws.Signal() != syscall.SIGKILL) {
		t.Errorf("the child ended with %v, not by SIGKILL", c.cmd.ProcessState)
	}
}

// TestProcessesKilledMidWork SIGKILLs the process that owns the offline store twice: once
// with a pipeline batch written and not committed, once with a training set built and not
// uploaded. The services live on in this process, as they would on their own machines. After
// each kill a new process on the same data takes over: the held batch left nothing and its
// rows are written exactly once later; the training-set job, whose workflow Temporal retries
// on the new process, completes once with the same result a clean run gives.
func TestProcessesKilledMidWork(t *testing.T) {
	if testing.Short() {
		t.Skip("starts, kills and restarts dev processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cfg := devConfig(t)
	svc, cfg, err := StartServices(ctx, cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop() //nolint:errcheck // test teardown
	db, err := postgres.NewPool(cfg.Database.URL, 4)
	if err != nil {
		t.Fatal(err)
	}
	dataDir := cfg.Dev.DataDir
	// The stores' files, where every child opens them (and this test reads them between kills).
	cfg.Features.OfflinePath = filepath.Join(dataDir, "offline.duckdb")
	cfg.Features.OnlinePath = filepath.Join(dataDir, "online.db")

	first := startChild(t, cfg, 1) // creates and seeds the demo book, applies the examples
	if err := db.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer db.Stop(ctx) //nolint:errcheck // test teardown
	raw, err := os.ReadFile(filepath.Join(dataDir, "dev-tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	a := &api{t: t, base: "http://" + cfg.HTTP.Addr}
	if err := json.Unmarshal(raw, &a.tokens); err != nil {
		t.Fatal(err)
	}
	pgLines := func() int {
		var n int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM ledger_lines`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	apiLines := func() int64 {
		var tables []server.Table
		a.do("data-engineer", "GET", "/v1/features/tables", nil, &tables)
		for _, tb := range tables {
			if tb.Name == "ledger_lines" {
				return tb.Rows
			}
		}
		return 0
	}
	waitFor(t, 2*time.Minute, "the seeded book in the offline store", func() bool {
		n := pgLines()
		return n > 0 && apiLines() == int64(n)
	})
	before := apiLines()

	t.Run("a pipeline batch held before its commit", func(t *testing.T) {
		a := a.with(t)
		hold(t, filepath.Join(dataDir, holdBatchFile))
		var entries []map[string]any
		for i := range 200 {
			entries = append(entries, entry(fmt.Sprintf("killed %d", i)))
		}
		for range 3 {
			a.do("finance", "POST", "/v1/ledger/entries:batch", map[string]any{"atomic": true, "entries": entries}, nil)
		}
		first.await(t, childHeldBatch, time.Minute)
		first.kill(t)

		// What the dead process left: the held batch rolled back, nothing after it.
		off, err := offline.Open(ctx, cfg.Features.OfflinePath)
		if err != nil {
			t.Fatal(err)
		}
		var rows, distinct int64
		err = off.DB().QueryRowContext(ctx, `SELECT count(*), count(DISTINCT (entry_id, line_no)) FROM ledger_lines`).Scan(&rows, &distinct)
		off.Close() //nolint:errcheck // read only
		if err != nil {
			t.Fatal(err)
		}
		if rows != before || distinct != rows {
			t.Fatalf("after the kill the offline store holds %d lines (%d distinct); before the held batch it held %d", rows, distinct, before)
		}
	})

	second := startChild(t, cfg, 2)
	// The killed process's ingest attempt is given up after its heartbeat timeout (20 s) and
	// retried here; on two busy cores that can take a while.
	for deadline := time.Now().Add(4 * time.Minute); apiLines() != int64(pgLines()); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after the restart the offline store holds %d of %d lines (%s); the new process's log ends:\n%s", apiLines(), pgLines(), offlineVsLedger(a, db), second.tail())
		}
	}

	t.Run("a training-set build killed before its upload", func(t *testing.T) {
		a := a.with(t)
		hold(t, filepath.Join(dataDir, holdTrainingSet))
		ents := map[string][]any{"account": {"acme:1200", "acme:4000", "acme:1200"},
			"event_timestamp": {"2026-01-31T23:59:59Z", "2026-02-28T23:59:59Z", time.Now().UTC().Format(time.RFC3339)}}
		var job server.Job
		a.do("ml-engineer", "POST", "/v1/features/historical", server.HistoricalRequest{
			Features: []string{"account_activity:balance"}, Entities: ents}, &job)
		line := second.await(t, childHeldSet, time.Minute)
		if got := strings.TrimPrefix(line, childHeldSet); got != job.ID {
			t.Fatalf("held job %s, submitted %s", got, job.ID)
		}
		second.kill(t)

		var status string
		if err := db.QueryRow(ctx, `SELECT status FROM feature_jobs WHERE id = $1`, job.ID).Scan(&status); err != nil || status != "running" {
			t.Fatalf("the killed job is %q (%v), want running", status, err)
		}
		objects, err := objectstore.Open(objectstore.Options{Endpoint: cfg.S3.Endpoint, AccessKey: cfg.S3.AccessKey, SecretKey: cfg.S3.SecretKey,
			Bucket: cfg.S3.Bucket, Region: cfg.S3.Region, UseTLS: cfg.S3.UseTLS})
		if err != nil {
			t.Fatal(err)
		}
		key := "features/historical/" + job.ID + ".parquet"
		if obj, err := objects.Get(ctx, key); err == nil {
			if _, err := obj.Stat(); err == nil {
				t.Fatalf("%s was uploaded by the killed build", key)
			}
		}
		if err := os.Remove(filepath.Join(dataDir, holdTrainingSet)); err != nil {
			t.Fatal(err)
		}

		third := startChild(t, cfg, 3) // Temporal gives the build to this process once the dead one stops heartbeating
		data := waitJobWithin(t, a, job.ID, 2*time.Minute)
		got := readParquet(t, data, `SELECT count(*), count(balance) FROM rows`)
		if got[0][0] != "3" || got[0][1] == "0" {
			t.Fatalf("training set rows: %v", got)
		}

		// One workflow, the build tried twice (the killed attempt and the one that finished),
		// the job recorded once.
		tc, err := client.Dial(client.Options{HostPort: cfg.Temporal.Address, Namespace: cfg.Temporal.Namespace, Logger: nopTemporalLog{}})
		if err != nil {
			t.Fatal(err)
		}
		defer tc.Close()
		iter := tc.GetWorkflowHistory(ctx, trainingset.WorkflowID(job.ID), "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		var buildScheduled, finishCompleted int
		var lastBuildAttempt int32
		scheduled := map[int64]string{} // event id → activity type
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				t.Fatal(err)
			}
			if attr := ev.GetActivityTaskScheduledEventAttributes(); attr != nil {
				scheduled[ev.GetEventId()] = attr.GetActivityType().GetName()
				if attr.GetActivityType().GetName() == "TrainingSetBuild" {
					buildScheduled++
				}
			}
			if attr := ev.GetActivityTaskStartedEventAttributes(); attr != nil && scheduled[attr.GetScheduledEventId()] == "TrainingSetBuild" {
				lastBuildAttempt = attr.GetAttempt()
			}
			if attr := ev.GetActivityTaskCompletedEventAttributes(); attr != nil && scheduled[attr.GetScheduledEventId()] == "TrainingSetFinish" {
				finishCompleted++
			}
		}
		if buildScheduled != 1 || lastBuildAttempt < 2 || finishCompleted != 1 {
			t.Fatalf("history: build scheduled %d, its last attempt %d, finish completed %d; want 1, ≥2, 1", buildScheduled, lastBuildAttempt, finishCompleted)
		}
		var finished int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM feature_jobs WHERE id = $1 AND status = 'succeeded' AND finished_at IS NOT NULL`, job.ID).Scan(&finished); err != nil || finished != 1 {
			t.Fatalf("job rows succeeded: %d (%v)", finished, err)
		}

		// Every ledger line is in the offline store exactly once, across both kills.
		third.kill(t)
		off, err := offline.Open(ctx, cfg.Features.OfflinePath)
		if err != nil {
			t.Fatal(err)
		}
		defer off.Close()
		var rows, distinct int
		if err := off.DB().QueryRowContext(ctx, `SELECT count(*), count(DISTINCT (entry_id, line_no)) FROM ledger_lines`).Scan(&rows, &distinct); err != nil {
			t.Fatal(err)
		}
		if n := pgLines(); rows != n || distinct != n {
			t.Fatalf("offline store: %d lines, %d distinct; the ledger has %d", rows, distinct, n)
		}
	})
}

// hold creates a hold file for the dev child; it is removed when the subtest ends.
func hold(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(path) })
}

// waitJobWithin is waitJob with a longer wait, for a job that must survive a kill.
func waitJobWithin(t *testing.T, a *api, id string, within time.Duration) []byte {
	t.Helper()
	waitFor(t, within, "job "+id+" done", func() bool {
		var j server.Job
		a.do("ml-engineer", "GET", "/v1/features/historical/"+id, nil, &j)
		if j.Status == "failed" {
			t.Fatalf("job failed: %s", j.Error)
		}
		return j.Status == "succeeded"
	})
	return waitJob(t, a, id)
}

// nopTemporalLog silences the Temporal client.
type nopTemporalLog struct{}

func (nopTemporalLog) Debug(string, ...any) {}
func (nopTemporalLog) Info(string, ...any)  {}
func (nopTemporalLog) Warn(string, ...any)  {}
func (nopTemporalLog) Error(string, ...any) {}

// offlineVsLedger says how the offline store's ledger lines differ from PostgreSQL's: lines
// stored twice, and lines of entries the ledger does not hold.
func offlineVsLedger(a *api, db *postgres.Pool) string {
	var rows []map[string]any
	a.do("data-engineer", "GET", "/v1/features/tables/ledger_lines/rows?limit=10000", nil, &rows)
	seen, twice := map[string]bool{}, 0
	var ids []string
	for _, r := range rows {
		k := fmt.Sprint(r["entry_id"], "/", r["line_no"])
		if seen[k] {
			twice++
		}
		seen[k] = true
		ids = append(ids, fmt.Sprint(r["entry_id"]))
	}
	var foreign int
	if err := db.QueryRow(context.Background(), `SELECT count(DISTINCT i) FROM unnest($1::text[]) i
		WHERE NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.id::text = i)`, ids).Scan(&foreign); err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%d rows read, %d lines stored twice, %d entries not in the ledger", len(rows), twice, foreign)
}
