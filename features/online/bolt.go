package online

import (
	"context"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bolt is the embedded online store: one bbolt file, a bucket per view. Reads run in
// read-only transactions beside a writer and never block on it. The file is locked to one
// process, so this process sees every write and keeps decoded values in memory: a read
// decodes a value once, until it is written again.
type Bolt struct {
	db *bolt.DB

	mu      sync.RWMutex
	gen     uint64 // bumped by every write, before its keys leave the cache
	decoded map[cacheKey]*Record
}

type cacheKey struct{ view, key string }

const maxDecoded = 200_000

// OpenBolt opens (creating) the file at path.
func OpenBolt(path string) (*Bolt, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open online store %s: %w (is another Codexion process using it?)", path, err)
	}
	return &Bolt{db: db, decoded: map[cacheKey]*Record{}}, nil
}

// forget drops keys of view from the cache after a write.
func (s *Bolt) forget(view string, keys []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	if keys == nil {
		clear(s.decoded)
		return
	}
	for _, k := range keys {
		delete(s.decoded, cacheKey{view, k})
	}
}

// Write implements Store.
func (s *Bolt) Write(_ context.Context, view string, recs []Record) (int, error) {
	n := 0
	keys := make([]string, len(recs))
	for i, r := range recs {
		keys[i] = r.Key
	}
	defer s.forget(view, keys) // after the commit: a read that raced it cannot cache the old value (see Read)
	err := s.db.Update(func(tx *bolt.Tx) error {
		n = 0
		b, err := tx.CreateBucketIfNotExists([]byte(view))
		if err != nil {
			return err
		}
		for _, r := range recs {
			v, err := encode(r)
			if err != nil {
				return err
			}
			if !notOlder(v, b.Get([]byte(r.Key))) {
				continue
			}
			if err := b.Put([]byte(r.Key), v); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// Read implements Store.
// The records it returns are shared: callers must not change them.
func (s *Bolt) Read(_ context.Context, view string, keys []string) ([]*Record, error) {
	out := make([]*Record, len(keys))
	missing := 0
	s.mu.RLock()
	gen := s.gen
	for i, k := range keys {
		if r, ok := s.decoded[cacheKey{view, k}]; ok {
			out[i] = r
		} else {
			missing++
		}
	}
	s.mu.RUnlock()
	if missing == 0 {
		return out, nil
	}
	var fresh []*Record
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(view))
		if b == nil {
			return nil
		}
		for i, k := range keys {
			if out[i] != nil {
				continue
			}
			v := b.Get([]byte(k))
			if v == nil {
				continue
			}
			r, err := decode(k, v)
			if err != nil {
				return err
			}
			out[i] = r
			fresh = append(fresh, r)
		}
		return nil
	})
	if err == nil && len(fresh) > 0 {
		s.mu.Lock()
		if s.gen == gen { // no write since we looked: what we read is current
			if len(s.decoded)+len(fresh) > maxDecoded {
				clear(s.decoded)
			}
			for _, r := range fresh {
				s.decoded[cacheKey{view, r.Key}] = r
			}
		}
		s.mu.Unlock()
	}
	return out, err
}

// Drop implements Store.
func (s *Bolt) Drop(_ context.Context, view string) error {
	defer s.forget(view, nil)
	return s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte(view)) == nil {
			return nil
		}
		return tx.DeleteBucket([]byte(view))
	})
}

// Close implements Store.
func (s *Bolt) Close() error { return s.db.Close() }
