package reader

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	_ "crypto/sha1" // SHA-1 and SHA-224/256/384/512 back the crypto.Hash values below
	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Generation is a CIE card generation, told apart by how its EF.SOD is built
// and signed (CIE.md section 5). Its value is the year the profile appeared,
// so the zero value is not a generation.
type Generation int

// The two EF.SOD profiles CIE 3.0 cards use.
const (
	// Gen2016 cards carry an LDSSecurityObject v0 with SHA-256 hashes,
	// signed with RSA PKCS#1 v1.5 (sha256WithRSAEncryption; sha1WithRSA and
	// bare rsaEncryption are also accepted, always with a SHA-256 digest).
	Gen2016 Generation = 2016
	// Gen2022 cards carry an LDSSecurityObject v1 with SHA-512 hashes,
	// signed with RSASSA-PSS, SHA-512, MGF1-SHA-512, salt 64.
	Gen2022 Generation = 2022
)

// String returns "2016" or "2022", the form ParseGeneration accepts.
func (g Generation) String() string {
	switch g {
	case Gen2016, Gen2022:
		return strconv.Itoa(int(g))
	}
	return fmt.Sprintf("Generation(%d)", int(g))
}

// Hash returns the hash the generation uses for the data groups and the CMS
// digest (SHA-256 or SHA-512), or 0 if g is not a known generation.
func (g Generation) Hash() crypto.Hash {
	switch g {
	case Gen2016:
		return crypto.SHA256
	case Gen2022:
		return crypto.SHA512
	}
	return 0
}

// ParseGeneration parses the String form of a Generation ("2016", "2022").
func ParseGeneration(s string) (Generation, error) {
	switch s {
	case "2016":
		return Gen2016, nil
	case "2022":
		return Gen2022, nil
	}
	return 0, fmt.Errorf("reader: unknown CIE generation %q (want 2016 or 2022)", s)
}

// Data group numbers of the CIE's own EF.SOD (CIE.md section 5). They are
// one-byte INTEGERs whose content byte is the number; A1..A5 would decode as
// negative numbers, so SOD.DataGroups is keyed by the raw byte.
const (
	DGNIS     = 0xA1 // EF.ID_Servizi: the 12 NIS bytes
	DGSerial  = 0xA2 // EF.Seriale
	DGCertCIE = 0xA3 // EF.Cert_CIE
	DGIntKpub = 0xA4 // EF.Int.Kpub
	DGKey     = 0xA5 // EF.Servizi_Int.Kpub cut at its TLV length
	DGDH      = 0x1B // Diffie-Hellman parameters
)

// Object identifiers: CMS (RFC 5652), PKCS#1 (RFC 8017), NIST hashes and the
// ICAO LDSSecurityObject (Doc 9303-10).
var (
	oidSODSignedData     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidSODLDSSecurityObj = asn1.ObjectIdentifier{2, 23, 136, 1, 1, 1}
	oidSODContentType    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidSODMessageDigest  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSODRSAEncryption  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidSODMGF1           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidSODRSAPSS         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
)

// sodHashes maps digest algorithm OIDs to hashes. SHA-1 and SHA-224 parse so
// that a SOD using them can be described; no generation accepts them for the
// data groups or the CMS digest.
var sodHashes = []struct {
	oid  asn1.ObjectIdentifier
	hash crypto.Hash
}{
	{asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}, crypto.SHA1},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}, crypto.SHA224},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}, crypto.SHA256},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}, crypto.SHA384},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}, crypto.SHA512},
}

// sodPKCS1 maps PKCS#1 v1.5 signature OIDs to the hash they name (0 for bare
// rsaEncryption, where the SignerInfo digest algorithm applies).
var sodPKCS1 = []struct {
	oid  asn1.ObjectIdentifier
	name string
	hash crypto.Hash
}{
	{oidSODRSAEncryption, "rsaEncryption", 0},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}, "sha1WithRSAEncryption", crypto.SHA1},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 14}, "sha224WithRSAEncryption", crypto.SHA224},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, "sha256WithRSAEncryption", crypto.SHA256},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}, "sha384WithRSAEncryption", crypto.SHA384},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}, "sha512WithRSAEncryption", crypto.SHA512},
}

// Bounds on what ParseSOD accepts, well above a real EF.SOD (one DS
// certificate, six data groups, two signed attributes) so that hostile input
// cannot make the parser work for long. The size bound is the one the card
// reads use (maxSOD).
const (
	sodMaxCerts      = 4
	sodMaxDataGroups = 32
	sodMaxAttrs      = 16
	sodMaxDigestAlgs = 8
	sodMaxSalt       = 512
)

// DER tags used below.
var (
	sodTagEF       = cbasn1.Tag(0x77) // the EF.SOD wrapper, application 23
	sodTagCtx0     = cbasn1.Tag(0).ContextSpecific().Constructed()
	sodTagCtx1     = cbasn1.Tag(1).ContextSpecific().Constructed()
	sodTagCtx2     = cbasn1.Tag(2).ContextSpecific().Constructed()
	sodTagCtx3     = cbasn1.Tag(3).ContextSpecific().Constructed()
	sodTagSKI      = cbasn1.Tag(0).ContextSpecific() // SignerIdentifier subjectKeyIdentifier
	sodSignedAttrs = byte(0xA0)                      // [0] IMPLICIT SET OF Attribute
)

