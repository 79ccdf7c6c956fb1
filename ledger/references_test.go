package ledger

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestDatabaseRefusesDanglingReferences writes around the application, in SQL, what the
// set-based checks exist to refuse: a line of no entry, of an unknown account, of an
// account of another book or on another date than its entry, an entry in an unknown
// journal, an entry without lines, with one line or lines that do not balance, a line that
// unbalances a stored entry; and the deletes and re-keyings that would leave rows
// dangling. One bad row among good ones fails the whole statement.
func TestDatabaseRefusesDanglingReferences(t *testing.T) {
	s, db := newStore(t)
	acme(t, s)
	ctx := context.Background()
	if _, err := s.CreateBook(ctx, BookInput{Code: "other", Name: "Other", BaseCurrency: "EUR",
		Accounts: []AccountInput{{Code: "1000", Name: "Cash", Type: Asset}}}); err != nil {
		t.Fatal(err)
	}
	posted := seedEntry(t, s)
	const entryCols = `(id, book_id, posting_date, journal, kind)`
	const lineCols = `(entry_id, line_no, book_id, account_id, posting_date, currency, amount, book_amount)`
	acmeID := `(SELECT id FROM ledger_books WHERE code = 'acme')`
	cash := `(SELECT a.id FROM ledger_accounts a JOIN ledger_books b ON b.id = a.book_id WHERE b.code = 'acme' AND a.code = '1000')`
	otherCash := `(SELECT a.id FROM ledger_accounts a JOIN ledger_books b ON b.id = a.book_id WHERE b.code = 'other' AND a.code = '1000')`
	for _, c := range []struct{ name, sql, code string }{
		{"line of no entry", `INSERT INTO ledger_lines ` + lineCols + ` VALUES
			('` + posted + `', 9, ` + acmeID + `, ` + cash + `, '2026-03-01', 'EUR', 1, 1),
			('00000000-0000-7000-8000-000000000001', 1, ` + acmeID + `, ` + cash + `, '2026-03-01', 'EUR', 1, 1)`, "23503"},
		{"line of an unknown account", `INSERT INTO ledger_lines ` + lineCols + ` VALUES
			('` + posted + `', 9, ` + acmeID + `, 987654, '2026-03-01', 'EUR', 1, 1)`, "23503"},
		{"line on an account of another book", `INSERT INTO ledger_lines ` + lineCols + ` VALUES
			('` + posted + `', 9, ` + acmeID + `, ` + otherCash + `, '2026-03-01', 'EUR', 1, 1)`, "23503"},
		{"line on another date than its entry", `INSERT INTO ledger_lines ` + lineCols + ` VALUES
			('` + posted + `', 9, ` + acmeID + `, ` + cash + `, '2026-03-02', 'EUR', 1, 1)`, "23503"},
		{"entry in an unknown journal", `INSERT INTO ledger_entries ` + entryCols + ` VALUES
			('00000000-0000-7000-8000-000000000002', ` + acmeID + `, '2026-03-01', 'no-such-journal', 'standard')`, "23503"},
		{"entry in another book's journal code", `INSERT INTO ledger_entries ` + entryCols + ` VALUES
			('00000000-0000-7000-8000-000000000003', 987654, '2026-03-01', 'general', 'standard')`, "23503"},
		{"entry without lines", `INSERT INTO ledger_entries ` + entryCols + ` VALUES
			('00000000-0000-7000-8000-000000000004', ` + acmeID + `, '2026-03-01', 'general', 'standard')`, "23514"},
		{"entry whose lines do not balance", withEntry("00000000-0000-7000-8000-000000000005", acmeID, cash, "5", "-4"), "23514"},
		{"entry of one line", withEntry("00000000-0000-7000-8000-000000000006", acmeID, cash, "0", "-4"), "23514"},
		{"a line added to a balanced entry", `INSERT INTO ledger_lines ` + lineCols + ` VALUES
			('` + posted + `', 9, ` + acmeID + `, ` + cash + `, '2026-03-01', 'EUR', 1, 1)`, "23514"},
		{"delete an account", `DELETE FROM ledger_accounts WHERE id = ` + otherCash, "55000"},
		{"re-key an account", `UPDATE ledger_accounts SET book_id = (SELECT id FROM ledger_books WHERE code = 'other') WHERE id = ` + cash, "55000"},
		{"delete a journal", `DELETE FROM ledger_journals WHERE book_id = ` + acmeID + ` AND code = 'general'`, "55000"},
		{"rename a journal", `UPDATE ledger_journals SET code = 'renamed' WHERE book_id = ` + acmeID + ` AND code = 'general'`, "55000"},
		{"delete a book", `DELETE FROM ledger_books WHERE code = 'other'`, "55000"},
		{"truncate the accounts", `TRUNCATE ledger_accounts CASCADE`, "55000"},
	} {
		_, err := db.Exec(ctx, c.sql)
		if got := pgCode(err); got != c.code {
			t.Errorf("%s: %v, want SQLSTATE %s", c.name, err, c.code)
		}
	}
	// An entry and balancing lines in one statement, as the ledger writes them, are stored.
	if _, err := db.Exec(ctx, withEntry("00000000-0000-7000-8000-000000000007", acmeID, cash, "4", "-4")); err != nil {
		t.Fatalf("a balanced entry written as the ledger writes it: %v", err)
	}
	// What is allowed still is: closing an account changes its status only.
	if _, err := db.Exec(ctx, `UPDATE ledger_accounts SET status = 'closed' WHERE id = `+otherCash); err != nil {
		t.Fatalf("closing an account: %v", err)
	}
	if n := countWhere(t, db, `SELECT count(*) FROM ledger_lines`); n != 4 {
		t.Fatalf("%d lines after the refused statements, want the seeded entry's and the balanced one's 4", n)
	}
}

// withEntry is one statement writing an entry of book with lines of amounts a and b (a
// zero amount: no such line) on account, as the ledger writes entries.
func withEntry(id, book, account, a, b string) string {
	lines := []string{}
	for i, amt := range []string{a, b} {
		if amt != "0" {
			lines = append(lines, fmt.Sprintf(`('%s'::uuid, %d, %s, %s, '2026-03-01'::date, 'EUR', %s, %s)`, id, i+1, book, account, amt, amt))
		}
	}
	return `WITH e AS (INSERT INTO ledger_entries (id, book_id, posting_date, journal, kind)
		VALUES ('` + id + `', ` + book + `, '2026-03-01', 'general', 'standard'))
		INSERT INTO ledger_lines (entry_id, line_no, book_id, account_id, posting_date, currency, amount, book_amount)
		VALUES ` + strings.Join(lines, ", ")
}

// seedEntry posts one entry dated 2026-03-01 in book acme and returns its id.
func seedEntry(t *testing.T, s *Store) string {
	t.Helper()
	res, err := s.Post(context.Background(), entry("2026-03-01", "seed", dr("1000", "5.00"), cr("4000", "5.00")), "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.Entry.ID
}
