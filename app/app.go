// Package app is Codexion's composition root: it builds every part from the config with
// plain constructors, declares the start order once, and stops in reverse. It is the only
// package that knows every part; `codexion` subcommands and end-to-end tests both use it.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/codexion/codexion/catalog"
	"github.com/codexion/codexion/connectors/kafka"
	"github.com/codexion/codexion/connectors/objectstore"
	"github.com/codexion/codexion/connectors/outbox"
	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/features/server"
	"github.com/codexion/codexion/governance/access"
	"github.com/codexion/codexion/ledger"
	"github.com/codexion/codexion/models"
	"github.com/codexion/codexion/pipelines"
	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/auth"
	"github.com/codexion/codexion/platform/buildinfo"
	"github.com/codexion/codexion/platform/config"
	"github.com/codexion/codexion/platform/health"
	"github.com/codexion/codexion/platform/httpx"
	"github.com/codexion/codexion/platform/idempotency"
	"github.com/codexion/codexion/platform/lifecycle"
	"github.com/codexion/codexion/platform/openapi"
	"github.com/codexion/codexion/platform/postgres"
	"github.com/codexion/codexion/platform/telemetry"
	"github.com/codexion/codexion/schemas"
	"github.com/codexion/codexion/schemas/registry"
	"github.com/codexion/codexion/workflows"
	"github.com/codexion/codexion/workflows/ingest"
	"github.com/codexion/codexion/workflows/training"
	"github.com/codexion/codexion/workflows/trainingset"
)

// Mode selects which parts a process runs.
type Mode string

const (
	ModeServe  Mode = "serve"  // the HTTP API
	ModeWorker Mode = "worker" // the Temporal worker, with health and metrics over HTTP
	ModeDev    Mode = "dev"    // everything, on the embedded stack
)

// JWKSPath is where the dev issuer publishes its keys.
const JWKSPath = "/.well-known/jwks.json"

// App is a built process: its parts and their start order.
type App struct {
	Config   config.Config
	Mode     Mode
	Log      *slog.Logger
	Registry *prometheus.Registry
	Router   *httpx.Router
	Checks   *health.Checks

	DB        *postgres.Pool
	Ledger    *ledger.Store
	Relay     *outbox.Relay
	Temporal  *workflows.Client
	Objects   *objectstore.Store
	Server    *httpx.Server
	Catalog   *catalog.Store
	Features  *server.Server
	Pipelines *ingest.Orchestrator
	Models    *models.Store

	catalogAPI  *catalog.Handler
	featureAPI  *server.Handler
	featureActs *ingest.Activities
	// FeatureWorker runs the feature store's workflows and activities (in the process that
	// owns the offline store).
	FeatureWorker *workflows.Worker

	training *modelTraining
	group    *lifecycle.Group
	ops      map[string]openapi.Op
	registry *registry.Handler
}

// Kinds registers every catalog kind: what users may declare in YAML, each brought by the
// package that owns it.
func Kinds() *catalog.Kinds {
	return catalog.NewKinds(append(append([]catalog.Kind{pipelines.Kind{}}, features.Kinds()...), models.ModelKind{})...)
}

// Events gathers the event types every domain declares: the relay routes and validates by
// them, the schema registry registers their schemas at start.
func Events() (*schemas.Declarations, error) { return schemas.Declare(ledger.Events()) }

// Migrations lists every domain's migrations, in the order they apply.
func Migrations() []postgres.Source {
	return []postgres.Source{idempotency.Migrations(), outbox.Migrations(), registry.Migrations(), ledger.Migrations(), catalog.Migrations(),
		server.Migrations(), models.Migrations()}
}

