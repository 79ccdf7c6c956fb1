package outbox

// The consumer side of the relay's contract, as the relay tests exercise it: a consumer
// group that dedupes by event id in Postgres, in the transaction of its work, commits an
// offset only after that work, retries a failing event and then dead-letters it, and starts
// a new session when the cluster behind its brokers changes.

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/codexion/codexion/connectors/kafka"
	"github.com/codexion/codexion/schemas"
)

// deduper applies an event's effect at most once: it records the event id in the same
// transaction as the work, so a redelivered event is recognised and skipped.
type deduper interface {
	// Once runs fn unless id was already processed by this consumer; applied says whether
	// fn ran. fn's work and the record of id commit together or not at all.
	Once(ctx context.Context, consumer, id string, fn func(ctx context.Context) error) (applied bool, err error)
}

// Handler does a consumer's work for one event.
type eventHandler func(ctx context.Context, ev schemas.Event) error

// consumer reads topics in a consumer group and hands each event to Handler exactly once
// in effect: it dedupes by event id, commits an offset only after the handler's work is
// durable, retries a failing event with backoff, and after MaxAttempts sends it to the
// dead-letter topic with the reason and moves on.
type consumer struct {
	Brokers      []string
	Group        string
	Topics       []string
	Handler      eventHandler
	Dedupe       deduper
	Log          *slog.Logger
	MaxAttempts  int                  // default 5
	Backoff      time.Duration        // first retry delay, doubling; default 100ms
	Lag          *prometheus.GaugeVec // codexion_consumer_lag by group; optional, see newLagGauge
	Tracer       trace.Tracer         // optional: a span per event, child of the producer's trace
	ClusterCheck time.Duration        // how often to look for a changed cluster; default 5s

	dlq *kafkago.Writer
}

// newLagGauge registers codexion_consumer_lag with reg.
func newLagGauge(reg prometheus.Registerer) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "codexion_consumer_lag",
		Help: "Messages behind the end of the partition the consumer last read, by consumer group."}, []string{"group"})
	reg.MustRegister(g)
	return g
}

// Bounds of a consumer.
const (
	defaultMaxAttempts  = 5
	defaultBackoff      = 100 * time.Millisecond
	defaultClusterCheck = 5 * time.Second
	maxRetryBackoff     = 5 * time.Second
	maxMessageBytes     = 10 << 20
)

// Run consumes until ctx ends. A broker that goes away, or a different cluster behind the
// same addresses (an embedded broker restarted empty), ends the current session; Run starts
// a new one with backoff, which joins the group afresh and, finding no stored offsets on a
// new cluster, reads from the start while the deduper drops what was already applied.
func (c *consumer) Run(ctx context.Context) error {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = defaultMaxAttempts
	}
	if c.Backoff <= 0 {
		c.Backoff = defaultBackoff
	}
	if c.ClusterCheck <= 0 {
		c.ClusterCheck = defaultClusterCheck
	}
	backoff := c.Backoff
	for ctx.Err() == nil {
		err := c.session(ctx)
		if ctx.Err() != nil {
			return nil //nolint:nilerr // the session ended because Run was asked to stop
		}
		c.Log.Warn("consumer session ended; starting a new one", "consumer", c.Group, "err", err, "in", backoff.String())
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil
		}
		backoff = min(backoff*2, maxRetryBackoff)
	}
	return nil
}

