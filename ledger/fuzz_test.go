package ledger

import (
	"testing"

	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/httpx"
)

// FuzzEntryDecodeAndValidate: any body either decodes and validates or is refused as
// invalid input; nothing panics, and whatever passes balances.
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
	}
	rates := func(ccy string) (Amount, bool) {
		if ccy == "USD" {
			r, _ := ParseAmount("0.92")
			return r, true
		}
		return Amount{}, false
	}
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
		var sum Amount
		for _, l := range pst.lines {
			sum = sum.Add(l.BookAmount)
			if l.Amount.IsZero() || l.Amount.Sign() != l.BookAmount.Sign() {
				t.Fatalf("line %+v has a zero or sign-flipped amount", l)
			}
		}
		if !sum.IsZero() || len(pst.lines) < 2 {
			t.Fatalf("accepted an unbalanced entry: %s over %d lines", sum, len(pst.lines))
		}
	})
}
