package ledger_test

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/codexion/codexion/ledger"
)

// A trial balance for a period, as an accountant reads it: the opening balance from before
// the period, the period's debits and credits, the closing balance in a debit or a credit
// column; the debit balances total the credit balances (not the turnovers).
func TestPeriodTrialBalanceAsAccountantsReadIt(t *testing.T) {
	a := newAPI(t, 1<<20)
	a.setupAcme()
	a.must(201, a.do("finance", "POST", "/v1/ledger/entries", invoice)) // January: 1200 Dr 119, 4000 Cr 100, 2200 Cr 19
	a.must(201, a.do("finance", "POST", "/v1/ledger/entries", `{"book":"acme","posting_date":"2026-02-10","lines":[
		{"account":"1000","debit":"119.00"},{"account":"1200","credit":"119.00"}]}`)) // February: paid
	a.must(201, a.do("finance", "POST", "/v1/ledger/entries", `{"book":"acme","posting_date":"2026-02-20","lines":[
		{"account":"6000","debit":"40.00"},{"account":"1000","credit":"40.00"}]}`)) // February: rent
	a.must(201, a.do("finance", "POST", "/v1/ledger/entries", `{"book":"acme","posting_date":"2026-03-05","lines":[
		{"account":"6000","debit":"7.00"},{"account":"1000","credit":"7.00"}]}`)) // after the period

	var tb ledger.TrialBalance
	a.must(200, a.do("finance", "GET", "/v1/ledger/trial-balance?book=acme&from=2026-02-01&to=2026-02-28", nil)).decode(t, &tb)
	want := map[string][6]string{ // opening Dr/Cr, period Dr/Cr, closing Dr/Cr
		"1000": {"0.00", "0.00", "119.00", "40.00", "79.00", "0.00"},
		"1200": {"119.00", "0.00", "0.00", "119.00", "0.00", "0.00"},
		"2200": {"0.00", "19.00", "0.00", "0.00", "0.00", "19.00"},
		"4000": {"0.00", "100.00", "0.00", "0.00", "0.00", "100.00"},
		"6000": {"0.00", "0.00", "40.00", "0.00", "40.00", "0.00"},
	}
	if tb.From != "2026-02-01" || tb.AsOf != "2026-02-28" || len(tb.Rows) != len(want) {
		t.Fatalf("period %s..%s, %d rows: %+v", tb.From, tb.AsOf, len(tb.Rows), tb.Rows)
	}
	for _, r := range tb.Rows {
		got := [6]string{r.OpeningDebit, r.OpeningCredit, r.PeriodDebit, r.PeriodCredit, r.ClosingDebit, r.ClosingCredit}
		if got != want[r.Account] {
			t.Errorf("account %s: %v, want %v", r.Account, got, want[r.Account])
		}
	}
	tot := tb.Totals
	if tot.OpeningDebit != "119.00" || tot.OpeningCredit != "119.00" || tot.PeriodDebit != "159.00" || tot.PeriodCredit != "159.00" ||
		tot.ClosingDebit != "119.00" || tot.ClosingCredit != "119.00" || tot.Balance != "0.00" {
		t.Fatalf("totals %+v", tot)
	}

	// As of a date: the period from the first posting, so nothing opens and the turnovers
	// are every posting up to the date, as the report always said.
	tb = ledger.TrialBalance{}
	a.must(200, a.do("finance", "GET", "/v1/ledger/trial-balance?book=acme&as_of=2026-02-28", nil)).decode(t, &tb)
	if tb.From != "" || tb.Totals.OpeningDebit != "0.00" || tb.Totals.Debit != "278.00" || tb.Totals.ClosingDebit != "119.00" {
		t.Fatalf("as of: %+v", tb.Totals)
	}

	// CSV by ?format=csv or by Accept, exact decimals, the totals last.
	for _, how := range [][2]string{{"&format=csv", ""}, {"", "text/csv"}} {
		var headers []string
		if how[1] != "" {
			headers = []string{"Accept", how[1]}
		}
		r := a.must(200, a.do("finance", "GET", "/v1/ledger/trial-balance?book=acme&from=2026-02-01&to=2026-02-28"+how[0], nil, headers...))
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Fatalf("content type %q", ct)
		}
		rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		if err != nil || len(rows) != 7 || rows[0][3] != "opening_debit" || rows[1][0] != "1000" || rows[1][4] != "0.00" || rows[1][5] != "119.00" ||
			rows[6][0] != "total" || rows[6][7] != "119.00" || rows[6][8] != "119.00" {
			t.Fatalf("csv (%v): %q", err, rows)
		}
	}

	for q, says := range map[string]string{
		"from=2026-03-01&to=2026-02-01":                  "after",
		"from=2026-02-01":                                "both from and to",
		"as_of=2026-02-28&from=2026-02-01&to=2026-02-28": "not both",
		"from=2026-02-30&to=2026-03-01":                  "from",
		"format=pdf":                                     "use json, csv or xlsx",
	} {
		r := a.do("finance", "GET", "/v1/ledger/trial-balance?book=acme&"+q, nil)
		if r.status != 400 || !strings.Contains(string(r.body), says) {
			t.Errorf("%s: %d %s, want a 400 saying %q", q, r.status, r.body, says)
		}
	}
}

