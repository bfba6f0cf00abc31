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
		return fmt.Errorf("reader: challenge: no public key: %w", ErrChallengeSignature)
	}
	if len(challenge) == 0 {
		return fmt.Errorf("reader: challenge: empty challenge: %w", ErrChallengeSignature)
	}
	if len(sig) != pub.Size() {
		return fmt.Errorf("reader: challenge: signature of %d bytes, key of %d: %w", len(sig), pub.Size(), ErrChallengeSignature)
	}
	// crypto.Hash(0) makes crypto/rsa compare the whole padded block with
	// challenge as the payload, with no DigestInfo prefix.
	if err := rsa.VerifyPKCS1v15(pub, crypto.Hash(0), challenge, sig); err != nil {
		return fmt.Errorf("reader: challenge: %v: %w", err, ErrChallengeSignature)
	}
	return nil
}
