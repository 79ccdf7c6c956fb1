package ledger

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/idempotency"
)

var periodPattern = regexp.MustCompile(`^\d{4}-(0[1-9]|1[0-2])$`)

// Period is a month of a book.
type Period struct {
	Book         string     `json:"book"`
	Period       string     `json:"period"`
	Status       string     `json:"status"`
	ClosedAt     *time.Time `json:"closed_at,omitempty"`
	ClosedBy     string     `json:"closed_by,omitempty"`
	ReopenedAt   *time.Time `json:"reopened_at,omitempty"`
	ReopenedBy   string     `json:"reopened_by,omitempty"`
	ReopenReason string     `json:"reopen_reason,omitempty"`
	ClosingEntry string     `json:"closing_entry,omitempty"`
}

func parsePeriod(p string) (time.Time, error) {
	if !periodPattern.MatchString(p) {
		return time.Time{}, platform.Invalid("period %s is not a month; write it as YYYY-MM", clip(p))
	}
	start, err := time.Parse("2006-01", p)
	if err == nil && (start.Before(MinDate) || start.After(MaxDate)) {
		return time.Time{}, platform.Invalid("period %s is outside the ledger's dates, %s to %s", p, MinDate.Format(DateLayout), MaxDate.Format(DateLayout))
	}
	return start, err
}

// ClosePeriod forbids postings dated in the period. Closing December also closes the
// year: income and expense balances move into the book's retained earnings account in a
// closing entry dated the 31st, posted before the period closes.
func (s *Store) ClosePeriod(ctx context.Context, book, per, actor string, key *idempotency.Key) (*Period, error) {
	start, err := parsePeriod(per)
	if err != nil {
		return nil, err
	}
	var out *Period
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		b, err := s.book(ctx, tx, book)
		if err != nil {
			return err
		}
		// A replay answers exactly as the first close did.
		out, _, err = idempotency.Do(ctx, tx, key, 200, func() (*Period, error) {
			if _, err := tx.Exec(ctx, `INSERT INTO ledger_periods (book_id, period) VALUES ($1, $2) ON CONFLICT DO NOTHING`, b.ID, per); err != nil {
				return nil, err
			}
			// The exclusive period lock waits for posts in flight (they hold it shared) and
			// keeps new ones out until the close commits.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(ledger_period_lock_key($1, $2))`, b.ID, per); err != nil {
				return nil, err
			}
			var status string
			if err := tx.QueryRow(ctx, `SELECT status FROM ledger_periods WHERE book_id = $1 AND period = $2 FOR UPDATE`, b.ID, per).Scan(&status); err != nil {
				return nil, err
			}
			if status == "closed" {
				return nil, CodePeriodClosed.New("period %s of book %s is already closed", per, book)
			}
			var closing string
			if start.Month() == time.December {
				closing, err = s.closeYear(ctx, tx, b, start.Year(), actor)
				if err != nil {
					return nil, err
				}
			}
			if _, err := tx.Exec(ctx, `UPDATE ledger_periods SET status = 'closed', closed_at = now(), closed_by = $3
				WHERE book_id = $1 AND period = $2`, b.ID, per, actor); err != nil {
				return nil, err
			}
			out, err := s.getPeriod(ctx, tx, b, per)
			if err != nil {
				return nil, err
			}
			out.ClosingEntry = closing
			if err := s.queueEvent(ctx, tx, book, book+"/"+per, EventPeriodClosed, out); err != nil {
				return nil, err
			}
			return out, nil
		})
		return err
	})
	return out, err
}

// closeYear posts the year-end closing entry and returns its id ("" when there was
// nothing to close).
func (s *Store) closeYear(ctx context.Context, tx pgx.Tx, b bookRef, year int, actor string) (string, error) {
	if b.RetainedEarnings == "" {
		return "", CodeNoRetainedEarningsAccount.New("book %s has no retained_earnings_account, so %d-12 cannot close the year; set one on the book", b.Code, year)
	}
	end := time.Date(year, time.December, 31, 0, 0, 0, 0, time.UTC)
	rows, err := tx.Query(ctx, `SELECT a.code, sum(l.book_amount)::text FROM ledger_lines l
		JOIN ledger_accounts a ON a.id = l.account_id
		WHERE l.book_id = $1 AND a.type IN ('income', 'expense') AND l.posting_date <= $2
		GROUP BY a.code HAVING sum(l.book_amount) <> 0 ORDER BY a.code LIMIT $3`, b.ID, end, maxClosingLines)
	if err != nil {
		return "", err
	}
	type bal struct {
		code string
		amt  Amount
	}
	balances, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (bal, error) {
		var x bal
		var s string
		if err := r.Scan(&x.code, &s); err != nil {
			return x, err
		}
		x.amt, err = readAmount(s)
		return x, err
	})
	if err != nil || len(balances) == 0 {
		return "", err
	}
	if len(balances) >= maxClosingLines {
		return "", CodeYearEndTooLarge.New("book %s has %d or more income and expense accounts with a balance; one closing entry holds at most %d lines", b.Code, len(balances), maxClosingLines-1)
	}
	in := EntryInput{Book: b.Code, PostingDate: end.Format(DateLayout), Journal: "general",
		Reference: fmt.Sprintf("YE-%d", year), Description: fmt.Sprintf("Year-end close %d: income and expense to retained earnings", year)}
	var net Amount
	for _, x := range balances {
		if !fitsDigits(x.amt, maxBalanceIntegerDigits) {
			return "", CodeYearEndTooLarge.New("account %s's balance %s has more than %d digits before the point, more than the feature store holds", x.code, FormatAmount(x.amt, b.Currency), maxBalanceIntegerDigits)
		}
		amt := FormatAmount(x.amt.Abs(), b.Currency)
		if x.amt.IsPositive() { // debit balance (expense): credit it away
			in.Lines = append(in.Lines, LineInput{Account: x.code, Credit: &amt, Currency: b.Currency})
		} else {
			in.Lines = append(in.Lines, LineInput{Account: x.code, Debit: &amt, Currency: b.Currency})
		}
		net = net.Add(x.amt)
	}
	if !fitsDigits(net, maxBalanceIntegerDigits) {
		return "", CodeYearEndTooLarge.New("the year's result %s has more than %d digits before the point, more than the feature store holds", FormatAmount(net, b.Currency), maxBalanceIntegerDigits)
	}
	if !net.IsZero() {
		amt := FormatAmount(net.Abs(), b.Currency)
		if net.IsPositive() { // a loss: debit retained earnings
			in.Lines = append(in.Lines, LineInput{Account: b.RetainedEarnings, Debit: &amt, Currency: b.Currency})
		} else {
			in.Lines = append(in.Lines, LineInput{Account: b.RetainedEarnings, Credit: &amt, Currency: b.Currency})
		}
	}
	if len(in.Lines) < 2 {
		return "", nil
	}
	p, err := parseWith(in, closingLimits)
	if err != nil {
		return "", err
	}
	e, err := s.post(ctx, tx, p, actor, postOptions{kind: "closing", skipPeriodCheck: true})
	if err != nil {
		return "", fmt.Errorf("year-end closing entry: %w", err)
	}
	return e.ID, nil
}

