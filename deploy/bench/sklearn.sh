#!/usr/bin/env bash
# Makes sure Debian's python3-sklearn is there for the training benchmark's baseline
# (BenchmarkTraining1M fits the same rows with scikit-learn). Installs it with apt-get when it
# is missing and apt is usable; otherwise says so and the benchmark runs without a baseline.
set -euo pipefail
if /usr/bin/python3 -c 'import sklearn' >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing python3-sklearn with apt-get (the training benchmark's baseline)" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-sklearn >/dev/null) >&2 && exit 0
fi
echo "python3-sklearn is not installed and apt-get is not usable: BenchmarkTraining1M will run without its scikit-learn baseline" >&2
