package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// TokenPrefix starts every API token, so that a leaked token is easy to
// recognise (by people and by secret scanners) and cannot be mistaken for
// a session id. Session ids have no prefix.
const TokenPrefix = "vt_"

const (
	secretBytes = 32                      // 256 bits from crypto/rand
	secretChars = (secretBytes*8 + 5) / 6 // 43 unpadded base64url characters
	maxPrefix   = 16                      // bound on NewSecret's prefix
)

// NewSecret returns a new random secret: prefix followed by 32 random
// bytes in unpadded base64url, and its HashSecret. Store only the hash;
// give plain to the user (as a token) or the browser (as a session
// cookie) once. Use TokenPrefix for API tokens and "" for session ids.
// The prefix may hold only ASCII letters, digits and '_', at most 16.
func NewSecret(prefix string) (plain, hash string, err error) {
	if len(prefix) > maxPrefix {
		return "", "", fmt.Errorf("auth: secret prefix %q longer than %d", clip(prefix), maxPrefix)
	}
	for i := 0; i < len(prefix); i++ {
		if !isPrefixChar(prefix[i]) {
			return "", "", fmt.Errorf("auth: secret prefix %q: only letters, digits and '_'", prefix)
		}
	}
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("auth: read random secret: %w", err)
	}
	plain = prefix + base64.RawURLEncoding.EncodeToString(b)
	return plain, HashSecret(plain), nil
}

// HashSecret returns the hex SHA-256 of a secret made by NewSecret, the
// form sessions and tokens are stored and looked up by.
//
// A fast hash is right here, unlike for passwords: the secret has 256
// random bits, so no amount of hashing speed makes guessing feasible,
// while a slow hash would cost every API request an argon2 run. Storing
// the hash means a leaked database holds no usable credentials, and since
// lookups are by hash, a timing side channel in the lookup can reveal at
// most bits of a hash, never of the secret.
func HashSecret(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(sum[:])
}

// SecretMatches reports, in constant time, whether plain hashes to hash.
// For stores that compare in memory rather than look up by hash.
func SecretMatches(plain, hash string) bool {
	return subtle.ConstantTimeCompare([]byte(HashSecret(plain)), []byte(hash)) == 1
}

// wellFormedSecret reports whether s has the shape NewSecret(prefix)
// gives, so that junk is refused without a store lookup.
func wellFormedSecret(s, prefix string) bool {
	if len(s) != len(prefix)+secretChars || s[:len(prefix)] != prefix {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s[len(prefix):])
	return err == nil
}

func isPrefixChar(c byte) bool {
	return c == '_' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}