// SOD is a parsed EF.SOD. ParseSOD checks its structure only; Verify checks
// what it says. The byte slices alias Raw and must not be modified.
type SOD struct {
	// Raw is the EF.SOD TLV (77 LL ...), a copy of ParseSOD's input cut at
	// the length the wrapper declares.
	Raw []byte
	// EContent is the content of the eContent OCTET STRING: the DER
	// LDSSecurityObject the messageDigest attribute covers.
	EContent []byte
	// LDSVersion is the LDSSecurityObject version: 0 or 1.
	LDSVersion int
	// LDSHash is the hash algorithm of the data group hashes.
	LDSHash crypto.Hash
	// LDSVersionInfo is the ldsVersionInfo of a version 1 object, nil in
	// version 0.
	LDSVersionInfo *LDSVersionInfo
	// DataGroups maps each data group number (the raw one-byte INTEGER
	// content, such as DGNIS = 0xA1) to its hash.
	DataGroups map[byte][]byte
	// Certificates are all the certificates the SignedData embeds.
	Certificates []*x509.Certificate
	// DS is the document-signer certificate: the embedded certificate the
	// SignerInfo names, or the first one if it names none (Verify then fails
	// with ErrSignerMismatch).
	DS *x509.Certificate
	// Signer is the one SignerInfo.
	Signer SignerInfo
}

// LDSVersionInfo is the ldsVersionInfo of an LDSSecurityObject v1.
type LDSVersionInfo struct {
	LDSVersion     string // e.g. "0108"
	UnicodeVersion string // e.g. "040000"
}

// SignerInfo is the CMS SignerInfo of an EF.SOD.
type SignerInfo struct {
	// Version is the CMS version: 1 with an issuer and serial number, 3
	// with a subject key identifier.
	Version int
	// Issuer is the DER Name of the signer's issuer and SerialNumber its
	// certificate serial; both nil when the signer is named by SubjectKeyID.
	Issuer       []byte
	SerialNumber *big.Int
	// SubjectKeyID names the signer when Version is 3.
	SubjectKeyID []byte
	// DigestAlgorithm is the hash of the messageDigest attribute.
	DigestAlgorithm crypto.Hash
	// SignedAttrs is the DER of the signed attributes as in the file, with
	// their [0] IMPLICIT tag A0. The signature covers them with tag 31.
	SignedAttrs []byte
	// MessageDigest is the value of the messageDigest signed attribute.
	MessageDigest []byte
	// SignatureAlgorithm is the signature scheme.
	SignatureAlgorithm SignatureAlgorithm
	// Signature is the signature value.
	Signature []byte
}

// names reports whether the SignerInfo identifies c.
func (si *SignerInfo) names(c *x509.Certificate) bool {
	if si.SerialNumber != nil {
		return bytes.Equal(si.Issuer, c.RawIssuer) && si.SerialNumber.Cmp(c.SerialNumber) == 0
	}
	return len(si.SubjectKeyID) > 0 && bytes.Equal(si.SubjectKeyID, c.SubjectKeyId)
}

// SignatureAlgorithm is an RSA signature scheme named by a CMS
// AlgorithmIdentifier.
type SignatureAlgorithm struct {
	// OID is the algorithm identifier.
	OID asn1.ObjectIdentifier
	// PSS is true for RSASSA-PSS, false for PKCS#1 v1.5.
	PSS bool
	// Hash is the hash the algorithm names; 0 for bare rsaEncryption, where
	// the SignerInfo digest algorithm applies.
	Hash crypto.Hash
	// MGF1Hash and SaltLength are the RSASSA-PSS parameters.
	MGF1Hash   crypto.Hash
	SaltLength int
}

// String names the scheme, e.g. "RSASSA-PSS SHA-512 MGF1-SHA-512 salt 64" or
// "RSA PKCS#1 v1.5 (sha256WithRSAEncryption)".
func (a SignatureAlgorithm) String() string {
	if a.PSS {
		return fmt.Sprintf("RSASSA-PSS %v MGF1-%v salt %d", a.Hash, a.MGF1Hash, a.SaltLength)
	}
	for _, p := range sodPKCS1 {
		if p.oid.Equal(a.OID) {
			return "RSA PKCS#1 v1.5 (" + p.name + ")"
		}
	}
	return "signature algorithm " + a.OID.String()
}

// ParseSOD parses EF.SOD as read from the card: the 77 wrapper around a CMS
// ContentInfo of type signedData, holding an LDSSecurityObject, the
// document-signer certificate and one SignerInfo (CIE.md section 5, step 1).
// Bytes after the wrapper's declared length (file padding) are ignored.
//
// It checks structure only and verifies nothing: see Verify. Errors wrap
// ErrSODTruncated when the input ends before the wrapper says,
// ErrSODUnsupportedAlgorithm for an unknown digest or signature algorithm,
// and ErrSODFormat otherwise.
func ParseSOD(b []byte) (*SOD, error) {
	raw, body, err := sodUnwrap(b)
	if err != nil {
		return nil, err
	}
	s := &SOD{Raw: raw}
	if err := s.parseContentInfo(body); err != nil {
		return nil, err
	}
	return s, nil
}

