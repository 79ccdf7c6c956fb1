package train

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

type forestReference struct {
	AveragePathLength map[string]float64 `json:"average_path_length"`
	ROCAUCBySeed      []float64          `json:"roc_auc_by_seed"`
	SpearmanMin       float64            `json:"spearman_between_seeds_min"`
	MeanScore         float64            `json:"mean_score"`
	MeanAnomalies     float64            `json:"mean_score_anomalies"`
	ScoresSeed0       []float64          `json:"scores_seed0"`
}

func loadForestReference(t *testing.T) forestReference { return loadReference(t).Forest }

// ranks gives average ranks (ties share theirs), for Spearman's correlation.
func ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmpFloat(v[a], v[b]) })
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		for k := i; k <= j; k++ {
			r[idx[k]] = float64(i+j)/2 + 1
		}
		i = j + 1
	}
	return r
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func spearman(a, b []float64) float64 {
	ra, rb := ranks(a), ranks(b)
	var ma, mb float64
	for i := range ra {
		ma += ra[i]
		mb += rb[i]
	}
	ma /= float64(len(ra))
	mb /= float64(len(rb))
	var num, da, db float64
	for i := range ra {
		num += (ra[i] - ma) * (rb[i] - mb)
		da += (ra[i] - ma) * (ra[i] - ma)
		db += (rb[i] - mb) * (rb[i] - mb)
	}
	return num / math.Sqrt(da*db)
}

func TestAveragePathLengthIsScikitLearns(t *testing.T) {
	for n, want := range loadForestReference(t).AveragePathLength {
		k, err := strconv.Atoi(n)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "c("+n+")", AveragePathLength(k), want, 1e-12)
	}
}

// The forest is random, so it is compared on what does not depend on the draws: how well
// its scores rank the labelled anomalies (within the spread of scikit-learn's own seeds),
// how closely its scores follow scikit-learn's (at least as closely as two scikit-learn
// seeds follow each other, less 0.02), and the mean scores (within 0.01 overall and 0.02
// over the anomalies, about twice the seed-to-seed spread).
func TestIsolationForestAgreesWithScikitLearn(t *testing.T) {
	ref := loadForestReference(t)
	d := loadCSV(t, "testdata/anomalies.csv")
	lo, hi := slices.Min(ref.ROCAUCBySeed), slices.Max(ref.ROCAUCBySeed)
	for seed := range int64(5) {
		prm := DefaultIsolation()
		prm.RandomState = seed
		m, err := FitIsolationForest(Dataset{Features: d.Features, X: d.X}, prm)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Check(); err != nil {
			t.Fatal(err)
		}
		scores, err := m.PredictAll(d.X)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := EvaluateClassifier(d.Y, scores, 0.5, 60)
		if err != nil {
			t.Fatal(err)
		}
		rho := spearman(scores, ref.ScoresSeed0)
		t.Logf("seed %d: ROC AUC %.4f (scikit-learn %.4f to %.4f), Spearman with scikit-learn seed 0 %.4f (its seeds: >= %.4f)", seed, ev.ROCAUC, lo, hi, rho, ref.SpearmanMin)
		if ev.ROCAUC < lo-0.002 || ev.ROCAUC > 1 {
			t.Errorf("seed %d: ROC AUC %.4f; scikit-learn's seeds gave %.4f to %.4f", seed, ev.ROCAUC, lo, hi)
		}
		if rho < ref.SpearmanMin-0.02 {
			t.Errorf("seed %d: Spearman %.4f with scikit-learn's scores; its own seeds agree to %.4f", seed, rho, ref.SpearmanMin)
		}
		var all, anomalies float64
		for i, s := range scores {
			all += s
			if d.Y[i] == 1 {
				anomalies += s
			}
		}
		near(t, "mean score", all/float64(len(scores)), ref.MeanScore, 0.01)
		near(t, "mean score of anomalies", anomalies/60, ref.MeanAnomalies, 0.02)
	}
}

