package auth

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestNewSecret(t *testing.T) {
	for _, prefix := range []string{TokenPrefix, ""} {
		seen := map[string]bool{}
		for range 200 {
			plain, hash, err := NewSecret(prefix)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(plain, prefix) || len(plain) != len(prefix)+43 {
				t.Fatalf("NewSecret(%q) = %q; want prefix and 43 characters", prefix, plain)
			}
			raw, err := base64.RawURLEncoding.DecodeString(plain[len(prefix):])
			if err != nil || len(raw) != 32 {
				t.Fatalf("secret %q is not 32 bytes of unpadded base64url: %v", plain, err)
			}
			if hash != HashSecret(plain) {
				t.Fatalf("hash %s != HashSecret(plain) %s", hash, HashSecret(plain))
			}
			if !wellFormedSecret(plain, prefix) {
				t.Fatalf("wellFormedSecret(%q, %q) = false for NewSecret's output", plain, prefix)
			}
			if seen[plain] {
				t.Fatalf("NewSecret repeated %q", plain)
			}
			seen[plain] = true
		}
	}
}

func TestNewSecretBadPrefix(t *testing.T) {
	for _, prefix := range []string{"v t_", "vt-", "vt$", "é_", strings.Repeat("a", 17)} {
		if plain, _, err := NewSecret(prefix); err == nil {
			t.Errorf("NewSecret(%q) = %q, nil; want an error", prefix, plain)
		}
	}
	if _, _, err := NewSecret(strings.Repeat("a", 16)); err != nil {
		t.Errorf("NewSecret(16-char prefix): %v", err)
	}
}

func TestHashSecret(t *testing.T) {
	// FIPS 180-2 appendix B.1: SHA-256("abc").
	const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := HashSecret("abc"); got != abc {
		t.Errorf("HashSecret(abc) = %s; want %s", got, abc)
	}
	if !SecretMatches("abc", abc) {
		t.Error("SecretMatches(abc, its hash) = false")
	}
	for _, h := range []string{"", abc[:63], strings.ToUpper(abc), HashSecret("abd")} {
		if SecretMatches("abc", h) {
			t.Errorf("SecretMatches(abc, %q) = true", h)
		}
	}
}

func TestWellFormedSecret(t *testing.T) {
	good := "vt_" + strings.Repeat("A", 43)
	tests := []struct {
		s, prefix string
		want      bool
	}{
		{good, TokenPrefix, true},
		{good[3:], "", true},
		{good, "", false},                                           // 46 characters
		{good[3:], TokenPrefix, false},                              // no prefix
		{"vs_" + good[3:], TokenPrefix, false},                      // other prefix
		{good[:45], TokenPrefix, false},                             // short
		{good + "A", TokenPrefix, false},                            // long
		{"vt_" + strings.Repeat("A", 42) + "B", TokenPrefix, false}, // non-zero padding bits
		{"vt_" + strings.Repeat("A", 42) + "=", TokenPrefix, false},
		{"vt_" + strings.Repeat("+", 43), TokenPrefix, false}, // standard, not URL alphabet
		{"", "", false},
	}
	for _, tt := range tests {
		if got := wellFormedSecret(tt.s, tt.prefix); got != tt.want {
			t.Errorf("wellFormedSecret(%q, %q) = %v; want %v", tt.s, tt.prefix, got, tt.want)
		}
	}
}
