// Package online is the feature store's online store: for each feature view and entity,
// the latest values with their event timestamp. Writes never replace a value with an
// older one (a slow materialization cannot undo a fresher stream write), and reads never
// wait for writes. Two implementations sit behind one interface: an embedded bbolt file
// (the default; survives restarts) and Redis (the scale-out option).
package online

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

// Record is one entity's values in one view.
type Record struct {
	Key       string
	EventTime time.Time      // the entity's latest event the values reflect
	WrittenAt time.Time      // when the values were computed
	Values    map[string]any // by feature name; numbers as json.Number, exact
}

// Store is an online store.
type Store interface {
	// Write stores the records of view whose event time is not older than what is
	// stored, and returns how many it stored.
	Write(ctx context.Context, view string, recs []Record) (int, error)
	// Read returns one record per key, nil where the entity has none.
	Read(ctx context.Context, view string, keys []string) ([]*Record, error)
	// Drop forgets a view (it is rebuilt from the offline store).
	Drop(ctx context.Context, view string) error
	Close() error
}

// The stored form: 8 bytes of event time (unix µs, big-endian, so that byte order is
// time order), 8 bytes of write time, then the values as JSON.
func encode(r Record) ([]byte, error) {
	v, err := json.Marshal(r.Values)
	if err != nil {
		return nil, fmt.Errorf("encode values of %s: %w", r.Key, err)
	}
	b := make([]byte, 16, 16+len(v))
	binary.BigEndian.PutUint64(b[0:8], uint64(r.EventTime.UnixMicro()))
	binary.BigEndian.PutUint64(b[8:16], uint64(r.WrittenAt.UnixMicro()))
	return append(b, v...), nil
}

func decode(key string, b []byte) (*Record, error) {
	if len(b) < 16 {
		return nil, fmt.Errorf("online value of %s is corrupt (%d bytes)", key, len(b))
	}
	r := &Record{Key: key,
		EventTime: time.UnixMicro(int64(binary.BigEndian.Uint64(b[0:8]))).UTC(),
		WrittenAt: time.UnixMicro(int64(binary.BigEndian.Uint64(b[8:16]))).UTC()}
	d := json.NewDecoder(bytes.NewReader(b[16:]))
	d.UseNumber()
	if err := d.Decode(&r.Values); err != nil {
		return nil, fmt.Errorf("online value of %s: %w", key, err)
	}
	return r, nil
}

// newer reports whether the encoded value a is at least as recent as b.
func notOlder(a, b []byte) bool { return len(b) < 8 || bytes.Compare(a[:8], b[:8]) >= 0 }
