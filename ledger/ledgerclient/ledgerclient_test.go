package ledgerclient_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/codexion/codexion/ledger/ledgerclient"
	"github.com/codexion/codexion/ledger/ledgertest"
	"github.com/codexion/codexion/ledger/sim"
	"github.com/codexion/codexion/platform/apiclient"
)

func client(t *testing.T, role string) (*ledgerclient.Client, *ledgertest.Server) {
	t.Helper()
	srv := ledgertest.Start(t, 8<<20)
	return ledgerclient.New(apiclient.New(srv.URL, srv.Tokens[role])), srv
}

func TestInitBookIsRepeatable(t *testing.T) {
	c, _ := client(t, "admin")
	ctx := context.Background()
	if ok, err := c.BookExists(ctx, "acme"); err != nil || ok {
		t.Fatalf("exists before init: %v %v", ok, err)
	}
	made, err := c.InitBook(ctx, "acme", "Acme Ltd", "EUR", "sme")
	if err != nil || made < 20 {
		t.Fatalf("made %d accounts, err %v", made, err)
	}
	again, err := c.InitBook(ctx, "acme", "Acme Ltd", "EUR", "sme")
	if err != nil || again != 0 {
		t.Fatalf("second init made %d, err %v", again, err)
	}
	if _, err := c.InitBook(ctx, "x", "", "EUR", "huge"); err == nil || !strings.Contains(err.Error(), `template "huge" does not exist`) {
		t.Fatalf("unknown template: %v", err)
	}
}

const csvFile = `entry,posting_date,journal,reference,description,account,debit,credit,currency,memo
1,2026-03-30,general,IMP-1,Office supplies,6900,25.00,,,
1,2026-03-30,general,IMP-1,Office supplies,1010,,25.00,,
2,2026-03-30,general,IMP-2,Bad amount,6900,10.001,,,
2,2026-03-30,general,IMP-2,Bad amount,1010,,10.00,,
3,2026-03-30,general,IMP-3,Unknown account,6999,5.00,,,
3,2026-03-30,general,IMP-3,Unknown account,1010,,5.00,,
`

func TestImportReportsLineNumbers(t *testing.T) {
	c, srv := client(t, "admin")
	ctx := context.Background()
	if _, err := c.InitBook(ctx, "acme", "Acme", "EUR", "sme"); err != nil {
		t.Fatal(err)
	}
	res, err := c.Import(ctx, strings.NewReader(csvFile), "acme", true, "t-atomic")
	if err != nil {
		t.Fatal(err)
	}
	if res.Posted != 0 || len(res.Errors) != 1 || res.Errors[0].Line != 4 || !strings.Contains(res.Errors[0].Message, "more than 2 decimal places") {
		t.Fatalf("atomic: %+v", res)
	}
	res, err = c.Import(ctx, strings.NewReader(csvFile), "acme", false, "t-each")
	if err != nil {
		t.Fatal(err)
	}
	if res.Posted != 1 || len(res.Errors) != 2 || res.Errors[0].Line != 4 || res.Errors[1].Line != 6 ||
		!strings.Contains(res.Errors[1].Message, "account 6999 does not exist") {
		t.Fatalf("per entry: %+v", res)
	}
	// Running the same import again replays it: still one entry posted in all.
	if _, err := c.Import(ctx, strings.NewReader(csvFile), "acme", false, "t-each"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := srv.DB.QueryRow(ctx, `SELECT count(*) FROM ledger_entries WHERE reference LIKE 'IMP-%'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d imported entries (%v), want 1", n, err)
	}
	res, err = c.Import(ctx, strings.NewReader("entry,posting_date\n1,2026-01-01\n"), "acme", false, "t-bad")
	if err != nil || len(res.Errors) != 1 || res.Errors[0].Line != 1 || !strings.Contains(res.Errors[0].Message, "header lacks column(s) journal") {
		t.Fatalf("bad header: %+v %v", res, err)
	}
}

func TestSimulationPostsOnceAndBalances(t *testing.T) {
	c, _ := client(t, "admin")
	ctx := context.Background()
	if _, err := c.InitBook(ctx, "acme", "Acme", "EUR", "sme"); err != nil {
		t.Fatal(err)
	}
	entries, err := sim.Generate(sim.Options{Book: "acme", Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Days: 30, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	first, err := sim.Post(ctx, c.Client, entries)
	if err != nil {
		t.Fatal(err)
	}
	second, err := sim.Post(ctx, c.Client, entries)
	if err != nil {
		t.Fatal(err)
	}
	if first.Posted != len(entries) || second.Posted != 0 || second.Replayed != len(entries) {
		t.Fatalf("first %+v second %+v of %d", first, second, len(entries))
	}
	tb, err := c.TrialBalance(ctx, "acme", "2026-01-31")
	if err != nil {
		t.Fatal(err)
	}
	if tb.Totals.Balance != "0.00" || tb.Totals.Debit == "0.00" {
		t.Fatalf("trial balance %+v", tb.Totals)
	}
}

func TestImportAtTheAmountBoundPostsAndOnePastNamesItsLine(t *testing.T) {
	c, _ := client(t, "admin")
	ctx := context.Background()
	if _, err := c.InitBook(ctx, "acme", "Acme", "EUR", "sme"); err != nil {
		t.Fatal(err)
	}
	const file = `entry,posting_date,journal,reference,description,account,debit,credit,currency,memo
1,2026-03-30,general,MAX,At the bound,1010,999999999999999.99,,,
1,2026-03-30,general,MAX,At the bound,4000,,999999999999999.99,,
2,2026-03-30,general,PAST,One digit past it,1010,1000000000000000.00,,,
2,2026-03-30,general,PAST,One digit past it,4000,,1000000000000000.00,,
3,0000-01-01,general,YEAR0,Year 0,1010,1.00,,,
3,0000-01-01,general,YEAR0,Year 0,4000,,1.00,,
`
	res, err := c.Import(ctx, strings.NewReader(file), "acme", false, "t-bound")
	if err != nil {
		t.Fatal(err)
	}
	if res.Posted != 1 || len(res.Errors) != 3 {
		t.Fatalf("import %+v", res)
	}
	for i, want := range []struct {
		line int
		text string
	}{{4, "16 digits before the point"}, {5, "16 digits before the point"}, {6, "outside the ledger's dates"}} {
		if e := res.Errors[i]; e.Line != want.line || !strings.Contains(e.Message, want.text) {
			t.Fatalf("error %d = %+v, want line %d with %q", i, e, want.line, want.text)
		}
	}
	tb, err := c.TrialBalance(ctx, "acme", "2026-03-31")
	if err != nil || tb.Totals.Debit != "999999999999999.99" {
		t.Fatalf("trial balance %+v, %v", tb, err)
	}
}
