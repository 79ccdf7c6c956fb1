// Package runner runs every applied pipeline continuously in this process: it follows
// the catalog, starts a pipeline when it is applied, rolls it over to a new version
// (rebuilding its table first when the version's output columns differ), retries a
// failing one with backoff while reporting the error, and publishes lag and progress.
package runner

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/codexion/codexion/catalog"
	"github.com/codexion/codexion/features/offline"
	"github.com/codexion/codexion/pipelines"
	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/auth"
	"github.com/codexion/codexion/platform/httpx"
	"github.com/codexion/codexion/platform/openapi"
	"github.com/codexion/codexion/schemas"
)

// Runner runs the catalog's pipelines.
type Runner struct {
	Snapshot    func() *catalog.Snapshot
	Store       *offline.Store
	Brokers     []string
	Schemas     *schemas.Set
	Log         *slog.Logger
	KeyColumns  func(table string) []string
	AfterAppend func(ctx context.Context, table string, keys map[string][]string)

	metrics *metrics
	mu      sync.Mutex
	runs    map[string]*run
	stop    context.CancelFunc
	done    chan struct{}
}

type metrics struct {
	lag    *prometheus.GaugeVec
	errors *prometheus.CounterVec
}

// NewMetrics registers the runner's metrics.
func (r *Runner) NewMetrics(reg prometheus.Registerer) {
	r.metrics = &metrics{
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "codexion_pipeline_lag_messages",
			Help: "Messages of a pipeline's source topic not ingested yet."}, []string{"pipeline"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "codexion_pipeline_errors_total",
			Help: "Pipeline runs that stopped on an error (each is retried with backoff)."}, []string{"pipeline"}),
	}
	reg.MustRegister(r.metrics.lag, r.metrics.errors)
}

