package ledger

import (
	"context"
	"embed"
	"errors"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/postgres"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations is the ledger's migration source.
func Migrations() postgres.Source { return postgres.Embedded("ledger", migrations) }

// maxTxAttempts bounds retries of a transaction that hit a deadlock or a serialization
// failure; past it the client gets 503 with a retry hint, never a 500.
const maxTxAttempts = 8

// Store is the ledger's PostgreSQL storage.
type Store struct {
	db     *pgxpool.Pool
	outbox Outbox

	books    *bounded[string, bookRef]  // by code; books are never renamed or deleted
	periods  *bounded[string, struct{}] // periodKey: period rows known to exist
	accounts accountCache
	group    *committer
}

type bookRef struct {
	ID               int64
	Code             string
	Currency         string
	RetainedEarnings string
	Journals         map[string]bool // journals are fixed when the book is created
}

// NewStore returns a store over db that writes its events to out.
func NewStore(db *pgxpool.Pool, out Outbox) *Store {
	s := &Store{db: db, outbox: out, books: newBounded[string, bookRef](maxCachedBooks),
		periods: newBounded[string, struct{}](maxCachedPeriods), accounts: newAccountCache()}
	s.group = newCommitter(s)
	return s
}

// inTx runs fn in a transaction, retrying it on deadlocks and serialization failures
// with jittered backoff. fn must be safe to run again from the start.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return withRetries(ctx, func() error { return pgx.BeginFunc(ctx, s.db, fn) })
}

