package ledger

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/httpx"
)

// FuzzEntryDecodeAndValidate posts any body as far as it goes without a database. A body
// is either refused as invalid input or becomes an entry that balances, whose every amount,
// rate, date and text lies within the ledger's bounds, that reads the same through plain
// encoding/json (no key was given twice or in another case), and whose event matches the
// event schema the outbox relay checks: whatever the ledger accepts, its consumers take.
func FuzzEntryDecodeAndValidate(f *testing.F) {
	f.Add([]byte(`{"book":"acme","posting_date":"2026-01-31","journal":"sales","reference":"INV-1","lines":[{"account":"1200","debit":"119.00"},{"account":"4000","credit":"100.00"},{"account":"2200","credit":"19.00"}]}`))
	f.Add([]byte(`{"book":"acme","posting_date":"2026-01-31","lines":[{"account":"1210","debit":"10.00","currency":"USD","rate":"0.9"},{"account":"4000","credit":"9.00"}]}`))
	f.Add([]byte(`{"book":"acme","posting_date":"2026-02-30","lines":[]}`))
	f.Add([]byte(`{"lines":[{"account":"1000","debit":"1e9"},{"account":"4000","credit":"-0"}]}`))
	accounts := map[string]accountRef{
		"1000": {ID: 1, Code: "1000", Type: Asset, Status: "active", Rule: DebitSide},
		"1200": {ID: 2, Code: "1200", Type: Asset, Status: "active"},
		"1210": {ID: 3, Code: "1210", Type: Asset, Status: "active", Currency: "USD"},
		"2200": {ID: 4, Code: "2200", Type: Liability, Status: "active"},
		"4000": {ID: 5, Code: "4000", Type: Income, Status: "active"},
		"9999": {ID: 6, Code: "9999", Type: Expense, Status: "closed"},
		"1300": {ID: 7, Code: "1300", Type: Asset, Status: "active", Currency: "JPY"},
	}
	rates := func(ccy string) (Amount, bool) {
		if ccy == "USD" {
			r, _ := ParseRate("0.92")
			return r, true
		}
		return Amount{}, false
	}
	set := eventSet(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		var in EntryInput
		if err := httpx.DecodeJSONBytes(body, &in); err != nil {
			if platform.KindOf(err) != platform.KindInvalid {
				t.Fatalf("decode error of kind %v: %v", platform.KindOf(err), err)
			}
			return
		}
		p, err := parse(in)
		if err != nil {
			if platform.KindOf(err) != platform.KindInvalid {
				t.Fatalf("parse error of kind %v: %v", platform.KindOf(err), err)
			}
			return
		}
		pst, err := newPosting(p, "EUR", accounts, rates)
		if err != nil {
			if platform.KindOf(err) != platform.KindInvalid {
				t.Fatalf("posting error of kind %v: %v", platform.KindOf(err), err)
			}
			return
		}

		var plain EntryInput
		if err := json.Unmarshal(body, &plain); err != nil || !reflect.DeepEqual(plain, in) {
			t.Fatalf("encoding/json reads the accepted body otherwise: %+v (%v)", plain, err)
		}
		if p.date.Before(MinDate) || p.date.After(MaxDate) {
			t.Fatalf("accepted the posting date %s", p.date.Format(DateLayout))
		}
		for _, s := range []string{in.Book, in.Journal, in.Reference, in.Description, string(in.Metadata)} {
			if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
				t.Fatalf("accepted the text %q", s)
			}
		}
		for i, l := range in.Lines {
			for _, s := range []*string{l.Debit, l.Credit, l.Rate} {
				if s != nil && *s != "" && !plainDecimal.MatchString(*s) {
					t.Fatalf("line %d: accepted the decimal %q", i, *s)
				}
			}
		}
		if len(pst.lines) < 2 || len(pst.lines) > MaxLines {
			t.Fatalf("accepted an entry of %d lines", len(pst.lines))
		}
		var sum Amount
		for _, l := range pst.lines {
			sum = sum.Add(l.BookAmount)
			switch {
			case l.Amount.IsZero() || l.Amount.Sign() != l.BookAmount.Sign():
				t.Fatalf("line %d has a zero or sign-flipped amount: %s, %s in the book", l.LineNo, l.Amount, l.BookAmount)
			case !fitsDigits(l.Amount, MaxAmountIntegerDigits) || !fitsDigits(l.BookAmount, MaxAmountIntegerDigits):
				t.Fatalf("line %d holds %s (%s in the book), past %d digits", l.LineNo, l.Amount, l.BookAmount, MaxAmountIntegerDigits)
			case checkScale(l.Amount, l.Currency) != nil || checkScale(l.BookAmount, "EUR") != nil:
				t.Fatalf("line %d holds %s %s (%s EUR), finer than the currency", l.LineNo, l.Amount, l.Currency, l.BookAmount)
			case !l.Rate.IsPositive() || !fitsDigits(l.Rate, MaxRateIntegerDigits) || -l.Rate.Exponent() > MaxRateFractionDigits:
				t.Fatalf("line %d has the rate %s", l.LineNo, l.Rate)
			}
		}
		if !sum.IsZero() {
			t.Fatalf("accepted an unbalanced entry: %s over %d lines", sum, len(pst.lines))
		}
		if !fitsDigits(pst.debits, MaxAmountIntegerDigits+3) {
			t.Fatalf("an entry's debits reach %s", pst.debits)
		}

		out := make([]*Entry, 1)
		var b pgx.Batch
		if _, _, err := queueWrites(&b, []*posting{pst}, []bookRef{{ID: 1, Code: in.Book, Currency: "EUR"}},
			[]postOptions{{kind: "standard"}}, []string{"tester"}, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), out); err != nil {
			t.Fatalf("accepted, but cannot be written: %v", err)
		}
		event, err := json.Marshal(out[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := set.Validate(EventEntryPosted, event); err != nil {
			t.Fatalf("accepted, but its event does not match the schema: %.500v", err)
		}
	})
}
