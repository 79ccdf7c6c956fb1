package ledger

import (
	"context"
	"strings"
	"testing"

	"github.com/codexion/codexion/connectors/outbox"
	"github.com/codexion/codexion/internal/dbtest"
	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/idempotency"
	"github.com/codexion/codexion/platform/postgres"
)

// newStore gives a test its own migrated database.
func newStore(t testing.TB) (*Store, *postgres.Pool) {
	t.Helper()
	db := dbtest.New(t, dbtest.Options{MaxConns: 32}, idempotency.Migrations(), outbox.Migrations(), Migrations())
	return NewStore(db.Pool, testOutbox()), db
}

// acme creates book acme (EUR) with a few accounts.
func acme(t testing.TB, s *Store) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.CreateBook(ctx, BookInput{Code: "acme", Name: "Acme Ltd", BaseCurrency: "EUR", RetainedEarningsAccount: "3200",
		Accounts: []AccountInput{
			{Code: "1000", Name: "Cash", Type: Asset, BalanceRule: DebitSide},
			{Code: "1200", Name: "Receivables", Type: Asset},
			{Code: "1210", Name: "Receivables USD", Type: Asset, Parent: "1200", Currency: "USD"},
			{Code: "2200", Name: "VAT payable", Type: Liability},
			{Code: "3200", Name: "Retained earnings", Type: Equity},
			{Code: "4000", Name: "Sales", Type: Income},
			{Code: "6000", Name: "Rent", Type: Expense},
		}}); err != nil {
		t.Fatal(err)
	}
}

func dr(acc, amt string) LineInput { return LineInput{Account: acc, Debit: &amt} }
func cr(acc, amt string) LineInput { return LineInput{Account: acc, Credit: &amt} }

