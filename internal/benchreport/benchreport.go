// Package benchreport keeps every `make bench` run's raw output as a machine-readable file
// and generates docs/benchmarks.md from the latest run: the figures in the document are
// computed from the committed output, never typed in.
package benchreport

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/template"
)

// Result is one line of `go test -bench` output.
type Result struct {
	Package    string             `json:"package"`
	Name       string             `json:"name"` // without the -GOMAXPROCS suffix
	Procs      int                `json:"procs"`
	Iterations int64              `json:"iterations"`
	Metrics    map[string]float64 `json:"metrics"` // by unit: ns/op, B/op, events/s, p99_ms, ...
}

// Run is one `make bench` run.
type Run struct {
	Date    string   `json:"date"`   // UTC, RFC 3339
	Commit  string   `json:"commit"` // the tree that was measured
	Go      string   `json:"go"`
	OS      string   `json:"goos"`
	Arch    string   `json:"goarch"`
	CPU     string   `json:"cpu"`
	Notes   []string `json:"notes,omitempty"` // lines of the output that are not results (logs of the load benchmarks)
	Results []Result `json:"results"`
}

// Parse reads `go test -bench` output.
func Parse(r io.Reader) (Run, error) {
	var run Run
	pkg := ""
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		switch {
		case strings.HasPrefix(line, "goos: "):
			run.OS = strings.TrimPrefix(line, "goos: ")
		case strings.HasPrefix(line, "goarch: "):
			run.Arch = strings.TrimPrefix(line, "goarch: ")
		case strings.HasPrefix(line, "cpu: "):
			run.CPU = strings.TrimPrefix(line, "cpu: ")
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimPrefix(line, "pkg: ")
		case strings.HasPrefix(line, "Benchmark"):
			res, ok, err := parseResult(pkg, line)
			if err != nil {
				return run, err
			}
			if ok {
				run.Results = append(run.Results, res)
			}
		case strings.Contains(line, "bench_test.go:") || strings.Contains(line, "_test.go:"):
			run.Notes = append(run.Notes, line)
		}
	}
	return run, s.Err()
}

func parseResult(pkg, line string) (Result, bool, error) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 {
		return Result{}, false, nil // a benchmark's name alone (its sub-benchmarks follow), or a log line
	}
	n, convErr := strconv.ParseInt(f[1], 10, 64)
	if convErr != nil {
		return Result{}, false, nil //nolint:nilerr // not a result line: a log line that starts with Benchmark
	}
	res := Result{Package: pkg, Name: f[0], Procs: 1, Iterations: n, Metrics: map[string]float64{}}
	if i := strings.LastIndexByte(f[0], '-'); i > 0 {
		if p, err := strconv.Atoi(f[0][i+1:]); err == nil {
			res.Name, res.Procs = f[0][:i], p
		}
	}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return Result{}, false, fmt.Errorf("%q: value %q: %w", line, f[i], err)
		}
		res.Metrics[f[i+1]] = v
	}
	return res, true, nil
}

// Latest reads the newest run in dir (files named by their date sort by it).
func Latest(dir string) (Run, string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return Run{}, "", err
	}
	if len(files) == 0 {
		return Run{}, "", fmt.Errorf("no runs in %s", dir)
	}
	slices.Sort(files)
	raw, err := os.ReadFile(files[len(files)-1])
	if err != nil {
		return Run{}, "", err
	}
	var run Run
	if err := json.Unmarshal(raw, &run); err != nil {
		return Run{}, "", fmt.Errorf("%s: %w", files[len(files)-1], err)
	}
	return run, files[len(files)-1], nil
}

// median of the metric over every repetition of the named benchmark.
func (r Run) median(name, unit string) (float64, int, bool) {
	var vals []float64
	for _, res := range r.Results {
		if res.Name == name {
			if v, ok := res.Metrics[unit]; ok {
				vals = append(vals, v)
			}
		}
	}
	if len(vals) == 0 {
		return 0, 0, false
	}
	sort.Float64s(vals)
	m := vals[len(vals)/2]
	if len(vals)%2 == 0 {
		m = (vals[len(vals)/2-1] + vals[len(vals)/2]) / 2
	}
	return m, len(vals), true
}

// subs lists the sub-benchmarks of name in the order they first ran.
func (r Run) subs(name string) []string {
	var out []string
	for _, res := range r.Results {
		if strings.HasPrefix(res.Name, name+"/") && !slices.Contains(out, res.Name) {
			out = append(out, res.Name)
		}
	}
	if len(out) == 0 {
		for _, res := range r.Results {
			if res.Name == name {
				return []string{name}
			}
		}
	}
	return out
}

