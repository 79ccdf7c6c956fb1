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

// RedisURL starts the project's private test Redis (deploy/dev/redis.sh installs Debian's
// redis-server when missing) and returns its URL; CODEXION_TEST_REDIS_URL names another.
func RedisURL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("CODEXION_TEST_REDIS_URL"); u != "" {
		return u
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(root, "deploy/dev/redis.sh"), "start")
	cmd.Env = append(os.Environ(), "CODEXION_REDIS_DIR="+filepath.Join(root, ".codexion/test-redis"), "CODEXION_REDIS_PORT=auto")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("deploy/dev/redis.sh start: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}
