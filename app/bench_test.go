package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/features/online"
	"github.com/codexion/codexion/features/server"
	"github.com/codexion/codexion/internal/loadtest"
	"github.com/codexion/codexion/internal/testenv"
	"github.com/codexion/codexion/platform/config"
)

// benchDev starts the dev stack with the shipped examples for a load benchmark.
func benchDev(b *testing.B) (*Dev, *api) { return benchDevWith(b, nil) }

// openLoop sends one request every 1/rate for d and returns each one's latency measured
// from when it was due (so a slow answer also delays nothing it should not).
func openLoop(b *testing.B, rate int, d time.Duration, send func() error) []time.Duration {
	interval := time.Second / time.Duration(rate)
	n := int(d / interval)
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	var failed error
	var mu sync.Mutex
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(due))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := send(); err != nil {
				mu.Lock()
				failed = err
				mu.Unlock()
			}
			lat[i] = time.Since(due)
		}()
	}
	wg.Wait()
	if failed != nil {
		b.Fatal(failed)
	}
	if os.Getenv("CODEXION_BENCH_SLOW") != "" { // where the slow ones are, by 100 ms window
		slow := map[int]int{}
		for i, l := range lat {
			if l > 2*time.Millisecond {
				slow[i*int(interval/time.Millisecond)/100]++
			}
		}
		b.Logf("slow requests by 100 ms window: %v", slow)
	}
	slices.Sort(lat)
	return lat
}

func pctMS(lat []time.Duration, p float64) float64 {
	return float64(lat[int(float64(len(lat)-1)*p)].Microseconds()) / 1000
}

// benchDevWith is benchDev with changes to the dev stack's config.
func benchDevWith(b *testing.B, change func(*config.Config)) (*Dev, *api) {
	if os.Getenv("CODEXION_BENCH_LOAD") == "" {
		b.Skip("set CODEXION_BENCH_LOAD=1 to run (starts the dev stack)")
	}
	cfg := devConfig(b)
	cfg.Features.Apply = "../examples/ledger"
	cfg.Log.Level = "error"
	if change != nil {
		change(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	b.Cleanup(cancel)
	d, err := StartDev(ctx, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil))) // info, as `codexion dev` logs
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = d.Stop() })
	raw, err := os.ReadFile(d.Endpoints.Tokens)
	if err != nil {
		b.Fatal(err)
	}
	a := &api{base: d.Endpoints.HTTP}
	if err := json.Unmarshal(raw, &a.tokens); err != nil {
		b.Fatal(err)
	}
	if _, err := a.as("data-engineer").Do(ctx, "POST", "/v1/pipelines/ledger-lines/drain", nil, nil); err != nil {
		b.Fatal(err)
	}
	return d, a
}

// lookupEntities is how many entities the online lookup benchmark spreads its requests over.
const lookupEntities = 100_000

// seedOnline writes lookupEntities entities with every feature of account_activity into
// the online store, as materialization would, and returns the feature names.
func seedOnline(b *testing.B, d *Dev, a *api) []string {
	ctx := context.Background()
	var view server.ViewInfo
	if _, err := a.as("ml-engineer").Do(ctx, "GET", "/v1/features/views/account_activity", nil, &view); err != nil {
		b.Fatal(err)
	}
	var names []string
	for _, f := range view.Features {
		names = append(names, "account_activity:"+f.Name)
	}
	now := time.Now().UTC()
	for start := 0; start < lookupEntities; start += 1000 {
		recs := make([]online.Record, 0, 1000)
		for i := start; i < start+1000; i++ {
			vals := map[string]any{}
			for j, f := range view.Features {
				vals[f.Name] = json.Number(fmt.Sprintf("%d.%02d", (i*31+j)%100000, i%100))
			}
			recs = append(recs, online.Record{Key: entityKey(i), EventTime: now, WrittenAt: now, Values: vals})
		}
		if _, err := d.App.Features.OnlineStore.Write(ctx, "account_activity", recs); err != nil {
			b.Fatal(err)
		}
	}
	return names
}

