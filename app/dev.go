package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/codexion/codexion/app/devstack"
	"github.com/codexion/codexion/deploy/dev"
	"github.com/codexion/codexion/governance/access"
	"github.com/codexion/codexion/ledger/ledgerclient"
	"github.com/codexion/codexion/ledger/sim"
	"github.com/codexion/codexion/platform/apiclient"
	"github.com/codexion/codexion/platform/auth"
	"github.com/codexion/codexion/platform/config"
	"github.com/codexion/codexion/platform/lifecycle"
)

// Endpoints is what `codexion dev` writes to endpoints.json: where each part listens.
type Endpoints struct {
	HTTP           string     `json:"http"`
	Readyz         string     `json:"readyz"`
	Metrics        string     `json:"metrics"`
	Postgres       string     `json:"postgres"`
	Kafka          []string   `json:"kafka"`
	KafkaClusterID string     `json:"kafka_cluster_id,omitempty"`
	Temporal       string     `json:"temporal"`
	TemporalUI     string     `json:"temporal_ui,omitempty"`
	S3             S3Endpoint `json:"s3"`
	Issuer         string     `json:"issuer"`
	JWKS           string     `json:"jwks"`
	Tokens         string     `json:"tokens"`
	DataDir        string     `json:"data_dir"`
	OfflineStore   string     `json:"offline_store"`
	OnlineStore    string     `json:"online_store"`
}

// S3Endpoint names the object store and its dev credentials.
type S3Endpoint struct {
	Endpoint  string `json:"endpoint"`
	Bucket    string `json:"bucket"`
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
}

// Dev is the whole dev stack: the embedded services and the app on top of them.
type Dev struct {
	App       *App
	Endpoints Endpoints
	// Temporal is the embedded Temporal dev server, when this stack started one.
	Temporal  *devstack.TemporalServer
	stack     *lifecycle.Group
	stopAfter time.Duration
}

// Services are the embedded backing services a dev stack started: PostgreSQL, the
// Kafka-protocol broker, the S3 server and Temporal's dev server, each only when the
// config does not name a real one.
type Services struct {
	// Temporal is the embedded Temporal dev server, when one was started.
	Temporal       *devstack.TemporalServer
	KafkaClusterID string
	stack          *lifecycle.Group
	stopAfter      time.Duration
}

// Stop stops the services in reverse order.
func (s *Services) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.stopAfter)
	defer cancel()
	return s.stack.Stop(ctx)
}

// StartServices starts the embedded services that cfg does not point elsewhere and
// returns cfg pointing at them. Processes started with that config (codexion dev, serve,
// or several of them in turn) share the services.
func StartServices(ctx context.Context, cfg config.Config, log *slog.Logger) (*Services, config.Config, error) {
	dataDir, err := filepath.Abs(cfg.Dev.DataDir)
	if err != nil {
		return nil, cfg, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, cfg, fmt.Errorf("dev.data_dir %s: %w", dataDir, err)
	}
	scripts, err := dev.Install(filepath.Join(dataDir, "scripts"))
	if err != nil {
		return nil, cfg, err
	}

	// The embedded services, in start order. Each is skipped when the config names a
	// real one instead.
	stack := lifecycle.NewGroup(log)
	var (
		pg       *devstack.Postgres
		broker   *devstack.KafkaBroker
		objects  *devstack.ObjectServer
		temporal *devstack.TemporalServer
	)
	if cfg.Database.URL == "" {
		pg = &devstack.Postgres{Script: scripts["postgres.sh"], Dir: filepath.Join(dataDir, "postgres"), Port: cfg.Dev.PostgresPort}
		stack.Add(pg)
	}
	if len(cfg.Kafka.Brokers) == 0 {
		broker = &devstack.KafkaBroker{Addr: cfg.Dev.KafkaAddr}
		stack.Add(broker)
	}
	if cfg.S3.Endpoint == "" {
		objects = &devstack.ObjectServer{Addr: cfg.Dev.S3Addr, Dir: filepath.Join(dataDir, "objects")}
		stack.Add(objects)
	}
	if cfg.Temporal.Address == "" {
		temporal = &devstack.TemporalServer{
			Script: scripts["temporal.sh"], BinDir: filepath.Join(dataDir, "bin"), CLI: cfg.Dev.TemporalCLI, Dir: filepath.Join(dataDir, "temporal"),
			Addr: cfg.Dev.TemporalAddr, UIPort: cfg.Dev.TemporalUIPort, Log: log,
		}
		stack.Add(temporal)
	}
	if err := stack.Start(ctx, cfg.ShutdownTimeout); err != nil {
		return nil, cfg, err
	}
	svc := &Services{stack: stack, stopAfter: cfg.ShutdownTimeout, Temporal: temporal}
	if pg != nil {
		cfg.Database.URL = pg.URL()
	}
	if broker != nil {
		cfg.Kafka.Brokers = []string{broker.Addr}
		svc.KafkaClusterID = broker.ClusterID()
	}
	if objects != nil {
		cfg.S3.Endpoint, cfg.S3.AccessKey, cfg.S3.SecretKey, cfg.S3.UseTLS = objects.Addr, devstack.DevS3AccessKey, devstack.DevS3SecretKey, false
	}
	if temporal != nil {
		cfg.Temporal.Address = temporal.Addr
	}
	return svc, cfg, nil
}

