package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/codexion/codexion/platform"
)

// Validate checks every setting on its own terms. It does not require the
// dependencies to be set: a command that needs them calls RequireDependencies.
func (c *Config) Validate() error {
	var problems []string
	bad := func(key, format string, args ...any) {
		problems = append(problems, key+": "+fmt.Sprintf(format, args...))
	}
	for _, f := range Fields(c) {
		if len(f.OneOf) > 0 && !slices.Contains(f.OneOf, f.String()) {
			bad(f.Path, "%q is not allowed; use one of %s", f.String(), strings.Join(f.OneOf, ", "))
		}
	}
	checkAddr := func(key, addr string, optional bool) {
		if addr == "" && optional {
			return
		}
		if err := validHostPort(addr); err != nil {
			bad(key, "%q %v (write it as host:port, e.g. 127.0.0.1:8080)", addr, err)
		}
	}
	checkAddr("http.addr", c.HTTP.Addr, false)
	checkAddr("dev.kafka_addr", c.Dev.KafkaAddr, false)
	checkAddr("dev.temporal_addr", c.Dev.TemporalAddr, false)
	checkAddr("dev.s3_addr", c.Dev.S3Addr, false)
	checkAddr("temporal.address", c.Temporal.Address, true)
	checkAddr("s3.endpoint", c.S3.Endpoint, true)
	if c.Features.Online == "redis" && c.Features.RedisURL == "" {
		bad("features.redis_url", "is required when features.online is redis (e.g. redis://127.0.0.1:6379/0)")
	}
	for i, b := range c.Kafka.Brokers {
		checkAddr(fmt.Sprintf("kafka.brokers[%d]", i), b, false)
	}
	checkPort := func(key string, port int) {
		if port < 1 || port > 65535 {
			bad(key, "%d is not a port (1-65535)", port)
		}
	}
	checkPort("dev.postgres_port", c.Dev.PostgresPort)
	if c.Dev.TemporalUIPort != 0 {
		checkPort("dev.temporal_ui_port", c.Dev.TemporalUIPort)
	}

	positive := map[string]int64{
		"http.read_header_timeout": int64(c.HTTP.ReadHeaderTimeout),
		"http.read_timeout":        int64(c.HTTP.ReadTimeout),
		"http.write_timeout":       int64(c.HTTP.WriteTimeout),
		"http.idle_timeout":        int64(c.HTTP.IdleTimeout),
		"http.max_body_bytes":      c.HTTP.MaxBodyBytes,
		"database.max_conns":       int64(c.Database.MaxConns),
		"shutdown_timeout":         int64(c.ShutdownTimeout),
	}
	for _, key := range sortedKeys(positive) {
		if positive[key] <= 0 {
			bad(key, "must be greater than zero")
		}
	}
	if c.Database.URL != "" {
		u, err := url.Parse(c.Database.URL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			bad("database.url", "must be a URL like postgres://user:password@host:5432/dbname")
		}
	}
	for key, s := range map[string]string{"auth.issuer": c.Auth.Issuer, "auth.jwks_url": c.Auth.JWKSURL} {
		if s == "" {
			continue
		}
		if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(key, "%q must be an http or https URL", s)
		}
	}
	if c.Auth.RolesClaim == "" {
		bad("auth.roles_claim", "must name the claim that lists roles (default roles)")
	}
	if c.S3.Endpoint != "" && (c.S3.AccessKey == "" || c.S3.SecretKey == "") {
		bad("s3.access_key", "s3.endpoint is set, so s3.access_key and s3.secret_key are required")
	}
	if c.Temporal.TaskQueue == "" {
		bad("temporal.task_queue", "must not be empty")
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return platform.Invalid("invalid configuration: %s", strings.Join(problems, "; "))
	}
	return nil
}

// RequireDependencies checks that every external system the server talks to is named.
// The message says how to name each one, or to use `codexion dev` instead.
func (c *Config) RequireDependencies() error {
	var missing []string
	need := func(ok bool, key, env string) {
		if !ok {
			missing = append(missing, fmt.Sprintf("%s (set %s)", key, env))
		}
	}
	need(c.Database.URL != "", "database.url", "CODEXION_DATABASE_URL")
	need(len(c.Kafka.Brokers) > 0, "kafka.brokers", "CODEXION_KAFKA_BROKERS")
	need(c.Temporal.Address != "", "temporal.address", "CODEXION_TEMPORAL_ADDRESS")
	need(c.S3.Endpoint != "", "s3.endpoint", "CODEXION_S3_ENDPOINT")
	need(c.Auth.Issuer != "", "auth.issuer", "CODEXION_AUTH_ISSUER")
	// Without an audience, a token the issuer minted for any other application would do.
	need(c.Auth.Audience != "", "auth.audience", "CODEXION_AUTH_AUDIENCE")
	if len(missing) > 0 {
		return platform.Invalid("missing configuration: %s; or run `codexion dev` for the embedded stack",
			strings.Join(missing, ", "))
	}
	return nil
}

func validHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("is not host:port")
	}
	_ = host
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("has port %q, which is not 0-65535", port)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
