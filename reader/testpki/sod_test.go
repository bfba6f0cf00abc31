package testpki_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/testpki"
)

// Card files of a made-up test card.
var (
	testNIS     = []byte("012345678901")
	testKeyFile = []byte{0x30, 0x03, 0x02, 0x01, 0x2A} // any bytes do: only hashed here
	testFiles   = map[byte][]byte{reader.DGNIS: testNIS, reader.DGKey: testKeyFile}
)

// TestBuildSODVerifies builds SODs with every signer of the PKI and checks
// that reader.Verify accepts the good ones and names the failure of the
// others.
func TestBuildSODVerifies(t *testing.T) {
	p := mustGenerate(t)
	valid := date(2026, 1, 1)
	onlyNIS := map[byte][]byte{reader.DGNIS: testNIS}
	tests := []struct {
		name    string
		ds      *testpki.Signer
		gen     reader.Generation
		files   map[byte][]byte
		at      time.Time
		nis     []byte
		keyFile []byte
		cscas   []*x509.Certificate // nil: the trusted CSCA
		wantErr error
	}{
		{name: "2016", ds: p.DS2016, gen: reader.Gen2016, at: valid, nis: testNIS, keyFile: testKeyFile},
		{name: "2022", ds: p.DS2022, gen: reader.Gen2022, at: valid, nis: testNIS, keyFile: testKeyFile},
		{name: "2022 profile by the 2016 signer", ds: p.DS2016, gen: reader.Gen2022, at: valid, nis: testNIS},
		{name: "no card data checked", ds: p.DS2022, gen: reader.Gen2022, at: valid},
		{name: "first day of DS validity", ds: p.DS2022, gen: reader.Gen2022, at: date(2024, 1, 1)},
		{name: "last moment of DS validity", ds: p.DS2022, gen: reader.Gen2022, at: date(2040, 1, 1)},
		{name: "rogue DS", ds: p.DSRogue, gen: reader.Gen2022, at: valid, wantErr: reader.ErrUnknownCSCA},
		{name: "rogue DS trusted alongside", ds: p.DSRogue, gen: reader.Gen2016, at: valid,
			cscas: []*x509.Certificate{p.CSCA.Cert, p.RogueCSCA.Cert}},
		{name: "no CSCA", ds: p.DS2022, gen: reader.Gen2022, at: valid, cscas: []*x509.Certificate{}, wantErr: reader.ErrUnknownCSCA},
		{name: "expired DS", ds: p.DSExpired, gen: reader.Gen2022, at: valid, wantErr: reader.ErrDSExpired},
		{name: "expired DS 2016", ds: p.DSExpired, gen: reader.Gen2016, at: valid, wantErr: reader.ErrDSExpired},
		{name: "DS not yet valid", ds: p.DS2022, gen: reader.Gen2022, at: date(2023, 12, 31), wantErr: reader.ErrDSExpired},
		{name: "DS expired after 2040", ds: p.DS2016, gen: reader.Gen2016, at: date(2040, 1, 2), wantErr: reader.ErrDSExpired},
		{name: "CSCA not yet valid", ds: p.DSExpired, gen: reader.Gen2022, at: date(2019, 6, 1), wantErr: reader.ErrCSCAExpired},
		{name: "other NIS", ds: p.DS2022, gen: reader.Gen2022, at: valid, nis: []byte("012345678902"), wantErr: reader.ErrNISHash},
		{name: "other NIS 2016", ds: p.DS2016, gen: reader.Gen2016, at: valid, nis: []byte("012345678902"), wantErr: reader.ErrNISHash},
		{name: "empty NIS", ds: p.DS2022, gen: reader.Gen2022, at: valid, nis: []byte{}, wantErr: reader.ErrNISHash},
		{name: "other key", ds: p.DS2022, gen: reader.Gen2022, at: valid, keyFile: []byte{0x30, 0x00}, wantErr: reader.ErrKeyHash},
		{name: "padded key file", ds: p.DS2016, gen: reader.Gen2016, at: valid, keyFile: append(bytes.Clone(testKeyFile), 0), wantErr: reader.ErrKeyHash},
		{name: "no A5 in SOD", ds: p.DS2022, gen: reader.Gen2022, files: onlyNIS, at: valid, keyFile: testKeyFile, wantErr: reader.ErrDataGroupMissing},
		{name: "no A1 in SOD", ds: p.DS2016, gen: reader.Gen2016, files: map[byte][]byte{reader.DGKey: testKeyFile}, at: valid, nis: testNIS, wantErr: reader.ErrDataGroupMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := tt.files
			if files == nil {
				files = testFiles
			}
			sod, err := testpki.BuildSOD(tt.ds, tt.gen, files)
			if err != nil {
				t.Fatalf("BuildSOD: %v", err)
			}
			cscas := tt.cscas
			if cscas == nil {
				cscas = p.TrustedCSCAs()
			}
			res, err := reader.VerifySOD(sod, reader.VerifyOptions{CSCAs: cscas, Time: tt.at, NIS: tt.nis, PublicKeyFile: tt.keyFile})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("VerifySOD error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("VerifySOD: %v", err)
			}
			if res.Generation != tt.gen {
				t.Errorf("generation %v, want %v", res.Generation, tt.gen)
			}
			if res.Hash != tt.gen.Hash() {
				t.Errorf("hash %v, want %v", res.Hash, tt.gen.Hash())
			}
			if res.DS == nil || !res.DS.Equal(tt.ds.Cert) {
				t.Errorf("DS is not the signer's certificate")
			}
			if res.DSSerial == "" || res.DSSubject != tt.ds.Cert.Subject.String() {
				t.Errorf("DS serial %q subject %q", res.DSSerial, res.DSSubject)
			}
			want := []byte{}
			if tt.nis != nil {
				want = append(want, reader.DGNIS)
			}
			if tt.keyFile != nil {
				want = append(want, reader.DGKey)
			}
			if !bytes.Equal(res.CheckedDataGroups, want) {
				t.Errorf("checked data groups %X, want %X", res.CheckedDataGroups, want)
			}
		})
	}
}

