//go:build duckdb_arrow

package features

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/codexion/codexion/features/offline"
)

type srcRow struct {
	key     string
	ts      time.Time
	created time.Time
	debit   sql.NullInt64 // cents
}

var testView = View{
	Name: "acct", Entity: "account", TTL: Duration(3 * 24 * time.Hour),
	Source: ViewSource{Table: "src", EntityColumn: "k", TimestampColumn: "ts", CreatedColumn: "created"},
	Features: []Feature{
		{Name: "last_debit", Column: "debit"},
		{Name: "debit_sum_24h", Column: "debit", Aggregation: "sum", Window: Duration(24 * time.Hour)},
		{Name: "debit_count_7d", Column: "debit", Aggregation: "count", Window: Duration(7 * 24 * time.Hour)},
		{Name: "debit_max", Column: "debit", Aggregation: "max"},
		{Name: "debit_sum", Column: "debit", Aggregation: "sum"},
		{Name: "days_since_last", Aggregation: "days_since_last"},
	},
}

// expect computes the view's values for key as of t from the rows themselves: the
// reference both SQL forms must match, and which reads nothing after t.
func expect(rows []srcRow, key string, t time.Time) []any {
	var latest *srcRow
	var sum24, sumAll int64
	var count7 int64
	var maxAll sql.NullInt64
	for i := range rows {
		r := &rows[i]
		if r.key != key || r.ts.After(t) {
			continue
		}
		if latest == nil || r.ts.After(latest.ts) || (r.ts.Equal(latest.ts) && r.created.After(latest.created)) {
			latest = r
		}
		if !r.debit.Valid {
			continue
		}
		if !r.ts.Before(t.Add(-24 * time.Hour)) {
			sum24 += r.debit.Int64
		}
		if !r.ts.Before(t.Add(-7 * 24 * time.Hour)) {
			count7++
		}
		sumAll += r.debit.Int64
		if !maxAll.Valid || r.debit.Int64 > maxAll.Int64 {
			maxAll = r.debit
		}
	}
	if latest == nil || t.Sub(latest.ts) > 3*24*time.Hour {
		return []any{nil, nil, nil, nil, nil, nil, nil}
	}
	var last any
	if latest.debit.Valid {
		last = latest.debit.Int64
	}
	var mx any
	if maxAll.Valid {
		mx = maxAll.Int64
	}
	return []any{latest.ts, last, sum24, count7, mx, sumAll, t.Sub(latest.ts).Hours() / 24}
}

func normalize(v any) any {
	switch x := v.(type) {
	case int32:
		return int64(x)
	case float64:
		return math.Round(x*1e6) / 1e6
	case *big.Int:
		return x.Int64()
	case time.Time:
		return x.UTC()
	}
	return v
}

