package reader

import (
	"crypto"
	"crypto/rsa"
	"fmt"
)

// VerifyChallenge checks the card's answer to INTERNAL AUTHENTICATE: sig
// must be the RSA signature, with PKCS#1 v1.5 type 1 padding and no
// DigestInfo, of exactly challenge (CIE.md section 4), under the card's
// public key. The whole recovered block 00 01 FF..FF 00 || challenge is
// compared, not only its tail.
//
// A nil key, an empty challenge, a signature whose length is not the key
// size and a signature that does not verify all wrap ErrChallengeSignature.
func VerifyChallenge(pub *rsa.PublicKey, challenge, sig []byte) error {
	if pub == nil || pub.N == nil {
		return fmt.Errorf("%w: no public key", ErrChallengeSignature)
	}
	if len(challenge) == 0 {
		return fmt.Errorf("%w: empty challenge", ErrChallengeSignature)
	}
	if len(sig) != pub.Size() {
		return fmt.Errorf("%w: signature of %d bytes for a key of %d", ErrChallengeSignature, len(sig), pub.Size())
	}
	// crypto.Hash(0) makes crypto/rsa compare the whole padded block with
	// challenge as the payload, with no DigestInfo prefix.
	if err := rsa.VerifyPKCS1v15(pub, crypto.Hash(0), challenge, sig); err != nil {
		return fmt.Errorf("%w: the answer does not verify with the card key (%v)", ErrChallengeSignature, err)
	}
	return nil
}
