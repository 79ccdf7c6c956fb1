//go:build duckdb_arrow

package pipelines

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/duckdb/duckdb-go/v2"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/codexion/codexion/app/devstack"
	"github.com/codexion/codexion/connectors/kafka"
	"github.com/codexion/codexion/features/offline"
	"github.com/codexion/codexion/ledger/ledgertest"
	"github.com/codexion/codexion/schemas"
)

const (
	benchEvents   = 20_000
	linesPerEvent = 3
)

// benchEvent is an entry-posted CloudEvent with three lines.
func benchEvent(i int) schemas.Event {
	data, _ := json.Marshal(map[string]any{
		"id": fmt.Sprintf("00000000-0000-7000-8000-%012d", i), "book": "acme", "posting_date": "2026-01-31", "journal": "sales",
		"kind": "standard", "created_at": "2026-01-31T10:00:00Z", "metadata": map[string]any{"hour": 10},
		"lines": []map[string]any{
			{"line_no": 1, "account": "1200", "debit": "119.00", "currency": "EUR", "book_amount": "119.00"},
			{"line_no": 2, "account": "4000", "credit": "100.00", "currency": "EUR", "book_amount": "-100.00"},
			{"line_no": 3, "account": "2200", "credit": "19.00", "currency": "EUR", "book_amount": "-19.00"},
		},
	})
	return schemas.Event{SpecVersion: "1.0", ID: fmt.Sprintf("ev-%d", i), Source: "codexion/ledger/acme", Type: "codexion.ledger.entry.posted.v1",
		Time: time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC), DataContentType: "application/json",
		DataSchema: schemas.DataSchemaOf("codexion.ledger.entry.posted.v1"), Data: data}
}