// withRetries runs attempt, and again after a jittered backoff while it fails with a
// deadlock or a serialization failure, at most maxTxAttempts times; past that the client
// gets 503 with a retry hint, never a 500.
func withRetries(ctx context.Context, attempt func() error) error {
	var err error
	for n := 1; n <= maxTxAttempts; n++ {
		err = attempt()
		if !retryable(err) {
			return err
		}
		backoff := time.Duration(1<<min(n, 6)) * time.Millisecond
		select {
		case <-time.After(backoff/2 + rand.N(backoff)):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return platform.Unavailable(err, "the ledger is busy (%d attempts hit lock conflicts); retry the request with the same Idempotency-Key", maxTxAttempts)
}

// rollbackIfOpen ends a transaction that a failed pipelined batch left open on conn, or
// closes the connection, which the pool then drops.
func rollbackIfOpen(ctx context.Context, conn *pgxpool.Conn) {
	if conn.Conn().PgConn().TxStatus() == 'I' {
		return
	}
	if _, err := conn.Exec(context.WithoutCancel(ctx), "ROLLBACK"); err != nil {
		conn.Conn().PgConn().Close(context.WithoutCancel(ctx)) //nolint:errcheck // the pool drops it either way
	}
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.Is(err, errRowAppeared) || errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// errRowAppeared: a balance row that did not exist when many entries locked their rows was
// created by a concurrent post before they wrote, so the rule checked in Go did not see it.
// The transaction runs again and locks the row this time.
var errRowAppeared = errors.New("a balance row was created concurrently")

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// book resolves a book code, from cache when known.
func (s *Store) book(ctx context.Context, q querier, code string) (bookRef, error) {
	b, ok := s.books.get(code)
	if ok {
		return b, nil
	}
	var re *string
	err := q.QueryRow(ctx, `SELECT id, code, base_currency, retained_earnings_account FROM ledger_books WHERE code = $1`, code).
		Scan(&b.ID, &b.Code, &b.Currency, &re)
	if errors.Is(err, pgx.ErrNoRows) {
		return bookRef{}, CodeBookNotFound.New("book %q does not exist", code)
	}
	if err != nil {
		return bookRef{}, err
	}
	if re != nil {
		b.RetainedEarnings = *re
	}
	rows, err := q.Query(ctx, `SELECT code FROM ledger_journals WHERE book_id = $1`, b.ID)
	if err != nil {
		return bookRef{}, err
	}
	codes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return bookRef{}, err
	}
	b.Journals = map[string]bool{}
	for _, c := range codes {
		b.Journals[c] = true
	}
	s.books.put(code, b)
	return b, nil
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Page bounds a list.
type Page struct {
	Cursor string
	Limit  int
}

// Bounds of list pages.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

func (p Page) limit() int {
	switch {
	case p.Limit <= 0:
		return DefaultPageSize
	case p.Limit > MaxPageSize:
		return MaxPageSize
	}
	return p.Limit
}

// ListBooks lists books by code after the cursor.
func (s *Store) ListBooks(ctx context.Context, p Page) ([]Book, string, error) {
	rows, err := s.db.Query(ctx, `SELECT code, name, base_currency, coalesce(retained_earnings_account, ''), created_at
		FROM ledger_books WHERE code > $1 ORDER BY code LIMIT $2`, p.Cursor, p.limit()+1)
	if err != nil {
		return nil, "", err
	}
	books, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Book, error) {
		var b Book
		err := r.Scan(&b.Code, &b.Name, &b.BaseCurrency, &b.RetainedEarningsAccount, &b.CreatedAt)
		return b, err
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(books) > p.limit() {
		books = books[:p.limit()]
		next = books[len(books)-1].Code
	}
	return books, next, nil
}

func validType(t AccountType) bool {
	for _, x := range AccountTypes {
		if x == t {
			return true
		}
	}
	return false
}

// ListAccounts lists a book's accounts by code after the cursor.
func (s *Store) ListAccounts(ctx context.Context, book string, p Page) ([]Account, string, error) {
	b, err := s.book(ctx, s.db, book)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.db.Query(ctx, `SELECT a.code, a.name, a.type, coalesce(p.code, ''), coalesce(a.currency, ''), a.status, a.balance_rule, a.created_at
		FROM ledger_accounts a LEFT JOIN ledger_accounts p ON p.id = a.parent_id
		WHERE a.book_id = $1 AND a.code > $2 ORDER BY a.code LIMIT $3`, b.ID, p.Cursor, p.limit()+1)
	if err != nil {
		return nil, "", err
	}
	accs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Account, error) {
		a := Account{Book: book}
		err := r.Scan(&a.Code, &a.Name, &a.Type, &a.Parent, &a.Currency, &a.Status, &a.BalanceRule, &a.CreatedAt)
		return a, err
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(accs) > p.limit() {
		accs = accs[:p.limit()]
		next = accs[len(accs)-1].Code
	}
	return accs, next, nil
}

// GetAccount returns an account with its balances as of asOf (today when zero) and the
// roll-up over its subtree in the book currency.
func (s *Store) GetAccount(ctx context.Context, book, code string, asOf time.Time) (*Account, error) {
	b, err := s.book(ctx, s.db, book)
	if err != nil {
		return nil, err
	}
	a := Account{Book: book}
	var id int64
	err = s.db.QueryRow(ctx, `SELECT a.id, a.code, a.name, a.type, coalesce(p.code, ''), coalesce(a.currency, ''), a.status, a.balance_rule, a.created_at
		FROM ledger_accounts a LEFT JOIN ledger_accounts p ON p.id = a.parent_id WHERE a.book_id = $1 AND a.code = $2`, b.ID, code).
		Scan(&id, &a.Code, &a.Name, &a.Type, &a.Parent, &a.Currency, &a.Status, &a.BalanceRule, &a.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, CodeAccountNotFound.New("account %s does not exist in book %s", code, book)
	}
	if err != nil {
		return nil, err
	}
	var rows pgx.Rows
	if asOf.IsZero() {
		rows, err = s.db.Query(ctx, `SELECT currency, debit::text, credit::text, (debit - credit)::text, (book_debit - book_credit)::text
			FROM ledger_balances WHERE account_id = $1 ORDER BY currency`, id)
	} else {
		rows, err = s.db.Query(ctx, `SELECT currency, sum(greatest(amount, 0))::text, sum(greatest(-amount, 0))::text, sum(amount)::text, sum(book_amount)::text
			FROM ledger_lines WHERE account_id = $1 AND posting_date <= $2 GROUP BY currency ORDER BY currency`, id, asOf)
	}
	if err != nil {
		return nil, err
	}
	a.Balances, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Balance, error) {
		var bal Balance
		err := r.Scan(&bal.Currency, &bal.Debit, &bal.Credit, &bal.Balance, &bal.BookBalance)
		return bal, err
	})
	if err != nil {
		return nil, err
	}
	for i := range a.Balances {
		if err := fixBalance(&a.Balances[i], a.Balances[i].Currency, b.Currency); err != nil {
			return nil, err
		}
		if !asOf.IsZero() {
			a.Balances[i].AsOf = asOf.Format(DateLayout)
		}
	}
	var dateFilter any
	if !asOf.IsZero() {
		dateFilter = asOf
	}
	roll := Balance{Currency: b.Currency}
	err = s.db.QueryRow(ctx, `WITH RECURSIVE tree AS (
			SELECT id FROM ledger_accounts WHERE id = $1
			UNION ALL SELECT c.id FROM ledger_accounts c JOIN tree t ON c.parent_id = t.id)
		SELECT coalesce(sum(greatest(l.book_amount, 0)), 0)::text, coalesce(sum(greatest(-l.book_amount, 0)), 0)::text, coalesce(sum(l.book_amount), 0)::text
		FROM ledger_lines l WHERE l.account_id IN (SELECT id FROM tree) AND ($2::date IS NULL OR l.posting_date <= $2::date)`, id, dateFilter).
		Scan(&roll.Debit, &roll.Credit, &roll.Balance)
	if err != nil {
		return nil, err
	}
	roll.BookBalance = roll.Balance
	if err := fixBalance(&roll, b.Currency, b.Currency); err != nil {
		return nil, err
	}
	a.Rollup = &roll
	return &a, nil
}

// fixBalance renders a balance's amounts with the currency's minor units.
func fixBalance(b *Balance, ccy, bookCcy string) error {
	var err error
	for _, p := range []*string{&b.Debit, &b.Credit, &b.Balance} {
		if *p, err = formatText(*p, ccy); err != nil {
			return err
		}
	}
	b.BookBalance, err = formatText(b.BookBalance, bookCcy)
	return err
}

// formatText renders a decimal the database computed with the currency's minor units.
func formatText(s, ccy string) (string, error) {
	d, err := readAmount(s)
	if err != nil {
		return "", err
	}
	return FormatAmount(d, ccy), nil
}

// readAmounts3 reads three stored decimals.
func readAmounts3(a, b, c string) (x, y, z Amount, err error) {
	if x, err = readAmount(a); err != nil {
		return
	}
	if y, err = readAmount(b); err != nil {
		return
	}
	z, err = readAmount(c)
	return
}

// CloseAccount stops postings to an account. It waits for posts in flight (they hold the
// account's lock shared) and refuses an account whose balance is not zero, since a closed
// account with money in it would hide that money from new entries.
func (s *Store) CloseAccount(ctx context.Context, book, code string) (*Account, error) {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		b, err := s.book(ctx, tx, book)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(ledger_account_lock_key($1, $2))`, b.ID, code); err != nil {
			return err
		}
		var (
			id     int64
			status string
		)
		err = tx.QueryRow(ctx, `SELECT id, status FROM ledger_accounts WHERE book_id = $1 AND code = $2 FOR UPDATE`, b.ID, code).Scan(&id, &status)
		if errors.Is(err, pgx.ErrNoRows) {
			return CodeAccountNotFound.New("account %s does not exist in book %s", code, book)
		}
		if err != nil {
			return err
		}
		if status == "closed" {
			return CodeAccountClosed.New("account %s is already closed", code)
		}
		if code == b.RetainedEarnings {
			return CodeAccountInUse.New("account %s is book %s's retained earnings account, where the year-end close posts; it stays open", code, book)
		}
		var nonZero []string
		rows, err := tx.Query(ctx, `SELECT currency || ' ' || (debit - credit)::text FROM ledger_balances WHERE account_id = $1 AND debit <> credit ORDER BY currency`, id)
		if err != nil {
			return err
		}
		if nonZero, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		if len(nonZero) > 0 {
			return CodeAccountNotEmpty.New("account %s still has a balance (%s); post entries that bring it to zero before closing it", code, strings.Join(nonZero, ", "))
		}
		if _, err := tx.Exec(ctx, `UPDATE ledger_accounts SET status = 'closed' WHERE id = $1`, id); err != nil {
			return err
		}
		err = s.queueEvent(ctx, tx, book, book+"/"+code, EventAccountClosed, map[string]string{"book": book, "code": code, "status": "closed"})
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.GetAccount(ctx, book, code, time.Time{})
}
