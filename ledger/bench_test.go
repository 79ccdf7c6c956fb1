package ledger_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/codexion/codexion/internal/loadtest"
	"github.com/codexion/codexion/ledger"
)

// Load benchmarks run for a fixed time, not b.N iterations, and only when asked
// (make bench sets CODEXION_BENCH_LOAD=1), because each takes tens of seconds.
const (
	loadClients  = 16
	loadDuration = 10 * time.Second
	loadRound    = 6 * time.Second
	loadRounds   = 3
	benchAccts   = 50
)

func loadBench(b *testing.B) {
	if os.Getenv("CODEXION_BENCH_LOAD") == "" {
		b.Skip("set CODEXION_BENCH_LOAD=1 (make bench does)")
	}
}

// benchAPI is the ledger API behind the full platform chain, over loopback HTTP, with a
// book of benchAccts asset accounts and one income account.
func benchAPI(b *testing.B) (*api, string) {
	a := newAPI(b, 64<<20)
	a.must(201, a.do("admin", "POST", "/v1/ledger/books", `{"code":"bench","name":"Bench","base_currency":"EUR"}`))
	for i := range benchAccts {
		a.must(201, a.do("admin", "POST", "/v1/ledger/accounts", fmt.Sprintf(`{"book":"bench","code":"A%03d","name":"Account %d","type":"asset"}`, i, i)))
	}
	return a, a.Tokens["finance"]
}

// twoLine builds a balanced 2-line entry body in the bench book.
var twoLine = loadtest.TwoLine("bench", benchAccts)

// BenchmarkPostEntryVsPgbench: the single-entry API with 2-line entries at concurrency 16,
// beside pgbench's TPC-B-like script at the same concurrency on the same cluster. The two
// alternate for loadRounds rounds and each side reports its median round, so a checkpoint
// or autovacuum that lands in one round does not decide the ratio.
func BenchmarkPostEntryVsPgbench(b *testing.B) {
	loadBench(b)
	a, token := benchAPI(b)
	medTPS, med := loadtest.VsPgbench(b, a.DB.Config().ConnString(), loadClients, loadRounds, loadRound, func() loadtest.Result {
		return loadtest.Drive(b, a.URL, token, "/v1/ledger/entries", twoLine, loadClients, loadRound, 0)
	})
	medEPS := med.PerSecond()
	// Entries that share a transaction id were committed by one group.
	var perTxn float64
	if err := a.DB.QueryRow(b.Context(), `SELECT count(*)::float8 / greatest(count(DISTINCT xmin::text), 1) FROM ledger_entries`).Scan(&perTxn); err != nil {
		b.Fatal(err)
	}
	loadtest.ReportVsPgbench(b, medTPS, med, func(b *testing.B) { b.ReportMetric(perTxn, "entries/txn") })
	b.Run("codexion-half-rate", func(b *testing.B) {
		half := loadtest.Drive(b, a.URL, token, "/v1/ledger/entries", twoLine, loadClients, loadRound, medEPS/2)
		b.ReportMetric(half.PerSecond(), "entries/s")
		b.ReportMetric(float64(half.Pct(0.50).Microseconds())/1000, "p50_ms")
		b.ReportMetric(float64(half.Pct(0.99).Microseconds())/1000, "p99_ms")
	})
}

// BenchmarkBatchLines: the batch endpoint, 1,000 two-line entries per atomic request.
func BenchmarkBatchLines(b *testing.B) {
	loadBench(b)
	a, token := benchAPI(b)
	batch := func(rng *rand.Rand) []byte {
		var buf bytes.Buffer
		buf.WriteString(`{"atomic":true,"entries":[`)
		for i := range ledger.MaxBatchEntries {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(twoLine(rng))
		}
		buf.WriteString(`]}`)
		return buf.Bytes()
	}
	res := loadtest.Drive(b, a.URL, token, "/v1/ledger/entries:batch", batch, batchClients(), loadDuration, 0)
	b.ReportMetric(res.PerSecond()*ledger.MaxBatchEntries*2, "lines/s")
	b.ReportMetric(float64(res.Pct(0.50).Milliseconds()), "p50_ms_per_batch")
}

func batchClients() int {
	if n, err := strconv.Atoi(os.Getenv("CODEXION_BENCH_BATCH_CLIENTS")); err == nil && n > 0 {
		return n
	}
	return 2
}
