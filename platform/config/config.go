// Package config is Codexion's one typed configuration. Values come from, in rising
// precedence, defaults, codexion.yaml, CODEXION_* environment variables and command-line
// flags. Secrets may come from a file named by the variable with a _FILE suffix and are
// never printed. The package only reads and checks configuration; it never acts on it.
package config

import (
	"time"
)

// Config is every setting Codexion reads. The yaml tag is the key; the environment
// variable is CODEXION_ followed by the key path in upper case joined with '_'
// (http.addr -> CODEXION_HTTP_ADDR); the flag is --key.path (--http.addr).
type Config struct {
	Log       Log       `yaml:"log"`
	HTTP      HTTP      `yaml:"http"`
	Auth      Auth      `yaml:"auth"`
	Database  Database  `yaml:"database"`
	Kafka     Kafka     `yaml:"kafka"`
	Temporal  Temporal  `yaml:"temporal"`
	S3        S3        `yaml:"s3"`
	Telemetry Telemetry `yaml:"telemetry"`
	Features  Features  `yaml:"features"`
	Dev       Dev       `yaml:"dev"`
	// ShutdownTimeout bounds how long a stop may take before components are abandoned.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout" help:"deadline for a graceful stop"`
}

type Log struct {
	Level  string `yaml:"level" help:"least severe level that is logged" oneof:"debug,info,warn,error"`
	Format string `yaml:"format" help:"auto is text on a terminal and JSON otherwise" oneof:"auto,json,text"`
}

type HTTP struct {
	Addr              string        `yaml:"addr" help:"host:port the HTTP API listens on"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout" help:"time allowed to read request headers"`
	ReadTimeout       time.Duration `yaml:"read_timeout" help:"time allowed to read a whole request"`
	WriteTimeout      time.Duration `yaml:"write_timeout" help:"time allowed to write a response"`
	IdleTimeout       time.Duration `yaml:"idle_timeout" help:"keep-alive idle time"`
	MaxBodyBytes      int64         `yaml:"max_body_bytes" help:"largest request body accepted"`
}

type Auth struct {
	Issuer     string `yaml:"issuer" help:"OIDC issuer URL whose tokens are accepted"`
	JWKSURL    string `yaml:"jwks_url" help:"JWKS URL; discovered from the issuer when empty"`
	Audience   string `yaml:"audience" help:"aud claim every token must carry; required by serve (the dev stack sets its own)"`
	RolesClaim string `yaml:"roles_claim" help:"claim that lists the caller's roles"`
}

type Database struct {
	URL      string `yaml:"url" secret:"true" help:"PostgreSQL URL (postgres://user:pass@host:port/db)"`
	MaxConns int32  `yaml:"max_conns" help:"largest number of pooled connections"`
}

type Kafka struct {
	Brokers []string `yaml:"brokers" help:"comma-separated Kafka bootstrap brokers"`
}

type Temporal struct {
	Address   string `yaml:"address" help:"Temporal frontend host:port"`
	Namespace string `yaml:"namespace" help:"Temporal namespace"`
	TaskQueue string `yaml:"task_queue" help:"task queue the worker polls"`
}

type S3 struct {
	Endpoint  string `yaml:"endpoint" help:"S3 endpoint host:port"`
	AccessKey string `yaml:"access_key" help:"S3 access key id"`
	SecretKey string `yaml:"secret_key" secret:"true" help:"S3 secret access key"`
	Bucket    string `yaml:"bucket" help:"bucket for Codexion's objects"`
	Region    string `yaml:"region" help:"S3 region"`
	UseTLS    bool   `yaml:"use_tls" help:"use https to reach the endpoint"`
}

type Telemetry struct {
	ServiceName  string `yaml:"service_name" help:"service.name on traces"`
	OTLPEndpoint string `yaml:"otlp_endpoint" env:"OTEL_EXPORTER_OTLP_ENDPOINT" help:"OTLP/HTTP endpoint; traces are exported only when set"`
}

// Features configures the feature store. The offline store is one DuckDB file that only
// one process opens: the process that serves features also runs the pipelines.
type Features struct {
	OfflinePath  string        `yaml:"offline_path" help:"DuckDB file of the offline store"`
	Online       string        `yaml:"online" help:"online store: embedded (a bbolt file) or redis" oneof:"embedded,redis"`
	OnlinePath   string        `yaml:"online_path" help:"file of the embedded online store"`
	RedisURL     string        `yaml:"redis_url" secret:"true" help:"Redis URL of the online store when online is redis (redis://host:port/db)"`
	RunPipelines bool          `yaml:"run_pipelines" help:"keep a Temporal workflow running for every applied pipeline and a schedule for every view with materialize_every"`
	IngestRun    time.Duration `yaml:"ingest_run" help:"how long each ingest activity runs before it reports to its workflow"`
	Apply        string        `yaml:"apply" help:"folder of specs (pipelines, entities, views, services) applied at start; empty for none"`
	FileRoots    []string      `yaml:"file_roots" help:"comma-separated folders that file-source pipelines may read; none turns file sources off"`
}

// Dev configures the embedded stack that `codexion dev` starts.
type Dev struct {
	DataDir        string `yaml:"data_dir" help:"where the dev stack keeps its data"`
	PostgresPort   int    `yaml:"postgres_port" help:"port of the private PostgreSQL cluster"`
	KafkaAddr      string `yaml:"kafka_addr" help:"address of the embedded Kafka-protocol broker"`
	TemporalAddr   string `yaml:"temporal_addr" help:"address of the Temporal dev server"`
	TemporalUIPort int    `yaml:"temporal_ui_port" help:"port of the Temporal dev server's UI; 0 runs it headless"`
	S3Addr         string `yaml:"s3_addr" help:"address of the embedded S3-compatible server"`
	DemoBook       string `yaml:"demo_book" help:"book that a new dev stack fills with 90 simulated days; empty for none"`
	TemporalCLI    string `yaml:"temporal_cli" help:"path of an installed temporal CLI; default <data_dir>/bin/temporal, built when absent"`
}

// Default returns the configuration used when nothing else is set.
func Default() Config {
	return Config{
		Log: Log{Level: "info", Format: "auto"},
		HTTP: HTTP{
			Addr:              "127.0.0.1:8080",
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxBodyBytes:      4 << 20,
		},
		Auth:      Auth{RolesClaim: "roles"},
		Database:  Database{MaxConns: 16},
		Temporal:  Temporal{Namespace: "default", TaskQueue: "codexion"},
		S3:        S3{Bucket: "codexion", Region: "us-east-1"},
		Telemetry: Telemetry{ServiceName: "codexion"},
		Features: Features{OfflinePath: ".codexion/offline.duckdb", Online: "embedded", OnlinePath: ".codexion/online.db",
			RunPipelines: true, IngestRun: time.Minute},
		ShutdownTimeout: 20 * time.Second,
		Dev: Dev{
			DataDir:        ".codexion",
			PostgresPort:   55432,
			KafkaAddr:      "127.0.0.1:9092",
			TemporalAddr:   "127.0.0.1:7233",
			TemporalUIPort: 8233,
			S3Addr:         "127.0.0.1:9000",
			DemoBook:       "acme",
		},
	}
}
