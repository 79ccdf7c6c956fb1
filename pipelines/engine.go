package pipelines

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/codexion/codexion/connectors/kafka"
	"github.com/codexion/codexion/features/offline"
	"github.com/codexion/codexion/schemas"
)

// RawSchema is the Arrow schema of a decoded batch, which transforms read as {{batch}}.
var RawSchema = arrow.NewSchema([]arrow.Field{
	{Name: "event_id", Type: arrow.BinaryTypes.String},
	{Name: "event_type", Type: arrow.BinaryTypes.String},
	{Name: "source", Type: arrow.BinaryTypes.String},
	{Name: "subject", Type: arrow.BinaryTypes.String},
	{Name: "event_time", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	{Name: "data", Type: arrow.BinaryTypes.String},
}, nil)

// Engine runs one pipeline against one offline store.
type Engine struct {
	Spec    Spec
	Store   *offline.Store
	Brokers []string
	Schemas *schemas.Set
	Log     *slog.Logger
	// Sinks are told about each committed batch that inserted rows, with the distinct
	// values among the new rows of the key columns they ask for.
	Sinks []CommitSink
	// Progress, when set, counts as the run goes.
	Progress *Progress

	// Range, when set, makes the run a backfill: it reads only that range of the topic,
	// stops at its end, and leaves the pipeline's stored offsets alone (rows of events
	// ingested before are still skipped by id, so a backfill is safe to repeat).
	Range *Range

	decoder *decoder // when the spec declares source.columns
	decoded *arrow.Schema
	scratch []byte
}

// Range is part of a topic: by offsets (per partition; a missing partition is read whole)
// or by event time (the broker's message timestamps). To is exclusive.
type Range struct {
	FromOffsets map[int]int64 `json:"from_offsets,omitempty"`
	ToOffsets   map[int]int64 `json:"to_offsets,omitempty"`
	From        time.Time     `json:"from,omitzero"`
	To          time.Time     `json:"to,omitzero"`
}

// Progress is a running pipeline's counters, safe to read while it runs.
type Progress struct {
	Events      atomic.Int64
	Rows        atomic.Int64
	DeadLetters atomic.Int64
	LastBatch   atomic.Int64 // unix µs of the last committed batch
}

// Stats says what a run did.
type Stats struct {
	Events      int   // events read
	Rows        int64 // rows inserted
	DeadLetters int   // malformed events sent to the dead-letter topic
	Skipped     int   // events of types the pipeline does not take, and second copies of an event in one batch
}

type fetched struct {
	m   kafkago.Message
	err error
}

// Run consumes the source topic from the offsets stored with the data. With once, it stops
// when it has caught up with what the topic held when it started.
func (e *Engine) Run(ctx context.Context, once bool) (Stats, error) {
	if e.Spec.Source.Files != "" {
		return e.runFiles(ctx, once)
	}
	var st Stats
	if len(e.Spec.Source.Columns) > 0 {
		var err error
		if e.decoder, err = newDecoder(e.Spec.Source.Explode, e.Spec.Source.Columns); err != nil {
			return st, err
		}
		if e.decoded, err = decodedSchema(e.Spec.Source.Columns); err != nil {
			return st, err
		}
	}
	md, err := kafka.Cluster{Brokers: e.Brokers}.Describe(ctx)
	if err != nil {
		return st, err
	}
	if reset, err := e.Store.ResetForCluster(ctx, e.Spec.Name, md.ClusterID); err != nil {
		return st, err
	} else if reset {
		e.Log.Warn("Kafka cluster changed; reading the topic from the start, ingested events are skipped by id", "pipeline", e.Spec.Name)
	}
	parts, ends, err := e.partitions(ctx)
	if err != nil {
		return st, err
	}
	next := map[int]int64{}
	if e.Range != nil {
		once = true
		if next, ends, err = e.rangeOffsets(ctx, parts, ends); err != nil {
			return st, err
		}
	} else {
		stored, err := e.Store.Offsets(ctx, e.Spec.Name)
		if err != nil {
			return st, err
		}
		for _, o := range stored {
			if o.Topic == e.Spec.Source.Topic {
				next[o.Partition] = o.Next
			}
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in := make(chan fetched, e.Spec.BatchRows)
	for _, p := range parts {
		if once && next[p] >= ends[p] {
			continue
		}
		r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: e.Brokers, Topic: e.Spec.Source.Topic, Partition: p,
			MaxWait: 100 * time.Millisecond, MaxBytes: 10 << 20})
		start := next[p]
		if start == 0 {
			start = kafkago.FirstOffset
		}
		if err := r.SetOffset(start); err != nil {
			return st, err
		}
		go func() {
			defer r.Close() //nolint:errcheck // offsets live in DuckDB, not in the reader
			for {
				m, err := r.FetchMessage(rctx)
				select {
				case in <- fetched{m, err}:
				case <-rctx.Done():
					return
				}
				if err != nil {
					return
				}
			}
		}()
	}
	dlq := kafka.DeadLetterWriter(e.Brokers)
	defer dlq.Close() //nolint:errcheck // writes are synchronous

	done := func() bool {
		if !once {
			return false
		}
		for _, p := range parts {
			if next[p] < ends[p] {
				return false
			}
		}
		return true
	}
	// Batches are decoded and validated here while the previous one is being written into
	// DuckDB by the appender, one at a time and in order, so Go and DuckDB work at once.
	type ready struct {
		b offline.Batch
	}
	toAppend := make(chan ready, 1)
	appended := make(chan error, 1)
	failed := make(chan error, 1)
	var rows int64
	var busy atomic.Bool            // the appender is writing a batch
	freed := make(chan struct{}, 1) // the appender finished a batch
	go func() {
		var err error
		for r := range toAppend {
			busy.Store(true)
			if err == nil {
				var n int64
				var keys map[string][]string
				n, keys, err = e.Store.AppendKeys(ctx, r.b)
				rows += n
				if err != nil {
					failed <- err // stop the run now; the batches queued behind are dropped below
				}
				if err == nil && e.Progress != nil {
					e.Progress.Rows.Add(n)
					e.Progress.LastBatch.Store(time.Now().UnixMicro())
				}
				if err == nil {
					e.notify(ctx, r.b, n, keys)
				}
			}
			r.b.Record.Release()
			busy.Store(false)
			select {
			case freed <- struct{}{}:
			default:
			}
		}
		appended <- err
	}()
	closed := false
	finish := func() error {
		if closed {
			return nil
		}
		closed = true
		close(toAppend)
		err := <-appended
		st.Rows = rows
		return err
	}
	defer finish() //nolint:errcheck // the paths that return normally call finish themselves
	var batch []kafkago.Message
	// Partial batches start at most every gap: a batch's fixed cost in DuckDB (staging, the
	// transaction, the online refresh of its entities) is paid per batch, and without a gap
	// a loaded pipeline, flushing whenever the appender is free, kept it busy with batches of
	// a few events each.
	gap := min(busyBatchGap, e.Spec.FlushInterval)
	var lastFlush time.Time
	var gapOver <-chan time.Time // set while a partial batch waits for the gap to end
	appenderIdle := func() bool { return len(toAppend) == 0 && !busy.Load() }
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		lastFlush = time.Now()
		b, dead, skipped, err := e.prepare(ctx, dlq, batch, next)
		st.DeadLetters += dead
		st.Skipped += skipped
		st.Events += len(batch)
		if e.Progress != nil {
			e.Progress.Events.Add(int64(len(batch)))
			e.Progress.DeadLetters.Add(int64(dead))
		}
		batch = batch[:0]
		if err != nil {
			return err
		}
		select {
		case toAppend <- ready{b}:
			return nil
		case err := <-appended: // the appender stopped on an error
			closed = true
			b.Record.Release()
			return err
		}
	}
	// partial sends a partial batch when the appender is idle and the gap since the last
	// batch is over, or arranges to when the gap ends; events that arrive while the
	// appender works wait for it to be freed.
	partial := func() error {
		if len(batch) == 0 || !appenderIdle() {
			return nil
		}
		if wait := gap - time.Since(lastFlush); wait > 0 {
			if gapOver == nil {
				gapOver = time.After(wait)
			}
			return nil
		}
		return flush()
	}
	timer := time.NewTimer(e.Spec.FlushInterval)
	defer timer.Stop()
	for !done() {
		select {
		case f := <-in:
			if f.err != nil {
				return st, errors.Join(fmt.Errorf("read %s: %w", e.Spec.Source.Topic, f.err), flush(), finish())
			}
			if e.Range != nil && f.m.Offset >= ends[f.m.Partition] {
				continue // past the backfill's end
			}
			batch = append(batch, f.m)
			next[f.m.Partition] = f.m.Offset + 1
			// A full batch goes now; a partial one when the reader has nothing more at hand
			// (see partial). A caught-up pipeline does not wait for its timer, and under load
			// batches grow while the appender works.
			if len(batch) >= e.Spec.BatchRows {
				if err := flush(); err != nil {
					return st, err
				}
			} else if len(in) == 0 {
				if err := partial(); err != nil {
					return st, err
				}
			}
		case <-gapOver:
			gapOver = nil
			if err := partial(); err != nil {
				return st, err
			}
		case <-freed:
			if len(in) == 0 {
				if err := partial(); err != nil {
					return st, err
				}
			}
		case <-timer.C:
			if err := flush(); err != nil {
				return st, err
			}
			timer.Reset(e.Spec.FlushInterval)
		case err := <-failed: // a batch could not be written: nothing after it may be
			_ = finish()
			return st, err
		case <-ctx.Done():
			return st, errors.Join(flush(), finish(), ctx.Err())
		}
	}
	err = errors.Join(flush(), finish())
	return st, err
}

