package sitepki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/varco-access/varco/wire/atomicfile"
)

// The files of a CA directory (Save, LoadCA).
const (
	CertFile = "ca.crt" // the CA certificate, PEM, mode 0644
	KeyFile  = "ca.key" // its PKCS#8 private key, PEM, mode 0600
)

// maxFile bounds what LoadCA reads from each file.
const maxFile = 64 << 10

// Save writes the CA to dir (created 0700 if missing) as CertFile (0644)
// and KeyFile (0600). Each file is written atomically: a temporary file
// in dir, written, synced and renamed over the old one, then dir synced,
// so a crash leaves the old file or the new one, never a partial key. The
// key is written first: a directory with a new certificate always has its
// key. Save replaces an existing CA, which cuts off every client whose
// certificate it signed; callers that must not do that check first.
func (ca *CA) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("sitepki: save CA: %w", err)
	}
	key, err := encodeKey(ca.key)
	if err != nil {
		return fmt.Errorf("sitepki: save CA: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, KeyFile), key, 0o600); err != nil {
		return fmt.Errorf("sitepki: save CA: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, CertFile), ca.certPEM, 0o644); err != nil {
		return fmt.Errorf("sitepki: save CA: %w", err)
	}
	return nil
}

// LoadCA reads a CA written by Save. It refuses a KeyFile that group or
// others may read or write (naming its mode), a certificate that is not a
// CA, and a key that is not the certificate's. Errors name the file.
func LoadCA(dir string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	certData, err := readFile(certPath, false)
	if err != nil {
		return nil, fmt.Errorf("sitepki: load CA %s: %w", certPath, err)
	}
	keyData, err := readFile(keyPath, true)
	if err != nil {
		return nil, fmt.Errorf("sitepki: load CA %s: %w", keyPath, err)
	}
	block, rest := pem.Decode(certData)
	if block == nil || block.Type != pemCert || len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("sitepki: load CA %s: %w: want exactly one %s block", certPath, ErrBadPEM, pemCert)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("sitepki: load CA %s: %w: %w", certPath, ErrBadPEM, err)
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("sitepki: load CA %s: %w", certPath, ErrNotCA)
	}
	key, err := decodeKey(keyData)
	if err != nil {
		return nil, fmt.Errorf("sitepki: load CA %s: %w", keyPath, err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("sitepki: load CA %s: %w: the key is not the key of %s", keyPath, ErrBadPEM, certPath)
	}
	return &CA{cert: cert, certPEM: certData, key: key}, nil
}

// decodeKey parses one PEM PKCS#8 ECDSA private key.
func decodeKey(data []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != pemKey {
		return nil, fmt.Errorf("%w: want a %s (PKCS#8) block", ErrBadPEM, pemKey)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPEM, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: a %T, want an ECDSA key", ErrBadPEM, k)
	}
	return key, nil
}

// readFile reads a small regular file; secret files must not be open to
// group or others.
func readFile(path string, secret bool) ([]byte, error) {
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
	if perm := st.Mode().Perm(); secret && perm&0o077 != 0 {
		return nil, fmt.Errorf("mode %#o gives group or others access: chmod 600 it", perm)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFile {
		return nil, fmt.Errorf("larger than %d bytes", maxFile)
	}
	return data, nil
}
