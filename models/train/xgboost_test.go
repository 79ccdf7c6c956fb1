package train

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
)

type xgbReference struct {
	Version     string       `json:"xgboost_version"`
	Features    []string     `json:"features"`
	Rows        [][]*float64 `json:"rows"`
	Probability []float64    `json:"binary_probability"`
	Margin      []float64    `json:"binary_margin"`
	Regression  []float64    `json:"regression"`
}

func readXGB(t *testing.T, file string, features []string) *Model {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := ReadXGBoostJSON(f, features)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// XGBoost computes in float32; predictions agree to float32 rounding (about 1e-7 relative).
func TestXGBoostModelsPredictAsXGBoostDoes(t *testing.T) {
	raw, err := os.ReadFile("testdata/xgboost_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref xgbReference
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	rows := make([][]float64, len(ref.Rows))
	missing := 0
	for i, r := range ref.Rows {
		rows[i] = make([]float64, len(r))
		for j, v := range r {
			if v == nil {
				rows[i][j] = math.NaN() // takes each split's default direction
				missing++
			} else {
				rows[i][j] = *v
			}
		}
	}
	if missing == 0 {
		t.Fatal("the reference rows have no missing values to route")
	}
	bin := readXGB(t, "testdata/xgboost_binary.json", nil)
	if strings.Join(bin.Features, ",") != strings.Join(ref.Features, ",") {
		t.Fatalf("features = %v", bin.Features)
	}
	reg := readXGB(t, "testdata/xgboost_regression.json", nil)
	for i, row := range rows {
		if got := bin.Boosted.margin(row); math.Abs(got-ref.Margin[i]) > 1e-5 {
			t.Fatalf("row %d: margin %.9g, XGBoost %s %.9g", i, got, ref.Version, ref.Margin[i])
		}
		p, err := bin.Predict(row)
		if err != nil || math.Abs(p-ref.Probability[i]) > 1e-6 {
			t.Fatalf("row %d: probability %.9g (%v), XGBoost %.9g", i, p, err, ref.Probability[i])
		}
		v, _ := reg.Predict(row)
		if math.Abs(v-ref.Regression[i]) > 1e-5*math.Max(1, math.Abs(ref.Regression[i])) {
			t.Fatalf("row %d: regression %.9g, XGBoost %.9g", i, v, ref.Regression[i])
		}
	}
	// What a Model file holds reads back and scores the same.
	out, err := json.Marshal(bin)
	if err != nil {
		t.Fatal(err)
	}
	var back Model
	if err := json.Unmarshal(out, &back); err != nil || back.Check() != nil {
		t.Fatalf("read back: %v %v", err, back.Check())
	}
	if p, _ := back.Predict(rows[0]); math.Abs(p-ref.Probability[0]) > 1e-6 {
		t.Fatalf("read back predicts %v", p)
	}
}

func TestXGBoostFilesItCannotScoreAreRefusedSayingWhy(t *testing.T) {
	good, err := os.ReadFile("testdata/xgboost_binary.json")
	if err != nil {
		t.Fatal(err)
	}
	edit := func(fn func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		fn(m)
		out, _ := json.Marshal(m)
		return out
	}
	learner := func(m map[string]any) map[string]any { return m["learner"].(map[string]any) }
	firstTree := func(m map[string]any) map[string]any {
		gb := learner(m)["gradient_booster"].(map[string]any)
		return gb["model"].(map[string]any)["trees"].([]any)[0].(map[string]any)
	}
	for name, c := range map[string]struct {
		file     []byte
		features []string
		want     string
	}{
		"not json":        {[]byte("\x00\x01binf"), nil, "not XGBoost's JSON model format"},
		"dart":            {edit(func(m map[string]any) { learner(m)["gradient_booster"].(map[string]any)["name"] = "dart" }), nil, `booster "dart"`},
		"multiclass":      {edit(func(m map[string]any) { learner(m)["learner_model_param"].(map[string]any)["num_class"] = "3" }), nil, "3 classes"},
		"rank objective":  {edit(func(m map[string]any) { learner(m)["objective"].(map[string]any)["name"] = "rank:pairwise" }), nil, `objective "rank:pairwise"`},
		"other features":  {good, []string{"a", "b", "c", "d", "e", "f"}, "the file's features are"},
		"unnamed":         {edit(func(m map[string]any) { delete(learner(m), "feature_names") }), nil, "name its 6 inputs"},
		"categorical":     {edit(func(m map[string]any) { firstTree(m)["split_type"].([]any)[0] = 1 }), nil, "categorical"},
		"loop":            {edit(func(m map[string]any) { firstTree(m)["left_children"].([]any)[0] = 0 }), nil, "points outside the tree"},
		"child past end":  {edit(func(m map[string]any) { firstTree(m)["right_children"].([]any)[0] = 1e6 }), nil, "points outside the tree"},
		"feature past":    {edit(func(m map[string]any) { firstTree(m)["split_indices"].([]any)[0] = 99 }), nil, "feature 99 of 6"},
		"ragged":          {edit(func(m map[string]any) { firstTree(m)["split_conditions"] = []any{0.5} }), nil, "different lengths"},
		"base not a prob": {edit(func(m map[string]any) { learner(m)["learner_model_param"].(map[string]any)["base_score"] = "1.5" }), nil, "not a probability"},
	} {
		_, err := ReadXGBoostJSON(bytes.NewReader(c.file), c.features)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want it to say %q", name, err, c.want)
		}
	}
	// An unnamed model gets the names it is given.
	unnamed := edit(func(m map[string]any) { delete(learner(m), "feature_names") })
	m, err := ReadXGBoostJSON(bytes.NewReader(unnamed), []string{"a", "b", "c", "d", "e", "f"})
	if err != nil || m.Features[5] != "f" {
		t.Fatalf("named by the caller: %v %v", err, m)
	}
}
