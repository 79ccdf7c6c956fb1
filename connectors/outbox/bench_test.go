package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/codexion/codexion/connectors/kafka"
	"github.com/codexion/codexion/schemas"
)

const (
	benchBatch   = 500
	benchBatches = 10 // one op: 5,000 events
)

// BenchmarkRelay: one op is 10 batches of 500 events (5,000 events). The baseline is the
// relay's own Kafka writer (Relay.newWriter) publishing the same CloudEvents to the same
// embedded broker; the relay also reads the rows from Postgres, validates each against its
// schema, and marks them published. events/s counts events published per second.
func BenchmarkRelay(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	if err := kafka.EnsureTopics(ctx, []string{e.broker.Addr}, topicPartitions, e.relay().topics()...); err != nil {
		b.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]string{"code": "bench", "name": "Bench", "base_currency": "EUR"})
	b.Run("baseline", func(b *testing.B) {
		rel := e.relay()
		rel.BatchRows = benchBatch
		w := rel.newWriter()
		defer w.Close()
		msgs := make([]kafkago.Message, benchBatch)
		for i := range msgs {
			ev := schemas.Event{SpecVersion: schemas.SpecVersion, ID: newID().String(), Source: "codexion/ledger/bench",
				Type: "codexion.ledger.book.created.v1", Time: time.Now().UTC(), DataContentType: "application/json",
				DataSchema: schemas.DataSchemaOf("codexion.ledger.book.created.v1"), Data: payload}
			v, _ := json.Marshal(ev)
			msgs[i] = kafkago.Message{Topic: "codexion.ledger.books.v1", Key: []byte(fmt.Sprint(i)), Value: v,
				Headers: []kafkago.Header{{Key: "content-type", Value: []byte(schemas.ContentType)}, {Key: "ce_type", Value: []byte(ev.Type)}}}
		}
		b.ResetTimer()
		for b.Loop() {
			for range benchBatches {
				if err := w.WriteMessages(ctx, msgs...); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N*benchBatch*benchBatches)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("codexion", func(b *testing.B) {
		r := e.relay()
		r.BatchRows = benchBatch
		r.Metrics = NewRelayMetrics(prometheus.NewRegistry())
		if err := r.open(ctx); err != nil { // as Start does, without the background loop
			b.Fatal(err)
		}
		defer r.writer.Close()
		var published time.Duration
		for b.Loop() {
			b.StopTimer()
			for range benchBatches {
				e.write(benchBatch, "x")
			}
			b.StartTimer()
			began := time.Now()
			n, err := r.drain(ctx)
			if err != nil || n != benchBatch*benchBatches {
				b.Fatalf("drain published %d: %v", n, err)
			}
			published += time.Since(began)
		}
		b.ReportMetric(float64(b.N*benchBatch*benchBatches)/published.Seconds(), "events/s")
	})
}

// BenchmarkCommitToTopicLatency: rows committed one by one at 1,000 per second for 5 s
// while the relay runs; a consumer measures each event's time from its commit (the row's
// created_at, the CloudEvent time) to its arrival on the topic. Reports p50 and p95.
func BenchmarkCommitToTopicLatency(b *testing.B) {
	if os.Getenv("CODEXION_BENCH_LOAD") == "" {
		b.Skip("set CODEXION_BENCH_LOAD=1 (make bench does)")
	}
	const (
		rate     = 1000
		duration = 5 * time.Second
	)
	e := newEnv(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := e.relay()
	r.PollInterval = time.Second // wake-ups come from NOTIFY
	if err := r.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer r.Stop(context.Background()) //nolint:errcheck // benchmark teardown
	var (
		mu        sync.Mutex
		latencies []time.Duration
	)
	want := int(rate * duration.Seconds())
	got := make(chan struct{})
	go func() {
		rd := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{e.broker.Addr}, GroupID: "latency",
			GroupTopics: []string{"codexion.ledger.books.v1"}, StartOffset: kafkago.FirstOffset, MaxWait: 10 * time.Millisecond})
		defer rd.Close()
		for n := 0; n < want; n++ {
			m, err := rd.ReadMessage(ctx)
			if err != nil {
				return
			}
			ev, err := schemas.Decode(m.Value)
			if err != nil {
				continue
			}
			mu.Lock()
			latencies = append(latencies, time.Since(ev.Time))
			mu.Unlock()
		}
		close(got)
	}()
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	payload := map[string]string{"code": "lat", "name": "Latency", "base_currency": "EUR"}
	for i := range want {
		<-tick.C
		var batch pgxBatch
		if err := QueueMany(ctx, &batch.Batch, []Event{{AggregateType: "ledger.book", AggregateID: fmt.Sprint(i),
			Type: "codexion.ledger.book.created.v1", Source: "codexion/ledger/lat", Payload: payload}}); err != nil {
			b.Fatal(err)
		}
		if err := e.db.SendBatch(ctx, &batch.Batch).Close(); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-got:
	case <-time.After(30 * time.Second):
		b.Fatalf("consumed %d of %d events", len(latencies), want)
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(float64(len(latencies)-1)*p)].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50_ms")
	b.ReportMetric(pct(0.95), "p95_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
}
