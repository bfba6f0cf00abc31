package testpki

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"fmt"
	"slices"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/varco-access/varco/reader"
)

// Object identifiers, written out here rather than taken from package
// reader so that the builder checks the parser instead of sharing its
// mistakes.
var (
	oidSignedData     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidLDSSecurityObj = asn1.ObjectIdentifier{2, 23, 136, 1, 1, 1}
	oidContentType    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSHA256         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA512         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidSHA256WithRSA  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidRSAPSS         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidMGF1           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
)

// The ldsVersionInfo a 2022 card carries (LDS 1.8, Unicode 4.0.0).
const (
	ldsVersion     = "0108"
	unicodeVersion = "040000"
)

// pssSalt is the RSASSA-PSS salt length of 2022 cards: the SHA-512 size.
const pssSalt = 64

var (
	tagCtx0 = cbasn1.Tag(0).ContextSpecific().Constructed()
	tagCtx1 = cbasn1.Tag(1).ContextSpecific().Constructed()
	tagCtx2 = cbasn1.Tag(2).ContextSpecific().Constructed()
)

// BuildSOD builds a complete EF.SOD as a card of generation gen carries it
// (CIE.md section 5), signed by ds: the 77 82 LL LL wrapper around a CMS
// ContentInfo with a SignedData v3 holding
//
//   - an LDSSecurityObject (v0 for Gen2016; v1 with ldsVersionInfo "0108" /
//     "040000" for Gen2022) listing, for each key of files in ascending
//     order, the key as a one-byte INTEGER and the hash of the value (SHA-256
//     or SHA-512);
//   - ds's certificate;
//   - one SignerInfo naming ds by issuer and serial number, with the signed
//     attributes contentType and messageDigest, signed with
//     sha256WithRSAEncryption (Gen2016) or RSASSA-PSS SHA-512 salt 64
//     (Gen2022).
//
// The keys of files are data group numbers such as reader.DGNIS (0xA1, the
// 12 NIS bytes) and reader.DGKey (0xA5, the public key file cut at its TLV
// length). Any signer may be used with either generation.
func BuildSOD(ds *Signer, gen reader.Generation, files map[byte][]byte) ([]byte, error) {
	if ds == nil || ds.Cert == nil || ds.Key == nil {
		return nil, fmt.Errorf("testpki: BuildSOD: signer needs a certificate and a key")
	}
	h := gen.Hash()
	if h == 0 {
		return nil, fmt.Errorf("testpki: BuildSOD: unknown generation %v", gen)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("testpki: BuildSOD: no data groups")
	}
	hashOID := oidSHA256
	if h == crypto.SHA512 {
		hashOID = oidSHA512
	}

	lds, err := buildLDS(gen, h, hashOID, files)
	if err != nil {
		return nil, err
	}

	// Signed attributes, each encoded alone and sorted as DER requires of a
	// SET OF; the signature covers them under the SET tag 31, the file
	// carries them under the [0] IMPLICIT tag A0.
	ct := derOf(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidContentType)
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidLDSSecurityObj) })
		})
	})
	md := derOf(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidMessageDigest)
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddASN1OctetString(digest(h, lds)) })
		})
	})
	attrs := [][]byte{ct, md}
	slices.SortFunc(attrs, bytes.Compare)
	attrsContent := bytes.Join(attrs, nil)
	signed := derOf(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(attrsContent) })
	})

	var sig []byte
	switch gen {
	case reader.Gen2016:
		sig, err = rsa.SignPKCS1v15(rand.Reader, ds.Key, h, digest(h, signed))
	case reader.Gen2022:
		sig, err = rsa.SignPSS(rand.Reader, ds.Key, h, digest(h, signed), &rsa.PSSOptions{SaltLength: pssSalt, Hash: h})
	}
	if err != nil {
		return nil, fmt.Errorf("testpki: BuildSOD: sign: %w", err)
	}

	addDigestAlg := func(b *cryptobyte.Builder) { // no parameters, as the real card
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(hashOID) })
	}
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.Tag(0x77), func(b *cryptobyte.Builder) { // placeholder: re-wrapped below
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
			b.AddASN1ObjectIdentifier(oidSignedData)
			b.AddASN1(tagCtx0, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
					b.AddASN1Int64(3)
					b.AddASN1(cbasn1.SET, addDigestAlg)
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // encapContentInfo
						b.AddASN1ObjectIdentifier(oidLDSSecurityObj)
						b.AddASN1(tagCtx0, func(b *cryptobyte.Builder) { b.AddASN1OctetString(lds) })
					})
					// certificates: the DS alone
					b.AddASN1(tagCtx0, func(b *cryptobyte.Builder) { b.AddBytes(ds.Cert.Raw) })
					// signerInfos: one SignerInfo
					b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1Int64(1)
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // issuerAndSerialNumber
								b.AddBytes(ds.Cert.RawIssuer)
								b.AddASN1BigInt(ds.Cert.SerialNumber)
							})
							addDigestAlg(b)
							b.AddASN1(tagCtx0, func(b *cryptobyte.Builder) { b.AddBytes(attrsContent) })
							addSigAlg(b, gen)
							b.AddASN1OctetString(sig)
						})
					})
				})
			})
		})
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("testpki: BuildSOD: %w", err)
	}
	// cryptobyte writes the shortest length; real cards always use the
	// two-byte form 77 82 LL LL.
	in := cryptobyte.String(der)
	var body cryptobyte.String
	if !in.ReadASN1(&body, cbasn1.Tag(0x77)) || len(body) > 0xFFFF {
		return nil, fmt.Errorf("testpki: BuildSOD: EF.SOD of %d bytes does not fit 77 82 LL LL", len(der))
	}
	return append([]byte{0x77, 0x82, byte(len(body) >> 8), byte(len(body))}, body...), nil
}

