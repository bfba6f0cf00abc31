package testpki

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// KeyBits is the RSA modulus size of every test key: the size of a real
// DS key, small enough to generate quickly.
const KeyBits = 2048

// Validity periods. The CSCA covers the DS validity, like the real ones;
// the expired DS ends before the CSCA begins, so at a date in 2019 it is
// valid while its CSCA is not.
var (
	cscaFrom    = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	cscaTo      = time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC)
	dsFrom      = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	dsTo        = time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	expiredFrom = time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	expiredTo   = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Signer is a certificate and its private key.
type Signer struct {
	Cert *x509.Certificate
	Key  *rsa.PrivateKey
}

// PKI is the test PKI. Only CSCA is meant to be trusted (TrustedCSCAs).
type PKI struct {
	// CSCA is the trusted test CSCA: self-signed, CA, with a Subject Key
	// Identifier, valid 2020-01-01 to 2045-01-01.
	CSCA *Signer
	// RogueCSCA is a self-signed CSCA that no verifier trusts.
	RogueCSCA *Signer
	// DS2016 is a document signer certified by CSCA with
	// sha256WithRSAEncryption, as the 2016 cards' signers are.
	DS2016 *Signer
	// DS2022 is a document signer certified by CSCA with RSASSA-PSS
	// SHA-512, as the 2022 cards' signers are.
	DS2022 *Signer
	// DSExpired is a document signer certified by CSCA, valid 2015-01-01 to
	// 2020-01-01 only.
	DSExpired *Signer
	// DSRogue is a document signer certified by RogueCSCA.
	DSRogue *Signer
}

// TrustedCSCAs returns the trust anchors of the test PKI: CSCA alone.
func (p *PKI) TrustedCSCAs() []*x509.Certificate {
	return []*x509.Certificate{p.CSCA.Cert}
}

// spec describes one certificate of the PKI.
type spec struct {
	cn       string
	ca       bool
	from, to time.Time
	alg      x509.SignatureAlgorithm
}

// Generate makes a new test PKI. rnd supplies serial numbers and the
// signatures' randomness (crypto/rand when nil); key generation always uses
// crypto/rand since Go 1.26.
func Generate(rnd io.Reader) (*PKI, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	p := &PKI{}
	var err error
	steps := []struct {
		out    **Signer
		parent **Signer
		spec   spec
	}{
		{&p.CSCA, nil, spec{"Varco TEST CSCA", true, cscaFrom, cscaTo, x509.SHA256WithRSA}},
		{&p.RogueCSCA, nil, spec{"Varco TEST Rogue CSCA (untrusted)", true, cscaFrom, cscaTo, x509.SHA256WithRSA}},
		{&p.DS2016, &p.CSCA, spec{"Varco TEST Document Signer 2016", false, dsFrom, dsTo, x509.SHA256WithRSA}},
		{&p.DS2022, &p.CSCA, spec{"Varco TEST Document Signer 2022", false, dsFrom, dsTo, x509.SHA512WithRSAPSS}},
		{&p.DSExpired, &p.CSCA, spec{"Varco TEST Document Signer (expired)", false, expiredFrom, expiredTo, x509.SHA256WithRSA}},
		{&p.DSRogue, &p.RogueCSCA, spec{"Varco TEST Rogue Document Signer (untrusted)", false, dsFrom, dsTo, x509.SHA512WithRSAPSS}},
	}
	for _, s := range steps {
		var parent *Signer
		if s.parent != nil {
			parent = *s.parent
		}
		if *s.out, err = newSigner(rnd, parent, s.spec); err != nil {
			return nil, fmt.Errorf("testpki: %s: %w", s.spec.cn, err)
		}
	}
	return p, nil
}

// newSigner makes a key and a certificate for it, issued by parent, or
// self-signed when parent is nil.
func newSigner(rnd io.Reader, parent *Signer, sp spec) (*Signer, error) {
	key, err := rsa.GenerateKey(rnd, KeyBits)
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial(rnd)
	if err != nil {
		return nil, err
	}
	ski := keyID(&key.PublicKey)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Country:            []string{"IT"},
			Organization:       []string{"Varco TEST"},
			OrganizationalUnit: []string{"Varco TEST PKI - not a real authority"},
			CommonName:         sp.cn,
		},
		NotBefore:             sp.from,
		NotAfter:              sp.to,
		SignatureAlgorithm:    sp.alg,
		SubjectKeyId:          ski,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
	issuer, issuerKey := tmpl, key
	if sp.ca {
		tmpl.IsCA = true
		tmpl.MaxPathLenZero = true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		tmpl.AuthorityKeyId = ski // like the real CSCAs; x509 sets it from the parent otherwise
	}
	if parent != nil {
		issuer, issuerKey = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rnd, tmpl, issuer, &key.PublicKey, issuerKey)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Signer{Cert: cert, Key: key}, nil
}

// randomSerial returns a positive 64-bit serial number with its top byte
// non-zero, so that it always encodes in 8 bytes like the real DS serial.
func randomSerial(rnd io.Reader) (*big.Int, error) {
	b := make([]byte, 8)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return nil, fmt.Errorf("serial: %w", err)
	}
	b[0] = b[0]&0x3F | 0x40
	return new(big.Int).SetBytes(b), nil
}

// keyID is a key identifier per RFC 7093 method 1: the leftmost 160 bits of
// SHA-256 of the subjectPublicKey bits (for RSA, the PKCS#1 RSAPublicKey).
func keyID(pub *rsa.PublicKey) []byte {
	sum := sha256.Sum256(x509.MarshalPKCS1PublicKey(pub))
	return sum[:20]
}

