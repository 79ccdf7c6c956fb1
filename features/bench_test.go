//go:build duckdb_arrow

package features

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/codexion/codexion/features/offline"
)

// BenchmarkHistorical10M: a training set of 1M entity rows against 10M feature rows over
// 10,000 entities, through the SQL a historical job runs, for a view with the latest value,
// two windowed aggregates, a running sum and days since the last row (TTL 30 days).
func BenchmarkHistorical10M(b *testing.B) {
	if os.Getenv("CODEXION_BENCH_LOAD") == "" {
		b.Skip("set CODEXION_BENCH_LOAD=1 (make bench does)")
	}
	ctx := context.Background()
	s, err := offline.Open(ctx, filepath.Join(b.TempDir(), "hist.duckdb"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, q := range []string{
		`CREATE TABLE lines AS SELECT 'acme:' || (i % 10000) AS account_key,
			TIMESTAMP '2026-01-01' + to_seconds(i * 3) AS posted_at, TIMESTAMP '2026-01-01' + to_seconds(i * 3) AS committed_at,
			((i % 977) * 1.25)::DECIMAL(38, 6) AS debit, (i % 13)::DECIMAL(38, 6) AS book_amount FROM range(10000000) t(i)`,
		`CREATE TABLE spine AS SELECT i AS __row, 'acme:' || ((i * 7) % 10000) AS __key,
			TIMESTAMP '2026-01-01' + to_seconds((i * 31) % 30000000) AS __ts FROM range(1000000) t(i)`,
	} {
		if _, err := s.DB().ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	v := View{Name: "account_activity", Entity: "account", TTL: Duration(30 * 24 * time.Hour),
		Source: ViewSource{Table: "lines", EntityColumn: "account_key", TimestampColumn: "posted_at", CreatedColumn: "committed_at"},
		Features: []Feature{
			{Name: "last_debit", Column: "debit"},
			{Name: "debit_sum_24h", Column: "debit", Aggregation: "sum", Window: Duration(24 * time.Hour)},
			{Name: "debit_count_7d", Column: "debit", Aggregation: "count", Window: Duration(7 * 24 * time.Hour)},
			{Name: "balance", Column: "book_amount", Aggregation: "sum"},
			{Name: "days_since_last", Aggregation: "days_since_last"},
		}}
	b.ResetTimer()
	for b.Loop() {
		began := time.Now()
		if _, err := s.DB().ExecContext(ctx, `CREATE OR REPLACE TABLE training AS `+v.HistoricalSQL("spine")); err != nil {
			b.Fatal(err)
		}
		var n int
		if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM training`).Scan(&n); err != nil || n != 1_000_000 {
			b.Fatalf("%d rows: %v", n, err)
		}
		b.ReportMetric(time.Since(began).Seconds(), "s/join")
	}
}
