package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/codexion/codexion/catalog"
	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/features/offline"
	"github.com/codexion/codexion/pipelines"
	"github.com/codexion/codexion/schemas"
)

// FeatureStore is what pipeline jobs need of the feature store of their process: the
// catalog as it is now and the offline store (open once the process has started).
type FeatureStore interface {
	Snapshot() *features.Catalog
	OfflineStore() *offline.Store
}

// SchemaSource gives the registry's schemas as they are now; each run loads them once.
type SchemaSource interface {
	Set(ctx context.Context) (*schemas.Set, error)
}

// Activities are the feature store's activities, run in the process that owns the offline
// store.
type Activities struct {
	features FeatureStore
	mat      features.Materializer
	schemas  SchemaSource
	brokers  []string
	sinks    []pipelines.CommitSink
	log      *slog.Logger
	errors   *prometheus.CounterVec // failed runs by pipeline

	mu       sync.Mutex
	live     map[string]*live // by pipeline: the run in progress here
	prepared map[string]int   // by pipeline: the version whose table is ready
}

// live is a run in progress, for status beside the workflow's query.
type live struct {
	version  int
	started  time.Time
	progress *pipelines.Progress
}

// NewActivities returns the activities over a feature store and its materializer, reading
// brokers and checking events against the registry's schemas; every committed batch is
// reported to sinks.
func NewActivities(fs FeatureStore, mat features.Materializer, set SchemaSource, brokers []string, log *slog.Logger, sinks ...pipelines.CommitSink) *Activities {
	return &Activities{features: fs, mat: mat, schemas: set, brokers: brokers, sinks: sinks, log: log,
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "codexion_pipeline_errors_total",
			Help: "Pipeline activity runs that failed (each is retried; the workflow keeps the last error)."}, []string{"pipeline"})}
}

// Register adds the activities to a worker.
func (a *Activities) Register(w worker.Registry) {
	w.RegisterActivityWithOptions(a.IngestBatches, activity.RegisterOptions{Name: activityIngest})
	w.RegisterActivityWithOptions(a.MaterializeView, activity.RegisterOptions{Name: activityMaterialize})
	w.RegisterActivityWithOptions(a.BackfillRange, activity.RegisterOptions{Name: activityBackfill})
}

func (a *Activities) engine(ctx context.Context, spec pipelines.Spec, progress *pipelines.Progress) (*pipelines.Engine, error) {
	set, err := a.schemas.Set(ctx)
	if err != nil {
		return nil, fmt.Errorf("load the registry's schemas: %w", err)
	}
	return &pipelines.Engine{Spec: spec, Store: a.features.OfflineStore(), Brokers: a.brokers, Schemas: set, Log: a.log,
		Progress: progress, Sinks: a.sinks}, nil
}

// IngestBatches ingests the pipeline for up to req.For, batch by batch, heartbeating its
// progress; it stops early when the activity is cancelled (pause) or the catalog holds
// another version. Each batch commits its rows, offsets and event ids together, so a run
// killed at any point resumes exactly where the last commit left it.
func (a *Activities) IngestBatches(ctx context.Context, req IngestRequest) (IngestResult, error) {
	p, ok := a.features.Snapshot().Pipelines[req.Pipeline]
	if !ok {
		return IngestResult{Removed: true}, nil
	}
	if p.Version != req.Version {
		return IngestResult{NewVersion: p.Version}, nil
	}
	if err := a.prepare(ctx, p); err != nil {
		a.failed(req.Pipeline)
		return IngestResult{}, err
	}
	progress := &pipelines.Progress{}
	e, err := a.engine(ctx, p.Spec, progress)
	if err != nil {
		a.failed(req.Pipeline)
		return IngestResult{}, err
	}
	a.setLive(req.Pipeline, &live{version: p.Version, started: time.Now(), progress: progress})
	defer a.setLive(req.Pipeline, nil)

	runCtx, stop := context.WithTimeout(ctx, req.For)
	defer stop()
	var newVersion atomic.Int64
	go func() { // heartbeat, and watch for a new version
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
			}
			activity.RecordHeartbeat(ctx, progress.Rows.Load())
			if cur, ok := a.features.Snapshot().Pipelines[req.Pipeline]; !ok || cur.Version != req.Version {
				newVersion.Store(int64(cur.Version))
				stop()
				return
			}
		}
	}()
	_, err = e.Run(runCtx, false)
	stop()
	res := IngestResult{Events: progress.Events.Load(), Rows: progress.Rows.Load(), DeadLetters: progress.DeadLetters.Load(),
		NewVersion: int(newVersion.Load())}
	switch {
	case ctx.Err() != nil: // cancelled (paused) or timed out by Temporal
		return res, ctx.Err()
	case err != nil && !onlyContext(err):
		a.failed(req.Pipeline)
		return res, err
	}
	return res, nil
}

