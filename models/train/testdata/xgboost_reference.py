#!/usr/bin/python3
"""Reference predictions for models/train's XGBoost reader, made by XGBoost itself.

Run from this folder with Debian's python3-xgboost:  /usr/bin/python3 xgboost_reference.py
It trains two small boosted-tree models on generated rows (with missing values), saves them in
XGBoost's JSON model format (what `Booster.save_model("model.json")` writes) and records, for
rows the models did not see, the predictions XGBoost makes. The Go test reads the model files
and must give the same predictions.
"""
import json

import numpy as np
import xgboost as xgb

rng = np.random.default_rng(20261206)
n, p = 1500, 6
X = np.column_stack([
    rng.normal(1000, 250, n),      # an amount
    rng.integers(0, 24, n),        # an hour
    rng.exponential(3, n),         # a heavy tail
    rng.normal(0, 1, n),
    rng.uniform(-5, 5, n),
    rng.integers(0, 2, n),         # a flag
])
logit = -2 + 0.004 * (X[:, 0] - 1000) + 1.5 * (X[:, 1] < 6) + 0.3 * X[:, 2] - 0.5 * X[:, 3] * X[:, 5]
y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
t = 3.0 + 0.01 * X[:, 0] - 2.0 * (X[:, 1] > 18) + np.sin(X[:, 4]) + rng.normal(0, 0.5, n)
X[rng.random((n, p)) < 0.05] = np.nan  # missing values take each split's default direction
names = ["amount", "hour", "tail", "noise", "wave", "flag"]

train, test = slice(0, 1200), slice(1200, n)
seen = xgb.DMatrix(X[train], label=y[train], feature_names=names)
unseen = xgb.DMatrix(X[test], feature_names=names)
clf = xgb.train({"objective": "binary:logistic", "max_depth": 4, "eta": 0.2, "seed": 0}, seen, num_boost_round=40)
clf.save_model("xgboost_binary.json")

seen_t = xgb.DMatrix(X[train], label=t[train], feature_names=names)
reg = xgb.train({"objective": "reg:squarederror", "max_depth": 3, "eta": 0.3, "seed": 0, "base_score": 2.5}, seen_t, num_boost_round=30)
reg.save_model("xgboost_regression.json")

rows = [[None if np.isnan(v) else float(v) for v in row] for row in X[test]]
out = {
    "xgboost_version": xgb.__version__,
    "features": names,
    "rows": rows,
    "binary_probability": [float(v) for v in clf.predict(unseen)],
    "binary_margin": [float(v) for v in clf.predict(unseen, output_margin=True)],
    "regression": [float(v) for v in reg.predict(unseen)],
}
with open("xgboost_reference.json", "w") as f:
    json.dump(out, f)
    f.write("\n")
