package auth

import (
	"strings"
	"testing"
)

var bearerCases = []struct {
	header string
	want   string // "" when malformed
}{
	{"Bearer vt_abc", "vt_abc"},
	{"bearer vt_abc", "vt_abc"},
	{"BEARER   vt_abc", "vt_abc"},
	{"Bearer", ""},
	{"Bearer ", ""},
	{"Bearer  ", ""},
	{"Bearer vt_abc ", ""},
	{"Bearer vt_a bc", ""},
	{"Bearer\tvt_abc", ""},
	{"Bearer vt_a\tbc", ""},
	{"Basic dXNlcjpwYXNz", ""},
	{"Bearervt_abc", ""},
	{" Bearer vt_abc", ""},
	{"", ""},
}

func TestParseBearer(t *testing.T) {
	for _, tt := range bearerCases {
		got, ok := parseBearer([]string{tt.header})
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("parseBearer(%q) = %q, %v; want %q", tt.header, got, ok, tt.want)
		}
	}
	if _, ok := parseBearer(nil); ok {
		t.Error("parseBearer(no header) ok")
	}
	if _, ok := parseBearer([]string{"Bearer a", "Bearer a"}); ok {
		t.Error("parseBearer(two headers) ok")
	}
}

func FuzzParseBearer(f *testing.F) {
	for _, tt := range bearerCases {
		f.Add(tt.header)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, ok := parseBearer([]string{header})
		if !ok {
			if tok != "" {
				t.Fatalf("parseBearer(%q) = %q with ok false", header, tok)
			}
			return
		}
		if tok == "" || strings.ContainsAny(tok, " \t") || !strings.HasSuffix(header, tok) {
			t.Fatalf("parseBearer(%q) = %q: empty, spaced or not the header's tail", header, tok)
		}
		if again, ok := parseBearer([]string{"Bearer " + tok}); !ok || again != tok {
			t.Fatalf("token %q from %q does not parse back: %q, %v", tok, header, again, ok)
		}
	})
}
