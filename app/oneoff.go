package app

import (
	"context"

	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/config"
	"github.com/codexion/codexion/platform/postgres"
)

// OpenDB connects to the configured database for a one-off command (migrate, events
// replay); the caller stops the pool.
func OpenDB(ctx context.Context, cfg config.Config) (*postgres.Pool, error) {
	if cfg.Database.URL == "" {
		return nil, platform.Invalid("database.url is required: set CODEXION_DATABASE_URL")
	}
	db, err := postgres.NewPool(cfg.Database.URL, 2)
	if err != nil {
		return nil, err
	}
	if err := db.Start(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}
