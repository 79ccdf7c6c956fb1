package ledger

import "github.com/codexion/codexion/platform/openapi"

// entrySummary states the bounds of an entry (docs/ledger-limits.md has the reasons).
const entrySummary = "Post a journal entry. Amounts are plain decimal strings (no sign, exponent or bare point), at most 15 digits before the point; " +
	"rates at most 6 before and 12 after; posting_date 1900-01-01 to 2199-12-31; 2 to 500 lines; reference, description and memo at most 1,000 bytes; " +
	"codes 1 to 64 of A-Z a-z 0-9 . _ -; at most 16 dimensions per line (keys 64 bytes, values 256); metadata a JSON object of at most 16 KiB, " +
	"8 levels, 64 members per object or array, keys of 64 bytes, plain numbers. Text is UTF-8 without NUL."

// OpenAPI describes the ledger routes for the API document.
func (h *Handler) OpenAPI() map[string]openapi.Op {
	book := openapi.Param{Name: "book", Description: "book code", Required: true}
	format := openapi.Param{Name: "format", Description: "json (default), csv or xlsx; or ask by Accept: text/csv or the Excel media type"}
	page := []openapi.Param{{Name: "cursor", Description: "next_cursor of the previous page"}, {Name: "limit", Description: "page size, 1 to 1000 (default 100)"}}
	const tag = "ledger"
	return map[string]openapi.Op{
		"POST /v1/ledger/books":                 {Tag: tag, Summary: "Create a book with its chart (up to 1,000 accounts); retained_earnings_account must be an equity account among them", Request: BookInput{}, Response: Book{}, Status: "201"},
		"GET /v1/ledger/books":                  {Tag: tag, Summary: "List books", Response: List[Book]{}, Query: page},
		"POST /v1/ledger/accounts":              {Tag: tag, Summary: "Create an account", Request: AccountInput{}, Response: Account{}, Status: "201"},
		"GET /v1/ledger/accounts":               {Tag: tag, Summary: "List a book's accounts", Response: List[Account]{}, Query: append([]openapi.Param{book}, page...)},
		"GET /v1/ledger/accounts/{code}":        {Tag: tag, Summary: "An account with its balances and subtree roll-up", Response: Account{}, Query: []openapi.Param{book, {Name: "as_of", Description: "YYYY-MM-DD; default now"}}},
		"POST /v1/ledger/accounts/{code}/close": {Tag: tag, Summary: "Close an account with a zero balance to further postings", Response: Account{}, Query: []openapi.Param{book}},
		"POST /v1/ledger/entries":               {Tag: tag, Summary: entrySummary, Request: EntryInput{}, Response: Entry{}, Status: "201"},
		"POST /v1/ledger/entries:batch":         {Tag: tag, Summary: "Post up to 1,000 entries, atomically or each on its own", Request: BatchInput{}, Response: BatchResult{}},
		"GET /v1/ledger/entries":                {Tag: tag, Summary: "List entries in posting order", Response: List[Entry]{}, Query: append([]openapi.Param{book, {Name: "account"}, {Name: "from"}, {Name: "to"}}, page...)},
		"GET /v1/ledger/entries/{id}":           {Tag: tag, Summary: "An entry with its lines", Response: Entry{}},
		"POST /v1/ledger/entries/{id}/reverse":  {Tag: tag, Summary: "Reverse an entry (once), dated on or after the original", Request: ReverseInput{}, Response: Entry{}, Status: "201"},
		"POST /v1/ledger/rates":                 {Tag: tag, Summary: "Record an exchange rate to the book currency: a plain decimal string, at most 6 digits before the point and 12 after; effective_date 1900-01-01 to 2199-12-31", Request: RateInput{}, Response: RateInput{}, Status: "201"},
		"GET /v1/ledger/trial-balance": {Tag: tag, Summary: "Trial balance as of a date, or for a period: opening balances, the period's debits and credits, closing balances in debit and credit columns; totals agree. JSON, or a CSV or Excel download", Response: TrialBalance{},
			Query: []openapi.Param{book, {Name: "as_of", Description: "YYYY-MM-DD; default today"}, {Name: "from", Description: "first day of a period (with to)"}, {Name: "to", Description: "last day of a period (with from)"}, format}},
		"GET /v1/ledger/reports/balance-sheet":    {Tag: tag, Summary: "Balance sheet as of a date (JSON, or a CSV or Excel download)", Response: BalanceSheet{}, Query: []openapi.Param{book, {Name: "as_of"}, format}},
		"GET /v1/ledger/reports/income-statement": {Tag: tag, Summary: "Income statement for a date range, closing entries excluded (JSON, or a CSV or Excel download)", Response: IncomeStatement{}, Query: []openapi.Param{book, {Name: "from"}, {Name: "to"}, format}},
		"GET /v1/ledger/reports/general-ledger":   {Tag: tag, Summary: "An account's lines with running balance: JSON by page, or every line as a CSV or Excel download", Response: GeneralLedger{}, Query: append([]openapi.Param{book, {Name: "account", Required: true}, {Name: "from"}, {Name: "to"}, format}, page...)},
		"POST /v1/ledger/periods/{period}/close":  {Tag: tag, Summary: "Close a month (December also closes the year)", Response: Period{}, Query: []openapi.Param{book}},
		"POST /v1/ledger/periods/{period}/reopen": {Tag: tag, Summary: "Reopen a closed month, with a reason", Request: ReopenInput{}, Response: Period{}, Query: []openapi.Param{book}},
	}
}
