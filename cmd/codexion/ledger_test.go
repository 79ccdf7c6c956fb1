package main

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/codexion/codexion/ledger"
	"github.com/codexion/codexion/ledger/ledgertest"
)

// The trial balance from the CLI: aligned columns for a period, or a CSV file with --out
// holding exactly what the API's CSV holds.
func TestLedgerTrialBalanceForAPeriodAndToAFile(t *testing.T) {
	srv := ledgertest.Start(t, 1<<20)
	ctx := context.Background()
	if _, err := srv.Store.CreateBook(ctx, ledger.BookInput{Code: "acme", Name: "Acme", BaseCurrency: "EUR", Accounts: []ledger.AccountInput{
		{Code: "1000", Name: "Cash", Type: ledger.Asset}, {Code: "4000", Name: "Sales", Type: ledger.Income}}}); err != nil {
		t.Fatal(err)
	}
	for _, day := range []string{"2026-01-15", "2026-02-15"} {
		d, c := "25.50", "25.50"
		if _, err := srv.Store.Post(ctx, ledger.EntryInput{Book: "acme", PostingDate: day,
			Lines: []ledger.LineInput{{Account: "1000", Debit: &d}, {Account: "4000", Credit: &c}}}, "t", nil); err != nil {
			t.Fatal(err)
		}
	}
	api := []string{"--api", srv.URL, "--token", srv.Tokens["finance"], "--book", "acme"}
	code, out, errOut := runCLI(t, append([]string{"ledger", "trial-balance", "--from", "2026-02-01", "--to", "2026-02-28"}, api...)...)
	if code != 0 || !strings.Contains(out, "from 2026-02-01 to 2026-02-28 (EUR)") || !strings.Contains(out, "closing Dr") {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	var cash string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "1000") {
			cash = strings.Join(strings.Fields(line), " ")
		}
	}
	if cash != "1000 Cash 25.50 0.00 25.50 0.00 51.00 0.00" {
		t.Fatalf("cash row %q in:\n%s", cash, out)
	}
	file := filepath.Join(t.TempDir(), "tb.csv")
	if code, out, errOut := runCLI(t, append([]string{"ledger", "trial-balance", "--from", "2026-02-01", "--to", "2026-02-28", "--out", file}, api...)...); code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if err != nil || len(rows) != 4 || rows[3][0] != "total" || rows[3][7] != "51.00" || rows[3][8] != "51.00" {
		t.Fatalf("csv (%v): %q", err, rows)
	}
	book := filepath.Join(t.TempDir(), "tb.xlsx")
	if code, out, errOut := runCLI(t, append([]string{"ledger", "trial-balance", "--as-of", "2026-02-28", "--out", book}, api...)...); code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	wb, err := excelize.OpenFile(book)
	if err != nil {
		t.Fatal(err)
	}
	defer wb.Close() //nolint:errcheck // read only
	title, _ := wb.GetCellValue(wb.GetSheetName(0), "A1")
	closing, _ := wb.GetCellValue(wb.GetSheetName(0), "H4", excelize.Options{RawCellValue: true})
	if title != "Trial balance of acme as of 2026-02-28 (EUR)" || closing != "51.00" {
		t.Fatalf("workbook: title %q, cash closing debit %q", title, closing)
	}
	if code, _, errOut := runCLI(t, append([]string{"ledger", "trial-balance", "--from", "2026-02-01"}, api...)...); code != 2 || !strings.Contains(errOut, "--from and --to") {
		t.Fatalf("a period without --to: exit %d, %s", code, errOut)
	}
}
