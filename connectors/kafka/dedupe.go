package kafka

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresDedupe records processed event ids in codexion_consumed, in the same transaction
// as the handler's work (the handler reaches it with TxFrom).
type PostgresDedupe struct{ DB *pgxpool.Pool }

type txKey struct{}

// TxFrom returns the transaction a PostgresDedupe runs the handler in.
func TxFrom(ctx context.Context) (pgx.Tx, bool) {
	tx, ok := ctx.Value(txKey{}).(pgx.Tx)
	return tx, ok
}

// Once implements Deduper.
func (d PostgresDedupe) Once(ctx context.Context, consumer, id string, fn func(ctx context.Context) error) (bool, error) {
	applied := false
	err := pgx.BeginFunc(ctx, d.DB, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO codexion_consumed (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, consumer, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return nil // seen before: skip
		}
		applied = true
		return fn(context.WithValue(ctx, txKey{}, tx))
	})
	if err != nil {
		applied = false
	}
	return applied, err
}
