package panel

// facilitiesRoutes are facilities' pages: doors, the entry log,
// schedules, holidays, groups and statistics.
func (p *Panel) facilitiesRoutes() []route { return nil }
