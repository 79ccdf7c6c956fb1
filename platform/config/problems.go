package config

import "github.com/codexion/codexion/platform"

// The problem codes platform/config answers with; docs/problems.md lists every code.
var (
	CodeConfigAltered            = platform.Code{Kind: platform.KindInvalid, Code: "config_altered", Doc: "the signed configuration file was changed after it was signed"}
	CodeConfigSignatureMalformed = platform.Code{Kind: platform.KindInvalid, Code: "config_signature_malformed", Doc: "the configuration's signature cannot be read"}
	CodeConfigUnsigned           = platform.Code{Kind: platform.KindInvalid, Code: "config_unsigned", Doc: "the configuration must be signed and is not"}
	CodeConfigWrongKey           = platform.Code{Kind: platform.KindInvalid, Code: "config_wrong_key", Doc: "the configuration was signed with a key this server does not trust"}
)

// Codes lists them.
func Codes() []platform.Code {
	return []platform.Code{CodeConfigAltered, CodeConfigSignatureMalformed, CodeConfigUnsigned, CodeConfigWrongKey}
}
