// Package ledgertest runs the ledger API for tests of its clients, on the real platform
// chain with a fresh migrated database and a token for every role.
package ledgertest

import (
	"log/slog"
	"testing"

	"github.com/codexion/codexion/connectors/outbox"
	"github.com/codexion/codexion/internal/apitest"
	"github.com/codexion/codexion/ledger"
	"github.com/codexion/codexion/platform/httpx"
	"github.com/codexion/codexion/platform/idempotency"
	"github.com/codexion/codexion/platform/postgres"
	"github.com/codexion/codexion/schemas"
)

// Server is a running ledger API.
type Server struct {
	*apitest.Server
	Store *ledger.Store
}

// Start runs the API until the test ends; maxBodyBytes bounds request bodies.
func Start(t testing.TB, maxBodyBytes int64) *Server {
	t.Helper()
	s := &Server{}
	s.Server = apitest.Start(t, maxBodyBytes, []postgres.Source{idempotency.Migrations(), outbox.Migrations(), ledger.Migrations()},
		func(r *httpx.Router, db *postgres.Pool, log *slog.Logger) {
			s.Store = ledger.NewStore(db.Pool, outbox.NewWriter(Events(t)))
			ledger.NewHandler(s.Store, log).Routes(r)
		})
	return s
}

// Events are the ledger's event declarations, gathered as app/ gathers them.
func Events(t testing.TB) *schemas.Declarations {
	t.Helper()
	d, err := schemas.Declare(ledger.Events())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// EventSchemas compiles the schemas the ledger declares for its events.
func EventSchemas(t testing.TB) *schemas.Set {
	t.Helper()
	set, err := Events(t).Set()
	if err != nil {
		t.Fatal(err)
	}
	return set
}
