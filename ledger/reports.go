package ledger

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/codexion/codexion/platform"
)

// TrialBalanceRow is one account in a trial balance, in the book currency.
type TrialBalanceRow struct {
	Account string      `json:"account"`
	Name    string      `json:"name"`
	Type    AccountType `json:"type"`
	Debit   string      `json:"debit"`   // every debit up to the report's date (as_of) or in its period
	Credit  string      `json:"credit"`  // every credit likewise
	Balance string      `json:"balance"` // closing balance, debit - credit
	// As accountants read it: the balance before the period in a debit or a credit column,
	// the period's debits and credits, and the closing balance in a debit or a credit column.
	// A report as of a date is the period from the book's first posting to that date.
	OpeningDebit  string `json:"opening_debit"`
	OpeningCredit string `json:"opening_credit"`
	PeriodDebit   string `json:"period_debit"`
	PeriodCredit  string `json:"period_credit"`
	ClosingDebit  string `json:"closing_debit"`
	ClosingCredit string `json:"closing_credit"`
}

// TrialBalance lists every account with postings up to its date. Its totals agree: the
// debit balances total the credit balances, at the opening and at the close, and the
// period's debits total its credits.
type TrialBalance struct {
	Book     string            `json:"book"`
	From     string            `json:"from,omitempty"` // first day of the period; empty: from the first posting
	AsOf     string            `json:"as_of"`          // last day of the period
	Currency string            `json:"currency"`
	Rows     []TrialBalanceRow `json:"rows"`
	Totals   TrialBalanceRow   `json:"totals"`
}

// TrialBalance reports book as of asOf: every posting up to it.
func (s *Store) TrialBalance(ctx context.Context, book string, asOf time.Time) (*TrialBalance, error) {
	return s.trialBalance(ctx, book, time.Time{}, asOf)
}

// PeriodTrialBalance reports book for the period from..to (both included): opening
// balances as of the day before from, the period's debits and credits, closing balances.
func (s *Store) PeriodTrialBalance(ctx context.Context, book string, from, to time.Time) (*TrialBalance, error) {
	if from.After(to) {
		return nil, platform.Invalid("from %s is after to %s: the period runs from its first day to its last", from.Format(DateLayout), to.Format(DateLayout))
	}
	return s.trialBalance(ctx, book, from, to)
}

// split puts a signed balance in a debit or a credit column.
func split(a Amount) (debit, credit Amount) {
	if a.Sign() >= 0 {
		return a, Amount{}
	}
	return Amount{}, a.Neg()
}

