package ledger

import (
	"time"

	"github.com/jackc/pgx/v5"
)

// ParseEntry runs the checks an entry meets before any database is read.
func ParseEntry(in EntryInput) error {
	_, err := parse(in)
	return err
}

// PostedEntry is the entry (and so the event) the store would write for in, built without
// a database: book is in EUR, and every account it names is open and takes either side.
func PostedEntry(in EntryInput, book string) (*Entry, error) {
	p, err := parse(in)
	if err != nil {
		return nil, err
	}
	accounts := map[string]accountRef{}
	for _, code := range p.accountCodes() {
		accounts[code] = accountRef{ID: int64(len(accounts) + 1), Code: code, Type: Asset, Status: "active", Rule: EitherSide}
	}
	pst, err := newPosting(p, "EUR", accounts, func(string) (Amount, bool) { return Amount{}, false })
	if err != nil {
		return nil, err
	}
	out := make([]*Entry, 1)
	var b pgx.Batch
	if _, _, err := queueWrites(&b, []*posting{pst}, []bookRef{{ID: 1, Code: book, Currency: "EUR"}},
		[]postOptions{{kind: "standard"}}, []string{"tester"}, time.Now(), out); err != nil {
		return nil, err
	}
	return out[0], nil
}
