package ledger_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestClientsThatHangUpGetAllOrNothing: clients post entries and hang up after a random
// moment, many while their requests wait in a group. Each request is then either posted
// whole, and its retry with the same key replays it, or absent, and its retry posts it:
// every key ends with exactly one entry.
func TestClientsThatHangUpGetAllOrNothing(t *testing.T) {
	a := newAPI(t, 1<<20)
	a.must(201, a.do("admin", "POST", "/v1/ledger/books", `{"code":"hup","name":"Hang-ups","base_currency":"EUR"}`))
	for _, acc := range []string{`{"book":"hup","code":"1000","name":"Cash","type":"asset"}`, `{"book":"hup","code":"4000","name":"Sales","type":"income"}`} {
		a.must(201, a.do("admin", "POST", "/v1/ledger/accounts", acc))
	}
	const clients, each = 8, 25
	body := func(ref string) string {
		return fmt.Sprintf(`{"book":"hup","posting_date":"2026-05-04","reference":%q,"lines":[{"account":"1000","debit":"1.00"},{"account":"4000","credit":"1.00"}]}`, ref)
	}
	send := func(ctx context.Context, ref string) (int, bool, error) {
		req, _ := http.NewRequestWithContext(ctx, "POST", a.URL+"/v1/ledger/entries", strings.NewReader(body(ref)))
		req.Header.Set("Authorization", "Bearer "+a.Tokens["finance"])
		req.Header.Set("Idempotency-Key", ref)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, false, err
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Idempotency-Replayed") == "true", nil
	}
	var (
		mu                         sync.Mutex
		hungUp, replayed, answered int
		wg                         sync.WaitGroup
	)
	for c := range clients {
		wg.Go(func() {
			for i := range each {
				ref := fmt.Sprintf("hup-%d-%d", c, i)
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(100+(c*each+i)*373%15000)*time.Microsecond)
				status, _, err := send(ctx, ref)
				cancel()
				mu.Lock()
				if err != nil {
					hungUp++
				} else if status == 201 {
					answered++
				}
				mu.Unlock()
				status, again, err := send(context.Background(), ref)
				if err != nil || status != 201 {
					t.Errorf("retry of %s: %d %v", ref, status, err)
					return
				}
				if again {
					mu.Lock()
					replayed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	var dupes, total int
	if err := a.DB.QueryRow(context.Background(), `SELECT count(*) - count(DISTINCT reference), count(*) FROM ledger_entries WHERE reference LIKE 'hup-%'`).Scan(&dupes, &total); err != nil {
		t.Fatal(err)
	}
	if dupes != 0 || total != clients*each {
		t.Fatalf("%d entries (%d duplicates) for %d keys", total, dupes, clients*each)
	}
	if hungUp == 0 {
		t.Fatal("no client hung up before its answer: the test did not test")
	}
	t.Logf("%d hung up, %d answered at once; %d hung-up requests had been posted whole and replayed on retry, the rest posted by their retry",
		hungUp, answered, replayed-answered)
}
