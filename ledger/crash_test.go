package ledger

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/codexion/codexion/internal/testenv"
	"github.com/codexion/codexion/platform/auth"
	"github.com/codexion/codexion/platform/httpx"
	"github.com/codexion/codexion/platform/postgres"
)

// TestCrashServer is the server half of TestCrashDuringLoad: it runs only in the child
// process that the test starts and SIGKILLs.
func TestCrashServer(t *testing.T) {
	dsn, addr := os.Getenv("CODEXION_CRASH_DSN"), os.Getenv("CODEXION_CRASH_ADDR")
	if dsn == "" {
		t.Skip("runs as the child of TestCrashDuringLoad")
	}
	db, err := postgres.NewPool(dsn, 32)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	trust := func(_ httpx.Access, next http.Handler) http.Handler { // the child skips token checks
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{Subject: "crash"})))
		})
	}
	r := httpx.NewRouter(log, trust)
	NewHandler(NewStore(db.Pool, testOutbox()), log).Routes(r)
	_ = http.ListenAndServe(addr, r) // until SIGKILL
}

// TestCrashDuringLoad kills the server with SIGKILL while 16 clients post entries and
// atomic batches, which the server commits in groups, restarts it, and checks that every
// acknowledged entry is there once, nothing is half-written (no entry without its lines and
// event, no batch in part), and retrying every request with its idempotency key applies
// each exactly once.
func TestCrashDuringLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills a server process")
	}
	s, db := newStore(t)
	acme(t, s)
	dsn := db.Config().ConnString()
	addr := testenv.Addr(t) // the restarted server listens where the killed one did
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashServer$")
		cmd.Env = append(os.Environ(), "CODEXION_CRASH_DSN="+dsn, "CODEXION_CRASH_ADDR="+addr)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for range 200 {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				return cmd
			}
			time.Sleep(25 * time.Millisecond)
		}
		t.Fatal("server did not start")
		return nil
	}
	// A request is a single post, or (every fourth client) an atomic batch of three
	// entries; either way its entries carry references ref, or ref-0..ref-2.
	body := func(ref string) (string, string) {
		one := func(r string) string {
			return fmt.Sprintf(`{"book":"acme","posting_date":"2026-04-02","reference":%q,"lines":[{"account":"1200","debit":"5.00"},{"account":"4000","credit":"5.00"}]}`, r)
		}
		if strings.HasPrefix(ref, "crash-b") {
			return "/v1/ledger/entries:batch", fmt.Sprintf(`{"atomic":true,"entries":[%s,%s,%s]}`, one(ref+"-0"), one(ref+"-1"), one(ref+"-2"))
		}
		return "/v1/ledger/entries", one(ref)
	}
	post := func(ref string) (int, error) {
		path, b := body(ref)
		req, _ := http.NewRequest("POST", "http://"+addr+path, strings.NewReader(b))
		req.Header.Set("Idempotency-Key", ref)
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	entries := func(refs []string) (out []string) {
		for _, r := range refs {
			if strings.HasPrefix(r, "crash-b") {
				out = append(out, r+"-0", r+"-1", r+"-2")
			} else {
				out = append(out, r)
			}
		}
		return out
	}

	child := start()
	var (
		mu      sync.Mutex
		acked   []string
		unacked []string
		wg      sync.WaitGroup
	)
	deadline := time.Now().Add(800 * time.Millisecond)
	for c := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				ref := fmt.Sprintf("crash-%d-%d", c, i)
				if c%4 == 0 {
					ref = fmt.Sprintf("crash-b%d-%d", c, i)
				}
				status, err := post(ref)
				mu.Lock()
				if err == nil && status == 201 {
					acked = append(acked, ref)
				} else {
					unacked = append(unacked, ref)
				}
				mu.Unlock()
				if err != nil {
					return // the server is gone
				}
			}
		})
	}
	time.Sleep(time.Until(deadline))
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no entry was acknowledged before the kill")
	}

	child = start()
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	ctx := context.Background()
	check := func(stage string) {
		var missing, halfWritten, claimsWithoutEntry int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM unnest($1::text[]) r WHERE NOT EXISTS (SELECT 1 FROM ledger_entries WHERE reference = r)`, entries(acked)).Scan(&missing); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(ctx, `SELECT count(*) FROM ledger_entries e WHERE
			(SELECT count(*) FROM ledger_lines l WHERE l.entry_id = e.id) <> 2
			OR NOT EXISTS (SELECT 1 FROM codexion_outbox o WHERE o.aggregate_id = e.id::text)`).Scan(&halfWritten); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(ctx, `SELECT count(*) FROM codexion_idempotency i WHERE i.status = 0
			OR NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.reference = i.key OR e.reference = i.key || '-0')`).Scan(&claimsWithoutEntry); err != nil {
			t.Fatal(err)
		}
		// An unacknowledged batch is there whole or not at all.
		var partialBatches int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM (SELECT substring(reference from '^(crash-b[0-9]+-[0-9]+)-') AS r, count(*) AS n
			FROM ledger_entries WHERE reference LIKE 'crash-b%' GROUP BY 1) b WHERE n <> 3`).Scan(&partialBatches); err != nil {
			t.Fatal(err)
		}
		if partialBatches != 0 {
			t.Fatalf("%s: %d batches stored in part", stage, partialBatches)
		}
		if missing+halfWritten+claimsWithoutEntry != 0 {
			t.Fatalf("%s: %d acknowledged entries missing, %d half-written, %d keys without their entry", stage, missing, halfWritten, claimsWithoutEntry)
		}
	}
	check("after restart")
	for _, ref := range append(append([]string{}, unacked...), acked...) { // retry everything: each applies once
		if status, err := post(ref); err != nil || status != 201 {
			t.Fatalf("retry %s: %d %v", ref, status, err)
		}
	}
	check("after retries")
	var dupes, total int
	if err := db.QueryRow(ctx, `SELECT count(*) - count(DISTINCT reference), count(*) FROM ledger_entries WHERE reference LIKE 'crash-%'`).Scan(&dupes, &total); err != nil {
		t.Fatal(err)
	}
	if want := len(entries(acked)) + len(entries(unacked)); dupes != 0 || total != want {
		t.Fatalf("%d duplicates; %d entries, want %d", dupes, total, want)
	}
	// The server committed in groups: entries of different requests share transactions.
	var shared int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM (SELECT xmin::text FROM ledger_entries WHERE reference LIKE 'crash-%'
		GROUP BY 1 HAVING count(DISTINCT substring(reference from '^(crash-b?[0-9]+-[0-9]+)')) > 1) g`).Scan(&shared); err != nil {
		t.Fatal(err)
	}
	if shared == 0 {
		t.Fatal("no transaction held entries of more than one request: the load was not grouped")
	}
	t.Logf("%d requests acknowledged before SIGKILL, %d retried after restart; %d transactions held several requests", len(acked), len(unacked), shared)
}
