// Package ledgerclient is a typed client of the ledger API for the CLI, the simulator and
// the dev stack's demo data. It only speaks HTTP; it never touches the database.
package ledgerclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/codexion/codexion/ledger"
	"github.com/codexion/codexion/platform/apiclient"
)

// Client calls the ledger API.
type Client struct{ *apiclient.Client }

// New wraps an API client.
func New(c *apiclient.Client) *Client { return &Client{c} }

// BookExists reports whether book exists.
func (c *Client) BookExists(ctx context.Context, book string) (bool, error) {
	_, err := c.Do(ctx, "GET", "/v1/ledger/accounts?limit=1&book="+url.QueryEscape(book), nil, nil)
	var ae *apiclient.Error
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return false, nil
	}
	return err == nil, err
}

// InitBook creates book (unless it exists) and loads a chart template, skipping accounts
// that exist already, so running it twice is harmless. It returns how many accounts it made.
func (c *Client) InitBook(ctx context.Context, book, name, currency, template string) (int, error) {
	chart, ok := ledger.Templates[template]
	if !ok {
		return 0, fmt.Errorf("template %q does not exist; use sme", template)
	}
	if name == "" {
		name = book
	}
	// A new book is created with its chart, so its retained earnings account exists from
	// the start; a book that exists gets the accounts it lacks.
	_, err := c.Do(ctx, "POST", "/v1/ledger/books", ledger.BookInput{Code: book, Name: name, BaseCurrency: currency,
		RetainedEarningsAccount: ledger.TemplateRetainedEarnings, Accounts: chart}, nil)
	var ae *apiclient.Error
	if err == nil {
		return len(chart), nil
	}
	if !errors.As(err, &ae) || ae.Code != "book_exists" {
		return 0, err
	}
	made := 0
	for _, a := range chart {
		a.Book = book
		_, err := c.Do(ctx, "POST", "/v1/ledger/accounts", a, nil)
		if errors.As(err, &ae) && ae.Code == "account_exists" {
			continue
		}
		if err != nil {
			return made, fmt.Errorf("account %s: %w", a.Code, err)
		}
		made++
	}
	return made, nil
}

// TrialBalance fetches the trial balance as of a date ("" for today).
// PeriodTrialBalance returns the trial balance of book for the period from..to (YYYY-MM-DD).
func (c *Client) PeriodTrialBalance(ctx context.Context, book, from, to string) (*ledger.TrialBalance, error) {
	q := url.Values{"book": {book}, "from": {from}, "to": {to}}
	var tb ledger.TrialBalance
	_, err := c.Do(ctx, "GET", "/v1/ledger/trial-balance?"+q.Encode(), nil, &tb)
	return &tb, err
}

func (c *Client) TrialBalance(ctx context.Context, book, asOf string) (*ledger.TrialBalance, error) {
	q := url.Values{"book": {book}}
	if asOf != "" {
		q.Set("as_of", asOf)
	}
	var tb ledger.TrialBalance
	_, err := c.Do(ctx, "GET", "/v1/ledger/trial-balance?"+q.Encode(), nil, &tb)
	return &tb, err
}
