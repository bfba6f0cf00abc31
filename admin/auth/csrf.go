package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Where CSRFProtect looks for the token: the header for fetch calls, the
// form field for plain HTML forms.
const (
	CSRFHeader    = "X-CSRF-Token"
	CSRFFormField = "csrf_token"
)

// CSRFKeySize is the size of the site secret a CSRF is made with.
const CSRFKeySize = 32

// CSRF makes and checks stateless per-session CSRF tokens: a token is the
// HMAC-SHA256 of the session id under a site secret, so it needs no
// storage, changes whenever the session does (at login) and cannot be
// computed by a page that does not hold the secret. The token does not
// reveal the session id.
type CSRF struct {
	key []byte
}

// NewCSRF returns a CSRF keyed with key, which must be CSRFKeySize random
// bytes kept by the server (e.g. generated once and stored with its
// settings). The key is copied.
func NewCSRF(key []byte) (*CSRF, error) {
	if len(key) != CSRFKeySize {
		return nil, fmt.Errorf("auth: CSRF key of %d bytes, want %d", len(key), CSRFKeySize)
	}
	return &CSRF{key: append([]byte(nil), key...)}, nil
}

// Token returns the CSRF token for the session whose plain id is
// sessionID (Principal.SessionID), to embed in pages and forms.
func (c *CSRF) Token(sessionID string) string {
	return base64.RawURLEncoding.EncodeToString(c.mac(sessionID))
}

// Valid reports whether token is the CSRF token of sessionID. It compares
// in constant time. There is no valid token for the empty session id.
func (c *CSRF) Valid(sessionID, token string) bool {
	if sessionID == "" {
		return false
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil {
		return false
	}
	return hmac.Equal(got, c.mac(sessionID))
}

func (c *CSRF) mac(sessionID string) []byte {
	m := hmac.New(sha256.New, c.key)
	// The label keeps these MACs apart from any other use of the key.
	m.Write([]byte("csrf\x00"))
	m.Write([]byte(sessionID))
	return m.Sum(nil)
}

// SameOrigin reports whether r was sent by a page of the same site, for
// unsafe requests that have no session yet and so no CSRF token: the
// login form (login CSRF would sign the victim into the attacker's
// account). It trusts, in order:
//
//   - Sec-Fetch-Site, set by the browser and not by scripts: same-origin
//     (or none, a request the user made directly) passes, same-site and
//     cross-site fail;
//   - Origin: its host must equal r.Host; "null" fails;
//   - Referer: its host must equal r.Host.
//
// A request with none of them fails: every current browser sends Origin
// on a POST, and scripts should use API tokens instead. Hosts are compared
// without the scheme, so that the check holds behind a TLS-terminating
// proxy that keeps the Host header; such a proxy must keep it.
func SameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" {
		return s == "same-origin" || s == "none"
	}
	if o := r.Header.Get("Origin"); o != "" {
		return sameHost(o, r.Host)
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		return sameHost(ref, r.Host)
	}
	return false
}

func sameHost(rawURL, host string) bool {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || host == "" {
		return false
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return false
	}
	return strings.EqualFold(u.Host, host)
}
