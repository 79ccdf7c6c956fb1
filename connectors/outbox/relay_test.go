package outbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/trace"

	"github.com/codexion/codexion/app/devstack"
	"github.com/codexion/codexion/connectors/kafka"
	"github.com/codexion/codexion/internal/dbtest"
	"github.com/codexion/codexion/platform/postgres"
	"github.com/codexion/codexion/schemas"
)

type env struct {
	t      testing.TB
	db     *postgres.Pool
	broker *devstack.KafkaBroker
	events *schemas.Declarations
	log    *slog.Logger
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	db := dbtest.New(t, dbtest.Options{MaxConns: 16}, Migrations())
	if _, err := db.Exec(ctx, `CREATE TABLE applied (event_id text, type text)`); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, events: ledgerEvents(t), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	e.broker = e.startBroker("127.0.0.1:0")
	return e
}

func (e *env) startBroker(addr string) *devstack.KafkaBroker {
	b := &devstack.KafkaBroker{Addr: addr}
	if err := b.Start(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = b.Stop(context.Background()) })
	return b
}

// book writes n valid book-created events to the outbox, as a domain would.
func (e *env) write(n int, prefix string) {
	e.t.Helper()
	ctx := context.Background()
	var events []Event
	for i := range n {
		code := fmt.Sprintf("%s%03d", prefix, i)
		events = append(events, Event{AggregateType: "ledger.book", AggregateID: code, Type: "codexion.ledger.book.created.v1",
			Source: "codexion/ledger/" + code, Payload: map[string]string{"code": code, "name": "Book " + code, "base_currency": "EUR"}})
	}
	var b pgxBatch
	if err := QueueMany(ctx, &b.Batch, events); err != nil {
		e.t.Fatal(err)
	}
	if err := e.db.SendBatch(ctx, &b.Batch).Close(); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) relay() *Relay {
	r := &Relay{DB: e.db.Pool, Brokers: []string{e.broker.Addr}, Events: e.events, Log: e.log, PollInterval: 50 * time.Millisecond,
		ClusterCheck: 200 * time.Millisecond}
	return r
}

// startRelay starts r and stops it when the test ends.
func (e *env) startRelay(ctx context.Context, r *Relay) *Relay {
	e.t.Helper()
	if err := r.Start(ctx); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = r.Stop(context.Background()) })
	return r
}

func (e *env) consume(ctx context.Context, handler eventHandler) {
	e.consumeWith(ctx, handler, nil)
}

func (e *env) consumeWith(ctx context.Context, handler eventHandler, lag *prometheus.GaugeVec) {
	c := e.consumer(handler, lag)
	go func() { _ = c.Run(ctx) }()
}

// consumer applies each event it is handed into the applied table, deduping by event id.
func (e *env) consumer(handler eventHandler, lag *prometheus.GaugeVec) *consumer {
	return &consumer{Lag: lag, ClusterCheck: 200 * time.Millisecond, Brokers: []string{e.broker.Addr}, Group: "test", Topics: []string{"codexion.ledger.books.v1"},
		Dedupe: pgDedupe{DB: e.db.Pool}, Log: e.log, MaxAttempts: 2, Backoff: 10 * time.Millisecond,
		Handler: func(ctx context.Context, ev schemas.Event) error {
			if handler != nil {
				if err := handler(ctx, ev); err != nil {
					return err
				}
			}
			tx, _ := txFrom(ctx)
			_, err := tx.Exec(ctx, `INSERT INTO applied VALUES ($1, $2)`, ev.ID, ev.Type)
			return err
		}}
}

