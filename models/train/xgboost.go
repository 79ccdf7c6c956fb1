package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// KindXGBoost is a boosted-tree model trained by XGBoost elsewhere and read from XGBoost's
// JSON model format (what Booster.save_model("model.json") writes, XGBoost 1.0 and later).
const KindXGBoost = "xgboost"

// MaxXGBoostBytes bounds an XGBoost model file: it is input, so reading it cannot take
// unbounded memory (its trees are bounded by MaxTrees and MaxTreeNodes).
const MaxXGBoostBytes = 256 << 20

// Objectives a model file may have, and how a margin becomes a prediction.
var xgbObjectives = map[string]bool{
	"binary:logistic": true, "reg:logistic": true, // sigmoid of the margin
	"reg:squarederror": false, "reg:linear": false, "reg:pseudohubererror": false, "reg:absoluteerror": false, // the margin
}

// Boosted is a fitted boosted-tree ensemble: the prediction is Transform(BaseMargin + Σ
// leaf values). Trees are flat arrays as XGBoost writes them: node i is a leaf when Left[i]
// is -1 (its value is Value[i]); otherwise a row goes left when its feature is below
// Value[i], and a missing value (NaN) goes the way DefaultLeft says. Comparisons are made in
// float32, as XGBoost makes them, so every row takes the path it takes in XGBoost.
type Boosted struct {
	Objective  string        `json:"objective"`
	BaseMargin float64       `json:"base_margin"`
	Trees      []BoostedTree `json:"trees"`
}

// BoostedTree is one regression tree of a boosted ensemble.
type BoostedTree struct {
	Feature     []int32   `json:"feature"`
	Value       []float32 `json:"value"` // split condition, or the leaf's value
	Left        []int32   `json:"left"`
	Right       []int32   `json:"right"`
	DefaultLeft []bool    `json:"default_left"`
}

// xgbFile is the part of XGBoost's JSON model format a prediction needs.
type xgbFile struct {
	Learner struct {
		FeatureNames []string `json:"feature_names"`
		Params       struct {
			BaseScore  string `json:"base_score"`
			NumClass   string `json:"num_class"`
			NumFeature string `json:"num_feature"`
			NumTarget  string `json:"num_target"`
		} `json:"learner_model_param"`
		Objective struct {
			Name string `json:"name"`
		} `json:"objective"`
		Booster struct {
			Name  string `json:"name"`
			Model struct {
				Trees []struct {
					Left        []int32   `json:"left_children"`
					Right       []int32   `json:"right_children"`
					Indices     []int32   `json:"split_indices"`
					Conditions  []float32 `json:"split_conditions"`
					DefaultLeft []int     `json:"default_left"`
					SplitType   []int     `json:"split_type"`
				} `json:"trees"`
			} `json:"model"`
		} `json:"gradient_booster"`
	} `json:"learner"`
	Version []int `json:"version"`
}

