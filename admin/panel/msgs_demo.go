package panel

func init() {
	addMessages(map[string][2]string{
		"demo.title":     {"Prova con le tessere virtuali", "Try it with virtual cards"},
		"demo.intro":     {"Questa installazione è una dimostrazione: le tessere sono CIE virtuali e i varchi hanno relè simulati. Avvicina una tessera a un varco: la lettura passa da pcscd come con un lettore vero, e il varco decide.", "This install is a demonstration: the cards are virtual CIEs and the doors have simulated relays. Tap a card at a door: it is read through pcscd as on a real reader, and the door decides."},
		"demo.watch":     {"Gli accessi compaiono in tempo reale nel registro accessi e nella pagina dei varchi.", "Entries appear live in the entry log and on the doors page."},
		"demo.card":      {"Tessera", "Card"},
		"demo.tapat":     {"Avvicina a %s", "Tap at %s"},
		"demo.tap.label": {"Avvicina la tessera %s al varco %s", "Tap card %s at door %s"},
		"demo.result":    {"Tessera %s al varco %s: %s", "Card %s at door %s: %s"},
		"demo.desk":      {"letta alla postazione di registrazione: l'esito è nella pagina Registra tessera", "read at the enrolment desk: the verdict is on the Enrol card page"},
		"demo.presented": {"tessera presentata (esito nel registro accessi)", "card presented (the outcome is in the entry log)"},
		"demo.empty":     {"La dimostrazione non ha ancora tessere o varchi: è in avvio?", "The demo has no cards or doors yet: is it still starting?"},
		"demo.unknown":   {"Tessera o varco sconosciuti in questa dimostrazione.", "Unknown card or door in this demo."},
		"demo.failed":    {"La tessera non è stata presentata: %s", "The card was not presented: %s"},
		"demo.cli":       {"Dal terminale:", "From a terminal:"},
		"done.demo.tap":  {"Tessera avvicinata.", "Card tapped."},
	})
}
