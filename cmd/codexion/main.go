// Command codexion is the one Codexion binary: the HTTP API, the Temporal worker, the
// dev stack, migrations, config tools. Exit codes: 0 ok, 1 runtime failure, 2 usage or
// configuration error.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/codexion/codexion/platform"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, stop, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, stopSignals func(), args []string, stdout, stderr io.Writer) int {
	cli := &cli{stopSignals: stopSignals, stdout: stdout, stderr: stderr}
	root := cli.root()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "codexion: "+err.Error())
	var usage usageError
	if errors.As(err, &usage) || !cli.started || platform.KindOf(err) == platform.KindInvalid {
		return 2
	}
	return 1
}

// usageError marks a mistake in how the command was called.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }
