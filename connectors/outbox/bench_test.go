package outbox

import (
	"context"
	"encoding/json"
	"fmt"
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

// BenchmarkRelay: one op is a batch of 500 events. The baseline is a bare kafka-go writer,
// configured as the relay's, publishing the same CloudEvents to the same embedded broker;
// the relay also reads the rows from Postgres, validates each against its schema, and
// marks them published.
func BenchmarkRelay(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	if err := kafka.EnsureTopics(ctx, []string{e.broker.Addr}, topicPartitions, Topics...); err != nil {
		b.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]string{"code": "bench", "name": "Bench", "base_currency": "EUR"})
	b.Run("baseline", func(b *testing.B) {
		w := &kafkago.Writer{Addr: kafkago.TCP(e.broker.Addr), Balancer: &kafkago.Hash{}, RequiredAcks: kafkago.RequireAll,
			BatchTimeout: 5 * time.Millisecond, BatchSize: benchBatch, MaxAttempts: 3}
		defer w.Close()
		msgs := make([]kafkago.Message, benchBatch)
		for i := range msgs {
			ev := schemas.Event{SpecVersion: schemas.SpecVersion, ID: NewID().String(), Source: "codexion/ledger/bench",
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
		r.writer = &kafkago.Writer{Addr: kafkago.TCP(e.broker.Addr), Balancer: &kafkago.Hash{}, RequiredAcks: kafkago.RequireAll,
			BatchTimeout: 5 * time.Millisecond, BatchSize: benchBatch, MaxAttempts: 3}
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