// New builds the parts for mode from cfg. Nothing starts until Start.
func New(ctx context.Context, cfg config.Config, mode Mode, log *slog.Logger, extra ...func(*App)) (*App, error) {
	switch mode {
	case ModeServe, ModeDev:
		if err := cfg.RequireDependencies(); err != nil {
			return nil, err
		}
	case ModeWorker:
		if cfg.Temporal.Address == "" {
			return nil, fmt.Errorf("temporal.address is required for the worker (set CODEXION_TEMPORAL_ADDRESS)")
		}
	}
	a := &App{
		Config:   cfg,
		Mode:     mode,
		Log:      log,
		Registry: telemetry.NewRegistry(),
		Checks:   &health.Checks{},
		group:    lifecycle.NewGroup(log),
	}
	tracing, err := telemetry.NewTracing(ctx, cfg.Telemetry.ServiceName, cfg.Telemetry.OTLPEndpoint)
	if err != nil {
		return nil, err
	}

	var guard httpx.Guard = refuseAll
	if cfg.Auth.Issuer != "" {
		verifier, err := auth.NewVerifier(auth.VerifierOptions{
			Issuer:     cfg.Auth.Issuer,
			JWKSURL:    cfg.Auth.JWKSURL,
			Audience:   cfg.Auth.Audience,
			RolesClaim: cfg.Auth.RolesClaim,
		})
		if err != nil {
			return nil, err
		}
		guard = auth.Guard(verifier, log)
	}
	a.Router = httpx.NewRouter(log, guard)
	a.Checks.Routes(a.Router)
	a.Router.Handle("GET /metrics", httpx.Public, telemetry.MetricsHandler(a.Registry))

	handler := httpx.Chain(a.Router, log, httpx.NewMetrics(a.Registry), tracing.Tracer("codexion/http"),
		tracing.Propagator, cfg.HTTP.MaxBodyBytes)
	a.Server = httpx.NewServer(httpx.ServerOptions{
		Addr:              cfg.HTTP.Addr,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
	}, handler, log)

	a.Temporal = &workflows.Client{Address: cfg.Temporal.Address, Namespace: cfg.Temporal.Namespace, Log: log}

	// The start order, declared once. Stop runs it backwards.
	a.group.Add(tracing)
	if mode != ModeWorker {
		if a.DB, err = postgres.NewPool(cfg.Database.URL, cfg.Database.MaxConns); err != nil {
			return nil, err
		}
		a.group.Add(a.DB)
		a.Checks.Add("postgres", a.DB.Check)
		if mode == ModeDev {
			a.group.Add(lifecycle.Func{ComponentName: "migrations", OnStart: a.migrate})
		} else {
			a.group.Add(lifecycle.Func{ComponentName: "schema-check", OnStart: a.checkSchema})
		}
		events, err := Events()
		if err != nil {
			return nil, err
		}
		set, err := events.Set()
		if err != nil {
			return nil, err
		}
		a.Ledger = ledger.NewStore(a.DB.Pool, outbox.NewWriter(events))
		a.Registry.MustRegister(a.Ledger.Collectors()...)
		reg := registry.NewStore(a.DB.Pool)
		a.group.Add(lifecycle.Func{ComponentName: "schema-registration", OnStart: func(ctx context.Context) error {
			return reg.RegisterAll(ctx, set)
		}})
		a.registry = registry.NewHandler(reg, log)
		a.Relay = &outbox.Relay{DB: a.DB.Pool, Brokers: cfg.Kafka.Brokers, Events: events, Log: log.With("component", "outbox-relay"),
			Metrics: outbox.NewRelayMetrics(a.Registry)}
		brokers := kafka.Cluster{Brokers: cfg.Kafka.Brokers}
		a.Checks.Add("kafka", brokers.Check)
		objects, err := objectstore.Open(objectstore.Options{
			Endpoint: cfg.S3.Endpoint, AccessKey: cfg.S3.AccessKey, SecretKey: cfg.S3.SecretKey,
			Bucket: cfg.S3.Bucket, Region: cfg.S3.Region, UseTLS: cfg.S3.UseTLS,
		})
		if err != nil {
			return nil, err
		}
		a.Objects = objects
		if mode == ModeDev {
			a.group.Add(lifecycle.Func{ComponentName: "objectstore-bucket", OnStart: objects.EnsureBucket})
		}
		a.Checks.Add("objectstore", objects.Check)
		a.featureStore(reg)
		a.Models = models.NewStore(a.DB.Pool, objects)
	}
	a.group.Add(a.Temporal)
	a.Checks.Add("temporal", a.Temporal.Check)

	ops := platformOps()
	if mode != ModeWorker {
		a.apiRoutes()
		lh := ledger.NewHandler(a.Ledger, log)
		lh.Routes(a.Router)
		maps.Copy(ops, lh.OpenAPI())
		a.registry.Routes(a.Router)
		maps.Copy(ops, a.registry.OpenAPI())
		a.catalogAPI.Routes(a.Router)
		maps.Copy(ops, a.catalogAPI.OpenAPI())
		a.featureAPI.Routes(a.Router)
		maps.Copy(ops, a.featureAPI.OpenAPI())
		a.Pipelines.Routes(a.Router)
		maps.Copy(ops, a.Pipelines.OpenAPI())
		mlflow := models.NewMLflow(a.Models, log)
		mlflow.Routes(a.Router)
		maps.Copy(ops, mlflow.OpenAPI())
		a.training = newModelTraining(a.Catalog, a.Features.TrainingSets(), a.Temporal)
		mh := models.NewHandler(a.Models, a.training, log)
		mh.Routes(a.Router)
		maps.Copy(ops, mh.OpenAPI())
	}
	for _, fn := range extra {
		fn(a)
	}
	a.ops = ops
	a.Router.HandleFunc("GET /v1/openapi.json", httpx.Public, func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, a.OpenAPI(a.ops))
	})
	if a.Relay != nil {
		a.group.Add(a.Relay)
		a.Checks.Add("outbox-relay", a.Relay.Check)
	}
	if a.Pipelines != nil {
		// The process that owns the offline store runs the feature store's activities.
		a.FeatureWorker = &workflows.Worker{Client: a.Temporal, TaskQueue: ingest.TaskQueue, Log: log,
			Register: []workflows.Registration{ingest.RegisterWorkflows, a.featureActs.Register,
				trainingset.RegisterWorkflows, trainingset.NewActivities(a.Features.TrainingSets(), log.With("component", "training-sets")).Register,
				training.RegisterWorkflows, training.NewActivities(a.training, a.training, a.Models, log.With("component", "model-training")).Register}}
		a.group.Add(a.FeatureWorker)
		if cfg.Features.RunPipelines {
			a.group.Add(a.Pipelines)
			a.group.Add(a.retraining(log.With("component", "model-retraining")))
		}
	}
	a.group.Add(a.Server)
	if mode != ModeServe {
		a.group.Add(&workflows.Worker{Client: a.Temporal, TaskQueue: cfg.Temporal.TaskQueue, Log: log})
	}
	return a, nil
}

