package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/codexion/codexion/connectors/outbox"
	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/idempotency"
)

// Event types the ledger writes to the outbox.
const (
	EventEntryPosted    = "codexion.ledger.entry.posted.v1"
	EventEntryReversed  = "codexion.ledger.entry.reversed.v1"
	EventPeriodClosed   = "codexion.ledger.period.closed.v1"
	EventPeriodReopened = "codexion.ledger.period.reopened.v1"
	EventAccountCreated = "codexion.ledger.account.created.v1"
	EventBookCreated    = "codexion.ledger.book.created.v1"
)

func source(book string) string { return "codexion/ledger/" + book }

// queueEvent writes one outbox row in tx.
func queueEvent(ctx context.Context, tx pgx.Tx, book, aggType, aggID, typ string, payload any) (uuid.UUID, error) {
	var b pgx.Batch
	id, err := outbox.Queue(ctx, &b, outbox.Event{AggregateType: aggType, AggregateID: aggID, Type: typ, Source: source(book), Payload: payload})
	if err != nil {
		return uuid.Nil, err
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return uuid.Nil, err
	}
	return id, nil
}

// PostResult is the outcome of a post: the entry, and whether it is a replay of an
// earlier request with the same idempotency key.
type PostResult struct {
	Entry    *Entry
	Replayed bool
}

// Post validates and stores one entry in one transaction: the entry, its lines, the
// balances of its accounts, an outbox event and the idempotency key. key may be nil.
func (s *Store) Post(ctx context.Context, in EntryInput, actor string, key *idempotency.Key) (PostResult, error) {
	p, err := parse(in)
	if err != nil {
		return PostResult{}, err
	}
	var res PostResult
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if key != nil {
			stored, err := idempotency.Claim(ctx, tx, *key)
			if err != nil {
				return err
			}
			if stored != nil {
				var e Entry
				if err := json.Unmarshal(stored.Response, &e); err != nil {
					return fmt.Errorf("stored idempotent response: %w", err)
				}
				res = PostResult{Entry: &e, Replayed: true}
				return nil
			}
		}
		e, err := s.post(ctx, tx, p, actor, postOptions{kind: "standard"})
		if err != nil {
			return err
		}
		if key != nil {
			if err := idempotency.Save(ctx, tx, *key, 201, e); err != nil {
				return err
			}
		}
		res = PostResult{Entry: e}
		return nil
	})
	return res, err
}

type postOptions struct {
	kind     string // standard, reversal, closing
	reverses *uuid.UUID
	// skipPeriodCheck lets the year-end close post into the period it is closing.
	skipPeriodCheck bool
}

