package train

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Classification is a binary classifier's evaluation, computed as scikit-learn computes
// each figure (roc_auc_score, average_precision_score, log_loss, precision/recall, the
// confusion matrix at a threshold).
type Classification struct {
	Rows      int     `json:"rows"`
	Positives int     `json:"positives"`
	ROCAUC    float64 `json:"roc_auc"`
	PRAUC     float64 `json:"pr_auc"` // average precision
	LogLoss   float64 `json:"log_loss"`
	Threshold float64 `json:"threshold"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	// TopK is the number of highest scores checked by PrecisionAtK and RecallAtK.
	TopK         int       `json:"top_k"`
	PrecisionAtK float64   `json:"precision_at_k"`
	RecallAtK    float64   `json:"recall_at_k"`
	Confusion    [2][2]int `json:"confusion"` // [actual][predicted]
	ROC          []Point   `json:"roc,omitempty"`
	PR           []Point   `json:"pr,omitempty"`
}

// Point is a point of a curve.
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// logLossEps clips probabilities as scikit-learn's log_loss does (float64 eps).
const logLossEps = 2.220446049250313e-16

// EvaluateClassifier scores probabilities against 0/1 labels. topK of 0 uses the number of
// positives (R-precision).
func EvaluateClassifier(y, p []float64, threshold float64, topK int) (Classification, error) {
	if len(y) != len(p) || len(y) == 0 {
		return Classification{}, fmt.Errorf("%d labels and %d scores", len(y), len(p))
	}
	c := Classification{Rows: len(y), Threshold: threshold}
	for i := range y {
		if y[i] != 0 && y[i] != 1 {
			return Classification{}, fmt.Errorf("row %d: label %v is not 0 or 1", i, y[i])
		}
		if y[i] == 1 {
			c.Positives++
		}
		pp := math.Min(math.Max(p[i], logLossEps), 1-logLossEps)
		c.LogLoss -= y[i]*math.Log(pp) + (1-y[i])*math.Log(1-pp)
		pred := 0
		if p[i] >= threshold {
			pred = 1
		}
		c.Confusion[int(y[i])][pred]++
	}
	c.LogLoss /= float64(len(y))
	neg := len(y) - c.Positives
	if c.Positives == 0 || neg == 0 {
		return c, errors.New("the evaluation rows hold only one class; AUC is undefined (widen the evaluation window)")
	}
	tp, fp, fn := c.Confusion[1][1], c.Confusion[0][1], c.Confusion[1][0]
	c.Precision = ratio(tp, tp+fp)
	c.Recall = ratio(tp, tp+fn)

	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] > p[idx[b]] })
	// Walk thresholds from the highest score down, one step per distinct score, as
	// scikit-learn's _binary_clf_curve does: tied scores move together.
	var (
		tps, fps   int
		prevTPR    float64
		prevFPR    float64
		prevRecall float64
		roc        = []Point{{0, 0}}
		pr         []Point
	)
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && p[idx[j]] == p[idx[i]] {
			if y[idx[j]] == 1 {
				tps++
			} else {
				fps++
			}
			j++
		}
		tpr, fpr := float64(tps)/float64(c.Positives), float64(fps)/float64(neg)
		c.ROCAUC += (fpr - prevFPR) * (tpr + prevTPR) / 2
		prec, rec := float64(tps)/float64(tps+fps), float64(tps)/float64(c.Positives)
		c.PRAUC += (rec - prevRecall) * prec
		roc = append(roc, Point{fpr, tpr})
		pr = append(pr, Point{rec, prec})
		prevTPR, prevFPR, prevRecall = tpr, fpr, rec
		i = j
	}
	c.ROC, c.PR = thin(roc), thin(pr)
	c.TopK = topK
	if c.TopK <= 0 || c.TopK > len(y) {
		c.TopK = c.Positives
	}
	var hits int
	for _, i := range idx[:c.TopK] {
		if y[i] == 1 {
			hits++
		}
	}
	c.PrecisionAtK = ratio(hits, c.TopK)
	c.RecallAtK = ratio(hits, c.Positives)
	return c, nil
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// maxCurvePoints bounds a curve kept with an evaluation.
const maxCurvePoints = 200

func thin(pts []Point) []Point {
	if len(pts) <= maxCurvePoints {
		return pts
	}
	out := make([]Point, 0, maxCurvePoints)
	step := float64(len(pts)-1) / float64(maxCurvePoints-1)
	for i := range maxCurvePoints {
		out = append(out, pts[int(math.Round(float64(i)*step))])
	}
	return out
}

// Regression is a regressor's evaluation.
type Regression struct {
	Rows int     `json:"rows"`
	RMSE float64 `json:"rmse"`
	MAE  float64 `json:"mae"`
	R2   float64 `json:"r2"`
}

// EvaluateRegressor scores predictions against targets.
func EvaluateRegressor(y, pred []float64) (Regression, error) {
	if len(y) != len(pred) || len(y) == 0 {
		return Regression{}, fmt.Errorf("%d targets and %d predictions", len(y), len(pred))
	}
	var mean, sse, sae, sst float64
	for _, v := range y {
		mean += v
	}
	mean /= float64(len(y))
	for i := range y {
		d := y[i] - pred[i]
		sse += d * d
		sae += math.Abs(d)
		sst += (y[i] - mean) * (y[i] - mean)
	}
	r := Regression{Rows: len(y), RMSE: math.Sqrt(sse / float64(len(y))), MAE: sae / float64(len(y))}
	if sst > 0 {
		r.R2 = 1 - sse/sst
	}
	return r, nil
}