// TestBuildSODStructure checks what BuildSOD writes against what CIE.md
// section 5 and the real 2022 card show: wrapper, LDS version, hashes,
// data group numbers as raw bytes, signer identification and algorithms.
func TestBuildSODStructure(t *testing.T) {
	p := mustGenerate(t)
	files := map[byte][]byte{reader.DGKey: testKeyFile, reader.DGDH: {1, 2, 3}, reader.DGNIS: testNIS, 0x01: {4}}
	tests := []struct {
		gen     reader.Generation
		ds      *testpki.Signer
		version int
		hash    crypto.Hash
		pss     bool
	}{
		{reader.Gen2016, p.DS2016, 0, crypto.SHA256, false},
		{reader.Gen2022, p.DS2022, 1, crypto.SHA512, true},
	}
	for _, tt := range tests {
		t.Run(tt.gen.String(), func(t *testing.T) {
			b, err := testpki.BuildSOD(tt.ds, tt.gen, files)
			if err != nil {
				t.Fatal(err)
			}
			if b[0] != 0x77 || b[1] != 0x82 || int(b[2])<<8|int(b[3]) != len(b)-4 {
				t.Fatalf("wrapper % X, want 77 82 LL LL over %d bytes", b[:4], len(b)-4)
			}
			s, err := reader.ParseSOD(b)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(s.Raw, b) {
				t.Error("Raw is not the whole SOD")
			}
			if s.LDSVersion != tt.version || s.LDSHash != tt.hash || s.Signer.DigestAlgorithm != tt.hash {
				t.Errorf("LDS v%d %v digest %v, want v%d %v", s.LDSVersion, s.LDSHash, s.Signer.DigestAlgorithm, tt.version, tt.hash)
			}
			if (s.LDSVersionInfo != nil) != (tt.version == 1) {
				t.Errorf("ldsVersionInfo %+v with LDS v%d", s.LDSVersionInfo, tt.version)
			}
			if len(s.DataGroups) != len(files) {
				t.Errorf("%d data groups, want %d", len(s.DataGroups), len(files))
			}
			for dg, content := range files {
				h := tt.hash.New()
				h.Write(content)
				if !bytes.Equal(s.DataGroups[dg], h.Sum(nil)) {
					t.Errorf("data group %02X hash wrong", dg)
				}
			}
			// The number is one content byte: 02 01 A1, not 02 02 00 A1.
			if !bytes.Contains(s.EContent, []byte{0x02, 0x01, reader.DGNIS, 0x04}) {
				t.Error("data group A1 not encoded as the one-byte INTEGER 02 01 A1")
			}
			if len(s.Certificates) != 1 || !s.DS.Equal(tt.ds.Cert) {
				t.Error("embedded certificates are not the DS alone")
			}
			if s.Signer.Version != 1 || s.Signer.SerialNumber.Cmp(tt.ds.Cert.SerialNumber) != 0 ||
				!bytes.Equal(s.Signer.Issuer, tt.ds.Cert.RawIssuer) {
				t.Error("SignerInfo does not name the DS by issuer and serial number")
			}
			a := s.Signer.SignatureAlgorithm
			if a.PSS != tt.pss || a.Hash != tt.hash || (tt.pss && (a.MGF1Hash != crypto.SHA512 || a.SaltLength != 64)) {
				t.Errorf("signature algorithm %v", a)
			}
			if g, err := s.Generation(); err != nil || g != tt.gen {
				t.Errorf("Generation() = %v, %v", g, err)
			}
			pub := tt.ds.Key.Public().(*rsa.PublicKey)
			if len(s.Signer.Signature) != pub.Size() {
				t.Errorf("signature of %d bytes", len(s.Signer.Signature))
			}
		})
	}
}

