package train

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// benchRows is a training set of 1,000,000 rows × 20 features: correlated features on
// different scales, a few heavy-tailed, and a label that depends on five of them (about 5%
// positive), as a risk model's rows are.
func benchRows(n, p int) Dataset {
	rng := rand.New(rand.NewPCG(20261206, 1))
	d := Dataset{X: make([][]float64, n), Y: make([]float64, n)}
	for j := range p {
		d.Features = append(d.Features, "f"+string(rune('a'+j)))
	}
	flat := make([]float64, n*p)
	for i := range n {
		row := flat[i*p : (i+1)*p]
		common := rng.NormFloat64()
		for j := range row {
			if j%5 == 4 {
				row[j] = rng.ExpFloat64() * float64(j+1)
			} else {
				row[j] = float64(10*j+1) * (0.6*common + 0.8*rng.NormFloat64())
			}
		}
		z := -3.5 + 0.02*row[0] + 0.4*row[4]/5 - 0.01*row[7] + 0.3*row[9]/10 + 0.5*rng.NormFloat64()
		if rng.Float64() < 1/(1+math.Exp(-z)) {
			d.Y[i] = 1
		}
		d.X[i] = row
	}
	return d
}

// sklearnFitTimes writes d for testdata/sklearn_fit_time.py and returns the seconds
// scikit-learn's fits took, or nil when Debian's python3-sklearn is not installed.
func sklearnFitTimes(b *testing.B, d Dataset) map[string]float64 {
	if exec.Command("/usr/bin/python3", "-c", "import sklearn").Run() != nil {
		b.Log("python3-sklearn is not installed: no baseline (apt-get install python3-sklearn)")
		return nil
	}
	file := filepath.Join(b.TempDir(), "rows.f64")
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for _, row := range d.X {
		if err := binary.Write(w, binary.LittleEndian, row); err != nil {
			b.Fatal(err)
		}
	}
	if err := binary.Write(w, binary.LittleEndian, d.Y); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	out, err := exec.Command("/usr/bin/python3", "testdata/sklearn_fit_time.py", file, strconv.Itoa(len(d.X)), strconv.Itoa(len(d.Features))).Output()
	if err != nil {
		b.Fatalf("scikit-learn: %v", err)
	}
	var secs map[string]float64
	if err := json.Unmarshal(out, &secs); err != nil {
		b.Fatalf("scikit-learn said %q: %v", out, err)
	}
	return secs
}

// BenchmarkTraining1M: fitting 1,000,000 rows × 20 features with each trainer's defaults,
// beside scikit-learn fitting the same rows in the same run (its defaults: StandardScaler
// then LogisticRegression with lbfgs; IsolationForest()). Only the fit is timed on both
// sides, from rows in memory: s/fit. Set CODEXION_BENCH_LOAD=1 (make bench does).
func BenchmarkTraining1M(b *testing.B) {
	if os.Getenv("CODEXION_BENCH_LOAD") == "" {
		b.Skip("set CODEXION_BENCH_LOAD=1 (make bench does): builds 1M rows and runs scikit-learn")
	}
	d := benchRows(1_000_000, 20)
	secs := sklearnFitTimes(b, d)
	for _, kind := range []string{KindLogistic, KindIsolationForest} {
		params, err := Resolve(kind, nil)
		if err != nil {
			b.Fatal(err)
		}
		if secs != nil {
			b.Run(kind+"/baseline", func(b *testing.B) {
				b.ReportMetric(secs[kind], "s/fit")
			})
		}
		b.Run(kind+"/codexion", func(b *testing.B) {
			var took time.Duration
			for range b.N {
				began := time.Now()
				if _, err := Fit(kind, params, d); err != nil {
					b.Fatal(err)
				}
				took += time.Since(began)
			}
			b.ReportMetric(took.Seconds()/float64(b.N), "s/fit")
		})
	}
}
