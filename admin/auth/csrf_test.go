package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http/httptest"
	"testing"
)

func mustCSRF(t *testing.T, fill byte) *CSRF {
	t.Helper()
	c, err := NewCSRF(bytes.Repeat([]byte{fill}, CSRFKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewCSRFKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := NewCSRF(make([]byte, n)); err == nil {
			t.Errorf("NewCSRF(%d bytes) = nil error", n)
		}
	}
	key := bytes.Repeat([]byte{1}, 32)
	c, err := NewCSRF(key)
	if err != nil {
		t.Fatal(err)
	}
	before := c.Token("s")
	key[0] = 2 // the caller's slice is not kept
	if c.Token("s") != before {
		t.Error("changing the caller's key slice changed the tokens")
	}
}

func TestCSRFToken(t *testing.T) {
	c := mustCSRF(t, 7)
	// The construction from the design: base64url(HMAC-SHA256(key, "csrf\x00"+id)).
	m := hmac.New(sha256.New, bytes.Repeat([]byte{7}, 32))
	m.Write([]byte("csrf\x00session-a"))
	if want, got := base64.RawURLEncoding.EncodeToString(m.Sum(nil)), c.Token("session-a"); got != want {
		t.Errorf("Token = %s; want %s", got, want)
	}
	if c.Token("session-a") != c.Token("session-a") {
		t.Error("Token is not deterministic")
	}
	if c.Token("session-a") == c.Token("session-b") {
		t.Error("two sessions share a token")
	}
	if c.Token("session-a") == mustCSRF(t, 8).Token("session-a") {
		t.Error("two keys give the same token")
	}
}

func TestCSRFValid(t *testing.T) {
	c := mustCSRF(t, 7)
	tok := c.Token("session-a")
	flipped := []byte(tok)
	flipped[0] ^= 1
	tests := []struct {
		name, session, token string
		want                 bool
	}{
		{"own token", "session-a", tok, true},
		{"other session's token", "session-b", tok, false},
		{"other key's token", "session-a", mustCSRF(t, 8).Token("session-a"), false},
		{"empty token", "session-a", "", false},
		{"flipped bit", "session-a", string(flipped), false},
		{"truncated", "session-a", tok[:len(tok)-1], false},
		{"padded", "session-a", tok + "=", false},
		{"the session id itself", "session-a", "session-a", false},
		{"no session", "", c.Token(""), false},
	}
	for _, tt := range tests {
		if got := c.Valid(tt.session, tt.token); got != tt.want {
			t.Errorf("%s: Valid = %v; want %v", tt.name, got, tt.want)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	tests := []struct {
		name    string
		host    string
		headers map[string]string
		want    bool
	}{
		{"no headers", "admin.example", nil, false},
		{"fetch same-origin", "admin.example", map[string]string{"Sec-Fetch-Site": "same-origin"}, true},
		{"fetch none", "admin.example", map[string]string{"Sec-Fetch-Site": "none"}, true},
		{"fetch same-site", "admin.example", map[string]string{"Sec-Fetch-Site": "same-site"}, false},
		{"fetch cross-site beats Origin", "admin.example", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://admin.example"}, false},
		{"origin same", "admin.example", map[string]string{"Origin": "https://admin.example"}, true},
		{"origin same, case", "Admin.Example", map[string]string{"Origin": "https://admin.example"}, true},
		{"origin same with port", "admin.example:8443", map[string]string{"Origin": "https://admin.example:8443"}, true},
		{"origin other port", "admin.example:8443", map[string]string{"Origin": "https://admin.example:9443"}, false},
		{"origin other host", "admin.example", map[string]string{"Origin": "https://evil.example"}, false},
		{"origin suffix trick", "admin.example", map[string]string{"Origin": "https://admin.example.evil"}, false},
		{"origin null", "admin.example", map[string]string{"Origin": "null"}, false},
		{"origin wins over referer", "admin.example", map[string]string{"Origin": "https://evil.example", "Referer": "https://admin.example/login"}, false},
		{"referer same", "admin.example", map[string]string{"Referer": "https://admin.example/login?next=/"}, true},
		{"referer other", "admin.example", map[string]string{"Referer": "https://evil.example/admin.example"}, false},
		{"referer userinfo trick", "admin.example", map[string]string{"Referer": "https://admin.example@evil.example/"}, false},
		{"referer not http", "admin.example", map[string]string{"Referer": "ftp://admin.example/"}, false},
		{"referer relative", "admin.example", map[string]string{"Referer": "/login"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/login", nil)
			r.Host = tt.host
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			if got := SameOrigin(r); got != tt.want {
				t.Errorf("SameOrigin = %v; want %v", got, tt.want)
			}
		})
	}
}
