package reader

import (
	"crypto/rsa"
	"crypto/x509"
	"fmt"
)

// Key sizes accepted for the card's "servizi" key. CIE 3.0 cards carry
// RSA-2048; smaller keys are refused.
const (
	minKeyBits = 2048
	maxKeyBits = 4096
)

// ParsePublicKeyFile parses EF.Servizi_Int.Kpub: a DER PKCS#1 RSAPublicKey
// possibly followed by padding bytes (CIE.md section 2). It returns the key
// and the DER cut at the outer TLV's length, which is what is hashed for the
// SOD (data group A5) and for the whitelist entry. Errors wrap ErrKeyFile
// and say what is wrong.
func ParsePublicKeyFile(b []byte) (*rsa.PublicKey, []byte, error) {
	tag, h, n, err := TLVHeader(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	if tag != 0x30 {
		return nil, nil, fmt.Errorf("%w: outer tag %X, want 30 (SEQUENCE)", ErrKeyFile, tag)
	}
	if h+n > len(b) {
		return nil, nil, fmt.Errorf("%w: truncated: TLV says %d bytes, file has %d", ErrKeyFile, h+n, len(b))
	}
	der := b[: h+n : h+n]
	pub, err := x509.ParsePKCS1PublicKey(der)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	if bits := pub.N.BitLen(); bits < minKeyBits || bits > maxKeyBits {
		return nil, nil, fmt.Errorf("%w: RSA key of %d bits (want %d..%d)", ErrKeyFile, bits, minKeyBits, maxKeyBits)
	}
	return pub, der, nil
}
