package wire

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/varco-access/varco/wire/atomicfile"
)

// pemType is the PEM block type of the site's private key file: PKCS#8,
// as openssl genpkey -algorithm ed25519 writes it.
const pemType = "PRIVATE KEY"

// maxKeyFile bounds what LoadPrivateKey reads: an Ed25519 PKCS#8 PEM is
// 119 bytes.
const maxKeyFile = 64 << 10

// GenerateSiteKey returns a new random site key. Its public half goes in
// every door's configuration (EncodePublicKey); the private half stays
// with the admin (WritePrivateKey).
func GenerateSiteKey() (ed25519.PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("wire: generate site key: %w", err)
	}
	return key, nil
}

// WritePrivateKey writes key to path as a PEM "PRIVATE KEY" (PKCS#8) with
// mode 0600, atomically: a temporary file in the same directory, written,
// synced and renamed over path, then the directory synced. A crash leaves
// either the old file or the new one, never a partial key. It replaces an
// existing file: replacing a site key cuts off every door that pins the
// old one, so callers that must not do that check first.
func WritePrivateKey(path string, key ed25519.PrivateKey) (err error) {
	if len(key) != ed25519.PrivateKeySize {
		return fmt.Errorf("wire: write private key %s: key is %d bytes, want %d", path, len(key), ed25519.PrivateKeySize)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("wire: write private key %s: %w", path, err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der})
	if err := atomicfile.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("wire: private key: %w", err)
	}
	return nil
}

// LoadPrivateKey reads a site key written by WritePrivateKey (or by
// openssl genpkey -algorithm ed25519). It refuses a file that group or
// others may read or write, naming its mode: the key signs every grant of
// the site.
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	key, err := loadPrivateKey(path)
	if err != nil {
		return nil, fmt.Errorf("wire: load private key %s: %w", path, err)
	}
	return key, nil
}

func loadPrivateKey(path string) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%v)", st.Mode())
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("mode %#o gives group or others access: chmod 600 it", perm)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("larger than %d bytes: not a key file", maxKeyFile)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if block.Type != pemType {
		return nil, fmt.Errorf("PEM block %q, want %q (PKCS#8)", block.Type, pemType)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, want an Ed25519 key", k)
	}
	return key, nil
}

// EncodePublicKey returns pub as the standard base64 of its 32 raw bytes:
// the site_public_key of varco-door's configuration.
func EncodePublicKey(pub ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub)
}

// ParsePublicKey parses a site_public_key: standard base64 of 32 raw
// bytes.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("wire: site public key: not standard base64: %w", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("wire: site public key: %d bytes, want a %d-byte Ed25519 public key", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}
