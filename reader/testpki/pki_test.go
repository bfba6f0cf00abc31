package testpki_test

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/testpki"
)

var update = flag.Bool("update", false, "regenerate the committed test PKI in testdata/pki")

// committedDir is the test PKI committed with the repository.
var committedDir = filepath.Join("..", "..", "testdata", "pki")

var (
	pkiOnce sync.Once
	pkiVal  *testpki.PKI
	pkiErr  error
)

// mustGenerate returns a PKI generated once per test binary.
func mustGenerate(tb testing.TB) *testpki.PKI {
	tb.Helper()
	pkiOnce.Do(func() { pkiVal, pkiErr = testpki.Generate(rand.Reader) })
	if pkiErr != nil {
		tb.Fatalf("Generate: %v", pkiErr)
	}
	return pkiVal
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// TestGenerate checks the shape of every certificate: who signed it, with
// which algorithm, the key identifiers a verifier chains by, the dates and
// the "Varco TEST" subjects.
func TestGenerate(t *testing.T) {
	p := mustGenerate(t)
	tests := []struct {
		name     string
		s        *testpki.Signer
		issuer   *testpki.Signer
		ca       bool
		alg      x509.SignatureAlgorithm
		from, to time.Time
	}{
		{"CSCA", p.CSCA, p.CSCA, true, x509.SHA256WithRSA, date(2020, 1, 1), date(2045, 1, 1)},
		{"RogueCSCA", p.RogueCSCA, p.RogueCSCA, true, x509.SHA256WithRSA, date(2020, 1, 1), date(2045, 1, 1)},
		{"DS2016", p.DS2016, p.CSCA, false, x509.SHA256WithRSA, date(2024, 1, 1), date(2040, 1, 1)},
		{"DS2022", p.DS2022, p.CSCA, false, x509.SHA512WithRSAPSS, date(2024, 1, 1), date(2040, 1, 1)},
		{"DSExpired", p.DSExpired, p.CSCA, false, x509.SHA256WithRSA, date(2015, 1, 1), date(2020, 1, 1)},
		{"DSRogue", p.DSRogue, p.RogueCSCA, false, x509.SHA512WithRSAPSS, date(2024, 1, 1), date(2040, 1, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.s.Cert
			if !tt.s.Key.PublicKey.Equal(c.PublicKey) {
				t.Error("key does not match certificate")
			}
			if bits := tt.s.Key.N.BitLen(); bits != testpki.KeyBits {
				t.Errorf("key of %d bits, want %d", bits, testpki.KeyBits)
			}
			if !strings.Contains(c.Subject.String(), "Varco TEST") {
				t.Errorf("subject %q does not say Varco TEST", c.Subject)
			}
			if c.SignatureAlgorithm != tt.alg {
				t.Errorf("signature algorithm %v, want %v", c.SignatureAlgorithm, tt.alg)
			}
			if err := tt.issuer.Cert.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
				t.Errorf("not signed by %s: %v", tt.issuer.Cert.Subject.CommonName, err)
			}
			if len(c.SubjectKeyId) == 0 {
				t.Error("no Subject Key Identifier")
			}
			if !bytes.Equal(c.AuthorityKeyId, tt.issuer.Cert.SubjectKeyId) {
				t.Errorf("AKI %X, want issuer SKI %X", c.AuthorityKeyId, tt.issuer.Cert.SubjectKeyId)
			}
			if c.IsCA != tt.ca || !c.BasicConstraintsValid {
				t.Errorf("IsCA %v (constraints valid %v), want %v", c.IsCA, c.BasicConstraintsValid, tt.ca)
			}
			if !c.NotBefore.Equal(tt.from) || !c.NotAfter.Equal(tt.to) {
				t.Errorf("valid %v to %v, want %v to %v", c.NotBefore, c.NotAfter, tt.from, tt.to)
			}
		})
	}
	if bytes.Equal(p.CSCA.Cert.SubjectKeyId, p.RogueCSCA.Cert.SubjectKeyId) {
		t.Error("CSCA and RogueCSCA share a key identifier")
	}
}

