// Package devstack starts the embedded defaults of `codexion dev`: a private PostgreSQL
// cluster (through the project's script), the Kafka-protocol broker kfake in process, an
// S3-compatible server in process over a folder, and Temporal's dev server. Everything
// listens on 127.0.0.1 and keeps its data under the data directory. It is for development
// and tests only; production points the same client code at real services.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/codexion/codexion/platform/httpx"
)

// portInUse turns a listen error into one line that says what to change.
func portInUse(err error, what, addr, key string) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return httpx.CodePortInUse.New("%s: %s is already in use by another process; stop it or set %s", what, addr, key)
	}
	return fmt.Errorf("%s: listen on %s: %w", what, addr, err)
}

// checkFree fails when something already listens on addr.
func checkFree(what, addr, key string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return portInUse(err, what, addr, key)
	}
	return ln.Close()
}

// waitClosed returns once nothing accepts connections on addr, or when ctx ends.
func waitClosed(ctx context.Context, addr string) error {
	const pollInterval = 20 * time.Millisecond
	for {
		c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%s still accepts connections: %w", addr, ctx.Err())
			}
			return nil
		}
		c.Close()
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s still accepts connections: %w", addr, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}
