package models_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/codexion/codexion/models"
	"github.com/codexion/codexion/platform"
)

// Vectors from MLflow's own tests (tests/utils/test_search_utils.py): what its parser makes
// of a filter, and the filters it refuses.
var parsedByMLflow = []struct {
	filter string
	want   []models.Clause
}{
	{"metric.acc >= 0.94", []models.Clause{{Type: "metric", Key: "acc", Comparator: ">=", Value: "0.94"}}},
	{"metric.acc>=100", []models.Clause{{Type: "metric", Key: "acc", Comparator: ">=", Value: "100"}}},
	{"params.m!='tf'", []models.Clause{{Type: "parameter", Key: "m", Comparator: "!=", Value: "tf"}}},
	{`params."m"!="tf"`, []models.Clause{{Type: "parameter", Key: "m", Comparator: "!=", Value: "tf"}}},
	{`metric."legit name" >= 0.243`, []models.Clause{{Type: "metric", Key: "legit name", Comparator: ">=", Value: "0.243"}}},
	{"metrics.XYZ = 3", []models.Clause{{Type: "metric", Key: "XYZ", Comparator: "=", Value: "3"}}},
	{`params."cat dog" = "pets"`, []models.Clause{{Type: "parameter", Key: "cat dog", Comparator: "=", Value: "pets"}}},
	{`metrics."X-Y-Z" = 3`, []models.Clause{{Type: "metric", Key: "X-Y-Z", Comparator: "=", Value: "3"}}},
	{`metrics."X//Y#$$@&Z" = 3`, []models.Clause{{Type: "metric", Key: "X//Y#$$@&Z", Comparator: "=", Value: "3"}}},
	{"params.model = 'LinearRegression'", []models.Clause{{Type: "parameter", Key: "model", Comparator: "=", Value: "LinearRegression"}}},
	{"metrics.rmse < 1 and params.model_class = 'LR'", []models.Clause{{Type: "metric", Key: "rmse", Comparator: "<", Value: "1"},
		{Type: "parameter", Key: "model_class", Comparator: "=", Value: "LR"}}},
	{"", nil},
	{"`metric`.a >= 0.1", []models.Clause{{Type: "metric", Key: "a", Comparator: ">=", Value: "0.1"}}},
	{"`params`.model >= 'LR'", []models.Clause{{Type: "parameter", Key: "model", Comparator: ">=", Value: "LR"}}},
	{"tags.version = 'commit-hash'", []models.Clause{{Type: "tag", Key: "version", Comparator: "=", Value: "commit-hash"}}},
	{"`tags`.source_name = 'a notebook'", []models.Clause{{Type: "tag", Key: "source_name", Comparator: "=", Value: "a notebook"}}},
	{`metrics."accuracy.2.0" > 5`, []models.Clause{{Type: "metric", Key: "accuracy.2.0", Comparator: ">", Value: "5"}}},
	{"metrics.`spacey name` > 5", []models.Clause{{Type: "metric", Key: "spacey name", Comparator: ">", Value: "5"}}},
	{`params."p.a.r.a.m" != "a"`, []models.Clause{{Type: "parameter", Key: "p.a.r.a.m", Comparator: "!=", Value: "a"}}},
	{`tags."t.a.g" = "a"`, []models.Clause{{Type: "tag", Key: "t.a.g", Comparator: "=", Value: "a"}}},
	{"attribute.artifact_uri = '1/23/4'", []models.Clause{{Type: "attribute", Key: "artifact_uri", Comparator: "=", Value: "1/23/4"}}},
	{"attribute.start_time >= 1234", []models.Clause{{Type: "attribute", Key: "start_time", Comparator: ">=", Value: "1234"}}},
	{"run.status = 'RUNNING'", []models.Clause{{Type: "attribute", Key: "status", Comparator: "=", Value: "RUNNING"}}},
	{"dataset.name = 'my_dataset'", []models.Clause{{Type: "dataset", Key: "name", Comparator: "=", Value: "my_dataset"}}},
	{"tags.version IS NULL", []models.Clause{{Type: "tag", Key: "version", Comparator: "IS NULL"}}},
	{"params.lr IS NOT NULL", []models.Clause{{Type: "parameter", Key: "lr", Comparator: "IS NOT NULL"}}},
	{`params.m = "L'Hosp"`, []models.Clause{{Type: "parameter", Key: "m", Comparator: "=", Value: "L'Hosp"}}},
	{"run_id IN ('a1', 'b2')", []models.Clause{{Type: "attribute", Key: "run_id", Comparator: "IN", Values: []string{"a1", "b2"}}}},
}

