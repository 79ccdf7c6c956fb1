package httpx

import (
	"net/http"

	"github.com/codexion/codexion/platform"
)

// The problem codes platform/httpx answers with; docs/problems.md lists every code.
var (
	CodeBodyTooLarge         = platform.Code{Kind: platform.KindTooLarge, Code: "body_too_large", Doc: "the request body is larger than the route accepts"}
	CodeMethodNotAllowed     = platform.Code{Kind: platform.KindInvalid, Code: "method_not_allowed", Doc: "the route exists but not for this method; Allow lists the methods", Status: http.StatusMethodNotAllowed}
	CodePortInUse            = platform.Code{Kind: platform.KindUnavailable, Code: "port_in_use", Doc: "the address to listen on is taken by another process"}
	CodeRouteNotFound        = platform.Code{Kind: platform.KindNotFound, Code: "route_not_found", Doc: "no route has this path"}
	CodeUnsupportedMediaType = platform.Code{Kind: platform.KindInvalid, Code: "unsupported_media_type", Doc: "the request's Content-Type is not one the route reads"}
)

// Codes lists them.
func Codes() []platform.Code {
	return []platform.Code{CodeBodyTooLarge, CodeMethodNotAllowed, CodePortInUse, CodeRouteNotFound, CodeUnsupportedMediaType}
}
