package ledger

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/codexion/codexion/platform/idempotency"
)

// errSlowPath sends a post down the ordinary path.
var errSlowPath = errors.New("post needs the ordinary path")

// postOneTrip stores a single entry in one round trip when everything it needs to check
// in advance is cached: the book, its journals, the period row, the accounts. The batch
// opens the transaction, claims the idempotency key (a taken key fails the batch), takes the
// period and account locks shared, asserts in the database that the period is open and the
// accounts active, writes, saves the response and commits. Anything unusual (a cache miss,
// a foreign currency needing a rate lookup, a taken key, a closed period or account) returns
// errSlowPath and the caller uses the ordinary path, which waits, replays or explains.
func (s *Store) postOneTrip(ctx context.Context, p *parsedEntry, actor string, key *idempotency.Key) (PostResult, error) {
	b, ok := s.books.get(p.Book)
	if !ok || !b.Journals[p.Journal] {
		return PostResult{}, errSlowPath
	}
	per := period(p.date)
	if _, known := s.periods.get(periodKey(b.ID, per)); !known {
		return PostResult{}, errSlowPath
	}
	codes := p.accountCodes()
	accounts, ok := s.accounts.get(b.ID, codes)
	if !ok {
		return PostResult{}, errSlowPath
	}
	for _, l := range p.lines {
		ccy := l.Currency
		if ccy == "" {
			ccy = accounts[l.Account].Currency
		}
		if ccy != "" && ccy != b.Currency && l.rate == nil {
			return PostResult{}, errSlowPath // needs a rate from the database
		}
	}
	pst, err := newPosting(p, b.Currency, accounts, func(string) (Amount, bool) { return Amount{}, false })
	if err != nil {
		return PostResult{}, err // wrong whatever the database holds: amounts, scale, balance
	}
	ids := make([]int64, 0, len(accounts))
	for _, a := range accounts {
		ids = append(ids, a.ID)
	}

	var batch pgx.Batch
	batch.Queue("BEGIN")
	if key != nil {
		batch.Queue(`INSERT INTO codexion_idempotency (scope, key, request_hash, status, response) VALUES ($1, $2, $3, 0, 'null')`,
			key.Scope, key.Value, key.Hash[:])
	}
	batch.Queue(`SELECT ledger_lock_for_post($1, $2, $3, $4)`, b.ID, per, codes, ids)
	out := make([]*Entry, 1)
	now := time.Now().UTC().Truncate(time.Microsecond)
	_, events, err := queueWrites(&batch, []*posting{pst}, []bookRef{b}, []postOptions{{kind: "standard"}}, actor, now, out)
	if err != nil {
		return PostResult{}, err
	}
	if err := s.outbox.Queue(ctx, &batch, events...); err != nil {
		return PostResult{}, err
	}
	if key != nil {
		if err := idempotency.QueueSave(&batch, *key, 201, out[0]); err != nil {
			return PostResult{}, err
		}
	}
	batch.Queue("COMMIT")

	conn, err := s.db.Acquire(ctx)
	if err != nil {
		return PostResult{}, err
	}
	defer conn.Release()
	err = conn.SendBatch(ctx, &batch).Close()
	if err == nil {
		s.oneTrip.Add(1)
		return PostResult{Entry: out[0]}, nil
	}
	if conn.Conn().PgConn().TxStatus() != 'I' {
		if _, rbErr := conn.Exec(context.WithoutCancel(ctx), "ROLLBACK"); rbErr != nil {
			conn.Conn().PgConn().Close(context.WithoutCancel(ctx)) //nolint:errcheck // the pool drops it either way
		}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "CX001" || pe.Code == "CX002":
			return PostResult{}, errSlowPath
		case pe.Code == "23505" && pe.TableName == "codexion_idempotency":
			return PostResult{}, errSlowPath
		}
	}
	if rerr := ruleViolation(err, []*posting{pst}); rerr != nil {
		return PostResult{}, rerr
	}
	return PostResult{}, err
}
