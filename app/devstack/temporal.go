package devstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/codexion/codexion/platform"
)

// temporalReadyTimeout bounds how long the dev server may take to answer.
const temporalReadyTimeout = 90 * time.Second

// TemporalServer is Temporal's own dev server (`temporal server start-dev`), run as a
// child process with its state in a SQLite file.
type TemporalServer struct {
	Script string // path of temporal.sh, used to install the CLI when absent
	BinDir string // where the CLI is installed when absent (.codexion/bin)
	CLI    string // an installed CLI to use instead, if set
	Dir    string // state folder
	Addr   string // 127.0.0.1:7233
	UIPort int    // 0 runs it headless
	Log    *slog.Logger

	cmd    *exec.Cmd
	exited chan struct{}
	logBuf *tail
}

func (t *TemporalServer) Name() string { return "dev-temporal" }

// Binary returns the CLI's path, installing it with temporal.sh when absent.
func (t *TemporalServer) Binary(ctx context.Context) (string, error) {
	if t.CLI != "" {
		if _, err := os.Stat(t.CLI); err != nil {
			return "", platform.Invalid("dev.temporal_cli %s: %v", t.CLI, err)
		}
		return t.CLI, nil
	}
	bin := filepath.Join(t.BinDir, "temporal")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	t.Log.Info("installing the Temporal CLI into " + t.BinDir + " (a few minutes, once)")
	cmd := exec.CommandContext(ctx, t.Script, "install")
	cmd.Env = append(os.Environ(), "CODEXION_DATA_DIR="+filepath.Dir(t.BinDir))
	var stderr bytes.Buffer
	cmd.Stderr = io.MultiWriter(&stderr, os.Stderr)
	out, err := cmd.Output()
	if err != nil {
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) && ee.ExitCode() == 2 {
			return "", platform.Invalid("%s", strings.TrimSpace(stderr.String()))
		}
		return "", fmt.Errorf("install Temporal CLI: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// Start runs the dev server and waits until its frontend answers health checks.
func (t *TemporalServer) Start(ctx context.Context) error {
	host, portText, err := net.SplitHostPort(t.Addr)
	if err != nil {
		return err
	}
	if err := checkFree("Temporal dev server", t.Addr, "CODEXION_DEV_TEMPORAL_ADDR"); err != nil {
		return err
	}
	if t.UIPort != 0 {
		if err := checkFree("Temporal dev server UI", net.JoinHostPort(host, strconv.Itoa(t.UIPort)), "CODEXION_DEV_TEMPORAL_UI_PORT"); err != nil {
			return err
		}
	}
	bin, err := t.Binary(ctx)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(t.Dir, 0o755); err != nil {
		return err
	}
	args := []string{"server", "start-dev",
		"--ip", host, "--port", portText,
		"--db-filename", filepath.Join(t.Dir, "temporal.db"),
		"--log-level", "warn",
	}
	if t.UIPort == 0 {
		args = append(args, "--headless")
	} else {
		args = append(args, "--ui-port", strconv.Itoa(t.UIPort))
	}
	// Not CommandContext: the server must outlive the start context.
	cmd := exec.Command(bin, args...)
	t.logBuf = &tail{max: 8 << 10}
	logFile, err := os.OpenFile(filepath.Join(t.Dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout = io.MultiWriter(logFile, t.logBuf)
	cmd.Stderr = cmd.Stdout
	// Own process group, and killed with us if we die without stopping it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", bin, err)
	}
	t.cmd = cmd
	t.exited = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(t.exited)
	}()
	if err := t.waitReady(ctx); err != nil {
		_ = t.Stop(context.Background())
		return err
	}
	return nil
}

func (t *TemporalServer) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(temporalReadyTimeout)
	for {
		select {
		case <-t.exited:
			return fmt.Errorf("the Temporal dev server exited during start: %s", strings.TrimSpace(t.logBuf.String()))
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if err := temporalHealthy(ctx, t.Addr); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the Temporal dev server did not answer on %s within %s; see %s",
				t.Addr, temporalReadyTimeout, filepath.Join(t.Dir, "server.log"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func temporalHealthy(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{HostPort: addr, Logger: quietTemporalLogger{}})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
	return err
}

// Stop sends SIGTERM to the server's process group and SIGKILL after the deadline.
func (t *TemporalServer) Stop(ctx context.Context) error {
	if t.cmd == nil || t.cmd.Process == nil {
		return nil
	}
	_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-t.exited:
		return nil
	case <-ctx.Done():
		_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL)
		<-t.exited
		return fmt.Errorf("the Temporal dev server did not stop in time; killed")
	}
}

// tail keeps the last max bytes written, for error messages.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// quietTemporalLogger drops the SDK's own logging during readiness polling.
type quietTemporalLogger struct{}

func (quietTemporalLogger) Debug(string, ...any) {}
func (quietTemporalLogger) Info(string, ...any)  {}
func (quietTemporalLogger) Warn(string, ...any)  {}
func (quietTemporalLogger) Error(string, ...any) {}
