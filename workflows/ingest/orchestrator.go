package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/governance/access"
	"github.com/codexion/codexion/pipelines"
	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/httpx"
	"github.com/codexion/codexion/platform/lifecycle"
	"github.com/codexion/codexion/platform/openapi"
	"github.com/codexion/codexion/workflows"
)

// Orchestrator keeps one IngestPipeline workflow running per applied pipeline and one
// Temporal Schedule per view with materialize_every, and answers the pipeline API.
type Orchestrator struct {
	temporal   *workflows.Client
	activities *Activities
	log        *slog.Logger
	ingestFor  time.Duration // how long each ingest activity runs before reporting back

	lag       *prometheus.GaugeVec
	mu        sync.Mutex
	started   map[string]int           // pipeline → version whose workflow this process made sure of
	schedules map[string]time.Duration // view → interval of its schedule
	lastLag   map[string]int64
	bg        lifecycle.Loop
}

// NewOrchestrator returns an orchestrator that runs acts' pipelines through c, each ingest
// activity for up to ingestFor, and registers its metrics and the activities' with reg.
func NewOrchestrator(c *workflows.Client, acts *Activities, ingestFor time.Duration, reg prometheus.Registerer, log *slog.Logger) *Orchestrator {
	o := &Orchestrator{temporal: c, activities: acts, log: log, ingestFor: ingestFor,
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "codexion_pipeline_lag_messages",
			Help: "Messages of a pipeline's source topic (or files) not ingested yet."}, []string{"pipeline"})}
	reg.MustRegister(o.lag, acts.errors)
	return o
}

// Name implements lifecycle.Component.
func (o *Orchestrator) Name() string { return "pipeline-orchestrator" }

// Start follows the catalog in the background. Temporal being down does not fail it: the
// readiness check says so and the next pass catches up.
func (o *Orchestrator) Start(ctx context.Context) error {
	o.started, o.schedules, o.lastLag = map[string]int{}, map[string]time.Duration{}, map[string]int64{}
	o.bg = lifecycle.Loop{ComponentName: o.Name(), Run: o.loop}
	return o.bg.Start(ctx)
}

// Stop ends the background work; the workflows go on in Temporal.
func (o *Orchestrator) Stop(ctx context.Context) error { return o.bg.Stop(ctx) }

