package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/idempotency"
	"github.com/codexion/codexion/schemas"
)

// balanceKey names one balance row.
type balanceKey struct {
	account  int64
	currency string
}

func (k balanceKey) less(o balanceKey) bool {
	if k.account != o.account {
		return k.account < o.account
	}
	return k.currency < o.currency
}

// rateRow is one recorded exchange rate.
type rateRow struct {
	date time.Time
	rate Amount
}

// postMany validates and writes entries in a handful of statements, whatever their
// number. It reads and locks what the checks depend on in one round trip, checks every
// entry (balance rules in entry order, on locked balance rows), and writes the entries,
// lines, balances and outbox rows in another. errs[i] is entry i's validation error; with
// stopOnError the first one is returned as err and nothing is written. Locks follow the
// global order: periods, accounts by id, balances by (account, currency).
func (s *Store) postMany(ctx context.Context, tx dbtx, entries []*parsedEntry, actor string, opts []postOptions, stopOnError bool) ([]*Entry, []error, error) {
	return s.postPiped(ctx, tx, singlePlan(entries, actor, opts, stopOnError))
}

// dbtx is a transaction, or a connection whose transaction the plan opens and closes.
type dbtx interface {
	querier
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// plan is what postPiped posts and how. Entries come in units, one per request: a single
// post is a unit of one entry, a batch a unit of its entries. An atomic unit stands or falls
// as a whole; in the others each entry does.
type plan struct {
	entries []*parsedEntry
	opts    []postOptions
	actors  []string // by entry
	units   []unitSpan
	// stopOnError ends the call at the first refused entry with that entry's error and
	// writes nothing; the caller's transaction then rolls back.
	stopOnError bool
	// tx, when set, makes postPiped open the transaction in its first round trip and commit
	// it in its second, claiming the units' idempotency keys and storing their responses
	// inside: a group commit.
	tx *groupTx
}

// unitSpan is one request's entries: entries[start:end].
type unitSpan struct {
	start, end int
	atomic     bool
}

// refused says whether the unit is atomic and one of its entries was refused: then none posts.
func (u unitSpan) refused(errs []error) bool {
	return u.atomic && slices.ContainsFunc(errs[u.start:u.end], func(e error) bool { return e != nil })
}

// groupTx is the part of a plan that a transaction of its own needs.
type groupTx struct {
	keys []*idempotency.Key // by unit; nil for a request without one
	// respond is what unit u's key stores: status and JSON body, from its entries' outcomes.
	respond func(u int, out []*Entry, errs []error) (int32, []byte, error)
	bodies  [][]byte // by unit, what respond returned in this attempt
	// taken[u] is set when unit u's key was already claimed: nothing was posted for it, and
	// its request takes the ordinary path, which waits for the holder and replays or refuses.
	taken []bool
}

// singlePlan is a plan in the caller's transaction with one non-atomic unit per entry.
func singlePlan(entries []*parsedEntry, actor string, opts []postOptions, stopOnError bool) *plan {
	p := &plan{entries: entries, opts: opts, actors: make([]string, len(entries)), stopOnError: stopOnError}
	for i := range entries {
		p.actors[i] = actor
		p.units = append(p.units, unitSpan{start: i, end: i + 1})
	}
	return p
}

var (
	errClaimTaken = errors.New("idempotency key already claimed")
	// errWithUnit marks the other entries of an atomic unit that one entry's error refused.
	errWithUnit = errors.New("refused with the rest of its request")
)

func (s *Store) postPiped(ctx context.Context, tx dbtx, pl *plan) ([]*Entry, []error, error) {
	entries, opts := pl.entries, pl.opts
	n := len(entries)
	out, errs := make([]*Entry, n), make([]error, n)
	fail := func(i int, err error) error {
		errs[i] = err
		if pl.stopOnError {
			return err
		}
		return nil
	}

	// Books, from the cache after their first use.
	books := make([]bookRef, n)
	bookIDs := map[int64]bookRef{}
	for i, p := range entries {
		b, err := s.book(ctx, tx, p.Book)
		if err != nil {
			if platform.KindOf(err) != platform.KindNotFound {
				return nil, nil, err
			}
			if err := fail(i, &platform.Error{Kind: CodeInvalidEntry.Kind, Code: CodeInvalidEntry.Code, Message: "book: " + err.Error(),
				Fields: []platform.FieldError{{Field: "book", Message: err.Error()}}}); err != nil {
				return nil, nil, err
			}
			continue
		}
		books[i], bookIDs[b.ID] = b, b
	}

	// What the checks read, in one round trip.
	var (
		perBook, accBook []int64
		perName, accCode []string
		maxDate          time.Time
		bookList         []int64
		reversed         []uuid.UUID
	)
	seenPer, seenAcc := map[[2]any]bool{}, map[[2]any]bool{}
	for i, p := range entries {
		if errs[i] != nil {
			continue
		}
		b := books[i]
		if k := [2]any{b.ID, period(p.date)}; !seenPer[k] {
			seenPer[k] = true
			perBook, perName = append(perBook, b.ID), append(perName, period(p.date))
		}
		for _, code := range p.accountCodes() {
			if k := [2]any{b.ID, code}; !seenAcc[k] {
				seenAcc[k] = true
				accBook, accCode = append(accBook, b.ID), append(accCode, code)
			}
		}
		if p.date.After(maxDate) {
			maxDate = p.date
		}
		if opts[i].reverses != nil {
			reversed = append(reversed, *opts[i].reverses)
		}
	}
	for id := range bookIDs {
		bookList = append(bookList, id)
	}
	var reads pgx.Batch
	var claimKeys []idempotency.Key
	if pl.tx != nil {
		reads.Queue("BEGIN")
		for _, k := range pl.tx.keys {
			if k != nil {
				claimKeys = append(claimKeys, *k)
			}
		}
		if len(claimKeys) > 0 {
			idempotency.QueueClaimMany(&reads, claimKeys)
		}
	}
	// The entries being reversed, locked first as the ordinary reversal locks them.
	if len(reversed) > 0 {
		reads.Queue(`SELECT id, coalesce(reversed_by::text, ''), kind, coalesce(reverses::text, '') FROM ledger_entries
			WHERE id = ANY($1) ORDER BY id FOR UPDATE`, reversed)
	}
	// Period rows are created on first use and never deleted; the store remembers the ones
	// it has seen committed, so most posts skip the insert.
	var newBook []int64
	var newPer []string
	for i := range perBook {
		if _, known := s.periods.get(periodKey(perBook[i], perName[i])); !known {
			newBook, newPer = append(newBook, perBook[i]), append(newPer, perName[i])
		}
	}
	if len(newBook) > 0 {
		reads.Queue(`INSERT INTO ledger_periods (book_id, period)
			SELECT b, p FROM unnest($1::bigint[], $2::text[]) AS t(b, p) ORDER BY b, p ON CONFLICT DO NOTHING
			RETURNING book_id, period`, newBook, newPer)
	}
	// A shared advisory lock per period keeps it open until we commit: closing takes the
	// same lock exclusively. Advisory locks live in the lock manager, so unlike FOR SHARE
	// they write nothing to the period row that every post in the month touches.
	reads.Queue(`SELECT pg_advisory_xact_lock_shared(k) FROM (
		SELECT DISTINCT ledger_period_lock_key(b, p) AS k FROM unnest($1::bigint[], $2::text[]) AS t(b, p)) x ORDER BY k`, perBook, perName)
	reads.Queue(`SELECT lp.book_id, lp.period, lp.status FROM ledger_periods lp
		JOIN unnest($1::bigint[], $2::text[]) AS t(b, p) ON lp.book_id = t.b AND lp.period = t.p`, perBook, perName)
	// Likewise a shared lock per account keeps it open: closing an account takes it exclusively.
	reads.Queue(`SELECT pg_advisory_xact_lock_shared(k) FROM (
		SELECT DISTINCT ledger_account_lock_key(b, c) AS k FROM unnest($1::bigint[], $2::text[]) AS t(b, c)) x ORDER BY k`, accBook, accCode)
	reads.Queue(`SELECT a.id, a.book_id, a.code, a.type, coalesce(a.currency, ''), a.status, a.balance_rule FROM ledger_accounts a
		JOIN unnest($1::bigint[], $2::text[]) AS t(b, c) ON a.book_id = t.b AND a.code = t.c`, accBook, accCode)
	reads.Queue(`SELECT book_id, currency, effective_date, rate::text FROM ledger_rates
		WHERE book_id = ANY($1) AND effective_date <= $2 ORDER BY book_id, currency, effective_date`, bookList, maxDate)
	// Many entries lock every balance row of their accounts now, in (account, currency)
	// order, so that they can be applied one after another and exactly those that break a
	// balance rule refused. A single entry locks its rows later, in the write itself, which
	// keeps hot rows locked for less time; its rules are checked on the values the write
	// returns. A row that does not exist yet counts as zero and is created by the write.
	early := n > 1
	if early {
		reads.Queue(`SELECT b.account_id, b.currency, (b.debit - b.credit)::text FROM ledger_balances b
		JOIN ledger_accounts a ON a.id = b.account_id
		JOIN unnest($1::bigint[], $2::text[]) AS t(bk, c) ON a.book_id = t.bk AND a.code = t.c
		ORDER BY b.account_id, b.currency FOR UPDATE OF b`, accBook, accCode)
	}
	periods := map[[2]any]string{}
	accounts := map[int64]map[string]accountRef{}
	rates := map[[2]any][]rateRow{}
	inserted := map[string]bool{}
	current := map[balanceKey]Amount{}
	originals := map[uuid.UUID][3]string{} // reversed_by, kind, reverses
	claimed := map[[2]string]bool{}
	err := func() error {
		br := tx.SendBatch(ctx, &reads)
		defer br.Close() //nolint:errcheck // the explicit Close below reports errors
		if pl.tx != nil {
			if _, err := br.Exec(); err != nil {
				return err
			}
			if len(claimKeys) > 0 {
				if err := scanAll(br, func(r pgx.Rows) error {
					var k [2]string
					if err := r.Scan(&k[0], &k[1]); err != nil {
						return err
					}
					claimed[k] = true
					return nil
				}); err != nil {
					return err
				}
			}
		}
		if len(reversed) > 0 {
			if err := scanAll(br, func(r pgx.Rows) error {
				var (
					id uuid.UUID
					o  [3]string
				)
				if err := r.Scan(&id, &o[0], &o[1], &o[2]); err != nil {
					return err
				}
				originals[id] = o
				return nil
			}); err != nil {
				return err
			}
		}
		if len(newBook) > 0 {
			if err := scanAll(br, func(r pgx.Rows) error {
				var (
					b int64
					p string
				)
				if err := r.Scan(&b, &p); err != nil {
					return err
				}
				inserted[periodKey(b, p)] = true
				return nil
			}); err != nil {
				return err
			}
		}
		if _, err := br.Exec(); err != nil { // period locks
			return err
		}
		if err := scanAll(br, func(r pgx.Rows) error {
			var (
				b     int64
				p, st string
			)
			if err := r.Scan(&b, &p, &st); err != nil {
				return err
			}
			periods[[2]any{b, p}] = st
			if !inserted[periodKey(b, p)] { // committed by someone before us: it stays
				s.periods.put(periodKey(b, p), struct{}{})
			}
			return nil
		}); err != nil {
			return err
		}
		if _, err := br.Exec(); err != nil { // account locks
			return err
		}
		if err := scanAll(br, func(r pgx.Rows) error {
			var (
				a accountRef
				b int64
			)
			if err := r.Scan(&a.ID, &b, &a.Code, &a.Type, &a.Currency, &a.Status, &a.Rule); err != nil {
				return err
			}
			if accounts[b] == nil {
				accounts[b] = map[string]accountRef{}
			}
			accounts[b][a.Code] = a
			s.accounts.put(b, a)
			return nil
		}); err != nil {
			return err
		}
		if err := scanAll(br, func(r pgx.Rows) error {
			var (
				b       int64
				ccy, rt string
				d       time.Time
			)
			if err := r.Scan(&b, &ccy, &d, &rt); err != nil {
				return err
			}
			v, err := readAmount(rt)
			if err != nil {
				return err
			}
			rates[[2]any{b, ccy}] = append(rates[[2]any{b, ccy}], rateRow{d, v})
			return nil
		}); err != nil {
			return err
		}
		if early {
			if err := scanAll(br, func(r pgx.Rows) error {
				var (
					k   balanceKey
					bal string
				)
				if err := r.Scan(&k.account, &k.currency, &bal); err != nil {
					return err
				}
				v, err := readAmount(bal)
				current[k] = v
				return err
			}); err != nil {
				return err
			}
		}
		return nil
	}()
	// created_at is the application's clock, at the database's microsecond precision, so
	// the response and the outbox event carry exactly what is stored.
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err != nil {
		return nil, nil, err
	}
	if pl.tx != nil {
		pl.tx.taken = make([]bool, len(pl.units))
		for u, k := range pl.tx.keys {
			if k != nil && !claimed[[2]string{k.Scope, k.Value}] {
				pl.tx.taken[u] = true
				for i := pl.units[u].start; i < pl.units[u].end; i++ {
					errs[i] = errClaimTaken
				}
			}
		}
	}

	// Check each entry on its own.
	postings := make([]*posting, n)
	for i, p := range entries {
		if errs[i] != nil {
			continue
		}
		b := books[i]
		var v validationError
		if !b.Journals[p.Journal] {
			v.add("journal", "journal %q does not exist in book %s (general, sales, purchases and bank always do)", p.Journal, p.Book)
		}
		if periods[[2]any{b.ID, period(p.date)}] == "closed" && !opts[i].skipPeriodCheck {
			v.add("posting_date", "period %s of book %s is closed; post in an open period or reopen it", period(p.date), p.Book)
		}
		if err := v.err(); err != nil {
			if err := fail(i, err); err != nil {
				return nil, errs, err
			}
			continue
		}
		if r := opts[i].reverses; r != nil {
			if err := reversible(*r, originals); err != nil {
				if err := fail(i, err); err != nil {
					return nil, errs, err
				}
				continue
			}
		}
		pst, err := newPosting(p, b.Currency, accounts[b.ID], func(ccy string) (Amount, bool) {
			rs := rates[[2]any{b.ID, ccy}]
			j := sort.Search(len(rs), func(j int) bool { return rs[j].date.After(p.date) })
			if j == 0 {
				return Amount{}, false
			}
			return rs[j-1].rate, true
		})
		if err != nil {
			if err := fail(i, err); err != nil {
				return nil, errs, err
			}
			continue
		}
		postings[i] = pst
	}
	refuseWithUnit(pl.units, errs, postings)

	if early {
		if err := applyInOrder(pl.units, postings, current, errs, fail); err != nil {
			return nil, errs, err
		}
	}

	// Write everything in one round trip.
	var w pgx.Batch
	written, events, err := queueWrites(&w, postings, books, opts, pl.actors, now, out)
	if err != nil {
		return nil, nil, err
	}
	if err := s.outbox.Queue(ctx, &w, events...); err != nil {
		return nil, nil, err
	}
	if pl.tx != nil {
		if err := queueResponses(&w, pl, out, errs); err != nil {
			return nil, nil, err
		}
		w.Queue("COMMIT")
	} else if written == 0 {
		return out, errs, nil
	}
	if err := tx.SendBatch(ctx, &w).Close(); err != nil {
		// The balance rows enforce each account's balance rule themselves: a single entry
		// meets the rule there, on the locked row, and many entries already checked it above.
		if rerr := ruleViolation(err, postings); rerr != nil {
			if early {
				return nil, nil, fmt.Errorf("%w: %w", errRowAppeared, err)
			}
			for i, pst := range postings {
				if pst == nil {
					continue
				}
				errs[i] = rerr
				if pl.tx != nil && !pl.stopOnError {
					// The plan's own transaction ended with this one entry's refusal, and
					// nothing was written: an outcome, not a failure of the call.
					return make([]*Entry, n), errs, nil
				}
				return nil, errs, rerr
			}
		}
		return nil, nil, err
	}
	return out, errs, nil
}

// applyInOrder applies the entries, unit by unit in order, to the balances read under lock,
// refusing any that would break an account's balance rule, and with it the rest of an
// atomic unit, whose earlier entries are taken back out of the balances.
func applyInOrder(units []unitSpan, postings []*posting, current map[balanceKey]Amount, errs []error, fail func(int, error) error) error {
	for _, u := range units {
		before := map[balanceKey]Amount{} // the balances as they were before the unit
		for i := u.start; i < u.end; i++ {
			pst := postings[i]
			if pst == nil {
				continue
			}
			after := map[balanceKey]Amount{}
			for _, l := range pst.lines {
				k := balanceKey{l.Account.ID, l.Currency}
				if _, ok := after[k]; !ok {
					after[k] = current[k]
				}
				after[k] = after[k].Add(l.Amount)
			}
			if err := checkRules(pst, after); err != nil {
				postings[i] = nil
				if err := fail(i, err); err != nil {
					return err
				}
				if u.atomic {
					maps.Copy(current, before)
					refuseWithUnit([]unitSpan{u}, errs, postings)
					break
				}
				continue
			}
			for k, bal := range after {
				if _, ok := before[k]; !ok {
					before[k] = current[k]
				}
				current[k] = bal
			}
		}
	}
	return nil
}

// reversible says whether the entry with id can be reversed, from its row read under lock.
func reversible(id uuid.UUID, originals map[uuid.UUID][3]string) error {
	o, ok := originals[id]
	switch {
	case !ok:
		return CodeEntryNotFound.New("entry %s does not exist", id)
	case o[1] == "reversal":
		return CodeEntryIsReversal.New("entry %s is itself a reversal (of %s); post a new entry instead", id, o[2])
	case o[0] != "":
		return CodeEntryAlreadyReversed.New("entry %s was already reversed by %s", id, o[0])
	}
	return nil
}

// refuseWithUnit refuses every entry of an atomic unit in which one entry was refused.
func refuseWithUnit(units []unitSpan, errs []error, postings []*posting) {
	for _, u := range units {
		if !u.refused(errs) {
			continue
		}
		for i := u.start; i < u.end; i++ {
			postings[i] = nil
			if errs[i] == nil {
				errs[i] = errWithUnit
			}
		}
	}
}

// queueResponses stores, with each claimed key, its unit's response, and gives back the keys
// of atomic units that were refused, as a rolled-back transaction would.
func queueResponses(w *pgx.Batch, pl *plan, out []*Entry, errs []error) error {
	var (
		save, release []idempotency.Key
		statuses      []int32
		bodies        [][]byte
	)
	for u, k := range pl.tx.keys {
		if k == nil || pl.tx.taken[u] {
			continue
		}
		span := pl.units[u]
		if span.refused(errs) {
			release = append(release, *k)
			continue
		}
		st, body, err := pl.tx.respond(u, out[span.start:span.end], errs[span.start:span.end])
		if err != nil {
			return err
		}
		save, statuses, bodies = append(save, *k), append(statuses, st), append(bodies, body)
	}
	if len(save) > 0 {
		idempotency.QueueSaveMany(w, save, statuses, bodies)
	}
	if len(release) > 0 {
		idempotency.QueueReleaseMany(w, release)
	}
	return nil
}

var failingAccount = regexp.MustCompile(`^Failing row contains \((\d+), `)

// ruleViolation turns the balance-rule check constraint into the error a client reads,
// naming the account (from the failing row) and the side it must stay on.
func ruleViolation(err error, postings []*posting) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "23514" || pe.ConstraintName != "ledger_balances_rule" {
		return nil
	}
	m := failingAccount.FindStringSubmatch(pe.Detail)
	for _, pst := range postings {
		if pst == nil {
			continue
		}
		for _, l := range pst.lines {
			if m != nil && strconv.FormatInt(l.Account.ID, 10) != m[1] {
				continue
			}
			side := "debit"
			if l.Account.Rule == CreditSide {
				side = "credit"
			}
			return &platform.Error{Kind: CodeBalanceRuleViolated.Kind, Code: CodeBalanceRuleViolated.Code,
				Message: fmt.Sprintf("lines: account %s must keep a %s balance; this entry would move it to the other side", l.Account.Code, side),
				Fields:  []platform.FieldError{{Field: "lines", Message: "account " + l.Account.Code + " must keep a " + side + " balance"}}}
		}
	}
	return &platform.Error{Kind: CodeBalanceRuleViolated.Kind, Code: CodeBalanceRuleViolated.Code, Message: "lines: the entry would break an account's balance rule"}
}

