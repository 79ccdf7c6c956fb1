package benchreport

import (
	"os"
	"strings"
	"testing"

	"github.com/codexion/codexion/internal/testenv"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/codexion/codexion/connectors/outbox
cpu: AMD EPYC 7B13
BenchmarkRelay
BenchmarkRelay/baseline
BenchmarkRelay/baseline-2         	       5	  20000000 ns/op	    250000 events/s
BenchmarkRelay/codexion-2         	       5	  40000000 ns/op	    125000 events/s
BenchmarkRelay/baseline-2         	       5	  30000000 ns/op	    166667 events/s
BenchmarkRelay/codexion-2         	       5	  50000000 ns/op	    100000 events/s
BenchmarkRelay/baseline-2         	       5	  10000000 ns/op	    500000 events/s
BenchmarkRelay/codexion-2         	       5	  60000000 ns/op	     83333 events/s
    bench_test.go:80: published 5000 events
pkg: github.com/codexion/codexion/ledger
BenchmarkValidate-2   	  612345	      2034 ns/op	    1234 B/op	      32 allocs/op
PASS
ok  	github.com/codexion/codexion/ledger	3.2s
`

func TestParseKeepsEveryRepetitionAndItsPackage(t *testing.T) {
	run, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if run.CPU != "AMD EPYC 7B13" || len(run.Results) != 7 || len(run.Notes) != 1 {
		t.Fatalf("run: cpu %q, %d results, %d notes", run.CPU, len(run.Results), len(run.Notes))
	}
	v := run.Results[6]
	if v.Package != "github.com/codexion/codexion/ledger" || v.Name != "BenchmarkValidate" || v.Procs != 2 || v.Iterations != 612345 ||
		v.Metrics["allocs/op"] != 32 || v.Metrics["ns/op"] != 2034 {
		t.Fatalf("validate: %+v", v)
	}
}

func TestTableShowsMediansAndTheRatioToTheBaseline(t *testing.T) {
	run, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	got, err := run.Table("BenchmarkRelay", "events/s", "ns/op")
	if err != nil {
		t.Fatal(err)
	}
	// Medians: baseline 250,000 events/s and 20 ms; codexion 100,000 events/s and 50 ms.
	for _, want := range []string{"| baseline | 250,000 | 20,000,000 | 1.00 | 3 |", "| codexion | 100,000 | 50,000,000 | 0.40 | 3 |"} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	// For a time per op, lower is better: the ratio is baseline / codexion.
	got, _ = run.Table("BenchmarkRelay", "ns/op")
	if !strings.Contains(got, "| codexion | 50,000,000 | 0.40 | 3 |") {
		t.Errorf("ns/op ratio:\n%s", got)
	}
	if _, err := run.Table("BenchmarkNope", "ns/op"); err == nil {
		t.Error("a benchmark that did not run must be an error, not an empty table")
	}
}

// TestBenchmarksDocIsGeneratedFromTheNewestRun: docs/benchmarks.md is exactly what the
// template gives with the newest committed run, so every figure traces to raw output.
// After `make bench`, the Makefile regenerates it; an edit by hand fails here.
func TestBenchmarksDocIsGeneratedFromTheNewestRun(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	want, err := Generate("docs/bench/runs", "docs/bench/benchmarks.md.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("docs/benchmarks.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatal("docs/benchmarks.md differs from what docs/bench/benchmarks.md.tmpl gives with the newest run in docs/bench/runs: " +
			"edit the template and run `go run ./internal/benchreport/cmd/benchreport render`")
	}
}
