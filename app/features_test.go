package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/redis/go-redis/v9"

	"github.com/codexion/codexion/catalog"
	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/features/offline"
	"github.com/codexion/codexion/features/server"
	"github.com/codexion/codexion/internal/testenv"
	"github.com/codexion/codexion/ledger"
	"github.com/codexion/codexion/platform/apiclient"
	"github.com/codexion/codexion/workflows/ingest"
	"github.com/codexion/codexion/workflows/trainingset"
)

// api calls the dev stack's API as one of its roles.
type api struct {
	t      *testing.T
	base   string
	tokens map[string]string
}

func newAPI(t *testing.T, d *Dev) *api {
	raw, err := os.ReadFile(d.Endpoints.Tokens)
	if err != nil {
		t.Fatal(err)
	}
	a := &api{t: t, base: d.Endpoints.HTTP}
	if err := json.Unmarshal(raw, &a.tokens); err != nil {
		t.Fatal(err)
	}
	return a
}

// with returns a for use in a subtest.
func (a *api) with(t *testing.T) *api { c := *a; c.t = t; return &c }

func (a *api) as(role string) *apiclient.Client { return apiclient.New(a.base, a.tokens[role]) }

// do calls and fails the test on any error.
func (a *api) do(role, method, path string, in, out any) {
	a.t.Helper()
	if _, err := a.as(role).Do(context.Background(), method, path, in, out); err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
}

// refused calls and returns the problem it must answer with.
func (a *api) refused(role, method, path string, in any) *apiclient.Error {
	a.t.Helper()
	_, err := a.as(role).Do(context.Background(), method, path, in, nil)
	var e *apiclient.Error
	if !errors.As(err, &e) {
		a.t.Fatalf("%s %s: want a problem answer, got %v", method, path, err)
	}
	return e
}

func (a *api) online(req features.OnlineRequest) features.OnlineResponse {
	a.t.Helper()
	var resp features.OnlineResponse
	a.do("ml-engineer", "POST", "/get-online-features", req, &resp)
	return resp
}

func column(t *testing.T, resp features.OnlineResponse, name string) features.OnlineColumn {
	t.Helper()
	for i, n := range resp.Metadata.FeatureNames {
		if n == name {
			return resp.Results[i]
		}
	}
	t.Fatalf("response has no %s: %v", name, resp.Metadata.FeatureNames)
	return features.OnlineColumn{}
}

