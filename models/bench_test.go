package models_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// benchRuns is how many runs the registry holds before it is measured: searches and
// lookups run against a store with history, not an empty one.
const benchRuns = 10_000

// seedRuns fills the experiment with benchRuns finished runs, each with 5 metrics (latest
// and history), 5 params and 2 tags, in bulk SQL (setup, not measured).
func seedRuns(b *testing.B, a *mlflowAPI, exp string) {
	b.Helper()
	ctx := context.Background()
	_, err := a.srv.DB.Exec(ctx, `
		INSERT INTO models_runs (run_id, experiment_id, run_name, user_id, status, start_time_ms, end_time_ms, artifact_uri)
		SELECT md5('run' || i), $1::int8, 'run-' || i, 'bench', 'FINISHED', 1700000000000 + i, 1700000001000 + i,
			'mlflow-artifacts:/' || $1 || '/' || md5('run' || i) || '/artifacts'
		FROM generate_series(1, $2::int) i;
		`, exp, benchRuns)
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO models_metrics (run_id, key, value, timestamp_ms, step)
			SELECT r.run_id, 'm' || k, (abs(hashtext(r.run_id || k)) % 1000) / 1000.0, 1700000000000, 0
			FROM models_runs r, generate_series(1, 5) k WHERE r.experiment_id = $1::int8`,
		`INSERT INTO models_latest_metrics (run_id, experiment_id, key, value, timestamp_ms, step, is_nan)
			SELECT run_id, $1::int8, key, value, timestamp_ms, step, false FROM models_metrics m
			WHERE m.run_id IN (SELECT run_id FROM models_runs WHERE experiment_id = $1::int8)`,
		`INSERT INTO models_params (run_id, key, value)
			SELECT r.run_id, 'p' || k, (abs(hashtext(r.run_id || k)) % 10)::text
			FROM models_runs r, generate_series(1, 5) k WHERE r.experiment_id = $1::int8`,
		`INSERT INTO models_run_tags (run_id, key, value)
			SELECT r.run_id, t.key, t.value FROM models_runs r, (VALUES ('mlflow.runName', 'bench'), ('team', 'risk')) t(key, value)
			WHERE r.experiment_id = $1::int8`,
	} {
		if _, err := a.srv.DB.Exec(ctx, q, exp); err != nil {
			b.Fatal(err)
		}
	}
	for _, table := range []string{"models_runs", "models_metrics", "models_latest_metrics", "models_params", "models_run_tags"} {
		if _, err := a.srv.DB.Exec(ctx, "ANALYZE "+table); err != nil {
			b.Fatal(err)
		}
	}
}

// latencies reports p50 and p99 of the measured calls.
func latencies(b *testing.B, d []time.Duration) {
	slices.Sort(d)
	if len(d) == 0 {
		return
	}
	pct := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
}

// timed calls f b.N times, one at a time, and reports p50 and p99 of the calls.
func timed(b *testing.B, f func(i int)) {
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		began := time.Now()
		f(i)
		lat = append(lat, time.Since(began))
	}
	b.StopTimer()
	latencies(b, lat)
}

// send makes one MLflow call as a client does (bearer token, JSON body or query string, a
// kept-alive connection) and fails unless the answer is 200. The answer is read whole.
func (a *mlflowAPI) send(b *testing.B, method, path string, body []byte) {
	target := a.srv.URL + path
	var rd io.Reader
	if method == http.MethodGet {
		target += "?" + string(body)
	} else {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	out, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("%s %s: %d %s %v", method, path, resp.StatusCode, out, err)
	}
}

func mustJSON(b *testing.B, v any) []byte {
	out, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkRegistry: MLflow's calls through Codexion's whole HTTP path (token check, request
// reading, the store, the answer in MLflow's JSON) against a registry already holding
// 10,000 runs with their metrics, params and tags, each beside the same writes or reads
// through bare pgx on the same database (baseline: what PostgreSQL alone costs for the
// effect). One client, one call at a time. Anchors: mlflow-go-backend publishes averages of
// 13.7 ms (CreateRun), 18 ms (LogMetricBatch of 10) and 104 ms (SearchRuns).
func BenchmarkRegistry(b *testing.B) {
	a := newMLflowAPI(b)
	ctx := context.Background()
	exp := dig(a.ok("POST", api+"/experiments/create", map[string]any{"name": "bench"}), "experiment_id").(string)
	seedRuns(b, a, exp)
	db := a.srv.DB
	var run string
	if err := db.QueryRow(ctx, `SELECT run_id FROM models_runs WHERE experiment_id = $1::int8 LIMIT 1`, exp).Scan(&run); err != nil {
		b.Fatal(err)
	}
	a.ok("POST", api+"/registered-models/create", map[string]any{"name": "entry-risk"})
	for range 20 {
		a.ok("POST", api+"/model-versions/create", map[string]any{"name": "entry-risk", "source": "runs:/" + run + "/model", "run_id": run})
	}
	seq := 0
	next := func() int { seq++; return seq }
	// The writes go to an experiment of their own, so that the searched one keeps the shape
	// the search is measured on (10,000 runs that all logged the same keys) however many
	// iterations the writes ran.
	writes := dig(a.ok("POST", api+"/experiments/create", map[string]any{"name": "bench-writes"}), "experiment_id").(string)
	logRun := dig(a.ok("POST", api+"/runs/create", map[string]any{"experiment_id": writes, "start_time": 1}), "run", "info", "run_id").(string)

	// create-run: the run row and its name tag, in one transaction.
	b.Run("create-run/baseline", func(b *testing.B) {
		timed(b, func(int) {
			id := fmt.Sprintf("%032x", next())
			err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `INSERT INTO models_runs (run_id, experiment_id, run_name, user_id, status, start_time_ms, artifact_uri)
					VALUES ($1, $2::int8, $3, 'bench', 'RUNNING', $4, $5)`, id, writes, "r"+id, time.Now().UnixMilli(), "mlflow-artifacts:/"+writes+"/"+id+"/artifacts"); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `INSERT INTO models_run_tags (run_id, key, value) VALUES ($1, 'mlflow.runName', $2)`, id, "r"+id)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("create-run/codexion", func(b *testing.B) {
		timed(b, func(int) {
			a.send(b, "POST", api+"/runs/create", mustJSON(b, map[string]any{"experiment_id": writes, "run_name": fmt.Sprintf("r%d", next()), "start_time": time.Now().UnixMilli()}))
		})
	})

	// log-batch-10: ten metric points into the history and the latest values, in one transaction.
	batch := func(i int) []map[string]any {
		m := make([]map[string]any, 10)
		for k := range m {
			m[k] = map[string]any{"key": fmt.Sprintf("m%d", k), "value": float64(i%997) / 997, "timestamp": int64(1700000000000 + i), "step": i}
		}
		return m
	}
	b.Run("log-batch-10/baseline", func(b *testing.B) {
		timed(b, func(int) {
			i := next()
			keys, vals, ts, steps := make([]string, 10), make([]float64, 10), make([]int64, 10), make([]int64, 10)
			for k, m := range batch(i) {
				keys[k], vals[k], ts[k], steps[k] = m["key"].(string), m["value"].(float64), m["timestamp"].(int64), int64(i)
			}
			err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `INSERT INTO models_metrics (run_id, key, value, timestamp_ms, step)
					SELECT $1, k, v, t, s FROM unnest($2::text[], $3::float8[], $4::int8[], $5::int8[]) AS x(k, v, t, s)
					ON CONFLICT DO NOTHING`, logRun, keys, vals, ts, steps); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `INSERT INTO models_latest_metrics (run_id, experiment_id, key, value, timestamp_ms, step, is_nan)
					SELECT $1, (SELECT experiment_id FROM models_runs WHERE run_id = $1), k, v, t, s, false
					FROM unnest($2::text[], $3::float8[], $4::int8[], $5::int8[]) AS x(k, v, t, s)
					ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value, timestamp_ms = EXCLUDED.timestamp_ms, step = EXCLUDED.step
					WHERE (models_latest_metrics.step, models_latest_metrics.timestamp_ms) <= (EXCLUDED.step, EXCLUDED.timestamp_ms)`, logRun, keys, vals, ts, steps)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("log-batch-10/codexion", func(b *testing.B) {
		timed(b, func(int) {
			a.send(b, "POST", api+"/runs/log-batch", mustJSON(b, map[string]any{"run_id": logRun, "metrics": batch(next())}))
		})
	})

	// get-model-version: one version of a model with 20.
	b.Run("get-model-version/baseline", func(b *testing.B) {
		timed(b, func(i int) {
			var name, source, status string
			var created int64
			if err := db.QueryRow(ctx, `SELECT name, source, status, creation_time_ms FROM models_versions WHERE name = $1 AND version = $2`,
				"entry-risk", 1+i%20).Scan(&name, &source, &status, &created); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("get-model-version/codexion", func(b *testing.B) {
		timed(b, func(i int) {
			a.send(b, "GET", api+"/model-versions/get", []byte(fmt.Sprintf("name=entry-risk&version=%d", 1+i%20)))
		})
	})

	// search-runs: the 100 best of 10,000 runs by a metric, filtered on that metric, a
	// param and a tag, each run answered whole (info, metrics, params, tags, inputs and
	// logged models) as MLflow does. The baseline sends statements of the same shape: the
	// page of runs (planned for its values each time, as Codexion plans it), then what they
	// logged in one batch.
	dataSQL := []string{
		`SELECT run_id, key, value, is_nan, timestamp_ms, step FROM models_latest_metrics WHERE run_id = ANY($1) ORDER BY run_id, key`,
		`SELECT run_id, key, value FROM models_params WHERE run_id = ANY($1) ORDER BY run_id, key`,
		`SELECT run_id, key, value FROM models_run_tags WHERE run_id = ANY($1) ORDER BY run_id, key`,
		`SELECT i.run_id, i.tags, d.name FROM models_run_inputs i JOIN models_datasets d USING (dataset_id) WHERE i.run_id = ANY($1) ORDER BY i.run_id, d.name, d.digest`,
		`SELECT run_id, direction, model_id, step FROM models_run_model_io WHERE run_id = ANY($1) ORDER BY run_id, model_id, step`,
	}
	b.Run("search-runs/baseline", func(b *testing.B) {
		timed(b, func(int) {
			rows, err := db.Query(ctx, `SELECT r.run_id, r.run_name, r.experiment_id::text, r.user_id, r.status, r.start_time_ms, r.end_time_ms, r.artifact_uri, r.lifecycle_stage
				FROM (SELECT run_id, value FROM models_latest_metrics WHERE experiment_id = $1::int8 AND key = 'm1' AND NOT is_nan
					ORDER BY value DESC OFFSET 0) o
				CROSS JOIN LATERAL (SELECT r.* FROM models_runs r WHERE r.run_id = o.run_id AND r.experiment_id = $1::int8 AND r.lifecycle_stage = 'active'
				AND EXISTS (SELECT 1 FROM models_latest_metrics m WHERE m.run_id = r.run_id AND m.key = 'm1' AND NOT m.is_nan AND m.value > 0.5)
				AND EXISTS (SELECT 1 FROM models_params p WHERE p.run_id = r.run_id AND p.key = 'p1' AND p.value <> '3')
				AND EXISTS (SELECT 1 FROM models_run_tags t WHERE t.run_id = r.run_id AND t.key = 'team' AND t.value = 'risk') OFFSET 0) r
				ORDER BY o.value DESC, r.start_time_ms DESC, r.run_id LIMIT 101`, pgx.QueryExecModeCacheDescribe, exp)
			if err != nil {
				b.Fatal(err)
			}
			ids, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (string, error) {
				var id, name, expID, user, status, uri, stage string
				var start int64
				var end *int64
				err := row.Scan(&id, &name, &expID, &user, &status, &start, &end, &uri, &stage)
				return id, err
			})
			if err != nil || len(ids) != 101 {
				b.Fatalf("%d runs, %v", len(ids), err)
			}
			batch := &pgx.Batch{}
			for _, q := range dataSQL {
				batch.Queue(q, ids[:100])
			}
			results := db.SendBatch(ctx, batch)
			for range dataSQL {
				rows, err := results.Query()
				if err != nil {
					b.Fatal(err)
				}
				for rows.Next() {
					if _, err := rows.Values(); err != nil {
						b.Fatal(err)
					}
				}
				rows.Close()
			}
			if err := results.Close(); err != nil {
				b.Fatal(err)
			}
		})
	})
	search := mustJSON(b, map[string]any{"experiment_ids": []string{exp}, "filter": "metrics.m1 > 0.5 and params.p1 != '3' and tags.team = 'risk'",
		"order_by": []string{"metrics.m1 DESC"}, "max_results": 100})
	b.Run("search-runs/codexion", func(b *testing.B) {
		timed(b, func(int) { a.send(b, "POST", api+"/runs/search", search) })
	})
}
