package panel

import (
	"fmt"
	"net/http"
	"strings"
)

// Languages the panel speaks; the first is the default.
const (
	LangIT = "it"
	LangEN = "en"
)

// LangCookie holds the visitor's choice of language.
const LangCookie = "varco_lang"

// catalog maps a message key to its Italian and English texts. Each
// area's msgs_*.go adds its keys with addMessages.
var catalog = map[string][2]string{}

// addMessages adds messages to the catalog; a key added twice is a bug.
func addMessages(m map[string][2]string) {
	for k, v := range m {
		if _, dup := catalog[k]; dup {
			panic("panel: message " + k + " defined twice")
		}
		catalog[k] = v
	}
}

// translate returns the text of key in lang, formatted with args
// (fmt verbs) when there are any. An unknown key comes back as itself
// between question marks, visible on the page and caught by TestCatalog.
func translate(lang, key string, args ...any) string {
	m, ok := catalog[key]
	if !ok {
		return "?" + key + "?"
	}
	s := m[0]
	if lang == LangEN {
		s = m[1]
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// langOf picks the language of r: the cookie, else the first of
// Accept-Language the panel speaks, else Italian.
func langOf(r *http.Request) string {
	if c, err := r.Cookie(LangCookie); err == nil && (c.Value == LangIT || c.Value == LangEN) {
		return c.Value
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case tag == "it" || strings.HasPrefix(tag, "it-"):
			return LangIT
		case tag == "en" || strings.HasPrefix(tag, "en-"):
			return LangEN
		}
	}
	return LangIT
}