// Every report downloads as CSV and as an Excel workbook; an amount with more digits than a
// float holds is stored exactly in both.
func TestReportsDownloadAsCSVAndExcelWithExactAmounts(t *testing.T) {
	a := newAPI(t, 1<<20)
	a.setupAcme()
	const big = "123456789012345.67" // 17 significant digits
	a.must(201, a.do("finance", "POST", "/v1/ledger/entries", `{"book":"acme","posting_date":"2026-02-10","lines":[
		{"account":"1200","debit":"`+big+`"},{"account":"4000","credit":"`+big+`"}]}`))
	for _, report := range []struct{ path, cell string }{
		{"/v1/ledger/trial-balance?book=acme&from=2026-02-01&to=2026-02-28", "closing"},
		{"/v1/ledger/reports/balance-sheet?book=acme&as_of=2026-02-28", "amount"},
		{"/v1/ledger/reports/income-statement?book=acme&from=2026-01-01&to=2026-02-28", "amount"},
		{"/v1/ledger/reports/general-ledger?book=acme&account=1200&to=2026-02-28", "balance"},
	} {
		r := a.must(200, a.do("finance", "GET", report.path+"&format=csv", nil))
		if !strings.Contains(string(r.body), big) || !strings.Contains(r.header.Get("Content-Disposition"), ".csv") {
			t.Errorf("%s as CSV lacks %s: %s", report.path, big, r.body)
		}
		r = a.must(200, a.do("finance", "GET", report.path, nil, "Accept", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
		f, err := excelize.OpenReader(bytes.NewReader(r.body))
		if err != nil {
			t.Fatalf("%s as xlsx: %v", report.path, err)
		}
		found := false
		rows, err := f.GetRows(f.GetSheetName(0), excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range rows {
			if slices.Contains(row, big) {
				found = true
			}
		}
		f.Close() //nolint:errcheck // read only
		if !found {
			t.Errorf("%s as xlsx: no cell holds %s exactly: %q", report.path, big, rows)
		}
	}
	// JSON stays the default, and Accept: application/json wins over a download.
	r := a.must(200, a.do("finance", "GET", "/v1/ledger/reports/balance-sheet?book=acme", nil, "Accept", "application/json, text/csv"))
	if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("content type %q", r.header.Get("Content-Type"))
	}
}

// A name a user typed that a spreadsheet would run as a formula is written inert in CSV,
// and as text in the workbook; amounts, negative ones included, stay numbers.
func TestReportDownloadsDoNotCarryFormulas(t *testing.T) {
	a := newAPI(t, 1<<20)
	a.setupAcme()
	a.must(201, a.do("finance-controller", "POST", "/v1/ledger/accounts", `{"book":"acme","code":"7000","name":"=HYPERLINK(\"http://x\")","type":"expense"}`))
	a.must(201, a.do("finance", "POST", "/v1/ledger/entries", `{"book":"acme","posting_date":"2026-02-10","lines":[
		{"account":"7000","debit":"5.00"},{"account":"1000","credit":"5.00"}]}`))
	r := a.must(200, a.do("finance", "GET", "/v1/ledger/reports/income-statement?book=acme&from=2026-01-01&to=2026-02-28&format=csv", nil))
	rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var name, amount string
	for _, row := range rows {
		if row[1] == "7000" {
			name, amount = row[2], row[4]
		}
	}
	if name != `'=HYPERLINK("http://x")` || amount != "5.00" {
		t.Fatalf("csv row: name %q amount %q in %q", name, amount, rows)
	}
	r = a.must(200, a.do("finance", "GET", "/v1/ledger/reports/income-statement?book=acme&from=2026-01-01&to=2026-02-28&format=xlsx", nil))
	f, err := excelize.OpenReader(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck // read only
	xrows, _ := f.GetRows(f.GetSheetName(0))
	for i, row := range xrows {
		if len(row) > 2 && row[1] == "7000" {
			cell, _ := excelize.CoordinatesToCellName(3, i+1)
			if formula, _ := f.GetCellFormula(f.GetSheetName(0), cell); formula != "" || row[2] != `=HYPERLINK("http://x")` {
				t.Fatalf("workbook cell %s: value %q formula %q", cell, row[2], formula)
			}
		}
	}
}
