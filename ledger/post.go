package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/idempotency"
	"github.com/codexion/codexion/schemas"
)

// queueEvent writes one event of the aggregate key to the outbox in tx.
func (s *Store) queueEvent(ctx context.Context, tx pgx.Tx, book, key, typ string, payload any) error {
	var b pgx.Batch
	if err := s.outbox.Queue(ctx, &b, schemas.Outgoing{Type: typ, Key: key, Source: source(book), Payload: payload}); err != nil {
		return err
	}
	return tx.SendBatch(ctx, &b).Close()
}

// PostResult is the outcome of a post: the entry, and whether it is a replay of an
// earlier request with the same idempotency key.
type PostResult struct {
	Entry    *Entry
	Replayed bool
	body     []byte // the entry as its idempotency key stored it, when it has one
}

// Post validates and stores one entry in one transaction: the entry, its lines, the
// balances of its accounts, an outbox event and the idempotency key. key may be nil.
// The entry goes to the committer, which posts it in a group with whatever else is
// queued; a key that an earlier or concurrent request holds takes the ordinary path,
// which waits for it and replays.
func (s *Store) Post(ctx context.Context, in EntryInput, actor string, key *idempotency.Key) (PostResult, error) {
	p, err := parse(in)
	if err != nil {
		return PostResult{}, err
	}
	return s.postOne(ctx, p, postOptions{kind: "standard"}, actor, key, func() (PostResult, error) { return s.postInTx(ctx, p, actor, key) })
}

// postInTx is the ordinary path: claim the key (waiting for a concurrent holder), replay
// a stored response, or post.
func (s *Store) postInTx(ctx context.Context, p *parsedEntry, actor string, key *idempotency.Key) (PostResult, error) {
	var res PostResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		e, replayed, err := idempotency.Do(ctx, tx, key, 201, func() (*Entry, error) {
			return s.post(ctx, tx, p, actor, postOptions{kind: "standard"})
		})
		res = PostResult{Entry: e, Replayed: replayed}
		return err
	})
	return res, err
}

type postOptions struct {
	kind     string // standard, reversal, closing
	reverses *uuid.UUID
	// skipPeriodCheck lets the year-end close post into the period it is closing.
	skipPeriodCheck bool
}

// post writes one parsed entry inside tx.
func (s *Store) post(ctx context.Context, tx pgx.Tx, p *parsedEntry, actor string, opt postOptions) (*Entry, error) {
	out, errs, err := s.postMany(ctx, tx, []*parsedEntry{p}, actor, []postOptions{opt}, true)
	if err != nil {
		return nil, err
	}
	if errs[0] != nil {
		return nil, errs[0]
	}
	return out[0], nil
}

// ReverseInput optionally dates and describes a reversal.
type ReverseInput struct {
	PostingDate string `json:"posting_date,omitempty"` // default: the original's date
	Description string `json:"description,omitempty"`
}

// Reverse posts the mirror image of entry id, linked both ways. An entry is reversed at
// most once; a reversal cannot itself be reversed. The reversal goes to the committer,
// which locks the original and checks it again; a retry, or an entry that looks reversed
// already, takes the ordinary path, which replays or explains.
func (s *Store) Reverse(ctx context.Context, id string, in ReverseInput, actor string, key *idempotency.Key) (PostResult, error) {
	uid, err := uuid.Parse(id)
	if err != nil {
		return PostResult{}, platform.NotFound("entry %q does not exist", id)
	}
	orig, err := s.GetEntry(ctx, id)
	if err != nil {
		return PostResult{}, err
	}
	if orig.ReversedBy != "" || orig.Kind == "reversal" {
		return s.reverseInTx(ctx, uid, in, actor, key)
	}
	p, err := reversalOf(orig, in)
	if err != nil {
		return PostResult{}, err
	}
	return s.postOne(ctx, p, postOptions{kind: "reversal", reverses: &uid}, actor, key, func() (PostResult, error) { return s.reverseInTx(ctx, uid, in, actor, key) })
}

// reverseInTx is the ordinary path of a reversal: claim the key (waiting for a concurrent
// holder), replay a stored response, or lock the original and post its mirror image.
func (s *Store) reverseInTx(ctx context.Context, uid uuid.UUID, in ReverseInput, actor string, key *idempotency.Key) (PostResult, error) {
	var res PostResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		e, replayed, err := idempotency.Do(ctx, tx, key, 201, func() (*Entry, error) {
			orig, err := s.getEntry(ctx, tx, uid, true)
			if err != nil {
				return nil, err
			}
			if orig.Kind == "reversal" {
				return nil, CodeEntryIsReversal.New("entry %s is itself a reversal (of %s); post a new entry instead", orig.ID, orig.Reverses)
			}
			if orig.ReversedBy != "" {
				return nil, CodeEntryAlreadyReversed.New("entry %s was already reversed by %s", orig.ID, orig.ReversedBy)
			}
			p, err := reversalOf(orig, in)
			if err != nil {
				return nil, err
			}
			return s.post(ctx, tx, p, actor, postOptions{kind: "reversal", reverses: &uid})
		})
		res = PostResult{Entry: e, Replayed: replayed}
		return err
	})
	return res, err
}