func entityKey(i int) string { return fmt.Sprintf("acme:E%06d", i) }

// BenchmarkOnlineLookup: /get-online-features for 1 entity x 20 features at 1,000 req/s for
// 10 s over loopback, through the whole HTTP chain (auth, metrics, tracing, logging), each
// request for another of 100,000 entities. From the embedded store cold (no request's
// entity was read before: every read decodes from bbolt) and warm (the same entities
// again, from the decoded cache), and from Redis. The baseline is a bare net/http server
// answering with the bytes of a real answer at the same rate.
func BenchmarkOnlineLookup(b *testing.B) {
	d, a := benchDev(b)
	names := seedOnline(b, d, a)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
	body := func(key string) []byte {
		raw, _ := json.Marshal(features.OnlineRequest{Features: names, Entities: map[string][]any{"account": {key}}})
		return raw
	}
	// keys hands out entities in a fixed random order: from, from+1, ... of the permutation.
	perm := rand.New(rand.NewPCG(1, 2)).Perm(lookupEntities)
	post := func(url, token string, from int) func() error {
		var next atomic.Int64
		next.Store(int64(from))
		return func() error {
			k := entityKey(perm[int(next.Add(1)-1)%lookupEntities])
			req, _ := http.NewRequest("POST", url, bytes.NewReader(body(k)))
			req.Header.Set("Content-Type", "application/json")
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				return err
			}
			if resp.StatusCode != 200 {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		}
	}
	// One real answer, checked and replayed by the baseline.
	req, _ := http.NewRequest("POST", a.base+"/get-online-features", bytes.NewReader(body(entityKey(perm[lookupEntities-1]))))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+a.tokens["ml-engineer"])
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var parsed features.OnlineResponse
	if err := json.Unmarshal(answer, &parsed); err != nil || len(parsed.Results) != len(names)+1 || parsed.Results[1].Statuses[0] != features.Present {
		b.Fatalf("lookup answer: %s", answer)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	bare := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	}), ReadHeaderTimeout: 5 * time.Second}
	go bare.Serve(ln) //nolint:errcheck // closed below
	defer bare.Close()

	const rate, warmup, measured = 1000, time.Second, 10 * time.Second
	measure := func(b *testing.B, url, token string, from int) {
		// Warm the connections on entities the measured requests never ask for.
		openLoop(b, rate, warmup, post(url, token, lookupEntities-rate))
		lat := openLoop(b, rate, measured, post(url, token, from))
		b.ReportMetric(pctMS(lat, 0.50), "p50_ms")
		b.ReportMetric(pctMS(lat, 0.99), "p99_ms")
		b.ReportMetric(pctMS(lat, 0.999), "p99.9_ms")
	}
	lookups := a.base + "/get-online-features"
	b.Run("baseline", func(b *testing.B) {
		for range b.N {
			measure(b, "http://"+ln.Addr().String()+"/", "", 0)
		}
	})
	// Each iteration reads entities no earlier one read, so cold stays cold.
	round := 0
	b.Run("embedded-cold", func(b *testing.B) {
		for range b.N {
			measure(b, lookups, a.tokens["ml-engineer"], round*rate*int(measured/time.Second))
			round++
		}
	})
	b.Run("embedded-warm", func(b *testing.B) {
		for range b.N {
			measure(b, lookups, a.tokens["ml-engineer"], 0) // the entities the first cold round read
		}
	})
	_ = d.Stop() // one dev stack at a time on two cores
	dr, ar := benchDevWith(b, func(c *config.Config) { c.Features.Online, c.Features.RedisURL = "redis", testenv.RedisURL(b) })
	seedOnline(b, dr, ar)
	b.Run("redis", func(b *testing.B) {
		for range b.N {
			measure(b, ar.base+"/get-online-features", ar.tokens["ml-engineer"], 0)
		}
	})
}