// sodFormat returns an error wrapping ErrSODFormat.
func sodFormat(format string, args ...any) error {
	return fmt.Errorf("reader: EF.SOD: %s: %w", fmt.Sprintf(format, args...), ErrSODFormat)
}

// sodUnsupported returns an error wrapping ErrSODUnsupportedAlgorithm.
func sodUnsupported(format string, args ...any) error {
	return fmt.Errorf("reader: EF.SOD: %s: %w", fmt.Sprintf(format, args...), ErrSODUnsupportedAlgorithm)
}

// sodUnwrap checks the 77 wrapper (BER length, up to three length bytes) and
// returns a copy of the whole TLV and its value inside the copy.
func sodUnwrap(b []byte) (raw, body []byte, err error) {
	if len(b) == 0 {
		return nil, nil, fmt.Errorf("reader: EF.SOD: empty: %w", ErrSODTruncated)
	}
	if b[0] != byte(sodTagEF) {
		return nil, nil, sodFormat("outer tag %02X, want 77", b[0])
	}
	if len(b) < 2 {
		return nil, nil, fmt.Errorf("reader: EF.SOD: ends inside the 77 header: %w", ErrSODTruncated)
	}
	var n, hdr int
	switch l := b[1]; {
	case l < 0x80:
		n, hdr = int(l), 2
	case l >= 0x81 && l <= 0x83:
		hdr = 2 + int(l&0x7F)
		if len(b) < hdr {
			return nil, nil, fmt.Errorf("reader: EF.SOD: ends inside the 77 header: %w", ErrSODTruncated)
		}
		for _, c := range b[2:hdr] {
			n = n<<8 | int(c)
		}
	default:
		return nil, nil, sodFormat("77 length byte %02X not supported", l)
	}
	if n > maxSOD {
		return nil, nil, sodFormat("77 declares %d bytes, more than the %d accepted", n, maxSOD)
	}
	if len(b) < hdr+n {
		return nil, nil, fmt.Errorf("reader: EF.SOD: 77 declares %d bytes, only %d present: %w", n, len(b)-hdr, ErrSODTruncated)
	}
	raw = append([]byte(nil), b[:hdr+n]...)
	return raw, raw[hdr:], nil
}

// parseContentInfo parses ContentInfo and SignedData (RFC 5652 sections 3
// and 5.1). Only DER is accepted.
func (s *SOD) parseContentInfo(body []byte) error {
	in := cryptobyte.String(body)
	var ci, sdWrap, sd cryptobyte.String
	var ct asn1.ObjectIdentifier
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !in.Empty() {
		return sodFormat("ContentInfo is not one DER SEQUENCE filling the 77 wrapper")
	}
	if !ci.ReadASN1ObjectIdentifier(&ct) {
		return sodFormat("ContentInfo contentType")
	}
	if !ct.Equal(oidSODSignedData) {
		return sodFormat("content type %v, want signedData %v", ct, oidSODSignedData)
	}
	if !ci.ReadASN1(&sdWrap, sodTagCtx0) || !ci.Empty() ||
		!sdWrap.ReadASN1(&sd, cbasn1.SEQUENCE) || !sdWrap.Empty() {
		return sodFormat("ContentInfo content is not [0] SignedData")
	}

	var version int64
	if !sd.ReadASN1Integer(&version) {
		return sodFormat("SignedData version")
	}
	if version != 3 { // ICAO Doc 9303-10 4.6.2.2: SignedData v3
		return sodFormat("SignedData version %d, want 3", version)
	}

	var digestAlgs cryptobyte.String
	if !sd.ReadASN1(&digestAlgs, cbasn1.SET) {
		return sodFormat("SignedData digestAlgorithms")
	}
	var digests []crypto.Hash
	for !digestAlgs.Empty() {
		if len(digests) == sodMaxDigestAlgs {
			return sodFormat("more than %d digestAlgorithms", sodMaxDigestAlgs)
		}
		h, err := sodReadDigestAlg(&digestAlgs, "SignedData digestAlgorithms")
		if err != nil {
			return err
		}
		digests = append(digests, h)
	}

	var eci, ecWrap, ec cryptobyte.String
	var ect asn1.ObjectIdentifier
	if !sd.ReadASN1(&eci, cbasn1.SEQUENCE) || !eci.ReadASN1ObjectIdentifier(&ect) {
		return sodFormat("encapContentInfo")
	}
	if !ect.Equal(oidSODLDSSecurityObj) {
		return sodFormat("eContentType %v, want LDSSecurityObject %v", ect, oidSODLDSSecurityObj)
	}
	if !eci.ReadASN1(&ecWrap, sodTagCtx0) || !eci.Empty() ||
		!ecWrap.ReadASN1(&ec, cbasn1.OCTET_STRING) || !ecWrap.Empty() {
		return sodFormat("eContent is not [0] OCTET STRING")
	}
	s.EContent = ec
	if err := s.parseLDS(ec); err != nil {
		return err
	}

	var certs cryptobyte.String
	var hasCerts bool
	if !sd.ReadOptionalASN1(&certs, &hasCerts, sodTagCtx0) {
		return sodFormat("SignedData certificates")
	}
	if !hasCerts {
		return sodFormat("no document-signer certificate embedded")
	}
	for !certs.Empty() {
		if len(s.Certificates) == sodMaxCerts {
			return sodFormat("more than %d certificates", sodMaxCerts)
		}
		var der cryptobyte.String
		if !certs.ReadASN1Element(&der, cbasn1.SEQUENCE) {
			return sodFormat("certificate %d is not an X.509 Certificate", len(s.Certificates))
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return sodFormat("certificate %d: %v", len(s.Certificates), err)
		}
		s.Certificates = append(s.Certificates, c)
	}
	if len(s.Certificates) == 0 {
		return sodFormat("no document-signer certificate embedded")
	}
	if !sd.SkipOptionalASN1(sodTagCtx1) { // crls: not used, the CSCA CRL comes from elsewhere
		return sodFormat("SignedData crls")
	}

	var sis, si cryptobyte.String
	if !sd.ReadASN1(&sis, cbasn1.SET) || !sd.Empty() {
		return sodFormat("SignedData signerInfos")
	}
	if !sis.ReadASN1(&si, cbasn1.SEQUENCE) {
		return sodFormat("no SignerInfo")
	}
	if !sis.Empty() {
		return sodFormat("more than one SignerInfo")
	}
	if err := s.Signer.parse(si); err != nil {
		return err
	}
	listed := false
	for _, h := range digests {
		listed = listed || h == s.Signer.DigestAlgorithm
	}
	if !listed {
		return sodFormat("SignerInfo digest %v not among SignedData digestAlgorithms", s.Signer.DigestAlgorithm)
	}

	s.DS = s.Certificates[0]
	for _, c := range s.Certificates {
		if s.Signer.names(c) {
			s.DS = c
			break
		}
	}
	return nil
}