func (s *Store) trialBalance(ctx context.Context, book string, from, to time.Time) (*TrialBalance, error) {
	b, err := s.book(ctx, s.db, book)
	if err != nil {
		return nil, err
	}
	var fromArg any // nil: no opening balance, the period starts with the first posting
	if !from.IsZero() {
		fromArg = from
	}
	rows, err := s.db.Query(ctx, `SELECT a.code, a.name, a.type,
			coalesce(sum(l.book_amount) FILTER (WHERE l.posting_date < $2), 0)::text,
			coalesce(sum(greatest(l.book_amount, 0)) FILTER (WHERE $2::date IS NULL OR l.posting_date >= $2), 0)::text,
			coalesce(sum(greatest(-l.book_amount, 0)) FILTER (WHERE $2::date IS NULL OR l.posting_date >= $2), 0)::text
		FROM ledger_lines l JOIN ledger_accounts a ON a.id = l.account_id
		WHERE l.book_id = $1 AND l.posting_date <= $3 GROUP BY a.code, a.name, a.type ORDER BY a.code`, b.ID, fromArg, to)
	if err != nil {
		return nil, err
	}
	tb := &TrialBalance{Book: book, AsOf: to.Format(DateLayout), Currency: b.Currency, Rows: []TrialBalanceRow{}}
	if !from.IsZero() {
		tb.From = from.Format(DateLayout)
	}
	f := func(a Amount) string { return FormatAmount(a, b.Currency) }
	var tod, toc, tpd, tpc, tcd, tcc, tbal Amount
	tb.Rows, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (TrialBalanceRow, error) {
		var x TrialBalanceRow
		var o, d, c string
		if err := r.Scan(&x.Account, &x.Name, &x.Type, &o, &d, &c); err != nil {
			return x, err
		}
		open, pd, pc, err := readAmounts3(o, d, c)
		if err != nil {
			return x, err
		}
		closing := open.Add(pd).Sub(pc)
		od, oc := split(open)
		cd, cc := split(closing)
		tod, toc, tpd, tpc, tcd, tcc, tbal = tod.Add(od), toc.Add(oc), tpd.Add(pd), tpc.Add(pc), tcd.Add(cd), tcc.Add(cc), tbal.Add(closing)
		x.Debit, x.Credit, x.Balance = f(pd), f(pc), f(closing)
		x.OpeningDebit, x.OpeningCredit, x.PeriodDebit, x.PeriodCredit, x.ClosingDebit, x.ClosingCredit = f(od), f(oc), f(pd), f(pc), f(cd), f(cc)
		return x, nil
	})
	if err != nil {
		return nil, err
	}
	if !tbal.IsZero() || !tpd.Equal(tpc) || !tod.Equal(toc) || !tcd.Equal(tcc) {
		// The balance trigger makes this unreachable; if it happens the books are corrupt.
		return nil, CodeLedgerCorrupt.New("trial balance of %s does not net to zero (%s)", book, tbal.String())
	}
	tb.Totals = TrialBalanceRow{Account: "total", Name: "Total", Debit: f(tpd), Credit: f(tpc), Balance: f(tbal),
		OpeningDebit: f(tod), OpeningCredit: f(toc), PeriodDebit: f(tpd), PeriodCredit: f(tpc), ClosingDebit: f(tcd), ClosingCredit: f(tcc)}
	return tb, nil
}

// StatementRow is an account in a report, with its amount on the type's normal side
// and, for accounts with children, the roll-up of its subtree.
type StatementRow struct {
	Account string      `json:"account"`
	Name    string      `json:"name"`
	Type    AccountType `json:"type"`
	Parent  string      `json:"parent,omitempty"`
	Amount  string      `json:"amount"`
	Rollup  string      `json:"rollup"`
}

// Section is a group of rows with its total.
type Section struct {
	Rows  []StatementRow `json:"rows"`
	Total string         `json:"total"`
}

// BalanceSheet is assets = liabilities + equity as of a date.
type BalanceSheet struct {
	Book            string  `json:"book"`
	AsOf            string  `json:"as_of"`
	Currency        string  `json:"currency"`
	Assets          Section `json:"assets"`
	Liabilities     Section `json:"liabilities"`
	Equity          Section `json:"equity"`
	CurrentEarnings string  `json:"current_earnings"` // income - expense not yet closed
	TotalLiabEquity string  `json:"total_liabilities_and_equity"`
	Balanced        bool    `json:"balanced"`
}

// IncomeStatement is income and expense for a date range, without closing entries.
type IncomeStatement struct {
	Book      string  `json:"book"`
	From      string  `json:"from"`
	To        string  `json:"to"`
	Currency  string  `json:"currency"`
	Income    Section `json:"income"`
	Expenses  Section `json:"expenses"`
	NetIncome string  `json:"net_income"`
}

type acctAmount struct {
	id, parent int64
	row        StatementRow
	own        Amount // normal-side amount
}

