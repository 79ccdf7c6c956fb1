package models

import "github.com/codexion/codexion/platform"

// The problem codes the registry answers with; docs/problems.md lists every code. MLflow's
// API answers the same errors with MLflow's error_code (mlflowCode).
var (
	CodeExperimentNotFound  = platform.Code{Kind: platform.KindNotFound, Code: "experiment_not_found", Doc: "no experiment with this id or name"}
	CodeExperimentExists    = platform.Code{Kind: platform.KindConflict, Code: "experiment_exists", Doc: "an experiment with this name exists (deleted ones keep their name until purged)"}
	CodeRunNotFound         = platform.Code{Kind: platform.KindNotFound, Code: "run_not_found", Doc: "no run with this id"}
	CodeModelNotFound       = platform.Code{Kind: platform.KindNotFound, Code: "model_not_found", Doc: "no registered model with this name"}
	CodeModelExists         = platform.Code{Kind: platform.KindConflict, Code: "model_exists", Doc: "a registered model with this name exists"}
	CodeVersionNotFound     = platform.Code{Kind: platform.KindNotFound, Code: "model_version_not_found", Doc: "the registered model has no such version or alias"}
	CodeAliasNotFound       = platform.Code{Kind: platform.KindNotFound, Code: "model_alias_not_found", Doc: "the registered model has no such alias"}
	CodeLoggedModelNotFound = platform.Code{Kind: platform.KindNotFound, Code: "logged_model_not_found", Doc: "no logged model with this id"}
	CodeArtifactNotFound    = platform.Code{Kind: platform.KindNotFound, Code: "artifact_not_found", Doc: "no artifact at this path"}
	CodeArtifactTampered    = platform.Code{Kind: platform.KindConflict, Code: "artifact_tampered", Doc: "the artifact in storage no longer matches the digest recorded when it was stored; it is not served"}
	CodeArtifactFrozen      = platform.Code{Kind: platform.KindConflict, Code: "artifact_frozen", Doc: "the artifact belongs to a registered model version or a finalized logged model; its bytes cannot change"}
	CodeParamChanged        = platform.Code{Kind: platform.KindInvalid, Code: "param_changed", Doc: "a run's parameter was logged with another value; parameters never change"}
	CodeInactive            = platform.Code{Kind: platform.KindConflict, Code: "inactive", Doc: "the experiment or run is deleted; restore it first"}
	CodeBadFilter           = platform.Code{Kind: platform.KindInvalid, Code: "bad_filter", Doc: "the search filter or order_by does not parse; the message says where"}
	CodeNotScorable         = platform.Code{Kind: platform.KindInvalid, Code: "model_not_scorable", Doc: "the version's artifacts hold no model Codexion can score (its own trainers' models, XGBoost JSON); the message says what was found"}
)

// Codes lists them.
func Codes() []platform.Code {
	return []platform.Code{CodeExperimentNotFound, CodeExperimentExists, CodeRunNotFound, CodeModelNotFound, CodeModelExists,
		CodeVersionNotFound, CodeAliasNotFound, CodeLoggedModelNotFound, CodeArtifactNotFound, CodeArtifactTampered, CodeArtifactFrozen, CodeParamChanged, CodeInactive, CodeBadFilter, CodeNotScorable}
}