// featureStore builds the catalog, the feature server and the pipeline orchestrator. The
// feature server opens its offline and online stores at start; the specs in
// features.apply are applied at start.
func (a *App) featureStore(reg *registry.Store) {
	cfg := a.Config.Features
	a.Catalog = catalog.NewStore(a.DB.Pool, Kinds())
	a.Features = server.New(server.Deps{Catalog: a.Catalog, Objects: a.Objects, DB: a.DB.Pool, Registry: a.Registry,
		Log: a.Log.With("component", "features"), Jobs: trainingset.NewRunner(a.Temporal, ingest.TaskQueue),
		Stores: server.FileStores{OfflinePath: cfg.OfflinePath, FileRoots: cfg.FileRoots, Online: cfg.Online,
			OnlinePath: cfg.OnlinePath, RedisURL: cfg.RedisURL}})
	// Every committed pipeline batch refreshes the online values of the entities it touched.
	acts := ingest.NewActivities(a.Features, a.Features.Online(), reg, a.Config.Kafka.Brokers, a.Log.With("component", "pipelines"), a.Features.Online())
	a.Pipelines = ingest.NewOrchestrator(a.Temporal, acts, cfg.IngestRun, a.Registry, a.Log.With("component", "orchestration"))
	a.catalogAPI = catalog.NewHandler(a.Catalog, a.Features.Validate, &features.Catalog{}, a.Log, a.Features)
	a.featureAPI = server.NewHandler(a.Features, a.Pipelines, a.Log.With("component", "features"))
	a.featureActs = acts
	a.group.Add(a.Features)
	if cfg.Apply != "" {
		a.group.Add(lifecycle.Func{ComponentName: "apply-specs", OnStart: func(ctx context.Context) error {
			docs, err := catalog.ReadDir(cfg.Apply)
			if err != nil {
				return fmt.Errorf("features.apply: %w", err)
			}
			res, err := a.catalogAPI.Apply(ctx, docs, catalog.Options{Actor: "codexion (features.apply)"})
			if err != nil {
				return fmt.Errorf("features.apply %s: %w", cfg.Apply, err)
			}
			for _, c := range res.Changes {
				if c.Action != "unchanged" {
					a.Log.Info("spec applied", "kind", c.Kind, "name", c.Name, "action", c.Action, "version", c.Version)
				}
			}
			return nil
		}})
	}
}

