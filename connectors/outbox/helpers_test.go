package outbox

import "github.com/jackc/pgx/v5"

type pgxBatch struct{ pgx.Batch }
