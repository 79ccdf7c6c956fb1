package ingest

import "github.com/codexion/codexion/platform"

// The problem codes workflows/ingest answers with; docs/problems.md lists every code.
var (
	CodeNotOrchestrated = platform.Code{Kind: platform.KindConflict, Code: "not_orchestrated", Doc: "the pipeline has no workflow yet (Temporal unreachable or the pipeline just applied)"}
	CodeNotRunning      = platform.Code{Kind: platform.KindConflict, Code: "not_running", Doc: "the pipeline has no running workflow; start it"}
)

// Codes lists them.
func Codes() []platform.Code {
	return []platform.Code{CodeNotOrchestrated, CodeNotRunning}
}