// TestSaveLoad checks that Load gives back what Save wrote, that the trusted
// directory loads as exactly the CSCA, and that Load notices a key that does
// not belong to its certificate.
func TestSaveLoad(t *testing.T) {
	p := mustGenerate(t)
	dir := t.TempDir()
	if err := p.Save(dir); err != nil {
		t.Fatalf("Save: %v", err)
	}
	got, err := testpki.Load(dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	pairs := []struct {
		name      string
		want, got *testpki.Signer
	}{
		{"CSCA", p.CSCA, got.CSCA}, {"RogueCSCA", p.RogueCSCA, got.RogueCSCA},
		{"DS2016", p.DS2016, got.DS2016}, {"DS2022", p.DS2022, got.DS2022},
		{"DSExpired", p.DSExpired, got.DSExpired}, {"DSRogue", p.DSRogue, got.DSRogue},
	}
	for _, pr := range pairs {
		if !pr.got.Cert.Equal(pr.want.Cert) || !pr.got.Key.Equal(pr.want.Key) {
			t.Errorf("%s changed through Save and Load", pr.name)
		}
	}
	checkTrustedDir(t, dir, p)

	// A key swapped for another one must not load.
	other, err := os.ReadFile(filepath.Join(dir, "ds-2022.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ds-2016.key"), other, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := testpki.Load(dir); err == nil {
		t.Error("Load accepted ds-2016.key holding the DS2022 key")
	}
}

// checkTrustedDir asserts that dir/trusted holds the CSCA and nothing else
// and that it loads with reader.LoadCSCAs as a CSCA directory.
func checkTrustedDir(t *testing.T, dir string, p *testpki.PKI) {
	t.Helper()
	trusted := filepath.Join(dir, testpki.TrustedDir)
	entries, err := os.ReadDir(trusted)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "csca.der" {
		t.Errorf("%s holds %v, want only csca.der", trusted, entries)
	}
	cscas, err := reader.LoadCSCAs(trusted)
	if err != nil {
		t.Fatalf("LoadCSCAs(%s): %v", trusted, err)
	}
	if len(cscas) != 1 || !cscas[0].Equal(p.CSCA.Cert) {
		t.Errorf("LoadCSCAs(%s) = %d certificates, want the CSCA alone", trusted, len(cscas))
	}
	// The whole PKI directory is not a CSCA directory: its private keys
	// must make LoadCSCAs fail rather than be skipped.
	if _, err := reader.LoadCSCAs(dir); err == nil {
		t.Errorf("LoadCSCAs(%s) accepted a directory with private keys", dir)
	}
}

// TestCommittedPKI checks the PKI committed in testdata/pki: it loads, its
// trusted directory holds the CSCA alone, and its signers produce SODs that
// verify. With -update it first regenerates it (the CLI command
// "varco card pki -out testdata/pki" does the same).
func TestCommittedPKI(t *testing.T) {
	if *update {
		p, err := testpki.Generate(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Save(committedDir); err != nil {
			t.Fatal(err)
		}
	}
	p, err := testpki.Load(committedDir)
	if err != nil {
		t.Fatalf("Load(%s): %v (regenerate with -update)", committedDir, err)
	}
	checkTrustedDir(t, committedDir, p)
	if _, err := os.Stat(filepath.Join(committedDir, "README.md")); err != nil {
		t.Error(err)
	}
	cscas, err := reader.LoadCSCAs(filepath.Join(committedDir, testpki.TrustedDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, gen := range []reader.Generation{reader.Gen2016, reader.Gen2022} {
		ds := p.DS2016
		if gen == reader.Gen2022 {
			ds = p.DS2022
		}
		sod, err := testpki.BuildSOD(ds, gen, map[byte][]byte{reader.DGNIS: []byte("123456789012")})
		if err != nil {
			t.Fatal(err)
		}
		res, err := reader.VerifySOD(sod, reader.VerifyOptions{CSCAs: cscas, Time: date(2026, 1, 1), NIS: []byte("123456789012")})
		if err != nil {
			t.Errorf("%v: %v", gen, err)
			continue
		}
		if res.Generation != gen {
			t.Errorf("generation %v, want %v", res.Generation, gen)
		}
	}
}
