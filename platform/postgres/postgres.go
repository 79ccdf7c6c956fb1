// Package postgres opens Codexion's PostgreSQL pool and applies the numbered SQL
// migrations that each domain embeds. It knows no domain tables.
package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/codexion/codexion/platform"
)

// Pool is the pgx pool as a lifecycle component.
type Pool struct {
	url      string
	maxConns int32
	*pgxpool.Pool
}

// NewPool returns a pool that connects when started.
func NewPool(url string, maxConns int32) *Pool {
	return &Pool{url: url, maxConns: maxConns}
}

func (p *Pool) Name() string { return "postgres" }

// Start connects and pings, so a wrong URL or a down server fails start.
func (p *Pool) Start(ctx context.Context) error {
	cfg, err := pgxpool.ParseConfig(p.url)
	if err != nil {
		return platform.Invalid("database.url: %v", err)
	}
	cfg.MaxConns = p.maxConns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return platform.Unavailable(err, "postgres at %s:%d does not answer", cfg.ConnConfig.Host, cfg.ConnConfig.Port)
	}
	p.Pool = pool
	return nil
}

func (p *Pool) Stop(context.Context) error {
	if p.Pool != nil {
		p.Close()
	}
	return nil
}

// Check is the readiness check: one round trip.
func (p *Pool) Check(ctx context.Context) error {
	if p.Pool == nil {
		return fmt.Errorf("not connected")
	}
	var one int
	return p.QueryRow(ctx, "SELECT 1").Scan(&one)
}