// amounts loads every account of the given types with its normal-side amount over lines
// matching the date filter, and rolls amounts up the tree.
func (s *Store) amounts(ctx context.Context, b bookRef, types []AccountType, from, to time.Time, withClosing bool) ([]StatementRow, map[AccountType]Amount, error) {
	typeNames := make([]string, len(types))
	for i, t := range types {
		typeNames[i] = string(t)
	}
	var fromArg any
	if !from.IsZero() {
		fromArg = from
	}
	rows, err := s.db.Query(ctx, `SELECT a.id, coalesce(a.parent_id, 0), a.code, a.name, a.type, coalesce(p.code, ''),
			coalesce((SELECT sum(l.book_amount) FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id
			  WHERE l.account_id = a.id AND l.posting_date <= $3 AND ($2::date IS NULL OR l.posting_date >= $2::date)
			  AND ($4 OR e.kind <> 'closing')), 0)::text
		FROM ledger_accounts a LEFT JOIN ledger_accounts p ON p.id = a.parent_id
		WHERE a.book_id = $1 AND a.type = ANY($5) ORDER BY a.code`, b.ID, fromArg, to, withClosing, typeNames)
	if err != nil {
		return nil, nil, err
	}
	accs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*acctAmount, error) {
		x := &acctAmount{}
		var sum string
		if err := r.Scan(&x.id, &x.parent, &x.row.Account, &x.row.Name, &x.row.Type, &x.row.Parent, &sum); err != nil {
			return nil, err
		}
		amt, err := readAmount(sum)
		if err != nil {
			return nil, err
		}
		if !x.row.Type.DebitNormal() {
			amt = amt.Neg()
		}
		x.own = amt
		return x, nil
	})
	if err != nil {
		return nil, nil, err
	}
	byID := map[int64]*acctAmount{}
	rollup := map[int64]Amount{}
	for _, a := range accs {
		byID[a.id] = a
	}
	totals := map[AccountType]Amount{}
	for _, a := range accs {
		totals[a.row.Type] = totals[a.row.Type].Add(a.own)
		for id, depth := a.id, 0; id != 0 && depth < 64; depth++ { // the tree is shallow; 64 bounds a corrupt cycle
			rollup[id] = rollup[id].Add(a.own)
			p, ok := byID[id]
			if !ok {
				break
			}
			id = p.parent
		}
	}
	out := make([]StatementRow, 0, len(accs))
	for _, a := range accs {
		a.row.Amount = FormatAmount(a.own, b.Currency)
		a.row.Rollup = FormatAmount(rollup[a.id], b.Currency)
		out = append(out, a.row)
	}
	return out, totals, nil
}

func section(rows []StatementRow, t AccountType, total Amount, ccy string) Section {
	sec := Section{Rows: []StatementRow{}, Total: FormatAmount(total, ccy)}
	for _, r := range rows {
		if r.Type == t {
			sec.Rows = append(sec.Rows, r)
		}
	}
	return sec
}

// BalanceSheet reports book as of asOf.
func (s *Store) BalanceSheet(ctx context.Context, book string, asOf time.Time) (*BalanceSheet, error) {
	b, err := s.book(ctx, s.db, book)
	if err != nil {
		return nil, err
	}
	rows, totals, err := s.amounts(ctx, b, AccountTypes, time.Time{}, asOf, true)
	if err != nil {
		return nil, err
	}
	earnings := totals[Income].Sub(totals[Expense])
	equity := totals[Equity].Add(earnings)
	liabEq := totals[Liability].Add(equity)
	return &BalanceSheet{
		Book: book, AsOf: asOf.Format(DateLayout), Currency: b.Currency,
		Assets:          section(rows, Asset, totals[Asset], b.Currency),
		Liabilities:     section(rows, Liability, totals[Liability], b.Currency),
		Equity:          section(rows, Equity, equity, b.Currency),
		CurrentEarnings: FormatAmount(earnings, b.Currency),
		TotalLiabEquity: FormatAmount(liabEq, b.Currency),
		Balanced:        totals[Asset].Equal(liabEq),
	}, nil
}

// IncomeStatement reports income and expense from from to to, inclusive.
func (s *Store) IncomeStatement(ctx context.Context, book string, from, to time.Time) (*IncomeStatement, error) {
	if to.Before(from) {
		return nil, platform.Invalid("to %s is before from %s", to.Format(DateLayout), from.Format(DateLayout))
	}
	b, err := s.book(ctx, s.db, book)
	if err != nil {
		return nil, err
	}
	rows, totals, err := s.amounts(ctx, b, []AccountType{Income, Expense}, from, to, false)
	if err != nil {
		return nil, err
	}
	return &IncomeStatement{
		Book: book, From: from.Format(DateLayout), To: to.Format(DateLayout), Currency: b.Currency,
		Income:    section(rows, Income, totals[Income], b.Currency),
		Expenses:  section(rows, Expense, totals[Expense], b.Currency),
		NetIncome: FormatAmount(totals[Income].Sub(totals[Expense]), b.Currency),
	}, nil
}

