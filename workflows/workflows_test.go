package workflows

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/codexion/codexion/internal/testenv"
	"github.com/codexion/codexion/platform"
)

func devServer(t *testing.T) string {
	t.Helper()
	srv, err := testsuite.StartDevServer(context.Background(), testsuite.DevServerOptions{
		ExistingPath: testenv.TemporalCLI(t),
		LogLevel:     "error",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return srv.FrontendHostPort()
}

func echo(_ workflow.Context, s string) (string, error) { return "echo: " + s, nil }

func TestWorkerRunsRegisteredWorkflows(t *testing.T) {
	addr := devServer(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	c := &Client{Address: addr, Namespace: "default", Log: log}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Stop(ctx) //nolint:errcheck // test teardown
	if err := c.Check(ctx); err != nil {
		t.Fatal(err)
	}
	w := &Worker{Client: c, TaskQueue: "test-q", Log: log, Register: []Registration{
		func(r worker.Registry) { r.RegisterWorkflow(echo) },
	}}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Stop(ctx) //nolint:errcheck // test teardown
	runCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(runCtx, client.StartWorkflowOptions{TaskQueue: "test-q"}, echo, "hello")
	if err != nil {
		t.Fatal(err)
	}
	var got string
	if err := run.Get(runCtx, &got); err != nil || got != "echo: hello" {
		t.Fatalf("result %q err %v", got, err)
	}
}

func TestIdleWorkerSaysSo(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	w := &Worker{TaskQueue: "q", Log: log}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "no workflows or activities registered yet") {
		t.Fatalf("log: %s", logs.String())
	}
}

func TestUnreachableServerIsUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c := &Client{Address: "127.0.0.1:1", Namespace: "default", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := c.Start(ctx); platform.KindOf(err) != platform.KindUnavailable {
		t.Fatalf("err = %v", err)
	}
}
