package panel

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/varco-access/varco/admin/auth"
)

// TestValidationInItalian: a form error from the store reads in Italian
// on an Italian page and as the store wrote it on an English one.
func TestValidationInItalian(t *testing.T) {
	e := newEnv(t)
	c := e.as(auth.RoleHR)
	c.mustGet("/people/new")
	form := url.Values{"employee_no": {"E9"}, "name": {"Zoe"}, "surname": {""}, "email": {"not-an-address"}, "active": {"on"}}
	_, body, _ := c.post("/people", form)
	for _, want := range []string{"obbligatorio", "non è un indirizzo email"} {
		if !strings.Contains(body, want) {
			t.Errorf("Italian page: no %q in\n%s", want, clip(body))
		}
	}
	c.lang = "en"
	c.get("/lang/en?next=/people/new")
	_, body, _ = c.post("/people", form)
	if !strings.Contains(body, "required") || strings.Contains(body, "obbligatorio") {
		t.Errorf("English page: want the store's English\n%s", clip(body))
	}
	if got := LocalizeValidation(LangIT, "longer than 100 characters"); got != "più lungo di 100 caratteri" {
		t.Errorf("longer than: %q", got)
	}
	if got := LocalizeValidation(LangIT, "something new"); got != "something new" {
		t.Errorf("an unknown message: %q, want it as it is", got)
	}
}

// TestValidationTextsExist: every message translated is one the store or
// the CSV parser still writes, so the table does not rot.
func TestValidationTextsExist(t *testing.T) {
	var src strings.Builder
	for _, glob := range []string{"../*.go", "../httpapi/*.go"} {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			src.Write(b)
		}
	}
	for msg := range validationText {
		if !strings.Contains(src.String(), `"`+msg+`"`) {
			t.Errorf("%q: no longer written by admin or admin/httpapi", msg)
		}
	}
}
