package models_test

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/codexion/codexion/app/devstack"
	"github.com/codexion/codexion/connectors/objectstore"
	"github.com/codexion/codexion/internal/dbtest"
	"github.com/codexion/codexion/models"
	"github.com/codexion/codexion/platform"
)

// newStore gives a test a registry over a fresh database and its own object store.
func newStore(t *testing.T) *models.Store {
	t.Helper()
	db := dbtest.Migrated(t, models.Migrations())
	srv := &devstack.ObjectServer{Addr: "127.0.0.1:0", Dir: t.TempDir()}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	objects, err := objectstore.Open(objectstore.Options{Endpoint: srv.Addr, AccessKey: devstack.DevS3AccessKey,
		SecretKey: devstack.DevS3SecretKey, Bucket: "codexion", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := objects.EnsureBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	return models.NewStore(db.Pool, objects)
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func TestAParamNeverChangesAndARetriedMetricIsLoggedOnce(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	exp := must[string](t)(s.CreateExperiment(ctx, "risk", "", []models.Tag{{Key: "team", Value: "finance"}}))
	run := must[models.Run](t)(s.CreateRun(ctx, models.NewRun{ExperimentID: exp, UserID: "ana"}))
	batch := models.Batch{
		Metrics: []models.Metric{{Key: "auc", Value: 0.7, Timestamp: 10, Step: 0}, {Key: "auc", Value: 0.8, Timestamp: 11, Step: 1},
			{Key: "loss", Value: models.Float(math.NaN()), Timestamp: 10}},
		Params: []models.Param{{Key: "lr", Value: "0.1"}, {Key: "lr", Value: "0.1"}},
		Tags:   []models.Tag{{Key: "mlflow.runName", Value: "first"}},
	}
	for range 2 { // the same batch again: a retry after a lost answer
		if err := s.LogBatch(ctx, run.Info.RunID, batch); err != nil {
			t.Fatal(err)
		}
	}
	hist, _ := must[[]models.Metric](t)(func() ([]models.Metric, error) {
		h, _, err := s.MetricHistory(ctx, run.Info.RunID, "auc", 0, 100)
		return h, err
	}()), 0
	if len(hist) != 2 {
		t.Fatalf("auc history after a retried batch = %v, want 2 points", hist)
	}
	err := s.LogBatch(ctx, run.Info.RunID, models.Batch{Params: []models.Param{{Key: "lr", Value: "0.2"}}})
	if platform.KindOf(err) != platform.KindInvalid || !strings.Contains(err.Error(), "Changing param values is not allowed") {
		t.Fatalf("re-logging lr with another value: %v", err)
	}
	got := must[models.Run](t)(s.GetRun(ctx, run.Info.RunID))
	if got.Info.RunName != "first" || len(got.Data.Params) != 1 || got.Data.Params[0].Value != "0.1" {
		t.Fatalf("run = %+v", got)
	}
	latest := map[string]float64{}
	for _, m := range got.Data.Metrics {
		latest[m.Key] = float64(m.Value)
	}
	if latest["auc"] != 0.8 || !math.IsNaN(latest["loss"]) {
		t.Fatalf("latest metrics = %v", got.Data.Metrics)
	}
}

func TestSearchRunsFiltersAndOrdersAsMLflow(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	exp := must[string](t)(s.CreateExperiment(ctx, "search", "", nil))
	aucs := []float64{0.91, 0.75, 0.85, 0.60}
	var ids []string
	for i, auc := range aucs {
		r := must[models.Run](t)(s.CreateRun(ctx, models.NewRun{ExperimentID: exp, StartTime: int64(1000 + i)}))
		team := "risk"
		if i%2 == 1 {
			team = "ops"
		}
		if err := s.LogBatch(ctx, r.Info.RunID, models.Batch{Metrics: []models.Metric{{Key: "auc", Value: models.Float(auc), Timestamp: 1}},
			Params: []models.Param{{Key: "lr", Value: []string{"0.1", "0.01"}[i%2]}}, Tags: []models.Tag{{Key: "team", Value: team}}}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.Info.RunID)
	}
	runs, next, err := s.SearchRuns(ctx, models.RunSearch{ExperimentIDs: []string{exp},
		Filter: "metrics.auc > 0.8 and params.lr = '0.1' and tags.team = 'risk'", OrderBy: []string{"metrics.auc DESC"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].Info.RunID != ids[0] || runs[1].Info.RunID != ids[2] || next != "" {
		t.Fatalf("runs = %v next %q", runs, next)
	}
	// Pages of one, default order (newest first).
	var seen []string
	tok := ""
	for {
		page, n, err := s.SearchRuns(ctx, models.RunSearch{ExperimentIDs: []string{exp}, MaxResults: 1, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			seen = append(seen, r.Info.RunID)
		}
		if n == "" {
			break
		}
		tok = n
	}
	if strings.Join(seen, ",") != strings.Join([]string{ids[3], ids[2], ids[1], ids[0]}, ",") {
		t.Fatalf("paged = %v", seen)
	}
	for _, bad := range []string{"metrics.auc > 'x'", "params.lr > 1", "metrics.auc >", "foo.bar = 1", "metrics.auc = 1 or params.lr = '1'", "attributes.nope = 'x'"} {
		if _, _, err := s.SearchRuns(ctx, models.RunSearch{ExperimentIDs: []string{exp}, Filter: bad}); platform.KindOf(err) != platform.KindInvalid {
			t.Errorf("filter %q: %v", bad, err)
		}
	}
}

func TestRegistryVersionsAliasesAndRename(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	must[models.RegisteredModel](t)(s.CreateRegisteredModel(ctx, "entry-risk", "scores entries", "ana", nil))
	if _, err := s.CreateRegisteredModel(ctx, "entry-risk", "", "ana", nil); platform.KindOf(err) != platform.KindConflict {
		t.Fatalf("duplicate model: %v", err)
	}
	exp := must[string](t)(s.CreateExperiment(ctx, "train", "", nil))
	run := must[models.Run](t)(s.CreateRun(ctx, models.NewRun{ExperimentID: exp}))
	for i := range 2 {
		v := must[models.ModelVersion](t)(s.CreateModelVersion(ctx, models.NewVersion{Name: "entry-risk", Source: "runs:/" + run.Info.RunID + "/model"}))
		if v.Version != []string{"1", "2"}[i] || v.Status != models.VersionReady || v.RunID != run.Info.RunID {
			t.Fatalf("version = %+v", v)
		}
	}
	if uri := must[string](t)(s.DownloadURI(ctx, "entry-risk", "1")); uri != run.Info.ArtifactURI+"/model" {
		t.Fatalf("download uri = %s, want the run's artifacts/model", uri)
	}
	if _, err := s.CreateModelVersion(ctx, models.NewVersion{Name: "entry-risk", Source: "runs:/nope/model"}); platform.KindOf(err) != platform.KindNotFound {
		t.Fatalf("a version from a run that does not exist: %v", err)
	}
	if err := s.SetAlias(ctx, "entry-risk", "champion", "1"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAlias(ctx, "entry-risk", "latest", "1"); platform.KindOf(err) != platform.KindInvalid {
		t.Fatalf("reserved alias: %v", err)
	}
	if _, err := s.CreateModelVersion(ctx, models.NewVersion{Name: "entry-risk", Source: "file:///etc/passwd"}); platform.KindOf(err) != platform.KindInvalid {
		t.Fatalf("a source outside the registry's storage: %v", err)
	}
	m := must[models.RegisteredModel](t)(s.RenameRegisteredModel(ctx, "entry-risk", "entry-risk-v2"))
	if len(m.Aliases) != 1 || m.Aliases[0].Version != "1" || len(m.LatestVersions) != 1 || m.LatestVersions[0].Version != "2" {
		t.Fatalf("renamed = %+v", m)
	}
	v := must[models.ModelVersion](t)(s.VersionByAlias(ctx, "entry-risk-v2", "champion"))
	if v.Version != "1" {
		t.Fatalf("champion = %+v", v)
	}
	must[models.ModelVersion](t)(s.TransitionStage(ctx, "entry-risk-v2", "1", "production", true))
	must[models.ModelVersion](t)(s.TransitionStage(ctx, "entry-risk-v2", "2", "Production", true))
	if v := must[models.ModelVersion](t)(s.GetModelVersion(ctx, "entry-risk-v2", "1")); v.CurrentStage != "Archived" {
		t.Fatalf("version 1 after 2 went to Production with archive_existing_versions: %s", v.CurrentStage)
	}
	if err := s.DeleteModelVersion(ctx, "entry-risk-v2", "2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteModelVersion(ctx, "entry-risk-v2", "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.VersionByAlias(ctx, "entry-risk-v2", "champion"); platform.KindOf(err) != platform.KindNotFound {
		t.Fatalf("alias of a deleted version: %v", err)
	}
	// Numbers are never given twice: the next version after deleting 1 and 2 is 3.
	v3 := must[models.ModelVersion](t)(s.CreateModelVersion(ctx, models.NewVersion{Name: "entry-risk-v2", Source: "runs:/" + run.Info.RunID + "/model"}))
	if v3.Version != "3" {
		t.Fatalf("version after deletes = %s, want 3", v3.Version)
	}
}

// A search ordered by a metric its filter requires walks one experiment's values in order;
// across experiments it joins. Both must give MLflow's order (the metric, then newest first,
// then run id, ties included), page after page, and skip runs without the metric or with NaN.
func TestAMetricOrderedSearchPagesAsTheFullOrder(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	exp := must[string](t)(s.CreateExperiment(ctx, "walk", "", nil))
	other := must[string](t)(s.CreateExperiment(ctx, "elsewhere", "", nil))
	type row struct {
		id    string
		auc   float64
		start int64
	}
	var mine, theirs []row
	for i := range 40 {
		r := must[models.Run](t)(s.CreateRun(ctx, models.NewRun{ExperimentID: exp, StartTime: int64(1000 + i%7)}))
		auc := float64((i*37)%11) / 10 // ties on purpose
		batch := models.Batch{Metrics: []models.Metric{{Key: "auc", Value: models.Float(auc), Timestamp: 1}},
			Tags: []models.Tag{{Key: "team", Value: []string{"risk", "ops"}[i%3/2]}}}
		switch i % 9 {
		case 4:
			batch.Metrics = nil // no metric: never matches a filter on it
		case 5:
			batch.Metrics[0].Value = models.Float(math.NaN())
		}
		if err := s.LogBatch(ctx, r.Info.RunID, batch); err != nil {
			t.Fatal(err)
		}
		if i%9 != 4 && i%9 != 5 && auc > 0.2 && i%3/2 == 0 {
			mine = append(mine, row{r.Info.RunID, auc, int64(1000 + i%7)})
		}
		if i%4 == 0 { // runs of another experiment with the same metric
			o := must[models.Run](t)(s.CreateRun(ctx, models.NewRun{ExperimentID: other, StartTime: int64(900 + i)}))
			if err := s.LogBatch(ctx, o.Info.RunID, models.Batch{Metrics: []models.Metric{{Key: "auc", Value: models.Float(auc), Timestamp: 1}},
				Tags: []models.Tag{{Key: "team", Value: "risk"}}}); err != nil {
				t.Fatal(err)
			}
			if auc > 0.2 {
				theirs = append(theirs, row{o.Info.RunID, auc, int64(900 + i)})
			}
		}
	}
	for _, c := range []struct {
		exps []string
		rows []row
	}{{[]string{exp}, mine}, {[]string{exp, other}, append(slices.Clone(mine), theirs...)}} {
		for _, desc := range []bool{true, false} {
			want := slices.Clone(c.rows)
			slices.SortFunc(want, func(a, b row) int {
				if a.auc != b.auc {
					if (a.auc > b.auc) == desc {
						return -1
					}
					return 1
				}
				if a.start != b.start {
					return int(b.start - a.start)
				}
				return strings.Compare(a.id, b.id)
			})
			dir := map[bool]string{true: "DESC", false: "ASC"}[desc]
			var got, ids []string
			for tok := ""; ; {
				page, n, err := s.SearchRuns(ctx, models.RunSearch{ExperimentIDs: c.exps, MaxResults: 4, PageToken: tok,
					Filter: "metrics.auc > 0.2 and tags.team = 'risk'", OrderBy: []string{"metrics.auc " + dir}})
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range page {
					got = append(got, r.Info.RunID)
				}
				if tok = n; n == "" {
					break
				}
			}
			for _, r := range want {
				ids = append(ids, r.id)
			}
			if len(ids) < 10 || strings.Join(got, ",") != strings.Join(ids, ",") {
				t.Fatalf("%d experiments, %s: paged %d runs, want %d\n got %v\nwant %v", len(c.exps), dir, len(got), len(ids), got, ids)
			}
		}
	}
}
