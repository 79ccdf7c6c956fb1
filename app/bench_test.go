package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/features/server"
)

// benchDev starts the dev stack with the shipped examples for a load benchmark.
func benchDev(b *testing.B) (*Dev, *api) {
	if os.Getenv("CODEXION_BENCH_LOAD") == "" {
		b.Skip("set CODEXION_BENCH_LOAD=1 to run (starts the dev stack)")
	}
	cfg := devConfig(b)
	cfg.Features.Apply = "../examples/ledger"
	cfg.Log.Level = "error"
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

// BenchmarkOnlineLookup: /get-online-features for 1 entity x 20 features at 1,000 req/s for
// 10 s over loopback, through the whole HTTP chain (auth, metrics, tracing, logging), beside
// a bare net/http server answering the same bytes at the same rate.
func BenchmarkOnlineLookup(b *testing.B) {
	_, a := benchDev(b)
	var view server.ViewInfo
	if _, err := a.as("ml-engineer").Do(context.Background(), "GET", "/v1/features/views/account_activity", nil, &view); err != nil {
		b.Fatal(err)
	}
	var names []string
	for _, f := range view.Features {
		names = append(names, "account_activity:"+f.Name)
	}
	body, _ := json.Marshal(features.OnlineRequest{Features: names, Entities: map[string][]any{"account": {"acme:1200"}}})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
	post := func(url string, token string) func() error {
		return func() error {
			req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
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
	req, _ := http.NewRequest("POST", a.base+"/get-online-features", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+a.tokens["ml-engineer"])
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var parsed features.OnlineResponse
	if err := json.Unmarshal(answer, &parsed); err != nil || len(parsed.Results) != 21 || parsed.Results[1].Statuses[0] != features.Present {
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

	for _, side := range []struct{ name, url, token string }{
		{"bare-http", "http://" + ln.Addr().String() + "/", ""},
		{"get-online-features", a.base + "/get-online-features", a.tokens["ml-engineer"]},
	} {
		b.Run(side.name, func(b *testing.B) {
			for range b.N {
				openLoop(b, 1000, time.Second, post(side.url, side.token)) // warm up
				lat := openLoop(b, 1000, 10*time.Second, post(side.url, side.token))
				b.ReportMetric(pctMS(lat, 0.50), "p50_ms")
				b.ReportMetric(pctMS(lat, 0.99), "p99_ms")
				b.ReportMetric(pctMS(lat, 0.999), "p99.9_ms")
			}
		})
	}
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
