// Package access names who may do what in Codexion: the roles a verified token carries and
// each route allows. The names are the product's users (finance, data and ML engineers,
// compliance), so they live with the authorization policy here and not in platform/auth,
// which checks roles without knowing any. It imports nothing, so every domain may read it.
package access

// The roles Codexion knows. Routes name the ones they allow.
const (
	RoleAdmin             = "admin"
	RoleFinance           = "finance"
	RoleFinanceController = "finance-controller"
	RoleDataEngineer      = "data-engineer"
	RoleMLEngineer        = "ml-engineer"
	RoleMLApprover        = "ml-approver"
	RoleCompliance        = "compliance"
)

// AllRoles lists every role, in a stable order.
var AllRoles = []string{
	RoleAdmin, RoleFinance, RoleFinanceController, RoleDataEngineer,
	RoleMLEngineer, RoleMLApprover, RoleCompliance,
}
