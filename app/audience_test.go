package app

import (
	"context"
	"strings"
	"testing"

	"github.com/codexion/codexion/platform/config"
)

// An OIDC issuer mints tokens for many applications; serve checks that a token was minted
// for this one, so it will not start without knowing which audience that is.
func TestServeRefusesToStartWithoutATokenAudience(t *testing.T) {
	cfg := config.Default()
	cfg.Database.URL = "postgres://u:p@127.0.0.1:1/db"
	cfg.Kafka.Brokers = []string{"127.0.0.1:1"}
	cfg.Temporal.Address = "127.0.0.1:1"
	cfg.S3.Endpoint, cfg.S3.AccessKey, cfg.S3.SecretKey = "127.0.0.1:1", "a", "b"
	cfg.Auth.Issuer = "http://127.0.0.1:1"
	_, err := New(context.Background(), cfg, ModeServe, quietLog())
	if err == nil || !strings.Contains(err.Error(), "auth.audience (set CODEXION_AUTH_AUDIENCE)") {
		t.Fatalf("New without auth.audience = %v, want a refusal naming it", err)
	}
}
