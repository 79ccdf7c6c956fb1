package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/codexion/codexion/ledger"
	"github.com/codexion/codexion/ledger/ledgerclient"
	"github.com/codexion/codexion/ledger/ledgertest"
	"github.com/codexion/codexion/platform/apiclient"
	"github.com/codexion/codexion/workflows/ingest"
)

// TestWhatTheLedgerAcceptsReachesTheFeatureStore posts an entry at every bound the ledger
// documents through the real stack (Postgres, the outbox relay with its schema check, the
// Kafka protocol, the ledger-lines pipeline, DuckDB) and finds every line of each in the
// offline store; entries one past a bound are refused with a 400 naming the field, and
// leave nothing behind.
func TestWhatTheLedgerAcceptsReachesTheFeatureStore(t *testing.T) {
	cfg := devConfig(t)
	cfg.Dev.DemoBook = ""
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	d, err := StartDev(ctx, cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop() //nolint:errcheck // test teardown
	a := newAPI(t, d)
	if _, err := ledgerclient.New(a.as("admin")).InitBook(ctx, "bounds", "Bounds", "EUR", "sme"); err != nil {
		t.Fatal(err)
	}

	posted := map[string]*ledger.Entry{}
	for name, in := range ledgertest.BoundEntries("bounds", "1010", "4000") {
		var e ledger.Entry
		a.do("finance", "POST", "/v1/ledger/entries", in, &e)
		posted[name] = &e
	}

	t.Run("one past each bound is refused and writes nothing", func(t *testing.T) {
		a := a.with(t)
		for name, c := range pastBounds() {
			before := written(t, ctx, d)
			p := a.refused("finance", "POST", "/v1/ledger/entries", c.in)
			if p.Status != 400 || p.Code != "invalid_entry" || !namesField(p, c.field) {
				t.Errorf("%s: %d %s %+v, want 400 invalid_entry naming %s", name, p.Status, p.Code, p.Fields, c.field)
			}
			if after := written(t, ctx, d); after != before {
				t.Errorf("%s: wrote %v -> %v", name, before, after)
			}
		}
	})

	waitOutboxDrained(t, ctx, d.App.DB) // fails on any event its schema refused
	var st ingest.Status
	a.do("data-engineer", "POST", "/v1/pipelines/ledger-lines/drain", nil, &st)
	for name, e := range posted {
		var rows int
		var debits string
		err := d.App.Features.Offline.DB().QueryRowContext(ctx,
			`SELECT count(*), coalesce(sum(debit), 0)::VARCHAR FROM ledger_lines WHERE entry_id = ?`, e.ID).Scan(&rows, &debits)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: %d lines in the feature store, debits %s", name, rows, debits)
		if rows != len(e.Lines) {
			t.Errorf("%s: the feature store holds %d of its %d lines", name, rows, len(e.Lines))
			continue
		}
		want := decimal.Decimal{}
		for _, l := range e.Lines {
			if l.Debit != "" {
				want = want.Add(decimalOf(t, l.Debit))
			}
		}
		if !decimalOf(t, debits).Equal(want) {
			t.Errorf("%s: debits %s in the feature store, %s in the ledger", name, debits, want)
		}
	}
}

// pastBound is an entry one step past a bound, and the field its refusal names.
type pastBound struct {
	in    ledger.EntryInput
	field string
}

func pastBounds() map[string]pastBound {
	ok := ledgertest.BoundEntries("bounds", "1010", "4000")
	amount := ok["largest amount"]
	past := "1" + strings.Repeat("0", ledger.MaxAmountIntegerDigits) + ".00"
	amount.Lines = []ledger.LineInput{{Account: "1010", Debit: &past}, {Account: "4000", Credit: &past}}
	late := ok["last date"]
	late.PostingDate = ledger.MaxDate.AddDate(0, 0, 1).Format(ledger.DateLayout)
	early := ok["first date"]
	early.PostingDate = ledger.MinDate.AddDate(0, 0, -1).Format(ledger.DateLayout)
	deep := ok["deepest metadata"]
	deep.Metadata = json.RawMessage(strings.Replace(string(deep.Metadata), `"leaf"`, `{"a":"leaf"}`, 1))
	long := ok["longest texts"]
	long.Reference += "x"
	return map[string]pastBound{
		"amount":         {amount, "lines[0].debit"},
		"last date":      {late, "posting_date"},
		"first date":     {early, "posting_date"},
		"metadata depth": {deep, "metadata.nested.a.a.a.a.a.a.a"},
		"reference":      {long, "reference"},
	}
}

func namesField(p *apiclient.Error, field string) bool {
	for _, f := range p.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

func decimalOf(t *testing.T, s string) decimal.Decimal {
	t.Helper()
	d, err := decimal.NewFromString(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// written counts entries and outbox events.
func written(t *testing.T, ctx context.Context, d *Dev) [2]int {
	t.Helper()
	var n [2]int
	if err := d.App.DB.QueryRow(ctx, `SELECT (SELECT count(*) FROM ledger_entries), (SELECT count(*) FROM codexion_outbox)`).Scan(&n[0], &n[1]); err != nil {
		t.Fatal(err)
	}
	return n
}
