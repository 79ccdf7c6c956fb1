#!/usr/bin/python3
"""Reference values for models/train, computed by scikit-learn on the same inputs.

Run from this folder with Debian's python3-sklearn:  /usr/bin/python3 sklearn_reference.py
It writes classification.csv, regression.csv and sklearn_reference.json; the Go tests fit
and evaluate on the CSVs and compare with the JSON within the tolerances they state.
"""
import json

import numpy as np
import sklearn
from sklearn.ensemble import IsolationForest
from sklearn.ensemble._iforest import _average_path_length
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import (average_precision_score, log_loss, mean_absolute_error,
                             mean_squared_error, precision_score, recall_score, roc_auc_score)
from sklearn.preprocessing import StandardScaler

rng = np.random.default_rng(20261202)

# Classification: 2,000 rows, 5 features on different scales, a constant feature, a
# rare positive class (about 8%), and scores rounded so that ties occur.
n = 2000
X = np.column_stack([
    rng.normal(1000, 250, n),          # an amount
    rng.integers(0, 24, n),            # an hour
    rng.exponential(3, n),             # a heavy-ish tail
    rng.normal(0, 1, n),
    np.full(n, 7.0),                   # constant
])
logit = -3.2 + 0.004 * (X[:, 0] - 1000) + 0.15 * (X[:, 1] < 6) * 6 + 0.3 * X[:, 2] - 0.5 * X[:, 3]
y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
np.savetxt("classification.csv", np.column_stack([X, y]), delimiter=",", fmt="%.10g",
           header="amount,hour,tail,noise,constant,label", comments="")

scaler = StandardScaler().fit(X)
Z = scaler.transform(X)
clf = LogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit(Z, y)
p = clf.predict_proba(Z)[:, 1]
p_tied = np.round(p, 2)  # ties for the curve metrics
pred = (p >= 0.5).astype(float)

# Regression: 1,000 rows, 3 features plus noise.
m = 1000
R = np.column_stack([rng.normal(50, 10, m), rng.uniform(0, 1, m), rng.normal(-5, 2, m)])
t = 3.0 + 0.8 * R[:, 0] - 12.0 * R[:, 1] + 1.5 * R[:, 2] + rng.normal(0, 2, m)
np.savetxt("regression.csv", np.column_stack([R, t]), delimiter=",", fmt="%.10g",
           header="a,b,c,target", comments="")
rs = StandardScaler().fit(R)
reg = LinearRegression().fit(rs.transform(R), t)
rp = reg.predict(rs.transform(R))

# Anomalies: 3,000 ordinary rows (correlated, on different scales, one integer-valued
# feature with many ties) and 60 anomalies spread over a wider box. The forest is random,
# so the Go test compares what does not depend on the draws: c(n) exactly, and the ranking
# quality and score agreement against the spread of scikit-learn's own seeds.
k = 3000
base = rng.normal(0, 1, (k, 2))
A = np.column_stack([1000 + 200 * base[:, 0], 5 + 3 * (0.8 * base[:, 0] + 0.6 * base[:, 1]),
                     rng.integers(8, 18, k), rng.exponential(2, k)])
B = np.column_stack([rng.uniform(-500, 2500, 60), rng.uniform(-20, 30, 60), rng.integers(0, 24, 60),
                     rng.uniform(0, 30, 60)])
W = np.vstack([A, B])
wy = np.concatenate([np.zeros(k), np.ones(60)])
np.savetxt("anomalies.csv", np.column_stack([W, wy]), delimiter=",", fmt="%.10g",
           header="amount,ratio,hour,gap,label", comments="")
forests = [IsolationForest(random_state=seed).fit(W) for seed in range(5)]
scores = [-f.score_samples(W) for f in forests]
aucs = [roc_auc_score(wy, sc) for sc in scores]
from scipy.stats import spearmanr
rhos = [spearmanr(scores[0], sc).statistic for sc in scores[1:]]

out = {
    "sklearn_version": sklearn.__version__,
    "logistic": {
        "C": 1.0,
        "mean": scaler.mean_.tolist(),
        "scale": [s if s != 0 else 1.0 for s in scaler.scale_.tolist()],
        "coef": clf.coef_[0].tolist(),
        "intercept": float(clf.intercept_[0]),
        "first_probabilities": p[:20].tolist(),
        "roc_auc": roc_auc_score(y, p),
        "pr_auc": average_precision_score(y, p),
        "log_loss": log_loss(y, p),
        "precision": precision_score(y, pred, zero_division=0),
        "recall": recall_score(y, pred, zero_division=0),
        "tied_scores_roc_auc": roc_auc_score(y, p_tied),
        "tied_scores_pr_auc": average_precision_score(y, p_tied),
    },
    "isolation_forest": {
        "average_path_length": {str(n): float(_average_path_length(np.array([n]))[0]) for n in [1, 2, 3, 10, 255, 256, 1000]},
        "roc_auc_by_seed": aucs,
        "spearman_between_seeds_min": float(min(rhos)),
        "mean_score": float(np.mean(scores[0])),
        "mean_score_anomalies": float(np.mean(scores[0][wy == 1])),
        "scores_seed0": [round(float(v), 6) for v in scores[0]],
    },
    "linear": {
        "coef": reg.coef_.tolist(),
        "intercept": float(reg.intercept_),
        "rmse": float(np.sqrt(mean_squared_error(t, rp))),
        "mae": mean_absolute_error(t, rp),
    },
}
with open("sklearn_reference.json", "w") as f:
    json.dump(out, f, indent=2)
    f.write("\n")
