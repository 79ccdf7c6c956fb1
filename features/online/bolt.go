package online

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bolt is the embedded online store: one bbolt file, a bucket per view. Reads run in
// read-only transactions beside a writer and never block on it.
type Bolt struct{ db *bolt.DB }

// OpenBolt opens (creating) the file at path.
func OpenBolt(path string) (*Bolt, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open online store %s: %w (is another Codexion process using it?)", path, err)
	}
	return &Bolt{db: db}, nil
}

// Write implements Store.
func (s *Bolt) Write(_ context.Context, view string, recs []Record) (int, error) {
	n := 0
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
func (s *Bolt) Read(_ context.Context, view string, keys []string) ([]*Record, error) {
	out := make([]*Record, len(keys))
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(view))
		if b == nil {
			return nil
		}
		for i, k := range keys {
			v := b.Get([]byte(k))
			if v == nil {
				continue
			}
			r, err := decode(k, v)
			if err != nil {
				return err
			}
			out[i] = r
		}
		return nil
	})
	return out, err
}

// Drop implements Store.
func (s *Bolt) Drop(_ context.Context, view string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte(view)) == nil {
			return nil
		}
		return tx.DeleteBucket([]byte(view))
	})
}

// Close implements Store.
func (s *Bolt) Close() error { return s.db.Close() }