// parseLDS parses the LDSSecurityObject (ICAO Doc 9303-10 4.6.2.3).
func (s *SOD) parseLDS(ec []byte) error {
	in := cryptobyte.String(ec)
	var lds cryptobyte.String
	if !in.ReadASN1(&lds, cbasn1.SEQUENCE) || !in.Empty() {
		return sodFormat("eContent is not one DER LDSSecurityObject")
	}
	var version int64
	if !lds.ReadASN1Integer(&version) {
		return sodFormat("LDSSecurityObject version")
	}
	if version != 0 && version != 1 {
		return sodFormat("LDSSecurityObject version %d, want 0 or 1", version)
	}
	s.LDSVersion = int(version)
	h, err := sodReadDigestAlg(&lds, "LDSSecurityObject hashAlgorithm")
	if err != nil {
		return err
	}
	s.LDSHash = h

	var dgs cryptobyte.String
	if !lds.ReadASN1(&dgs, cbasn1.SEQUENCE) {
		return sodFormat("LDSSecurityObject dataGroupHashValues")
	}
	s.DataGroups = make(map[byte][]byte)
	for !dgs.Empty() {
		if len(s.DataGroups) == sodMaxDataGroups {
			return sodFormat("more than %d data groups", sodMaxDataGroups)
		}
		var dg, num, hash cryptobyte.String
		if !dgs.ReadASN1(&dg, cbasn1.SEQUENCE) ||
			!dg.ReadASN1(&num, cbasn1.INTEGER) ||
			!dg.ReadASN1(&hash, cbasn1.OCTET_STRING) || !dg.Empty() {
			return sodFormat("DataGroupHash %d", len(s.DataGroups))
		}
		if len(num) != 1 {
			return sodFormat("data group number of %d bytes, want 1", len(num))
		}
		if len(hash) != h.Size() {
			return sodFormat("data group %02X hash of %d bytes, want %d for %v", num[0], len(hash), h.Size(), h)
		}
		if _, dup := s.DataGroups[num[0]]; dup {
			return sodFormat("data group %02X listed twice", num[0])
		}
		s.DataGroups[num[0]] = hash
	}
	if len(s.DataGroups) == 0 {
		return sodFormat("no data group hashes")
	}

	if !lds.Empty() {
		var vi, lv, uv cryptobyte.String
		if !lds.ReadASN1(&vi, cbasn1.SEQUENCE) || !lds.Empty() ||
			!vi.ReadASN1(&lv, cbasn1.PrintableString) ||
			!vi.ReadASN1(&uv, cbasn1.PrintableString) || !vi.Empty() {
			return sodFormat("LDSSecurityObject ldsVersionInfo")
		}
		s.LDSVersionInfo = &LDSVersionInfo{LDSVersion: string(lv), UnicodeVersion: string(uv)}
	}
	if (s.LDSVersion == 1) != (s.LDSVersionInfo != nil) {
		return sodFormat("LDSSecurityObject v%d must have ldsVersionInfo exactly when v1", s.LDSVersion)
	}
	return nil
}

