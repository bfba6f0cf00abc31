package reader

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Bounds on CSCA files: a certificate is a few KB; a bundle of every
// country's CSCAs is well under a megabyte.
const (
	cscaMaxFile  = 1 << 20
	cscaMaxCerts = 1024
)

// LoadCSCAs reads the trust anchors for passive authentication from the
// files directly in dir: each holds one or more certificates, DER
// (concatenated) or PEM. Files ending in .md or .txt (notes, READMEs) and
// hidden files are skipped, as are subdirectories; any other file that does
// not hold certificates is an error naming it, so that a misplaced file
// cannot go unnoticed. An empty set is an error too.
//
// The certificates are not checked in any way (the 2016 Italian CSCAs are
// self-signed with SHA-1): whoever fills dir decides what is trusted.
func LoadCSCAs(dir string) ([]*x509.Certificate, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reader: CSCA directory: %w", err)
	}
	var out []*x509.Certificate
	for _, e := range entries {
		name := e.Name()
		ext := strings.ToLower(filepath.Ext(name))
		if strings.HasPrefix(name, ".") || ext == ".md" || ext == ".txt" {
			continue
		}
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path) // follows symlinks, unlike e.Type()
		if err != nil {
			return nil, fmt.Errorf("reader: CSCA file %s: %w", path, err)
		}
		if fi.IsDir() {
			continue
		}
		if fi.Size() > cscaMaxFile {
			return nil, fmt.Errorf("reader: CSCA file %s: %d bytes, more than %d: %w", path, fi.Size(), cscaMaxFile, ErrCSCAFile)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reader: CSCA file %s: %w", path, err)
		}
		certs, err := ParseCSCAs(data)
		if err != nil {
			return nil, fmt.Errorf("reader: CSCA file %s: %w", path, err)
		}
		if len(out)+len(certs) > cscaMaxCerts {
			return nil, fmt.Errorf("reader: CSCA directory %s: more than %d certificates: %w", dir, cscaMaxCerts, ErrCSCAFile)
		}
		out = append(out, certs...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("reader: CSCA directory %s: no certificate files: %w", dir, ErrCSCAFile)
	}
	return out, nil
}

// ParseCSCAs parses one or more certificates: PEM CERTIFICATE blocks (text
// between blocks is ignored; any other block type is an error) or DER
// certificates one after the other with nothing else. Errors wrap
// ErrCSCAFile.
func ParseCSCAs(data []byte) ([]*x509.Certificate, error) {
	if len(data) > cscaMaxFile {
		return nil, fmt.Errorf("reader: CSCA: %d bytes, more than %d: %w", len(data), cscaMaxFile, ErrCSCAFile)
	}
	var out []*x509.Certificate
	add := func(der []byte) error {
		if len(out) == cscaMaxCerts {
			return fmt.Errorf("reader: CSCA: more than %d certificates: %w", cscaMaxCerts, ErrCSCAFile)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("reader: CSCA certificate %d: %v: %w", len(out)+1, err, ErrCSCAFile)
		}
		out = append(out, c)
		return nil
	}

	if bytes.Contains(data, []byte("-----BEGIN ")) {
		rest := data
		for {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			if block.Type != "CERTIFICATE" {
				return nil, fmt.Errorf("reader: CSCA: PEM block %q, want CERTIFICATE: %w", block.Type, ErrCSCAFile)
			}
			if err := add(block.Bytes); err != nil {
				return nil, err
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("reader: CSCA: no valid PEM block: %w", ErrCSCAFile)
		}
		return out, nil
	}

	in := cryptobyte.String(data)
	for !in.Empty() {
		off := len(data) - len(in)
		var der cryptobyte.String
		if !in.ReadASN1Element(&der, cbasn1.SEQUENCE) {
			return nil, fmt.Errorf("reader: CSCA: neither PEM nor DER certificates (at byte %d): %w", off, ErrCSCAFile)
		}
		if err := add(der); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("reader: CSCA: empty: %w", ErrCSCAFile)
	}
	return out, nil
}
