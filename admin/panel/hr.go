package panel

// hrRoutes are HR's pages: people, cards, CSV import, enrolment.
func (p *Panel) hrRoutes() []route { return nil }
