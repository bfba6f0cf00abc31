package wire

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrivateKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "site.key")
	key, err := GenerateSiteKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := WritePrivateKey(path, key); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode())
	}
	b, _ := os.ReadFile(path)
	if !bytes.HasPrefix(b, []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Errorf("file starts %q", b[:min(len(b), 40)])
	}
	got, err := LoadPrivateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(key) {
		t.Error("loaded another key")
	}

	// Replacing it is atomic and leaves nothing behind.
	key2, _ := GenerateSiteKey()
	if err := WritePrivateKey(path, key2); err != nil {
		t.Fatal(err)
	}
	if got, _ := LoadPrivateKey(path); !got.Equal(key2) {
		t.Error("not replaced")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only site.key", names)
	}
}

func TestWritePrivateKeyErrors(t *testing.T) {
	dir := t.TempDir()
	if err := WritePrivateKey(filepath.Join(dir, "k"), ed25519.PrivateKey(make([]byte, 10))); err == nil {
		t.Error("wrote a 10-byte key")
	}
	key, _ := GenerateSiteKey()
	if err := WritePrivateKey(filepath.Join(dir, "missing", "k"), key); err == nil {
		t.Error("wrote into a missing directory")
	}
	// Rename onto a directory fails after the temp file exists: it must
	// be removed.
	target := filepath.Join(dir, "isdir")
	if err := os.MkdirAll(filepath.Join(target, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WritePrivateKey(target, key); err == nil {
		t.Error("replaced a directory")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("left %s behind", e.Name())
		}
	}
}

func TestLoadPrivateKeyRefuses(t *testing.T) {
	dir := t.TempDir()
	key, _ := GenerateSiteKey()
	good := filepath.Join(dir, "good.key")
	if err := WritePrivateKey(good, key); err != nil {
		t.Fatal(err)
	}
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	edDER, _ := x509.MarshalPKCS8PrivateKey(key)

	write := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return p
	}
	goodBytes, _ := os.ReadFile(good)
	for _, tc := range []struct {
		name, path, sub string
	}{
		{"group readable", write("g.key", goodBytes, 0o640), "mode 0640"},
		{"world readable", write("w.key", goodBytes, 0o644), "mode 0644"},
		{"group writable", write("gw.key", goodBytes, 0o620), "mode 0620"},
		{"missing", filepath.Join(dir, "nope.key"), "no such file"},
		{"directory", dir, ""},
		{"not pem", write("raw.key", []byte("hello"), 0o600), "no PEM block"},
		{"wrong type", write("type.key", pemOf("ED25519 PRIVATE KEY", edDER), 0o600), `"ED25519 PRIVATE KEY"`},
		{"ecdsa", write("ec.key", pemOf("PRIVATE KEY", ecDER), 0o600), "want an Ed25519 key"},
		{"garbage der", write("der.key", pemOf("PRIVATE KEY", []byte{1, 2, 3}), 0o600), ""},
		{"huge", write("huge.key", bytes.Repeat([]byte("A"), maxKeyFile+1), 0o600), "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadPrivateKey(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.sub) || !strings.Contains(err.Error(), tc.path) {
				t.Errorf("LoadPrivateKey = %v, want an error naming the path and %q", err, tc.sub)
			}
		})
	}
}

func TestPublicKey(t *testing.T) {
	pub := testSigner().PublicKey()
	s := EncodePublicKey(pub)
	got, err := ParsePublicKey(s)
	if err != nil || !got.Equal(pub) {
		t.Fatalf("round trip: %v", err)
	}
	// The site_public_key of firmware-config/virtual-demo.toml.
	if _, err := ParsePublicKey("1jDY1rIclNybMgSb7JM4o11SrtRAZwqRFQOItzpk+C8="); err != nil {
		t.Errorf("demo key: %v", err)
	}
	for _, tc := range []struct{ in, sub string }{
		{"", "0 bytes"},
		{"AAAA", "3 bytes"},
		{"not base64!", "not standard base64"},
		{strings.TrimRight(s, "="), "not standard base64"},
		{EncodePublicKey(append(pub, 0)), "33 bytes"},
		{"1jDY1rIclNybMgSb7JM4o11SrtRAZwqRFQOItzpk-C8=", "not standard base64"}, // URL alphabet
	} {
		if _, err := ParsePublicKey(tc.in); err == nil || !strings.Contains(err.Error(), tc.sub) {
			t.Errorf("ParsePublicKey(%q) = %v, want %q", tc.in, err, tc.sub)
		}
	}
}

// TestKeyFileSignsForDoor: the whole path: key generated and stored by
// the admin, public key in the door's config, a message verified.
func TestKeyFileSignsForDoor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "site.key")
	key, _ := GenerateSiteKey()
	if err := WritePrivateKey(path, key); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadPrivateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	signer := NewSigner(loaded)
	pub, err := ParsePublicKey(EncodePublicKey(signer.PublicKey()))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := signer.Seal(KindHead, "site", "door", sampleHead())
	if err != nil {
		t.Fatal(err)
	}
	if err := NewVerifier(pub, "site", "door").Open(KindHead, msg, new(Head)); err != nil {
		t.Fatal(err)
	}
}