// waitApplied waits until want distinct events are applied, and checks none twice.
func (e *env) waitApplied(want int) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n, distinct int
		if err := e.db.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT event_id) FROM applied`).Scan(&n, &distinct); err != nil {
			e.t.Fatal(err)
		}
		if n != distinct {
			e.t.Fatalf("%d applications of %d events: an event was applied twice", n, distinct)
		}
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("applied %d of %d events", n, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *env) topicCount(topic string) int {
	e.t.Helper()
	conn, err := kafkago.DialLeader(context.Background(), "tcp", e.broker.Addr, topic, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close()
	n := 0
	for p := range topicPartitions {
		c, err := kafkago.DialLeader(context.Background(), "tcp", e.broker.Addr, topic, p)
		if err != nil {
			e.t.Fatal(err)
		}
		first, last, err := c.ReadOffsets()
		c.Close()
		if err != nil {
			e.t.Fatal(err)
		}
		n += int(last - first)
	}
	return n
}

func TestRelayPublishesEveryRowAndConsumerAppliesEachOnce(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.write(120, "a")
	r := e.startRelay(ctx, e.relay())
	e.consume(ctx, nil)
	e.waitApplied(120)
	e.write(30, "b") // arrives while running: NOTIFY wakes the relay
	e.waitApplied(150)
	// The relay marks a batch after the broker acknowledged it, so a consumer may apply an
	// event a moment before its row is marked: every row is marked soon after.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var unpublished int
		err := e.db.QueryRow(ctx, `SELECT count(*) FROM codexion_outbox WHERE published_at IS NULL`).Scan(&unpublished)
		if err == nil && unpublished == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rows unpublished 10 s after every event was applied (%v)", unpublished, err)
		}
	}
	if err := r.Check(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRelayRetriesABatchWhoseMarkFailedAfterTheAck: an error between the broker's ack and
// the mark (in process; TestRelayKilledBetweenAckAndMark kills a relay process there) makes
// the relay publish the batch again, and the consumer applies each event once.
func TestRelayRetriesABatchWhoseMarkFailedAfterTheAck(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.write(40, "c")
	r := e.relay()
	var crashes atomic.Int32
	r.afterPublish = func() error {
		if crashes.Add(1) <= 2 {
			return errors.New("relay failed after the broker acknowledged")
		}
		return nil
	}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer r.Stop(context.Background()) //nolint:errcheck // test teardown
	e.consume(ctx, nil)
	e.waitApplied(40)
	for deadline := time.Now().Add(10 * time.Second); crashes.Load() < 3; {
		if time.Now().After(deadline) {
			t.Fatal("relay did not retry after the crashes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.waitApplied(40)
	if n := e.topicCount("codexion.ledger.books.v1"); n < 80 {
		t.Fatalf("topic holds %d messages; the failures should have published the batch more than once", n)
	}
}

func TestPoisonRowGoesToTheDeadLetterTopic(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.write(5, "d")
	var b pgxBatch
	if err := QueueMany(ctx, &b.Batch, []Event{{AggregateType: "ledger.book", AggregateID: "bad", Type: "codexion.ledger.book.created.v1",
		Source: "codexion/ledger/bad", Payload: map[string]any{"code": 7}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.db.SendBatch(ctx, &b.Batch).Close(); err != nil {
		t.Fatal(err)
	}
	e.write(5, "e")
	e.startRelay(ctx, e.relay())
	e.consume(ctx, nil)
	e.waitApplied(10) // the valid ones on both sides of the poison
	// The valid rows after the poison can be applied before the relay marks it: wait for it.
	var reason *string
	for deadline := time.Now().Add(10 * time.Second); reason == nil || *reason == ""; time.Sleep(20 * time.Millisecond) {
		if err := e.db.QueryRow(ctx, `SELECT dead_letter_reason FROM codexion_outbox WHERE aggregate_id = 'bad'`).Scan(&reason); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("poison row not marked as dead-lettered within 10 s")
		}
	}
	rd := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{e.broker.Addr}, Topic: kafka.DeadLetterTopic, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer rd.Close()
	found := false
	for p := range topicPartitions {
		rd.Close()
		rd = kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{e.broker.Addr}, Topic: kafka.DeadLetterTopic, Partition: p, MaxWait: 100 * time.Millisecond})
		rctx, rcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		m, err := rd.ReadMessage(rctx)
		rcancel()
		if err != nil {
			continue
		}
		for _, h := range m.Headers {
			if h.Key == "dlq_reason" && len(h.Value) > 0 {
				found = true
			}
		}
	}
	if !found {
		t.Fatal("no message with a dlq_reason on the dead-letter topic")
	}
}

func TestConsumerSendsAPoisonEventToTheDeadLetterTopicAndMovesOn(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.write(10, "f")
	var poison string
	if err := e.db.QueryRow(ctx, `SELECT id::text FROM codexion_outbox ORDER BY id OFFSET 3 LIMIT 1`).Scan(&poison); err != nil {
		t.Fatal(err)
	}
	e.startRelay(ctx, e.relay())
	var mu sync.Mutex
	tries := 0
	e.consume(ctx, func(_ context.Context, ev schemas.Event) error {
		if ev.ID == poison {
			mu.Lock()
			tries++
			mu.Unlock()
			return errors.New("cannot handle this one")
		}
		return nil
	})
	e.waitApplied(9)
	mu.Lock()
	defer mu.Unlock()
	if tries != 2 {
		t.Fatalf("poison tried %d times, want MaxAttempts=2", tries)
	}
}

func TestBrokerRestartConverges(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.write(25, "g")
	e.startRelay(ctx, e.relay())
	e.consume(ctx, nil) // one consumer, running across the broker restart
	e.waitApplied(25)

	// The embedded broker goes away: its topics and group offsets are gone with it.
	addr := e.broker.Addr
	oldID := e.broker.ClusterID()
	_ = e.broker.Stop(ctx)
	e.write(15, "h") // the domain keeps writing while Kafka is down
	time.Sleep(300 * time.Millisecond)
	e.broker = e.startBroker(addr)
	if e.broker.ClusterID() == oldID {
		t.Fatal("restarted broker kept its cluster id")
	}
	// The relay notices the new cluster (at the latest clusterCheckInterval later) and
	// publishes the whole outbox again (events sent since the restart go twice: at least
	// once); the consumer applies each event once.
	for deadline := time.Now().Add(15 * time.Second); e.topicCount("codexion.ledger.books.v1") < 40+15; {
		if time.Now().After(deadline) {
			t.Fatalf("new broker holds %d events, want the 15 new ones and all 40 re-published", e.topicCount("codexion.ledger.books.v1"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // let the consumer read the repeats
	e.waitApplied(40)
}

func TestTwoRelaysPublishEachRowOnceInEffect(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r1, r2 := e.relay(), e.relay()
	for _, r := range []*Relay{r1, r2} {
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	defer r1.Stop(context.Background()) //nolint:errcheck // test teardown
	defer r2.Stop(context.Background()) //nolint:errcheck // test teardown
	reg := prometheus.NewRegistry()
	lag := newLagGauge(reg)
	e.consumeWith(ctx, nil, lag)
	for i := range 5 {
		e.write(20, fmt.Sprintf("m%d", i))
		time.Sleep(20 * time.Millisecond)
	}
	e.waitApplied(100)
	if leaders := btoi(r1.leader.Load()) + btoi(r2.leader.Load()); leaders != 1 {
		t.Fatalf("%d relays lead at once", leaders)
	}
	if n := e.topicCount("codexion.ledger.books.v1"); n != 100 {
		t.Fatalf("topic holds %d events for 100 rows: the standby relay published too", n)
	}
	if got := testutil.ToFloat64(lag.WithLabelValues("test")); got != 0 {
		t.Fatalf("consumer lag %v after catching up", got)
	}
	// The leader dies; the standby takes the lock and carries on.
	leader, standby := r1, r2
	if !r1.leader.Load() {
		leader, standby = r2, r1
	}
	if err := leader.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.write(20, "after")
	e.waitApplied(120)
	if !standby.leader.Load() {
		t.Fatal("standby relay did not take over")
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestTraceRunsFromProducerToConsumer(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	postCtx := trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	var b pgxBatch
	if err := QueueMany(postCtx, &b.Batch, []Event{{AggregateType: "ledger.book", AggregateID: "tr", Type: "codexion.ledger.book.created.v1",
		Source: "codexion/ledger/tr", Payload: map[string]string{"code": "tr", "name": "Traced", "base_currency": "EUR"}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.db.SendBatch(ctx, &b.Batch).Close(); err != nil {
		t.Fatal(err)
	}
	e.startRelay(ctx, e.relay())
	seen := make(chan trace.TraceID, 1)
	e.consume(ctx, func(ctx context.Context, _ schemas.Event) error {
		seen <- trace.SpanContextFromContext(ctx).TraceID()
		return nil
	})
	select {
	case got := <-seen:
		if got != tid {
			t.Fatalf("consumer trace id %s, want the producer's %s", got, tid)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("event not consumed")
	}
}
