package reader_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/testpki"
)

// FuzzParseSOD feeds ParseSOD and Verify arbitrary bytes, seeded with the
// real 2022 SOD and SODs of both generations built with the test PKI. They
// must never panic, every error must wrap one of the package's sentinels,
// and a parsed SOD's Raw must be a prefix of the input.
func FuzzParseSOD(f *testing.F) {
	orig := sodReal(f)
	realCSCAs, _ := sodRealCSCAs(f)
	p := sodPKI(f)
	cscas := append(append([]*x509.Certificate(nil), realCSCAs...), p.TrustedCSCAs()...)
	nis := []byte("123456789012")
	files := map[byte][]byte{reader.DGNIS: nis, reader.DGKey: {0x30, 0x00}}

	f.Add(orig)
	f.Add(orig[:0xE4])
	f.Add(append(bytes.Clone(orig), 0, 0))
	for _, s := range []struct {
		ds  *testpki.Signer
		gen reader.Generation
	}{{p.DS2016, reader.Gen2016}, {p.DS2022, reader.Gen2022}, {p.DSRogue, reader.Gen2022}} {
		b, err := testpki.BuildSOD(s.ds, s.gen, files)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0x77, 0x00})
	f.Add([]byte{0x77, 0x82, 0xFF, 0xFF})

	parseErrs := []error{reader.ErrSODTruncated, reader.ErrSODFormat, reader.ErrSODUnsupportedAlgorithm}
	verifyErrs := append(parseErrs, reader.ErrSODDigest, reader.ErrSODSignature, reader.ErrSignerMismatch,
		reader.ErrUnknownCSCA, reader.ErrDSCertSignature, reader.ErrDSExpired, reader.ErrCSCAExpired,
		reader.ErrNISHash, reader.ErrKeyHash, reader.ErrDataGroupMissing)
	wraps := func(err error, sentinels []error) bool {
		for _, s := range sentinels {
			if errors.Is(err, s) {
				return true
			}
		}
		return false
	}

	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := reader.ParseSOD(b)
		if err != nil {
			if !wraps(err, parseErrs) {
				t.Fatalf("ParseSOD error wraps no sentinel: %v", err)
			}
			return
		}
		if !bytes.HasPrefix(b, s.Raw) {
			t.Fatal("Raw is not a prefix of the input")
		}
		_, _ = s.Generation()
		_ = s.Signer.SignatureAlgorithm.String()
		_, err = s.Verify(reader.VerifyOptions{CSCAs: cscas, Time: sodRealTime, NIS: nis, PublicKeyFile: []byte{0x30, 0x00}})
		if err != nil && !wraps(err, verifyErrs) {
			t.Fatalf("Verify error wraps no sentinel: %v", err)
		}
	})
}
