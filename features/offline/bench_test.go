//go:build duckdb_arrow

package offline

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkPointInTime10M: 1M entity rows against 10M feature rows over 10,000 entities.
func BenchmarkPointInTime10M(b *testing.B) {
	if os.Getenv("CODEXION_BENCH_LOAD") == "" {
		b.Skip("set CODEXION_BENCH_LOAD=1 (make bench does)")
	}
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "pit.duckdb"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, q := range []string{
		`CREATE TABLE feats AS SELECT 'acme:' || (i % 10000) AS account_key,
			TIMESTAMP '2026-01-01' + to_seconds(i * 3) AS event_ts, TIMESTAMP '2026-01-01' + to_seconds(i * 3) AS created_ts,
			(i % 977)::DOUBLE AS balance, (i % 13)::DOUBLE AS debits_24h FROM range(10000000) t(i)`,
		`CREATE TABLE spine AS SELECT 'acme:' || ((i * 7) % 10000) AS account_key,
			TIMESTAMP '2026-01-01' + to_seconds((i * 31) % 30000000) AS ts, i AS label FROM range(1000000) t(i)`,
	} {
		if _, err := s.DB().ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		began := time.Now()
		n, err := s.PointInTimeJoin(ctx, PointInTime{EntityTable: "spine", EntityKey: "account_key", EntityTime: "ts",
			FeatureTable: "feats", FeatureTime: "event_ts", CreatedTime: "created_ts", Features: []string{"balance", "debits_24h"},
			TTL: 30 * 24 * time.Hour, ResultTable: "training"})
		if err != nil || n != 1_000_000 {
			b.Fatalf("%d rows: %v", n, err)
		}
		b.ReportMetric(time.Since(began).Seconds(), "s/join")
	}
}