// ReadXGBoostJSON reads an XGBoost JSON model file. features names the model's inputs in
// order when the file does not (XGBoost writes feature_names only when it was trained with
// them); when both are given they must agree. It refuses, saying why, what it cannot score
// exactly: another booster than gbtree, more than one class or target, categorical splits,
// an objective whose output it does not know, and trees that point outside themselves.
func ReadXGBoostJSON(r io.Reader, features []string) (*Model, error) {
	raw, err := io.ReadAll(io.LimitReader(r, MaxXGBoostBytes+1))
	if err != nil {
		return nil, fmt.Errorf("xgboost model: %w", err)
	}
	if len(raw) > MaxXGBoostBytes {
		return nil, fmt.Errorf("xgboost model: larger than %d MiB", MaxXGBoostBytes>>20)
	}
	var f xgbFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("xgboost model: not XGBoost's JSON model format (save it with Booster.save_model(\"model.json\")): %w", err)
	}
	l := &f.Learner
	if len(f.Version) == 0 || f.Version[0] < 1 {
		return nil, errors.New("xgboost model: no version [major, minor, patch]; save it with XGBoost 1.0 or later as JSON")
	}
	if l.Booster.Name != "gbtree" {
		return nil, fmt.Errorf("xgboost model: booster %q; only gbtree is read (dart and gblinear are not)", l.Booster.Name)
	}
	sigmoid, ok := xgbObjectives[l.Objective.Name]
	if !ok {
		return nil, fmt.Errorf("xgboost model: objective %q is not one read here (known: binary:logistic, reg:logistic, reg:squarederror, reg:pseudohubererror, reg:absoluteerror)", l.Objective.Name)
	}
	if n, _ := strconv.Atoi(l.Params.NumClass); n > 1 {
		return nil, fmt.Errorf("xgboost model: %d classes; only binary and regression models are read", n)
	}
	if n, _ := strconv.Atoi(l.Params.NumTarget); n > 1 {
		return nil, fmt.Errorf("xgboost model: %d targets; only one is read", n)
	}
	nf, err := strconv.Atoi(l.Params.NumFeature)
	if err != nil || nf < 1 || nf > MaxFeatures {
		return nil, fmt.Errorf("xgboost model: num_feature %q; expected 1 to %d", l.Params.NumFeature, MaxFeatures)
	}
	names := l.FeatureNames
	switch {
	case len(names) == 0 && len(features) == 0:
		return nil, fmt.Errorf("xgboost model: the file names no features; name its %d inputs in order", nf)
	case len(names) == 0:
		names = features
	case len(features) > 0 && strings.Join(features, ",") != strings.Join(names, ","):
		return nil, fmt.Errorf("xgboost model: the file's features are %v, not %v", names, features)
	}
	if len(names) != nf {
		return nil, fmt.Errorf("xgboost model: %d feature names for num_feature %d", len(names), nf)
	}
	base, err := strconv.ParseFloat(l.Params.BaseScore, 64)
	if err != nil || math.IsNaN(base) || math.IsInf(base, 0) {
		return nil, fmt.Errorf("xgboost model: base_score %q is not a number", l.Params.BaseScore)
	}
	b := &Boosted{Objective: l.Objective.Name, BaseMargin: base}
	if sigmoid {
		// XGBoost keeps base_score as a probability for logistic objectives.
		if base <= 0 || base >= 1 {
			return nil, fmt.Errorf("xgboost model: base_score %v is not a probability", base)
		}
		b.BaseMargin = math.Log(base / (1 - base))
	}
	// The arrays are read by index below, so their lengths are checked here; the tree
	// structure and the bounds of an ensemble are checked by Model.Check at the end.
	for ti, t := range l.Booster.Model.Trees {
		n := len(t.Left)
		if len(t.Right) != n || len(t.Indices) != n || len(t.Conditions) != n || len(t.DefaultLeft) != n {
			return nil, fmt.Errorf("xgboost model: tree %d: node arrays of different lengths", ti)
		}
		for _, st := range t.SplitType {
			if st != 0 {
				return nil, fmt.Errorf("xgboost model: tree %d has categorical splits, which are not read", ti)
			}
		}
		bt := BoostedTree{Feature: make([]int32, n), Value: t.Conditions, Left: t.Left, Right: t.Right, DefaultLeft: make([]bool, n)}
		for i := range n {
			bt.DefaultLeft[i] = t.DefaultLeft[i] != 0
			bt.Feature[i] = t.Indices[i]
			if t.Left[i] == -1 {
				bt.Feature[i] = -1
			}
		}
		b.Trees = append(b.Trees, bt)
	}
	m := &Model{Kind: KindXGBoost, Features: names, Boosted: b}
	if err := m.Check(); err != nil {
		return nil, err
	}
	return m, nil
}

// check refuses an ensemble whose trees point outside themselves, at unknown features, or
// past the bounds of a tree ensemble.
func (b *Boosted) check(features int) (int, error) {
	if _, ok := xgbObjectives[b.Objective]; !ok {
		return 0, fmt.Errorf("xgboost: objective %q is not known", b.Objective)
	}
	if len(b.Trees) == 0 || math.IsNaN(b.BaseMargin) || math.IsInf(b.BaseMargin, 0) {
		return 0, errors.New("xgboost: no trees, or a base margin that is not a number")
	}
	trees := make([]treeShape, len(b.Trees))
	for i, t := range b.Trees {
		trees[i] = treeShape{t.Feature, t.Left, t.Right, []int{len(t.Value), len(t.DefaultLeft)}}
	}
	return checkTrees("xgboost", trees, features)
}

// margin is the ensemble's raw sum for one row, accumulated in float32 as XGBoost does.
func (b *Boosted) margin(row []float64) float64 {
	var sum float32
	for ti := range b.Trees {
		t := &b.Trees[ti]
		n := int32(0)
		for t.Feature[n] >= 0 {
			v := row[t.Feature[n]]
			switch {
			case math.IsNaN(v):
				if t.DefaultLeft[n] {
					n = t.Left[n]
				} else {
					n = t.Right[n]
				}
			case float32(v) < t.Value[n]:
				n = t.Left[n]
			default:
				n = t.Right[n]
			}
		}
		sum += t.Value[n]
	}
	return float64(float32(b.BaseMargin) + sum)
}

// predict is the prediction for one row: a probability for logistic objectives, else the margin.
func (b *Boosted) predict(row []float64) float64 {
	m := b.margin(row)
	if xgbObjectives[b.Objective] {
		return float64(float32(sigmoid(m)))
	}
	return m
}
