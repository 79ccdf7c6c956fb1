#!/usr/bin/env bash
# Reads `go test -bench` output and prints, for every benchmark with a /baseline and a
# /codexion sub-benchmark, the median ns/op of each and codexion's throughput as a ratio
# of the baseline's (1.0 = as fast as the baseline, 0.5 = half as fast).
set -euo pipefail
awk '
  /^Benchmark/ {
    name = $1; sub(/-[0-9]+$/, "", name)
    n = split(name, parts, "/")
    if (n < 2) next
    side = parts[n]
    if (side != "baseline" && side != "codexion") next
    key = parts[1]; for (i = 2; i < n; i++) key = key "/" parts[i]
    for (i = 2; i <= NF; i++) if ($(i) == "ns/op") { v = $(i-1) }
    vals[key, side] = vals[key, side] " " v
    keys[key] = 1
  }
  function median(s,   a, n, i, j, t) {
    n = split(s, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    printf "%-44s %14s %14s %8s\n", "benchmark", "baseline ns/op", "codexion ns/op", "ratio"
    for (k in keys) {
      if (!((k, "baseline") in vals) || !((k, "codexion") in vals)) continue
      b = median(vals[k, "baseline"]); c = median(vals[k, "codexion"])
      printf "%-44s %14.0f %14.0f %8.3f\n", k, b, c, b / c
    }
  }
' "$1"