// post writes a parsed entry inside tx. Locks are taken in one order everywhere — the
// period row, then account rows by id, then balance rows by (account, currency) — so
// concurrent posts queue on hot accounts instead of deadlocking.
func (s *Store) post(ctx context.Context, tx pgx.Tx, p *parsedEntry, actor string, opt postOptions) (*Entry, error) {
	b, err := s.book(ctx, tx, p.Book)
	if err != nil {
		if platform.KindOf(err) == platform.KindNotFound {
			return nil, &platform.Error{Kind: platform.KindInvalid, Code: "invalid_entry", Message: "book: " + err.Error(),
				Fields: []platform.FieldError{{Field: "book", Message: err.Error()}}}
		}
		return nil, err
	}
	per := period(p.date)

	// One round trip for everything the checks read, locking what the writes depend on.
	var reads pgx.Batch
	reads.Queue(`INSERT INTO ledger_periods (book_id, period) VALUES ($1, $2) ON CONFLICT DO NOTHING`, b.ID, per)
	reads.Queue(`SELECT status FROM ledger_periods WHERE book_id = $1 AND period = $2 FOR SHARE`, b.ID, per)
	reads.Queue(`SELECT id, code, type, coalesce(currency, ''), status, balance_rule FROM ledger_accounts
		WHERE book_id = $1 AND code = ANY($2) ORDER BY id FOR SHARE`, b.ID, p.accountCodes())
	reads.Queue(`SELECT DISTINCT ON (currency) currency, rate::text FROM ledger_rates
		WHERE book_id = $1 AND effective_date <= $2 ORDER BY currency, effective_date DESC`, b.ID, p.date)
	reads.Queue(`SELECT 1 FROM ledger_journals WHERE book_id = $1 AND code = $2`, b.ID, p.Journal)
	br := tx.SendBatch(ctx, &reads)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return nil, err
	}
	var status string
	if err := br.QueryRow().Scan(&status); err != nil {
		br.Close()
		return nil, err
	}
	accounts := map[string]accountRef{}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, err
	}
	for rows.Next() {
		var a accountRef
		if err := rows.Scan(&a.ID, &a.Code, &a.Type, &a.Currency, &a.Status, &a.Rule); err != nil {
			rows.Close()
			br.Close()
			return nil, err
		}
		accounts[a.Code] = a
	}
	rows.Close()
	rates := map[string]Amount{}
	rows, err = br.Query()
	if err != nil {
		br.Close()
		return nil, err
	}
	for rows.Next() {
		var ccy, rate string
		if err := rows.Scan(&ccy, &rate); err != nil {
			rows.Close()
			br.Close()
			return nil, err
		}
		rates[ccy], _ = ParseAmount(rate)
	}
	rows.Close()
	var one int
	journalErr := br.QueryRow().Scan(&one)
	if err := br.Close(); err != nil {
		return nil, err
	}

	var v validationError
	if errors.Is(journalErr, pgx.ErrNoRows) {
		v.add("journal", "journal %q does not exist in book %s (general, sales, purchases and bank always do)", p.Journal, p.Book)
	} else if journalErr != nil {
		return nil, journalErr
	}
	if status == "closed" && !opt.skipPeriodCheck {
		v.add("posting_date", "period %s of book %s is closed; post in an open period or reopen it", per, p.Book)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	pst, err := newPosting(p, b.Currency, accounts, func(ccy string) (Amount, bool) {
		r, ok := rates[ccy]
		return r, ok
	})
	if err != nil {
		return nil, err
	}
	return s.write(ctx, tx, b, pst, actor, opt)
}

// balanceDelta is one balance row's change.
type balanceDelta struct {
	accountID                            int64
	currency                             string
	debit, credit, bookDebit, bookCredit Amount
	lines                                int64
	code                                 string
	rule                                 BalanceRule
}

