package ledger_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

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

// twoLine builds a balanced 2-line entry body.
func twoLine(rng *rand.Rand) []byte {
	x, y := rng.IntN(benchAccts), rng.IntN(benchAccts-1)
	if y >= x {
		y++
	}
	amt := fmt.Sprintf("%d.%02d", 1+rng.IntN(900), rng.IntN(100))
	return fmt.Appendf(nil, `{"book":"bench","posting_date":"2026-05-%02d","lines":[{"account":"A%03d","debit":%q},{"account":"A%03d","credit":%q}]}`,
		1+rng.IntN(28), x, amt, y, amt)
}

type loadResult struct {
	ops       int
	elapsed   time.Duration
	latencies []time.Duration
}

func (r loadResult) perSecond() float64 { return float64(r.ops) / r.elapsed.Seconds() }

func (r loadResult) pct(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	slices.Sort(r.latencies)
	return r.latencies[min(len(r.latencies)-1, int(float64(len(r.latencies))*p))]
}

// drive posts bodies from clients goroutines for d; ratePerSec > 0 paces the total rate.
func drive(b *testing.B, base, token, path string, body func(*rand.Rand) []byte, clients int, d time.Duration, ratePerSec float64) loadResult {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	var (
		mu     sync.Mutex
		res    loadResult
		failed atomic.Int64
		wg     sync.WaitGroup
	)
	began := time.Now()
	stop := began.Add(d)
	var interval time.Duration
	if ratePerSec > 0 {
		interval = time.Duration(float64(time.Second) * float64(clients) / ratePerSec)
	}
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			next := time.Now()
			var lat []time.Duration
			for time.Now().Before(stop) {
				if interval > 0 {
					time.Sleep(time.Until(next))
					next = next.Add(interval)
				}
				req, _ := http.NewRequest("POST", base+path, bytes.NewReader(body(rng)))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", uuid.NewString()) // as a client that retries safely sends
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					failed.Add(1)
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			res.ops += len(lat)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(began)
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d requests failed", n)
	}
	return res
}

var tpsPattern = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// pgbench runs the built-in TPC-B-like script against a fresh database on the same server.
func pgbench(b *testing.B, dsn string, clients int, d time.Duration) float64 {
	bin := "pgbench"
	if dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench"); len(dirs) > 0 {
		bin = dirs[len(dirs)-1]
	}
	u, _ := url.Parse(dsn)
	pw, _ := u.User.Password()
	env := append(os.Environ(), "PGPASSWORD="+pw)
	args := []string{"-h", u.Hostname(), "-p", u.Port(), "-U", u.User.Username()}
	db := u.Path[1:]
	// pgbench's documentation asks for a scale of at least the number of clients: with
	// fewer branches than clients, clients queue on the branch rows.
	scale := strconv.Itoa(max(clients, 1))
	if out, err := (&exec.Cmd{Path: bin, Args: append(append([]string{bin}, args...), "-i", "-q", "-s", scale, db), Env: env}).CombinedOutput(); err != nil {
		b.Fatalf("pgbench -i: %v: %s", err, out)
	}
	out, err := (&exec.Cmd{Path: bin, Args: append(append([]string{bin}, args...), "-c", strconv.Itoa(clients), "-j", "2",
		"-T", strconv.Itoa(int(d.Seconds())), "-M", "prepared", db), Env: env}).CombinedOutput()
	if err != nil {
		b.Fatalf("pgbench: %v: %s", err, out)
	}
	m := tpsPattern.FindSubmatch(out)
	if m == nil {
		b.Fatalf("pgbench printed no tps: %s", out)
	}
	tps, _ := strconv.ParseFloat(string(m[1]), 64)
	return tps
}

// BenchmarkPostEntryVsPgbench: the single-entry API with 2-line entries at concurrency 16,
// beside pgbench's TPC-B-like script at the same concurrency on the same cluster. The two
// alternate for loadRounds rounds and each side reports its median round, so a checkpoint
// or autovacuum that lands in one round does not decide the ratio.
func BenchmarkPostEntryVsPgbench(b *testing.B) {
	loadBench(b)
	a, token := benchAPI(b)
	var tps, eps []float64
	var runs []loadResult
	for range loadRounds {
		tps = append(tps, pgbench(b, a.DB.Config().ConnString(), loadClients, loadRound))
		r := drive(b, a.URL, token, "/v1/ledger/entries", twoLine, loadClients, loadRound, 0)
		runs = append(runs, r)
		eps = append(eps, r.perSecond())
	}
	medTPS, medEPS := median(tps), median(eps)
	var med loadResult
	for _, r := range runs {
		if r.perSecond() == medEPS {
			med = r
		}
	}
	b.Run("baseline", func(b *testing.B) {
		b.ReportMetric(1e9/medTPS, "ns/op")
		b.ReportMetric(medTPS, "tps")
	})
	b.Run("codexion", func(b *testing.B) {
		b.ReportMetric(1e9/medEPS, "ns/op")
		b.ReportMetric(medEPS, "entries/s")
		b.ReportMetric(float64(med.pct(0.50).Microseconds())/1000, "p50_ms")
		b.ReportMetric(float64(med.pct(0.99).Microseconds())/1000, "p99_ms")
	})
	b.Run("codexion-half-rate", func(b *testing.B) {
		half := drive(b, a.URL, token, "/v1/ledger/entries", twoLine, loadClients, loadRound, medEPS/2)
		b.ReportMetric(half.perSecond(), "entries/s")
		b.ReportMetric(float64(half.pct(0.50).Microseconds())/1000, "p50_ms")
		b.ReportMetric(float64(half.pct(0.99).Microseconds())/1000, "p99_ms")
	})
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
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
	res := drive(b, a.URL, token, "/v1/ledger/entries:batch", batch, batchClients(), loadDuration, 0)
	b.ReportMetric(res.perSecond()*ledger.MaxBatchEntries*2, "lines/s")
	b.ReportMetric(float64(res.pct(0.50).Milliseconds()), "p50_ms_per_batch")
}

func batchClients() int {
	if n, err := strconv.Atoi(os.Getenv("CODEXION_BENCH_BATCH_CLIENTS")); err == nil && n > 0 {
		return n
	}
	return 2
}
