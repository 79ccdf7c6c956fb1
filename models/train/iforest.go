package train

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
)

// KindIsolationForest scores how easily a row is isolated from the others: an anomaly score.
const KindIsolationForest = "isolation_forest"

// IsolationParams are the isolation forest's settings, named as scikit-learn names them.
type IsolationParams struct {
	// NEstimators is the number of trees (scikit-learn's default: 100).
	NEstimators int `json:"n_estimators"`
	// MaxSamples is the rows drawn, without replacement, for each tree; a forest fitted on
	// fewer rows draws them all (scikit-learn's "auto": min(256, rows)).
	MaxSamples int `json:"max_samples"`
	// RandomState seeds the draws, so the same rows and settings give the same forest.
	RandomState int64 `json:"random_state"`
}

// DefaultIsolation is scikit-learn's IsolationForest() with a fixed seed.
func DefaultIsolation() IsolationParams {
	return IsolationParams{NEstimators: 100, MaxSamples: 256}
}

// Bounds of a forest.
const (
	MaxEstimators = 1000
	MaxSamples    = 100_000
)

// Forest is a fitted isolation forest. Each tree is stored as flat arrays: a node with
// Feature < 0 is a leaf whose Value is its depth plus the average path length of the rows
// it still held (c(n)); any other node sends a row left when its feature is <= Threshold.
type Forest struct {
	SampleSize int    `json:"sample_size"`
	Trees      []Tree `json:"trees"`
}

// Tree is one isolation tree.
type Tree struct {
	Feature   []int32   `json:"feature"`
	Threshold []float64 `json:"threshold"`
	Left      []int32   `json:"left"`
	Right     []int32   `json:"right"`
	Value     []float64 `json:"value"`
}

// eulerGamma is the Euler–Mascheroni constant.
const eulerGamma = 0.5772156649015329

// AveragePathLength is c(n), the average path length of an unsuccessful search in a binary
// search tree of n rows, which normalises depths (Liu, Ting and Zhou 2008; scikit-learn's
// _average_path_length, including its values for n ≤ 2).
func AveragePathLength(n int) float64 {
	switch {
	case n <= 1:
		return 0
	case n == 2:
		return 1
	}
	f := float64(n)
	return 2*(math.Log(f-1)+eulerGamma) - 2*(f-1)/f
}

// FitIsolationForest grows the trees as scikit-learn does: each on MaxSamples rows drawn
// without replacement, to a depth of ceil(log2(samples)); a node splits on a feature drawn
// at random among those not constant in it, at a threshold drawn uniformly between its
// least and greatest value. The target column is not used (it may be all zeros).
func FitIsolationForest(d Dataset, prm IsolationParams) (*Model, error) {
	if len(d.Y) == 0 && len(d.X) > 0 {
		d.Y = make([]float64, len(d.X))
	}
	if err := d.Check(); err != nil {
		return nil, err
	}
	if prm.NEstimators < 1 || prm.NEstimators > MaxEstimators {
		return nil, fmt.Errorf("n_estimators is %d; use 1 to %d", prm.NEstimators, MaxEstimators)
	}
	if prm.MaxSamples < 2 || prm.MaxSamples > MaxSamples {
		return nil, fmt.Errorf("max_samples is %d; use 2 to %d", prm.MaxSamples, MaxSamples)
	}
	if len(d.X) < 2 {
		return nil, errors.New("an isolation forest needs at least 2 rows")
	}
	psi := min(prm.MaxSamples, len(d.X))
	if prm.NEstimators*(2*psi-1) > MaxTreeNodes {
		return nil, fmt.Errorf("n_estimators %d of up to %d nodes each is over the %d nodes a forest may hold; use fewer trees or a smaller max_samples", prm.NEstimators, 2*psi-1, MaxTreeNodes)
	}
	maxDepth := int(math.Ceil(math.Log2(float64(psi))))
	rng := rand.New(rand.NewPCG(uint64(prm.RandomState), 0x6973_6f6c_6174_696f)) //nolint:gosec // a seeded forest is reproducible by design
	perm := make([]int32, len(d.X))
	for i := range perm {
		perm[i] = int32(i)
	}
	forest := &Forest{SampleSize: psi, Trees: make([]Tree, prm.NEstimators)}
	feats := make([]int, len(d.Features))
	for t := range forest.Trees {
		// A partial Fisher–Yates shuffle: the first psi entries are a uniform sample.
		for i := range psi {
			j := i + rng.IntN(len(perm)-i)
			perm[i], perm[j] = perm[j], perm[i]
		}
		sample := make([]int32, psi)
		copy(sample, perm[:psi])
		b := treeBuilder{x: d.X, rng: rng, maxDepth: maxDepth, feats: feats}
		b.grow(sample, 0)
		forest.Trees[t] = b.tree
	}
	return &Model{Kind: KindIsolationForest, Features: d.Features, Forest: forest}, nil
}