// reversalOf is the parsed mirror image of orig: each line on the other side, dated as
// asked (default: the original's date, and never before it).
func reversalOf(orig *Entry, in ReverseInput) (*parsedEntry, error) {
	date := in.PostingDate
	if date == "" {
		date = orig.PostingDate
	}
	desc := in.Description
	if desc == "" {
		desc = "Reversal of " + orig.ID
		if orig.Description != "" {
			desc += ": " + orig.Description
		}
	}
	rin := EntryInput{Book: orig.Book, PostingDate: date, Journal: orig.Journal, Reference: orig.Reference, Description: desc}
	for _, l := range orig.Lines {
		li := LineInput{Account: l.Account, Currency: l.Currency, Memo: l.Memo, Dimensions: l.Dimensions}
		if l.Debit != "" {
			li.Credit = ptr(l.Debit)
		} else {
			li.Debit = ptr(l.Credit)
		}
		if l.Rate != "" {
			li.Rate = ptr(l.Rate)
		}
		rin.Lines = append(rin.Lines, li)
	}
	lim := inputLimits
	if orig.Kind == "closing" {
		lim = closingLimits
	}
	p, err := parseWith(rin, lim)
	if err != nil {
		return nil, err
	}
	if p.PostingDate < orig.PostingDate { // both YYYY-MM-DD, so text order is date order
		return nil, &platform.Error{Kind: CodeInvalidEntry.Kind, Code: CodeInvalidEntry.Code,
			Message: fmt.Sprintf("posting_date: %s is before %s, the date of entry %s; a reversal is dated on or after its original", p.PostingDate, orig.PostingDate, orig.ID),
			Fields:  []platform.FieldError{{Field: "posting_date", Message: "is before the original entry's date " + orig.PostingDate}}}
	}
	return p, nil
}

func ptr[T any](v T) *T { return &v }

// GetEntry returns one entry with its lines.
func (s *Store) GetEntry(ctx context.Context, id string) (*Entry, error) {
	uid, err := uuid.Parse(id)
	if err != nil {
		return nil, CodeEntryNotFound.New("entry %q does not exist (ids are UUIDs)", id)
	}
	var e *Entry
	err = pgx.BeginTxFunc(ctx, s.db, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		e, err = s.getEntry(ctx, tx, uid, false)
		return err
	})
	return e, err
}

func (s *Store) getEntry(ctx context.Context, tx pgx.Tx, id uuid.UUID, lock bool) (*Entry, error) {
	q := `SELECT e.id::text, b.code, b.base_currency, e.posting_date, e.journal, e.reference, e.description, e.metadata, e.kind,
		coalesce(e.reverses::text, ''), coalesce(e.reversed_by::text, ''), e.created_by, e.created_at
		FROM ledger_entries e JOIN ledger_books b ON b.id = e.book_id WHERE e.id = $1`
	if lock {
		q += ` FOR UPDATE OF e`
	}
	var (
		e       Entry
		bookCcy string
		date    time.Time
	)
	err := tx.QueryRow(ctx, q, id).Scan(&e.ID, &e.Book, &bookCcy, &date, &e.Journal, &e.Reference, &e.Description, &e.Metadata,
		&e.Kind, &e.Reverses, &e.ReversedBy, &e.CreatedBy, &e.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, CodeEntryNotFound.New("entry %s does not exist", id)
	}
	if err != nil {
		return nil, err
	}
	e.PostingDate = date.Format(DateLayout)
	rows, err := tx.Query(ctx, `SELECT l.line_no, a.code, l.currency, l.amount::text, l.rate::text, l.book_amount::text, l.memo, l.dimensions
		FROM ledger_lines l JOIN ledger_accounts a ON a.id = l.account_id WHERE l.entry_id = $1 ORDER BY l.line_no`, id)
	if err != nil {
		return nil, err
	}
	e.Lines, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Line, error) {
		var (
			l                    Line
			amount, rate, bookAm string
			dims                 map[string]string
		)
		if err := r.Scan(&l.LineNo, &l.Account, &l.Currency, &amount, &rate, &bookAm, &l.Memo, &dims); err != nil {
			return l, err
		}
		amt, err := readAmount(amount)
		if err != nil {
			return l, err
		}
		if amt.IsPositive() {
			l.Debit = FormatAmount(amt, l.Currency)
		} else {
			l.Credit = FormatAmount(amt.Neg(), l.Currency)
		}
		if l.Currency != bookCcy {
			r, err := readAmount(rate)
			if err != nil {
				return l, err
			}
			l.Rate = r.String()
		}
		l.BookAmount, err = formatText(bookAm, bookCcy)
		if err != nil {
			return l, err
		}
		if len(dims) > 0 {
			l.Dimensions = dims
		}
		return l, nil
	})
	if err != nil {
		return nil, err
	}
	return &e, nil
}
