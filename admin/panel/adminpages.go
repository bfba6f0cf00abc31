package panel

import "github.com/varco-access/varco/admin/auth"

// adminRoutes are administrators' pages: users, API tokens, the audit
// log and the settings; and every user's own account page.
func (p *Panel) adminRoutes() []route {
	return []route{
		{method: "GET", path: "/users", perm: auth.UsersManage, handler: p.userList},
		{method: "GET", path: "/users/new", perm: auth.UsersManage, handler: p.userNew},
		{method: "POST", path: "/users", perm: auth.UsersManage, handler: p.userCreate},
		{method: "GET", path: "/users/:user/edit", perm: auth.UsersManage, handler: p.userEdit},
		{method: "POST", path: "/users/:user", perm: auth.UsersManage, handler: p.userUpdate},
		{method: "POST", path: "/users/:user/password", perm: auth.UsersManage, handler: p.userPassword},
		{method: "POST", path: "/users/:user/delete", perm: auth.UsersManage, handler: p.userDelete},

		{method: "GET", path: "/account", handler: p.account},
		{method: "POST", path: "/account/password", handler: p.accountPassword},

		{method: "GET", path: "/tokens", perm: auth.TokensManage, handler: p.tokenList},
		{method: "POST", path: "/tokens", perm: auth.TokensManage, handler: p.tokenCreate},
		{method: "POST", path: "/tokens/:id/revoke", perm: auth.TokensManage, handler: p.tokenRevoke},

		{method: "GET", path: "/audit", perm: auth.AuditRead, handler: p.auditList},

		{method: "GET", path: "/settings", perm: auth.SettingsManage, handler: p.settings},
		{method: "POST", path: "/settings/site/:site", perm: auth.SettingsManage, handler: p.siteUpdate},
	}
}
