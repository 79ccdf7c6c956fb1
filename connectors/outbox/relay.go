package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/codexion/codexion/connectors/kafka"
	"github.com/codexion/codexion/schemas"
)

const (
	relayLockID    = 0x72656c6179 // "relay": one relay publishes at a time
	relayStateName = "outbox"
	// deadLetteredBy names the relay in the dead-letter headers.
	deadLetteredBy = "outbox-relay"
)

// Bounds of the relay.
const (
	DefaultBatchRows    = 500
	DefaultPollInterval = time.Second
	maxBackoff          = 10 * time.Second
	topicPartitions     = 3
)

// Relay publishes outbox rows to Kafka in id order, at least once. One relay is the leader
// (a session advisory lock); the others wait. It marks rows published only after the
// broker acknowledged them, so a crash at any point re-publishes rather than loses; every
// consumer dedupes by event id. Where an event goes and the schema it must match come from
// Events, the domains' declarations: a new event type needs no change here.
type Relay struct {
	DB           *pgxpool.Pool
	Brokers      []string
	Events       *schemas.Declarations
	Log          *slog.Logger
	BatchRows    int
	PollInterval time.Duration
	ClusterCheck time.Duration // how often to ask for the cluster id; default clusterCheckInterval
	Metrics      *RelayMetrics

	// afterPublish, when set (tests), runs between the broker's acknowledgement and
	// marking the rows; an error there is a crash at the worst moment.
	afterPublish func() error

	schemas        *schemas.Set // compiled from Events at Start
	writer         *kafkago.Writer
	cancel         context.CancelFunc
	done           chan struct{}
	leader         atomic.Bool
	lastOK         atomic.Int64 // unix nanos of the last cycle that caught up or made progress
	clusterID      string
	clusterChecked time.Time
}

// clusterCheckInterval is how often the relay asks the brokers for their cluster id; a
// failed publish asks again at once.
const clusterCheckInterval = 5 * time.Second

// RelayMetrics are the relay's Prometheus metrics.
type RelayMetrics struct {
	Published    *prometheus.CounterVec
	DeadLettered prometheus.Counter
	OldestAge    prometheus.Gauge
	Leader       prometheus.Gauge
	Republished  prometheus.Counter
}

// NewRelayMetrics registers the relay metrics with reg.
func NewRelayMetrics(reg prometheus.Registerer) *RelayMetrics {
	m := &RelayMetrics{
		Published: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "codexion_outbox_published_total",
			Help: "Outbox events published to Kafka, by topic."}, []string{"topic"}),
		DeadLettered: prometheus.NewCounter(prometheus.CounterOpts{Name: "codexion_outbox_dead_lettered_total",
			Help: "Outbox events sent to the dead-letter topic: their payload failed its schema or no domain declares their type."}),
		OldestAge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "codexion_outbox_oldest_unpublished_age_seconds",
			Help: "Age of the oldest outbox event not yet published; 0 when caught up."}),
		Leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "codexion_outbox_relay_leader",
			Help: "1 when this process is the publishing relay."}),
		Republished: prometheus.NewCounter(prometheus.CounterOpts{Name: "codexion_outbox_republished_total",
			Help: "Events marked for publishing again because the Kafka cluster changed."}),
	}
	reg.MustRegister(m.Published, m.DeadLettered, m.OldestAge, m.Leader, m.Republished)
	return m
}

func (r *Relay) Name() string { return "outbox-relay" }

// Start makes sure the topics exist and runs the relay in the background.
func (r *Relay) Start(ctx context.Context) error {
	if err := r.open(ctx); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel, r.done = cancel, make(chan struct{})
	r.lastOK.Store(time.Now().UnixNano())
	go func() {
		defer close(r.done)
		r.run(runCtx)
	}()
	return nil
}

