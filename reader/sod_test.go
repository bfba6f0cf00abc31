package reader_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/testpki"
)

// Real data (testdata/cie-real/README.md): the EF.SOD of a CIE issued in
// late 2022 and the Italian CSCAs.
var (
	sodRealPath = filepath.Join("..", "testdata", "cie-real", "ef-sod-2022.bin")
	sodRealDir  = filepath.Join("..", "testdata", "cie-real")
	sodRealCSCA = filepath.Join(sodRealDir, "csca")
	sodPKIDir   = filepath.Join("..", "testdata", "pki")
)

// What openssl shows of the real SOD (testdata/cie-real/README.md).
const (
	sodRealDSSerial = "4EE4231D2FCC5A3C"
	sodRealCSCAKID  = "D11A505E"
)

func sodDate(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// sodRealTime is a date at which the real SOD's chain is valid.
var sodRealTime = sodDate(2026, 1, 1)

// sodReal returns a fresh copy of the real EF.SOD.
func sodReal(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile(sodRealPath)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// sodRealCSCAs returns the real Italian CSCAs, and the one that signed the
// real SOD's document signer.
func sodRealCSCAs(tb testing.TB) (all []*x509.Certificate, signer *x509.Certificate) {
	tb.Helper()
	// The CSCAs sit in their own folder, apart from the SOD.
	files, err := filepath.Glob(filepath.Join(sodRealCSCA, "csca-*.der"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no CSCA in %s: %v", sodRealCSCA, err)
	}
	for _, f := range files {
		der, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		cs, err := reader.ParseCSCAs(der)
		if err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		all = append(all, cs...)
	}
	for _, c := range all {
		if fmt.Sprintf("%X", c.SubjectKeyId)[:8] == sodRealCSCAKID {
			signer = c
		}
	}
	if signer == nil {
		tb.Fatalf("no CSCA %s in %s", sodRealCSCAKID, sodRealDir)
	}
	return all, signer
}

// sodPKI returns the committed test PKI.
func sodPKI(tb testing.TB) *testpki.PKI { return testpki.Committed(tb) }

// TestParseSODReal checks what ParseSOD reads from the real 2022 card
// against what openssl shows (testdata/cie-real/README.md).
func TestParseSODReal(t *testing.T) {
	b := sodReal(t)
	s, err := reader.ParseSOD(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.Raw, b) || len(s.Raw) != 2852 {
		t.Errorf("Raw is %d bytes, want the whole 2852-byte file", len(s.Raw))
	}
	if s.LDSVersion != 1 || s.LDSHash != crypto.SHA512 {
		t.Errorf("LDSSecurityObject v%d %v, want v1 SHA-512", s.LDSVersion, s.LDSHash)
	}
	if s.LDSVersionInfo == nil || *s.LDSVersionInfo != (reader.LDSVersionInfo{LDSVersion: "0108", UnicodeVersion: "040000"}) {
		t.Errorf("ldsVersionInfo %+v, want 0108/040000", s.LDSVersionInfo)
	}
	if len(s.EContent) != 466 {
		t.Errorf("eContent of %d bytes, want 466", len(s.EContent))
	}
	var dgs []byte
	for _, dg := range []byte{reader.DGKey, reader.DGDH, reader.DGIntKpub, reader.DGCertCIE, reader.DGSerial, reader.DGNIS} {
		if h, ok := s.DataGroups[dg]; !ok || len(h) != 64 {
			t.Errorf("data group %02X: %d-byte hash, present %v", dg, len(h), ok)
		}
		dgs = append(dgs, dg)
	}
	if len(s.DataGroups) != len(dgs) {
		t.Errorf("%d data groups, want %X", len(s.DataGroups), dgs)
	}
	if len(s.Certificates) != 1 || s.DS != s.Certificates[0] {
		t.Errorf("%d certificates, want the DS alone", len(s.Certificates))
	}
	if got := fmt.Sprintf("%X", s.DS.SerialNumber); got != sodRealDSSerial {
		t.Errorf("DS serial %s, want %s", got, sodRealDSSerial)
	}
	si := s.Signer
	if si.Version != 1 || si.SerialNumber == nil || si.SerialNumber.Cmp(s.DS.SerialNumber) != 0 ||
		!bytes.Equal(si.Issuer, s.DS.RawIssuer) {
		t.Error("SignerInfo does not name the DS by issuer and serial number")
	}
	if si.DigestAlgorithm != crypto.SHA512 || len(si.MessageDigest) != 64 {
		t.Errorf("digest %v, messageDigest of %d bytes", si.DigestAlgorithm, len(si.MessageDigest))
	}
	a := si.SignatureAlgorithm
	if !a.PSS || a.Hash != crypto.SHA512 || a.MGF1Hash != crypto.SHA512 || a.SaltLength != 64 {
		t.Errorf("signature algorithm %v, want RSASSA-PSS SHA-512 MGF1-SHA-512 salt 64", a)
	}
	if got, want := a.String(), "RSASSA-PSS SHA-512 MGF1-SHA-512 salt 64"; got != want {
		t.Errorf("signature algorithm name %q, want %q", got, want)
	}
	if len(si.Signature) != 256 || len(si.SignedAttrs) != 106 || si.SignedAttrs[0] != 0xA0 {
		t.Errorf("signature of %d bytes, signed attributes of %d bytes starting %02X",
			len(si.Signature), len(si.SignedAttrs), si.SignedAttrs[0])
	}
	if g, err := s.Generation(); err != nil || g != reader.Gen2022 {
		t.Errorf("Generation() = %v, %v; want 2022", g, err)
	}
}

// TestVerifySODReal verifies the real 2022 SOD against the real CSCAs and
// checks each chain failure that can be produced without touching it.
func TestVerifySODReal(t *testing.T) {
	all, signer := sodRealCSCAs(t)
	var others []*x509.Certificate
	for _, c := range all {
		if c != signer {
			others = append(others, c)
		}
	}
	// Anchors are used as configured, so a changed copy models a CSCA
	// certificate with the same key identifier but another key, or with
	// other dates.
	wrongKey := *signer
	wrongKey.PublicKey = others[0].PublicKey
	shortLived := *signer
	shortLived.NotAfter = sodDate(2030, 1, 1)

	dsFrom := time.Date(2022, 10, 6, 9, 0, 59, 0, time.UTC)
	dsTo := time.Date(2034, 1, 6, 9, 0, 58, 0, time.UTC)
	tests := []struct {
		name    string
		sod     func([]byte) []byte
		cscas   []*x509.Certificate
		at      time.Time
		nis     []byte
		keyFile []byte
		wantErr error
	}{
		{name: "all Italian CSCAs", cscas: all, at: sodRealTime},
		{name: "its CSCA alone", cscas: []*x509.Certificate{signer}, at: sodRealTime},
		{name: "zero time is now", cscas: all},
		{name: "first second of DS validity", cscas: all, at: dsFrom},
		{name: "last second of DS validity", cscas: all, at: dsTo},
		{name: "padding after the 77 TLV", cscas: all, at: sodRealTime,
			sod: func(b []byte) []byte { return append(b, 0x00, 0x00, 0xFF) }},
		{name: "same-SKI anchor with the wrong key first", cscas: []*x509.Certificate{&wrongKey, signer}, at: sodRealTime},
		{name: "no CSCA", at: sodRealTime, wantErr: reader.ErrUnknownCSCA},
		{name: "older CSCAs only", cscas: others, at: sodRealTime, wantErr: reader.ErrUnknownCSCA},
		{name: "test CSCA only", cscas: sodPKI(t).TrustedCSCAs(), at: sodRealTime, wantErr: reader.ErrUnknownCSCA},
		{name: "same-SKI anchor with the wrong key", cscas: []*x509.Certificate{&wrongKey}, at: sodRealTime, wantErr: reader.ErrDSCertSignature},
		{name: "before DS validity", cscas: all, at: dsFrom.Add(-time.Second), wantErr: reader.ErrDSExpired},
		{name: "after DS expiry", cscas: all, at: dsTo.Add(time.Second), wantErr: reader.ErrDSExpired},
		{name: "after DS expiry 2034-06", cscas: all, at: sodDate(2034, 6, 1), wantErr: reader.ErrDSExpired},
		{name: "after CSCA expiry", cscas: []*x509.Certificate{&shortLived}, at: sodDate(2031, 1, 1), wantErr: reader.ErrCSCAExpired},
		{name: "unknown NIS", cscas: all, at: sodRealTime, nis: []byte("000000000000"), wantErr: reader.ErrNISHash},
		{name: "unknown key file", cscas: all, at: sodRealTime, keyFile: []byte{0x30, 0x00}, wantErr: reader.ErrKeyHash},
		{name: "truncated by one byte", cscas: all, at: sodRealTime, wantErr: reader.ErrSODTruncated,
			sod: func(b []byte) []byte { return b[:len(b)-1] }},
		{name: "first chunk only", cscas: all, at: sodRealTime, wantErr: reader.ErrSODTruncated,
			sod: func(b []byte) []byte { return b[:0xE4] }},
		{name: "data group swapped, messageDigest recomputed", cscas: all, at: sodRealTime, wantErr: reader.ErrSODSignature,
			sod: func(b []byte) []byte {
				// What an attacker substituting a data group hash must do:
				// keep the digest consistent, which the signature catches.
				s, err := reader.ParseSOD(b)
				if err != nil {
					t.Fatal(err)
				}
				eOff := bytes.Index(b, s.EContent)
				nis := s.DataGroups[reader.DGNIS]
				b[eOff+bytes.Index(s.EContent, nis)] ^= 0x01
				md := sha512.Sum512(b[eOff : eOff+len(s.EContent)])
				copy(b[bytes.Index(b, s.Signer.MessageDigest):], md[:])
				return b
			}},
		{name: "PSS salt 32", cscas: all, at: sodRealTime, wantErr: reader.ErrSODUnsupportedAlgorithm,
			sod: func(b []byte) []byte {
				// The SignerInfo's PSS parameters come last: [2] { INTEGER 64 }.
				i := bytes.LastIndex(b, []byte{0xA2, 0x03, 0x02, 0x01, 0x40})
				b[i+4] = 0x20
				return b
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := sodReal(t)
			if tt.sod != nil {
				b = tt.sod(b)
			}
			res, err := reader.VerifySOD(b, reader.VerifyOptions{CSCAs: tt.cscas, Time: tt.at, NIS: tt.nis, PublicKeyFile: tt.keyFile})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("VerifySOD error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("VerifySOD: %v", err)
			}
			if res.Generation != reader.Gen2022 || res.Hash != crypto.SHA512 {
				t.Errorf("generation %v hash %v, want 2022 SHA-512", res.Generation, res.Hash)
			}
			if res.DSSerial != sodRealDSSerial {
				t.Errorf("DS serial %s, want %s", res.DSSerial, sodRealDSSerial)
			}
			if res.CSCA != signer || !strings.HasPrefix(fmt.Sprintf("%X", res.CSCA.SubjectKeyId), sodRealCSCAKID) {
				t.Errorf("CSCA %X, want csca-%s", res.CSCA.SubjectKeyId, sodRealCSCAKID)
			}
			if !strings.Contains(res.DSSubject, "CN=eIdentityCardSigner") ||
				!strings.Contains(res.CSCASubject, "CN=Italian Country Signer CA") {
				t.Errorf("DS %q, CSCA %q", res.DSSubject, res.CSCASubject)
			}
			if res.SignatureAlgorithm != "RSASSA-PSS SHA-512 MGF1-SHA-512 salt 64" {
				t.Errorf("signature algorithm %q", res.SignatureAlgorithm)
			}
			if len(res.CheckedDataGroups) != 0 {
				t.Errorf("checked data groups %X without card data", res.CheckedDataGroups)
			}
		})
	}
}

// sodRegion is a byte range of the real SOD and the errors a changed byte
// in it may cause.
type sodRegion struct {
	name     string
	off, end int
	want     []error // a changed byte must give one of these
	mustSee  error   // at least one changed byte must give this
}

// sodRealRegions locates, in the real SOD, the parts passive authentication
// protects. More specific regions come first.
func sodRealRegions(t *testing.T, b []byte) []sodRegion {
	t.Helper()
	s, err := reader.ParseSOD(b)
	if err != nil {
		t.Fatal(err)
	}
	// at finds part in b at or after offset from (its last occurrence if
	// last is set).
	at := func(from int, part []byte, last bool) int {
		t.Helper()
		i := bytes.Index(b[from:], part)
		if last {
			i = bytes.LastIndex(b[from:], part)
		}
		if i < 0 {
			t.Fatalf("part of %d bytes not found", len(part))
		}
		return from + i
	}
	region := func(name string, off, n int, mustSee error, want ...error) sodRegion {
		return sodRegion{name: name, off: off, end: off + n, want: want, mustSee: mustSee}
	}
	ds := s.DS
	dsOff := at(0, ds.Raw, false)
	attrsOff := at(0, s.Signer.SignedAttrs, false)
	eOff := at(0, s.EContent, false)
	var rs []sodRegion
	rs = append(rs,
		region("SignerInfo signature", at(0, s.Signer.Signature, false), len(s.Signer.Signature),
			reader.ErrSODSignature, reader.ErrSODSignature),
		region("messageDigest value", at(attrsOff, s.Signer.MessageDigest, false), len(s.Signer.MessageDigest),
			reader.ErrSODDigest, reader.ErrSODDigest),
		// Outside the digest value the signed attributes are all
		// structure (headers and OIDs that the parser checks), so the
		// changes show as ErrSODFormat; TestVerifySODReal's "data group
		// swapped" shows that the signature covers them.
		region("signed attributes", attrsOff, len(s.Signer.SignedAttrs),
			reader.ErrSODFormat, reader.ErrSODFormat, reader.ErrSODSignature),
	)
	for dg, h := range s.DataGroups {
		rs = append(rs, region(fmt.Sprintf("data group %02X hash", dg), at(eOff, h, false), len(h),
			reader.ErrSODDigest, reader.ErrSODDigest))
	}
	serial := ds.SerialNumber.Bytes()
	pub := ds.RawSubjectPublicKeyInfo
	rs = append(rs,
		region("eContent", eOff, len(s.EContent),
			reader.ErrSODDigest, reader.ErrSODFormat, reader.ErrSODDigest, reader.ErrSODUnsupportedAlgorithm),
		region("DS signature value", at(dsOff, ds.Signature, false), len(ds.Signature),
			reader.ErrDSCertSignature, reader.ErrDSCertSignature),
		region("DS serial", at(dsOff, serial, false), len(serial),
			reader.ErrSignerMismatch, reader.ErrSignerMismatch, reader.ErrSODFormat),
		region("DS authority key identifier", at(dsOff, ds.AuthorityKeyId, false), len(ds.AuthorityKeyId),
			reader.ErrUnknownCSCA, reader.ErrUnknownCSCA),
		// The modulus: the last 256+5 bytes of the SPKI are 256 modulus
		// bytes and 02 03 01 00 01.
		region("DS modulus", at(dsOff, pub, false)+len(pub)-256-5, 256,
			reader.ErrSODSignature, reader.ErrSODSignature, reader.ErrSODFormat),
		region("DS certificate", dsOff, len(ds.Raw), reader.ErrDSCertSignature,
			reader.ErrSODFormat, reader.ErrSODSignature, reader.ErrSignerMismatch, reader.ErrUnknownCSCA,
			reader.ErrDSCertSignature, reader.ErrSODUnsupportedAlgorithm),
		// The SignerInfo names the DS after the certificates: the last
		// occurrences of its issuer and serial. Neither is signed.
		region("SignerInfo serial", at(0, serial, true), len(serial),
			reader.ErrSignerMismatch, reader.ErrSignerMismatch),
		region("SignerInfo issuer", at(0, ds.RawIssuer, true), len(ds.RawIssuer),
			reader.ErrSignerMismatch, reader.ErrSignerMismatch, reader.ErrSODFormat),
		// Everything else is structure: headers, OIDs, versions, algorithm
		// identifiers, the 77 wrapper.
		region("structure", 0, len(b), reader.ErrSODFormat,
			reader.ErrSODFormat, reader.ErrSODTruncated, reader.ErrSODUnsupportedAlgorithm, reader.ErrSignerMismatch,
			reader.ErrSODDigest, reader.ErrSODSignature),
	)
	return rs
}

// TestVerifySODRealTamper changes each byte of the real SOD, one at a time
// and in two ways (all bits, lowest bit), and checks that every change is
// rejected with an error that fits where the byte is: the signature, the
// signed attributes, the eContent, the DS certificate, the SignerInfo or
// the structure around them. With -short it changes every 7th byte plus the
// first and last of each region.
func TestVerifySODRealTamper(t *testing.T) {
	b := sodReal(t)
	cscas, _ := sodRealCSCAs(t)
	opts := reader.VerifyOptions{CSCAs: cscas, Time: sodRealTime}
	if _, err := reader.VerifySOD(b, opts); err != nil {
		t.Fatalf("untouched SOD: %v", err)
	}
	regions := sodRealRegions(t, b)
	sample := make([]bool, len(b))
	for i := range sample {
		sample[i] = !testing.Short() || i%7 == 0
	}
	for _, r := range regions {
		sample[r.off], sample[r.end-1] = true, true
	}
	seen := make([]map[error]int, len(regions))
	for i := range seen {
		seen[i] = map[error]int{}
	}
	sentinels := []error{
		reader.ErrSODTruncated, reader.ErrSODFormat, reader.ErrSODUnsupportedAlgorithm, reader.ErrSODDigest,
		reader.ErrSODSignature, reader.ErrSignerMismatch, reader.ErrUnknownCSCA, reader.ErrDSCertSignature,
		reader.ErrDSExpired, reader.ErrCSCAExpired,
	}
	mut := make([]byte, len(b))
	for i := range b {
		if !sample[i] {
			continue
		}
		ri := 0
		for ri < len(regions) && (i < regions[ri].off || i >= regions[ri].end) {
			ri++
		}
		r := regions[ri]
		for _, x := range []byte{0xFF, 0x01} {
			copy(mut, b)
			mut[i] ^= x
			_, err := reader.VerifySOD(mut, opts)
			if err == nil {
				t.Errorf("%s: byte %d ^ %02X accepted", r.name, i, x)
				continue
			}
			var got error
			for _, s := range sentinels {
				if errors.Is(err, s) {
					got = s
					break
				}
			}
			seen[ri][got]++
			ok := false
			for _, w := range r.want {
				ok = ok || got == w
			}
			if !ok {
				t.Errorf("%s: byte %d ^ %02X: %v, want one of %v", r.name, i, x, err, r.want)
			}
		}
	}
	for i, r := range regions {
		if seen[i][r.mustSee] == 0 {
			t.Errorf("%s (bytes %d..%d): no change gave %v; got %v", r.name, r.off, r.end, r.mustSee, seen[i])
		}
		t.Logf("%s (bytes %d..%d): %v", r.name, r.off, r.end, seen[i])
	}
}

// TestParseSODErrors feeds ParseSOD what a card or a bad file could give
// and checks the sentinel: truncation, a wrong wrapper, wrong content.
func TestParseSODErrors(t *testing.T) {
	orig := sodReal(t)
	patch := func(old, new []byte) []byte { // first occurrence
		b := bytes.Clone(orig)
		i := bytes.Index(b, old)
		if i < 0 {
			t.Fatalf("% X not in the real SOD", old)
		}
		copy(b[i:], new)
		return b
	}
	wrap := func(content ...byte) []byte { return append([]byte{0x77, byte(len(content))}, content...) }
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"nil", nil, reader.ErrSODTruncated},
		{"tag only", []byte{0x77}, reader.ErrSODTruncated},
		{"length cut", []byte{0x77, 0x82, 0x0B}, reader.ErrSODTruncated},
		{"header only", orig[:4], reader.ErrSODTruncated},
		{"one byte short", orig[:len(orig)-1], reader.ErrSODTruncated},
		{"ICAO tag 77 but short form", []byte{0x77, 0x05, 0x30, 0x03}, reader.ErrSODTruncated},
		{"wrong tag", append([]byte{0x78}, orig[1:]...), reader.ErrSODFormat},
		{"indefinite length", []byte{0x77, 0x80, 0x30, 0x00, 0x00, 0x00}, reader.ErrSODFormat},
		{"four length bytes", []byte{0x77, 0x84, 0, 0, 0, 2, 0x30, 0x00}, reader.ErrSODFormat},
		{"larger than accepted", []byte{0x77, 0x83, 0x01, 0x00, 0x00}, reader.ErrSODFormat},
		{"empty wrapper", wrap(), reader.ErrSODFormat},
		{"empty ContentInfo", wrap(0x30, 0x00), reader.ErrSODFormat},
		{"trailing byte inside the wrapper", append([]byte{0x77, 0x82, 0x0B, 0x21}, append(bytes.Clone(orig[4:]), 0x00)...), reader.ErrSODFormat},
		{"not signedData", patch([]byte{0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02},
			[]byte{0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01}), reader.ErrSODFormat},
		{"SignedData version 1", patch([]byte{0x02, 0x01, 0x03, 0x31}, []byte{0x02, 0x01, 0x01, 0x31}), reader.ErrSODFormat},
		{"eContentType not LDSSecurityObject", patch([]byte{0x06, 0x06, 0x67, 0x81, 0x08, 0x01, 0x01, 0x01},
			[]byte{0x06, 0x06, 0x67, 0x81, 0x08, 0x01, 0x01, 0x02}), reader.ErrSODFormat},
		{"LDS version 2", patch([]byte{0x30, 0x82, 0x01, 0xCE, 0x02, 0x01, 0x01}, []byte{0x30, 0x82, 0x01, 0xCE, 0x02, 0x01, 0x02}), reader.ErrSODFormat},
		{"LDS v0 with ldsVersionInfo", patch([]byte{0x30, 0x82, 0x01, 0xCE, 0x02, 0x01, 0x01}, []byte{0x30, 0x82, 0x01, 0xCE, 0x02, 0x01, 0x00}), reader.ErrSODFormat},
		{"data group listed twice", patch([]byte{0x02, 0x01, 0x1B}, []byte{0x02, 0x01, 0xA5}), reader.ErrSODFormat},
		{"unknown LDS hash", patch([]byte{0x02, 0x01, 0x01, 0x30, 0x0B, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03},
			[]byte{0x02, 0x01, 0x01, 0x30, 0x0B, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x0A}), reader.ErrSODUnsupportedAlgorithm},
		{"DS certificate set tagged as crls", patch([]byte{0xA0, 0x82, 0x06, 0xA4}, []byte{0xA1}), reader.ErrSODFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := reader.ParseSOD(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseSOD error %v, want %v", err, tt.want)
			}
			if s != nil {
				t.Error("ParseSOD returned a SOD with an error")
			}
		})
	}
}

