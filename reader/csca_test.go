package reader_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/varco-access/varco/reader"
)

// FuzzParseCSCAs feeds arbitrary bytes to the CSCA file parser (DER or PEM
// from an installer's directory): no panic, and every certificate it
// returns is parsed.
func FuzzParseCSCAs(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "cie-real", "csca", "*.der"))
	for _, p := range append(files, filepath.Join("..", "testdata", "pki", "csca.pem")) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		certs, err := reader.ParseCSCAs(b)
		if err != nil {
			return
		}
		for _, c := range certs {
			if c == nil || len(c.Raw) == 0 {
				t.Fatal("nil or empty certificate accepted")
			}
		}
	})
}