func (o *Orchestrator) loop(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	rev := int64(-1)
	for i := 0; ; i++ {
		snap := o.activities.features.Snapshot()
		if snap.Revision != rev || i%30 == 0 {
			if err := o.reconcile(ctx, snap); err != nil {
				if ctx.Err() != nil {
					return
				}
				o.log.Warn("orchestration: will retry", "error", err)
			} else {
				rev = snap.Revision
			}
		}
		if i%5 == 0 {
			o.measureLag(ctx, snap)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// reconcile makes sure every pipeline's workflow runs and every schedule matches its view.
func (o *Orchestrator) reconcile(ctx context.Context, snap *features.Catalog) error {
	if o.temporal.Client == nil {
		return errors.New("temporal client not connected")
	}
	var errs []error
	for name, p := range snap.Pipelines {
		if err := o.ensureWorkflow(ctx, name, p.Version); err != nil {
			errs = append(errs, fmt.Errorf("pipeline %s: %w", name, err))
		}
	}
	for name, v := range snap.Views {
		if err := o.ensureSchedule(ctx, name, time.Duration(v.Spec.MaterializeEvery)); err != nil {
			errs = append(errs, fmt.Errorf("materialize schedule of %s: %w", name, err))
		}
	}
	o.mu.Lock()
	retired, gone := keysNotIn(o.started, snap.Pipelines), keysNotIn(o.schedules, snap.Views)
	o.mu.Unlock()
	for _, name := range retired { // deleted from the catalog: its workflow ends (even paused)
		err := o.temporal.TerminateWorkflow(ctx, WorkflowID(name), "", "pipeline deleted from the catalog")
		var nf *serviceerror.NotFound
		if err != nil && !errors.As(err, &nf) {
			errs = append(errs, fmt.Errorf("retire pipeline %s: %w", name, err))
			continue
		}
		o.mu.Lock()
		delete(o.started, name)
		o.mu.Unlock()
	}
	for _, view := range gone {
		if err := o.ensureSchedule(ctx, view, 0); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// keysNotIn lists the keys of m that in lacks.
func keysNotIn[A, B any](m map[string]A, in map[string]B) []string {
	var out []string
	for k := range m {
		if _, ok := in[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

// ensureWorkflow starts the pipeline's workflow unless one is running (it rolls itself over
// to new versions).
func (o *Orchestrator) ensureWorkflow(ctx context.Context, name string, version int) error {
	_, err := o.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: WorkflowID(name), TaskQueue: TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, IngestPipeline, IngestParams{Pipeline: name, Version: version, For: o.ingestFor})
	if err != nil {
		return err
	}
	o.mu.Lock()
	o.started[name] = version
	o.mu.Unlock()
	return nil
}

// ScheduleID names a view's materialization schedule.
func ScheduleID(view string) string { return "materialize-" + view }

// ensureSchedule creates, updates or (every = 0) deletes the view's schedule.
func (o *Orchestrator) ensureSchedule(ctx context.Context, view string, every time.Duration) error {
	o.mu.Lock()
	known, ok := o.schedules[view]
	o.mu.Unlock()
	if ok && known == every {
		return nil
	}
	err := workflows.EnsureInterval(ctx, o.temporal.ScheduleClient(), ScheduleID(view), every,
		&client.ScheduleWorkflowAction{ID: "materialize-" + view + "-scheduled", Workflow: Materialize,
			Args: []any{MaterializeParams{Views: []string{view}}}, TaskQueue: TaskQueue})
	if err != nil {
		return err
	}
	o.mu.Lock()
	if every == 0 {
		delete(o.schedules, view)
	} else {
		o.schedules[view] = every
	}
	o.mu.Unlock()
	return nil
}

func (o *Orchestrator) measureLag(ctx context.Context, snap *features.Catalog) {
	store := o.activities.features.OfflineStore()
	if store == nil {
		return
	}
	for name, p := range snap.Pipelines {
		e := &pipelines.Engine{Spec: p.Spec, Store: store, Brokers: o.activities.brokers}
		lag, err := e.Lag(ctx)
		if err != nil {
			continue
		}
		o.mu.Lock()
		o.lastLag[name] = lag
		o.mu.Unlock()
		if o.lag != nil {
			o.lag.WithLabelValues(name).Set(float64(lag))
		}
	}
}

// Lag is a pipeline's last measured lag.
func (o *Orchestrator) Lag(pipeline string) *int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	if l, ok := o.lastLag[pipeline]; ok {
		return &l
	}
	return nil
}

// Status is a pipeline as the API shows it.
type Status struct {
	Name       string       `json:"name"`
	Version    int          `json:"version"`
	WorkflowID string       `json:"workflow_id"`
	Workflow   *IngestState `json:"workflow,omitempty"` // the workflow's status query
	// Orchestration says why the workflow could not be asked (Temporal unreachable, not started).
	Orchestration string `json:"orchestration,omitempty"`
	// Running is the activity run in progress in this process, if any.
	Running *Running `json:"running,omitempty"`
	Lag     *int64   `json:"lag,omitempty"`
}

// Running is an activity run in progress.
type Running struct {
	Version     int        `json:"version"`
	StartedAt   time.Time  `json:"started_at"`
	Events      int64      `json:"events"`
	Rows        int64      `json:"rows"`
	DeadLetters int64      `json:"dead_letters"`
	LastBatchAt *time.Time `json:"last_batch_at,omitempty"`
}

// Get returns a pipeline's status.
func (o *Orchestrator) Get(ctx context.Context, name string) (Status, error) {
	p, ok := o.activities.features.Snapshot().Pipelines[name]
	if !ok {
		return Status{}, platform.NotFound("pipeline %s is not in the catalog (apply it with `codexion apply -f DIR`)", name)
	}
	st := Status{Name: name, Version: p.Version, WorkflowID: WorkflowID(name), Lag: o.Lag(name)}
	if l := o.activities.liveRun(name); l != nil {
		r := &Running{Version: l.version, StartedAt: l.started.UTC(), Events: l.progress.Events.Load(), Rows: l.progress.Rows.Load(),
			DeadLetters: l.progress.DeadLetters.Load()}
		if us := l.progress.LastBatch.Load(); us > 0 {
			t := time.UnixMicro(us).UTC()
			r.LastBatchAt = &t
		}
		st.Running = r
	}
	if o.temporal.Client == nil {
		st.Orchestration = "Temporal is not connected"
		return st, nil
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := o.temporal.QueryWorkflow(qctx, WorkflowID(name), "", QueryStatus)
	if err != nil {
		st.Orchestration = "status query failed: " + err.Error()
		return st, nil
	}
	var ws IngestState
	if err := v.Get(&ws); err != nil {
		return st, err
	}
	st.Workflow = &ws
	return st, nil
}

// List returns every pipeline's status, by name.
func (o *Orchestrator) List(ctx context.Context) ([]Status, error) {
	snap := o.activities.features.Snapshot()
	names := make([]string, 0, len(snap.Pipelines))
	for n := range snap.Pipelines {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]Status, 0, len(names))
	for _, n := range names {
		st, err := o.Get(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func (o *Orchestrator) signal(ctx context.Context, name, signal string) error {
	if _, ok := o.activities.features.Snapshot().Pipelines[name]; !ok {
		return platform.NotFound("pipeline %s is not in the catalog", name)
	}
	if err := o.temporal.SignalWorkflow(ctx, WorkflowID(name), "", signal, nil); err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return CodeNotRunning.New("pipeline %s has no running workflow; start it with `codexion pipeline start %s`", name, name)
		}
		return platform.Unavailable(err, "Temporal")
	}
	return nil
}

// Drain waits until the pipeline has ingested everything its topic held when called (and
// runs its current version), and returns its status.
func (o *Orchestrator) Drain(ctx context.Context, name string) (Status, error) {
	p, ok := o.activities.features.Snapshot().Pipelines[name]
	if !ok {
		return Status{}, platform.NotFound("pipeline %s is not in the catalog (apply it with `codexion apply -f DIR`)", name)
	}
	if !o.bg.Started() {
		return Status{}, CodeNotOrchestrated.New("pipelines are not run from this process (features.run_pipelines is false); run `codexion pipeline run -f SPEC --once` against the offline store instead")
	}
	e := &pipelines.Engine{Spec: p.Spec, Store: o.activities.features.OfflineStore(), Brokers: o.activities.brokers}
	lagNow := e.Lag
	if p.Spec.Source.Files == "" {
		ends, err := e.EndOffsets(ctx)
		if err != nil {
			return Status{}, platform.Unavailable(err, "read the end of %s", p.Spec.Source.Topic)
		}
		lagNow = func(ctx context.Context) (int64, error) { return e.LagBehind(ctx, ends) }
	}
	for {
		if o.activities.preparedVersion(name) == p.Version {
			lag, err := lagNow(ctx)
			if err != nil {
				return Status{}, err
			}
			if lag == 0 {
				st, err := o.Get(ctx, name)
				zero := int64(0)
				st.Lag = &zero
				return st, err
			}
		}
		select {
		case <-ctx.Done():
			return Status{}, platform.Unavailable(ctx.Err(), "pipeline %s has not caught up yet (is it paused? see `codexion pipeline status %s`)", name, name)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// MaterializeNow runs a Materialize workflow and waits for it: POST /materialize.
func (o *Orchestrator) MaterializeNow(ctx context.Context, req features.MaterializeRequest) (features.MaterializeResult, error) {
	if req.StartTS != nil || req.EndTS != nil {
		return features.MaterializeResult{}, errDirect // a time range runs in the request (see the feature server)
	}
	if o.temporal.Client == nil {
		return features.MaterializeResult{}, platform.Unavailable(errors.New("not connected"), "Temporal")
	}
	run, err := o.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "materialize-" + uuid.NewString(), TaskQueue: TaskQueue},
		Materialize, MaterializeParams{Views: req.FeatureViews})
	if err != nil {
		return features.MaterializeResult{}, platform.Unavailable(err, "Temporal")
	}
	var res MaterializeResult
	if err := run.Get(ctx, &res); err != nil {
		return features.MaterializeResult{}, err
	}
	return features.MaterializeResult{EndTS: time.Now().UTC(), Written: res.Written}, nil
}

var errDirect = features.ErrMaterializeDirect

// BackfillRequest is the API's backfill request.
type BackfillRequest struct {
	FromOffsets map[int]int64 `json:"from_offsets,omitempty"`
	ToOffsets   map[int]int64 `json:"to_offsets,omitempty"`
	From        *time.Time    `json:"from,omitempty"`
	To          *time.Time    `json:"to,omitempty"`
}

// BackfillStatus is a finished backfill.
type BackfillStatus struct {
	WorkflowID string `json:"workflow_id"`
	BackfillResult
}

// Backfill runs a Backfill workflow over a range of the pipeline's topic and waits for it.
func (o *Orchestrator) Backfill(ctx context.Context, name string, req BackfillRequest, key string) (BackfillStatus, error) {
	if _, ok := o.activities.features.Snapshot().Pipelines[name]; !ok {
		return BackfillStatus{}, platform.NotFound("pipeline %s is not in the catalog", name)
	}
	r := pipelines.Range{FromOffsets: req.FromOffsets, ToOffsets: req.ToOffsets}
	if req.From != nil {
		r.From = *req.From
	}
	if req.To != nil {
		r.To = *req.To
	}
	if !r.From.IsZero() && !r.To.IsZero() && !r.From.Before(r.To) {
		return BackfillStatus{}, platform.Invalid("from %s must be before to %s", r.From.Format(time.RFC3339), r.To.Format(time.RFC3339))
	}
	id := "backfill-" + name + "-" + uuid.NewString()
	if key != "" { // a retried request joins the same backfill
		id = "backfill-" + name + "-" + uuid.NewSHA1(uuid.NameSpaceURL, []byte(name+"\x00"+key)).String()
	}
	run, err := o.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING}, Backfill, BackfillParams{Pipeline: name, Range: r})
	if err != nil {
		return BackfillStatus{}, platform.Unavailable(err, "Temporal")
	}
	var res BackfillResult
	if err := run.Get(ctx, &res); err != nil {
		return BackfillStatus{WorkflowID: id}, err
	}
	return BackfillStatus{WorkflowID: id, BackfillResult: res}, nil
}

var (
	readers   = httpx.Roles(access.RoleDataEngineer, access.RoleMLEngineer, access.RoleCompliance, access.RoleAdmin)
	operators = httpx.Roles(access.RoleDataEngineer, access.RoleAdmin)
)

// Routes registers the pipeline API.
func (o *Orchestrator) Routes(r *httpx.Router) {
	wrap := httpx.Adapter(httpx.Problems(o.log))
	r.HandleFunc("GET /v1/pipelines", readers, wrap(func(w http.ResponseWriter, req *http.Request) error {
		l, err := o.List(req.Context())
		if err == nil {
			httpx.WriteJSON(w, http.StatusOK, l)
		}
		return err
	}))
	r.HandleFunc("GET /v1/pipelines/{name}", readers, wrap(func(w http.ResponseWriter, req *http.Request) error {
		st, err := o.Get(req.Context(), req.PathValue("name"))
		if err == nil {
			httpx.WriteJSON(w, http.StatusOK, st)
		}
		return err
	}))
	for _, action := range []string{"pause", "resume", "start"} {
		r.HandleFunc("POST /v1/pipelines/{name}/"+action, operators, wrap(func(w http.ResponseWriter, req *http.Request) error {
			name := req.PathValue("name")
			var err error
			if action == "start" {
				p, ok := o.activities.features.Snapshot().Pipelines[name]
				if !ok {
					return platform.NotFound("pipeline %s is not in the catalog", name)
				}
				err = o.ensureWorkflow(req.Context(), name, p.Version)
				if err != nil {
					err = platform.Unavailable(err, "Temporal")
				}
			} else {
				err = o.signal(req.Context(), name, action)
			}
			if err != nil {
				return err
			}
			st, err := o.Get(req.Context(), name)
			if err == nil {
				httpx.WriteJSON(w, http.StatusOK, st)
			}
			return err
		}))
	}
	r.HandleFunc("POST /v1/pipelines/{name}/drain", operators, wrap(func(w http.ResponseWriter, req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), 2*time.Minute)
		defer cancel()
		st, err := o.Drain(ctx, req.PathValue("name"))
		if err == nil {
			httpx.WriteJSON(w, http.StatusOK, st)
		}
		return err
	}))
	r.HandleFunc("POST /v1/pipelines/{name}/backfill", operators, wrap(func(w http.ResponseWriter, req *http.Request) error {
		var in BackfillRequest
		body, err := httpx.ReadJSONBody(req)
		if err != nil {
			return err
		}
		if len(body) > 0 {
			if err := httpx.DecodeJSONBytes(body, &in); err != nil {
				return err
			}
		}
		st, err := o.Backfill(req.Context(), req.PathValue("name"), in, strings.TrimSpace(req.Header.Get("Idempotency-Key")))
		if err == nil {
			httpx.WriteJSON(w, http.StatusOK, st)
		}
		return err
	}))
}

// OpenAPI describes the routes.
func (o *Orchestrator) OpenAPI() map[string]openapi.Op {
	const tag = "pipelines"
	name := "one pipeline's status: version, the workflow's status query, the run in progress, lag"
	return map[string]openapi.Op{
		"GET /v1/pipelines":                  {Tag: tag, Summary: "Every applied pipeline's status", Response: []Status{}},
		"GET /v1/pipelines/{name}":           {Tag: tag, Summary: strings.ToUpper(name[:1]) + name[1:], Response: Status{}},
		"POST /v1/pipelines/{name}/pause":    {Tag: tag, Summary: "Pause the pipeline's workflow after its current batch", Response: Status{}},
		"POST /v1/pipelines/{name}/resume":   {Tag: tag, Summary: "Resume a paused pipeline", Response: Status{}},
		"POST /v1/pipelines/{name}/start":    {Tag: tag, Summary: "Start the pipeline's workflow if none runs", Response: Status{}},
		"POST /v1/pipelines/{name}/drain":    {Tag: tag, Summary: "Wait until the pipeline has ingested what its topic holds now", Response: Status{}},
		"POST /v1/pipelines/{name}/backfill": {Tag: tag, Summary: "Ingest a range of the topic again (by offsets or time; idempotent), and wait", Request: BackfillRequest{}, Response: BackfillStatus{}},
	}
}