// open fills in defaults, compiles the declared schemas, makes sure the topics exist and
// opens the writer: everything a drain needs.
func (r *Relay) open(ctx context.Context) error {
	if r.BatchRows <= 0 {
		r.BatchRows = DefaultBatchRows
	}
	if r.PollInterval <= 0 {
		r.PollInterval = DefaultPollInterval
	}
	if r.Metrics == nil {
		r.Metrics = NewRelayMetrics(prometheus.NewRegistry())
	}
	set, err := r.Events.Set()
	if err != nil {
		return fmt.Errorf("outbox relay: %w", err)
	}
	r.schemas = set
	if err := kafka.EnsureTopics(ctx, r.Brokers, topicPartitions, r.topics()...); err != nil {
		return err
	}
	r.writer = r.newWriter()
	return nil
}

// topics are the ones every relay makes sure exist: the declared ones and the dead-letter topic.
func (r *Relay) topics() []string { return append(r.Events.Topics(), kafka.DeadLetterTopic) }

// newWriter is the relay's Kafka writer: keyed by aggregate, acknowledged by every
// replica, batches of up to BatchRows within 5 ms.
func (r *Relay) newWriter() *kafkago.Writer {
	return &kafkago.Writer{
		Addr:         kafkago.TCP(r.Brokers...),
		Balancer:     &kafkago.Hash{},
		RequiredAcks: kafkago.RequireAll,
		BatchTimeout: 5 * time.Millisecond,
		BatchSize:    r.BatchRows,
		MaxAttempts:  3,
		Transport:    &kafkago.Transport{}, // its own metadata cache, not the process-wide one
	}
}