// BenchmarkFreshness: ledger commit (the API's 201) to the online value changing, on the
// dev stack: 100 entries posted one at a time through the API, each polled for at
// /get-online-features every 5 ms.
func BenchmarkFreshness(b *testing.B) {
	_, a := benchDev(b)
	ctx := context.Background()
	lookup := features.OnlineRequest{Features: []string{"account_activity:lines_count"}, Entities: map[string][]any{"account": {"acme:1200"}}}
	count := func() string {
		var r features.OnlineResponse
		if _, err := a.as("ml-engineer").Do(ctx, "POST", "/get-online-features", lookup, &r); err != nil {
			b.Fatal(err)
		}
		return fmt.Sprint(r.Results[1].Values[0])
	}
	today := time.Now().UTC().Format(time.DateOnly)
	for range b.N {
		var lat []time.Duration
		for range 100 {
			before := count()
			if _, err := a.as("finance").Do(ctx, "POST", "/v1/ledger/entries", map[string]any{"book": "acme", "posting_date": today,
				"journal": "general", "lines": []map[string]any{{"account": "1200", "debit": "1.00"}, {"account": "4000", "credit": "1.00"}}}, nil); err != nil {
				b.Fatal(err)
			}
			committed := time.Now()
			for count() == before {
				if time.Since(committed) > 30*time.Second {
					b.Fatal("the online value did not change in 30 s")
				}
				time.Sleep(5 * time.Millisecond)
			}
			lat = append(lat, time.Since(committed))
			time.Sleep(50 * time.Millisecond)
		}
		slices.Sort(lat)
		b.ReportMetric(pctMS(lat, 0.50), "p50_ms")
		b.ReportMetric(pctMS(lat, 0.95), "p95_ms")
		b.ReportMetric(pctMS(lat, 0.99), "p99_ms")
	}
}

// trainingRows is the size of the entity table of the training-set benchmark.
const trainingRows = 100_000

