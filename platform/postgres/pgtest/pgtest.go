// Package pgtest gives each test its own database on a real PostgreSQL server: the one
// named by CODEXION_TEST_DATABASE_URL, or else the project's private test cluster, which
// it starts with deploy/dev/postgres.sh (and leaves running for the next package).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/codexion/codexion/internal/testenv"
)

var (
	once     sync.Once
	adminURL string
	adminErr error
)

// AdminURL returns the URL of the server tests use, starting the test cluster if needed.
func AdminURL(t testing.TB) string {
	t.Helper()
	once.Do(func() { adminURL, adminErr = resolve() })
	if adminErr != nil {
		t.Fatalf("test postgres: %v", adminErr)
	}
	return adminURL
}

func resolve() (string, error) {
	if u := os.Getenv("CODEXION_TEST_DATABASE_URL"); u != "" {
		return u, nil
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		return "", err
	}
	// Tests run on a cluster without fsync or synchronous commit. Benchmarks ask for
	// PostgreSQL's default durability (CODEXION_BENCH_DURABLE=1, as make bench does), on a
	// cluster of their own.
	dir, fast := ".codexion/test-postgres", "CODEXION_PG_FAST=1"
	if os.Getenv("CODEXION_BENCH_DURABLE") == "1" {
		dir, fast = ".codexion/bench-postgres", "CODEXION_PG_FAST=0"
	}
	return testenv.Script("deploy/dev/postgres.sh", []string{"start"},
		"CODEXION_PG_DIR="+filepath.Join(root, dir), "CODEXION_PG_PORT=auto", fast)
}

// New creates an empty database for this test, drops it when the test ends, and
// returns its URL.
func New(t testing.TB) string {
	t.Helper()
	admin := AdminURL(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to test postgres: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
