package panel

import (
	"regexp"
	"strconv"
)

// The store and the CSV parser explain bad input in English (the API's
// language, admin.ValidationError). validationText holds the Italian of
// each such message; LocalizeValidation picks it for an Italian page, and
// a message not listed is shown as it is.
var validationText = map[string]string{
	"required":                       "obbligatorio",
	"not valid UTF-8":                "testo non valido (UTF-8)",
	"contains control characters":    "contiene caratteri di controllo",
	"has leading or trailing spaces": "ha spazi all'inizio o alla fine",
	"too long":                       "troppo lungo",
	"must be 12 digits":              "deve essere di 12 cifre",
	"must not contain spaces":        "non deve contenere spazi",
	"not an email address such as mario.rossi@example.it":             "non è un indirizzo email come mario.rossi@example.it",
	"not a known IANA time zone such as Europe/Rome":                  "non è un fuso orario noto, come Europe/Rome",
	"must be a date as YYYY-MM-DD":                                    "deve essere una data nel formato AAAA-MM-GG",
	"only letters, digits, '-', '_' and '.', at most 64":              "solo lettere, cifre, '-', '_' e '.', al massimo 64",
	"a window must lie within 00:00-24:00 and end after it starts":    "una fascia deve stare tra 00:00 e 24:00 e finire dopo l'inizio",
	"windows must be sorted and must not overlap":                     "le fasce devono essere in ordine e non sovrapporsi",
	"must be active, suspended or revoked":                            "deve essere attiva, sospesa o revocata",
	"must be admin, hr, facilities or viewer":                         "deve essere admin, hr, facilities o viewer",
	"must be normal, lockdown, unlocked_schedule or unlocked_command": "deve essere normale, blocco, aperto da orario o aperto da comando",
	"must be a schedule id or null for always":                        "deve essere un orario, o vuoto per sempre",
	"not a DER RSA public key of 2048 to 4096 bits":                   "non è una chiave pubblica RSA DER da 2048 a 4096 bit",
	"must be after created_at":                                        "deve essere dopo la creazione",
	"column appears twice":                                            "colonna ripetuta",
	"required column missing":                                         "manca questa colonna obbligatoria",
	"no people in the file, only a header":                            "il file ha solo l'intestazione, nessuna persona",
	"the file is not UTF-8 text (save it as CSV UTF-8)":               "il file non è testo UTF-8 (salvalo come CSV UTF-8)",
}

var longerThan = regexp.MustCompile(`^longer than (\d+) characters$`)

// LocalizeValidation returns msg, a validation message of the store, in
// lang.
func LocalizeValidation(lang, msg string) string {
	if lang == LangEN {
		return msg
	}
	if it, ok := validationText[msg]; ok {
		return it
	}
	if m := longerThan.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return "più lungo di " + strconv.Itoa(n) + " caratteri"
	}
	return msg
}

// V is LocalizeValidation in the page's language, for templates.
func (pg *Page) V(msg string) string { return LocalizeValidation(pg.Lang, msg) }
