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

// TestCrashDuringLoad kills the server with SIGKILL while 8 clients post, restarts it, and
// checks that every acknowledged entry is there, nothing is half-written, and retrying the
// unacknowledged requests with their idempotency keys applies each exactly once.
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
	post := func(ref string) (int, error) {
		body := fmt.Sprintf(`{"book":"acme","posting_date":"2026-04-02","reference":%q,"lines":[{"account":"1200","debit":"5.00"},{"account":"4000","credit":"5.00"}]}`, ref)
		req, _ := http.NewRequest("POST", "http://"+addr+"/v1/ledger/entries", strings.NewReader(body))
		req.Header.Set("Idempotency-Key", ref)
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}

	child := start()
	var (
		mu      sync.Mutex
		acked   []string
		unacked []string
		wg      sync.WaitGroup
	)
	deadline := time.Now().Add(800 * time.Millisecond)
	for c := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				ref := fmt.Sprintf("crash-%d-%d", c, i)
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
		if err := db.QueryRow(ctx, `SELECT count(*) FROM unnest($1::text[]) r WHERE NOT EXISTS (SELECT 1 FROM ledger_entries WHERE reference = r)`, acked).Scan(&missing); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(ctx, `SELECT count(*) FROM ledger_entries e WHERE
			(SELECT count(*) FROM ledger_lines l WHERE l.entry_id = e.id) <> 2
			OR NOT EXISTS (SELECT 1 FROM codexion_outbox o WHERE o.aggregate_id = e.id::text)`).Scan(&halfWritten); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(ctx, `SELECT count(*) FROM codexion_idempotency i WHERE i.status = 0
			OR NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.reference = i.key)`).Scan(&claimsWithoutEntry); err != nil {
			t.Fatal(err)
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
	if dupes != 0 || total != len(acked)+len(unacked) {
		t.Fatalf("%d duplicates; %d entries for %d requests", dupes, total, len(acked)+len(unacked))
	}
	t.Logf("%d acknowledged before SIGKILL, %d retried after restart", len(acked), len(unacked))
}