// Status is what a pipeline is doing.
type Status struct {
	Name        string     `json:"name"`
	Version     int        `json:"version"`
	State       string     `json:"state"` // running, retrying
	Events      int64      `json:"events"`
	Rows        int64      `json:"rows"`
	DeadLetters int64      `json:"dead_letters"`
	Lag         *int64     `json:"lag,omitempty"`
	LastBatchAt *time.Time `json:"last_batch_at,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	Restarts    int        `json:"restarts"`
	StartedAt   time.Time  `json:"started_at"`
}

type run struct {
	version  int
	cancel   context.CancelFunc
	done     chan struct{}
	progress *pipelines.Progress
	engine   *pipelines.Engine
	prepared atomic.Bool // the table is ready for this version (rebuilt if it had to be)
	mu       sync.Mutex
	status   Status
}

// Name implements lifecycle.Component.
func (r *Runner) Name() string { return "pipelines" }

// Start begins following the catalog.
func (r *Runner) Start(ctx context.Context) error {
	r.runs = map[string]*run{}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.stop, r.done = cancel, make(chan struct{})
	go r.loop(bg)
	return nil
}

// Stop stops every pipeline after its current batch.
func (r *Runner) Stop(ctx context.Context) error {
	if r.stop == nil {
		return nil
	}
	r.stop()
	select {
	case <-r.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ru := range r.runs {
		select {
		case <-ru.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (r *Runner) loop(ctx context.Context) {
	defer close(r.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := 0; ; i++ {
		r.reconcile(ctx)
		if i%5 == 0 {
			r.measureLag(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// reconcile starts what is applied and not running, rolls over what changed version and
// stops what is no longer in the catalog.
func (r *Runner) reconcile(ctx context.Context) {
	snap := r.Snapshot()
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, ru := range r.runs {
		if p, ok := snap.Pipelines[name]; !ok || p.Version != ru.version {
			ru.cancel()
			<-ru.done // finishes its batch: what it committed stays, the new version resumes from it
			delete(r.runs, name)
		}
	}
	for name, p := range snap.Pipelines {
		if _, ok := r.runs[name]; ok || ctx.Err() != nil {
			continue
		}
		r.runs[name] = r.start(ctx, p)
	}
}

func (r *Runner) start(ctx context.Context, p catalog.Versioned[pipelines.Spec]) *run {
	rctx, cancel := context.WithCancel(ctx)
	ru := &run{version: p.Version, cancel: cancel, done: make(chan struct{}), progress: &pipelines.Progress{}}
	ru.status = Status{Name: p.Spec.Name, Version: p.Version, State: "running", StartedAt: time.Now().UTC()}
	table := p.Spec.Sink.Table
	ru.engine = &pipelines.Engine{Spec: p.Spec, Store: r.Store, Brokers: r.Brokers, Schemas: r.Schemas,
		Log: r.Log, Progress: ru.progress, AfterAppend: r.AfterAppend}
	if r.KeyColumns != nil {
		ru.engine.KeyColumns = func() []string { return r.KeyColumns(table) }
	}
	log := r.Log.With("pipeline", p.Spec.Name, "version", p.Version)
	go func() {
		defer close(ru.done)
		backoff := time.Second
		for {
			err := r.prepare(rctx, p, log)
			if err == nil {
				ru.prepared.Store(true)
				log.Info("pipeline running", "topic", p.Spec.Source.Topic, "table", table)
				_, err = ru.engine.Run(rctx, false)
			}
			if rctx.Err() != nil {
				return
			}
			now := time.Now().UTC()
			ru.mu.Lock()
			ru.status.State, ru.status.LastError, ru.status.LastErrorAt = "retrying", err.Error(), &now
			ru.status.Restarts++
			ru.mu.Unlock()
			if r.metrics != nil {
				r.metrics.errors.WithLabelValues(p.Spec.Name).Inc()
			}
			log.Error("pipeline stopped; retrying", "error", err, "in", backoff)
			select {
			case <-rctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
			ru.mu.Lock()
			ru.status.State = "running"
			ru.mu.Unlock()
		}
	}()
	return ru
}

// prepare rebuilds the sink table when its columns are not the ones this version writes:
// the table is dropped and the topic read again from the start (apply asked for --force).
func (r *Runner) prepare(ctx context.Context, p catalog.Versioned[pipelines.Spec], log *slog.Logger) error {
	if p.Schema == nil {
		return nil
	}
	cols, err := r.Store.Columns(ctx, p.Spec.Sink.Table)
	if err != nil || len(cols) == 0 {
		return err
	}
	same := len(cols) == len(p.Schema)
	for i := 0; same && i < len(cols); i++ {
		same = cols[i].Name == p.Schema[i].Name && cols[i].Type == p.Schema[i].Type
	}
	if same {
		return nil
	}
	archived, err := r.Store.ResetConsumer(ctx, p.Spec.Name, p.Spec.Sink.Table)
	if err == nil {
		log.Warn("the table's columns differ from what this version writes: rebuilding it from the topic",
			"table", p.Spec.Sink.Table, "previous_rows_kept_in", archived)
	}
	return err
}

func (r *Runner) measureLag(ctx context.Context) {
	r.mu.Lock()
	runs := make([]*run, 0, len(r.runs))
	for _, ru := range r.runs {
		runs = append(runs, ru)
	}
	r.mu.Unlock()
	for _, ru := range runs {
		lag, err := ru.engine.Lag(ctx)
		if err != nil {
			continue
		}
		ru.mu.Lock()
		ru.status.Lag = &lag
		ru.mu.Unlock()
		if r.metrics != nil {
			r.metrics.lag.WithLabelValues(ru.status.Name).Set(float64(lag))
		}
	}
}

// List returns every running pipeline's status, by name.
func (r *Runner) List() []Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Status, 0, len(r.runs))
	for _, ru := range r.runs {
		out = append(out, ru.snapshot())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Get returns one pipeline's status.
func (r *Runner) Get(name string) (Status, error) {
	i := slices.IndexFunc(r.List(), func(s Status) bool { return s.Name == name })
	if i < 0 {
		return Status{}, platform.NotFound("pipeline %s is not running (is it applied? `codexion apply -f DIR`)", name)
	}
	return r.List()[i], nil
}

func (ru *run) snapshot() Status {
	ru.mu.Lock()
	defer ru.mu.Unlock()
	s := ru.status
	s.Events, s.Rows, s.DeadLetters = ru.progress.Events.Load(), ru.progress.Rows.Load(), ru.progress.DeadLetters.Load()
	if us := ru.progress.LastBatch.Load(); us > 0 {
		t := time.UnixMicro(us).UTC()
		s.LastBatchAt = &t
	}
	return s
}

// Drain waits until pipeline name has ingested everything its topic held when called, and
// returns its status. When pipelines do not run continuously in this process, it runs the
// pipeline once instead.
func (r *Runner) Drain(ctx context.Context, name string) (Status, error) {
	p, ok := r.Snapshot().Pipelines[name]
	if !ok {
		return Status{}, platform.NotFound("pipeline %s is not in the catalog (apply it with `codexion apply -f DIR`)", name)
	}
	if r.stop == nil { // not running continuously here
		e := &pipelines.Engine{Spec: p.Spec, Store: r.Store, Brokers: r.Brokers, Schemas: r.Schemas, Log: r.Log,
			AfterAppend: r.AfterAppend}
		if r.KeyColumns != nil {
			e.KeyColumns = func() []string { return r.KeyColumns(p.Spec.Sink.Table) }
		}
		st, err := e.Run(ctx, true)
		now := time.Now().UTC()
		return Status{Name: name, Version: p.Version, State: "drained", Events: int64(st.Events), Rows: st.Rows,
			DeadLetters: int64(st.DeadLetters), StartedAt: now}, err
	}
	var ru *run
	for ru == nil {
		r.mu.Lock()
		ru = r.runs[name]
		r.mu.Unlock()
		if ru != nil && ru.version == p.Version && ru.prepared.Load() {
			break
		}
		ru = nil
		select { // applied a moment ago: the runner picks it up (and rebuilds its table) within a second
		case <-ctx.Done():
			return Status{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	lagNow := ru.engine.Lag // files: whatever is pending now
	if p.Spec.Source.Files == "" {
		ends, err := ru.engine.EndOffsets(ctx)
		if err != nil {
			return Status{}, platform.Unavailable(err, "read the end of %s", p.Spec.Source.Topic)
		}
		lagNow = func(ctx context.Context) (int64, error) { return ru.engine.LagBehind(ctx, ends) }
	}
	for {
		lag, err := lagNow(ctx)
		if err != nil {
			return Status{}, err
		}
		if lag == 0 {
			s := ru.snapshot()
			zero := int64(0)
			s.Lag = &zero
			return s, nil
		}
		select {
		case <-ctx.Done():
			return ru.snapshot(), platform.Unavailable(ctx.Err(), "pipeline %s still has %d messages to ingest", name, lag)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

var readers = httpx.Roles(auth.RoleDataEngineer, auth.RoleMLEngineer, auth.RoleCompliance, auth.RoleAdmin)

// Routes registers the pipeline status routes.
func (r *Runner) Routes(rt *httpx.Router) {
	rt.HandleFunc("GET /v1/pipelines", readers, func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, r.List())
	})
	rt.HandleFunc("POST /v1/pipelines/{name}/drain", httpx.Roles(auth.RoleDataEngineer, auth.RoleAdmin), func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), 2*time.Minute)
		defer cancel()
		s, err := r.Drain(ctx, req.PathValue("name"))
		if err != nil {
			httpx.WriteError(w, req, r.Log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, s)
	})
	rt.HandleFunc("GET /v1/pipelines/{name}", readers, func(w http.ResponseWriter, req *http.Request) {
		s, err := r.Get(req.PathValue("name"))
		if err != nil {
			httpx.WriteError(w, req, r.Log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, s)
	})
}

// OpenAPI describes the routes.
func (r *Runner) OpenAPI() map[string]openapi.Op {
	return map[string]openapi.Op{
		"GET /v1/pipelines":               {Tag: "pipelines", Summary: "Running pipelines: version, progress, lag, last error", Response: []Status{}},
		"GET /v1/pipelines/{name}":        {Tag: "pipelines", Summary: "One pipeline's status", Response: Status{}},
		"POST /v1/pipelines/{name}/drain": {Tag: "pipelines", Summary: "Wait until the pipeline has ingested what its topic holds now (runs it once when pipelines do not run here)", Response: Status{}},
	}
}
