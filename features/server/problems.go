package server

import "github.com/codexion/codexion/platform"

// The problem codes features/server answers with; docs/problems.md lists every code.
var (
	CodeJobFailed     = platform.Code{Kind: platform.KindConflict, Code: "job_failed", Doc: "the training-set job has failed; submit it again"}
	CodeJobNotDone    = platform.Code{Kind: platform.KindConflict, Code: "job_not_done", Doc: "the training-set job has not finished; its result is not ready"}
	CodeNoOfflineData = platform.Code{Kind: platform.KindConflict, Code: "no_offline_data", Doc: "a feature view the request reads has no rows in the offline store yet"}
)

// Codes lists them.
func Codes() []platform.Code {
	return []platform.Code{CodeJobFailed, CodeJobNotDone, CodeNoOfflineData}
}