func (a *App) migrate(ctx context.Context) error {
	applied, err := postgres.Up(ctx, a.DB.Pool, Migrations())
	if err != nil {
		return err
	}
	for _, m := range applied {
		a.Log.Info("migration applied", "source", m.Source, "version", m.Version, "name", m.Name)
	}
	return nil
}

// OpenAPI is the API document of this app's routes.
func (a *App) OpenAPI(ops map[string]openapi.Op) openapi.Doc {
	return openapi.Build("Codexion API", buildinfo.Get().Version, a.Router.Rules(), ops)
}

func platformOps() map[string]openapi.Op {
	return map[string]openapi.Op{
		"GET /livez":                            {Tag: "platform", Summary: "The process is up"},
		"GET /readyz":                           {Tag: "platform", Summary: "Every dependency answers (?verbose lists them)", Response: health.Report{}},
		"GET /metrics":                          {Tag: "platform", Summary: "Prometheus metrics"},
		"GET /v1/whoami":                        {Tag: "platform", Summary: "The caller's identity and roles", Response: auth.Principal{}},
		"GET /v1/admin/config":                  {Tag: "platform", Summary: "Effective configuration, secrets redacted", Response: map[string]string{}},
		"GET /v1/openapi.json":                  {Tag: "platform", Summary: "This document"},
		"GET " + JWKSPath:                       {Tag: "platform", Summary: "The dev issuer's signing keys (dev stack only)"},
		"GET /.well-known/openid-configuration": {Tag: "platform", Summary: "The dev issuer's discovery document (dev stack only)"},
	}
}

// checkSchema refuses to serve a database with pending migrations.
func (a *App) checkSchema(ctx context.Context) error {
	st, err := postgres.List(ctx, a.DB.Pool, Migrations())
	if err != nil {
		return err
	}
	for _, m := range st {
		if m.AppliedAt == nil {
			return CodeSchemaOutdated.New("database is missing migration %s %04d_%s; run `codexion migrate up` first", m.Source, m.Version, m.Name)
		}
	}
	return nil
}

// apiRoutes registers the platform's own API routes.
func (a *App) apiRoutes() {
	a.Router.HandleFunc("GET /v1/whoami", httpx.Roles(access.AllRoles...), func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFrom(r.Context())
		httpx.WriteJSON(w, http.StatusOK, p)
	})
	a.Router.HandleFunc("GET /v1/admin/config", httpx.Roles(access.RoleAdmin), func(w http.ResponseWriter, _ *http.Request) {
		cfg := a.Config
		out := map[string]string{}
		for _, f := range config.Fields(&cfg) {
			v := f.String()
			if f.Secret {
				v = config.RedactValue(v)
			}
			out[f.Path] = v
		}
		httpx.WriteJSON(w, http.StatusOK, out)
	})
}

// refuseAll guards routes when no issuer is configured: nobody can be authenticated.
func refuseAll(_ httpx.Access, _ http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteProblem(w, httpx.Problem{
			Type: httpx.ProblemTypeBase + "unauthenticated", Title: http.StatusText(http.StatusUnauthorized),
			Status: http.StatusUnauthorized, Code: platform.CodeUnauthenticated.Code, Instance: r.URL.Path,
			Detail: "no identity provider is configured (auth.issuer); this route cannot authenticate anyone",
		})
	})
}

// Start starts every part in order; on failure it stops what had started.
func (a *App) Start(ctx context.Context) error {
	return a.group.Start(ctx, a.Config.ShutdownTimeout)
}

// Stop stops every part in reverse order within the configured deadline.
func (a *App) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownTimeout)
	defer cancel()
	return a.group.Stop(ctx)
}

// Components lists the start order.
func (a *App) Components() []string { return a.group.Names() }

// Run starts the app, waits for ctx to end (a signal), and stops it.
func (a *App) Run(ctx context.Context) error {
	if err := a.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	a.Log.Info("stopping", "deadline", a.Config.ShutdownTimeout.String())
	began := time.Now()
	err := a.Stop()
	a.Log.Info("stopped", "took_ms", time.Since(began).Milliseconds())
	return err
}
