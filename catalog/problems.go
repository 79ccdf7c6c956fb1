package catalog

import "github.com/codexion/codexion/platform"

// The problem codes catalog answers with; docs/problems.md lists every code.
var (
	CodeBreakingChange = platform.Code{Kind: platform.KindConflict, Code: "breaking_change", Doc: "the apply or delete would break a running object; repeat with force=true to accept it"}
	CodeCatalogBusy    = platform.Code{Kind: platform.KindConflict, Code: "catalog_busy", Doc: "the catalog changed while the apply was being checked, five times in a row; retry"}
)

// Codes lists them.
func Codes() []platform.Code {
	return []platform.Code{CodeBreakingChange, CodeCatalogBusy}
}
