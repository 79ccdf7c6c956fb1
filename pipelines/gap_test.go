//go:build duckdb_arrow

package pipelines

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/codexion/codexion/app/devstack"
	"github.com/codexion/codexion/connectors/kafka"
	"github.com/codexion/codexion/features/offline"
)

// countingSink counts the committed batches of a run.
type countingSink struct{ batches atomic.Int64 }

func (c *countingSink) KeyColumns(string) []string           { return nil }
func (c *countingSink) Committed(context.Context, Committed) { c.batches.Add(1) }

// TestATrickleIsBatchedByTheGap: events arriving one every 5 ms for about 600 ms reach the
// offline store all and once, in batches started at least busyBatchGap apart, not in a
// batch per event as an idle appender would take them; and an event alone after a pause is
// written at once, not after the flush interval.
func TestATrickleIsBatchedByTheGap(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	broker := &devstack.KafkaBroker{Addr: "127.0.0.1:0"}
	if err := broker.Start(ctx); err != nil {
		t.Fatal(err)
	}
	spec := exampleSpec(t)
	spec.FlushInterval = 5 * time.Second // only the gap may start a partial batch in time
	if err := kafka.EnsureTopics(ctx, []string{broker.Addr}, 1, spec.Source.Topic); err != nil {
		t.Fatal(err)
	}
	off, err := offline.Open(ctx, filepath.Join(t.TempDir(), "offline.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	sink := &countingSink{}
	e := &Engine{Spec: spec, Store: off, Brokers: []string{broker.Addr}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Sinks: []CommitSink{sink}}
	done := make(chan error, 1)
	go func() { _, err := e.Run(ctx, false); done <- err }()

	w := &kafkago.Writer{Addr: kafkago.TCP(broker.Addr), Topic: spec.Source.Topic, Transport: &kafkago.Transport{}, BatchSize: 1}
	defer w.Close() //nolint:errcheck // test writer
	const events = 120
	start := time.Now()
	for i := range events {
		if err := w.WriteMessages(ctx, ledgerEvent(t, fmt.Sprintf("ev-%d", i), fmt.Sprintf("entry-%d", i))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	lines := func() int {
		var n int
		if err := off.DB().QueryRowContext(ctx, `SELECT count(*) FROM ledger_lines`).Scan(&n); err != nil {
			return -1 // the table appears with the first batch
		}
		return n
	}
	waitLines := func(want int) time.Duration {
		t.Helper()
		from := time.Now()
		for lines() != want {
			if time.Since(from) > 4*time.Second {
				t.Fatalf("%d lines in the offline store, want %d", lines(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Since(from)
	}
	waitLines(2 * events)
	took := time.Since(start)
	if most := int64(took/busyBatchGap) + 2; sink.batches.Load() > most || sink.batches.Load() < 2 {
		t.Fatalf("%d events over %v in %d batches; with a gap of %v, at most %d", events, took.Round(time.Millisecond), sink.batches.Load(), busyBatchGap, most)
	}
	// After a pause longer than the gap, one event is written without waiting.
	time.Sleep(2 * busyBatchGap)
	if err := w.WriteMessages(ctx, ledgerEvent(t, "ev-alone", "entry-alone")); err != nil {
		t.Fatal(err)
	}
	if wait := waitLines(2*events + 2); wait > time.Second {
		t.Fatalf("an event after a pause took %v", wait)
	}
	cancel()
	<-done
}