// parse parses a SignerInfo (RFC 5652 section 5.3).
func (si *SignerInfo) parse(in cryptobyte.String) error {
	var version int64
	if !in.ReadASN1Integer(&version) {
		return sodFormat("SignerInfo version")
	}
	si.Version = int(version)
	switch {
	case version == 1 && in.PeekASN1Tag(cbasn1.SEQUENCE):
		var ias, issuer cryptobyte.String
		serial := new(big.Int)
		if !in.ReadASN1(&ias, cbasn1.SEQUENCE) ||
			!ias.ReadASN1Element(&issuer, cbasn1.SEQUENCE) ||
			!ias.ReadASN1Integer(serial) || !ias.Empty() {
			return sodFormat("SignerInfo issuerAndSerialNumber")
		}
		si.Issuer, si.SerialNumber = issuer, serial
	case version == 3 && in.PeekASN1Tag(sodTagSKI):
		var ski cryptobyte.String
		if !in.ReadASN1(&ski, sodTagSKI) || len(ski) == 0 {
			return sodFormat("SignerInfo subjectKeyIdentifier")
		}
		si.SubjectKeyID = ski
	default:
		return sodFormat("SignerInfo version %d with an unexpected signer identifier", version)
	}

	h, err := sodReadDigestAlg(&in, "SignerInfo digestAlgorithm")
	if err != nil {
		return err
	}
	si.DigestAlgorithm = h

	// CMS requires signed attributes whenever eContentType is not id-data.
	var attrs cryptobyte.String
	if !in.ReadASN1Element(&attrs, cbasn1.Tag(sodSignedAttrs)) {
		return sodFormat("SignerInfo has no signed attributes")
	}
	si.SignedAttrs = attrs
	if err := si.parseAttrs(attrs); err != nil {
		return err
	}

	oid, params, ok := sodReadAlgID(&in)
	if !ok {
		return sodFormat("SignerInfo signatureAlgorithm")
	}
	if si.SignatureAlgorithm, err = sodParseSigAlg(oid, params); err != nil {
		return err
	}
	var sig cryptobyte.String
	if !in.ReadASN1(&sig, cbasn1.OCTET_STRING) || len(sig) == 0 {
		return sodFormat("SignerInfo signature")
	}
	si.Signature = sig
	if !in.SkipOptionalASN1(sodTagCtx1) || !in.Empty() { // unsignedAttrs: ignored
		return sodFormat("trailing data in SignerInfo")
	}
	return nil
}

// parseAttrs checks the signed attributes: contentType must be the
// LDSSecurityObject, messageDigest must be present, each type at most once.
// Other attributes (signingTime, ...) are allowed: the signature covers them.
func (si *SignerInfo) parseAttrs(el cryptobyte.String) error {
	var attrs cryptobyte.String
	if !el.ReadASN1(&attrs, cbasn1.Tag(sodSignedAttrs)) {
		return sodFormat("signed attributes")
	}
	var seen []asn1.ObjectIdentifier
	var hasContentType bool
	for !attrs.Empty() {
		if len(seen) == sodMaxAttrs {
			return sodFormat("more than %d signed attributes", sodMaxAttrs)
		}
		var a, vals cryptobyte.String
		var typ asn1.ObjectIdentifier
		if !attrs.ReadASN1(&a, cbasn1.SEQUENCE) || !a.ReadASN1ObjectIdentifier(&typ) ||
			!a.ReadASN1(&vals, cbasn1.SET) || !a.Empty() {
			return sodFormat("signed attribute %d", len(seen))
		}
		for _, t := range seen {
			if t.Equal(typ) {
				return sodFormat("signed attribute %v listed twice", typ)
			}
		}
		seen = append(seen, typ)
		switch {
		case typ.Equal(oidSODContentType):
			var ct asn1.ObjectIdentifier
			if !vals.ReadASN1ObjectIdentifier(&ct) || !vals.Empty() {
				return sodFormat("contentType attribute")
			}
			if !ct.Equal(oidSODLDSSecurityObj) {
				return sodFormat("contentType attribute %v, want %v", ct, oidSODLDSSecurityObj)
			}
			hasContentType = true
		case typ.Equal(oidSODMessageDigest):
			var md cryptobyte.String
			if !vals.ReadASN1(&md, cbasn1.OCTET_STRING) || !vals.Empty() {
				return sodFormat("messageDigest attribute")
			}
			si.MessageDigest = md
		}
	}
	if !hasContentType || si.MessageDigest == nil {
		return sodFormat("signed attributes lack contentType or messageDigest")
	}
	return nil
}

// sodReadAlgID reads an AlgorithmIdentifier: its OID and its parameters as
// a whole element (nil when absent).
func sodReadAlgID(in *cryptobyte.String) (oid asn1.ObjectIdentifier, params cryptobyte.String, ok bool) {
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1ObjectIdentifier(&oid) {
		return nil, nil, false
	}
	if !seq.Empty() {
		var tag cbasn1.Tag
		if !seq.ReadAnyASN1Element(&params, &tag) || !seq.Empty() {
			return nil, nil, false
		}
	}
	return oid, params, true
}

// sodNullOrAbsent reports whether AlgorithmIdentifier parameters are absent
// or NULL, the two encodings in use for hashes and PKCS#1 signatures.
func sodNullOrAbsent(params []byte) bool {
	return params == nil || bytes.Equal(params, []byte{0x05, 0x00})
}

// sodReadDigestAlg reads a digest AlgorithmIdentifier and maps it to a hash.
func sodReadDigestAlg(in *cryptobyte.String, what string) (crypto.Hash, error) {
	oid, params, ok := sodReadAlgID(in)
	if !ok || !sodNullOrAbsent(params) {
		return 0, sodFormat("%s", what)
	}
	return sodHashOID(oid, what)
}

