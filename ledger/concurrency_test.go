package ledger

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/codexion/codexion/platform/idempotency"
)

// TestConcurrentPostsOnHotAccounts: 16 clients post 500 entries each over 3 hot accounts.
// Afterwards every acknowledged entry exists exactly once, balances equal the sums of
// lines, and the debit-only cash account never went negative.
func TestConcurrentPostsOnHotAccounts(t *testing.T) {
	if testing.Short() {
		t.Skip("8,000 postings")
	}
	const clients, perClient = 16, 500
	s, db := newStore(t)
	acme(t, s)
	ctx := context.Background()
	// Seed cash so that credits to it can succeed or be refused by its rule.
	if _, err := s.Post(ctx, EntryInput{Book: "acme", PostingDate: "2026-01-01", Lines: []LineInput{dr("1000", "1000.00"), cr("3200", "1000.00")}}, "seed", nil); err != nil {
		t.Fatal(err)
	}
	type ack struct{ id, ref string }
	acks := make(chan ack, clients*perClient)
	var refused sync.Map
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := range perClient {
				ref := fmt.Sprintf("c%02d-%03d", c, i)
				var lines []LineInput
				switch i % 3 {
				case 0:
					lines = []LineInput{dr("1000", "1.00"), cr("4000", "1.00")}
				case 1:
					lines = []LineInput{dr("1200", "2.50"), cr("4000", "2.50")}
				default: // may be refused by the cash account's debit-only rule
					lines = []LineInput{dr("1200", "3.00"), cr("1000", "3.00")}
				}
				in := EntryInput{Book: "acme", PostingDate: "2026-03-10", Reference: ref, Lines: lines}
				key := &idempotency.Key{Scope: "test", Value: ref}
				res, err := s.Post(ctx, in, "load", key)
				if err != nil {
					refused.Store(ref, err)
					continue
				}
				acks <- ack{res.Entry.ID, ref}
			}
		})
	}
	wg.Wait()
	close(acks)
	n := 0
	for a := range acks {
		n++
		var count int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM ledger_entries WHERE id = $1 AND reference = $2`, a.id, a.ref).Scan(&count); err != nil {
			t.Fatal(err)
		}
		if count != 1 {
			t.Fatalf("acknowledged entry %s (%s) stored %d times", a.id, a.ref, count)
		}
	}
	nRefused := 0
	refused.Range(func(k, v any) bool {
		nRefused++
		if !strings.Contains(v.(error).Error(), "account 1000 must keep a debit balance") {
			t.Fatalf("entry %s refused for another reason: %v", k, v)
		}
		return true
	})
	if n+nRefused != clients*perClient {
		t.Fatalf("acknowledged %d + refused %d != %d", n, nRefused, clients*perClient)
	}
	var stored int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM ledger_entries WHERE created_by = 'load'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != n {
		t.Fatalf("acknowledged %d, stored %d", n, stored)
	}
	var mismatches int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM ledger_balances b
		FULL JOIN (SELECT account_id, currency, sum(amount) AS s FROM ledger_lines GROUP BY 1, 2) l USING (account_id, currency)
		WHERE coalesce(b.debit - b.credit, 0) <> coalesce(l.s, 0)`).Scan(&mismatches); err != nil {
		t.Fatal(err)
	}
	if mismatches != 0 {
		t.Fatalf("%d balances differ from the sum of their lines", mismatches)
	}
	acc, err := s.GetAccount(ctx, "acme", "1000", zeroTime)
	if err != nil {
		t.Fatal(err)
	}
	// Cash receives 16*167 x 1.00 and is asked for 16*166 x 3.00, more than it ever holds,
	// so its debit-only rule must refuse some credits, and never let it go negative.
	cash, _ := ParseAmount(acc.Balances[0].Balance)
	if cash.IsNegative() || nRefused == 0 {
		t.Fatalf("cash balance %s with %d refused credits", cash, nRefused)
	}
	// Cash credits that had the money must have gone through: the final balance is the
	// seed plus every debit minus every accepted credit, and credits were accepted.
	var debits, credits int
	if err := db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE l.amount > 0 AND e.created_by = 'load'), count(*) FILTER (WHERE l.amount < 0)
		FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id JOIN ledger_accounts a ON a.id = l.account_id
		WHERE a.code = '1000'`).Scan(&debits, &credits); err != nil {
		t.Fatal(err)
	}
	if credits == 0 {
		t.Fatal("no credit to cash was accepted, though cash held money")
	}
	if want := int64(100000 + debits*100 - credits*300); cash.Shift(2).IntPart() != want {
		t.Fatalf("cash %s, want %d cents from %d debits and %d credits", cash, want, debits, credits)
	}
	// The posts were coalesced: most entries committed in groups of more than one (entries
	// that share a transaction id were committed by one group), some of them in one round
	// trip. A group that moves the debit-only cash account both ways takes two round trips,
	// so that its entries meet the rule one after another.
	var grouped int
	if err := db.QueryRow(ctx, `SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM ledger_entries
		WHERE created_by = 'load' GROUP BY xmin::text HAVING count(*) > 1) g`).Scan(&grouped); err != nil {
		t.Fatal(err)
	}
	if grouped < n/2 || s.group.oneTrip.Load() == 0 {
		t.Fatalf("%d of %d entries committed in groups of more than one, %d in one round trip", grouped, n, s.group.oneTrip.Load())
	}
	t.Logf("%d posted in %d groups (%d in groups of more than one, %d in one round trip), %d refused by the balance rule, cash %s",
		n, s.group.groups.Load(), grouped, s.group.oneTrip.Load(), nRefused, cash)
}
