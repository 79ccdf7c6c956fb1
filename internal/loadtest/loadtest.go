// Package loadtest drives an HTTP API with concurrent clients, and runs pgbench beside it,
// for the load benchmarks: the same driver and the same baseline wherever a benchmark
// compares Codexion's writes with PostgreSQL's own.
package loadtest

import (
	"bytes"
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/hex"
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
	"github.com/jackc/pgx/v5"
)

// Median of xs.
func Median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// Result is what a load run did: the requests that succeeded and how long each took.
type Result struct {
	Ops       int
	Elapsed   time.Duration
	Latencies []time.Duration
}

// PerSecond is the rate of successful requests.
func (r Result) PerSecond() float64 { return float64(r.Ops) / r.Elapsed.Seconds() }

// Pct is the p-quantile of the latencies (p in [0, 1]).
func (r Result) Pct(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	slices.Sort(r.Latencies)
	return r.Latencies[min(len(r.Latencies)-1, int(float64(len(r.Latencies))*p))]
}

// Drive posts bodies from clients goroutines for d, each request with its own
// Idempotency-Key; ratePerSec > 0 paces the total rate. A failed request fails b.
func Drive(b testing.TB, base, token, path string, body func(*rand.Rand) []byte, clients int, d time.Duration, ratePerSec float64) Result {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	var (
		mu     sync.Mutex
		res    Result
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
			res.Latencies = append(res.Latencies, lat...)
			res.Ops += len(lat)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(began)
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d requests failed", n)
	}
	return res
}

var tpsPattern = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// Pgbench creates a fresh database on the server at dsn, initialises pgbench's tables in
// it at a scale equal to the clients (as pgbench's documentation asks), runs its built-in
// TPC-B-like script for d, drops the database, and returns the transactions per second.
func Pgbench(b testing.TB, dsn string, clients int, d time.Duration) float64 {
	fresh, drop := freshDatabase(b, dsn)
	defer drop()
	dsn = fresh
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

// VsPgbench alternates pgbench (clients, on the server at dsn) with drive for rounds
// rounds of d each, so a checkpoint or autovacuum that lands in one round does not decide
// the comparison, and returns each side's median round: pgbench's tps and drive's result.
func VsPgbench(b testing.TB, dsn string, clients, rounds int, d time.Duration, drive func() Result) (float64, Result) {
	var tps []float64
	var runs []Result
	for range rounds {
		tps = append(tps, Pgbench(b, dsn, clients, d))
		runs = append(runs, drive())
	}
	slices.SortFunc(runs, func(x, y Result) int { return cmp.Compare(x.PerSecond(), y.PerSecond()) })
	return Median(tps), runs[len(runs)/2]
}

// ReportVsPgbench reports the medians VsPgbench returned as the sub-benchmarks baseline
// (pgbench: ns/op and tps) and codexion (ns/op, entries/s, p50 and p99 latency, and any
// further metrics more reports).
func ReportVsPgbench(b *testing.B, tps float64, med Result, more ...func(*testing.B)) {
	b.Run("baseline", func(b *testing.B) {
		b.ReportMetric(1e9/tps, "ns/op")
		b.ReportMetric(tps, "tps")
	})
	b.Run("codexion", func(b *testing.B) {
		b.ReportMetric(1e9/med.PerSecond(), "ns/op")
		b.ReportMetric(med.PerSecond(), "entries/s")
		b.ReportMetric(float64(med.Pct(0.50).Microseconds())/1000, "p50_ms")
		b.ReportMetric(float64(med.Pct(0.99).Microseconds())/1000, "p99_ms")
		for _, m := range more {
			m(b)
		}
	})
}

// freshDatabase creates an empty database beside the one at dsn and returns its URL and a
// function that drops it.
func freshDatabase(b testing.TB, dsn string) (string, func()) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatalf("connect for pgbench: %v", err)
	}
	defer conn.Close(ctx) //nolint:errcheck // a short admin connection
	var raw [6]byte
	_, _ = crand.Read(raw[:])
	name := "pgbench_" + hex.EncodeToString(raw[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		b.Fatalf("create pgbench's database: %v", err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		b.Fatal(err)
	}
	u.Path = "/" + name
	return u.String(), func() {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Errorf("drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx) //nolint:errcheck // a short admin connection
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			b.Errorf("drop %s: %v", name, err)
		}
	}
}

// TwoLine returns a generator of balanced 2-line entries in book between random pairs of
// accounts A000..A(accounts-1) (posting dates in May 2026).
func TwoLine(book string, accounts int) func(*rand.Rand) []byte {
	return func(rng *rand.Rand) []byte {
		x, y := rng.IntN(accounts), rng.IntN(accounts-1)
		if y >= x {
			y++
		}
		amt := fmt.Sprintf("%d.%02d", 1+rng.IntN(900), rng.IntN(100))
		return fmt.Appendf(nil, `{"book":%q,"posting_date":"2026-05-%02d","lines":[{"account":"A%03d","debit":%q},{"account":"A%03d","credit":%q}]}`,
			book, 1+rng.IntN(28), x, amt, y, amt)
	}
}
