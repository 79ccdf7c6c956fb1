#!/usr/bin/python3
"""Times scikit-learn's fit on the rows the Go benchmark fits (BenchmarkTraining1M).

Usage: sklearn_fit_time.py FILE ROWS FEATURES
FILE holds ROWS x FEATURES float64 values row by row, then ROWS labels, little-endian.
Prints one JSON line: the seconds each fit took (the data is read before any clock runs).
Each estimator is configured as scikit-learn's documentation shows it, with its defaults:
logistic regression behind a StandardScaler (Codexion's fit standardises too), and
IsolationForest().
"""
import json
import sys
import time

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

path, n, p = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
raw = np.fromfile(path, dtype="<f8")
X = raw[: n * p].reshape(n, p)
y = raw[n * p:]
out = {}
began = time.perf_counter()
make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
out["logistic_regression"] = time.perf_counter() - began
began = time.perf_counter()
IsolationForest(random_state=0).fit(X)
out["isolation_forest"] = time.perf_counter() - began
print(json.dumps(out))
