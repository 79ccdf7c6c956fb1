package ledger

import (
	"context"
	"fmt"
	"testing"

	"pgregory.net/rapid"
)

// TestInvariantsUnderRandomPostings: any sequence of valid entries and reversals keeps the
// trial balance at zero and every account's stored balance equal to the sum of its lines.
func TestInvariantsUnderRandomPostings(t *testing.T) {
	s, db := newStore(t)
	acme(t, s)
	ctx := context.Background()
	accounts := []string{"1000", "1200", "2200", "3200", "4000", "6000"}
	iteration := 0
	defer func() { t.Logf("%d rapid iterations", iteration) }()
	rapid.Check(t, func(rt *rapid.T) {
		iteration++
		var posted []string
		steps := rapid.IntRange(1, 8).Draw(rt, "steps")
		for range steps {
			if len(posted) > 0 && rapid.Bool().Draw(rt, "reverse") {
				i := rapid.IntRange(0, len(posted)-1).Draw(rt, "which")
				_, err := s.Reverse(ctx, posted[i], ReverseInput{}, "prop", nil)
				if err == nil {
					posted = append(posted[:i], posted[i+1:]...)
				}
				continue
			}
			n := rapid.IntRange(2, 6).Draw(rt, "lines")
			in := EntryInput{Book: "acme", PostingDate: fmt.Sprintf("2026-%02d-15", rapid.IntRange(1, 12).Draw(rt, "month"))}
			var total int64
			for j := range n - 1 {
				cents := rapid.Int64Range(1, 1_000_000).Draw(rt, "cents")
				acc := rapid.SampledFrom(accounts[1:]).Draw(rt, "account")
				amt := fmt.Sprintf("%d.%02d", cents/100, cents%100)
				if j%2 == 0 {
					in.Lines = append(in.Lines, dr(acc, amt))
					total += cents
				} else {
					in.Lines = append(in.Lines, cr(acc, amt))
					total -= cents
				}
			}
			if total == 0 {
				continue
			}
			// The last line balances the entry; cash has a debit-only rule, so use 1200.
			amt := fmt.Sprintf("%d.%02d", abs(total)/100, abs(total)%100)
			if total > 0 {
				in.Lines = append(in.Lines, cr("1200", amt))
			} else {
				in.Lines = append(in.Lines, dr("1200", amt))
			}
			res, err := s.Post(ctx, in, "prop", nil)
			if err != nil {
				rt.Fatalf("valid entry refused: %v (%+v)", err, in)
			}
			posted = append(posted, res.Entry.ID)
		}
		tb, err := s.TrialBalance(ctx, "acme", mustDate("2026-12-31"))
		if err != nil {
			rt.Fatal(err)
		}
		if tb.Totals.Balance != "0.00" || tb.Totals.Debit != tb.Totals.Credit {
			rt.Fatalf("trial balance does not net to zero: %+v", tb.Totals)
		}
		var mismatches int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM ledger_balances b
			FULL JOIN (SELECT account_id, currency, sum(amount) AS s, sum(book_amount) AS bs FROM ledger_lines GROUP BY 1, 2) l
			  USING (account_id, currency)
			WHERE coalesce(b.debit - b.credit, 0) <> coalesce(l.s, 0) OR coalesce(b.book_debit - b.book_credit, 0) <> coalesce(l.bs, 0)`).
			Scan(&mismatches); err != nil {
			rt.Fatal(err)
		}
		if mismatches != 0 {
			rt.Fatalf("%d balances differ from the sum of their lines", mismatches)
		}
	})
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
