// Package devstack starts the embedded defaults of `codexion dev`: a private PostgreSQL
// cluster (through the project's script), the Kafka-protocol broker kfake in process, an
// S3-compatible server in process over a folder, and Temporal's dev server. Everything
// listens on 127.0.0.1 and keeps its data under the data directory. It is for development
// and tests only; production points the same client code at real services.
package devstack

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/codexion/codexion/platform"
)

// portInUse turns a listen error into one line that says what to change.
func portInUse(err error, what, addr, key string) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return platform.E(platform.KindUnavailable, "port_in_use",
			"%s: %s is already in use by another process; stop it or set %s", what, addr, key)
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
