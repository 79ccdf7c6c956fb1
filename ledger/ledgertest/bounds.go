package ledgertest

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/codexion/codexion/ledger"
)

// BoundEntries are valid entries at every bound the ledger documents, keyed by what each
// one stretches: the largest amount and rate, the most lines, the longest texts, the most
// and longest dimensions, the deepest and widest metadata, the first and last dates. They
// post to accounts debit and credit (neither restricted to a currency) of book in EUR.
// Tests of the ledger's consumers post them to show that whatever the ledger accepts, they
// take.
func BoundEntries(bookCode, debit, credit string) map[string]ledger.EntryInput {
	largest := strings.Repeat("9", ledger.MaxAmountIntegerDigits) + ".99"
	entry := func(date string, lines ...ledger.LineInput) ledger.EntryInput {
		return ledger.EntryInput{Book: bookCode, PostingDate: date, Lines: lines}
	}
	pair := func(amount string) []ledger.LineInput {
		return []ledger.LineInput{{Account: debit, Debit: &amount}, {Account: credit, Credit: &amount}}
	}
	out := map[string]ledger.EntryInput{
		"largest amount": entry("2026-03-10", pair(largest)...),
		"first date":     entry(ledger.MinDate.Format(ledger.DateLayout), pair("0.01")...),
		"last date":      entry(ledger.MaxDate.Format(ledger.DateLayout), pair("0.01")...),
	}

	many := entry("2026-03-10")
	for range ledger.MaxLines / 2 {
		many.Lines = append(many.Lines, pair(largest)...)
	}
	out["most lines"] = many

	// Texts are measured in bytes: three-byte characters fill them with fewer characters.
	text := strings.Repeat("€", ledger.MaxTextBytes/3) + strings.Repeat("x", ledger.MaxTextBytes%3)
	long := entry("2026-03-10", pair("1.00")...)
	long.Reference, long.Description, long.Lines[0].Memo = text, text, text
	out["longest texts"] = long

	dims := map[string]string{"counterparty": strings.Repeat("c", ledger.MaxDimensionValueBytes)}
	for i := 1; i < ledger.MaxDimensions; i++ {
		dims[fmt.Sprintf("%0*d", ledger.MaxDimensionKeyBytes, i)] = strings.Repeat("v", ledger.MaxDimensionValueBytes)
	}
	wide := entry("2026-03-10", pair("1.00")...)
	wide.Lines[0].Dimensions = dims
	out["most dimensions"] = wide

	deep := entry("2026-03-10", pair("1.00")...)
	var meta any = "leaf"
	for range ledger.MaxMetadataDepth - 1 {
		meta = map[string]any{"a": meta}
	}
	deep.Metadata, _ = json.Marshal(map[string]any{"hour": 23, "nested": meta})
	out["deepest metadata"] = deep

	// The pipeline reads metadata.hour and metadata.anomaly; any type must arrive.
	odd := entry("2026-03-10", pair("1.00")...)
	odd.Metadata = json.RawMessage(`{"hour":"nine","anomaly":{"kind":["odd",1.5,true,null]}}`)
	out["metadata of any type"] = odd

	widest := entry("2026-03-10", pair("1.00")...)
	members := map[string]any{}
	for i := range ledger.MaxMetadataMembers {
		members[fmt.Sprintf("%0*d", ledger.MaxMetadataKeyBytes, i)] = strings.Repeat("m", 180)
	}
	widest.Metadata, _ = json.Marshal(members)
	out["widest metadata"] = widest

	// The largest rate, on an amount whose book amount is just within the bound.
	rate := "999999." + strings.Repeat("9", ledger.MaxRateFractionDigits)
	usd := "999999999.99"
	bookAmount := decimal.RequireFromString(usd).Mul(decimal.RequireFromString(rate)).RoundBank(2).StringFixed(2)
	out["largest rate"] = entry("2026-03-10",
		ledger.LineInput{Account: debit, Debit: &usd, Currency: "USD", Rate: &rate},
		ledger.LineInput{Account: credit, Credit: &bookAmount})
	return out
}