// minReasonBytes is the shortest reason for reopening a period.
const minReasonBytes = 3

// ReopenPeriod allows postings again; the reason is kept.
func (s *Store) ReopenPeriod(ctx context.Context, book, per, reason, actor string) (*Period, error) {
	if _, err := parsePeriod(per); err != nil {
		return nil, err
	}
	if len(reason) < minReasonBytes || textProblem(reason, MaxTextBytes) != "" {
		msg := cmpOr(textProblem(reason, MaxTextBytes), "is required")
		return nil, &platform.Error{Kind: CodeReasonRequired.Kind, Code: CodeReasonRequired.Code,
			Message: fmt.Sprintf("reason: reopening a closed period needs a reason of %d to %d bytes of text; this one %s", minReasonBytes, MaxTextBytes, msg),
			Fields:  []platform.FieldError{{Field: "reason", Message: msg}}}
	}
	var out *Period
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		b, err := s.book(ctx, tx, book)
		if err != nil {
			return err
		}
		var status string
		err = tx.QueryRow(ctx, `SELECT status FROM ledger_periods WHERE book_id = $1 AND period = $2 FOR UPDATE`, b.ID, per).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) || status == "open" {
			return CodePeriodOpen.New("period %s of book %s is open; only a closed period can be reopened", per, book)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE ledger_periods SET status = 'open', reopened_at = now(), reopened_by = $3, reopen_reason = $4
			WHERE book_id = $1 AND period = $2`, b.ID, per, actor, reason); err != nil {
			return err
		}
		out, err = s.getPeriod(ctx, tx, b, per)
		if err != nil {
			return err
		}
		err = s.queueEvent(ctx, tx, book, book+"/"+per, EventPeriodReopened, out)
		return err
	})
	return out, err
}

func (s *Store) getPeriod(ctx context.Context, q querier, b bookRef, per string) (*Period, error) {
	p := Period{Book: b.Code, Period: per}
	var closedBy, reopenedBy, reason *string
	err := q.QueryRow(ctx, `SELECT status, closed_at, closed_by, reopened_at, reopened_by, reopen_reason
		FROM ledger_periods WHERE book_id = $1 AND period = $2`, b.ID, per).
		Scan(&p.Status, &p.ClosedAt, &closedBy, &p.ReopenedAt, &reopenedBy, &reason)
	if errors.Is(err, pgx.ErrNoRows) {
		p.Status = "open"
		return &p, nil
	}
	if err != nil {
		return nil, err
	}
	p.ClosedBy, p.ReopenedBy, p.ReopenReason = deref(closedBy), deref(reopenedBy), deref(reason)
	return &p, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// RateInput records an exchange rate: 1 unit of Currency is Rate units of the book's
// base currency from EffectiveDate on.
type RateInput struct {
	Book          string `json:"book"`
	Currency      string `json:"currency"`
	EffectiveDate string `json:"effective_date"`
	Rate          string `json:"rate"`
}

// PutRate records (or corrects) a rate for a day.
func (s *Store) PutRate(ctx context.Context, in RateInput) (*RateInput, error) {
	var v validationError
	v.code("book", in.Book)
	if _, ok := MinorUnits(in.Currency); !ok {
		v.add("currency", "%s is not an ISO 4217 code this ledger knows", clip(in.Currency))
	}
	d, err := parseDate(in.EffectiveDate)
	if err != nil {
		v.add("effective_date", "%v", err)
	}
	r, err := ParseRate(in.Rate)
	switch {
	case err != nil:
		v.add("rate", "%v", err)
	case !r.IsPositive():
		v.add("rate", "must be greater than zero")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	b, err := s.book(ctx, s.db, in.Book)
	if err != nil {
		return nil, err
	}
	if in.Currency == b.Currency {
		return nil, platform.Invalid("currency: %s is book %s's base currency; rates are for other currencies", in.Currency, in.Book)
	}
	_, err = s.db.Exec(ctx, `INSERT INTO ledger_rates (book_id, currency, effective_date, rate) VALUES ($1, $2, $3, $4::numeric)
		ON CONFLICT (book_id, currency, effective_date) DO UPDATE SET rate = EXCLUDED.rate, created_at = now()`, b.ID, in.Currency, d, r.String())
	if err != nil {
		return nil, err
	}
	in.Rate = r.String()
	return &in, nil
}