// BenchmarkIngest: 20,000 entry events (60,000 lines) from the embedded broker into DuckDB
// through the pipeline as shipped (read, parse the envelope, check it against the registry,
// decode the lines into typed Arrow columns, transform, dedupe, offsets), beside a bare
// DuckDB Arrow append of the same decoded batches through the same transform. The
// pipeline again with validate: schema (full JSON Schema validation) is reported beside.
func BenchmarkIngest(b *testing.B) {
	ctx := context.Background()
	broker := &devstack.KafkaBroker{Addr: "127.0.0.1:0"}
	if err := broker.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer broker.Stop(ctx) //nolint:errcheck // benchmark teardown
	spec := exampleSpecTB(b)
	if err := kafka.EnsureTopics(ctx, []string{broker.Addr}, 3, spec.Source.Topic); err != nil {
		b.Fatal(err)
	}
	w := &kafkago.Writer{Addr: kafkago.TCP(broker.Addr), Topic: spec.Source.Topic, Balancer: &kafkago.Hash{}, BatchSize: 1000,
		BatchTimeout: time.Millisecond, Transport: &kafkago.Transport{}}
	events := make([]schemas.Event, benchEvents)
	msgs := make([]kafkago.Message, benchEvents)
	for i := range events {
		events[i] = benchEvent(i)
		v, _ := json.Marshal(events[i])
		msgs[i] = kafkago.Message{Key: []byte(fmt.Sprint(i)), Value: v}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		b.Fatal(err)
	}
	w.Close() //nolint:errcheck // all written
	set := ledgertest.EventSchemas(b)
	lines := float64(benchEvents * linesPerEvent)

	b.Run("baseline", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			store, err := offline.Open(ctx, filepath.Join(b.TempDir(), "base.duckdb"))
			if err != nil {
				b.Fatal(err)
			}
			recs := decodedBatches(b, spec, events)
			b.StartTimer()
			conn, err := store.DB().Conn(ctx)
			if err != nil {
				b.Fatal(err)
			}
			for i, rec := range recs {
				var release func()
				err := conn.Raw(func(dc any) error {
					ar, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
					if err != nil {
						return err
					}
					rdr, err := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
					if err != nil {
						return err
					}
					release, err = ar.RegisterView(rdr, fmt.Sprintf("v%d", i))
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				// An Arrow view is a single-pass stream: copy it once, as the store does.
				if _, err := conn.ExecContext(ctx, fmt.Sprintf("CREATE OR REPLACE TEMP TABLE s AS SELECT * FROM v%d", i)); err != nil {
					b.Fatal(err)
				}
				q := strings.ReplaceAll(spec.Transform, "{{batch}}", "s")
				if i == 0 {
					q = "CREATE TABLE ledger_lines AS " + q
				} else {
					q = "INSERT INTO ledger_lines " + q
				}
				if _, err := conn.ExecContext(ctx, q); err != nil {
					b.Fatal(err)
				}
				release()
				rec.Release()
			}
			b.StopTimer()
			conn.Close()  //nolint:errcheck // benchmark teardown
			store.Close() //nolint:errcheck // benchmark teardown
			b.StartTimer()
		}
		b.ReportMetric(lines*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
	full := spec
	full.Source.Validate = "schema"
	b.Run("codexion", func(b *testing.B) { benchPipeline(b, ctx, spec, broker.Addr, set, lines, "") })
	b.Run("codexion-validate-schema", func(b *testing.B) { benchPipeline(b, ctx, full, broker.Addr, set, lines, "") })
	// The same events into a store that already holds 5 million ingested rows, so the
	// dedupe probes a real history.
	history := historyStore(b, ctx, spec, broker.Addr, set)
	b.Run("codexion-5M-history", func(b *testing.B) { benchPipeline(b, ctx, spec, broker.Addr, set, lines, history) })
}

// historyRows is how many rows the history store holds before a run.
const historyRows = 5_000_000

// historyStore builds, once, a store file whose ledger_lines and ingested event ids hold
// historyRows rows of other events (copies of the benchmark's rows under new event ids),
// with no offsets, so that a run ingests the benchmark's events on top of that history.
func historyStore(b *testing.B, ctx context.Context, spec Spec, broker string, set *schemas.Set) string {
	path := filepath.Join(b.TempDir(), "history.duckdb")
	store, err := offline.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	e := &Engine{Spec: spec, Store: store, Brokers: []string{broker}, Schemas: set, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if _, err := e.Run(ctx, true); err != nil {
		b.Fatal(err)
	}
	copies := (historyRows + benchEvents*linesPerEvent - 1) / (benchEvents * linesPerEvent)
	for _, q := range []string{
		fmt.Sprintf(`INSERT INTO ledger_lines SELECT ledger_lines.* REPLACE ('h' || r.i || '-' || event_id AS event_id) FROM ledger_lines, range(%d) r(i)`, copies),
		`INSERT INTO codexion_ingested SELECT DISTINCT ?, event_id FROM ledger_lines WHERE event_id LIKE 'h%'`,
		`DELETE FROM ledger_lines WHERE event_id NOT LIKE 'h%'`,
		`DELETE FROM codexion_ingested WHERE event_id NOT LIKE 'h%'`,
		`DELETE FROM codexion_offsets`,
		`CHECKPOINT`,
	} {
		var args []any
		if strings.Contains(q, "?") {
			args = append(args, spec.Name)
		}
		if _, err := store.DB().ExecContext(ctx, q, args...); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	var n int
	if err := store.DB().QueryRowContext(ctx, `SELECT count(*) FROM ledger_lines`).Scan(&n); err != nil || n < historyRows {
		b.Fatalf("history holds %d rows: %v", n, err)
	}
	if err := store.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// benchPipeline ingests the topic into an empty store, or into a copy of the store file
// from when from is set.
func benchPipeline(b *testing.B, ctx context.Context, spec Spec, broker string, set *schemas.Set, lines float64, from string) {
	{
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		for b.Loop() {
			b.StopTimer()
			path := filepath.Join(b.TempDir(), "ingest.duckdb")
			if from != "" {
				if err := copyFile(from, path); err != nil {
					b.Fatal(err)
				}
			}
			store, err := offline.Open(ctx, path)
			if err != nil {
				b.Fatal(err)
			}
			e := &Engine{Spec: spec, Store: store, Brokers: []string{broker}, Schemas: set, Log: log}
			b.StartTimer()
			st, err := e.Run(ctx, true)
			if err != nil || st.Rows != int64(lines) {
				b.Fatalf("ingested %d rows: %v", st.Rows, err)
			}
			b.StopTimer()
			store.Close() //nolint:errcheck // benchmark teardown
			b.StartTimer()
		}
		b.ReportMetric(lines*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	}
}

// decodedBatches decodes events as the pipeline does, in batches of the spec's size.
func decodedBatches(b *testing.B, spec Spec, events []schemas.Event) []arrow.RecordBatch {
	d, err := newDecoder(spec.Source.Explode, spec.Source.Columns)
	if err != nil {
		b.Fatal(err)
	}
	schema, err := decodedSchema(spec.Source.Columns)
	if err != nil {
		b.Fatal(err)
	}
	var out []arrow.RecordBatch
	for start := 0; start < len(events); start += spec.BatchRows {
		bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		for _, ev := range events[start:min(start+spec.BatchRows, len(events))] {
			msg, _ := json.Marshal(ev)
			env, err := d.parseEvent(msg)
			if err != nil {
				b.Fatal(err)
			}
			if err := d.appendEvent(bld, env.id, env.typ, env.time, env.data); err != nil {
				b.Fatal(err)
			}
		}
		out = append(out, bld.NewRecordBatch())
		bld.Release()
	}
	return out
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
