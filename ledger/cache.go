package ledger

import "sync"

// Bounds of the store's caches. Every cache here is an optimisation whose miss takes the
// ordinary path (which fills it again), so forgetting is always safe; the bounds keep a
// process that serves many books, accounts or periods from growing without limit.
const (
	maxCachedBooks    = 1_000
	maxCachedAccounts = 100_000
	maxCachedPeriods  = 20_000
)

// bounded is a concurrent map of at most max entries: a put that would go past max
// empties it first. Emptying (rather than evicting one entry) keeps the hot path a map
// lookup under a read lock; after a reset the working set is back within one pass.
type bounded[K comparable, V any] struct {
	mu  sync.RWMutex
	m   map[K]V
	max int
}

func newBounded[K comparable, V any](max int) *bounded[K, V] {
	return &bounded[K, V]{m: map[K]V{}, max: max}
}

func (b *bounded[K, V]) get(k K) (V, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	v, ok := b.m[k]
	return v, ok
}

func (b *bounded[K, V]) put(k K, v V) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.m[k]; !ok && len(b.m) >= b.max {
		clear(b.m)
	}
	b.m[k] = v
}

func (b *bounded[K, V]) len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.m)
}

// accountKey names an account in the cache.
type accountKey struct {
	book int64
	code string
}

// accountCache remembers what never changes about an account (id, type, currency, rule),
// so a post can be checked before it reaches the database. An account's status does change
// and is always checked in the database, under the account's lock.
type accountCache struct {
	refs *bounded[accountKey, accountRef]
}

func newAccountCache() accountCache {
	return accountCache{refs: newBounded[accountKey, accountRef](maxCachedAccounts)}
}

func (c accountCache) put(book int64, a accountRef) {
	a.Status = "active" // the database decides; see ledger_assert_postable
	c.refs.put(accountKey{book, a.Code}, a)
}

// get returns every one of codes, or false if any is not cached.
func (c accountCache) get(book int64, codes []string) (map[string]accountRef, bool) {
	out := make(map[string]accountRef, len(codes))
	for _, code := range codes {
		a, ok := c.refs.get(accountKey{book, code})
		if !ok {
			return nil, false
		}
		out[code] = a
	}
	return out, true
}
