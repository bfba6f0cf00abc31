package panel

// adminRoutes are administrators' pages: users, API tokens, the audit
// log and the settings.
func (p *Panel) adminRoutes() []route { return nil }