// sodHashOID maps a digest OID to a hash.
func sodHashOID(oid asn1.ObjectIdentifier, what string) (crypto.Hash, error) {
	for _, h := range sodHashes {
		if h.oid.Equal(oid) {
			return h.hash, nil
		}
	}
	return 0, sodUnsupported("%s %v", what, oid)
}

// sodParseSigAlg maps a signature AlgorithmIdentifier to a scheme. PSS
// parameters follow RFC 4055 section 3.1, defaults included.
func sodParseSigAlg(oid asn1.ObjectIdentifier, params cryptobyte.String) (SignatureAlgorithm, error) {
	for _, p := range sodPKCS1 {
		if p.oid.Equal(oid) {
			if !sodNullOrAbsent(params) {
				return SignatureAlgorithm{}, sodFormat("%s parameters", p.name)
			}
			return SignatureAlgorithm{OID: oid, Hash: p.hash}, nil
		}
	}
	if !oid.Equal(oidSODRSAPSS) {
		return SignatureAlgorithm{}, sodUnsupported("signature algorithm %v", oid)
	}
	a := SignatureAlgorithm{OID: oid, PSS: true, Hash: crypto.SHA1, MGF1Hash: crypto.SHA1, SaltLength: 20}
	var p cryptobyte.String
	if !params.ReadASN1(&p, cbasn1.SEQUENCE) || !params.Empty() {
		return a, sodFormat("RSASSA-PSS parameters")
	}
	var err error
	if p.PeekASN1Tag(sodTagCtx0) {
		var w cryptobyte.String
		if !p.ReadASN1(&w, sodTagCtx0) {
			return a, sodFormat("RSASSA-PSS hashAlgorithm")
		}
		if a.Hash, err = sodReadDigestAlg(&w, "RSASSA-PSS hashAlgorithm"); err != nil {
			return a, err
		}
		if !w.Empty() {
			return a, sodFormat("RSASSA-PSS hashAlgorithm")
		}
	}
	if p.PeekASN1Tag(sodTagCtx1) {
		var w cryptobyte.String
		if !p.ReadASN1(&w, sodTagCtx1) {
			return a, sodFormat("RSASSA-PSS maskGenAlgorithm")
		}
		mgf, mgfParams, ok := sodReadAlgID(&w)
		if !ok || !w.Empty() {
			return a, sodFormat("RSASSA-PSS maskGenAlgorithm")
		}
		if !mgf.Equal(oidSODMGF1) {
			return a, sodUnsupported("RSASSA-PSS mask generation %v", mgf)
		}
		if a.MGF1Hash, err = sodReadDigestAlg(&mgfParams, "RSASSA-PSS MGF1 hash"); err != nil {
			return a, err
		}
		if !mgfParams.Empty() {
			return a, sodFormat("RSASSA-PSS MGF1 hash")
		}
	}
	if p.PeekASN1Tag(sodTagCtx2) {
		var w cryptobyte.String
		var salt int64
		if !p.ReadASN1(&w, sodTagCtx2) || !w.ReadASN1Integer(&salt) || !w.Empty() {
			return a, sodFormat("RSASSA-PSS saltLength")
		}
		if salt < 0 || salt > sodMaxSalt {
			return a, sodFormat("RSASSA-PSS saltLength %d", salt)
		}
		a.SaltLength = int(salt)
	}
	if p.PeekASN1Tag(sodTagCtx3) {
		var w cryptobyte.String
		var trailer int64
		if !p.ReadASN1(&w, sodTagCtx3) || !w.ReadASN1Integer(&trailer) || !w.Empty() {
			return a, sodFormat("RSASSA-PSS trailerField")
		}
		if trailer != 1 {
			return a, sodUnsupported("RSASSA-PSS trailerField %d", trailer)
		}
	}
	if !p.Empty() {
		return a, sodFormat("RSASSA-PSS parameters")
	}
	return a, nil
}

// Generation tells which card generation's profile the SOD follows, or
// fails with ErrSODUnsupportedAlgorithm when it follows neither: every
// algorithm must match the profile of CIE.md section 5.
func (s *SOD) Generation() (Generation, error) {
	a := s.Signer.SignatureAlgorithm
	switch {
	case s.LDSVersion == 1 && s.LDSHash == crypto.SHA512 && s.Signer.DigestAlgorithm == crypto.SHA512 &&
		a.PSS && a.Hash == crypto.SHA512 && a.MGF1Hash == crypto.SHA512 && a.SaltLength == 64:
		return Gen2022, nil
	case s.LDSVersion == 0 && s.LDSHash == crypto.SHA256 && s.Signer.DigestAlgorithm == crypto.SHA256 &&
		!a.PSS && (a.Hash == crypto.SHA256 || a.Hash == crypto.SHA1 || a.Hash == 0):
		return Gen2016, nil
	}
	return 0, sodUnsupported("LDSSecurityObject v%d %v, digest %v, signature %v fit neither the 2016 nor the 2022 profile",
		s.LDSVersion, s.LDSHash, s.Signer.DigestAlgorithm, a)
}

