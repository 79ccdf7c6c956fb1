// Package testenv finds what tests need from the project itself: its root folder and
// the Temporal CLI that the project's script installs.
package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
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
		cliPath, cliErr = Script("deploy/dev/temporal.sh", []string{"install"})
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
	url, err := Script("deploy/dev/redis.sh", []string{"start"},
		"CODEXION_REDIS_DIR="+filepath.Join(root, ".codexion/test-redis"), "CODEXION_REDIS_PORT=auto")
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// Script runs one of the project's scripts (path from the repository root) with env added,
// its stderr shown, and returns the last line it printed: the scripts print their result
// (a URL, a path) last.
func Script(path string, args []string, env ...string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, path), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", path, strings.Join(args, " "), err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}

// Python3 returns the path of python3, installing Debian's python3 with apt-get when it is
// missing and the tests run as root; otherwise a missing python3 fails the test, so that
// a test that runs Python never passes without running it.
func Python3(t testing.TB) string {
	t.Helper()
	if py, err := exec.LookPath("python3"); err == nil {
		return py
	}
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("apt-get"); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			install := exec.CommandContext(ctx, "sh", "-c", "apt-get update -qq && apt-get install -y -qq python3")
			install.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			if out, err := install.CombinedOutput(); err != nil {
				t.Fatalf("python3 is missing and apt-get could not install it: %v\n%s", err, out)
			}
			if py, err := exec.LookPath("python3"); err == nil {
				return py
			}
		}
	}
	t.Fatal("python3 is missing: install Python 3 (the notebooks need only its standard library)")
	return ""
}