// TrustedDir is the subdirectory of a saved PKI holding only the trusted
// CSCA (DER), ready to be passed as a CSCA directory.
const TrustedDir = "trusted"

// files lists the saved PEM files: base name and signer.
func (p *PKI) files() []struct {
	base string
	s    **Signer
} {
	return []struct {
		base string
		s    **Signer
	}{
		{"csca", &p.CSCA},
		{"csca-rogue", &p.RogueCSCA},
		{"ds-2016", &p.DS2016},
		{"ds-2022", &p.DS2022},
		{"ds-expired", &p.DSExpired},
		{"ds-rogue", &p.DSRogue},
	}
}

// Save writes the PKI to dir, creating it if needed: NAME.pem (certificate)
// and NAME.key (PKCS#8 private key) for csca, csca-rogue, ds-2016, ds-2022,
// ds-expired and ds-rogue; trusted/csca.der (the trusted CSCA alone, DER);
// and README.md describing them. Existing files are overwritten.
func (p *PKI) Save(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, TrustedDir), 0o755); err != nil {
		return fmt.Errorf("testpki: %w", err)
	}
	for _, f := range p.files() {
		s := *f.s
		if s == nil || s.Cert == nil || s.Key == nil {
			return fmt.Errorf("testpki: save: %s missing", f.base)
		}
		key, err := x509.MarshalPKCS8PrivateKey(s.Key)
		if err != nil {
			return fmt.Errorf("testpki: save %s: %w", f.base, err)
		}
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Cert.Raw})
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})
		if err := os.WriteFile(filepath.Join(dir, f.base+".pem"), certPEM, 0o644); err != nil {
			return fmt.Errorf("testpki: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.base+".key"), keyPEM, 0o600); err != nil {
			return fmt.Errorf("testpki: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, TrustedDir, "csca.der"), p.CSCA.Cert.Raw, 0o644); err != nil {
		return fmt.Errorf("testpki: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte(readme), 0o644); err != nil {
		return fmt.Errorf("testpki: %w", err)
	}
	return nil
}

// Load reads a PKI written by Save and checks that each key belongs to its
// certificate and that trusted/csca.der is the CSCA.
func Load(dir string) (*PKI, error) {
	p := &PKI{}
	for _, f := range p.files() {
		cert, err := loadCert(filepath.Join(dir, f.base+".pem"))
		if err != nil {
			return nil, err
		}
		key, err := loadKey(filepath.Join(dir, f.base+".key"))
		if err != nil {
			return nil, err
		}
		if !key.PublicKey.Equal(cert.PublicKey) {
			return nil, fmt.Errorf("testpki: %s.key does not belong to %s.pem", f.base, f.base)
		}
		*f.s = &Signer{Cert: cert, Key: key}
	}
	trusted, err := os.ReadFile(filepath.Join(dir, TrustedDir, "csca.der"))
	if err != nil {
		return nil, fmt.Errorf("testpki: %w", err)
	}
	if !bytes.Equal(trusted, p.CSCA.Cert.Raw) {
		return nil, fmt.Errorf("testpki: %s/csca.der is not csca.pem", TrustedDir)
	}
	return p, nil
}

// pemBlock reads the single PEM block of the given type in path.
func pemBlock(path, typ string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("testpki: %w", err)
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != typ || len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("testpki: %s: want exactly one PEM %s block", path, typ)
	}
	return block.Bytes, nil
}

func loadCert(path string) (*x509.Certificate, error) {
	der, err := pemBlock(path, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("testpki: %s: %w", path, err)
	}
	return c, nil
}

func loadKey(path string) (*rsa.PrivateKey, error) {
	der, err := pemBlock(path, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("testpki: %s: %w", path, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("testpki: %s: %T, want an RSA key", path, k)
	}
	return rk, nil
}

// readme is written by Save as README.md.
const readme = `# Test PKI (NOT a real authority)

Generated by package reader/testpki for tests and the virtual CIE. Every
subject says "Varco TEST" and the private keys are public: never trust
these certificates outside tests.

Regenerate (this changes every key and certificate):

    go run ./cmd/varco card pki -out testdata/pki

or, without the CLI: ` + "`go test ./reader/testpki -run TestCommittedPKI -update`" + `.

| file | what it is |
|---|---|
| ` + "`csca.pem`, `csca.key`" + ` | test CSCA: self-signed, CA, RSA-2048, SKI set, valid 2020-01-01 to 2045-01-01 |
| ` + "`ds-2016.pem`, `ds-2016.key`" + ` | document signer for 2016-profile SODs, issued by the CSCA with sha256WithRSAEncryption, valid 2024-01-01 to 2040-01-01 |
| ` + "`ds-2022.pem`, `ds-2022.key`" + ` | document signer for 2022-profile SODs, issued by the CSCA with RSASSA-PSS SHA-512 salt 64, valid 2024-01-01 to 2040-01-01 |
| ` + "`ds-expired.pem`, `ds-expired.key`" + ` | document signer issued by the CSCA, valid 2015-01-01 to 2020-01-01 only: its SODs fail with ErrDSExpired |
| ` + "`csca-rogue.pem`, `csca-rogue.key`" + ` | a second self-signed CSCA that is NOT trusted |
| ` + "`ds-rogue.pem`, `ds-rogue.key`" + ` | document signer issued by the rogue CSCA: its SODs fail with ErrUnknownCSCA |
| ` + "`trusted/csca.der`" + ` | the test CSCA alone, DER: pass this directory as the CSCA directory (` + "`--csca testdata/pki/trusted`" + `) |

Keys are PKCS#8 PEM, certificates PEM. Each DS carries an Authority Key
Identifier equal to its CSCA's Subject Key Identifier, which is how a
verifier picks the CSCA.
`