// VerifyOptions configure SOD.Verify.
type VerifyOptions struct {
	// CSCAs are the trust anchors (see LoadCSCAs). Their own signatures
	// are not checked: the 2016 ones are self-signed with SHA-1.
	CSCAs []*x509.Certificate
	// Time is when the certificates must be valid; zero means time.Now().
	Time time.Time
	// NIS, when not nil, must hash to data group A1 (the 12 ASCII digits
	// of EF.ID_Servizi).
	NIS []byte
	// PublicKeyFile, when not nil, must hash to data group A5. It is
	// EF.Servizi_Int.Kpub cut at its outer TLV length, as
	// ParsePublicKeyFile returns it; it is hashed as given.
	PublicKeyFile []byte
}

// SODResult describes a verified EF.SOD.
type SODResult struct {
	// Generation is the profile the SOD follows.
	Generation Generation
	// Hash is the hash of the data groups and of the CMS digest.
	Hash crypto.Hash
	// SignatureAlgorithm names the scheme of the SOD signature as verified,
	// e.g. "RSASSA-PSS SHA-512 MGF1-SHA-512 salt 64".
	SignatureAlgorithm string
	// DSSubject and CSCASubject are the certificates' subjects in RFC 2253
	// form; DSSerial is the DS serial number in upper-case hex.
	DSSubject   string
	DSSerial    string
	CSCASubject string
	// DS and CSCA are the document signer and the trust anchor it chains to.
	DS, CSCA *x509.Certificate
	// CheckedDataGroups lists the data groups checked against card data
	// (A1 if NIS was given, A5 if PublicKeyFile was).
	CheckedDataGroups []byte
}

// VerifySOD parses EF.SOD and verifies it: ParseSOD followed by Verify.
func VerifySOD(b []byte, opts VerifyOptions) (*SODResult, error) {
	s, err := ParseSOD(b)
	if err != nil {
		return nil, err
	}
	return s.Verify(opts)
}

// Verify performs passive authentication (CIE.md section 5, steps 2 to 6),
// stopping at the first failure; each failure wraps its own sentinel:
//
//   - the algorithms match a generation's profile, else ErrSODUnsupportedAlgorithm;
//   - messageDigest = H(eContent), else ErrSODDigest;
//   - the signature over the signed attributes (tag 31) verifies with the
//     DS public key, else ErrSODSignature;
//   - the SignerInfo names the DS certificate, else ErrSignerMismatch;
//   - a configured CSCA has a Subject Key Identifier equal to the DS
//     Authority Key Identifier, else ErrUnknownCSCA;
//   - the DS certificate's signature verifies with that CSCA's key, else
//     ErrDSCertSignature;
//   - opts.Time is within the DS validity, else ErrDSExpired, and within
//     the CSCA validity, else ErrCSCAExpired;
//   - data groups A1 and A5 match opts.NIS and opts.PublicKeyFile when those
//     are given, else ErrNISHash or ErrKeyHash (ErrDataGroupMissing when the
//     data group is absent).
//
// The anti-clone step 7 is VerifyChallenge, with the same public key.
func (s *SOD) Verify(opts VerifyOptions) (*SODResult, error) {
	if s == nil || s.DS == nil {
		return nil, fmt.Errorf("reader: EF.SOD: nothing parsed: %w", ErrSODFormat)
	}
	gen, err := s.Generation()
	if err != nil {
		return nil, err
	}
	now := opts.Time
	if now.IsZero() {
		now = time.Now()
	}

	h := s.Signer.DigestAlgorithm
	if !bytes.Equal(sodHash(h, s.EContent), s.Signer.MessageDigest) {
		return nil, fmt.Errorf("reader: EF.SOD: messageDigest is not the %v of the LDSSecurityObject: %w", h, ErrSODDigest)
	}

	sigName, err := s.verifySignature()
	if err != nil {
		return nil, err
	}

	if !s.Signer.names(s.DS) {
		return nil, fmt.Errorf("reader: EF.SOD: SignerInfo does not name the DS certificate (serial %X): %w",
			s.DS.SerialNumber, ErrSignerMismatch)
	}

	csca, err := sodChain(s.DS, opts.CSCAs, now)
	if err != nil {
		return nil, err
	}

	res := &SODResult{
		Generation:         gen,
		Hash:               s.LDSHash,
		SignatureAlgorithm: sigName,
		DSSubject:          s.DS.Subject.String(),
		DSSerial:           fmt.Sprintf("%X", s.DS.SerialNumber),
		CSCASubject:        csca.Subject.String(),
		DS:                 s.DS,
		CSCA:               csca,
	}
	if opts.NIS != nil {
		if err := s.checkDG(DGNIS, opts.NIS, ErrNISHash); err != nil {
			return nil, err
		}
		res.CheckedDataGroups = append(res.CheckedDataGroups, DGNIS)
	}
	if opts.PublicKeyFile != nil {
		if err := s.checkDG(DGKey, opts.PublicKeyFile, ErrKeyHash); err != nil {
			return nil, err
		}
		res.CheckedDataGroups = append(res.CheckedDataGroups, DGKey)
	}
	return res, nil
}

// sodHash returns H(b).
func sodHash(h crypto.Hash, b []byte) []byte {
	w := h.New()
	w.Write(b)
	return w.Sum(nil)
}