type treeBuilder struct {
	x        [][]float64
	rng      *rand.Rand
	maxDepth int
	feats    []int
	tree     Tree
}

func (b *treeBuilder) node() int32 {
	t := &b.tree
	t.Feature = append(t.Feature, -1)
	t.Threshold = append(t.Threshold, 0)
	t.Left = append(t.Left, -1)
	t.Right = append(t.Right, -1)
	t.Value = append(t.Value, 0)
	return int32(len(t.Feature) - 1)
}

// grow adds the subtree of rows idx at depth and returns its node.
func (b *treeBuilder) grow(idx []int32, depth int) int32 {
	n := b.node()
	leaf := func() int32 {
		b.tree.Value[n] = float64(depth) + AveragePathLength(len(idx))
		return n
	}
	if depth >= b.maxDepth || len(idx) <= 1 {
		return leaf()
	}
	// Draw features without replacement until one varies among these rows.
	for j := range b.feats {
		b.feats[j] = j
	}
	for left := len(b.feats); left > 0; left-- {
		k := b.rng.IntN(left)
		f := b.feats[k]
		b.feats[k], b.feats[left-1] = b.feats[left-1], b.feats[k]
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, i := range idx {
			v := b.x[i][f]
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		if hi <= lo+1e-7 { // scikit-learn's FEATURE_THRESHOLD: constant here
			continue
		}
		th := lo + b.rng.Float64()*(hi-lo)
		if th >= hi {
			th = lo
		}
		// Partition in place: rows <= th first.
		cut := 0
		for i := range idx {
			if b.x[idx[i]][f] <= th {
				idx[i], idx[cut] = idx[cut], idx[i]
				cut++
			}
		}
		b.tree.Feature[n], b.tree.Threshold[n] = int32(f), th
		l := b.grow(idx[:cut], depth+1)
		r := b.grow(idx[cut:], depth+1)
		b.tree.Left[n], b.tree.Right[n] = l, r
		return n
	}
	return leaf()
}

// path is the isolation depth of row in one tree.
func (t *Tree) path(row []float64) float64 {
	n := int32(0)
	for t.Feature[n] >= 0 {
		if row[t.Feature[n]] <= t.Threshold[n] {
			n = t.Left[n]
		} else {
			n = t.Right[n]
		}
	}
	return t.Value[n]
}

// score is 2^(−E[h(row)] / c(ψ)) in (0, 1]: near 1 for rows isolated at once, about 0.5
// and below for ordinary ones. It is the negative of scikit-learn's score_samples.
func (f *Forest) score(row []float64) float64 {
	var sum float64
	for i := range f.Trees {
		sum += f.Trees[i].path(row)
	}
	return math.Exp2(-sum / float64(len(f.Trees)) / AveragePathLength(f.SampleSize))
}

// check refuses a forest whose nodes point outside it or past the bounds of a tree ensemble
// (a model file is input too).
func (f *Forest) check(features int) (int, error) {
	if f.SampleSize < 2 || len(f.Trees) == 0 {
		return 0, errors.New("isolation forest: no trees or a sample size below 2")
	}
	trees := make([]treeShape, len(f.Trees))
	for i, t := range f.Trees {
		trees[i] = treeShape{t.Feature, t.Left, t.Right, []int{len(t.Threshold), len(t.Value)}}
	}
	return checkTrees("isolation forest", trees, features)
}

// scoreAll scores rows on every core.
func (f *Forest) scoreAll(x [][]float64, out []float64) {
	workers := min(runtime.GOMAXPROCS(0), max(1, len(x)/1024))
	var wg sync.WaitGroup
	chunk := (len(x) + workers - 1) / workers
	for w := range workers {
		lo, hi := w*chunk, min(len(x), (w+1)*chunk)
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				out[i] = f.score(x[i])
			}
		})
	}
	wg.Wait()
}