func TestPostInvoice(t *testing.T) {
	s, _ := newStore(t)
	acme(t, s)
	ctx := context.Background()
	res, err := s.Post(ctx, EntryInput{Book: "acme", PostingDate: "2026-01-31", Journal: "sales", Reference: "INV-1",
		Description: "Invoice 1", Lines: []LineInput{dr("1200", "119.00"), cr("4000", "100.00"), cr("2200", "19.00")}}, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	e := res.Entry
	if len(e.Lines) != 3 || e.Lines[0].Debit != "119.00" || e.Lines[1].Credit != "100.00" || e.Lines[2].BookAmount != "-19.00" {
		t.Fatalf("entry = %+v", e)
	}
	got, err := s.GetEntry(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Reference != "INV-1" || len(got.Lines) != 3 || got.Lines[0].Debit != "119.00" {
		t.Fatalf("stored entry = %+v", got)
	}
	acc, err := s.GetAccount(ctx, "acme", "1200", zeroTime)
	if err != nil {
		t.Fatal(err)
	}
	if len(acc.Balances) != 1 || acc.Balances[0].Balance != "119.00" {
		t.Fatalf("balances = %+v", acc.Balances)
	}
}

func TestBadEntriesWriteNothing(t *testing.T) {
	s, db := newStore(t)
	acme(t, s)
	ctx := context.Background()
	if _, err := s.CreateBook(ctx, BookInput{Code: "other", Name: "Other", BaseCurrency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAccount(ctx, AccountInput{Book: "other", Code: "9000", Name: "X", Type: Asset}); err != nil {
		t.Fatal(err)
	}
	date := "2026-02-10"
	cases := []struct {
		name  string
		lines []LineInput
		date  string
		field string
		want  string
	}{
		{"unbalanced", []LineInput{dr("1000", "10.00"), cr("4000", "9.99")}, date, "lines", "differ by 0.01 EUR"},
		{"one line", []LineInput{dr("1000", "10.00")}, date, "lines", "needs at least two"},
		{"zero", []LineInput{dr("1000", "0"), cr("4000", "0")}, date, "lines[0].debit", "must be greater than zero"},
		{"negative", []LineInput{dr("1000", "-5.00"), cr("4000", "-5.00")}, date, "lines[0].debit", "must be greater than zero"},
		{"too many decimals", []LineInput{dr("1000", "1.001"), cr("4000", "1.001")}, date, "lines[0].debit", "more than 2 decimal places for EUR"},
		{"unknown account", []LineInput{dr("1999", "1.00"), cr("4000", "1.00")}, date, "lines[0].account", "account 1999 does not exist in book acme"},
		{"other book's account", []LineInput{dr("9000", "1.00"), cr("4000", "1.00")}, date, "lines[0].account", "account 9000 does not exist in book acme"},
		{"unknown currency", []LineInput{{Account: "1000", Debit: ptr("1.00"), Currency: "XXZ"}, cr("4000", "1.00")}, date, "lines[0].currency", "not an ISO 4217 code"},
		{"missing rate", []LineInput{dr("1210", "10.00"), cr("4000", "9.00")}, date, "lines[0].rate", "no exchange rate from USD to EUR"},
		{"bad date", []LineInput{dr("1000", "1.00"), cr("4000", "1.00")}, "2026-13-01", "posting_date", "is not a date"},
		{"both sides", []LineInput{{Account: "1000", Debit: ptr("1.00"), Credit: ptr("1.00")}, cr("4000", "1.00")}, date, "lines[0]", "has both debit and credit"},
		{"balance rule", []LineInput{dr("6000", "5.00"), cr("1000", "5.00")}, date, "lines", "account 1000 must keep a debit balance"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Post(ctx, EntryInput{Book: "acme", PostingDate: tc.date, Lines: tc.lines}, "alice", nil)
			if err == nil {
				t.Fatal("accepted")
			}
			var pe *platform.Error
			if !asPlatform(err, &pe) || pe.Kind != platform.KindInvalid {
				t.Fatalf("err = %v, want invalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %q, want %q", err, tc.want)
			}
			found := false
			for _, f := range pe.Fields {
				found = found || f.Field == tc.field
			}
			if !found {
				t.Fatalf("fields %+v do not name %s", pe.Fields, tc.field)
			}
		})
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT (SELECT count(*) FROM ledger_entries) + (SELECT count(*) FROM ledger_lines)
		+ (SELECT count(*) FROM ledger_balances) + (SELECT count(*) FROM codexion_outbox WHERE event_type LIKE '%entry%')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d rows written by rejected entries", n)
	}
}

func TestBatchAtomicAndPerEntry(t *testing.T) {
	s, db := newStore(t)
	acme(t, s)
	ctx := context.Background()
	good := EntryInput{Book: "acme", PostingDate: "2026-02-01", Lines: []LineInput{dr("1200", "10.00"), cr("4000", "10.00")}}
	bad := EntryInput{Book: "acme", PostingDate: "2026-02-01", Lines: []LineInput{dr("1200", "10.00"), cr("4000", "9.00")}}
	rule := EntryInput{Book: "acme", PostingDate: "2026-02-01", Lines: []LineInput{dr("6000", "1.00"), cr("1000", "1.00")}}

	_, err := s.PostBatch(ctx, BatchInput{Atomic: true, Entries: []EntryInput{good, good, rule}}, "t", nil)
	if err == nil || !strings.Contains(err.Error(), "entries[2]: lines: account 1000 must keep a debit balance") {
		t.Fatalf("atomic batch: %v", err)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM ledger_entries`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("atomic failure wrote %d entries (%v)", n, err)
	}
	res, err := s.PostBatch(ctx, BatchInput{Entries: []EntryInput{good, bad, rule, good}}, "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Posted != 2 || res.Failed != 2 || res.Results[1].Error.Code != "entry_unbalanced" || res.Results[2].Error.Code != "balance_rule_violated" {
		t.Fatalf("per-entry batch: %+v", res)
	}
	// Entry order matters for balance rules: cash funded first, then spent, is fine.
	fund := EntryInput{Book: "acme", PostingDate: "2026-02-02", Lines: []LineInput{dr("1000", "5.00"), cr("3200", "5.00")}}
	spend := EntryInput{Book: "acme", PostingDate: "2026-02-02", Lines: []LineInput{dr("6000", "5.00"), cr("1000", "5.00")}}
	overspend := EntryInput{Book: "acme", PostingDate: "2026-02-02", Lines: []LineInput{dr("6000", "0.01"), cr("1000", "0.01")}}
	res, err = s.PostBatch(ctx, BatchInput{Entries: []EntryInput{fund, spend, overspend}}, "t", nil)
	if err != nil || res.Posted != 2 || res.Results[2].Error == nil {
		t.Fatalf("ordered rules: %+v %v", res, err)
	}
}

func TestClosedAccountRefusesPostings(t *testing.T) {
	s, _ := newStore(t)
	acme(t, s)
	ctx := context.Background()
	if _, err := s.Post(ctx, EntryInput{Book: "acme", PostingDate: "2026-02-01", Lines: []LineInput{dr("6000", "5.00"), cr("2200", "5.00")}}, "t", nil); err != nil {
		t.Fatal(err)
	}
	_, err := s.CloseAccount(ctx, "acme", "6000")
	if err == nil || !strings.Contains(err.Error(), "account 6000 still has a balance (EUR 5") {
		t.Fatalf("closing an account with a balance: %v", err)
	}
	if _, err := s.Post(ctx, EntryInput{Book: "acme", PostingDate: "2026-02-02", Lines: []LineInput{dr("2200", "5.00"), cr("6000", "5.00")}}, "t", nil); err != nil {
		t.Fatal(err)
	}
	acc, err := s.CloseAccount(ctx, "acme", "6000")
	if err != nil || acc.Status != "closed" {
		t.Fatalf("close: %+v %v", acc, err)
	}
	_, err = s.Post(ctx, EntryInput{Book: "acme", PostingDate: "2026-02-03", Lines: []LineInput{dr("6000", "1.00"), cr("2200", "1.00")}}, "t", nil)
	var pe *platform.Error
	if !asPlatform(err, &pe) || pe.Kind != platform.KindInvalid || !strings.Contains(err.Error(), "lines[0].account: account 6000 is closed") {
		t.Fatalf("post to a closed account: %v", err)
	}
}
