// Package dbtest gives a test a migrated database on the project's test PostgreSQL.
package dbtest

import (
	"context"
	"testing"

	"github.com/codexion/codexion/platform/postgres"
	"github.com/codexion/codexion/platform/postgres/pgtest"
)

// Migrated creates a database for this test (pgtest.New), applies sources to it, and
// returns a started pool that is closed when the test ends.
func Migrated(t testing.TB, sources ...postgres.Source) *postgres.Pool {
	t.Helper()
	ctx := context.Background()
	pool, err := postgres.NewPool(pgtest.New(t), 4)
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
