#!/usr/bin/env bash
# Runs every fuzz target in the module for a short while, one after another, starting from
# its committed corpus (testdata/fuzz/<Target>/). Targets are found, not listed: a new
# FuzzX in any _test.go file runs here without being added anywhere. A failure leaves the
# failing input in the package's testdata/fuzz/<Target>/; commit it with the fix.
#
#   FUZZTIME   how long each target runs (default 8s; the whole run is about that times the
#              number of targets, plus one instrumented build per package)
#   FUZZ_RUN   a regexp of target names to run (default: all)
#   FUZZMINIMIZETIME  how long to shrink each new input (default 1s: the go default, 60s,
#              spent on a large corpus entry would stall a short run)
set -euo pipefail
cd "$(dirname "$0")/../.."

go=${GO:-go}
fuzztime=${FUZZTIME:-8s}
minimize=${FUZZMINIMIZETIME:-1s}
only=${FUZZ_RUN:-.}

# package directory and target name, one pair a line, sorted
targets=$(git grep --untracked -E '^func Fuzz[A-Za-z0-9_]*\(' -- '*_test.go' |
	sed -E 's|^(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*|\1 \2|; s|^[^/ ]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*|. \1|' |
	sort -u)

status=0
while read -r dir name; do
	[[ $name =~ $only ]] || continue
	start=$SECONDS
	out=$($go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "./$dir" 2>&1) && ok=1 || ok=0
	# Go 1.26's fuzz coordinator can end a -fuzztime run with "context deadline exceeded"
	# and no failing input: a race between its deadline and its workers (go.dev/issue/75804,
	# fixed in Go 1.27). That is no finding; a real one always writes its input, and fails.
	note=""
	if [ $ok = 0 ] && grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
		ok=1 note=" (ended by go.dev/issue/75804, no failing input)"
	fi
	if [ $ok = 1 ]; then
		execs=$(grep -oE 'execs: [0-9]+' <<<"$out" | tail -1 | grep -oE '[0-9]+' || echo "?")
		printf 'ok    %-28s %-22s %ss, %s execs%s\n' "$name" "$dir" "$((SECONDS - start))" "$execs" "$note"
	else
		printf 'FAIL  %-28s %s\n%s\n' "$name" "$dir" "$out"
		status=1
	fi
done <<<"$targets"
exit $status
