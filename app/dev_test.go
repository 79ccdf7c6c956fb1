package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/codexion/codexion/internal/testenv"
	"github.com/codexion/codexion/platform/config"
	"github.com/codexion/codexion/platform/health"
	"github.com/codexion/codexion/platform/postgres"
)

// freePort is a port no other test picks while t runs: a stack whose start failed must find
// nothing listening on its ports, and a port closed after picking could be anyone's.
func freePort(t testing.TB) int {
	t.Helper()
	return testenv.Port(t)
}

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// devConfig is a dev stack on free ports with its data in a fresh folder.
func devConfig(t testing.TB) config.Config {
	t.Helper()
	dir := t.TempDir()
	// The Postgres cluster runs as the postgres user when tests run as root; it must be
	// able to reach the folder.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.Default()
	cfg.Log.Level = "warn"
	cfg.HTTP.Addr = addr(freePort(t))
	cfg.Dev = config.Dev{
		DataDir:        filepath.Join(dir, "data"),
		PostgresPort:   freePort(t),
		KafkaAddr:      addr(freePort(t)),
		TemporalAddr:   addr(freePort(t)),
		TemporalUIPort: 0,
		S3Addr:         addr(freePort(t)),
		TemporalCLI:    testenv.TemporalCLI(t),
		DemoBook:       "acme",
	}
	cfg.Features.Apply = "../examples/ledger" // as `make run` does
	return cfg
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func get(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// processGone reports whether pid has exited (a zombie waiting to be reaped counts).
func processGone(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return os.IsNotExist(err)
	}
	// The state follows the parenthesised command name.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// startDev brings up the dev stack on free ports for a test; it is stopped when the test ends
// unless the test stops it first.
func startDev(t *testing.T) (*Dev, config.Config, context.Context) {
	t.Helper()
	cfg := devConfig(t)
	d, ctx := startDevWith(t, cfg, 3*time.Minute)
	return d, cfg, ctx
}

// startDevWith starts the dev stack with cfg; the returned context ends after within.
// Callers stop the stack (defer d.Stop()).
func startDevWith(t *testing.T, cfg config.Config, within time.Duration) (*Dev, context.Context) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the whole dev stack")
	}
	ctx, cancel := context.WithTimeout(context.Background(), within)
	t.Cleanup(cancel)
	d, err := StartDev(ctx, cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	return d, ctx
}

// waitOutboxDrained waits until the relay has published every outbox row and fails if any
// row went to the dead-letter topic.
func waitOutboxDrained(t *testing.T, ctx context.Context, db *postgres.Pool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		var pending, dead int
		if err := db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE published_at IS NULL), count(*) FILTER (WHERE dead_letter_reason IS NOT NULL) FROM codexion_outbox`).Scan(&pending, &dead); err != nil {
			t.Fatal(err)
		}
		if dead != 0 {
			var reason string
			_ = db.QueryRow(ctx, `SELECT dead_letter_reason FROM codexion_outbox WHERE dead_letter_reason IS NOT NULL LIMIT 1`).Scan(&reason)
			t.Fatalf("%d events failed their schema: %s", dead, reason)
		}
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d outbox events still unpublished", pending)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDevStackEndToEnd brings up the real dev stack (Postgres via the project's script,
// kfake, the S3 server, Temporal's dev server), checks what a new user checks, stops it,
// and checks nothing is left running; then starts it again on the same data.
func TestDevStackEndToEnd(t *testing.T) {
	d, cfg, ctx := startDev(t)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = d.Stop()
		}
	})
	base := d.Endpoints.HTTP

	code, body := get(t, base+"/readyz?verbose", "")
	var rep health.Report
	if err := json.Unmarshal(body, &rep); err != nil || code != 200 || rep.Status != "ok" {
		t.Fatalf("readyz: %d %s", code, body)
	}
	var names []string
	for _, c := range rep.Checks {
		names = append(names, c.Name+"="+c.Status)
	}
	if got := strings.Join(names, ","); got != "postgres=ok,kafka=ok,objectstore=ok,temporal=ok,outbox-relay=ok" {
		t.Fatalf("readyz checks = %s", got)
	}

	var tokens map[string]string
	raw, err := os.ReadFile(filepath.Join(cfg.Dev.DataDir, "dev-tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &tokens); err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{"admin", "finance", "finance-controller", "data-engineer", "ml-engineer", "ml-approver", "compliance"} {
		if tokens[role] == "" {
			t.Fatalf("dev-tokens.json has no %s token", role)
		}
	}
	if code, _ := get(t, base+"/v1/admin/config", ""); code != 401 {
		t.Fatalf("no token: %d, want 401", code)
	}
	if code, _ := get(t, base+"/v1/admin/config", tokens["finance"]); code != 403 {
		t.Fatalf("finance token: %d, want 403", code)
	}
	code, body = get(t, base+"/v1/admin/config", tokens["admin"])
	if code != 200 {
		t.Fatalf("admin token: %d %s", code, body)
	}
	if strings.Contains(string(body), d.Endpoints.S3.SecretKey) {
		t.Fatalf("admin config leaks the S3 secret: %s", body)
	}

	// A new dev stack holds the demo book, 90 simulated days, in balance.
	code, body = get(t, base+"/v1/ledger/trial-balance?book=acme&as_of=2026-03-31", tokens["finance"])
	var tb struct {
		Rows   []any `json:"rows"`
		Totals struct {
			Debit, Balance string
		} `json:"totals"`
	}
	if err := json.Unmarshal(body, &tb); err != nil || code != 200 || tb.Totals.Balance != "0.00" || len(tb.Rows) < 10 {
		t.Fatalf("demo book trial balance: %d %s", code, body)
	}
	// Every ledger change reaches Kafka, and every real payload matches its schema.
	waitOutboxDrained(t, ctx, d.App.DB)
	if code, _ := get(t, base+"/v1/openapi.json", ""); code != 200 {
		t.Fatalf("openapi.json: %d", code)
	}

	code, body = get(t, base+"/metrics", "")
	if code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	problems, err := promlint.New(strings.NewReader(string(body))).Lint()
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	if len(problems) > 0 {
		t.Fatalf("promlint: %+v", problems)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"codexion_build_info", "codexion_http_request_duration_seconds"} {
		if families[name] == nil {
			t.Fatalf("/metrics lacks %s", name)
		}
	}

	var ep Endpoints
	raw, err = os.ReadFile(filepath.Join(cfg.Dev.DataDir, "endpoints.json"))
	if err != nil || json.Unmarshal(raw, &ep) != nil || ep.HTTP != base || ep.Temporal != cfg.Dev.TemporalAddr {
		t.Fatalf("endpoints.json: %s (%v)", raw, err)
	}

	t.Run("every notebook runs green against the stack", func(t *testing.T) {
		// As `make notebooks` runs them; without python3 this fails rather than skips.
		cmd := exec.Command(testenv.Python3(t), "deploy/notebooks/run.py", "notebooks")
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CODEXION_DATA_DIR="+cfg.Dev.DataDir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("notebooks: %v\n%s", err, out)
		}
		notebooks, err := filepath.Glob("../notebooks/*.ipynb")
		if err != nil || len(notebooks) == 0 {
			t.Fatalf("no notebooks found (%v)", err)
		}
		if want := fmt.Sprintf("%d passed, 0 failed", len(notebooks)); !strings.Contains(string(out), want) {
			t.Fatalf("notebooks: want %q in the output:\n%s", want, out)
		}
	})

	pgPID := postmasterPID(t, filepath.Join(cfg.Dev.DataDir, "postgres", "data"))
	stopped = true
	if err := d.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if !processGone(pgPID) {
		t.Fatalf("postgres (pid %d) still runs after stop", pgPID)
	}
	for _, a := range []string{cfg.HTTP.Addr, cfg.Dev.KafkaAddr, cfg.Dev.TemporalAddr, cfg.Dev.S3Addr} {
		if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			c.Close()
			t.Fatalf("%s still accepts connections after stop", a)
		}
	}

	// A second run reuses the data: same cluster, same signing key.
	d2, err := StartDev(ctx, cfg, quietLog())
	if err != nil {
		t.Fatalf("second start: %v", err)
	}
	defer d2.Stop() //nolint:errcheck // the test is over
	if code, _ := get(t, base+"/v1/whoami", tokens["finance"]); code != 200 {
		t.Fatalf("token from the first run: %d, want 200 (key reused)", code)
	}
}

func postmasterPID(t *testing.T, dataDir string) int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.SplitN(string(raw), "\n", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestDevStartFailureStopsWhatStarted takes the Temporal port before starting: the
// stack must fail with a clear message and leave Postgres, Kafka and S3 stopped.
func TestDevStartFailureStopsWhatStarted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts part of the dev stack")
	}
	cfg := devConfig(t)
	ln, err := net.Listen("tcp", cfg.Dev.TemporalAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = StartDev(context.Background(), cfg, quietLog())
	if err == nil || !strings.Contains(err.Error(), cfg.Dev.TemporalAddr+" is already in use") {
		t.Fatalf("err = %v", err)
	}
	for _, a := range []string{cfg.Dev.KafkaAddr, cfg.Dev.S3Addr, addr(cfg.Dev.PostgresPort)} {
		if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			c.Close()
			t.Fatalf("%s still runs after a failed start", a)
		}
	}
}
