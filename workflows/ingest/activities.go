package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/codexion/codexion/catalog"
	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/features/offline"
	"github.com/codexion/codexion/features/server"
	"github.com/codexion/codexion/pipelines"
	"github.com/codexion/codexion/schemas"
)

// Activities are the feature store's activities; app gives them their dependencies.
type Activities struct {
	Snapshot func() *features.Catalog
	Store    func() *offline.Store
	Brokers  []string
	// Schemas returns the registry's schemas as they are now; each run loads them once.
	Schemas      func(ctx context.Context) (*schemas.Set, error)
	Log          *slog.Logger
	KeyColumns   func(table string) []string
	AfterAppend  func(ctx context.Context, table string, keys map[string][]string)
	Materializer func(ctx context.Context, req server.MaterializeRequest) (server.MaterializeResult, error)
	OnError      func(pipeline string) // counts a failed run (a metric)

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

// Register adds the activities to a worker.
func (a *Activities) Register(w worker.Registry) {
	w.RegisterActivityWithOptions(a.IngestBatches, activity.RegisterOptions{Name: activityIngest})
	w.RegisterActivityWithOptions(a.MaterializeView, activity.RegisterOptions{Name: activityMaterialize})
	w.RegisterActivityWithOptions(a.BackfillRange, activity.RegisterOptions{Name: activityBackfill})
}

func (a *Activities) engine(ctx context.Context, spec pipelines.Spec, progress *pipelines.Progress) (*pipelines.Engine, error) {
	set, err := a.Schemas(ctx)
	if err != nil {
		return nil, fmt.Errorf("load the registry's schemas: %w", err)
	}
	e := &pipelines.Engine{Spec: spec, Store: a.Store(), Brokers: a.Brokers, Schemas: set, Log: a.Log,
		Progress: progress, AfterAppend: a.AfterAppend}
	if a.KeyColumns != nil {
		table := spec.Sink.Table
		e.KeyColumns = func() []string { return a.KeyColumns(table) }
	}
	return e, nil
}

// IngestBatches ingests the pipeline for up to req.For, batch by batch, heartbeating its
// progress; it stops early when the activity is cancelled (pause) or the catalog holds
// another version. Each batch commits its rows, offsets and event ids together, so a run
// killed at any point resumes exactly where the last commit left it.
func (a *Activities) IngestBatches(ctx context.Context, req IngestRequest) (IngestResult, error) {
	p, ok := a.Snapshot().Pipelines[req.Pipeline]
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
			if cur, ok := a.Snapshot().Pipelines[req.Pipeline]; !ok || cur.Version != req.Version {
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
	if a.OnError != nil {
		a.OnError(pipeline)
	}
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
		cols, err := a.Store().Columns(ctx, p.Spec.Sink.Table)
		if err != nil {
			return err
		}
		same := len(cols) == 0 || len(cols) == len(p.Schema)
		for i := 0; same && len(cols) > 0 && i < len(cols); i++ {
			same = cols[i].Name == p.Schema[i].Name && cols[i].Type == p.Schema[i].Type
		}
		if !same {
			archived, err := a.Store().ResetConsumer(ctx, p.Spec.Name, p.Spec.Sink.Table)
			if err != nil {
				return err
			}
			a.Log.Warn("the table's columns differ from what this version writes: rebuilding it from the topic",
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
	res, err := a.Materializer(ctx, server.MaterializeRequest{FeatureViews: p.Views})
	return MaterializeResult{Written: res.Written}, err
}

// BackfillRange ingests a range of a pipeline's topic (or its files) again.
func (a *Activities) BackfillRange(ctx context.Context, p BackfillParams) (BackfillResult, error) {
	spec, ok := a.Snapshot().Pipelines[p.Pipeline]
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