// TestVerifyUnparsed checks that Verify on a nil or zero SOD fails closed.
func TestVerifyUnparsed(t *testing.T) {
	for _, s := range []*reader.SOD{nil, {}} {
		if _, err := s.Verify(reader.VerifyOptions{}); !errors.Is(err, reader.ErrSODFormat) {
			t.Errorf("Verify(%v): %v, want ErrSODFormat", s, err)
		}
	}
}

// TestGeneration checks the names, hashes and parsing of generations.
func TestGeneration(t *testing.T) {
	tests := []struct {
		g    reader.Generation
		name string
		hash crypto.Hash
	}{
		{reader.Gen2016, "2016", crypto.SHA256},
		{reader.Gen2022, "2022", crypto.SHA512},
		{0, "Generation(0)", 0},
		{2019, "Generation(2019)", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.g.String(); got != tt.name {
				t.Errorf("String() = %q", got)
			}
			if got := tt.g.Hash(); got != tt.hash {
				t.Errorf("Hash() = %v, want %v", got, tt.hash)
			}
			g, err := reader.ParseGeneration(tt.name)
			if tt.hash == 0 {
				if err == nil {
					t.Errorf("ParseGeneration(%q) = %v, want an error", tt.name, g)
				}
				return
			}
			if err != nil || g != tt.g {
				t.Errorf("ParseGeneration(%q) = %v, %v", tt.name, g, err)
			}
		})
	}
}

