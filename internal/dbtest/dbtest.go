// Package dbtest gives a test a migrated database on the project's test PostgreSQL.
package dbtest

import (
	"context"
	"testing"

	"github.com/codexion/codexion/platform/postgres"
	"github.com/codexion/codexion/platform/postgres/pgtest"
)

// Options change the database a test gets.
type Options struct {
	MaxConns int32 // the pool's size (default 4)
}

// Migrated creates a database for this test (pgtest.New), applies sources to it, and
// returns a started pool that is closed when the test ends.
func Migrated(t testing.TB, sources ...postgres.Source) *postgres.Pool {
	t.Helper()
	return New(t, Options{}, sources...)
}

// New is Migrated with options.
func New(t testing.TB, opts Options, sources ...postgres.Source) *postgres.Pool {
	t.Helper()
	if opts.MaxConns <= 0 {
		opts.MaxConns = 4
	}
	ctx := context.Background()
	pool, err := postgres.NewPool(pgtest.New(t), opts.MaxConns)
	if err != nil {
		t.Fatal(err)
	}
	if err := pool.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pool.Stop(ctx) })
	if _, err := postgres.Up(ctx, pool.Pool, sources); err != nil {
		t.Fatal(err)
	}
	return pool
}
