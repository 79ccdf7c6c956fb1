// Package postgres opens Codexion's PostgreSQL pool and applies the numbered SQL
// migrations that each domain embeds. It knows no domain tables.
package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"

	"github.com/codexion/codexion/platform"
)

// Pool is the pgx pool as a lifecycle component. The pool exists from construction (it
// connects lazily), so parts built before start can hold it; Start checks the server.
type Pool struct {
	host string
	port uint16
	*pgxpool.Pool
}

// NewPool parses url and builds the pool without connecting.
func NewPool(url string, maxConns int32) (*Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, platform.Invalid("database.url: %v", err)
	}
	cfg.MaxConns = maxConns
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		// A uuid.UUID is sent as its 16 bytes: without this, pgx encodes it through its
		// driver.Valuer, as text it parses back, a fifth of a large batch's Go time.
		m := c.TypeMap()
		m.TryWrapEncodePlanFuncs = append([]pgtype.TryWrapEncodePlanFunc{pgxuuid.TryWrapUUIDEncodePlan}, m.TryWrapEncodePlanFuncs...)
		return nil
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &Pool{host: cfg.ConnConfig.Host, port: cfg.ConnConfig.Port, Pool: pool}, nil
}

func (p *Pool) Name() string { return "postgres" }

// Start pings, so a wrong URL or a down server fails start.
func (p *Pool) Start(ctx context.Context) error {
	if err := p.Ping(ctx); err != nil {
		return platform.Unavailable(err, "postgres at %s:%d does not answer", p.host, p.port)
	}
	return nil
}

func (p *Pool) Stop(context.Context) error {
	p.Close()
	return nil
}

// Check is the readiness check: one round trip.
func (p *Pool) Check(ctx context.Context) error {
	var one int
	return p.QueryRow(ctx, "SELECT 1").Scan(&one)
}