// TestLoadCSCAs checks which files a CSCA directory may hold: DER and PEM
// certificates, several per file; notes (.md, .txt), hidden files and
// subdirectories are skipped; anything else is an error naming the file.
func TestLoadCSCAs(t *testing.T) {
	all, _ := sodRealCSCAs(t)
	if len(all) != 5 {
		t.Errorf("%s: %d CSCAs, want 5", sodRealDir, len(all))
	}
	// The real-data directory holds the SOD too: it must not pass for a
	// certificate, and the error must name it.
	if _, err := reader.LoadCSCAs(sodRealDir); err == nil || !strings.Contains(err.Error(), "ef-sod-2022.bin") {
		t.Errorf("LoadCSCAs(%s) error %v, want one naming ef-sod-2022.bin", sodRealDir, err)
	}
	if got, err := reader.LoadCSCAs(sodRealCSCA); err != nil || len(got) != 5 {
		t.Errorf("LoadCSCAs(%s) = %d certificates, %v; want the 5 real CSCAs", sodRealCSCA, len(got), err)
	}
	p := sodPKI(t)
	pemOf := func(cs ...*x509.Certificate) []byte {
		var out []byte
		for _, c := range cs {
			out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
		return out
	}
	good := map[string][]byte{
		"a.der":        all[0].Raw,
		"b.pem":        pemOf(p.CSCA.Cert, p.RogueCSCA.Cert),
		"c.crt":        append(bytes.Clone(all[1].Raw), all[2].Raw...),
		"README.md":    []byte("# not a certificate"),
		"NOTES.TXT":    []byte("not a certificate"),
		".hidden":      []byte("not a certificate"),
		"sub/junk.bin": []byte("not looked at"),
	}
	tests := []struct {
		name    string
		extra   map[string][]byte
		want    int
		wantErr string // substring of the error; "" for success
	}{
		{name: "good", want: 5},
		{name: "private key", extra: map[string][]byte{"ds.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})}, wantErr: "ds.key"},
		{name: "garbage", extra: map[string][]byte{"x.cer": []byte("garbage")}, wantErr: "x.cer"},
		{name: "empty file", extra: map[string][]byte{"empty.der": {}}, wantErr: "empty.der"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, files := range []map[string][]byte{good, tt.extra} {
				for name, data := range files {
					path := filepath.Join(dir, name)
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			got, err := reader.LoadCSCAs(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, reader.ErrCSCAFile) {
					t.Fatalf("LoadCSCAs error %v, want ErrCSCAFile naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Errorf("%d certificates, want %d", len(got), tt.want)
			}
		})
	}
	t.Run("no certificates", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("#"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := reader.LoadCSCAs(dir); !errors.Is(err, reader.ErrCSCAFile) {
			t.Errorf("LoadCSCAs of a directory without certificates: %v", err)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		if _, err := reader.LoadCSCAs(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("LoadCSCAs of a missing directory: %v", err)
		}
	})
}

// TestParseCSCAs checks the encodings ParseCSCAs accepts.
func TestParseCSCAs(t *testing.T) {
	all, _ := sodRealCSCAs(t)
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	tests := []struct {
		name string
		in   []byte
		want int // 0: error
	}{
		{"DER", all[0].Raw, 1},
		{"DER concatenated", bytes.Join([][]byte{all[0].Raw, all[1].Raw, all[2].Raw}, nil), 3},
		{"PEM", pemOf("CERTIFICATE", all[0].Raw), 1},
		{"PEM bundle with comments", bytes.Join([][]byte{[]byte("# Italy\n"), pemOf("CERTIFICATE", all[0].Raw),
			[]byte("subject=...\n"), pemOf("CERTIFICATE", all[1].Raw), []byte("\n")}, nil), 2},
		{"empty", nil, 0},
		{"garbage", []byte("hello"), 0},
		{"DER with trailing byte", append(bytes.Clone(all[0].Raw), 0x00), 0},
		{"truncated DER", all[0].Raw[:len(all[0].Raw)-1], 0},
		{"PEM private key", pemOf("PRIVATE KEY", []byte{1, 2, 3}), 0},
		{"PEM certificate then key", append(pemOf("CERTIFICATE", all[0].Raw), pemOf("RSA PRIVATE KEY", []byte{1})...), 0},
		{"PEM of garbage", pemOf("CERTIFICATE", []byte{0x30, 0x00}), 0},
		{"broken PEM", []byte("-----BEGIN CERTIFICATE-----\nnot base64\n"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := reader.ParseCSCAs(tt.in)
			if tt.want == 0 {
				if !errors.Is(err, reader.ErrCSCAFile) {
					t.Errorf("ParseCSCAs error %v, want ErrCSCAFile", err)
				}
				return
			}
			if err != nil || len(got) != tt.want {
				t.Errorf("ParseCSCAs = %d certificates, %v; want %d", len(got), err, tt.want)
			}
		})
	}
}

// sodPatchSigner rewrites, in a SOD built by testpki, the SignerInfo's
// signature algorithm OID (the last occurrence of from) and, when sign is
// set, the signature itself: neither is covered by the signature.
func sodPatchSigner(t *testing.T, b []byte, from, to []byte, sign func(attrs []byte) []byte) []byte {
	t.Helper()
	b = bytes.Clone(b)
	if to != nil {
		i := bytes.LastIndex(b, from)
		if i < 0 || len(from) != len(to) {
			t.Fatalf("% X not in SOD", from)
		}
		copy(b[i:], to)
	}
	if sign != nil {
		s, err := reader.ParseSOD(b)
		if err != nil {
			t.Fatal(err)
		}
		attrs := append([]byte{0x31}, s.Signer.SignedAttrs[1:]...)
		sig := sign(attrs)
		if len(sig) != len(s.Signer.Signature) {
			t.Fatalf("new signature of %d bytes, old of %d", len(sig), len(s.Signer.Signature))
		}
		copy(b[bytes.Index(b, s.Signer.Signature):], sig)
	}
	return b
}

// TestVerifySODVariants checks the signature variants of CIE.md section 5
// on SODs built with the test PKI: a 2016 SOD may name its PKCS#1 v1.5
// signature sha256WithRSA, sha1WithRSA or bare rsaEncryption, but must keep
// SHA-256 digests; a 2022 SOD must be PSS with salt 64.
func TestVerifySODVariants(t *testing.T) {
	p := sodPKI(t)
	files := map[byte][]byte{reader.DGNIS: []byte("123456789012")}
	sod16, err := testpki.BuildSOD(p.DS2016, reader.Gen2016, files)
	if err != nil {
		t.Fatal(err)
	}
	sod22, err := testpki.BuildSOD(p.DS2022, reader.Gen2022, files)
	if err != nil {
		t.Fatal(err)
	}
	oid := func(last byte) []byte { // 1.2.840.113549.1.1.<last>
		return []byte{0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, last}
	}
	sha256RSA, sha1RSA, rsaEnc, sha512RSA := oid(11), oid(5), oid(1), oid(13)
	signWith := func(k *testpki.Signer, h crypto.Hash, pss *rsa.PSSOptions) func([]byte) []byte {
		return func(attrs []byte) []byte {
			w := h.New()
			w.Write(attrs)
			var sig []byte
			var err error
			if pss != nil {
				sig, err = rsa.SignPSS(rand.Reader, k.Key, h, w.Sum(nil), pss)
			} else {
				sig, err = rsa.SignPKCS1v15(rand.Reader, k.Key, h, w.Sum(nil))
			}
			if err != nil {
				t.Fatal(err)
			}
			return sig
		}
	}
	tests := []struct {
		name     string
		sod      []byte
		wantAlg  string
		wantErr  error
		wantGen  reader.Generation
		from, to []byte
		sign     func([]byte) []byte
	}{
		{name: "2016 sha256WithRSA", sod: sod16, wantGen: reader.Gen2016, wantAlg: "RSA PKCS#1 v1.5 SHA-256"},
		{name: "2016 rsaEncryption", sod: sod16, from: sha256RSA, to: rsaEnc, wantGen: reader.Gen2016, wantAlg: "RSA PKCS#1 v1.5 SHA-256"},
		{name: "2016 sha1WithRSA naming a SHA-256 signature", sod: sod16, from: sha256RSA, to: sha1RSA, wantGen: reader.Gen2016, wantAlg: "RSA PKCS#1 v1.5 SHA-256"},
		{name: "2016 sha1WithRSA with a SHA-1 signature", sod: sod16, from: sha256RSA, to: sha1RSA,
			sign: signWith(p.DS2016, crypto.SHA1, nil), wantGen: reader.Gen2016, wantAlg: "RSA PKCS#1 v1.5 SHA-1"},
		{name: "2016 SHA-1 signature named sha256WithRSA", sod: sod16,
			sign: signWith(p.DS2016, crypto.SHA1, nil), wantErr: reader.ErrSODSignature},
		{name: "2016 signed by another key", sod: sod16,
			sign: signWith(p.DS2022, crypto.SHA256, nil), wantErr: reader.ErrSODSignature},
		{name: "2016 sha512WithRSA", sod: sod16, from: sha256RSA, to: sha512RSA, wantErr: reader.ErrSODUnsupportedAlgorithm},
		{name: "2022 PSS", sod: sod22, wantGen: reader.Gen2022, wantAlg: "RSASSA-PSS SHA-512 MGF1-SHA-512 salt 64"},
		{name: "2022 PSS signed with salt 32", sod: sod22,
			sign: signWith(p.DS2022, crypto.SHA512, &rsa.PSSOptions{SaltLength: 32}), wantErr: reader.ErrSODSignature},
		{name: "2022 PKCS#1 v1.5 signature under PSS parameters", sod: sod22,
			sign: signWith(p.DS2022, crypto.SHA512, nil), wantErr: reader.ErrSODSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := sodPatchSigner(t, tt.sod, tt.from, tt.to, tt.sign)
			res, err := reader.VerifySOD(b, reader.VerifyOptions{CSCAs: p.TrustedCSCAs(), Time: sodRealTime, NIS: files[reader.DGNIS]})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("VerifySOD error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("VerifySOD: %v", err)
			}
			if res.Generation != tt.wantGen || res.SignatureAlgorithm != tt.wantAlg {
				t.Errorf("generation %v signature %q, want %v %q", res.Generation, res.SignatureAlgorithm, tt.wantGen, tt.wantAlg)
			}
		})
	}
}

// TestVerifySODGeneratedTamper changes every byte of a SOD of each
// generation built with the test PKI and checks that none is accepted.
func TestVerifySODGeneratedTamper(t *testing.T) {
	p := sodPKI(t)
	files := map[byte][]byte{reader.DGNIS: []byte("123456789012"), reader.DGKey: {0x30, 0x00}}
	opts := reader.VerifyOptions{CSCAs: p.TrustedCSCAs(), Time: sodRealTime}
	for _, tt := range []struct {
		gen reader.Generation
		ds  *testpki.Signer
	}{{reader.Gen2016, p.DS2016}, {reader.Gen2022, p.DS2022}} {
		t.Run(tt.gen.String(), func(t *testing.T) {
			b, err := testpki.BuildSOD(tt.ds, tt.gen, files)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := reader.VerifySOD(b, opts); err != nil {
				t.Fatalf("untouched SOD: %v", err)
			}
			step := 1
			if testing.Short() {
				step = 7
			}
			mut := make([]byte, len(b))
			for i := 0; i < len(b); i += step {
				copy(mut, b)
				mut[i] ^= 0xFF
				if _, err := reader.VerifySOD(mut, opts); err == nil {
					t.Errorf("byte %d ^ FF accepted", i)
				}
			}
		})
	}
}
