// Command benchreport records a `make bench` run's raw output as JSON and generates
// docs/benchmarks.md from the newest recorded run.
//
//	benchreport record -in .codexion/bench.txt -dir docs/bench/runs
//	benchreport render -dir docs/bench/runs -template docs/bench/benchmarks.md.tmpl -out docs/benchmarks.md
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/codexion/codexion/internal/benchreport"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchreport record|render [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "record":
		err = record(os.Args[2:])
	case "render":
		err = render(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: use record or render", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func record(args []string) error {
	fs := flag.NewFlagSet("record", flag.ExitOnError)
	in := fs.String("in", ".codexion/bench.txt", "go test -bench output")
	dir := fs.String("dir", "docs/bench/runs", "where runs are kept")
	_ = fs.Parse(args)
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	run, err := benchreport.Parse(f)
	if err != nil {
		return err
	}
	if len(run.Results) == 0 {
		return fmt.Errorf("%s holds no benchmark results", *in)
	}
	now := time.Now().UTC()
	run.Date, run.Go = now.Format(time.RFC3339), runtime.Version()
	if out, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		run.Commit = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
			run.Commit += "+changes"
		}
	}
	raw, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(*dir, now.Format("2006-01-02T150405Z")+".json")
	if err := os.WriteFile(path, append(raw, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Println("recorded", len(run.Results), "results in", path)
	return nil
}

func render(args []string) error {
	fs := flag.NewFlagSet("render", flag.ExitOnError)
	dir := fs.String("dir", "docs/bench/runs", "where runs are kept")
	tmpl := fs.String("template", "docs/bench/benchmarks.md.tmpl", "the document with its tables as template calls")
	out := fs.String("out", "docs/benchmarks.md", "the generated document")
	_ = fs.Parse(args)
	doc, err := benchreport.Generate(*dir, *tmpl)
	if err != nil {
		return err
	}
	return os.WriteFile(*out, []byte(doc), 0o644)
}
