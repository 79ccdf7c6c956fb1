package ledger_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/codexion/codexion/ledger"
	"github.com/codexion/codexion/ledger/ledgertest"
	"github.com/codexion/codexion/platform/httpx"
)

// api is the ledger behind the real platform chain, with real tokens.
type api struct {
	t testing.TB
	*ledgertest.Server
}

func newAPI(t testing.TB, maxBody int64) *api {
	t.Helper()
	return &api{t: t, Server: ledgertest.Start(t, maxBody)}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (a *api) do(role, method, path string, body any, headers ...string) response {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, a.URL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+a.Tokens[role])
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

func (a *api) must(status int, r response) response {
	a.t.Helper()
	if r.status != status {
		a.t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	return r
}

func (a *api) setupAcme() {
	a.must(201, a.do("admin", "POST", "/v1/ledger/books", `{"code":"acme","name":"Acme Ltd","base_currency":"EUR","retained_earnings_account":"3200",
	 "accounts":[{"code":"3200","name":"Retained earnings","type":"equity"}]}`))
	for _, acc := range []string{
		`{"book":"acme","code":"1000","name":"Cash","type":"asset"}`,
		`{"book":"acme","code":"1200","name":"Receivables","type":"asset"}`,
		`{"book":"acme","code":"2200","name":"VAT payable","type":"liability"}`,
		`{"book":"acme","code":"4000","name":"Sales","type":"income"}`,
		`{"book":"acme","code":"6000","name":"Rent","type":"expense"}`,
	} {
		a.must(201, a.do("finance-controller", "POST", "/v1/ledger/accounts", acc))
	}
}

const invoice = `{"book":"acme","posting_date":"2026-01-31","journal":"sales","reference":"INV-1",
 "description":"Invoice 1","lines":[{"account":"1200","debit":"119.00"},
 {"account":"4000","credit":"100.00"},{"account":"2200","credit":"19.00"}]}`

func TestAPIPostReadReverseAndReports(t *testing.T) {
	a := newAPI(t, 1<<20)
	a.setupAcme()
	r := a.must(201, a.do("finance", "POST", "/v1/ledger/entries", invoice))
	var e ledger.Entry
	r.decode(t, &e)
	if r.header.Get("Location") != "/v1/ledger/entries/"+e.ID || e.CreatedBy != "dev-finance" {
		t.Fatalf("location %q entry %+v", r.header.Get("Location"), e)
	}
	var got ledger.Entry
	a.must(200, a.do("compliance", "GET", "/v1/ledger/entries/"+e.ID, nil)).decode(t, &got)
	if got.Lines[0].Debit != "119.00" || got.Reference != "INV-1" {
		t.Fatalf("got %+v", got)
	}

	var tb ledger.TrialBalance
	a.must(200, a.do("finance", "GET", "/v1/ledger/trial-balance?book=acme&as_of=2026-01-31", nil)).decode(t, &tb)
	if len(tb.Rows) != 3 || tb.Totals.Debit != "119.00" || tb.Totals.Credit != "119.00" || tb.Totals.Balance != "0.00" {
		t.Fatalf("trial balance %+v", tb)
	}
	a.must(200, a.do("finance", "GET", "/v1/ledger/trial-balance?book=acme&as_of=2026-01-30", nil)).decode(t, &tb)
	if len(tb.Rows) != 0 {
		t.Fatalf("trial balance before the posting date has rows: %+v", tb)
	}

	// finance may not reverse; the controller may, once.
	a.must(403, a.do("finance", "POST", "/v1/ledger/entries/"+e.ID+"/reverse", nil))
	var rev ledger.Entry
	a.must(201, a.do("finance-controller", "POST", "/v1/ledger/entries/"+e.ID+"/reverse", `{"posting_date":"2026-02-01"}`)).decode(t, &rev)
	if rev.Reverses != e.ID || rev.Kind != "reversal" || rev.Lines[0].Credit != "119.00" {
		t.Fatalf("reversal %+v", rev)
	}
	r = a.must(409, a.do("finance-controller", "POST", "/v1/ledger/entries/"+e.ID+"/reverse", nil))
	if !strings.Contains(string(r.body), "entry_already_reversed") {
		t.Fatalf("second reversal: %s", r.body)
	}
	a.must(200, a.do("finance", "GET", "/v1/ledger/entries/"+e.ID, nil)).decode(t, &got)
	if got.ReversedBy != rev.ID {
		t.Fatalf("original not linked to its reversal: %+v", got)
	}

	var acc ledger.Account
	a.must(200, a.do("finance", "GET", "/v1/ledger/accounts/1200?book=acme", nil)).decode(t, &acc)
	if acc.Balances[0].Debit != "119.00" || acc.Balances[0].Credit != "119.00" || acc.Balances[0].Balance != "0.00" {
		t.Fatalf("account after reversal %+v", acc.Balances)
	}
	a.must(200, a.do("finance", "GET", "/v1/ledger/accounts/1200?book=acme&as_of=2026-01-31", nil)).decode(t, &acc)
	if acc.Balances[0].Balance != "119.00" {
		t.Fatalf("balance as of Jan 31: %+v", acc.Balances)
	}

	var list ledger.List[ledger.Entry]
	a.must(200, a.do("finance", "GET", "/v1/ledger/entries?book=acme&limit=1", nil)).decode(t, &list)
	if len(list.Items) != 1 || list.NextCursor == "" {
		t.Fatalf("page 1: %+v", list)
	}
	a.must(200, a.do("finance", "GET", "/v1/ledger/entries?book=acme&limit=1&cursor="+list.NextCursor, nil)).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != rev.ID {
		t.Fatalf("page 2: %+v", list)
	}

	var is ledger.IncomeStatement
	a.must(200, a.do("finance", "GET", "/v1/ledger/reports/income-statement?book=acme&from=2026-01-01&to=2026-01-31", nil)).decode(t, &is)
	if is.NetIncome != "100.00" || is.Income.Total != "100.00" {
		t.Fatalf("income statement %+v", is)
	}
	var bs ledger.BalanceSheet
	a.must(200, a.do("finance", "GET", "/v1/ledger/reports/balance-sheet?book=acme&as_of=2026-01-31", nil)).decode(t, &bs)
	if !bs.Balanced || bs.Assets.Total != "119.00" || bs.TotalLiabEquity != "119.00" || bs.CurrentEarnings != "100.00" {
		t.Fatalf("balance sheet %+v", bs)
	}
	var gl ledger.GeneralLedger
	a.must(200, a.do("finance", "GET", "/v1/ledger/reports/general-ledger?book=acme&account=1200&to=2026-12-31", nil)).decode(t, &gl)
	if len(gl.Lines) != 2 || gl.Lines[0].Balance != "119.00" || gl.Lines[1].Balance != "0.00" {
		t.Fatalf("general ledger %+v", gl)
	}
}

func TestAPIIdempotency(t *testing.T) {
	a := newAPI(t, 1<<20)
	a.setupAcme()
	first := a.must(201, a.do("finance", "POST", "/v1/ledger/entries", invoice, "Idempotency-Key", "k-1"))
	again := a.must(201, a.do("finance", "POST", "/v1/ledger/entries", invoice, "Idempotency-Key", "k-1"))
	if again.header.Get("Idempotency-Replayed") != "true" || first.header.Get("Idempotency-Replayed") != "" {
		t.Fatalf("replayed headers: first %q again %q", first.header.Get("Idempotency-Replayed"), again.header.Get("Idempotency-Replayed"))
	}
	var e1, e2 ledger.Entry
	first.decode(t, &e1)
	again.decode(t, &e2)
	if e1.ID != e2.ID {
		t.Fatalf("replay returned a different entry: %s vs %s", e1.ID, e2.ID)
	}
	// The first answer is the stored response's bytes, so the replay is the same document.
	if string(again.body) != string(first.body) {
		t.Fatalf("replay differs from the first answer:\n%s\n%s", first.body, again.body)
	}
	other := strings.Replace(invoice, "INV-1", "INV-2", 1)
	r := a.must(409, a.do("finance", "POST", "/v1/ledger/entries", other, "Idempotency-Key", "k-1"))
	if !strings.Contains(string(r.body), "idempotency_key_reused") {
		t.Fatalf("body %s", r.body)
	}
	var list ledger.List[ledger.Entry]
	a.must(200, a.do("finance", "GET", "/v1/ledger/entries?book=acme", nil)).decode(t, &list)
	if len(list.Items) != 1 {
		t.Fatalf("%d entries stored, want 1", len(list.Items))
	}

	// A batch and a period close retried with their keys answer as the first time.
	batch := `{"atomic":true,"entries":[` + strings.Replace(invoice, "INV-1", "B-1", 1) + `,` + strings.Replace(invoice, "INV-1", "B-2", 1) + `]}`
	var b1, b2 ledger.BatchResult
	firstBatch := a.must(201, a.do("finance", "POST", "/v1/ledger/entries:batch", batch, "Idempotency-Key", "b-1"))
	firstBatch.decode(t, &b1)
	r = a.must(201, a.do("finance", "POST", "/v1/ledger/entries:batch", batch, "Idempotency-Key", "b-1"))
	r.decode(t, &b2)
	if r.header.Get("Idempotency-Replayed") != "true" || b2.Results[1].Entry.ID != b1.Results[1].Entry.ID {
		t.Fatalf("batch replay: %s", r.body)
	}
	// The first answer is the stored response's bytes, so the replay is the same document.
	if string(r.body) != string(firstBatch.body) || firstBatch.header.Get("Content-Type") != "application/json" {
		t.Fatalf("batch replay differs from the first answer:\n%s\n%s", firstBatch.body, r.body)
	}
	var p1, p2 ledger.Period
	a.must(200, a.do("finance-controller", "POST", "/v1/ledger/periods/2026-01/close?book=acme", nil, "Idempotency-Key", "c-1")).decode(t, &p1)
	a.must(200, a.do("finance-controller", "POST", "/v1/ledger/periods/2026-01/close?book=acme", nil, "Idempotency-Key", "c-1")).decode(t, &p2)
	if p2.Status != "closed" || !p2.ClosedAt.Equal(*p1.ClosedAt) {
		t.Fatalf("close replay: %+v vs %+v", p2, p1)
	}
	a.must(409, a.do("finance-controller", "POST", "/v1/ledger/periods/2026-01/close?book=acme", nil, "Idempotency-Key", "c-2"))
	a.must(200, a.do("finance", "GET", "/v1/ledger/entries?book=acme", nil)).decode(t, &list)
	if len(list.Items) != 3 {
		t.Fatalf("%d entries stored, want 3", len(list.Items))
	}
}

func TestAPIBadInputIsProblemJSONAndWritesNothing(t *testing.T) {
	a := newAPI(t, 4096)
	a.setupAcme()
	cases := []struct {
		name, body string
		status     int
		want       string
	}{
		{"malformed JSON", `{"book":"acme",`, 400, "cut short"},
		{"amount as number", `{"book":"acme","posting_date":"2026-01-31","lines":[{"account":"1000","debit":10},{"account":"4000","credit":"10"}]}`, 400, `{"field":"lines.debit","message":"must be a string, not a JSON number"}`},
		{"over the limit", `{"book":"acme","description":"` + strings.Repeat("x", 5000) + `"}`, 413, "body_too_large"},
		{"unbalanced", `{"book":"acme","posting_date":"2026-01-31","lines":[{"account":"1000","debit":"10.00"},{"account":"4000","credit":"9.00"}]}`, 400, "entry_unbalanced"},
		{"unknown field", `{"book":"acme","postingdate":"2026-01-31"}`, 400, `unknown field \"postingdate\"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := a.do("finance", "POST", "/v1/ledger/entries", tc.body)
			if r.status != tc.status || r.header.Get("Content-Type") != httpx.ProblemContentType || !strings.Contains(string(r.body), tc.want) {
				t.Fatalf("%d %s: %s", r.status, r.header.Get("Content-Type"), r.body)
			}
		})
	}
	a.must(403, a.do("compliance", "POST", "/v1/ledger/entries", invoice))
	a.must(401, a.do("", "POST", "/v1/ledger/entries", invoice))
	var list ledger.List[ledger.Entry]
	a.must(200, a.do("finance", "GET", "/v1/ledger/entries?book=acme", nil)).decode(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("%d entries stored by bad requests", len(list.Items))
	}
}

func TestAPIPeriodsAndYearEnd(t *testing.T) {
	a := newAPI(t, 1<<20)
	a.setupAcme()
	a.must(201, a.do("finance", "POST", "/v1/ledger/entries", invoice))
	rent := `{"book":"acme","posting_date":"2026-03-01","lines":[{"account":"6000","debit":"40.00"},{"account":"1000","credit":"40.00"}]}`
	a.must(201, a.do("finance", "POST", "/v1/ledger/entries", rent))

	a.must(403, a.do("finance", "POST", "/v1/ledger/periods/2026-01/close?book=acme", nil))
	var p ledger.Period
	a.must(200, a.do("finance-controller", "POST", "/v1/ledger/periods/2026-01/close?book=acme", nil)).decode(t, &p)
	if p.Status != "closed" || p.ClosedBy != "dev-finance-controller" {
		t.Fatalf("period %+v", p)
	}
	r := a.must(400, a.do("finance", "POST", "/v1/ledger/entries", invoice))
	if !strings.Contains(string(r.body), "period 2026-01 of book acme is closed") || !strings.Contains(string(r.body), `"field":"posting_date"`) {
		t.Fatalf("post into closed period: %s", r.body)
	}
	a.must(400, a.do("finance-controller", "POST", "/v1/ledger/periods/2026-01/reopen?book=acme", `{}`))
	a.must(200, a.do("finance-controller", "POST", "/v1/ledger/periods/2026-01/reopen?book=acme", `{"reason":"late supplier invoice"}`)).decode(t, &p)
	if p.Status != "open" || p.ReopenReason != "late supplier invoice" {
		t.Fatalf("reopened %+v", p)
	}
	a.must(201, a.do("finance", "POST", "/v1/ledger/entries", invoice))
	a.must(400, a.do("finance-controller", "POST", "/v1/ledger/periods/2026-13/close?book=acme", nil))

	// Year end: income 200 - expense 40 = 160 moves to retained earnings.
	a.must(200, a.do("finance-controller", "POST", "/v1/ledger/periods/2026-12/close?book=acme", nil)).decode(t, &p)
	if p.ClosingEntry == "" {
		t.Fatal("closing December posted no closing entry")
	}
	var re ledger.Account
	a.must(200, a.do("finance", "GET", "/v1/ledger/accounts/3200?book=acme", nil)).decode(t, &re)
	if re.Balances[0].Balance != "-160.00" {
		t.Fatalf("retained earnings %+v", re.Balances)
	}
	var bs ledger.BalanceSheet
	a.must(200, a.do("finance", "GET", "/v1/ledger/reports/balance-sheet?book=acme&as_of=2026-12-31", nil)).decode(t, &bs)
	if !bs.Balanced || bs.CurrentEarnings != "0.00" || bs.Equity.Total != "160.00" {
		t.Fatalf("balance sheet after year end %+v", bs)
	}
	var is ledger.IncomeStatement
	a.must(200, a.do("finance", "GET", "/v1/ledger/reports/income-statement?book=acme&from=2026-01-01&to=2026-12-31", nil)).decode(t, &is)
	if is.NetIncome != "160.00" {
		t.Fatalf("income statement must ignore the closing entry: %+v", is)
	}
}

func TestAPIForeignCurrencyWithRates(t *testing.T) {
	a := newAPI(t, 1<<20)
	a.setupAcme()
	a.must(201, a.do("finance-controller", "POST", "/v1/ledger/accounts", `{"book":"acme","code":"1010","name":"Bank USD","type":"asset","currency":"USD"}`))
	usd := `{"book":"acme","posting_date":"2026-02-10","lines":[{"account":"1010","debit":"108.42"},{"account":"4000","credit":"100.00"}]}`
	r := a.must(400, a.do("finance", "POST", "/v1/ledger/entries", usd))
	if !strings.Contains(string(r.body), "no exchange rate from USD to EUR") {
		t.Fatalf("%s", r.body)
	}
	a.must(201, a.do("finance", "POST", "/v1/ledger/rates", `{"book":"acme","currency":"USD","effective_date":"2026-02-01","rate":"0.92234"}`))
	var e ledger.Entry
	a.must(201, a.do("finance", "POST", "/v1/ledger/entries", usd)).decode(t, &e)
	if e.Lines[0].Currency != "USD" || e.Lines[0].BookAmount != "100.00" || e.Lines[0].Rate != "0.92234" {
		t.Fatalf("entry %+v", e.Lines)
	}
}
