package reader_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"math/big"
	"sync"
	"testing"

	"github.com/varco-access/varco/reader"
)

var (
	chalKeysOnce sync.Once
	chalKeys     [2]*rsa.PrivateKey
)

// chalKey returns one of two RSA-2048 keys shared by the challenge tests:
// the card's and another card's.
func chalKey(tb testing.TB, i int) *rsa.PrivateKey {
	tb.Helper()
	chalKeysOnce.Do(func() {
		for j := range chalKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			chalKeys[j] = k
		}
	})
	return chalKeys[i]
}

// chalRaw applies the private key to a full 256-byte block, as a card
// answering INTERNAL AUTHENTICATE does after padding: block^d mod n.
func chalRaw(k *rsa.PrivateKey, block []byte) []byte {
	m := new(big.Int).SetBytes(block)
	s := new(big.Int).Exp(m, k.D, k.N)
	return s.FillBytes(make([]byte, k.Size()))
}

// chalBlock is 00 01 FF..FF 00 || payload, PKCS#1 v1.5 type 1 padding.
func chalBlock(size int, payload []byte) []byte {
	b := bytes.Repeat([]byte{0xFF}, size)
	b[0], b[1] = 0x00, 0x01
	b[size-len(payload)-1] = 0x00
	copy(b[size-len(payload):], payload)
	return b
}

// TestVerifyChallenge checks the anti-clone signature check of CIE.md
// section 4: the card's answer verifies, anything else fails with
// ErrChallengeSignature, including answers that a check of only the tail
// of the recovered block would accept.
func TestVerifyChallenge(t *testing.T) {
	card, other := chalKey(t, 0), chalKey(t, 1)
	challenge := []byte("0123456789abcdef0123456789abcdef") // 32 bytes
	sign := func(k *rsa.PrivateKey, h crypto.Hash, msg []byte) []byte {
		s, err := rsa.SignPKCS1v15(rand.Reader, k, h, msg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := sign(card, crypto.Hash(0), challenge)
	flipped := bytes.Clone(good)
	flipped[100] ^= 0x01
	// The challenge at the end of the block, but not type 1 padding.
	badPad := chalBlock(256, challenge)
	badPad[1] = 0x02
	// Type 1 padding whose payload only ends with the challenge.
	longer := append([]byte{0xAB}, challenge...)

	tests := []struct {
		name      string
		pub       *rsa.PublicKey
		challenge []byte
		sig       []byte
		ok        bool
	}{
		{"card answer", &card.PublicKey, challenge, good, true},
		{"16-byte challenge", &card.PublicKey, challenge[:16], sign(card, crypto.Hash(0), challenge[:16]), true},
		{"answer computed by hand", &card.PublicKey, challenge, chalRaw(card, chalBlock(256, challenge)), true},
		{"other challenge", &card.PublicKey, []byte("0123456789abcdef0123456789abcdeF"), good, false},
		{"challenge prefix", &card.PublicKey, challenge[:31], good, false},
		{"one bit flipped", &card.PublicKey, challenge, flipped, false},
		{"other card's key (a clone)", &other.PublicKey, challenge, good, false},
		{"signed by the other card", &card.PublicKey, challenge, sign(other, crypto.Hash(0), challenge), false},
		{"with a DigestInfo", &card.PublicKey, challenge, sign(card, crypto.SHA256, challenge), false},
		{"tail matches, payload longer", &card.PublicKey, challenge, chalRaw(card, chalBlock(256, longer)), false},
		{"tail matches, padding type 2", &card.PublicKey, challenge, chalRaw(card, badPad), false},
		{"all zero", &card.PublicKey, challenge, make([]byte, 256), false},
		{"signature short by one", &card.PublicKey, challenge, good[1:], false},
		{"signature long by one", &card.PublicKey, challenge, append([]byte{0}, good...), false},
		{"empty signature", &card.PublicKey, challenge, nil, false},
		{"empty challenge", &card.PublicKey, []byte{}, good, false},
		{"nil challenge", &card.PublicKey, nil, good, false},
		{"nil key", nil, challenge, good, false},
		{"key without modulus", &rsa.PublicKey{E: 65537}, challenge, good, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := reader.VerifyChallenge(tt.pub, tt.challenge, tt.sig)
			if tt.ok {
				if err != nil {
					t.Fatalf("VerifyChallenge: %v", err)
				}
				return
			}
			if !errors.Is(err, reader.ErrChallengeSignature) {
				t.Fatalf("VerifyChallenge error %v, want ErrChallengeSignature", err)
			}
		})
	}
}

// FuzzVerifyChallenge checks that VerifyChallenge never panics and never
// accepts a signature other than the card's for the seeded challenge.
func FuzzVerifyChallenge(f *testing.F) {
	card := chalKey(f, 0)
	challenge := []byte("0123456789abcdef")
	good, err := rsa.SignPKCS1v15(rand.Reader, card, crypto.Hash(0), challenge)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(challenge, good)
	f.Add([]byte{}, []byte{})
	f.Add(challenge, good[:255])
	f.Fuzz(func(t *testing.T, c, sig []byte) {
		err := reader.VerifyChallenge(&card.PublicKey, c, sig)
		if err == nil && !(bytes.Equal(c, challenge) && bytes.Equal(sig, good)) {
			// PKCS#1 v1.5 type 1 signatures are deterministic: one
			// challenge, one signature.
			t.Fatalf("accepted challenge %X with signature %X", c, sig)
		}
		if err != nil && !errors.Is(err, reader.ErrChallengeSignature) {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
	})
}
