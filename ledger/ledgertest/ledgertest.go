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
			s.Store = ledger.NewStore(db.Pool)
			ledger.NewHandler(s.Store, log).Routes(r)
		})
	return s
}