// TestFeatureStoreOnTheDevStack: the shipped examples, applied at start, turn the demo
// book into features; online values agree with the ledger's own balances, a new posting
// reaches them within seconds, training sets are point-in-time correct against the
// ledger's as-of balances, and every bad input is refused with what to fix.
func TestFeatureStoreOnTheDevStack(t *testing.T) {
	cfg := devConfig(t)
	cfg.Features.Apply = "../examples/ledger"
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	d, err := StartDev(ctx, cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))) // warnings show on failure
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop() //nolint:errcheck // test teardown
	a := newAPI(t, d)

	// Every journal line reaches the offline store once.
	waitOutboxDrained(t, ctx, d.App.DB)
	var st ingest.Status
	a.do("data-engineer", "POST", "/v1/pipelines/ledger-lines/drain", nil, &st)
	var lines int
	if err := d.App.DB.QueryRow(ctx, `SELECT count(*) FROM ledger_lines`).Scan(&lines); err != nil {
		t.Fatal(err)
	}
	off := d.App.Features.Offline
	var got, distinct int
	if err := off.DB().QueryRowContext(ctx, `SELECT count(*), count(DISTINCT (entry_id, line_no)) FROM ledger_lines`).Scan(&got, &distinct); err != nil {
		t.Fatal(err)
	}
	if got != lines || distinct != lines {
		t.Fatalf("offline store holds %d lines (%d distinct); Postgres has %d", got, distinct, lines)
	}

	t.Run("hostile SQL and identifiers are refused", func(t *testing.T) { hostileFeatureInput(t, a.with(t), d) })

	t.Run("online balances are the ledger's", func(t *testing.T) {
		a := a.with(t)
		var accounts ledger.List[ledger.Account]
		a.do("finance", "GET", "/v1/ledger/accounts?book=acme&limit=1000", nil, &accounts)
		var keys []any
		want := map[string]string{}
		for _, acc := range accounts.Items {
			keys = append(keys, "acme:"+acc.Code)
			var one ledger.Account
			a.do("finance", "GET", "/v1/ledger/accounts/"+acc.Code+"?book=acme", nil, &one)
			for _, b := range one.Balances {
				if b.Debit != "0" || b.Credit != "0" {
					want["acme:"+acc.Code] = b.BookBalance
				}
			}
		}
		resp := a.online(features.OnlineRequest{Features: []string{"account_activity:balance"}, Entities: map[string][]any{"account": keys}})
		col := column(t, resp, "balance")
		compared := 0
		for i, k := range keys {
			w, posted := want[k.(string)]
			switch {
			case !posted && col.Statuses[i] != features.NotFound:
				t.Errorf("%s has no postings but is %s", k, col.Statuses[i])
			case posted && (col.Statuses[i] != features.Present || !sameDecimal(fmt.Sprint(col.Values[i]), w)):
				t.Errorf("%s: online balance %v (%s), ledger %s", k, col.Values[i], col.Statuses[i], w)
			case posted:
				compared++
			}
		}
		if compared < 10 {
			t.Fatalf("only %d accounts compared", compared)
		}
	})

	t.Run("a posting reaches the online store within seconds", func(t *testing.T) {
		a := a.with(t)
		req := features.OnlineRequest{Features: []string{"account_activity:lines_count", "account_activity:debit_sum_24h"},
			Entities: map[string][]any{"account": {"acme:1200"}}}
		before := column(t, a.online(req), "lines_count").Values[0]
		today := time.Now().UTC().Format(time.DateOnly)
		posted := time.Now()
		a.do("finance", "POST", "/v1/ledger/entries", map[string]any{"book": "acme", "posting_date": today, "journal": "general",
			"description": "freshness probe", "lines": []map[string]any{{"account": "1200", "debit": "125.50"}, {"account": "4000", "credit": "125.50"}}}, nil)
		for {
			resp := a.online(req)
			if after := column(t, resp, "lines_count").Values[0]; fmt.Sprint(after) != fmt.Sprint(before) {
				if sum := column(t, resp, "debit_sum_24h").Values[0]; !sameDecimal(fmt.Sprint(sum), "125.5") {
					t.Fatalf("debit_sum_24h after the probe: %v", sum)
				}
				t.Logf("ledger commit to online value: %s", time.Since(posted).Round(time.Millisecond))
				return
			}
			if time.Since(posted) > 10*time.Second {
				t.Fatalf("lines_count still %v 10 s after the posting", before)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("training sets match the ledger as of each row", func(t *testing.T) {
		a := a.with(t)
		dates := []string{"2026-01-15", "2026-02-01", "2026-03-15"}
		ents := map[string][]any{"account": {}, "event_timestamp": {}, "label": {}}
		for i, day := range dates {
			ents["account"] = append(ents["account"], "acme:1200")
			ents["event_timestamp"] = append(ents["event_timestamp"], day+"T23:59:59Z")
			ents["label"] = append(ents["label"], i)
		}
		ents["account"] = append(ents["account"], "acme:1200")
		ents["event_timestamp"] = append(ents["event_timestamp"], "2025-12-31T00:00:00Z") // before any posting
		ents["label"] = append(ents["label"], 9)
		var job server.Job
		a.do("ml-engineer", "POST", "/v1/features/historical", server.HistoricalRequest{
			Features: []string{"account_activity:balance", "account_activity:debit_count_30d"}, Entities: ents, FullFeatureNames: true}, &job)
		rows := readParquet(t, waitJob(t, a, job.ID), `SELECT label, account_activity__balance FROM rows ORDER BY label`)
		if os.Getenv("CODEXION_RECORD_HISTORY") != "" {
			recordHistory(t, ctx, d, trainingset.WorkflowID(job.ID), filepath.Join("..", "workflows", "trainingset", "testdata", "training_set_history.json"))
		}
		for i, day := range dates {
			var acc ledger.Account
			a.do("finance", "GET", "/v1/ledger/accounts/1200?book=acme&as_of="+day, nil, &acc)
			if rows[i][0] != fmt.Sprint(i) || !sameDecimal(rows[i][1], acc.Balances[0].BookBalance) {
				t.Errorf("as of %s: training set says %v, the ledger %s", day, rows[i], acc.Balances[0].BookBalance)
			}
		}
		if rows[3][1] != "<nil>" {
			t.Errorf("before the first posting the balance must be NULL, got %v", rows[3][1])
		}

		// The same from CSV, as an Arrow IPC stream.
		csv := "account,event_timestamp\nacme:1200,2026-02-01T23:59:59Z\nacme:4000,2026-03-01T00:00:00Z\n"
		req, _ := http.NewRequest("POST", a.base+"/v1/features/historical?feature_service=entry_risk&format=arrow", strings.NewReader(csv))
		req.Header.Set("Content-Type", "text/csv")
		req.Header.Set("Authorization", "Bearer "+a.tokens["ml-engineer"])
		// entry_risk also needs the counterparty key: refused, naming it.
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(body), "counterparty") {
			t.Fatalf("entry_risk without counterparty: %d %s", resp.StatusCode, body)
		}
		csv = "account,counterparty,event_timestamp\nacme:1200,acme:C01,2026-02-01T23:59:59Z\nacme:4000,acme:S01,2026-03-01T00:00:00Z\n"
		req, _ = http.NewRequest("POST", a.base+"/v1/features/historical?feature_service=entry_risk&format=arrow", strings.NewReader(csv))
		req.Header.Set("Content-Type", "text/csv")
		req.Header.Set("Authorization", "Bearer "+a.tokens["ml-engineer"])
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.NewDecoder(resp.Body).Decode(&job); err != nil || resp.StatusCode != 202 {
			t.Fatalf("csv job: %d %v", resp.StatusCode, err)
		}
		resp.Body.Close()
		data := waitJob(t, a, job.ID)
		rdr, err := ipc.NewReader(strings.NewReader(string(data)))
		if err != nil {
			t.Fatal(err)
		}
		n := int64(0)
		for rdr.Next() {
			n += rdr.RecordBatch().NumRows()
		}
		if n != 2 || rdr.Schema().NumFields() != 3+15 {
			t.Fatalf("arrow result: %d rows, %d columns", n, rdr.Schema().NumFields())
		}

		// Entity rows as Parquet, the result as CSV.
		tmp := t.TempDir()
		scratch, err := offline.Open(context.Background(), ":memory:", offline.FileRoots(tmp))
		if err != nil {
			t.Fatal(err)
		}
		defer scratch.Close()
		pq := filepath.Join(tmp, "entities.parquet")
		if _, err := scratch.DB().Exec(`COPY (SELECT 'acme:1200' AS account, TIMESTAMP '2026-02-01 23:59:59' AS event_timestamp, 7 AS label)
			TO '` + pq + `' (FORMAT parquet)`); err != nil {
			t.Fatal(err)
		}
		body, _ = os.ReadFile(pq)
		req, _ = http.NewRequest("POST", a.base+"/v1/features/historical?features=account_activity:balance&format=csv", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/vnd.apache.parquet")
		req.Header.Set("Authorization", "Bearer "+a.tokens["ml-engineer"])
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.NewDecoder(resp.Body).Decode(&job); err != nil || resp.StatusCode != 202 {
			t.Fatalf("parquet job: %d %v", resp.StatusCode, err)
		}
		resp.Body.Close()
		var feb ledger.Account
		a.do("finance", "GET", "/v1/ledger/accounts/1200?book=acme&as_of=2026-02-01", nil, &feb)
		csvOut := string(waitJob(t, a, job.ID))
		lines := strings.Split(strings.TrimSpace(csvOut), "\n")
		if len(lines) != 2 || lines[0] != "account,event_timestamp,label,balance" ||
			!sameDecimal(lines[1][strings.LastIndex(lines[1], ",")+1:], feb.Balances[0].BookBalance) {
			t.Fatalf("csv result:\n%s\nledger balance %s", csvOut, feb.Balances[0].BookBalance)
		}
	})

	t.Run("a declared model trains on the ledger and knows its data", func(t *testing.T) { modelsOnTheDevStack(t, a.with(t), d) })
	t.Run("a model retrains on its Temporal schedule", func(t *testing.T) { retrainingOnASchedule(t, a.with(t), d) })

	t.Run("push and materialize", func(t *testing.T) {
		a := a.with(t)
		now := time.Now().UTC().Format(time.RFC3339Nano)
		push := features.PushRequest{PushSourceName: "account_activity", DF: map[string][]any{
			"event_id": {"push-1"}, "account_key": {"acme:9999"}, "posted_at": {now}, "committed_at": {now},
			"debit": {"7.25"}, "credit": {"0"}, "book_amount": {"7.25"}, "line_no": {1}}}
		for i, want := range []int64{1, 0} { // a retried push changes nothing
			var res features.PushResult
			a.do("data-engineer", "POST", "/push", push, &res)
			if res.Inserted != want || (i == 0 && res.OnlineWritten["account_activity"] != 1) {
				t.Fatalf("push %d: %+v", i, res)
			}
		}
		col := column(t, a.online(features.OnlineRequest{Features: []string{"account_activity:balance"}, Entities: map[string][]any{"account": {"acme:9999"}}}), "balance")
		if col.Statuses[0] != features.Present || !sameDecimal(fmt.Sprint(col.Values[0]), "7.25") {
			t.Fatalf("pushed row online: %+v", col)
		}
		// Lookups keep being answered while materializations run.
		stop := make(chan struct{})
		lookups := make(chan error, 1)
		go func() {
			n := 0
			defer func() { lookups <- nil }()
			for {
				select {
				case <-stop:
					if n == 0 {
						lookups <- fmt.Errorf("no lookup ran")
					}
					return
				default:
				}
				var r features.OnlineResponse
				if _, err := a.as("ml-engineer").Do(context.Background(), "POST", "/get-online-features",
					features.OnlineRequest{Features: []string{"account_activity:balance"}, Entities: map[string][]any{"account": {"acme:1200"}}}, &r); err != nil {
					lookups <- err
					return
				}
				if r.Results[1].Statuses[0] != features.Present {
					lookups <- fmt.Errorf("during materialization: %v", r.Results[1].Statuses)
					return
				}
				n++
			}
		}()
		for range 3 {
			var m features.MaterializeResult
			a.do("data-engineer", "POST", "/materialize", map[string]any{}, &m)
			if m.Written["account_activity"] < 10 || m.Written["counterparty_activity"] < 10 {
				t.Fatalf("materialize wrote %v", m.Written)
			}
		}
		close(stop)
		if err := <-lookups; err != nil {
			t.Fatal(err)
		}
	})

	t.Run("bad input is refused and nothing is registered", func(t *testing.T) {
		a := a.with(t)
		var before features.Catalog
		a.do("data-engineer", "GET", "/v1/catalog", nil, &before)
		view := func(body string) catalog.ApplyRequest {
			return catalog.ApplyRequest{Documents: []catalog.Document{{File: "x.yaml", Content: body}}}
		}
		good := "kind: FeatureView\nname: probe\nentity: account\nsource: {table: ledger_lines, entity_column: account_key, timestamp_column: posted_at}\nfeatures:\n  - {name: d, column: debit, aggregation: sum}\n"
		for _, c := range []struct {
			body   string
			status int
			says   string
		}{
			{"kind: FeatureView\nname: [unclosed\n", 400, "invalid YAML"},
			{"kind: Table\nname: t\n", 400, `kind "Table" is unknown`},
			{strings.Replace(good, "column: debit", "column: debitt", 1), 400, "debitt"},
			{strings.Replace(good, "entity_column: account_key", "entity_column: nope", 1), 400, `"nope" is not a column of ledger_lines`},
			{strings.Replace(good, "entity: account", "entity: vendor", 1), 400, `entity "vendor" is not declared`},
			{strings.Replace(good, "table: ledger_lines", "table: nowhere", 1), 400, "source table nowhere"},
			{good + "---\nkind: Pipeline\nname: broken\nsource: {topic: t, event_types: [x]}\ntransform: SELEC * FROM {{batch}}\nsink: {table: other}\n", 400, "pipeline broken: transform"},
			{"kind: FeatureService\nname: s\nfeatures: [account_activity:nope]\n", 400, `view account_activity has no feature "nope"`},
			{strings.Replace(mustRead(t, "../examples/ledger/features/views.yaml"), "  - {name: lines_count,", "  - {name: lines_counted,", 1), 409, "feature lines_count is removed"},
		} {
			p := a.refused("data-engineer", "POST", "/v1/catalog/apply", view(c.body))
			if p.Status != c.status || !strings.Contains(p.Detail, c.says) {
				t.Errorf("apply %q: %d %s; want %d saying %q", c.body, p.Status, p.Detail, c.status, c.says)
			}
		}
		var after features.Catalog
		a.do("data-engineer", "GET", "/v1/catalog", nil, &after)
		if after.Revision != before.Revision || len(after.Views) != len(before.Views) || len(after.Pipelines) != len(before.Pipelines) {
			t.Fatalf("a refused apply changed the catalog: revision %d → %d", before.Revision, after.Revision)
		}
		// With --force a breaking change goes through as a new version; a dry run records nothing.
		var res catalog.Result
		a.do("data-engineer", "POST", "/v1/catalog/apply?dry_run=true", view(good), &res)
		if !res.DryRun || res.Changes[0].Action != "created" {
			t.Fatalf("dry run: %+v", res)
		}
		for _, c := range []struct {
			req  any
			says string
		}{
			{features.OnlineRequest{Features: []string{"account_activity:nope"}, Entities: map[string][]any{"account": {"acme:1200"}}}, `no feature "nope"`},
			{features.OnlineRequest{Features: []string{"nowhere:x"}, Entities: map[string][]any{"account": {"acme:1200"}}}, `no feature view "nowhere"`},
			{features.OnlineRequest{FeatureService: "entry_risk", Entities: map[string][]any{"account": {"acme:1200"}}}, `join key "counterparty"`},
		} {
			if p := a.refused("ml-engineer", "POST", "/get-online-features", c.req); p.Status != 400 || !strings.Contains(p.Detail, c.says) {
				t.Errorf("lookup %+v: %d %s", c.req, p.Status, p.Detail)
			}
		}
		p := a.refused("ml-engineer", "POST", "/v1/features/historical", server.HistoricalRequest{Features: []string{"account_activity:balance"},
			Entities: map[string][]any{"account": {"acme:1200", "acme:1200"}, "event_timestamp": {"2026-02-01T00:00:00Z", nil}}})
		if p.Status != 400 || !strings.Contains(p.Detail, "entity rows 2 have no valid event_timestamp") {
			t.Errorf("row without a timestamp: %d %s", p.Status, p.Detail)
		}
		p = a.refused("data-engineer", "POST", "/push", features.PushRequest{PushSourceName: "ledger_lines", DF: map[string][]any{"nope": {1}}})
		if p.Status != 400 || !strings.Contains(p.Detail, "nope is not a column of ledger_lines") {
			t.Errorf("push of an unknown column: %d %s", p.Status, p.Detail)
		}
	})

	t.Run("a breaking pipeline change with force rebuilds its table from the topic", func(t *testing.T) {
		a := a.with(t)
		spec := strings.Replace(mustRead(t, "../examples/ledger/pipelines/ledger-lines.yaml"), "    event_id,\n", "    event_id,\n    'v2' AS spec_version,\n", 1)
		apply := catalog.ApplyRequest{Documents: []catalog.Document{{File: "ledger-lines.yaml", Content: spec}}}
		if p := a.refused("data-engineer", "POST", "/v1/catalog/apply", apply); p.Status != 409 || !strings.Contains(p.Detail, "output columns change") {
			t.Fatalf("without force: %d %s", p.Status, p.Detail)
		}
		var res catalog.Result
		a.do("data-engineer", "POST", "/v1/catalog/apply?force=true", apply, &res)
		if res.Changes[0].Version != 2 {
			t.Fatalf("forced apply: %+v", res)
		}
		var st ingest.Status
		a.do("data-engineer", "POST", "/v1/pipelines/ledger-lines/drain", nil, &st)
		var lines, got, v2 int
		if err := d.App.DB.QueryRow(ctx, `SELECT count(*) FROM ledger_lines`).Scan(&lines); err != nil {
			t.Fatal(err)
		}
		if err := off.DB().QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE spec_version = 'v2') FROM ledger_lines`).Scan(&got, &v2); err != nil {
			t.Fatal(err)
		}
		if st.Version != 2 || got != lines || v2 != lines {
			t.Fatalf("after the rebuild: version %d, %d rows (%d of v2), Postgres has %d lines", st.Version, got, v2, lines)
		}
		// The table now has exactly the columns the catalog recorded, so a restart of the
		// pipeline does not rebuild it again.
		var snap features.Catalog
		a.do("data-engineer", "GET", "/v1/catalog", nil, &snap)
		cols, err := off.Columns(ctx, "ledger_lines")
		if err != nil {
			t.Fatal(err)
		}
		recorded := snap.Pipelines["ledger-lines"].Schema
		if len(cols) != len(recorded) {
			t.Fatalf("table has %d columns, catalog %d", len(cols), len(recorded))
		}
		for i, c := range cols {
			if c.Name != recorded[i].Name || c.Type != recorded[i].Type {
				t.Errorf("column %d: table %s %s, catalog %s %s", i, c.Name, c.Type, recorded[i].Name, recorded[i].Type)
			}
		}
	})

	t.Run("freshness and lag are reported", func(t *testing.T) {
		a := a.with(t)
		var v server.ViewInfo
		a.do("ml-engineer", "GET", "/v1/features/views/account_activity", nil, &v)
		if v.Freshness.LatestEventTime == nil || v.Freshness.OfflineRows < int64(lines) || v.Pipeline != "ledger-lines" || v.Freshness.OnlineWritten == nil {
			t.Fatalf("view info: %+v", v.Freshness)
		}
		time.Sleep(5 * time.Second) // the next measurement
		a.do("ml-engineer", "GET", "/v1/features/views/account_activity", nil, &v)
		if v.PipelineLag == nil || *v.PipelineLag != 0 {
			t.Errorf("pipeline lag in the view: %v", v.PipelineLag)
		}
		resp, err := http.Get(d.Endpoints.Metrics)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, m := range []string{`codexion_feature_freshness_seconds{view="account_activity"}`, `codexion_pipeline_lag_messages{pipeline="ledger-lines"} 0`,
			`codexion_feature_online_writes_total{by="stream",view="account_activity"}`} {
			if !strings.Contains(string(body), m) {
				t.Errorf("metrics lack %s", m)
			}
		}
	})
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sameDecimal compares decimal strings by value ("138617.8" and "138617.80").
func sameDecimal(a, b string) bool {
	trim := func(s string) string {
		if strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		return s
	}
	return trim(a) == trim(b)
}

// waitJob waits for a historical job and downloads its result.
func waitJob(t *testing.T, a *api, id string) []byte {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; {
		var j server.Job
		a.do("ml-engineer", "GET", "/v1/features/historical/"+id, nil, &j)
		if j.Status == "failed" {
			t.Fatalf("job failed: %s", j.Error)
		}
		if j.Status == "succeeded" {
			req, _ := http.NewRequest("GET", a.base+j.Result, nil)
			req.Header.Set("Authorization", "Bearer "+a.tokens["ml-engineer"])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("download: %d %v", resp.StatusCode, err)
			}
			return data
		}
		if time.Now().After(deadline) {
			t.Fatalf("job still %s", j.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readParquet runs q over a Parquet file (as table rows) and returns its cells as strings.
func readParquet(t *testing.T, data []byte, q string) [][]string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "rows.parquet")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := offline.Open(context.Background(), ":memory:", offline.FileRoots(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.DB().Query(strings.Replace(q, "FROM rows", "FROM read_parquet('"+path+"')", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		cells := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range cells {
			ptrs[i] = &cells[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, c := range cells {
			row[i] = fmt.Sprint(c)
		}
		out = append(out, row)
	}
	return out
}

// TestOnlineStoreOnRedis: the same dev stack with the online store on Redis (the project's
// private test Redis, installed by deploy/dev/redis.sh when missing).
func TestOnlineStoreOnRedis(t *testing.T) {
	cfg := devConfig(t)
	cfg.Features.Online = "redis"
	cfg.Features.RedisURL = testRedisURL(t)
	d, ctx := startDevWith(t, cfg, 3*time.Minute)
	defer d.Stop() //nolint:errcheck // test teardown
	a := newAPI(t, d)
	waitOutboxDrained(t, ctx, d.App.DB)
	a.do("data-engineer", "POST", "/v1/pipelines/ledger-lines/drain", nil, nil)
	a.do("data-engineer", "POST", "/materialize", map[string]any{"feature_views": []string{"account_activity"}}, nil)
	col := column(t, a.online(features.OnlineRequest{Features: []string{"account_activity:balance"}, Entities: map[string][]any{"account": {"acme:1200"}}}), "balance")
	var acc ledger.Account
	a.do("finance", "GET", "/v1/ledger/accounts/1200?book=acme", nil, &acc)
	if col.Statuses[0] != features.Present || !sameDecimal(fmt.Sprint(col.Values[0]), acc.Balances[0].BookBalance) {
		t.Fatalf("balance from Redis: %v %v, ledger %s", col.Values, col.Statuses, acc.Balances[0].BookBalance)
	}
}

func testRedisURL(t *testing.T) string {
	t.Helper()
	url := testenv.RedisURL(t)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	if err := c.FlushDB(context.Background()).Err(); err != nil { // values of earlier runs would be newer than the demo's
		t.Fatal(err)
	}
	return url
}