// session consumes with one reader until an error or a change of cluster.
func (c *consumer) session(ctx context.Context) error {
	md, err := kafka.Cluster{Brokers: c.Brokers}.Describe(ctx)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		t := time.NewTicker(c.ClusterCheck)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
			now, err := kafka.Cluster{Brokers: c.Brokers}.Describe(sctx)
			if err == nil && now.ClusterID != md.ClusterID {
				cancel(fmt.Errorf("kafka cluster changed from %s to %s", md.ClusterID, now.ClusterID))
				return
			}
		}
	}()
	reader := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: c.Brokers, GroupID: c.Group, GroupTopics: c.Topics,
		StartOffset: kafkago.FirstOffset, MaxBytes: maxMessageBytes, MaxWait: 250 * time.Millisecond,
		CommitInterval: 0, // commit synchronously, after the work
	})
	c.dlq = kafka.DeadLetterWriter(c.Brokers)
	defer reader.Close() //nolint:errcheck // offsets are committed explicitly
	defer c.dlq.Close()  //nolint:errcheck // writes are synchronous
	for {
		m, err := reader.FetchMessage(sctx)
		if err != nil {
			if cause := context.Cause(sctx); cause != nil && sctx.Err() != nil {
				return cause
			}
			return fmt.Errorf("consumer %s: fetch: %w", c.Group, err)
		}
		if err := c.handle(sctx, m); err != nil {
			return err
		}
		if c.Lag != nil {
			c.Lag.WithLabelValues(c.Group).Set(float64(max(m.HighWaterMark-m.Offset-1, 0)))
		}
		if err := reader.CommitMessages(sctx, m); err != nil {
			return fmt.Errorf("consumer %s: commit offset: %w", c.Group, err)
		}
	}
}

// handle processes one message until it is applied, skipped as a duplicate, or dead-lettered.
func (c *consumer) handle(ctx context.Context, m kafkago.Message) error {
	ev, err := schemas.Decode(m.Value)
	if err != nil {
		return c.deadLetter(ctx, m, "undecodable: "+err.Error())
	}
	// Continue the trace that started with the HTTP request which caused the event.
	ctx = propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": ev.TraceParent})
	if c.Tracer != nil {
		var span trace.Span
		ctx, span = c.Tracer.Start(ctx, "consume "+ev.Type, trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(attribute.String("messaging.message.id", ev.ID), attribute.String("messaging.consumer.group.name", c.Group)))
		defer span.End()
	}
	backoff := c.Backoff
	var last error
	for attempt := 1; attempt <= c.MaxAttempts; attempt++ {
		_, err := c.Dedupe.Once(ctx, c.Group, ev.ID, func(ctx context.Context) error { return c.Handler(ctx, ev) })
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		last = err
		c.Log.Warn("event handler failed; retrying", "consumer", c.Group, "id", ev.ID, "type", ev.Type, "attempt", attempt, "err", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff = min(backoff*2, maxRetryBackoff)
	}
	return c.deadLetter(ctx, m, fmt.Sprintf("handler failed %d times: %v", c.MaxAttempts, last))
}

func (c *consumer) deadLetter(ctx context.Context, m kafkago.Message, reason string) error {
	c.Log.Error("poison message sent to the dead-letter topic", "consumer", c.Group, "topic", m.Topic,
		"partition", m.Partition, "offset", m.Offset, "reason", reason)
	err := c.dlq.WriteMessages(ctx, kafka.DeadLetter(m, reason, c.Group))
	if err != nil {
		return fmt.Errorf("dead-letter message %s/%d@%d: %w", m.Topic, m.Partition, m.Offset, err)
	}
	return nil
}

// pgDedupe records processed event ids in codexion_consumed, in the same transaction
// as the handler's work (the handler reaches it with txFrom).
type pgDedupe struct{ DB *pgxpool.Pool }

type txKey struct{}

// txFrom returns the transaction a pgDedupe runs the handler in.
func txFrom(ctx context.Context) (pgx.Tx, bool) {
	tx, ok := ctx.Value(txKey{}).(pgx.Tx)
	return tx, ok
}

// Once implements deduper.
func (d pgDedupe) Once(ctx context.Context, consumer, id string, fn func(ctx context.Context) error) (bool, error) {
	applied := false
	err := pgx.BeginFunc(ctx, d.DB, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO codexion_consumed (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, consumer, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return nil // seen before: skip
		}
		applied = true
		return fn(context.WithValue(ctx, txKey{}, tx))
	})
	if err != nil {
		applied = false
	}
	return applied, err
}