// TestBuildSODErrors checks BuildSOD's refusals.
func TestBuildSODErrors(t *testing.T) {
	p := mustGenerate(t)
	tests := []struct {
		name  string
		ds    *testpki.Signer
		gen   reader.Generation
		files map[byte][]byte
	}{
		{"nil signer", nil, reader.Gen2022, testFiles},
		{"signer without key", &testpki.Signer{Cert: p.DS2022.Cert}, reader.Gen2022, testFiles},
		{"unknown generation", p.DS2022, reader.Generation(2019), testFiles},
		{"zero generation", p.DS2022, 0, testFiles},
		{"no files", p.DS2022, reader.Gen2022, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := testpki.BuildSOD(tt.ds, tt.gen, tt.files); err == nil {
				t.Error("BuildSOD succeeded")
			}
		})
	}
}

// TestForgedDS checks the two chain failures a bad document signer can
// cause with a genuine-looking SOD: a DS certificate naming the trusted
// CSCA's key identifier but signed by another key (ErrDSCertSignature), and
// a SignerInfo naming another certificate than the embedded one
// (ErrSignerMismatch).
func TestForgedDS(t *testing.T) {
	p := mustGenerate(t)
	valid := reader.VerifyOptions{CSCAs: p.TrustedCSCAs(), Time: date(2026, 1, 1)}

	t.Run("DS signed by an impostor of the CSCA", func(t *testing.T) {
		// The rogue key poses as the CSCA: same subject and key identifier.
		impostor := *p.CSCA.Cert
		impostor.PublicKey = p.RogueCSCA.Key.Public()
		tmpl := *p.DS2022.Cert
		der, err := x509.CreateCertificate(rand.Reader, &tmpl, &impostor, p.DS2022.Key.Public(), p.RogueCSCA.Key)
		if err != nil {
			t.Fatal(err)
		}
		forged, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(forged.AuthorityKeyId, p.CSCA.Cert.SubjectKeyId) {
			t.Fatal("forged DS does not carry the trusted CSCA's key identifier")
		}
		sod, err := testpki.BuildSOD(&testpki.Signer{Cert: forged, Key: p.DS2022.Key}, reader.Gen2022, testFiles)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reader.VerifySOD(sod, valid); !errors.Is(err, reader.ErrDSCertSignature) {
			t.Errorf("VerifySOD error %v, want ErrDSCertSignature", err)
		}
	})

	t.Run("SignerInfo names another serial", func(t *testing.T) {
		sod, err := testpki.BuildSOD(p.DS2022, reader.Gen2022, testFiles)
		if err != nil {
			t.Fatal(err)
		}
		// The serial appears in the DS certificate and, last, in the
		// SignerInfo, which no signature covers.
		serial := p.DS2022.Cert.SerialNumber.Bytes()
		i := bytes.LastIndex(sod, serial)
		if i < 0 || i == bytes.Index(sod, serial) {
			t.Fatal("SignerInfo serial not found")
		}
		sod[i+len(serial)-1] ^= 0x01
		if _, err := reader.VerifySOD(sod, valid); !errors.Is(err, reader.ErrSignerMismatch) {
			t.Errorf("VerifySOD error %v, want ErrSignerMismatch", err)
		}
	})
}
