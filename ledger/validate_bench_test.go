package ledger

import (
	"encoding/json"
	"fmt"
	"testing"
)

// BenchmarkValidate measures the pure entry checks (no database).
func BenchmarkValidate(b *testing.B) {
	body := []byte(`{"book":"bench","posting_date":"2026-05-03","lines":[{"account":"A001","debit":"12.34"},{"account":"A007","credit":"12.34"}]}`)
	var in EntryInput
	if err := json.Unmarshal(body, &in); err != nil {
		b.Fatal(err)
	}
	accounts := map[string]accountRef{}
	for i := range 50 {
		code := fmt.Sprintf("A%03d", i)
		accounts[code] = accountRef{ID: int64(i), Code: code, Type: Asset, Status: "active"}
	}
	b.ReportAllocs()
	for b.Loop() {
		p, err := parse(in)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := newPosting(p, "EUR", accounts, func(string) (Amount, bool) { return Amount{}, false }); err != nil {
			b.Fatal(err)
		}
	}
}