func TestOnlineAndHistoricalAgreeAndNeverLeak(t *testing.T) {
	ctx := context.Background()
	st, err := offline.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db := st.DB()
	rng := rand.New(rand.NewPCG(7, 9))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	keys := []string{"a:1", "a:2", "b'1", "c:9"}
	var rows []srcRow
	for range 600 {
		ts := base.Add(time.Duration(rng.IntN(20*24)) * time.Hour) // hour grain: many ties, decided by created
		r := srcRow{key: keys[rng.IntN(len(keys))], ts: ts, created: ts.Add(time.Duration(rng.IntN(1_000_000)) * time.Microsecond)}
		if rng.IntN(6) != 0 {
			r.debit = sql.NullInt64{Int64: int64(rng.IntN(100000)), Valid: true}
		}
		rows = append(rows, r)
	}
	mustExec(t, db, `CREATE TABLE src (k VARCHAR, ts TIMESTAMP, created TIMESTAMP, debit BIGINT)`)
	for _, r := range rows {
		mustExec(t, db, `INSERT INTO src VALUES (?, ?, ?, ?)`, r.key, r.ts, r.created, r.debit)
	}
	mustExec(t, db, `CREATE TABLE req (__row BIGINT, __key VARCHAR, __ts TIMESTAMP)`)
	type req struct {
		key string
		t   time.Time
	}
	var reqs []req
	for i := range 300 {
		r := req{keys[rng.IntN(len(keys))], base.Add(time.Duration(rng.IntN(22*24*60)) * time.Minute)}
		if i%5 == 0 { // exactly at a row's time: that row counts, later ones do not
			src := rows[rng.IntN(len(rows))]
			r = req{src.key, src.ts}
		}
		reqs = append(reqs, r)
		mustExec(t, db, `INSERT INTO req VALUES (?, ?, ?)`, i, r.key, r.t)
	}

	hist, err := db.QueryContext(ctx, testView.HistoricalSQL("req")+" ORDER BY __row")
	if err != nil {
		t.Fatal(err)
	}
	defer hist.Close()
	n := 0
	for hist.Next() {
		vals := make([]any, 8)
		ptrs := make([]any, 8)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := hist.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		rq := reqs[vals[0].(int64)]
		want := expect(rows, rq.key, rq.t)
		for i, w := range want {
			if got := normalize(vals[i+1]); fmt.Sprint(got) != fmt.Sprint(normalize(w)) {
				t.Fatalf("historical row %d (%s at %s) column %d: got %v, want %v", vals[0], rq.key, rq.t, i+1, got, normalize(w))
			}
		}
		// The online form as of the same instant gives the same values.
		on, err := db.QueryContext(ctx, testView.OnlineSQL(rq.t, testView.KeysIn([]string{rq.key})))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for on.Next() {
			found = true
			ov := make([]any, 8)
			op := make([]any, 8)
			for i := range ov {
				op[i] = &ov[i]
			}
			if err := on.Scan(op...); err != nil {
				t.Fatal(err)
			}
			if want[0] == nil { // outside the TTL: the online store reports it, values are not compared
				continue
			}
			for i, w := range want {
				if got := normalize(ov[i+1]); fmt.Sprint(got) != fmt.Sprint(normalize(w)) {
					t.Fatalf("online %s at %s column %d: got %v, want %v", rq.key, rq.t, i+1, got, normalize(w))
				}
			}
		}
		on.Close()
		if !found && want[0] != nil {
			t.Fatalf("online %s at %s: no row", rq.key, rq.t)
		}
		n++
	}
	if err := hist.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(reqs) {
		t.Fatalf("historical returned %d rows for %d entity rows", n, len(reqs))
	}
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestOnlineSkipsRowsWithoutEntity: a row whose entity column is NULL (a push that left it
// out) has no online value; the latest-only view and the aggregating one both skip it.
func TestOnlineSkipsRowsWithoutEntity(t *testing.T) {
	ctx := context.Background()
	st, err := offline.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close() //nolint:errcheck // in memory
	db := st.DB()
	mustExec(t, db, `CREATE TABLE src (k VARCHAR, ts TIMESTAMP, created TIMESTAMP, debit BIGINT)`)
	mustExec(t, db, `INSERT INTO src VALUES ('a', TIMESTAMP '2026-03-01 10:00:00', TIMESTAMP '2026-03-01 10:00:00', 5),
		(NULL, TIMESTAMP '2026-03-01 11:00:00', TIMESTAMP '2026-03-01 11:00:00', 7)`)
	lastOnly := testView
	lastOnly.Features = testView.Features[:1]
	for _, v := range []View{testView, lastOnly} {
		rows, err := db.QueryContext(ctx, v.OnlineSQL(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), ""))
		if err != nil {
			t.Fatal(err)
		}
		var keys []any
		for rows.Next() {
			cells := make([]any, 2+len(v.Features))
			ptrs := make([]any, len(cells))
			for i := range cells {
				ptrs[i] = &cells[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			keys = append(keys, cells[0])
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close() //nolint:errcheck,sqlclosecheck // read to the end above
		if fmt.Sprint(keys) != "[a]" {
			t.Fatalf("%d features: keys %v, want only a", len(v.Features), keys)
		}
	}
}