// StartDev starts the embedded services that cfg does not point elsewhere, then the
// app on top of them, and writes tokens and endpoints under the data directory. If any
// part fails, everything already started is stopped before it returns.
func StartDev(ctx context.Context, cfg config.Config, log *slog.Logger) (*Dev, error) {
	svc, cfg, err := StartServices(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	dataDir, err := filepath.Abs(cfg.Dev.DataDir)
	if err != nil {
		return nil, err
	}
	d := &Dev{stack: svc.stack, stopAfter: cfg.ShutdownTimeout, Temporal: svc.Temporal}
	fail := func(err error) (*Dev, error) {
		_ = svc.Stop()
		return nil, err
	}

	ep := Endpoints{DataDir: dataDir, Tokens: filepath.Join(dataDir, "dev-tokens.json"), KafkaClusterID: svc.KafkaClusterID}
	if len(cfg.Features.FileRoots) == 0 {
		// File-source pipelines read from here, and from nowhere else under the data
		// directory (it holds credentials and signing keys).
		imports := filepath.Join(dataDir, "imports")
		if err := os.MkdirAll(imports, 0o755); err != nil {
			return fail(err)
		}
		cfg.Features.FileRoots = []string{imports}
	}
	if svc.Temporal != nil && svc.Temporal.UIPort != 0 {
		host, _, _ := strings.Cut(svc.Temporal.Addr, ":")
		ep.TemporalUI = fmt.Sprintf("http://%s:%d", host, svc.Temporal.UIPort)
	}

	var issuer *auth.DevIssuer
	if cfg.Auth.Issuer == "" {
		cfg.Auth.Issuer, cfg.Auth.Audience = "http://"+cfg.HTTP.Addr, auth.DevAudience
		issuer, err = auth.LoadOrCreateDevIssuer(cfg.Auth.Issuer, filepath.Join(dataDir, "dev", "issuer-key.json"))
		if err != nil {
			return fail(err)
		}
		tokens, err := issuer.TokensByRole(access.AllRoles)
		if err != nil {
			return fail(err)
		}
		if err := writeJSON(ep.Tokens, tokens); err != nil {
			return fail(err)
		}
	}

	if def := config.Default().Features; cfg.Features.OfflinePath == def.OfflinePath {
		cfg.Features.OfflinePath = filepath.Join(dataDir, "offline.duckdb")
	}
	if def := config.Default().Features; cfg.Features.OnlinePath == def.OnlinePath {
		cfg.Features.OnlinePath = filepath.Join(dataDir, "online.db")
	}
	ep.OfflineStore, ep.OnlineStore = cfg.Features.OfflinePath, cfg.Features.OnlinePath

	a, err := New(ctx, cfg, ModeDev, log, func(a *App) {
		if issuer != nil {
			issuer.Routes(a.Router, JWKSPath)
		}
	})
	if err != nil {
		return fail(err)
	}
	if err := a.Start(ctx); err != nil {
		return fail(err)
	}
	d.App = a

	base := "http://" + a.Server.Addr()
	if issuer != nil && cfg.Dev.DemoBook != "" {
		if err := seedDemo(ctx, base, issuer, cfg.Dev.DemoBook, log); err != nil {
			_ = d.Stop()
			return nil, fmt.Errorf("demo book %s: %w", cfg.Dev.DemoBook, err)
		}
	}
	if cfg.Dev.DemoBook != "" {
		if err := a.trainDemo(ctx, log); err != nil {
			// The stack is usable without the model; say why it is missing.
			log.Warn("demo model not trained", "model", DemoModel, "error", err)
		}
	}
	ep.HTTP, ep.Readyz, ep.Metrics = base, base+"/readyz?verbose", base+"/metrics"
	ep.Postgres = cfg.Database.URL
	ep.Kafka = cfg.Kafka.Brokers
	ep.Temporal = cfg.Temporal.Address
	ep.S3 = S3Endpoint{Endpoint: cfg.S3.Endpoint, Bucket: cfg.S3.Bucket, AccessKey: cfg.S3.AccessKey, SecretKey: cfg.S3.SecretKey}
	ep.Issuer = cfg.Auth.Issuer
	ep.JWKS = cfg.Auth.Issuer + JWKSPath
	d.Endpoints = ep
	if err := writeJSON(filepath.Join(dataDir, "endpoints.json"), ep); err != nil {
		_ = d.Stop()
		return nil, err
	}
	return d, nil
}

// DemoAnomaliesPerDay is the demo book's rate of labelled anomalies: enough (about 45 in
// 90 days) for the entry-risk model's metrics to mean something.
const DemoAnomaliesPerDay = 0.5

// seedDemo gives a new dev stack something to look at: when the demo book does not exist
// yet, it creates it from the sme chart and posts 90 simulated days through the API.
func seedDemo(ctx context.Context, base string, issuer *auth.DevIssuer, book string, log *slog.Logger) error {
	admin, err := issuer.Mint("dev-demo", []string{access.RoleAdmin}, time.Hour)
	if err != nil {
		return err
	}
	cl := ledgerclient.New(apiclient.New(base, admin))
	exists, err := cl.BookExists(ctx, book)
	if err != nil || exists {
		return err
	}
	began := time.Now()
	if _, err := cl.InitBook(ctx, book, "Acme Ltd", "EUR", "sme"); err != nil {
		return err
	}
	entries, err := sim.Generate(sim.Options{Book: book, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Days: 90, Seed: 1,
		AnomaliesPerDay: DemoAnomaliesPerDay})
	if err != nil {
		return err
	}
	res, err := sim.Post(ctx, cl.Client, entries)
	if err != nil {
		return err
	}
	log.Info("demo book ready", "book", book, "entries", res.Posted, "anomalies", res.Anomalies, "took_ms", time.Since(began).Milliseconds())
	return nil
}

// Stop stops the app, then the embedded services, each in reverse start order.
func (d *Dev) Stop() error {
	var appErr error
	if d.App != nil {
		appErr = d.App.Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.stopAfter)
	defer cancel()
	if err := d.stack.Stop(ctx); err != nil {
		return err
	}
	return appErr
}

// PrintEndpoints writes a table of where everything listens.
func (d *Dev) PrintEndpoints(w io.Writer) {
	ep := d.Endpoints
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Codexion dev stack is up.")
	fmt.Fprintf(tw, "  HTTP API\t%s\n", ep.HTTP)
	fmt.Fprintf(tw, "  readiness\t%s\n", ep.Readyz)
	fmt.Fprintf(tw, "  metrics\t%s\n", ep.Metrics)
	fmt.Fprintf(tw, "  PostgreSQL\t%s\n", config.RedactValue(ep.Postgres))
	fmt.Fprintf(tw, "  Kafka\t%s\n", strings.Join(ep.Kafka, ","))
	fmt.Fprintf(tw, "  Temporal\t%s\n", ep.Temporal)
	if ep.TemporalUI != "" {
		fmt.Fprintf(tw, "  Temporal UI\t%s\n", ep.TemporalUI)
	}
	fmt.Fprintf(tw, "  S3\thttp://%s (bucket %s)\n", ep.S3.Endpoint, ep.S3.Bucket)
	fmt.Fprintf(tw, "  OIDC issuer\t%s\n", ep.Issuer)
	fmt.Fprintf(tw, "  tokens\t%s (one per role)\n", ep.Tokens)
	fmt.Fprintf(tw, "  endpoints\t%s (with credentials)\n", filepath.Join(ep.DataDir, "endpoints.json"))
	fmt.Fprintln(tw, "Press Ctrl-C to stop.")
	_ = tw.Flush()
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
