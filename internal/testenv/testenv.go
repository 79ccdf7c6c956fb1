// Package testenv finds what tests need from the project itself: its root folder and
// the Temporal CLI that the project's script installs.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// RepoRoot is the folder holding go.mod, found upwards from the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

var (
	cliOnce sync.Once
	cliPath string
	cliErr  error
)

// TemporalCLI returns the path of the Temporal CLI, installing it with
// deploy/dev/temporal.sh when absent (minutes, once per machine).
func TemporalCLI(t testing.TB) string {
	t.Helper()
	cliOnce.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			cliErr = err
			return
		}
		cmd := exec.Command(filepath.Join(root, "deploy/dev/temporal.sh"), "install")
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			cliErr = fmt.Errorf("deploy/dev/temporal.sh install: %w", err)
			return
		}
		cliPath = strings.TrimSpace(string(out))
	})
	if cliErr != nil {
		t.Fatal(cliErr)
	}
	return cliPath
}