// onlyContext reports whether err is nothing but the end of the run's time (or a
// cancellation): the way a run normally ends, not a failure.
func onlyContext(err error) bool {
	var j interface{ Unwrap() []error }
	if errors.As(err, &j) {
		for _, e := range j.Unwrap() {
			if e != nil && !onlyContext(e) {
				return false
			}
		}
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

func (a *Activities) failed(pipeline string) {
	a.errors.WithLabelValues(pipeline).Inc()
}

// prepare rebuilds the sink table when its columns are not the ones this version writes:
// the table moves aside and the topic is read again from the start (apply asked --force).
func (a *Activities) prepare(ctx context.Context, p catalog.Versioned[pipelines.Spec]) error {
	a.mu.Lock()
	done := a.prepared[p.Spec.Name] == p.Version
	a.mu.Unlock()
	if done {
		return nil
	}
	if p.Schema != nil {
		cols, err := a.features.OfflineStore().Columns(ctx, p.Spec.Sink.Table)
		if err != nil {
			return err
		}
		same := len(cols) == 0 || len(cols) == len(p.Schema)
		for i := 0; same && len(cols) > 0 && i < len(cols); i++ {
			same = cols[i].Name == p.Schema[i].Name && cols[i].Type == p.Schema[i].Type
		}
		if !same {
			archived, err := a.features.OfflineStore().ResetConsumer(ctx, p.Spec.Name, p.Spec.Sink.Table)
			if err != nil {
				return err
			}
			a.log.Warn("the table's columns differ from what this version writes: rebuilding it from the topic",
				"pipeline", p.Spec.Name, "version", p.Version, "table", p.Spec.Sink.Table, "previous_rows_kept_in", archived)
		}
	}
	a.mu.Lock()
	if a.prepared == nil {
		a.prepared = map[string]int{}
	}
	a.prepared[p.Spec.Name] = p.Version
	a.mu.Unlock()
	return nil
}

func (a *Activities) setLive(pipeline string, l *live) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.live == nil {
		a.live = map[string]*live{}
	}
	if l == nil {
		delete(a.live, pipeline)
	} else {
		a.live[pipeline] = l
	}
}

func (a *Activities) liveRun(pipeline string) *live {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.live[pipeline]
}

func (a *Activities) preparedVersion(pipeline string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.prepared[pipeline]
}

// MaterializeView refreshes views in the online store as of now.
func (a *Activities) MaterializeView(ctx context.Context, p MaterializeParams) (MaterializeResult, error) {
	res, err := a.mat.Materialize(ctx, features.MaterializeRequest{FeatureViews: p.Views})
	return MaterializeResult{Written: res.Written}, err
}

// BackfillRange ingests a range of a pipeline's topic (or its files) again.
func (a *Activities) BackfillRange(ctx context.Context, p BackfillParams) (BackfillResult, error) {
	spec, ok := a.features.Snapshot().Pipelines[p.Pipeline]
	if !ok {
		return BackfillResult{}, fmt.Errorf("pipeline %s is not in the catalog", p.Pipeline)
	}
	progress := &pipelines.Progress{}
	e, err := a.engine(ctx, spec.Spec, progress)
	if err != nil {
		return BackfillResult{}, err
	}
	if spec.Spec.Source.Files == "" {
		r := p.Range
		e.Range = &r
	}
	hb, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-hb.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx, progress.Rows.Load())
			}
		}
	}()
	st, err := e.Run(ctx, true)
	return BackfillResult{Events: int64(st.Events), Rows: st.Rows, DeadLetters: int64(st.DeadLetters)}, err
}