// higherIsBetter says whether a larger value of unit is better: rates (x/s) are.
func higherIsBetter(unit string) bool { return strings.HasSuffix(unit, "/s") }

// Table renders the median of each unit for name and its sub-benchmarks as a Markdown
// table, with the number of runs behind each median. When a sub-benchmark is named
// baseline, the others get their ratio to it on the first unit: 1.0 is as good as the
// baseline, below 1 worse (for rates codexion/baseline, otherwise baseline/codexion).
func (r Run) Table(name string, units ...string) (string, error) {
	return r.TableVs(name, "baseline", units...)
}

// TableVs is Table with the sub-benchmark named base as the baseline.
func (r Run) TableVs(name, base string, units ...string) (string, error) {
	return r.table(name, base, nil, units)
}

// TableOf is Table for only the sub-benchmarks listed (comma-separated); the ratio column
// appears when the baseline is among them.
func (r Run) TableOf(name, subs string, units ...string) (string, error) {
	return r.table(name, "baseline", strings.Split(subs, ","), units)
}

func (r Run) table(name, base string, only, units []string) (string, error) {
	if len(units) == 0 {
		return "", fmt.Errorf("table %s: name at least one unit", name)
	}
	subs := r.subs(name)
	if len(subs) == 0 {
		return "", fmt.Errorf("benchmark %s is not in the run", name)
	}
	if only != nil {
		var kept []string
		for _, o := range only {
			if !slices.Contains(subs, name+"/"+o) {
				return "", fmt.Errorf("benchmark %s has no sub-benchmark %s", name, o)
			}
			kept = append(kept, name+"/"+o)
		}
		subs = kept
	}
	var b bytes.Buffer
	b.WriteString("| run |")
	for _, u := range units {
		b.WriteString(" " + u + " |")
	}
	baseline := name + "/" + base
	baseValue, _, hasBase := r.median(baseline, units[0])
	hasBase = hasBase && slices.Contains(subs, baseline)
	if hasBase {
		b.WriteString(" vs " + base + " |")
	}
	b.WriteString(" n |\n|---|")
	for range units {
		b.WriteString("---:|")
	}
	if hasBase {
		b.WriteString("---:|")
	}
	b.WriteString("---:|\n")
	for _, sub := range subs {
		label := strings.TrimPrefix(strings.TrimPrefix(sub, name), "/")
		if label == "" {
			label = name
		}
		b.WriteString("| " + label + " |")
		count := 0
		for _, u := range units {
			v, n, ok := r.median(sub, u)
			if !ok {
				b.WriteString(" |")
				continue
			}
			count = n
			b.WriteString(" " + format(v) + " |")
		}
		if hasBase {
			v, _, ok := r.median(sub, units[0])
			switch {
			case sub == baseline:
				b.WriteString(" 1.00 |")
			case !ok || v == 0 || baseValue == 0:
				b.WriteString(" |")
			case higherIsBetter(units[0]):
				fmt.Fprintf(&b, " %.2f |", v/baseValue)
			default:
				fmt.Fprintf(&b, " %.2f |", baseValue/v)
			}
		}
		fmt.Fprintf(&b, " %d |\n", count)
	}
	return b.String(), nil
}

// format prints a figure with at most 3 significant decimals and thousands separators.
func format(v float64) string {
	switch a := math.Abs(v); {
	case v == math.Trunc(v) && a < 1e15:
		return group(strconv.FormatFloat(v, 'f', 0, 64))
	case a >= 100:
		return group(strconv.FormatFloat(math.Round(v), 'f', 0, 64))
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func group(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// Render fills the template with the run: {{.Run.Date}}, {{table "BenchmarkX" "unit" ...}}.
func Render(tmpl string, run Run, file string) (string, error) {
	t, err := template.New("benchmarks").Option("missingkey=error").Funcs(template.FuncMap{
		"table":    run.Table,
		"tableVs":  run.TableVs,
		"tableOf":  run.TableOf,
		"trimDocs": func(p string) string { return strings.TrimPrefix(p, "docs/") }, // links from docs/
	}).Parse(tmpl)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	err = t.Execute(&b, struct {
		Run  Run
		File string
	}{run, filepath.ToSlash(file)})
	return b.String(), err
}

// Generate renders the template at tmplPath with the newest run in dir. File names in the
// output are relative to the repository (dir as given).
func Generate(dir, tmplPath string) (string, error) {
	run, file, err := Latest(dir)
	if err != nil {
		return "", err
	}
	tmpl, err := os.ReadFile(tmplPath)
	if err != nil {
		return "", err
	}
	return Render(string(tmpl), run, file)
}