func TestIsolationForestIsReproducibleAndRefusesBadInput(t *testing.T) {
	d := loadCSV(t, "testdata/anomalies.csv")
	d.Y = nil
	a, err := FitIsolationForest(d, DefaultIsolation())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := FitIsolationForest(d, DefaultIsolation())
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same rows and seed gave two forests")
	}
	raw, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var back Model
	if err := json.Unmarshal(raw, &back); err != nil || back.Check() != nil {
		t.Fatalf("read back: %v %v", err, back.Check())
	}
	for name, prm := range map[string]IsolationParams{
		"no trees":      {NEstimators: 0, MaxSamples: 256},
		"one sample":    {NEstimators: 10, MaxSamples: 1},
		"too many rows": {NEstimators: 10, MaxSamples: MaxSamples + 1},
	} {
		if _, err := FitIsolationForest(d, prm); err == nil {
			t.Errorf("%s: fitted", name)
		}
	}
	// A model file whose nodes loop or point past the tree is refused before it scores.
	back.Forest.Trees[0].Left[0] = 0
	if back.Check() == nil {
		t.Error("a tree whose root is its own child passed the check")
	}
	back.Forest.Trees[0].Left[0] = int32(len(back.Forest.Trees[0].Feature))
	if back.Check() == nil {
		t.Error("a child past the end of the tree passed the check")
	}
	if (&Model{Kind: "xgboost"}).Check() == nil {
		t.Error("an unknown kind passed the check")
	}
}

// A tree ensemble read from a file is bounded before it scores: its depth (counting the
// deepest way to a node shared by two parents), its trees, and the work of a row.
func TestTreeEnsemblesAreBoundedBeforeTheyScore(t *testing.T) {
	chain := func(n int) treeShape {
		s := treeShape{feature: make([]int32, n), left: make([]int32, n), right: make([]int32, n)}
		for i := range n {
			s.feature[i], s.left[i], s.right[i] = 0, int32(i+1), int32(i+1)
		}
		s.feature[n-1], s.left[n-1], s.right[n-1] = -1, -1, -1
		return s
	}
	if _, err := checkTrees("t", []treeShape{chain(MaxTreeDepth + 1)}, 1); err != nil {
		t.Fatalf("a tree %d deep: %v", MaxTreeDepth, err)
	}
	if _, err := checkTrees("t", []treeShape{chain(MaxTreeDepth + 2)}, 1); err == nil || !strings.Contains(err.Error(), "deeper than") {
		t.Fatalf("a tree deeper than %d: %v", MaxTreeDepth, err)
	}
	// Node 0 reaches 2 directly and through 1: its depth is 2, not 1.
	shared := treeShape{feature: []int32{0, 0, -1, -1}, left: []int32{1, 2, -1, -1}, right: []int32{2, 3, -1, -1}}
	if steps, err := checkTrees("t", []treeShape{shared, shared}, 1); err != nil || steps != 2*3 {
		t.Fatalf("steps = %d (%v), want 6", steps, err)
	}
	leaf := treeShape{feature: []int32{-1}, left: []int32{-1}, right: []int32{-1}}
	if _, err := checkTrees("t", slices.Repeat([]treeShape{leaf}, MaxTrees+1), 1); err == nil {
		t.Fatal("more trees than MaxTrees passed")
	}
	rows := make([][]float64, 200_000)
	for i := range rows {
		rows[i] = []float64{float64(i)}
	}
	if _, err := FitIsolationForest(Dataset{Features: []string{"a"}, X: rows}, IsolationParams{NEstimators: 1000, MaxSamples: 100_000}); err == nil ||
		!strings.Contains(err.Error(), "nodes a forest may hold") {
		t.Fatalf("a forest over the node bound: %v", err)
	}
	m := &Model{Kind: KindLogistic, Features: []string{"a", "b"}, Mean: []float64{0, 0}, Scale: []float64{1, 1}, Coef: []float64{1, 2}}
	if m.Steps() != 2 {
		t.Fatalf("steps of a linear model = %d", m.Steps())
	}
}