func (s *Store) write(ctx context.Context, tx pgx.Tx, b bookRef, pst *posting, actor string, opt postOptions) (*Entry, error) {
	id := outbox.NewID()
	p := pst.in
	meta := []byte(p.Metadata)
	if len(meta) == 0 || string(meta) == "null" {
		meta = []byte("{}")
	}

	// Balance changes, one per (account, currency), in lock order.
	deltas := map[[2]any]*balanceDelta{}
	for _, l := range pst.lines {
		k := [2]any{l.Account.ID, l.Currency}
		d := deltas[k]
		if d == nil {
			d = &balanceDelta{accountID: l.Account.ID, currency: l.Currency, code: l.Account.Code, rule: l.Account.Rule}
			deltas[k] = d
		}
		if l.Amount.IsPositive() {
			d.debit, d.bookDebit = d.debit.Add(l.Amount), d.bookDebit.Add(l.BookAmount)
		} else {
			d.credit, d.bookCredit = d.credit.Sub(l.Amount), d.bookCredit.Sub(l.BookAmount)
		}
		d.lines++
	}
	ordered := make([]*balanceDelta, 0, len(deltas))
	for _, d := range deltas {
		ordered = append(ordered, d)
	}
	slices.SortFunc(ordered, func(x, y *balanceDelta) int {
		if x.accountID != y.accountID {
			return int(x.accountID - y.accountID)
		}
		return compareStrings(x.currency, y.currency)
	})

	n := len(pst.lines)
	lineNo, accIDs := make([]int32, n), make([]int64, n)
	ccys, amounts, rates, bookAmts, memos, dims := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, l := range pst.lines {
		lineNo[i], accIDs[i], ccys[i] = int32(l.LineNo), l.Account.ID, l.Currency
		amounts[i], rates[i], bookAmts[i], memos[i] = l.Amount.String(), l.Rate.String(), l.BookAmount.String(), l.Memo
		dj, _ := json.Marshal(l.Dimensions)
		if l.Dimensions == nil {
			dj = []byte("{}")
		}
		dims[i] = string(dj)
	}
	balAcc, balCcy := make([]int64, len(ordered)), make([]string, len(ordered))
	balD, balC, balBD, balBC, balN := make([]string, len(ordered)), make([]string, len(ordered)), make([]string, len(ordered)), make([]string, len(ordered)), make([]int64, len(ordered))
	for i, d := range ordered {
		balAcc[i], balCcy[i], balN[i] = d.accountID, d.currency, d.lines
		balD[i], balC[i], balBD[i], balBC[i] = d.debit.String(), d.credit.String(), d.bookDebit.String(), d.bookCredit.String()
	}

	e := &Entry{
		ID: id.String(), Book: p.Book, PostingDate: p.date.Format(DateLayout), Journal: p.Journal,
		Reference: p.Reference, Description: p.Description, Metadata: json.RawMessage(meta),
		Kind: opt.kind, CreatedBy: actor,
	}
	if opt.reverses != nil {
		e.Reverses = opt.reverses.String()
	}
	for _, l := range pst.lines {
		line := Line{LineNo: l.LineNo, Account: l.Account.Code, Currency: l.Currency,
			BookAmount: FormatAmount(l.BookAmount, b.Currency), Memo: l.Memo, Dimensions: l.Dimensions}
		if l.Amount.IsPositive() {
			line.Debit = FormatAmount(l.Amount, l.Currency)
		} else {
			line.Credit = FormatAmount(l.Amount.Neg(), l.Currency)
		}
		if l.Currency != b.Currency {
			line.Rate = l.Rate.String()
		}
		e.Lines = append(e.Lines, line)
	}

	var w pgx.Batch
	w.Queue(`INSERT INTO ledger_entries (id, book_id, posting_date, journal, reference, description, metadata, reverses, kind, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING created_at`,
		id, b.ID, p.date, p.Journal, p.Reference, p.Description, meta, opt.reverses, opt.kind, actor)
	w.Queue(`INSERT INTO ledger_lines (entry_id, line_no, book_id, account_id, posting_date, currency, amount, rate, book_amount, memo, dimensions)
		SELECT $1, t.line_no, $2, t.account_id, $3, t.currency, t.amount::numeric, t.rate::numeric, t.book_amount::numeric, t.memo, t.dims::jsonb
		FROM unnest($4::int[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
		  AS t(line_no, account_id, currency, amount, rate, book_amount, memo, dims)`,
		id, b.ID, p.date, lineNo, accIDs, ccys, amounts, rates, bookAmts, memos, dims)
	w.Queue(`INSERT INTO ledger_balances AS b (account_id, currency, debit, credit, book_debit, book_credit, lines)
		SELECT t.account_id, t.currency, t.d::numeric, t.c::numeric, t.bd::numeric, t.bc::numeric, t.n
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[]) WITH ORDINALITY
		  AS t(account_id, currency, d, c, bd, bc, n, ord)
		ORDER BY t.ord
		ON CONFLICT (account_id, currency) DO UPDATE SET
		  debit = b.debit + EXCLUDED.debit, credit = b.credit + EXCLUDED.credit,
		  book_debit = b.book_debit + EXCLUDED.book_debit, book_credit = b.book_credit + EXCLUDED.book_credit,
		  lines = b.lines + EXCLUDED.lines
		RETURNING account_id, currency, (debit - credit)::text`,
		balAcc, balCcy, balD, balC, balBD, balBC, balN)
	typ := EventEntryPosted
	if opt.kind == "reversal" {
		typ = EventEntryReversed
	}
	if _, err := outbox.Queue(ctx, &w, outbox.Event{AggregateType: "ledger.entry", AggregateID: e.ID, Type: typ,
		Source: source(p.Book), Payload: e}); err != nil {
		return nil, err
	}
	br := tx.SendBatch(ctx, &w)
	defer br.Close()
	if err := br.QueryRow().Scan(&e.CreatedAt); err != nil {
		return nil, err
	}
	if _, err := br.Exec(); err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	type after struct {
		acc int64
		ccy string
		bal string
	}
	var afters []after
	for rows.Next() {
		var a after
		if err := rows.Scan(&a.acc, &a.ccy, &a.bal); err != nil {
			rows.Close()
			return nil, err
		}
		afters = append(afters, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if _, err := br.Exec(); err != nil { // outbox
		return nil, err
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	// Balance rules, checked on the locked rows, so no concurrent post can slip past them.
	var v validationError
	for _, a := range afters {
		d := deltas[[2]any{a.acc, a.ccy}]
		bal, _ := ParseAmount(a.bal)
		switch {
		case d.rule == DebitSide && bal.IsNegative():
			v.add("lines", "account %s must keep a debit balance; this entry would leave it at %s %s (credit)", d.code, FormatAmount(bal.Neg(), a.ccy), a.ccy)
		case d.rule == CreditSide && bal.IsPositive():
			v.add("lines", "account %s must keep a credit balance; this entry would leave it at %s %s (debit)", d.code, FormatAmount(bal, a.ccy), a.ccy)
		}
	}
	if err := v.err(); err != nil {
		pe := err.(*platform.Error) //nolint:errorlint // v.err returns *platform.Error
		pe.Code = "balance_rule_violated"
		return nil, pe
	}
	return e, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ReverseInput optionally dates and describes a reversal.
type ReverseInput struct {
	PostingDate string `json:"posting_date,omitempty"` // default: the original's date
	Description string `json:"description,omitempty"`
}

// Reverse posts the mirror image of entry id, linked both ways. An entry is reversed at
// most once; a reversal cannot itself be reversed.
func (s *Store) Reverse(ctx context.Context, id string, in ReverseInput, actor string, key *idempotency.Key) (PostResult, error) {
	uid, err := uuid.Parse(id)
	if err != nil {
		return PostResult{}, platform.NotFound("entry %q does not exist", id)
	}
	var res PostResult
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if key != nil {
			stored, err := idempotency.Claim(ctx, tx, *key)
			if err != nil {
				return err
			}
			if stored != nil {
				var e Entry
				if err := json.Unmarshal(stored.Response, &e); err != nil {
					return err
				}
				res = PostResult{Entry: &e, Replayed: true}
				return nil
			}
		}
		orig, err := s.getEntry(ctx, tx, uid, true)
		if err != nil {
			return err
		}
		if orig.Kind == "reversal" {
			return platform.E(platform.KindConflict, "entry_is_reversal", "entry %s is itself a reversal (of %s); post a new entry instead", id, orig.Reverses)
		}
		if orig.ReversedBy != "" {
			return platform.E(platform.KindConflict, "entry_already_reversed", "entry %s was already reversed by %s", id, orig.ReversedBy)
		}
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
		p, err := parse(rin)
		if err != nil {
			return err
		}
		e, err := s.post(ctx, tx, p, actor, postOptions{kind: "reversal", reverses: &uid})
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE ledger_entries SET reversed_by = $2 WHERE id = $1`, uid, e.ID); err != nil {
			return err
		}
		if key != nil {
			if err := idempotency.Save(ctx, tx, *key, 201, e); err != nil {
				return err
			}
		}
		res = PostResult{Entry: e}
		return nil
	})
	return res, err
}

func ptr[T any](v T) *T { return &v }

// GetEntry returns one entry with its lines.
func (s *Store) GetEntry(ctx context.Context, id string) (*Entry, error) {
	uid, err := uuid.Parse(id)
	if err != nil {
		return nil, platform.E(platform.KindNotFound, "entry_not_found", "entry %q does not exist (ids are UUIDs)", id)
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
		return nil, platform.E(platform.KindNotFound, "entry_not_found", "entry %s does not exist", id)
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
		amt, _ := ParseAmount(amount)
		if amt.IsPositive() {
			l.Debit = FormatAmount(amt, l.Currency)
		} else {
			l.Credit = FormatAmount(amt.Neg(), l.Currency)
		}
		if l.Currency != bookCcy {
			r, _ := ParseAmount(rate)
			l.Rate = r.String()
		}
		l.BookAmount = formatText(bookAm, bookCcy)
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