// busyBatchGap is the least time between the starts of two partial batches (or the flush
// interval, when shorter).
const busyBatchGap = 50 * time.Millisecond

// prepare decodes a batch, sends malformed events to the dead-letter topic, and returns the
// rest as an Arrow batch with the offsets reached.
func (e *Engine) prepare(ctx context.Context, dlq *kafkago.Writer, msgs []kafkago.Message, next map[int]int64) (offline.Batch, int, int, error) {
	schema := RawSchema
	if e.decoder != nil {
		schema = e.decoded
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	var dead []kafkago.Message
	skipped := 0
	// An event the relay published again after a crash can arrive twice in one batch; the
	// store's dedupe sees only earlier batches, so a batch keeps each event id once.
	seen := map[string]bool{}
	for _, m := range msgs {
		if e.decoder != nil {
			wanted, err := e.decodeInto(b, m.Value, seen)
			switch {
			case err != nil:
				dead = append(dead, kafka.DeadLetter(m, err.Error(), "pipeline:"+e.Spec.Name))
			case !wanted:
				skipped++
			}
			continue
		}
		ev, err := schemas.Decode(m.Value)
		if err == nil && slices.Contains(e.Spec.Source.EventTypes, ev.Type) && e.Schemas != nil {
			err = e.Schemas.Validate(ev.Type, ev.Data)
		}
		if err != nil {
			dead = append(dead, kafka.DeadLetter(m, err.Error(), "pipeline:"+e.Spec.Name))
			continue
		}
		if !slices.Contains(e.Spec.Source.EventTypes, ev.Type) || seen[ev.ID] {
			skipped++
			continue
		}
		seen[ev.ID] = true
		b.Field(0).(*array.StringBuilder).Append(ev.ID)
		b.Field(1).(*array.StringBuilder).Append(ev.Type)
		b.Field(2).(*array.StringBuilder).Append(ev.Source)
		b.Field(3).(*array.StringBuilder).Append(ev.Subject)
		b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(ev.Time.UnixMicro()))
		b.Field(5).(*array.StringBuilder).Append(string(ev.Data))
	}
	if len(dead) > 0 {
		e.Log.Error("malformed events sent to the dead-letter topic", "pipeline", e.Spec.Name, "count", len(dead))
		if err := dlq.WriteMessages(ctx, dead...); err != nil {
			return offline.Batch{}, 0, skipped, fmt.Errorf("dead-letter %d events: %w", len(dead), err)
		}
	}
	keyCols := keyColumns(e.Sinks, e.Spec.Sink.Table)
	var offsets []offline.Offset
	for p, n := range next {
		if e.Range == nil { // a backfill leaves the pipeline's position alone
			offsets = append(offsets, offline.Offset{Topic: e.Spec.Source.Topic, Partition: p, Next: n})
		}
	}
	return offline.Batch{Consumer: e.Spec.Name, Table: e.Spec.Sink.Table, Record: b.NewRecordBatch(),
		IDColumn: e.Spec.Sink.IDColumn, Offsets: offsets, Transform: e.Spec.Transform, KeyColumns: keyCols}, len(dead), skipped, nil
}