// checkRules reports the accounts whose balance rule the entry's resulting balances break.
func checkRules(pst *posting, balances map[balanceKey]Amount) error {
	var v validationError
	seen := map[balanceKey]bool{}
	for _, l := range pst.lines {
		k := balanceKey{l.Account.ID, l.Currency}
		bal, ok := balances[k]
		if !ok || seen[k] {
			continue
		}
		seen[k] = true
		switch {
		case l.Account.Rule == DebitSide && bal.IsNegative():
			v.add("lines", "account %s must keep a debit balance; this entry would leave it at %s %s (credit)", l.Account.Code, FormatAmount(bal.Neg(), l.Currency), l.Currency)
		case l.Account.Rule == CreditSide && bal.IsPositive():
			v.add("lines", "account %s must keep a credit balance; this entry would leave it at %s %s (debit)", l.Account.Code, FormatAmount(bal, l.Currency), l.Currency)
		}
	}
	err := v.err()
	var pe *platform.Error
	if errors.As(err, &pe) {
		pe.Code = CodeBalanceRuleViolated.Code
		return pe
	}
	return nil
}

// scanAll reads every row of the batch's next result.
func scanAll(br pgx.BatchResults, fn func(pgx.Rows) error) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func periodKey(book int64, period string) string { return strconv.FormatInt(book, 10) + "/" + period }

