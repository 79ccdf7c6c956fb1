// Package ledger is Codexion's double-entry accounting ledger: books, a chart of accounts,
// journals, immutable journal entries whose lines balance, balances kept in the posting
// transaction, fiscal periods and reports. It is the platform's source of truth; every
// change it makes is written to the outbox in the same transaction. It never stores an
// entry that does not balance and never changes an entry once posted.
package ledger

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/codexion/codexion/platform"
)

// AccountType is one of the five kinds of account.
type AccountType string

const (
	Asset     AccountType = "asset"
	Liability AccountType = "liability"
	Equity    AccountType = "equity"
	Income    AccountType = "income"
	Expense   AccountType = "expense"
)

// AccountTypes lists every type.
var AccountTypes = []AccountType{Asset, Liability, Equity, Income, Expense}

// DebitNormal says whether the type's balance normally sits on the debit side.
func (t AccountType) DebitNormal() bool { return t == Asset || t == Expense }

// BalanceRule limits which side an account's balance may be on.
type BalanceRule string

const (
	EitherSide BalanceRule = "either"
	DebitSide  BalanceRule = "debit"  // debits - credits must stay >= 0
	CreditSide BalanceRule = "credit" // credits - debits must stay >= 0
)

// Journals every new book gets.
var DefaultJournals = []Journal{
	{Code: "general", Name: "General journal"},
	{Code: "sales", Name: "Sales journal"},
	{Code: "purchases", Name: "Purchases journal"},
	{Code: "bank", Name: "Bank journal"},
}

// Book is one company's set of accounts, with its base currency.
type Book struct {
	Code                    string    `json:"code"`
	Name                    string    `json:"name"`
	BaseCurrency            string    `json:"base_currency"`
	RetainedEarningsAccount string    `json:"retained_earnings_account,omitempty"`
	CreatedAt               time.Time `json:"created_at"`
}

// Journal groups entries by origin.
type Journal struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// Account is one node of the chart of accounts.
type Account struct {
	Book        string      `json:"book"`
	Code        string      `json:"code"`
	Name        string      `json:"name"`
	Type        AccountType `json:"type"`
	Parent      string      `json:"parent,omitempty"`
	Currency    string      `json:"currency,omitempty"`
	Status      string      `json:"status"`
	BalanceRule BalanceRule `json:"balance_rule"`
	CreatedAt   time.Time   `json:"created_at"`
	Balances    []Balance   `json:"balances,omitempty"`
	Rollup      *Balance    `json:"rollup,omitempty"`
}

// Balance is an account's totals in one currency. Balance is Debit - Credit.
type Balance struct {
	Currency    string `json:"currency"`
	Debit       string `json:"debit"`
	Credit      string `json:"credit"`
	Balance     string `json:"balance"`
	BookBalance string `json:"book_balance"`
	AsOf        string `json:"as_of,omitempty"`
}

// Entry is a posted journal entry.
type Entry struct {
	ID          string          `json:"id"`
	Book        string          `json:"book"`
	PostingDate string          `json:"posting_date"`
	Journal     string          `json:"journal"`
	Reference   string          `json:"reference"`
	Description string          `json:"description"`
	Metadata    json.RawMessage `json:"metadata"`
	Kind        string          `json:"kind"`
	Reverses    string          `json:"reverses,omitempty"`
	ReversedBy  string          `json:"reversed_by,omitempty"`
	CreatedBy   string          `json:"created_by"`
	CreatedAt   time.Time       `json:"created_at"`
	Lines       []Line          `json:"lines"`
}

// Line is one debit or credit of an entry.
type Line struct {
	LineNo     int               `json:"line_no"`
	Account    string            `json:"account"`
	Debit      string            `json:"debit,omitempty"`
	Credit     string            `json:"credit,omitempty"`
	Currency   string            `json:"currency"`
	Rate       string            `json:"rate,omitempty"`
	BookAmount string            `json:"book_amount"` // signed: + debit, - credit
	Memo       string            `json:"memo,omitempty"`
	Dimensions map[string]string `json:"dimensions,omitempty"`
}

