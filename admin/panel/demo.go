package panel

// demoRoutes is the demo page (Options.Demo set).
func (p *Panel) demoRoutes() []route { return nil }