// GLLine is one line of an account's general ledger with the running balance.
type GLLine struct {
	EntryID     string `json:"entry_id"`
	PostingDate string `json:"posting_date"`
	Journal     string `json:"journal"`
	Reference   string `json:"reference"`
	Description string `json:"description"`
	LineNo      int    `json:"line_no"`
	Debit       string `json:"debit,omitempty"`
	Credit      string `json:"credit,omitempty"`
	Balance     string `json:"balance"` // running, book currency, debit - credit
}

// GeneralLedger is a page of an account's lines in a date range.
type GeneralLedger struct {
	Book           string   `json:"book"`
	Account        string   `json:"account"`
	From           string   `json:"from,omitempty"`
	To             string   `json:"to"`
	Currency       string   `json:"currency"`
	OpeningBalance string   `json:"opening_balance"`
	Lines          []GLLine `json:"lines"`
	NextCursor     string   `json:"next_cursor,omitempty"`
}

// WholeGeneralLedger is every page of the general ledger, for a download; past
// maxExportLines lines it asks for a narrower date range.
func (s *Store) WholeGeneralLedger(ctx context.Context, book, account string, from, to time.Time) (*GeneralLedger, error) {
	var whole *GeneralLedger
	p := Page{Limit: MaxPageSize}
	for {
		gl, err := s.GeneralLedger(ctx, book, account, from, to, p)
		if err != nil {
			return nil, err
		}
		if whole == nil {
			whole = gl
		} else {
			whole.Lines = append(whole.Lines, gl.Lines...)
		}
		if len(whole.Lines) > maxExportLines {
			return nil, platform.Invalid("account %s has more than %d lines between %s and %s: download a shorter range", account, maxExportLines,
				orStart(whole.From), whole.To)
		}
		if gl.NextCursor == "" {
			whole.NextCursor = ""
			return whole, nil
		}
		p.Cursor = gl.NextCursor
	}
}