var refusedByMLflow = []string{
	"metric.acc >= 0.94; metrics.rmse < 1", "m.acc >= 0.94", "acc >= 0.94", "p.model >= 'LR'", "attri.x != 1", "model >= 'LR'",
	"metrics.A > 0.1 OR params.B = 'LR'", "metrics.A > 0.1 NAND params.B = 'LR'", "metrics.A > 0.1 AND (params.B = 'LR')",
	"`metrics.A > 0.1", "param`.A > 0.1", "attribute.start != 1", "attribute.experiment_id != 1", "attribute.lifecycle_stage = 'ACTIVE'",
	"attribute.name != 1", "attribute._status != 'RUNNING'", "attribute.status = true", "dataset.status = 'true'",
	"dataset.profile = 'num_rows: 10'", "metrics.acc IS NULL", "attribute.status IS NULL", "metric.model = 'LR'", "metric.model = '5'",
	"params.acc = 5", "tags.acc = 5", "metrics.acc != metrics.acc", "1.0 > metrics.acc", "attribute.status = 1", "params.acc = LR",
	"tags.acc = LR", "params.acc = `LR`", "params.'acc = LR", "params.acc = 'LR", "params.acc = LR'", `params.acc = "LR'`,
	"tags.acc = = 'LR'", "attribute.status IS 'RUNNING'", "params.acc LR !=", "params.acc LR", "metric.acc !=", "acc != 1.0",
	"foo is null", "1=1", "1==2", "metrics.abc ~ 1.0", "params.abc > 'my-param-value'", "tags.abc <= 'my-tag-value'",
	"attributes.status >= 'my-tag-value'", "attributes.start_time LIKE 1234", "datasets.name < 'my-dataset-name'",
}

func TestSearchFiltersParseAsMLflowParsesThem(t *testing.T) {
	for _, c := range parsedByMLflow {
		got, err := models.ParseFilter(c.filter)
		if err != nil {
			t.Errorf("%q: %v", c.filter, err)
			continue
		}
		for i := range got {
			got[i].Number = nil
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", c.filter, got, c.want)
		}
	}
}

// Every filter MLflow refuses is refused here, by the parser or by the search that would
// run it, as a bad request, never a server error.
func TestSearchFiltersMLflowRefusesAreRefused(t *testing.T) {
	s := newStore(t)
	for _, f := range refusedByMLflow {
		_, _, err := s.SearchRuns(context.Background(), models.RunSearch{ExperimentIDs: []string{"0"}, Filter: f})
		if platform.KindOf(err) != platform.KindInvalid {
			t.Errorf("%q: %v, want a bad request", f, err)
		}
	}
	for _, term := range []string{"m.acc", "acc", "`metrics.A", "`metrics.A`", "attribute.experiment_id", "metrics.A != 1", "attribute.run_id ACS"} {
		_, _, err := s.SearchRuns(context.Background(), models.RunSearch{ExperimentIDs: []string{"0"}, OrderBy: []string{term}})
		if platform.KindOf(err) != platform.KindInvalid {
			t.Errorf("order_by %q: %v, want a bad request", term, err)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, c := range parsedByMLflow {
		f.Add(c.filter)
	}
	for _, r := range refusedByMLflow {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		clauses, err := models.ParseFilter(filter)
		if err != nil && platform.KindOf(err) != platform.KindInvalid {
			t.Fatalf("%q: %v is not a bad request", filter, err)
		}
		if len(clauses) > models.MaxFilterClauses {
			t.Fatalf("%q: %d clauses", filter, len(clauses))
		}
	})
}
