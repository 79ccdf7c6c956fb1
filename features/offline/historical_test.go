//go:build duckdb_arrow

package offline

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestPointInTimeNeverLeaksTheFuture compares the join with a brute-force answer on random
// data, including equal event times (created time decides) and a TTL.
func TestPointInTimeNeverLeaksTheFuture(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db := s.DB()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`CREATE TABLE feats (account_key TEXT, event_ts TIMESTAMP, created_ts TIMESTAMP, balance DOUBLE)`)
	exec(`CREATE TABLE spine (account_key TEXT, ts TIMESTAMP, label INTEGER)`)
	type feat struct {
		key         string
		ev, created time.Time
		balance     float64
	}
	rng := rand.New(rand.NewPCG(7, 7))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var feats []feat
	for i := range 400 {
		f := feat{key: fmt.Sprintf("acme:%d", rng.IntN(5)), ev: base.Add(time.Duration(rng.IntN(100)) * time.Hour),
			balance: float64(i)}
		f.created = f.ev.Add(time.Duration(rng.IntN(3)) * time.Minute)
		feats = append(feats, f)
		exec(`INSERT INTO feats VALUES (?, ?, ?, ?)`, f.key, f.ev, f.created, f.balance)
	}
	type row struct {
		key string
		ts  time.Time
	}
	var spine []row
	for i := range 300 {
		r := row{key: fmt.Sprintf("acme:%d", rng.IntN(6)), ts: base.Add(time.Duration(rng.IntN(110)) * time.Hour)}
		spine = append(spine, r)
		exec(`INSERT INTO spine VALUES (?, ?, ?)`, r.key, r.ts, i)
	}
	ttl := 24 * time.Hour
	n, err := s.PointInTimeJoin(ctx, PointInTime{EntityTable: "spine", EntityKey: "account_key", EntityTime: "ts",
		FeatureTable: "feats", FeatureTime: "event_ts", CreatedTime: "created_ts", Features: []string{"balance"},
		TTL: ttl, ResultTable: "training", FeaturePrefix: "acct__"})
	if err != nil || n != int64(len(spine)) {
		t.Fatalf("join: %d rows, %v", n, err)
	}
	for i, r := range spine {
		// Brute force: latest event time <= ts; among equals, latest created; within TTL.
		var best *feat
		for j := range feats {
			f := &feats[j]
			if f.key != r.key || f.ev.After(r.ts) {
				continue
			}
			if best == nil || f.ev.After(best.ev) || (f.ev.Equal(best.ev) && f.created.After(best.created)) {
				best = f
			}
		}
		var got sql.NullFloat64
		if err := db.QueryRowContext(ctx, `SELECT acct__balance FROM training WHERE label = ?`, i).Scan(&got); err != nil {
			t.Fatal(err)
		}
		switch {
		case best == nil || r.ts.Sub(best.ev) > ttl:
			if got.Valid {
				t.Fatalf("row %d (%s at %s): got %v, want nothing", i, r.key, r.ts, got.Float64)
			}
		case !got.Valid || got.Float64 != best.balance:
			t.Fatalf("row %d (%s at %s): got %v, want %v (event %s)", i, r.key, r.ts, got, best.balance, best.ev)
		}
	}
	var leaks int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM training t JOIN feats f ON f.account_key = t.account_key
		AND f.balance = t.acct__balance WHERE f.event_ts > t.ts`).Scan(&leaks); err != nil || leaks != 0 {
		t.Fatalf("%d future values leaked (%v)", leaks, err)
	}
}