// BenchmarkTrainingSetJob: a training set as a user gets it, timed from the upload of
// 100,000 entity rows (CSV) to the last byte of the Parquet result: the request, staging
// the rows, the TrainingSet workflow on Temporal, the point-in-time join over the demo
// book's ledger lines, the upload to object storage, the job's record and the download.
// The baseline is the join alone: the same SQL over the same rows, in process, written to
// a local Parquet file.
func BenchmarkTrainingSetJob(b *testing.B) {
	d, a := benchDev(b)
	ctx := context.Background()
	off := d.App.Features.Offline
	view := d.App.Features.Snapshot().Views["account_activity"].Spec
	// Entity rows over the demo book's accounts and its 90 days, fixed by a seed.
	if _, err := off.DB().ExecContext(ctx, fmt.Sprintf(`CREATE OR REPLACE TABLE bench_spine AS
		SELECT i AS __row, a.account AS __key, a.lo + to_seconds(CAST(((i * 7919) %% 1000) / 1000.0 * epoch(a.hi - a.lo) AS BIGINT)) AS __ts
		FROM range(%d) t(i), LATERAL (SELECT 'acme:' || code AS account, lo, hi FROM
			(SELECT DISTINCT account AS code FROM ledger_lines ORDER BY 1) c,
			(SELECT min(posted_at) AS lo, max(posted_at) AS hi FROM ledger_lines) r
			ORDER BY hash(code, i) LIMIT 1) a`, trainingRows)); err != nil {
		b.Fatal(err)
	}
	rows, err := off.DB().QueryContext(ctx, `SELECT __key, strftime(__ts, '%Y-%m-%dT%H:%M:%SZ') FROM bench_spine ORDER BY __row`)
	if err != nil {
		b.Fatal(err)
	}
	var csv bytes.Buffer
	csv.WriteString("account,event_timestamp\n")
	for rows.Next() {
		var k, ts string
		if err := rows.Scan(&k, &ts); err != nil {
			b.Fatal(err)
		}
		csv.WriteString(k + "," + ts + "\n")
	}
	rows.Close()
	var names []string
	for _, f := range view.Features {
		names = append(names, "account_activity:"+f.Name)
	}
	b.Run("baseline", func(b *testing.B) {
		dir := b.TempDir()
		for range b.N {
			path := filepath.Join(off.Exchange(), "bench-training.parquet")
			if _, err := off.DB().ExecContext(ctx, `COPY (`+view.HistoricalSQL("bench_spine")+`) TO '`+path+`' (FORMAT parquet)`); err != nil {
				b.Fatal(err)
			}
			_ = os.Rename(path, filepath.Join(dir, "training.parquet"))
		}
		b.ReportMetric(trainingRows*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("codexion", func(b *testing.B) {
		for range b.N {
			req, _ := http.NewRequest("POST", a.base+"/v1/features/historical?format=parquet&features="+strings.Join(names, ","), bytes.NewReader(csv.Bytes()))
			req.Header.Set("Content-Type", "text/csv")
			req.Header.Set("Authorization", "Bearer "+a.tokens["ml-engineer"])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var job server.Job
			err = json.NewDecoder(resp.Body).Decode(&job)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 202 {
				b.Fatalf("submit: %d %v", resp.StatusCode, err)
			}
			for {
				var j server.Job
				if _, err := a.as("ml-engineer").Do(ctx, "GET", "/v1/features/historical/"+job.ID, nil, &j); err != nil {
					b.Fatal(err)
				}
				if j.Status == "failed" {
					b.Fatalf("job failed: %s", j.Error)
				}
				if j.Status == "succeeded" {
					if j.Lineage == nil || j.Lineage.Rows != trainingRows {
						b.Fatalf("job: %+v", j)
					}
					job = j
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			req, _ = http.NewRequest("GET", a.base+job.Result, nil)
			req.Header.Set("Authorization", "Bearer "+a.tokens["ml-engineer"])
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || n == 0 {
				b.Fatalf("download: %d, %d bytes, %v", resp.StatusCode, n, err)
			}
		}
		b.ReportMetric(trainingRows*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}

// BenchmarkPostEntryWithPipeline: the ledger benchmark as users run it: on the dev stack
// (PostgreSQL at its default durability) with the relay publishing every entry and the
// ledger-lines pipeline consuming them into the offline store and refreshing online values.
// 16 clients post 2-line entries over 50 accounts, each request with its own
// Idempotency-Key, alternating for 3 rounds of 6 s with pgbench's TPC-B-like script at 16
// clients and scale 16 on the same cluster; each side reports its median round.
func BenchmarkPostEntryWithPipeline(b *testing.B) {
	d, a := benchDev(b)
	ctx := context.Background()
	if _, err := a.as("admin").Do(ctx, "POST", "/v1/ledger/books", map[string]any{"code": "bench", "name": "Bench", "base_currency": "EUR"}, nil); err != nil {
		b.Fatal(err)
	}
	const accounts, clients, round = 50, 16, 6 * time.Second
	for i := range accounts {
		if _, err := a.as("admin").Do(ctx, "POST", "/v1/ledger/accounts", map[string]any{"book": "bench", "code": fmt.Sprintf("A%03d", i),
			"name": fmt.Sprintf("Account %d", i), "type": "asset"}, nil); err != nil {
			b.Fatal(err)
		}
	}
	body := loadtest.TwoLine("bench", accounts)
	medTPS, med := loadtest.VsPgbench(b, d.Endpoints.Postgres, clients, 3, round, func() loadtest.Result {
		return loadtest.Drive(b, a.base, a.tokens["finance"], "/v1/ledger/entries", body, clients, round, 0)
	})
	// Every posted entry reached the offline store: the pipeline kept up.
	if _, err := a.as("data-engineer").Do(ctx, "POST", "/v1/pipelines/ledger-lines/drain", nil, nil); err != nil {
		b.Fatal(err)
	}
	loadtest.ReportVsPgbench(b, medTPS, med)
}