// decodeInto parses one message, checks it against the registry as the spec says, and
// appends its decoded rows; it reports whether the event is of a type the pipeline takes.
func (e *Engine) decodeInto(b *array.RecordBuilder, msg []byte, seen map[string]bool) (bool, error) {
	ev, err := e.decoder.parseEvent(msg)
	if err != nil {
		return false, err
	}
	if !slices.Contains(e.Spec.Source.EventTypes, ev.typ) || seen[ev.id] {
		return false, nil
	}
	seen[ev.id] = true
	if e.Schemas != nil {
		if e.Spec.Source.Validate == "producer" {
			if _, ok := e.Schemas.Raw(ev.typ); !ok {
				return true, fmt.Errorf("no schema is registered for event type %q", ev.typ)
			}
			if want := schemas.DataSchemaOf(ev.typ); ev.dataschema != want {
				return true, fmt.Errorf("dataschema %q is not the registered schema %s", ev.dataschema, want)
			}
		} else {
			e.scratch = ev.data.MarshalTo(e.scratch[:0])
			if err := e.Schemas.Validate(ev.typ, e.scratch); err != nil {
				return true, err
			}
		}
	}
	return true, e.decoder.appendEvent(b, ev.id, ev.typ, ev.time, ev.data)
}

// RawTable is DuckDB DDL for an empty table shaped like a decoded batch.
const RawTable = `(event_id VARCHAR, event_type VARCHAR, source VARCHAR, subject VARCHAR, event_time TIMESTAMPTZ, data VARCHAR)`