// verifySignature verifies the SignerInfo signature over the signed
// attributes re-tagged as SET (RFC 5652 section 5.4) and names the scheme
// that verified.
func (s *SOD) verifySignature() (string, error) {
	pub, ok := s.DS.PublicKey.(*rsa.PublicKey)
	if !ok {
		return "", sodUnsupported("DS public key is %T, want RSA", s.DS.PublicKey)
	}
	msg := append([]byte{byte(cbasn1.SET)}, s.Signer.SignedAttrs[1:]...)
	a := s.Signer.SignatureAlgorithm
	if a.PSS {
		if a.Hash != a.MGF1Hash || a.SaltLength <= 0 { // Generation already refuses these
			return "", sodUnsupported("signature %v", a)
		}
		opts := &rsa.PSSOptions{SaltLength: a.SaltLength, Hash: a.Hash}
		if err := rsa.VerifyPSS(pub, a.Hash, sodHash(a.Hash, msg), s.Signer.Signature, opts); err != nil {
			return "", fmt.Errorf("reader: EF.SOD: %v signature: %v: %w", a, err, ErrSODSignature)
		}
		return a.String(), nil
	}
	// PKCS#1 v1.5: the hash the OID names; bare rsaEncryption uses the
	// SignerInfo digest. Some signers write sha1WithRSA with a SHA-256
	// digest, so the SignerInfo digest is tried too: either way the DS key
	// signed exactly these attributes.
	hashes := []crypto.Hash{a.Hash}
	if a.Hash == 0 {
		hashes[0] = s.Signer.DigestAlgorithm
	} else if a.Hash != s.Signer.DigestAlgorithm {
		hashes = append(hashes, s.Signer.DigestAlgorithm)
	}
	var err error
	for _, h := range hashes {
		if err = rsa.VerifyPKCS1v15(pub, h, sodHash(h, msg), s.Signer.Signature); err == nil {
			return fmt.Sprintf("RSA PKCS#1 v1.5 %v", h), nil
		}
	}
	return "", fmt.Errorf("reader: EF.SOD: %v signature: %v: %w", a, err, ErrSODSignature)
}

// sodChain finds the CSCA that signed ds (CIE.md section 5, step 5). CSCAs
// are trust anchors: their self-signatures are not checked. Several anchors
// may share a key identifier (a re-issued CSCA); any one that signed ds and
// is valid at now will do.
func sodChain(ds *x509.Certificate, cscas []*x509.Certificate, now time.Time) (*x509.Certificate, error) {
	if len(ds.AuthorityKeyId) == 0 {
		return nil, fmt.Errorf("reader: EF.SOD: DS certificate has no Authority Key Identifier: %w", ErrUnknownCSCA)
	}
	var signers []*x509.Certificate
	var sigErr error
	matched := 0
	for _, c := range cscas {
		if c == nil || len(c.SubjectKeyId) == 0 || !bytes.Equal(c.SubjectKeyId, ds.AuthorityKeyId) {
			continue
		}
		matched++
		// CheckSignature with the anchor's key rather than
		// ds.CheckSignatureFrom(c): the latter would also judge the
		// anchor's CA constraints, which trust configuration already did.
		if err := c.CheckSignature(ds.SignatureAlgorithm, ds.RawTBSCertificate, ds.Signature); err != nil {
			sigErr = err
			continue
		}
		signers = append(signers, c)
	}
	if matched == 0 {
		return nil, fmt.Errorf("reader: EF.SOD: no configured CSCA has key identifier %X (of %d configured): %w",
			ds.AuthorityKeyId, len(cscas), ErrUnknownCSCA)
	}
	if len(signers) == 0 {
		return nil, fmt.Errorf("reader: EF.SOD: DS certificate (%v) not signed by CSCA %X: %v: %w",
			ds.SignatureAlgorithm, ds.AuthorityKeyId, sigErr, ErrDSCertSignature)
	}
	if now.Before(ds.NotBefore) || now.After(ds.NotAfter) {
		return nil, fmt.Errorf("reader: EF.SOD: DS certificate valid %s to %s, not at %s: %w",
			ds.NotBefore.Format(time.DateOnly), ds.NotAfter.Format(time.DateOnly), now.UTC().Format(time.RFC3339), ErrDSExpired)
	}
	for _, c := range signers {
		if !now.Before(c.NotBefore) && !now.After(c.NotAfter) {
			return c, nil
		}
	}
	c := signers[0]
	return nil, fmt.Errorf("reader: EF.SOD: CSCA %X valid %s to %s, not at %s: %w",
		c.SubjectKeyId, c.NotBefore.Format(time.DateOnly), c.NotAfter.Format(time.DateOnly), now.UTC().Format(time.RFC3339), ErrCSCAExpired)
}

// checkDG compares data group dg with H(content) (CIE.md section 5, step 6).
func (s *SOD) checkDG(dg byte, content []byte, mismatch error) error {
	want, ok := s.DataGroups[dg]
	if !ok {
		return fmt.Errorf("reader: EF.SOD: data group %02X: %w", dg, ErrDataGroupMissing)
	}
	if !bytes.Equal(sodHash(s.LDSHash, content), want) {
		return fmt.Errorf("reader: EF.SOD: data group %02X is not the %v of the %d bytes read: %w", dg, s.LDSHash, len(content), mismatch)
	}
	return nil
}
