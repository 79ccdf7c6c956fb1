//go:build duckdb_arrow

package pipelines

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/codexion/codexion/app/devstack"
	"github.com/codexion/codexion/connectors/outbox"
	"github.com/codexion/codexion/features/offline"
	"github.com/codexion/codexion/internal/dbtest"
	"github.com/codexion/codexion/ledger"
	"github.com/codexion/codexion/ledger/ledgertest"
	"github.com/codexion/codexion/platform/idempotency"
)

func exampleSpec(t *testing.T) Spec { return exampleSpecTB(t) }

func exampleSpecTB(t testing.TB) Spec {
	t.Helper()
	raw, err := os.ReadFile("../examples/ledger/pipelines/ledger-lines.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSpec(raw)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestLedgerLinesExactlyOnce runs the real path: ledger posts, the outbox relay, the
// embedded broker, the pipeline into DuckDB. Running again, a malformed event, and a broker
// restart each leave every line exactly once.
func TestLedgerLinesExactlyOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db := dbtest.New(t, dbtest.Options{MaxConns: 8}, idempotency.Migrations(), outbox.Migrations(), ledger.Migrations())
	events := ledgertest.Events(t)
	store := ledger.NewStore(db.Pool, outbox.NewWriter(events))
	if _, err := store.CreateBook(ctx, ledger.BookInput{Code: "acme", Name: "Acme", BaseCurrency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []ledger.AccountInput{{Code: "1200", Name: "Receivables", Type: ledger.Asset}, {Code: "4000", Name: "Sales", Type: ledger.Income},
		{Code: "2200", Name: "VAT", Type: ledger.Liability}} {
		a.Book = "acme"
		if _, err := store.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	post := func(i int) {
		d, c, v := "119.00", "100.00", "19.00"
		if _, err := store.Post(ctx, ledger.EntryInput{Book: "acme", PostingDate: "2026-01-31", Reference: fmt.Sprintf("INV-%d", i),
			Lines: []ledger.LineInput{{Account: "1200", Debit: &d}, {Account: "4000", Credit: &c}, {Account: "2200", Credit: &v}}}, "t", nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 40 {
		post(i)
	}
	broker := &devstack.KafkaBroker{Addr: "127.0.0.1:0"}
	if err := broker.Start(ctx); err != nil {
		t.Fatal(err)
	}
	set := ledgertest.EventSchemas(t)
	startRelay := func() *outbox.Relay {
		r := &outbox.Relay{DB: db.Pool, Brokers: []string{broker.Addr}, Events: events, Log: log, PollInterval: 50 * time.Millisecond, ClusterCheck: 100 * time.Millisecond}
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return r
	}
	relay := startRelay()
	defer func() { _ = relay.Stop(context.Background()) }()
	waitPublished := func() {
		for deadline := time.Now().Add(20 * time.Second); ; {
			var n int
			if err := db.QueryRow(ctx, `SELECT count(*) FROM codexion_outbox WHERE published_at IS NULL`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d outbox rows unpublished", n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitPublished()

	off, err := offline.Open(ctx, filepath.Join(t.TempDir(), "offline.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	// A consumer of committed batches is a sink given to the engine: it asks for the
	// columns it wants and hears of every batch once, after its commit.
	sink := &recordingSink{table: "ledger_lines", columns: []string{"event_id", "account"}}
	engine := &Engine{Spec: exampleSpec(t), Store: off, Brokers: []string{broker.Addr}, Schemas: set, Log: log, Sinks: []CommitSink{sink}}
	lines := func() (n int, distinct int) {
		if err := off.DB().QueryRowContext(ctx, `SELECT count(*), count(DISTINCT (entry_id, line_no)) FROM ledger_lines`).Scan(&n, &distinct); err != nil {
			t.Fatal(err)
		}
		return
	}
	st, err := engine.Run(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if n, d := lines(); n != 120 || d != 120 || st.Rows != 120 {
		t.Fatalf("after the first run: %d lines (%d distinct), stats %+v", n, d, st)
	}
	sink.check(t, 40, 120, []string{"1200", "2200", "4000"})
	var sum string
	if err := off.DB().QueryRowContext(ctx, `SELECT CAST(sum(book_amount) AS VARCHAR) FROM ledger_lines`).Scan(&sum); err != nil || (sum != "0.000000" && sum != "0") {
		t.Fatalf("lines do not balance in the offline store: %q %v", sum, err)
	}

	// A malformed message on the topic goes to the DLQ; the pipeline moves on.
	w := &kafkago.Writer{Addr: kafkago.TCP(broker.Addr), Topic: "codexion.ledger.entries.v1", Transport: &kafkago.Transport{}}
	if err := w.WriteMessages(ctx, kafkago.Message{Key: []byte("x"), Value: []byte("not a cloudevent")}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	for i := 40; i < 50; i++ {
		post(i)
	}
	waitPublished()
	st, err = engine.Run(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if n, d := lines(); n != 150 || d != 150 || st.DeadLetters != 1 {
		t.Fatalf("after the second run: %d lines (%d distinct), stats %+v", n, d, st)
	}
	sink.check(t, 50, 150, []string{"1200", "2200", "4000"})

	// The broker restarts empty: the relay re-publishes, the pipeline resets its offsets,
	// reads everything again, and keeps each line once.
	addr := broker.Addr
	_ = relay.Stop(ctx)
	_ = broker.Stop(ctx)
	broker = &devstack.KafkaBroker{Addr: addr}
	if err := broker.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer broker.Stop(context.Background()) //nolint:errcheck // test teardown
	for i := 50; i < 55; i++ {
		post(i)
	}
	relay = startRelay()
	for deadline := time.Now().Add(20 * time.Second); ; {
		if c, _ := kafkaCount(broker.Addr); c >= 55 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("relay did not re-publish to the new broker")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := engine.Run(ctx, true); err != nil {
		t.Fatal(err)
	}
	if n, d := lines(); n != 165 || d != 165 {
		t.Fatalf("after the broker restart: %d lines (%d distinct), want 165", n, d)
	}
	// Everything was read again; only the 5 new entries were committed and reported.
	sink.check(t, 55, 165, []string{"1200", "2200", "4000"})
}

// recordingSink records what the engine reports, to show what a new consumer of
// committed batches (lineage, drift) receives.
type recordingSink struct {
	table    string
	columns  []string
	rows     int64
	eventIDs map[string]int // how often each event id was reported
	accounts map[string]bool
	offsets  int
}

func (r *recordingSink) KeyColumns(table string) []string {
	if table != r.table {
		return nil
	}
	return r.columns
}

func (r *recordingSink) Committed(_ context.Context, b Committed) {
	if r.eventIDs == nil {
		r.eventIDs, r.accounts = map[string]int{}, map[string]bool{}
	}
	r.rows += b.Rows
	for _, id := range b.Keys["event_id"] {
		r.eventIDs[id]++
	}
	for _, a := range b.Keys["account"] {
		r.accounts[a] = true
	}
	if b.Pipeline == "ledger-lines" && b.Table == r.table && len(b.Offsets) > 0 {
		r.offsets++
	}
}

func (r *recordingSink) check(t *testing.T, events int, rows int64, accounts []string) {
	t.Helper()
	for id, n := range r.eventIDs {
		if n != 1 {
			t.Errorf("event %s reported %d times", id, n)
		}
	}
	var got []string
	for a := range r.accounts {
		got = append(got, a)
	}
	slices.Sort(got)
	if len(r.eventIDs) != events || r.rows != rows || !slices.Equal(got, accounts) || r.offsets == 0 {
		t.Fatalf("the sink heard of %d events, %d rows, accounts %v, %d batches with offsets; want %d events, %d rows, accounts %v",
			len(r.eventIDs), r.rows, got, r.offsets, events, rows, accounts)
	}
}

// kafkaCount counts messages on the entries topic.
func kafkaCount(addr string) (int, error) {
	conn, err := kafkago.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	ps, err := conn.ReadPartitions("codexion.ledger.entries.v1")
	if err != nil {
		return 0, err
	}
	total := 0
	for _, p := range ps {
		lc, err := kafkago.DialLeader(context.Background(), "tcp", addr, p.Topic, p.ID)
		if err != nil {
			return 0, err
		}
		first, last, err := lc.ReadOffsets()
		lc.Close()
		if err != nil {
			return 0, err
		}
		total += int(last - first)
	}
	return total, nil
}

func TestSpecErrorsNameTheField(t *testing.T) {
	cases := map[string]string{
		"name: Bad Name\n":              `name "Bad Name"`,
		"name: x\nsource: {topic: t}\n": "source.event_types lists no event type",
		"name: x\nsourc: {}\n":          "field sourc not found",
		"name: x\nsource: {topic: t, event_types: [a]}\ntransform: SELECT 1\nsink: {table: t}\n":                        "transform must read the batch as {{batch}}",
		"name: x\nsource: {topic: t, event_types: [a]}\ntransform: SELECT * FROM {{batch}}\nsink: {table: 'x; drop'}\n": "sink.table",
	}
	for in, want := range cases {
		_, err := ParseSpec([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSpec(%q) = %v, want %q", in, err, want)
		}
	}
}