// buildLDS encodes the LDSSecurityObject (ICAO Doc 9303-10 4.6.2.3).
func buildLDS(gen reader.Generation, h crypto.Hash, hashOID asn1.ObjectIdentifier, files map[byte][]byte) ([]byte, error) {
	dgs := make([]byte, 0, len(files))
	for dg := range files {
		dgs = append(dgs, dg)
	}
	slices.Sort(dgs)
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		if gen == reader.Gen2022 {
			b.AddASN1Int64(1)
		} else {
			b.AddASN1Int64(0)
		}
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(hashOID) })
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			for _, dg := range dgs {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					// The number is the INTEGER's one content byte: A1..A5
					// are negative as INTEGERs, which is how cards encode them.
					b.AddASN1(cbasn1.INTEGER, func(b *cryptobyte.Builder) { b.AddUint8(dg) })
					b.AddASN1OctetString(digest(h, files[dg]))
				})
			}
		})
		if gen == reader.Gen2022 {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.PrintableString, func(b *cryptobyte.Builder) { b.AddBytes([]byte(ldsVersion)) })
				b.AddASN1(cbasn1.PrintableString, func(b *cryptobyte.Builder) { b.AddBytes([]byte(unicodeVersion)) })
			})
		}
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("testpki: BuildSOD: LDSSecurityObject: %w", err)
	}
	return der, nil
}

// addSigAlg adds the SignerInfo signatureAlgorithm of gen: PKCS#1 v1.5
// with NULL parameters, or RSASSA-PSS with explicit SHA-512 parameters as
// the real 2022 card has them.
func addSigAlg(b *cryptobyte.Builder, gen reader.Generation) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		if gen == reader.Gen2016 {
			b.AddASN1ObjectIdentifier(oidSHA256WithRSA)
			b.AddASN1NULL()
			return
		}
		sha512 := func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oidSHA512)
				b.AddASN1NULL()
			})
		}
		b.AddASN1ObjectIdentifier(oidRSAPSS)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(tagCtx0, sha512)
			b.AddASN1(tagCtx1, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidMGF1)
					sha512(b)
				})
			})
			b.AddASN1(tagCtx2, func(b *cryptobyte.Builder) { b.AddASN1Int64(pssSalt) })
		})
	})
}

// derOf runs f on a fresh builder; the encodings built here cannot fail.
func derOf(f cryptobyte.BuilderContinuation) []byte {
	b := cryptobyte.NewBuilder(nil)
	f(b)
	return b.BytesOrPanic()
}

func digest(h crypto.Hash, b []byte) []byte {
	w := h.New()
	w.Write(b)
	return w.Sum(nil)
}
