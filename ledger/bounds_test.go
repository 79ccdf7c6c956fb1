package ledger_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/codexion/codexion/ledger"
)

// Amounts at the bound (15 digits before the point) and one digit past it.
const (
	maxEUR  = "999999999999999.99"
	pastEUR = "1000000000000000.00"
	maxRate = "999999.999999999999"
)

type problem struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// refused asserts a 400 problem whose errors name field, with one of codes.
func (a *api) refused(t *testing.T, r response, field string, codes ...string) problem {
	t.Helper()
	var p problem
	if r.status != 400 {
		t.Fatalf("status %d, want 400: %.300s", r.status, r.body)
	}
	r.decode(t, &p)
	named := false
	for _, e := range p.Errors {
		named = named || e.Field == field
	}
	if !named && !strings.Contains(p.Detail, field) {
		t.Fatalf("problem does not name %s: %.300s", field, r.body)
	}
	if len(codes) > 0 && !contains(codes, p.Code) {
		t.Fatalf("code %q, want one of %v", p.Code, codes)
	}
	return p
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// written counts what a write leaves behind: entries and outbox events.
func (a *api) written(t *testing.T) [2]int {
	t.Helper()
	var n [2]int
	err := a.DB.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM ledger_entries), (SELECT count(*) FROM codexion_outbox)`).Scan(&n[0], &n[1])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func entryJSON(date, debitAcc, creditAcc, amount string) string {
	return fmt.Sprintf(`{"book":"acme","posting_date":%q,"lines":[{"account":%q,"debit":%q},{"account":%q,"credit":%q}]}`,
		date, debitAcc, amount, creditAcc, amount)
}

func TestAmountsAtTheBoundPostReadBackAndReportExactly(t *testing.T) {
	a := newAPI(t, 1<<20)
	a.setupAcme()
	const n = 3 // sums of three lines at the bound pass 15 digits
	for range n {
		a.must(201, a.do("finance", "POST", "/v1/ledger/entries", entryJSON("2026-03-10", "1200", "4000", maxEUR)))
	}
	before := a.written(t)
	a.refused(t, a.do("finance", "POST", "/v1/ledger/entries", entryJSON("2026-03-10", "1200", "4000", pastEUR)), "lines[0].debit", "invalid_entry")
	if after := a.written(t); after != before {
		t.Fatalf("a refused post wrote %v -> %v", before, after)
	}

	total := "2999999999999999.97" // n * maxEUR
	var list ledger.List[ledger.Entry]
	a.must(200, a.do("finance", "GET", "/v1/ledger/entries?book=acme", nil)).decode(t, &list)
	for _, e := range list.Items {
		if e.Lines[0].Debit != maxEUR || e.Lines[1].Credit != maxEUR || e.Lines[1].BookAmount != "-"+maxEUR {
			t.Fatalf("entry reads back as %+v", e.Lines)
		}
	}
	var tb ledger.TrialBalance
	a.must(200, a.do("finance", "GET", "/v1/ledger/trial-balance?book=acme&as_of=2026-03-31", nil)).decode(t, &tb)
	if tb.Totals.Debit != total || tb.Totals.Balance != "0.00" || tb.Rows[0].Balance != total {
		t.Fatalf("trial balance %+v", tb)
	}
	var bs ledger.BalanceSheet
	a.must(200, a.do("finance", "GET", "/v1/ledger/reports/balance-sheet?book=acme&as_of=2026-03-31", nil)).decode(t, &bs)
	if !bs.Balanced || bs.Assets.Total != total || bs.CurrentEarnings != total {
		t.Fatalf("balance sheet %+v", bs)
	}
	var is ledger.IncomeStatement
	a.must(200, a.do("finance", "GET", "/v1/ledger/reports/income-statement?book=acme&from=2026-01-01&to=2026-12-31", nil)).decode(t, &is)
	if is.NetIncome != total {
		t.Fatalf("income statement %+v", is)
	}
	var gl ledger.GeneralLedger
	a.must(200, a.do("finance", "GET", "/v1/ledger/reports/general-ledger?book=acme&account=1200&from=2026-03-01&to=2026-03-31", nil)).decode(t, &gl)
	if len(gl.Lines) != n || gl.Lines[n-1].Balance != total {
		t.Fatalf("general ledger %+v", gl)
	}
	var acc ledger.Account
	a.must(200, a.do("finance", "GET", "/v1/ledger/accounts/1200?book=acme", nil)).decode(t, &acc)
	if acc.Balances[0].Balance != total || acc.Rollup.Balance != total {
		t.Fatalf("account %+v", acc)
	}
}

func TestBatchesAtTheBoundPostAndOnePastIsRefused(t *testing.T) {
	a := newAPI(t, 1<<20)
	a.setupAcme()
	atBound := entryJSON("2026-03-10", "1200", "4000", maxEUR)
	past := entryJSON("2026-03-10", "1200", "4000", pastEUR)
	// Batches lock and read balances first; balances past the input bound must read back.
	for range 2 {
		a.must(201, a.do("finance", "POST", "/v1/ledger/entries:batch", `{"atomic":true,"entries":[`+atBound+`,`+atBound+`]}`))
	}
	before := a.written(t)
	a.refused(t, a.do("finance", "POST", "/v1/ledger/entries:batch", `{"atomic":true,"entries":[`+atBound+`,`+past+`]}`),
		"entries[1].lines[0].debit", "invalid_entry")
	if after := a.written(t); after != before {
		t.Fatalf("a refused atomic batch wrote %v -> %v", before, after)
	}
	var res ledger.BatchResult
	a.must(200, a.do("finance", "POST", "/v1/ledger/entries:batch", `{"entries":[`+atBound+`,`+past+`]}`)).decode(t, &res)
	if res.Posted != 1 || res.Failed != 1 || res.Results[1].Error == nil || res.Results[1].Error.Errors[0].Field != "lines[0].debit" {
		t.Fatalf("non-atomic batch %+v", res)
	}
}

func TestRatesAtTheBoundAndConvertedAmountsStayWithinIt(t *testing.T) {
	a := newAPI(t, 1<<20)
	a.setupAcme()
	a.must(201, a.do("finance-controller", "POST", "/v1/ledger/accounts", `{"book":"acme","code":"1210","name":"Bank JOD","type":"asset","currency":"JOD"}`))
	a.must(201, a.do("finance", "POST", "/v1/ledger/rates", `{"book":"acme","currency":"JOD","effective_date":"2026-01-01","rate":"`+maxRate+`"}`))
	for _, c := range []struct{ rate, why string }{
		{"1000000", "seven digits before the point"},
		{"1.0000000000001", "thirteen after it"},
		{"+1.5", "a sign"},
		{"1e3", "an exponent"},
		{"0", "zero"},
	} {
		t.Run(c.why, func(t *testing.T) {
			before := a.written(t)
			a.refused(t, a.do("finance", "POST", "/v1/ledger/rates", `{"book":"acme","currency":"JOD","effective_date":"2026-01-01","rate":"`+c.rate+`"}`), "rate")
			a.refused(t, a.do("finance", "POST", "/v1/ledger/entries",
				`{"book":"acme","posting_date":"2026-03-10","lines":[{"account":"1210","debit":"1.000","rate":"`+c.rate+`"},{"account":"4000","credit":"1.00"}]}`), "lines[0].rate")
			if after := a.written(t); after != before {
				t.Fatalf("wrote %v -> %v", before, after)
			}
		})
	}
	// 999999999.999 JOD at the largest rate is 999999999999000.00 EUR, within the bound;
	// 0.001 JOD more rounds to 10^15 EUR, past it.
	a.must(201, a.do("finance", "POST", "/v1/ledger/entries",
		`{"book":"acme","posting_date":"2026-03-10","lines":[{"account":"1210","debit":"999999999.999"},{"account":"4000","credit":"999999999999000.00"}]}`))
	p := a.refused(t, a.do("finance", "POST", "/v1/ledger/entries",
		`{"book":"acme","posting_date":"2026-03-10","lines":[{"account":"1210","debit":"1000000000.000"},{"account":"4000","credit":"`+maxEUR+`"}]}`),
		"lines[0].debit", "invalid_entry")
	if !strings.Contains(p.Detail, "book amount has at most 15 digits") {
		t.Fatalf("detail %q", p.Detail)
	}
	var tb ledger.TrialBalance
	a.must(200, a.do("finance", "GET", "/v1/ledger/trial-balance?book=acme&as_of=2026-03-31", nil)).decode(t, &tb)
	if tb.Totals.Debit != "999999999999000.00" {
		t.Fatalf("trial balance %+v", tb)
	}
}

func TestYearEndClosesBalancesPastTheInputBound(t *testing.T) {
	a := newAPI(t, 1<<20)
	a.setupAcme()
	for range 3 {
		a.must(201, a.do("finance", "POST", "/v1/ledger/entries:batch", `{"atomic":true,"entries":[`+
			entryJSON("2026-06-30", "1200", "4000", maxEUR)+`,`+entryJSON("2026-06-30", "6000", "1000", maxEUR)+`,`+
			entryJSON("2026-06-30", "1000", "4000", maxEUR)+`]}`))
	}
	var per ledger.Period
	a.must(200, a.do("finance-controller", "POST", "/v1/ledger/periods/2026-12/close?book=acme", nil)).decode(t, &per)
	var closing ledger.Entry
	a.must(200, a.do("finance", "GET", "/v1/ledger/entries/"+per.ClosingEntry, nil)).decode(t, &closing)
	want := map[string]string{"4000": "5999999999999999.94", "6000": "2999999999999999.97", "3200": "2999999999999999.97"}
	for _, l := range closing.Lines {
		if got := l.Debit + l.Credit; got != want[l.Account] {
			t.Fatalf("closing line %+v, want %s", l, want[l.Account])
		}
	}
	var bs ledger.BalanceSheet
	a.must(200, a.do("finance", "GET", "/v1/ledger/reports/balance-sheet?book=acme&as_of=2026-12-31", nil)).decode(t, &bs)
	if !bs.Balanced || bs.CurrentEarnings != "0.00" || bs.Equity.Total != want["3200"] {
		t.Fatalf("balance sheet after the close %+v", bs)
	}
	// A closing entry is reversed with its own amounts, past the input bound.
	a.must(200, a.do("finance-controller", "POST", "/v1/ledger/periods/2026-12/reopen?book=acme", `{"reason":"restate"}`))
	a.must(201, a.do("finance-controller", "POST", "/v1/ledger/entries/"+per.ClosingEntry+"/reverse", nil))
}

func TestReversalIsNotDatedBeforeItsOriginal(t *testing.T) {
	a := newAPI(t, 1<<20)
	a.setupAcme()
	var e ledger.Entry
	a.must(201, a.do("finance", "POST", "/v1/ledger/entries", invoice)).decode(t, &e)
	before := a.written(t)
	a.refused(t, a.do("finance-controller", "POST", "/v1/ledger/entries/"+e.ID+"/reverse", `{"posting_date":"2026-01-30"}`), "posting_date", "invalid_entry")
	a.refused(t, a.do("finance-controller", "POST", "/v1/ledger/entries/"+e.ID+"/reverse", `{"posting_date":"9999-12-31"}`), "posting_date", "invalid_entry")
	if after := a.written(t); after != before {
		t.Fatalf("refused reversals wrote %v -> %v", before, after)
	}
	a.must(201, a.do("finance-controller", "POST", "/v1/ledger/entries/"+e.ID+"/reverse", `{"posting_date":"2026-01-31"}`))
}

func TestBookSpecialAccountsMustExist(t *testing.T) {
	a := newAPI(t, 1<<20)
	for _, c := range []struct{ body, field string }{
		{`{"code":"b1","name":"B","base_currency":"EUR","retained_earnings_account":"3200"}`, "retained_earnings_account"},
		{`{"code":"b1","name":"B","base_currency":"EUR","retained_earnings_account":"3200","accounts":[{"code":"3200","name":"RE","type":"income"}]}`, "retained_earnings_account"},
		{`{"code":"b1","name":"B","base_currency":"EUR","accounts":[{"code":"x y","name":"RE","type":"equity"}]}`, "accounts[0].code"},
		{`{"code":"b1","name":"B","base_currency":"EUR","accounts":[{"code":"1","name":"A","type":"asset","parent":"9"}]}`, "accounts[0].parent"},
	} {
		a.refused(t, a.do("admin", "POST", "/v1/ledger/books", c.body), c.field, "invalid_entry", "invalid_account")
		if n := a.written(t); n != [2]int{} {
			t.Fatalf("refused book wrote %v", n)
		}
	}
	a.setupAcme()
	r := a.do("finance-controller", "POST", "/v1/ledger/accounts/3200/close?book=acme", nil)
	if r.status != 409 {
		t.Fatalf("closing the retained earnings account: %d %s", r.status, r.body)
	}
}

// TestRefusedInputNamesTheFieldAndWritesNothing sends one bad value at a time in an
// otherwise good entry: each is a 400 naming the field, and nothing is written.
func TestRefusedInputNamesTheFieldAndWritesNothing(t *testing.T) {
	a := newAPI(t, 4<<20)
	a.setupAcme()
	good := map[string]any{"book": "acme", "posting_date": "2026-03-10", "lines": []map[string]any{
		{"account": "1200", "debit": "10.00"}, {"account": "4000", "credit": "10.00"}}}
	line := func(k string, v any) map[string]any {
		m := clone(good)
		m["lines"].([]map[string]any)[0][k] = v
		return m
	}
	with := func(k string, v any) map[string]any {
		m := clone(good)
		m[k] = v
		return m
	}
	big := strings.Repeat("x", 1<<20)
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"plus sign", line("debit", "+10.00"), "lines[0].debit"},
		{"trailing point", line("debit", "10."), "lines[0].debit"},
		{"leading point", line("debit", ".50"), "lines[0].debit"},
		{"exponent", line("debit", "1e1"), "lines[0].debit"},
		{"upper exponent", line("debit", "1E1"), "lines[0].debit"},
		{"leading zero", line("debit", "010.00"), "lines[0].debit"},
		{"spaces", line("debit", " 10.00"), "lines[0].debit"},
		{"thousands separator", line("debit", "1,000.00"), "lines[0].debit"},
		{"hex", line("debit", "0x10"), "lines[0].debit"},
		{"NaN", line("debit", "NaN"), "lines[0].debit"},
		{"negative", line("debit", "-10.00"), "lines[0].debit"},
		{"number not string", line("debit", 10), "lines.debit"}, // the decoder's type errors name no index
		{"16 digits", line("debit", pastEUR), "lines[0].debit"},
		{"7 decimal places", line("debit", "10.0000000"), "lines[0].debit"},
		{"year 0", with("posting_date", "0000-01-01"), "posting_date"},
		{"year 9999", with("posting_date", "9999-12-31"), "posting_date"},
		{"day before the range", with("posting_date", "1899-12-31"), "posting_date"},
		{"day after the range", with("posting_date", "2200-01-01"), "posting_date"},
		{"no such day", with("posting_date", "2026-02-30"), "posting_date"},
		{"1 MB dimension value", line("dimensions", map[string]string{"counterparty": big}), "lines[0].dimensions.counterparty"},
		{"long dimension key", line("dimensions", map[string]string{strings.Repeat("k", 65): "v"}), "lines[0].dimensions"},
		{"17 dimensions", line("dimensions", dims(17)), "lines[0].dimensions"},
		{"long memo", line("memo", strings.Repeat("m", 1001)), "lines[0].memo"},
		{"long reference", with("reference", strings.Repeat("r", 1001)), "reference"},
		{"long description", with("description", strings.Repeat("d", 1001)), "description"},
		{"1 MB account code", line("account", big), "lines[0].account"},
		{"bad journal", with("journal", "no such/journal"), "journal"},
		{"bad book", with("book", "ac me"), "book"},
		{"unknown currency", line("currency", "XXX"), "lines[0].currency"},
		{"metadata not an object", with("metadata", []int{1}), "metadata"},
		{"metadata 9 deep", with("metadata", nested(9)), "metadata.a.a.a.a.a.a.a.a"},
		{"metadata 5000 deep", json.RawMessage(`{"book":"acme","posting_date":"2026-03-10","lines":[{"account":"1200","debit":"1.00"},{"account":"4000","credit":"1.00"}],"metadata":` +
			strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat(`}`, 5000) + `}`), "metadata"},
		{"metadata 65 keys", with("metadata", dims(65)), "metadata"},
		{"metadata long key", with("metadata", map[string]int{strings.Repeat("k", 65): 1}), "metadata"},
		{"metadata huge number", json.RawMessage(`{"book":"acme","posting_date":"2026-03-10","lines":[{"account":"1200","debit":"1.00"},{"account":"4000","credit":"1.00"}],"metadata":{"n":1e400}}`), "metadata.n"},
		{"metadata 17 KiB", with("metadata", map[string]string{"s": strings.Repeat("s", 17<<10)}), "metadata"},
		{"NUL in metadata", json.RawMessage(`{"book":"acme","posting_date":"2026-03-10","lines":[{"account":"1200","debit":"1.00"},{"account":"4000","credit":"1.00"}],"metadata":{"s":"a\u0000b"}}`), "metadata.s"},
		{"NUL in memo", json.RawMessage(`{"book":"acme","posting_date":"2026-03-10","lines":[{"account":"1200","debit":"1.00","memo":"a\u0000b"},{"account":"4000","credit":"1.00"}]}`), "lines[0].memo"},
		{"lone surrogate", json.RawMessage(`{"book":"acme","posting_date":"2026-03-10","description":"\ud800","lines":[{"account":"1200","debit":"1.00"},{"account":"4000","credit":"1.00"}]}`), "description"},
		{"invalid UTF-8", json.RawMessage("{\"book\":\"acme\",\"posting_date\":\"2026-03-10\",\"reference\":\"\xff\",\"lines\":[{\"account\":\"1200\",\"debit\":\"1.00\"},{\"account\":\"4000\",\"credit\":\"1.00\"}]}"), "reference"},
		{"duplicate key", json.RawMessage(`{"book":"acme","book":"x","posting_date":"2026-03-10","lines":[{"account":"1200","debit":"1.00"},{"account":"4000","credit":"1.00"}]}`), "book"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := c.body
			if raw, ok := body.(json.RawMessage); ok {
				body = string(raw)
			}
			before := a.written(t)
			a.refused(t, a.do("finance", "POST", "/v1/ledger/entries", body), c.field)
			if after := a.written(t); after != before {
				t.Fatalf("wrote %v -> %v", before, after)
			}
		})
	}
}

func clone(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	lines := m["lines"].([]map[string]any)
	cp := make([]map[string]any, len(lines))
	for i, l := range lines {
		cp[i] = map[string]any{}
		for k, v := range l {
			cp[i][k] = v
		}
	}
	out["lines"] = cp
	return out
}

func dims(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprintf("k%d", i)] = "v"
	}
	return m
}

// nested is {"a":{"a":...1}} with depth objects.
func nested(depth int) any {
	var v any = 1
	for range depth {
		v = map[string]any{"a": v}
	}
	return v
}
