package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/codexion/codexion/platform"
)

// maxChartAccounts bounds the accounts a book is created with.
const maxChartAccounts = 1000

// BookInput creates a book, optionally with its chart of accounts.
type BookInput struct {
	Code         string `json:"code"`
	Name         string `json:"name"`
	BaseCurrency string `json:"base_currency"`
	// RetainedEarningsAccount is where the year-end close moves income and expense: an
	// equity account of Accounts.
	RetainedEarningsAccount string `json:"retained_earnings_account,omitempty"`
	// Accounts are created with the book, in order (parents before children).
	Accounts []AccountInput `json:"accounts,omitempty"`
}

// AccountInput creates an account.
type AccountInput struct {
	Book        string      `json:"book"`
	Code        string      `json:"code"`
	Name        string      `json:"name"`
	Type        AccountType `json:"type"`
	Parent      string      `json:"parent,omitempty"`
	Currency    string      `json:"currency,omitempty"`
	BalanceRule BalanceRule `json:"balance_rule,omitempty"`
}

// CreateBook creates a book with the default journals and the accounts given. A book's
// special accounts exist from the start: the retained earnings account must be one of the
// accounts created with it, of type equity.
func (s *Store) CreateBook(ctx context.Context, in BookInput) (*Book, error) {
	if err := checkBook(in); err != nil {
		return nil, err
	}
	var b Book
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var id int64
		var re *string
		if in.RetainedEarningsAccount != "" {
			re = &in.RetainedEarningsAccount
		}
		err := tx.QueryRow(ctx, `INSERT INTO ledger_books (code, name, base_currency, retained_earnings_account) VALUES ($1, $2, $3, $4)
			RETURNING id, code, name, base_currency, coalesce(retained_earnings_account, ''), created_at`, in.Code, in.Name, in.BaseCurrency, re).
			Scan(&id, &b.Code, &b.Name, &b.BaseCurrency, &b.RetainedEarningsAccount, &b.CreatedAt)
		if pgCode(err) == "23505" {
			return CodeBookExists.New("book %q already exists", in.Code)
		}
		if err != nil {
			return err
		}
		for _, j := range DefaultJournals {
			if _, err := tx.Exec(ctx, `INSERT INTO ledger_journals (book_id, code, name) VALUES ($1, $2, $3)`, id, j.Code, j.Name); err != nil {
				return err
			}
		}
		if err := s.queueEvent(ctx, tx, in.Code, in.Code, EventBookCreated, b); err != nil {
			return err
		}
		ref := bookRef{ID: id, Code: in.Code, Currency: in.BaseCurrency}
		for i, a := range in.Accounts {
			a.Book = in.Code
			if _, err := s.createAccount(ctx, tx, ref, a); err != nil {
				return prefixedField(err, fmt.Sprintf("accounts[%d]", i))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// checkBook validates a book and its chart without the database.
func checkBook(in BookInput) error {
	var v validationError
	v.code("code", in.Code)
	v.name("name", in.Name)
	if _, ok := MinorUnits(in.BaseCurrency); !ok {
		v.add("base_currency", "%s is not an ISO 4217 code this ledger knows", clip(in.BaseCurrency))
	}
	if len(in.Accounts) > maxChartAccounts {
		v.add("accounts", "has %d accounts; at most %d are allowed (add more with POST /v1/ledger/accounts)", len(in.Accounts), maxChartAccounts)
		return v.err()
	}
	for i, a := range in.Accounts {
		a.Book = in.Code
		v.account(fmt.Sprintf("accounts[%d].", i), &a)
	}
	if re := in.RetainedEarningsAccount; re != "" {
		v.retainedEarnings(re, in.Accounts)
	}
	return v.err()
}

// retainedEarnings checks that the retained earnings account is an equity account of chart.
func (v *validationError) retainedEarnings(code string, chart []AccountInput) {
	const field = "retained_earnings_account"
	if !ValidCode(code) {
		v.code(field, code)
		return
	}
	for _, a := range chart {
		if a.Code != code {
			continue
		}
		if a.Type != Equity {
			v.add(field, "account %s is %s; retained earnings must be an equity account", code, clip(string(a.Type)))
		}
		return
	}
	v.add(field, "account %s is not among the book's accounts; list it in accounts (type equity) so the year-end close has somewhere to go", code)
}

// name checks a required name.
func (v *validationError) name(field, s string) {
	if s == "" {
		v.add(field, "is required")
		return
	}
	v.text(field, s, MaxTextBytes)
}

// account checks an account's fields; prefix names it within a larger request.
func (v *validationError) account(prefix string, in *AccountInput) {
	v.code(prefix+"book", in.Book)
	v.code(prefix+"code", in.Code)
	v.name(prefix+"name", in.Name)
	if !validType(in.Type) {
		v.add(prefix+"type", "%s is not one of asset, liability, equity, income, expense", clip(string(in.Type)))
	}
	if in.Parent != "" {
		v.code(prefix+"parent", in.Parent)
	}
	if in.Currency != "" {
		if _, ok := MinorUnits(in.Currency); !ok {
			v.add(prefix+"currency", "%s is not an ISO 4217 code this ledger knows", clip(in.Currency))
		}
	}
	if in.BalanceRule == "" {
		in.BalanceRule = EitherSide
	}
	if in.BalanceRule != EitherSide && in.BalanceRule != DebitSide && in.BalanceRule != CreditSide {
		v.add(prefix+"balance_rule", "%s is not one of either, debit, credit", clip(string(in.BalanceRule)))
	}
}

// CreateAccount adds an account to a book's chart.
func (s *Store) CreateAccount(ctx context.Context, in AccountInput) (*Account, error) {
	var v validationError
	v.account("", &in)
	if err := v.err(); err != nil {
		return nil, err
	}
	var a *Account
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		b, err := s.book(ctx, tx, in.Book)
		if err != nil {
			return err
		}
		a, err = s.createAccount(ctx, tx, b, in)
		return err
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// createAccount inserts a checked account into book b inside tx.
func (s *Store) createAccount(ctx context.Context, tx pgx.Tx, b bookRef, in AccountInput) (*Account, error) {
	if in.BalanceRule == "" {
		in.BalanceRule = EitherSide
	}
	parentID, err := parentOf(ctx, tx, b, in)
	if err != nil {
		return nil, err
	}
	var ccy *string
	if in.Currency != "" {
		ccy = &in.Currency
	}
	var a Account
	err = tx.QueryRow(ctx, `INSERT INTO ledger_accounts (book_id, code, name, type, parent_id, currency, balance_rule)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING status, created_at`,
		b.ID, in.Code, in.Name, in.Type, parentID, ccy, in.BalanceRule).Scan(&a.Status, &a.CreatedAt)
	if pgCode(err) == "23505" {
		return nil, CodeAccountExists.New("account %s already exists in book %s", in.Code, in.Book)
	}
	if err != nil {
		return nil, err
	}
	a.Book, a.Code, a.Name, a.Type, a.Parent, a.Currency, a.BalanceRule = in.Book, in.Code, in.Name, in.Type, in.Parent, in.Currency, in.BalanceRule
	if err := s.queueEvent(ctx, tx, in.Book, in.Book+"/"+in.Code, EventAccountCreated, a); err != nil {
		return nil, err
	}
	return &a, nil
}

// parentOf resolves an account's parent, which must exist and have the account's type.
func parentOf(ctx context.Context, tx pgx.Tx, b bookRef, in AccountInput) (*int64, error) {
	if in.Parent == "" {
		return nil, nil
	}
	var pid int64
	var ptype AccountType
	err := tx.QueryRow(ctx, `SELECT id, type FROM ledger_accounts WHERE book_id = $1 AND code = $2`, b.ID, in.Parent).Scan(&pid, &ptype)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &platform.Error{Kind: CodeInvalidAccount.Kind, Code: CodeInvalidAccount.Code,
			Message: fmt.Sprintf("parent: account %s does not exist in book %s", in.Parent, in.Book),
			Fields:  []platform.FieldError{{Field: "parent", Message: "account " + in.Parent + " does not exist"}}}
	}
	if err != nil {
		return nil, err
	}
	if ptype != in.Type {
		return nil, &platform.Error{Kind: CodeInvalidAccount.Kind, Code: CodeInvalidAccount.Code,
			Message: fmt.Sprintf("parent: account %s is %s; a child must have its parent's type (%s given)", in.Parent, ptype, in.Type),
			Fields:  []platform.FieldError{{Field: "parent", Message: "type differs from the parent's"}}}
	}
	return &pid, nil
}

// prefixedField names a nested request's field within the outer request.
func prefixedField(err error, prefix string) error {
	var pe *platform.Error
	if !errors.As(err, &pe) || pe.Kind != platform.KindInvalid {
		return err
	}
	out := *pe
	out.Message = prefix + "." + pe.Message
	out.Fields = make([]platform.FieldError, len(pe.Fields))
	for j, f := range pe.Fields {
		out.Fields[j] = platform.FieldError{Field: prefix + "." + f.Field, Message: f.Message}
	}
	return &out
}