// rangeOffsets turns the backfill range into start and end offsets per partition.
func (e *Engine) rangeOffsets(ctx context.Context, parts []int, last map[int]int64) (from, to map[int]int64, err error) {
	r := e.Range
	from, to = map[int]int64{}, map[int]int64{}
	for _, p := range parts {
		from[p], to[p] = 0, last[p]
		if v, ok := r.FromOffsets[p]; ok {
			from[p] = v
		}
		if v, ok := r.ToOffsets[p]; ok {
			to[p] = min(v, last[p])
		}
		if r.From.IsZero() && r.To.IsZero() {
			continue
		}
		conn, err := kafkago.DialLeader(ctx, "tcp", e.Brokers[0], e.Spec.Source.Topic, p)
		if err != nil {
			return nil, nil, err
		}
		if !r.From.IsZero() {
			if from[p], err = conn.ReadOffset(r.From); err != nil {
				conn.Close() //nolint:errcheck // a metadata connection
				return nil, nil, fmt.Errorf("offset at %s: %w", r.From, err)
			}
		}
		if !r.To.IsZero() {
			if to[p], err = conn.ReadOffset(r.To); err != nil {
				conn.Close() //nolint:errcheck // a metadata connection
				return nil, nil, fmt.Errorf("offset at %s: %w", r.To, err)
			}
		}
		conn.Close() //nolint:errcheck // a metadata connection
	}
	return from, to, nil
}

// fileOffset is where a file's ingestion is recorded: its size when it was ingested.
func fileOffset(path string) string { return "file:" + path }

// pendingFiles lists the files matching the spec's glob not ingested at their present size.
func (e *Engine) pendingFiles(ctx context.Context) ([]string, map[string]int64, error) {
	glob, err := e.Store.CheckFileSource(e.Spec.Source.Files)
	if err != nil {
		return nil, nil, fmt.Errorf("source.files: %w", err)
	}
	matches, err := filepath.Glob(glob)
	if err != nil {
		return nil, nil, err
	}
	stored, err := e.Store.Offsets(ctx, e.Spec.Name)
	if err != nil {
		return nil, nil, err
	}
	done := map[string]int64{}
	for _, o := range stored {
		done[o.Topic] = o.Next
	}
	var pending []string
	sizes := map[string]int64{}
	for _, m := range matches {
		// The file is read by the path its links lead to, which must lie under a file root.
		if m, err = e.Store.ReadableFile(m); err != nil {
			return nil, nil, fmt.Errorf("source.files: %w", err)
		}
		info, err := os.Stat(m)
		if err != nil || info.IsDir() {
			continue
		}
		sizes[m] = info.Size()
		if done[fileOffset(m)] != info.Size() {
			pending = append(pending, m)
		}
	}
	slices.Sort(pending)
	return pending, sizes, nil
}

