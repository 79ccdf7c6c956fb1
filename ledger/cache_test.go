package ledger

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestBoundedNeverHoldsMoreThanItsBound(t *testing.T) {
	b := newBounded[int, int](100)
	for i := range 10_000 {
		b.put(i, i)
		if b.len() > 100 {
			t.Fatalf("%d entries after %d puts", b.len(), i+1)
		}
		if v, ok := b.get(i); !ok || v != i {
			t.Fatalf("the entry just put is missing: %d", i)
		}
	}
	b.put(9_999, 1) // replacing an entry never empties the map
	if v, _ := b.get(9_999); v != 1 || b.len() == 1 {
		t.Fatalf("replace: %d entries", b.len())
	}
}

// With caches far smaller than the books, accounts and periods in use, every post still
// lands and balances: a forgotten entry sends the post down the ordinary path, which
// fills the cache again.
func TestPostsAreRightWhenTheCachesForget(t *testing.T) {
	s, _ := newStore(t)
	s.books = newBounded[string, bookRef](2)
	s.periods = newBounded[string, struct{}](2)
	s.accounts = accountCache{refs: newBounded[accountKey, accountRef](3)}
	ctx := context.Background()
	books := []string{"b1", "b2", "b3", "b4"}
	for _, code := range books {
		if _, err := s.CreateBook(ctx, BookInput{Code: code, Name: code, BaseCurrency: "EUR", Accounts: []AccountInput{
			{Code: "1000", Name: "Cash", Type: Asset}, {Code: "1200", Name: "Receivables", Type: Asset},
			{Code: "4000", Name: "Sales", Type: Income}}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 40 {
		book := books[i%len(books)]
		month := fmt.Sprintf("2026-%02d-15", i%12+1)
		if _, err := s.Post(ctx, EntryInput{Book: book, PostingDate: month, Reference: fmt.Sprint("R", i),
			Lines: []LineInput{dr("1200", "10.00"), cr("4000", "10.00")}}, "t", nil); err != nil {
			t.Fatalf("post %d into %s: %v", i, book, err)
		}
		if s.books.len() > 2 || s.periods.len() > 2 || s.accounts.refs.len() > 3 {
			t.Fatalf("caches past their bounds: %d books, %d periods, %d accounts", s.books.len(), s.periods.len(), s.accounts.refs.len())
		}
	}
	for _, book := range books {
		acc, err := s.GetAccount(ctx, book, "1200", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if acc.Balances[0].BookBalance != "100.00" {
			t.Fatalf("%s 1200: %+v", book, acc.Balances)
		}
	}
}