// Stop ends the relay; rows it had not marked are published by the next leader.
func (r *Relay) Stop(ctx context.Context) error {
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	r.cancel = nil
	select {
	case <-r.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return r.writer.Close()
}

// Check is the readiness check: the leader must not be stuck behind its oldest row.
func (r *Relay) Check(context.Context) error {
	if !r.leader.Load() {
		return nil // a standby relay is healthy
	}
	since := time.Since(time.Unix(0, r.lastOK.Load()))
	if since > 30*r.PollInterval+30*time.Second {
		return fmt.Errorf("outbox relay has made no progress for %s", since.Round(time.Second))
	}
	return nil
}

func (r *Relay) run(ctx context.Context) {
	backoff := r.PollInterval
	for ctx.Err() == nil {
		err := r.lead(ctx)
		if ctx.Err() != nil {
			return
		}
		r.Log.Warn("outbox relay lost its leadership or connection; retrying", "err", err, "in", backoff.String())
		sleep(ctx, backoff)
		backoff = min(backoff*2, maxBackoff)
	}
}

// lead holds the leader lock on one connection for as long as it can and publishes.
func (r *Relay) lead(ctx context.Context) error {
	conn, err := r.DB.Acquire(ctx)
	if err != nil {
		return err
	}
	defer func() {
		r.leader.Store(false)
		r.Metrics.Leader.Set(0)
		// Releasing the connection with the session lock held would leak it into the pool.
		conn.Conn().Close(context.WithoutCancel(ctx)) //nolint:errcheck // dropping the connection releases the lock
		conn.Release()
	}()
	for {
		var got bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, relayLockID).Scan(&got); err != nil {
			return err
		}
		if got {
			break
		}
		sleep(ctx, r.PollInterval) // another relay leads; stand by
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	r.leader.Store(true)
	r.Metrics.Leader.Set(1)
	r.Log.Info("outbox relay is the leader")
	if _, err := conn.Exec(ctx, `LISTEN codexion_outbox`); err != nil {
		return err
	}
	backoff := r.PollInterval
	for ctx.Err() == nil {
		_, err := r.drain(ctx)
		if err != nil {
			r.Log.Error("outbox relay cannot publish; the ledger keeps accepting entries and the relay retries",
				"err", err, "retry_in", backoff.String())
			sleep(ctx, backoff)
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		backoff = r.PollInterval
		r.lastOK.Store(time.Now().UnixNano())
		waitCtx, cancel := context.WithTimeout(ctx, r.PollInterval)
		_, err = conn.Conn().WaitForNotification(waitCtx)
		cancel()
		if err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
	}
	return ctx.Err()
}

type row struct {
	id            uuid.UUID
	aggregateType string
	aggregateID   string
	eventType     string
	source        string
	payload       []byte
	traceparent   *string
	createdAt     time.Time
}

// prepared is a batch ready for the broker.
type prepared struct {
	msgs        []kafkago.Message
	ids         []uuid.UUID
	deadIDs     []uuid.UUID
	deadReasons []string
}

// fetch reads the next batch of unpublished rows after id after, in id order.
func (r *Relay) fetch(ctx context.Context, after uuid.UUID) ([]row, error) {
	rows, err := r.DB.Query(ctx, `SELECT id, aggregate_type, aggregate_id, event_type, source, payload, traceparent, created_at
		FROM codexion_outbox WHERE published_at IS NULL AND id > $2 ORDER BY id LIMIT $1`, r.BatchRows, after)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(cr pgx.CollectableRow) (row, error) {
		var x row
		err := cr.Scan(&x.id, &x.aggregateType, &x.aggregateID, &x.eventType, &x.source, &x.payload, &x.traceparent, &x.createdAt)
		return x, err
	})
}

// prepare wraps each row in its CloudEvent and routes it: to its declared topic when the
// payload matches its schema, to the dead-letter topic with the reason when it does not or
// when no domain declares its type.
func (r *Relay) prepare(batch []row) (prepared, error) {
	var p prepared
	for _, x := range batch {
		ev := schemas.Event{SpecVersion: schemas.SpecVersion, ID: x.id.String(), Source: x.source, Type: x.eventType,
			Subject: x.aggregateID, Time: x.createdAt.UTC(), DataContentType: "application/json",
			DataSchema: schemas.DataSchemaOf(x.eventType), Data: x.payload}
		if x.traceparent != nil {
			ev.TraceParent = *x.traceparent
		}
		value, err := json.Marshal(ev)
		if err != nil {
			return p, err
		}
		headers := []kafkago.Header{{Key: "content-type", Value: []byte(schemas.ContentType)}, {Key: "ce_type", Value: []byte(x.eventType)},
			{Key: "ce_id", Value: []byte(ev.ID)}}
		if ev.TraceParent != "" {
			headers = append(headers, kafkago.Header{Key: "traceparent", Value: []byte(ev.TraceParent)})
		}
		m := kafkago.Message{Key: []byte(x.aggregateID), Value: value, Headers: headers}
		var verr error
		if et, declared := r.Events.Lookup(x.eventType); declared {
			m.Topic = et.Topic
			verr = r.schemas.Validate(x.eventType, x.payload)
		} else {
			verr = fmt.Errorf("no domain declares the event type %q", x.eventType)
		}
		if verr != nil {
			r.Log.Error("outbox event cannot be published as declared; sending it to the dead-letter topic", "id", ev.ID, "type", x.eventType, "err", verr)
			m = kafka.DeadLetter(m, verr.Error(), deadLetteredBy)
			p.deadIDs, p.deadReasons = append(p.deadIDs, x.id), append(p.deadReasons, verr.Error())
		}
		p.msgs = append(p.msgs, m)
		p.ids = append(p.ids, x.id)
	}
	return p, nil
}

// mark records a published batch.
func (r *Relay) mark(ctx context.Context, p prepared) error {
	_, err := r.DB.Exec(ctx, `UPDATE codexion_outbox SET published_at = now() WHERE id = ANY($1::uuid[])`, p.ids)
	if err == nil && len(p.deadIDs) > 0 {
		_, err = r.DB.Exec(ctx, `UPDATE codexion_outbox o SET dead_letter_reason = d.reason
			FROM unnest($1::uuid[], $2::text[]) AS d(id, reason) WHERE o.id = d.id`, p.deadIDs, p.deadReasons)
	}
	if err != nil {
		return fmt.Errorf("mark %d events published: %w", len(p.ids), err)
	}
	for _, m := range p.msgs {
		if m.Topic == kafka.DeadLetterTopic {
			r.Metrics.DeadLettered.Inc()
		} else {
			r.Metrics.Published.WithLabelValues(m.Topic).Inc()
		}
	}
	return nil
}

// drain publishes until no row is waiting and returns how many it published. Batches go to
// the broker one after another, in id order; while one is on its way, the next is read
// from Postgres, so the database and the broker work at the same time. A row is marked
// only after the broker acknowledged it, so a crash re-publishes rather than loses.
func (r *Relay) drain(ctx context.Context) (int, error) {
	if err := r.checkCluster(ctx); err != nil {
		return 0, err
	}
	cur, err := r.fetch(ctx, uuid.Nil)
	if err != nil {
		return 0, err
	}
	if len(cur) == 0 {
		r.Metrics.OldestAge.Set(0)
		return 0, nil
	}
	total := 0
	marked := make(chan error, 1)
	marked <- nil
	p, err := r.prepare(cur)
	if err != nil {
		return 0, err
	}
	for len(cur) > 0 {
		r.Metrics.OldestAge.Set(time.Since(cur[0].createdAt).Seconds())
		// Read and prepare the next batch while this one travels.
		var (
			next     []row
			nextP    prepared
			fetchErr error
			fetched  = make(chan struct{})
		)
		after := cur[len(cur)-1].id
		if len(cur) == r.BatchRows {
			go func() {
				defer close(fetched)
				if next, fetchErr = r.fetch(ctx, after); fetchErr == nil && len(next) > 0 {
					nextP, fetchErr = r.prepare(next)
				}
			}()
		} else {
			close(fetched)
		}
		pubErr := r.writer.WriteMessages(ctx, p.msgs...)
		<-fetched
		if pubErr != nil {
			r.clusterChecked = time.Time{} // the cluster may have changed: look before the retry
			return total, errors.Join(fmt.Errorf("publish %d events: %w", len(p.msgs), pubErr), <-marked)
		}
		if r.afterPublish != nil {
			if err := r.afterPublish(); err != nil {
				return total, errors.Join(err, <-marked)
			}
		}
		// Mark this batch while the next one travels; wait for the previous mark first so
		// marks never pile up.
		if err := <-marked; err != nil {
			return total, err
		}
		marked = make(chan error, 1)
		go func(p prepared, ch chan<- error) { ch <- r.mark(ctx, p) }(p, marked)
		total += len(cur)
		r.lastOK.Store(time.Now().UnixNano())
		if fetchErr != nil {
			return total, errors.Join(fetchErr, <-marked)
		}
		cur, p = next, nextP
	}
	if err := <-marked; err != nil {
		return total, err
	}
	r.Metrics.OldestAge.Set(0)
	return total, nil
}

// checkCluster notices a different Kafka cluster (an embedded broker restarted with empty
// topics, or a move to a new cluster) and marks every event for publishing again. Consumers
// dedupe by id, so the repeat costs bandwidth, not correctness.
func (r *Relay) checkCluster(ctx context.Context) error {
	every := r.ClusterCheck
	if every <= 0 {
		every = clusterCheckInterval
	}
	if r.clusterID != "" && time.Since(r.clusterChecked) < every {
		return nil
	}
	md, err := kafka.Cluster{Brokers: r.Brokers}.Describe(ctx)
	if err != nil {
		return err
	}
	r.clusterChecked = time.Now()
	if md.ClusterID == r.clusterID {
		return nil
	}
	var stored string
	err = r.DB.QueryRow(ctx, `SELECT cluster_id FROM codexion_relay_state WHERE name = $1`, relayStateName).Scan(&stored)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if stored != "" && stored != md.ClusterID {
		if err := kafka.EnsureTopics(ctx, r.Brokers, topicPartitions, r.topics()...); err != nil {
			return err
		}
		tag, err := r.DB.Exec(ctx, `UPDATE codexion_outbox SET published_at = NULL, dead_letter_reason = NULL WHERE published_at IS NOT NULL`)
		if err != nil {
			return err
		}
		r.Metrics.Republished.Add(float64(tag.RowsAffected()))
		r.Log.Warn("Kafka cluster changed; publishing the outbox again", "was", stored, "now", md.ClusterID, "events", tag.RowsAffected())
	}
	if _, err := r.DB.Exec(ctx, `INSERT INTO codexion_relay_state (name, cluster_id) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET cluster_id = EXCLUDED.cluster_id, updated_at = now()`, relayStateName, md.ClusterID); err != nil {
		return err
	}
	r.clusterID = md.ClusterID
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