// queueWrites adds to w the statements that store postings (entries, lines, balances in
// lock order, the links of reversed entries to their reversals), fills out with the entries as stored, and returns how many and their events,
// which the caller queues on the outbox in the same transaction.
func queueWrites(w *pgx.Batch, postings []*posting, books []bookRef, opts []postOptions, actors []string, now time.Time, out []*Entry) (int, []schemas.Outgoing, error) {
	var (
		eID                                      []uuid.UUID
		eBook                                    []int64
		eDate                                    []time.Time
		eJournal, eRef, eDesc, eMeta, eKind, eBy []string
		eRev                                     []*uuid.UUID
		lEntry                                   []uuid.UUID
		lNo                                      []int32
		lBook, lAcc                              []int64
		lDate                                    []time.Time
		lCcy, lAmt, lRate, lBookAmt, lMemo, lDim []string
		deltas                                   = map[balanceKey]*[5]Amount{} // debit, credit, book debit, book credit, lines
		rules                                    = map[balanceKey]BalanceRule{}
		events                                   []schemas.Outgoing
		origs, revs                              []uuid.UUID // reversed entries and their reversals
	)
	for i, pst := range postings {
		if pst == nil {
			continue
		}
		p, b := pst.in, books[i]
		id := newEntryID()
		meta := []byte(p.Metadata)
		if len(meta) == 0 || string(meta) == "null" {
			meta = []byte("{}")
		}
		e := &Entry{ID: id.String(), Book: p.Book, PostingDate: p.date.Format(DateLayout), Journal: p.Journal,
			Reference: p.Reference, Description: p.Description, Metadata: json.RawMessage(meta),
			Kind: opts[i].kind, CreatedBy: actors[i], CreatedAt: now}
		if opts[i].reverses != nil {
			e.Reverses = opts[i].reverses.String()
		}
		eID, eBook, eDate = append(eID, id), append(eBook, b.ID), append(eDate, p.date)
		eJournal, eRef, eDesc = append(eJournal, p.Journal), append(eRef, p.Reference), append(eDesc, p.Description)
		eMeta, eKind, eRev = append(eMeta, string(meta)), append(eKind, opts[i].kind), append(eRev, opts[i].reverses)
		eBy = append(eBy, actors[i])
		for _, l := range pst.lines {
			dims := []byte("{}")
			if l.Dimensions != nil {
				dims, _ = json.Marshal(l.Dimensions)
			}
			lEntry, lNo, lBook, lAcc, lDate = append(lEntry, id), append(lNo, int32(l.LineNo)), append(lBook, b.ID), append(lAcc, l.Account.ID), append(lDate, p.date)
			lCcy, lAmt, lRate, lBookAmt = append(lCcy, l.Currency), append(lAmt, l.Amount.String()), append(lRate, l.Rate.String()), append(lBookAmt, l.BookAmount.String())
			lMemo, lDim = append(lMemo, l.Memo), append(lDim, string(dims))
			k := balanceKey{l.Account.ID, l.Currency}
			rules[k] = l.Account.Rule
			d := deltas[k]
			if d == nil {
				d = &[5]Amount{}
				deltas[k] = d
			}
			if l.Amount.IsPositive() {
				d[0], d[2] = d[0].Add(l.Amount), d[2].Add(l.BookAmount)
			} else {
				d[1], d[3] = d[1].Sub(l.Amount), d[3].Sub(l.BookAmount)
			}
			d[4] = d[4].Add(decimalOne)
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
		typ := EventEntryPosted
		if opts[i].kind == "reversal" {
			typ = EventEntryReversed
		}
		if opts[i].reverses != nil {
			origs, revs = append(origs, *opts[i].reverses), append(revs, id)
		}
		events = append(events, schemas.Outgoing{Type: typ, Key: e.ID, Source: source(p.Book), Payload: e})
		out[i] = e
	}
	if len(eID) == 0 {
		return 0, nil, nil
	}
	keys := make([]balanceKey, 0, len(deltas))
	for k := range deltas {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b balanceKey) int {
		if a.less(b) {
			return -1
		}
		if b.less(a) {
			return 1
		}
		return 0
	})
	bAcc, bCcy := make([]int64, 0, len(keys)), make([]string, 0, len(keys))
	var bD, bC, bBD, bBC []string
	var bN []int64
	var bRule []string
	for _, k := range keys {
		d := deltas[k]
		if d == nil {
			continue
		}
		bAcc, bCcy = append(bAcc, k.account), append(bCcy, k.currency)
		bD, bC, bBD, bBC = append(bD, d[0].String()), append(bC, d[1].String()), append(bBD, d[2].String()), append(bBC, d[3].String())
		bN = append(bN, d[4].IntPart())
		bRule = append(bRule, string(rules[k]))
	}
	// Entries and their lines in one statement: the database checks, once at its end and on
	// the whole set, that every new entry has lines that balance (migration 0003).
	w.Queue(`WITH entries AS (
		INSERT INTO ledger_entries (id, book_id, posting_date, journal, reference, description, metadata, reverses, kind, created_by, created_at)
		SELECT t.id, t.b, t.d, t.j, t.r, t.de, t.m::jsonb, t.rev, t.k, t.by, $11
		FROM unnest($1::uuid[], $2::bigint[], $3::date[], $4::text[], $5::text[], $6::text[], $7::text[], $8::uuid[], $9::text[], $10::text[])
		  AS t(id, b, d, j, r, de, m, rev, k, by))
		INSERT INTO ledger_lines (entry_id, line_no, book_id, account_id, posting_date, currency, amount, rate, book_amount, memo, dimensions)
		SELECT t.e, t.n, t.b, t.a, t.d, t.c, t.amt::numeric, t.rate::numeric, t.ba::numeric, t.memo, t.dims::jsonb
		FROM unnest($12::uuid[], $13::int[], $14::bigint[], $15::bigint[], $16::date[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[])
		  AS t(e, n, b, a, d, c, amt, rate, ba, memo, dims)`, eID, eBook, eDate, eJournal, eRef, eDesc, eMeta, eRev, eKind, eBy, now,
		lEntry, lNo, lBook, lAcc, lDate, lCcy, lAmt, lRate, lBookAmt, lMemo, lDim)
	w.Queue(`INSERT INTO ledger_balances AS b (account_id, currency, debit, credit, book_debit, book_credit, lines, rule)
		SELECT t.a, t.ccy, t.d::numeric, t.c::numeric, t.bd::numeric, t.bc::numeric, t.n, t.rule
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[]) WITH ORDINALITY
		  AS t(a, ccy, d, c, bd, bc, n, rule, o)
		ORDER BY t.o
		ON CONFLICT (account_id, currency) DO UPDATE SET
		  debit = b.debit + EXCLUDED.debit, credit = b.credit + EXCLUDED.credit,
		  book_debit = b.book_debit + EXCLUDED.book_debit, book_credit = b.book_credit + EXCLUDED.book_credit,
		  lines = b.lines + EXCLUDED.lines`, bAcc, bCcy, bD, bC, bBD, bBC, bN, bRule)
	if len(origs) > 0 { // the one change an entry admits: linking its reversal
		w.Queue(`UPDATE ledger_entries e SET reversed_by = t.r FROM unnest($1::uuid[], $2::uuid[]) AS t(o, r) WHERE e.id = t.o`, origs, revs)
	}
	return len(eID), events, nil
}

// newEntryID returns a time-ordered id (UUIDv7), so entries sort in the order they were made.
func newEntryID() uuid.UUID { return uuid.Must(uuid.NewV7()) }
