package app

import (
	"slices"

	"github.com/codexion/codexion/catalog"
	"github.com/codexion/codexion/features/server"
	"github.com/codexion/codexion/ledger"
	"github.com/codexion/codexion/models"
	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/config"
	"github.com/codexion/codexion/platform/httpx"
	"github.com/codexion/codexion/platform/idempotency"
	"github.com/codexion/codexion/workflows/ingest"
)

// The problem codes the app itself answers with.
var (
	CodeSchemaOutdated = platform.Code{Kind: platform.KindUnavailable, Code: "schema_outdated", Doc: "the database's schema is older than this binary's migrations: run codexion migrate"}
)

// Codes lists them.
func Codes() []platform.Code {
	return []platform.Code{CodeSchemaOutdated}
}

// Problems lists every problem code the parts of this binary answer with, each declared
// once by its part: docs/problems.md is generated from it.
func Problems() []platform.Code {
	return slices.Concat(platform.Codes(), httpx.Codes(), idempotency.Codes(), config.Codes(), Codes(),
		ledger.Codes(), catalog.Codes(), ingest.Codes(), server.Codes(), models.Codes())
}