// runFiles ingests each pending file as one batch; with once it stops when none is left,
// else it looks for new files every few seconds.
func (e *Engine) runFiles(ctx context.Context, once bool) (Stats, error) {
	var st Stats
	for {
		pending, sizes, err := e.pendingFiles(ctx)
		if err != nil {
			return st, err
		}
		for _, f := range pending {
			batch := offline.Batch{Consumer: e.Spec.Name, Table: e.Spec.Sink.Table,
				SourceSQL: FileReader(e.Spec.Source.Format, f), IDColumn: e.Spec.Sink.IDColumn, Transform: e.Spec.Transform,
				KeyColumns: keyColumns(e.Sinks, e.Spec.Sink.Table), Offsets: []offline.Offset{{Topic: fileOffset(f), Next: sizes[f]}}}
			n, keys, err := e.Store.AppendKeys(ctx, batch)
			if err != nil {
				return st, fmt.Errorf("file %s: %w", f, err)
			}
			st.Events++
			st.Rows += n
			if e.Progress != nil {
				e.Progress.Events.Add(1)
				e.Progress.Rows.Add(n)
				e.Progress.LastBatch.Store(time.Now().UnixMicro())
			}
			e.notify(ctx, batch, n, keys)
		}
		if once {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
}

// Lag returns how many messages of the source topic (or files) the pipeline has not
// ingested yet.
func (e *Engine) Lag(ctx context.Context) (int64, error) {
	if e.Spec.Source.Files != "" {
		pending, _, err := e.pendingFiles(ctx)
		return int64(len(pending)), err
	}
	_, ends, err := e.partitions(ctx)
	if err != nil {
		return 0, err
	}
	return e.LagBehind(ctx, ends)
}

// EndOffsets returns, per partition of the source topic, the offset after its last message.
func (e *Engine) EndOffsets(ctx context.Context) (map[int]int64, error) {
	_, ends, err := e.partitions(ctx)
	return ends, err
}

// LagBehind returns how many messages before ends the pipeline has not ingested yet.
func (e *Engine) LagBehind(ctx context.Context, ends map[int]int64) (int64, error) {
	stored, err := e.Store.Offsets(ctx, e.Spec.Name)
	if err != nil {
		return 0, err
	}
	next := map[int]int64{}
	for _, o := range stored {
		if o.Topic == e.Spec.Source.Topic {
			next[o.Partition] = o.Next
		}
	}
	var lag int64
	for p, end := range ends {
		lag += max(0, end-next[p])
	}
	return lag, nil
}

// partitions lists the topic's partitions and, for each, the offset after its last message.
func (e *Engine) partitions(ctx context.Context) ([]int, map[int]int64, error) {
	conn, err := kafkago.DialContext(ctx, "tcp", e.Brokers[0])
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close() //nolint:errcheck // a metadata connection
	ps, err := conn.ReadPartitions(e.Spec.Source.Topic)
	if err != nil {
		return nil, nil, fmt.Errorf("topic %s: %w", e.Spec.Source.Topic, err)
	}
	ends := map[int]int64{}
	var ids []int
	for _, p := range ps {
		lc, err := kafkago.DialLeader(ctx, "tcp", e.Brokers[0], e.Spec.Source.Topic, p.ID)
		if err != nil {
			return nil, nil, err
		}
		last, err := lc.ReadLastOffset()
		lc.Close() //nolint:errcheck // a metadata connection
		if err != nil {
			return nil, nil, err
		}
		ends[p.ID] = last
		ids = append(ids, p.ID)
	}
	slices.Sort(ids)
	return ids, ends, nil
}
