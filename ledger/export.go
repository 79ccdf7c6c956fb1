package ledger

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/xuri/excelize/v2"
)

// Sheet is a report as a table, what its CSV and Excel downloads are written from. Amounts
// stay the exact decimal text the report holds: CSV writes it as is, and the workbook
// stores it as the cell's number without going through a float.
type Sheet struct {
	Name    string   // the worksheet's name and the file's stem
	Title   string   // what the report is, for the workbook's first row
	Columns []string // header
	Amounts []bool   // which columns hold amounts
	Rows    [][]string
}

// maxExportLines bounds a general ledger export; past it the caller narrows the dates.
const maxExportLines = 200_000

// WriteCSV writes the header and the rows.
func (s Sheet) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(s.Columns); err != nil {
		return err
	}
	for _, row := range s.Rows {
		out := make([]string, len(row))
		for c, v := range row {
			out[c] = v
			if c >= len(s.Amounts) || !s.Amounts[c] {
				out[c] = inert(v)
			}
		}
		if err := cw.Write(out); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// inert keeps a text cell from being read as a formula by a spreadsheet that opens the CSV
// (names and descriptions are what users typed): one starting with =, +, -, @, tab or
// carriage return gets a leading apostrophe, as OWASP advises. Amounts are left as they are.
func inert(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// WriteXLSX writes a workbook of one sheet: the title, the header in bold, the rows, with
// amounts as numbers shown with two decimals.
func (s Sheet) WriteXLSX(w io.Writer) error {
	f := excelize.NewFile()
	defer f.Close() //nolint:errcheck // in memory; written below
	sheet := s.Name
	if len(sheet) > 31 { // Excel's limit for sheet names
		sheet = sheet[:31]
	}
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return err
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	money, err := f.NewStyle(&excelize.Style{CustomNumFmt: ptr("#,##0.00;-#,##0.00")})
	if err != nil {
		return err
	}
	if err := f.SetCellStr(sheet, "A1", s.Title); err != nil {
		return err
	}
	for c, name := range s.Columns {
		cell, _ := excelize.CoordinatesToCellName(c+1, 3)
		if err := f.SetCellStr(sheet, cell, name); err != nil {
			return err
		}
		if err := f.SetCellStyle(sheet, cell, cell, bold); err != nil {
			return err
		}
	}
	for r, row := range s.Rows {
		for c, v := range row {
			cell, _ := excelize.CoordinatesToCellName(c+1, r+4)
			if c < len(s.Amounts) && s.Amounts[c] && v != "" {
				// The decimal text as the cell's value: a number in Excel, exact in the file.
				if err := f.SetCellDefault(sheet, cell, v); err != nil {
					return err
				}
				if err := f.SetCellStyle(sheet, cell, cell, money); err != nil {
					return err
				}
				continue
			}
			if err := f.SetCellStr(sheet, cell, v); err != nil {
				return err
			}
		}
	}
	_, err = f.WriteTo(w)
	return err
}

// Sheet is the trial balance as a table.
func (tb *TrialBalance) Sheet() Sheet {
	period := "as of " + tb.AsOf
	if tb.From != "" {
		period = "from " + tb.From + " to " + tb.AsOf
	}
	s := Sheet{Name: "trial-balance-" + tb.Book, Title: fmt.Sprintf("Trial balance of %s %s (%s)", tb.Book, period, tb.Currency),
		Columns: []string{"account", "name", "type", "opening_debit", "opening_credit", "period_debit", "period_credit", "closing_debit", "closing_credit"},
		Amounts: []bool{false, false, false, true, true, true, true, true, true}}
	for _, r := range append(slices.Clone(tb.Rows), tb.Totals) {
		s.Rows = append(s.Rows, []string{r.Account, r.Name, string(r.Type), r.OpeningDebit, r.OpeningCredit, r.PeriodDebit, r.PeriodCredit, r.ClosingDebit, r.ClosingCredit})
	}
	return s
}

// statementSheet lists sections of a statement with their totals.
func statementSheet(name, title string, sections []string, secs []Section, extra [][]string) Sheet {
	s := Sheet{Name: name, Title: title, Columns: []string{"section", "account", "name", "parent", "amount", "rollup"},
		Amounts: []bool{false, false, false, false, true, true}}
	for i, sec := range secs {
		for _, r := range sec.Rows {
			s.Rows = append(s.Rows, []string{sections[i], r.Account, r.Name, r.Parent, r.Amount, r.Rollup})
		}
		s.Rows = append(s.Rows, []string{sections[i], "total", "Total " + sections[i], "", sec.Total, ""})
	}
	s.Rows = append(s.Rows, extra...)
	return s
}

// Sheet is the balance sheet as a table.
func (bs *BalanceSheet) Sheet() Sheet {
	return statementSheet("balance-sheet-"+bs.Book, fmt.Sprintf("Balance sheet of %s as of %s (%s)", bs.Book, bs.AsOf, bs.Currency),
		[]string{"assets", "liabilities", "equity"}, []Section{bs.Assets, bs.Liabilities, bs.Equity},
		[][]string{{"equity", "current_earnings", "Current earnings (not yet closed)", "", bs.CurrentEarnings, ""},
			{"total", "total_liabilities_and_equity", "Total liabilities and equity", "", bs.TotalLiabEquity, ""}})
}

// Sheet is the income statement as a table.
func (is *IncomeStatement) Sheet() Sheet {
	return statementSheet("income-statement-"+is.Book, fmt.Sprintf("Income statement of %s from %s to %s (%s)", is.Book, is.From, is.To, is.Currency),
		[]string{"income", "expenses"}, []Section{is.Income, is.Expenses},
		[][]string{{"total", "net_income", "Net income", "", is.NetIncome, ""}})
}

// Sheet is the general ledger of an account (every page) as a table, its opening balance
// first.
func (gl *GeneralLedger) Sheet() Sheet {
	s := Sheet{Name: "general-ledger-" + gl.Book + "-" + gl.Account,
		Title:   fmt.Sprintf("General ledger of %s account %s from %s to %s (%s)", gl.Book, gl.Account, orStart(gl.From), gl.To, gl.Currency),
		Columns: []string{"posting_date", "entry_id", "line_no", "journal", "reference", "description", "debit", "credit", "balance"},
		Amounts: []bool{false, false, false, false, false, false, true, true, true}}
	s.Rows = append(s.Rows, []string{gl.From, "", "", "", "", "Opening balance", "", "", gl.OpeningBalance})
	for _, l := range gl.Lines {
		s.Rows = append(s.Rows, []string{l.PostingDate, l.EntryID, fmt.Sprint(l.LineNo), l.Journal, l.Reference, l.Description, l.Debit, l.Credit, l.Balance})
	}
	return s
}

func orStart(from string) string {
	if from == "" {
		return "the first posting"
	}
	return from
}
