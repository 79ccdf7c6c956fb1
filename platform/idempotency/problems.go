package idempotency

import "github.com/codexion/codexion/platform"

// The problem codes platform/idempotency answers with; docs/problems.md lists every code.
var (
	CodeIdempotencyKeyInFlight = platform.Code{Kind: platform.KindConflict, Code: "idempotency_key_in_flight", Doc: "a request with this Idempotency-Key is still being processed; retry after it"}
	CodeIdempotencyKeyReused   = platform.Code{Kind: platform.KindConflict, Code: "idempotency_key_reused", Doc: "this Idempotency-Key was used for a different request"}
)

// Codes lists them.
func Codes() []platform.Code {
	return []platform.Code{CodeIdempotencyKeyInFlight, CodeIdempotencyKeyReused}
}