// GeneralLedger lists an account's lines in posting order with running balances.
func (s *Store) GeneralLedger(ctx context.Context, book, account string, from, to time.Time, p Page) (*GeneralLedger, error) {
	b, err := s.book(ctx, s.db, book)
	if err != nil {
		return nil, err
	}
	var accID int64
	if err := s.db.QueryRow(ctx, `SELECT id FROM ledger_accounts WHERE book_id = $1 AND code = $2`, b.ID, account).Scan(&accID); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, CodeAccountNotFound.New("account %s does not exist in book %s", account, book)
		}
		return nil, err
	}
	var after int64
	if p.Cursor != "" {
		if after, err = strconv.ParseInt(p.Cursor, 10, 64); err != nil {
			return nil, platform.Invalid("cursor %q is not one this API returned", p.Cursor)
		}
	}
	var fromArg any
	if !from.IsZero() {
		fromArg = from
	}
	var opening string
	if err := s.db.QueryRow(ctx, `SELECT coalesce(sum(book_amount), 0)::text FROM ledger_lines
		WHERE account_id = $1 AND $2::date IS NOT NULL AND posting_date < $2::date`, accID, fromArg).Scan(&opening); err != nil {
		return nil, err
	}
	// The running balance is a window over the whole range; the cursor is a row number in it.
	rows, err := s.db.Query(ctx, `SELECT * FROM (
			SELECT row_number() OVER w AS rn, e.id::text, l.posting_date, e.journal, e.reference, e.description, l.line_no,
			  l.book_amount::text, ($4::numeric + sum(l.book_amount) OVER w)::text
			FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id
			WHERE l.account_id = $1 AND l.posting_date <= $3 AND ($2::date IS NULL OR l.posting_date >= $2::date)
			WINDOW w AS (ORDER BY l.posting_date, e.seq, l.line_no ROWS UNBOUNDED PRECEDING)) t
		WHERE rn > $5 ORDER BY rn LIMIT $6`, accID, fromArg, to, opening, after, p.limit()+1)
	if err != nil {
		return nil, err
	}
	openingAmt, err := formatText(opening, b.Currency)
	if err != nil {
		rows.Close()
		return nil, err
	}
	gl := &GeneralLedger{Book: book, Account: account, To: to.Format(DateLayout), Currency: b.Currency,
		OpeningBalance: openingAmt, Lines: []GLLine{}}
	if !from.IsZero() {
		gl.From = from.Format(DateLayout)
	}
	var last int64
	for rows.Next() {
		var (
			l        GLLine
			date     time.Time
			amt, bal string
		)
		if err := rows.Scan(&last, &l.EntryID, &date, &l.Journal, &l.Reference, &l.Description, &l.LineNo, &amt, &bal); err != nil {
			rows.Close()
			return nil, err
		}
		l.PostingDate = date.Format(DateLayout)
		a, err := readAmount(amt)
		if err == nil {
			l.Balance, err = formatText(bal, b.Currency)
		}
		if err != nil {
			rows.Close()
			return nil, err
		}
		if a.IsPositive() {
			l.Debit = FormatAmount(a, b.Currency)
		} else {
			l.Credit = FormatAmount(a.Neg(), b.Currency)
		}
		gl.Lines = append(gl.Lines, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(gl.Lines) > p.limit() {
		gl.Lines = gl.Lines[:p.limit()]
		gl.NextCursor = strconv.FormatInt(after+int64(p.limit()), 10)
	}
	return gl, nil
}

// EntryFilter narrows a list of entries.
type EntryFilter struct {
	Book     string
	Account  string
	From, To time.Time
}

// ListEntries lists entries in posting order (by sequence) after the cursor.
func (s *Store) ListEntries(ctx context.Context, f EntryFilter, p Page) ([]Entry, string, error) {
	b, err := s.book(ctx, s.db, f.Book)
	if err != nil {
		return nil, "", err
	}
	var after int64
	if p.Cursor != "" {
		if after, err = strconv.ParseInt(p.Cursor, 10, 64); err != nil {
			return nil, "", platform.Invalid("cursor %q is not one this API returned", p.Cursor)
		}
	}
	var fromArg, toArg, accArg any
	if !f.From.IsZero() {
		fromArg = f.From
	}
	if !f.To.IsZero() {
		toArg = f.To
	}
	if f.Account != "" {
		accArg = f.Account
	}
	rows, err := s.db.Query(ctx, `SELECT e.seq, e.id FROM ledger_entries e
		WHERE e.book_id = $1 AND e.seq > $2
		  AND ($3::date IS NULL OR e.posting_date >= $3::date) AND ($4::date IS NULL OR e.posting_date <= $4::date)
		  AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM ledger_lines l JOIN ledger_accounts a ON a.id = l.account_id
		      WHERE l.entry_id = e.id AND a.code = $5::text))
		ORDER BY e.seq LIMIT $6`, b.ID, after, fromArg, toArg, accArg, p.limit()+1)
	if err != nil {
		return nil, "", err
	}
	type ref struct {
		seq int64
		id  [16]byte
	}
	refs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ref, error) {
		var x ref
		err := r.Scan(&x.seq, &x.id)
		return x, err
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(refs) > p.limit() {
		refs = refs[:p.limit()]
		next = strconv.FormatInt(refs[len(refs)-1].seq, 10)
	}
	out := make([]Entry, 0, len(refs))
	err = pgx.BeginTxFunc(ctx, s.db, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		for _, r := range refs {
			e, err := s.getEntry(ctx, tx, r.id, false)
			if err != nil {
				return err
			}
			out = append(out, *e)
		}
		return nil
	})
	return out, next, err
}