// EntryInput is what a client posts.
type EntryInput struct {
	Book        string          `json:"book"`
	PostingDate string          `json:"posting_date"`
	Journal     string          `json:"journal,omitempty"`
	Reference   string          `json:"reference,omitempty"`
	Description string          `json:"description,omitempty"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	Lines       []LineInput     `json:"lines"`
}

// LineInput is one line as posted. Exactly one of Debit and Credit is set.
type LineInput struct {
	Account    string            `json:"account"`
	Debit      *string           `json:"debit,omitempty"`
	Credit     *string           `json:"credit,omitempty"`
	Currency   string            `json:"currency,omitempty"`
	Rate       *string           `json:"rate,omitempty"`
	Memo       string            `json:"memo,omitempty"`
	Dimensions map[string]string `json:"dimensions,omitempty"`
}

var codePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// validationError collects field errors into one Invalid error.
type validationError struct{ fields []platform.FieldError }

func (v *validationError) add(field, format string, args ...any) {
	v.fields = append(v.fields, platform.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *validationError) err() error {
	if len(v.fields) == 0 {
		return nil
	}
	msgs := make([]string, 0, len(v.fields))
	for _, f := range v.fields {
		msgs = append(msgs, f.Field+": "+f.Message)
	}
	return &platform.Error{Kind: CodeInvalidEntry.Kind, Code: CodeInvalidEntry.Code, Message: strings.Join(msgs, "; "), Fields: v.fields}
}

// parsedLine is a line whose amount has been read.
type parsedLine struct {
	LineInput
	debit  bool
	amount Amount // positive
	rate   *Amount
}

// parsedEntry is an entry input that passed the checks needing no database.
type parsedEntry struct {
	EntryInput
	date  time.Time
	lines []parsedLine
}

// entryLimits are the bounds an entry is parsed under. Clients post under inputLimits;
// the ledger's own closing entries carry balances and one line per account.
type entryLimits struct {
	amounts decimalBounds
	lines   int
}

var (
	inputLimits   = entryLimits{amounts: amountBounds, lines: MaxLines}
	closingLimits = entryLimits{amounts: balanceBounds, lines: maxClosingLines}
)

// parse checks everything in a client's entry that can be checked without the database.
func parse(in EntryInput) (*parsedEntry, error) { return parseWith(in, inputLimits) }

// parseWith checks shape, bounds, dates and amounts: plain decimals, positive, one side
// per line, at most lim.lines lines.
func parseWith(in EntryInput, lim entryLimits) (*parsedEntry, error) {
	var v validationError
	if in.Journal == "" {
		in.Journal = "general"
	}
	date := v.header(in)
	switch n := len(in.Lines); {
	case n < 2:
		v.add("lines", "has %d line(s); an entry needs at least two", n)
	case n > lim.lines:
		v.add("lines", "has %d lines; at most %d are allowed", n, lim.lines)
	}
	p := &parsedEntry{EntryInput: in, date: date}
	for i, l := range in.Lines[:min(len(in.Lines), lim.lines)] {
		if pl, ok := v.line(fmt.Sprintf("lines[%d]", i), l, lim); ok {
			p.lines = append(p.lines, pl)
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return p, nil
}

// header checks the entry's own fields and returns its posting date.
func (v *validationError) header(in EntryInput) time.Time {
	v.code("book", in.Book)
	v.code("journal", in.Journal)
	date, err := parseDate(in.PostingDate)
	if err != nil {
		v.add("posting_date", "%v", err)
	}
	v.text("reference", in.Reference, MaxTextBytes)
	v.text("description", in.Description, MaxTextBytes)
	if f := checkMetadata(in.Metadata); f != nil {
		v.add(f.Field, "%s", f.Message)
	}
	return date
}

// line checks one line; ok is false when its amount could not be read.
func (v *validationError) line(f string, l LineInput, lim entryLimits) (parsedLine, bool) {
	pl := parsedLine{LineInput: l}
	v.code(f+".account", l.Account)
	if l.Currency != "" {
		if _, ok := MinorUnits(l.Currency); !ok {
			v.add(f+".currency", "%s is not an ISO 4217 code this ledger knows", clip(l.Currency))
		}
	}
	if l.Rate != nil {
		r, err := ParseRate(*l.Rate)
		switch {
		case err != nil:
			v.add(f+".rate", "%v", err)
		case !r.IsPositive():
			v.add(f+".rate", "must be greater than zero")
		default:
			pl.rate = &r
		}
	}
	v.dimensions(f+".dimensions", l.Dimensions)
	v.text(f+".memo", l.Memo, MaxTextBytes)
	side, raw := "debit", l.Debit
	switch {
	case l.Debit != nil && l.Credit != nil:
		v.add(f, "has both debit and credit; a line is one or the other")
		return pl, false
	case l.Debit == nil && l.Credit == nil:
		v.add(f, "has neither debit nor credit")
		return pl, false
	case l.Credit != nil:
		side, raw = "credit", l.Credit
	}
	amt, err := parseDecimal(*raw, lim.amounts)
	if err != nil {
		v.add(f+"."+side, "%v", err)
		return pl, false
	}
	if !amt.IsPositive() {
		v.add(f+"."+side, "%s must be greater than zero", amt.String())
		return pl, false
	}
	pl.debit, pl.amount = side == "debit", amt
	return pl, true
}

// accountRef is what posting needs to know of an account.
type accountRef struct {
	ID       int64
	Code     string
	Type     AccountType
	Currency string
	Status   string
	Rule     BalanceRule
}

// postingLine is a line ready to store: amounts signed (+ debit, - credit).
type postingLine struct {
	LineNo     int
	Account    accountRef
	Currency   string
	Amount     Amount
	Rate       Amount
	BookAmount Amount
	Memo       string
	Dimensions map[string]string
}

// posting is an entry that balances in the book currency. It is only built by
// newPosting, which refuses anything that does not balance.
type posting struct {
	in       *parsedEntry
	bookCode string
	bookCcy  string
	lines    []postingLine
	debits   Amount
}

// rateFor looks up the book-currency rate for a foreign currency on a date.
type rateFor func(currency string) (Amount, bool)

// newPosting resolves accounts, currencies and rates and checks that the entry balances
// in the book currency. accounts maps code to account for the entry's book only.
func newPosting(p *parsedEntry, bookCcy string, accounts map[string]accountRef, rates rateFor) (*posting, error) {
	var v validationError
	out := &posting{in: p, bookCode: p.Book, bookCcy: bookCcy}
	var debits, credits Amount
	for i, l := range p.lines {
		f := fmt.Sprintf("lines[%d]", i)
		acc, ok := accounts[l.Account]
		if !ok {
			v.add(f+".account", "account %s does not exist in book %s", l.Account, p.Book)
			continue
		}
		if acc.Status != "active" {
			v.add(f+".account", "account %s is closed", l.Account)
			continue
		}
		ccy := l.Currency
		if ccy == "" {
			ccy = acc.Currency
		}
		if ccy == "" {
			ccy = bookCcy
		}
		if acc.Currency != "" && ccy != acc.Currency {
			v.add(f+".currency", "account %s only takes %s, not %s", l.Account, acc.Currency, ccy)
			continue
		}
		side := "debit"
		if !l.debit {
			side = "credit"
		}
		if err := checkScale(l.amount, ccy); err != nil {
			v.add(f+"."+side, "%v", err)
			continue
		}
		rate := decimalOne
		bookAmt := l.amount
		if ccy != bookCcy {
			switch {
			case l.rate != nil:
				rate = *l.rate
			default:
				r, ok := rates(ccy)
				if !ok {
					v.add(f+".rate", "no exchange rate from %s to %s on or before %s; post one to /v1/ledger/rates or give the line a rate",
						ccy, bookCcy, p.PostingDate)
					continue
				}
				rate = r
			}
			mu, _ := MinorUnits(bookCcy)
			bookAmt = l.amount.Mul(rate).RoundBank(mu)
			if bookAmt.IsZero() {
				v.add(f+"."+side, "%s %s is zero in %s at rate %s", l.amount.String(), ccy, bookCcy, rate.String())
				continue
			}
			if !fitsDigits(bookAmt, MaxAmountIntegerDigits) {
				v.add(f+"."+side, "%s %s at rate %s is %s %s; a line's book amount has at most %d digits before the point",
					l.amount.String(), ccy, rate.String(), FormatAmount(bookAmt, bookCcy), bookCcy, MaxAmountIntegerDigits)
				continue
			}
		} else if l.rate != nil && !l.rate.Equal(decimalOne) {
			v.add(f+".rate", "is for foreign-currency lines; %s is the book currency", ccy)
			continue
		}
		amt := l.amount
		if l.debit {
			debits = debits.Add(bookAmt)
		} else {
			credits = credits.Add(bookAmt)
			amt, bookAmt = amt.Neg(), bookAmt.Neg()
		}
		out.lines = append(out.lines, postingLine{
			LineNo: i + 1, Account: acc, Currency: ccy, Amount: amt, Rate: rate, BookAmount: bookAmt,
			Memo: l.Memo, Dimensions: l.Dimensions,
		})
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if !debits.Equal(credits) {
		diff := debits.Sub(credits)
		return nil, &platform.Error{Kind: CodeEntryUnbalanced.Kind, Code: CodeEntryUnbalanced.Code,
			Message: fmt.Sprintf("lines: debits %s and credits %s differ by %s %s in the book currency; an entry must balance",
				FormatAmount(debits, bookCcy), FormatAmount(credits, bookCcy), FormatAmount(diff.Abs(), bookCcy), bookCcy),
			Fields: []platform.FieldError{{Field: "lines", Message: "debits and credits differ by " + FormatAmount(diff.Abs(), bookCcy) + " " + bookCcy}}}
	}
	out.debits = debits
	return out, nil
}

// accountCodes lists the distinct account codes an entry uses, sorted.
func (p *parsedEntry) accountCodes() []string {
	codes := make([]string, 0, len(p.lines))
	for _, l := range p.lines {
		codes = append(codes, l.Account)
	}
	slices.Sort(codes)
	return slices.Compact(codes)
}

// period is the yyyy-mm of a date.
func period(d time.Time) string { return d.Format("2006-01") }

// ValidCode says whether s may be a book, account or journal code.
func ValidCode(s string) bool { return len(s) <= maxCodeBytes && codePattern.MatchString(s) }
