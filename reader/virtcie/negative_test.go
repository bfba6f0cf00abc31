package virtcie

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/testpki"
)

// verifySOD runs passive authentication of c's EF.SOD against the trusted
// test CSCA with the NIS and key file the card serves.
func verifySOD(t *testing.T, c *Card) (*reader.SODResult, error) {
	t.Helper()
	s, err := reader.ParseSOD(c.SOD())
	if err != nil {
		t.Fatalf("ParseSOD: %v", err)
	}
	_, keyTLV, err := reader.ParsePublicKeyFile(c.KeyFile())
	if err != nil {
		t.Fatalf("ParsePublicKeyFile: %v", err)
	}
	return s.Verify(reader.VerifyOptions{
		CSCAs:         []*x509.Certificate{mustPKI(t).CSCA.Cert},
		NIS:           []byte(c.NIS()),
		PublicKeyFile: keyTLV,
	})
}

// challenge runs select, MSE SET and INTERNAL AUTHENTICATE and returns the
// status word and the signature.
func challenge(t *testing.T, c *Card, chal string) ([]byte, uint16) {
	t.Helper()
	run(t, c, []step{ok(selCIE), ok(mse)})
	return transmit(t, c, h(fmt.Sprintf("00 88 00 00 %02X %s 00", len(h(chal)), chal)))
}

func TestGenuineCardsVerify(t *testing.T) {
	pki := mustPKI(t)
	tests := []struct {
		gen  reader.Generation
		ds   *x509.Certificate
		algo string // substring of SODResult.SignatureAlgorithm
	}{
		{reader.Gen2016, pki.DS2016.Cert, "PKCS"},
		{reader.Gen2022, pki.DS2022.Cert, "PSS"},
	}
	for _, tt := range tests {
		t.Run(tt.gen.String(), func(t *testing.T) {
			c := fresh(t, mustCard(t, tt.gen, Genuine), Quirks{})
			res, err := verifySOD(t, c)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.Generation != tt.gen || !res.DS.Equal(tt.ds) || !strings.Contains(res.SignatureAlgorithm, tt.algo) {
				t.Errorf("Verify = generation %v, DS %s, %s; want %v, %s, %s",
					res.Generation, res.DSSubject, res.SignatureAlgorithm, tt.gen, tt.ds.Subject, tt.algo)
			}
			if !bytes.Equal(res.CheckedDataGroups, []byte{reader.DGNIS, reader.DGKey}) {
				t.Errorf("CheckedDataGroups = % X, want A1 A5", res.CheckedDataGroups)
			}
			// The key file holds the key that answers the challenge.
			sig, sw := challenge(t, c, chal16)
			if sw != 0x9000 || len(sig) != 256 {
				t.Fatalf("INTERNAL AUTHENTICATE: %04X, %d bytes", sw, len(sig))
			}
			if err := reader.VerifyChallenge(c.PublicKey(), h(chal16), sig); err != nil {
				t.Errorf("VerifyChallenge: %v", err)
			}
			// And a different challenge does not verify with that signature.
			if err := reader.VerifyChallenge(c.PublicKey(), h("FF"+chal16[2:]), sig); !errors.Is(err, reader.ErrChallengeSignature) {
				t.Errorf("VerifyChallenge(other challenge) = %v, want ErrChallengeSignature", err)
			}
			if c.NIS() != testNIS || c.Generation() != tt.gen || c.Negative() != Genuine {
				t.Errorf("card says NIS %q, %v, %v", c.NIS(), c.Generation(), c.Negative())
			}
			if !bytes.Equal(c.ATR(), h("3B 8B 80 01 80 66 47 50 00 B8 00 94 82 90 00 C5")) || !bytes.Equal(c.ATR(), DefaultATR()) {
				t.Errorf("ATR % X", c.ATR())
			}
		})
	}
}

func TestNegativeCards(t *testing.T) {
	tests := []struct {
		neg        Negative
		sodErr     error  // what passive authentication gives
		challenge  error  // what VerifyChallenge with the key file's key gives
		intAuthSW  uint16 // INTERNAL AUTHENTICATE status word
		wantSODNIS bool   // the SOD hashes the NIS the card returns
	}{
		{neg: Clone, intAuthSW: 0x9000, challenge: reader.ErrChallengeSignature},
		{neg: NISChanged, sodErr: reader.ErrNISHash, intAuthSW: 0x9000},
		{neg: UntrustedDS, sodErr: reader.ErrUnknownCSCA, intAuthSW: 0x9000},
		{neg: ExpiredDS, sodErr: reader.ErrDSExpired, intAuthSW: 0x9000},
		{neg: NoIntAuth, intAuthSW: 0x6982},
	}
	for _, gen := range []reader.Generation{reader.Gen2016, reader.Gen2022} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%v/%v", gen, tt.neg), func(t *testing.T) {
				c := fresh(t, mustCard(t, gen, tt.neg), Quirks{})
				if c.Negative() != tt.neg || c.NIS() != testNIS {
					t.Fatalf("card is %v with NIS %q", c.Negative(), c.NIS())
				}
				if _, err := verifySOD(t, c); !errors.Is(err, tt.sodErr) || (tt.sodErr == nil) != (err == nil) {
					t.Errorf("SOD Verify = %v, want %v", err, tt.sodErr)
				}
				sig, sw := challenge(t, c, chal16)
				if sw != tt.intAuthSW {
					t.Fatalf("INTERNAL AUTHENTICATE SW %04X, want %04X", sw, tt.intAuthSW)
				}
				if sw != 0x9000 {
					return
				}
				if err := reader.VerifyChallenge(c.PublicKey(), h(chal16), sig); !errors.Is(err, tt.challenge) || (tt.challenge == nil) != (err == nil) {
					t.Errorf("VerifyChallenge = %v, want %v", err, tt.challenge)
				}
			})
		}
	}
}

func TestNewClone(t *testing.T) {
	orig := mustCard(t, reader.Gen2016, Genuine)
	clone, err := NewClone(orig)
	if err != nil {
		t.Fatal(err)
	}
	// Everything a reader can read is the original's ...
	if clone.NIS() != orig.NIS() || !bytes.Equal(clone.KeyFile(), orig.KeyFile()) ||
		!bytes.Equal(clone.SOD(), orig.SOD()) || !bytes.Equal(clone.ATR(), orig.ATR()) ||
		clone.Generation() != orig.Generation() || clone.Negative() != Clone {
		t.Fatal("clone differs from the original in what it serves")
	}
	if _, err := verifySOD(t, clone); err != nil {
		t.Errorf("clone's SOD: %v (a clone carries a valid SOD)", err)
	}
	// ... but the signature does not verify with the enrolled key.
	sig, sw := challenge(t, clone, chal16)
	if sw != 0x9000 {
		t.Fatalf("INTERNAL AUTHENTICATE %04X", sw)
	}
	if err := reader.VerifyChallenge(orig.PublicKey(), h(chal16), sig); !errors.Is(err, reader.ErrChallengeSignature) {
		t.Errorf("VerifyChallenge(original key, clone's signature) = %v, want ErrChallengeSignature", err)
	}
	// A door read through the reader package is refused the same way.
	dr, err := reader.ReadDoor(fresh(t, clone, Quirks{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := reader.VerifyChallenge(orig.PublicKey(), dr.Challenge, dr.Signature); !errors.Is(err, reader.ErrChallengeSignature) {
		t.Errorf("door read of clone: %v, want ErrChallengeSignature", err)
	}
}

func TestNewErrors(t *testing.T) {
	pki := mustPKI(t)
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"short NIS", Options{NIS: "12345", Gen: reader.Gen2016, PKI: pki}, "NIS"},
		{"letters in NIS", Options{NIS: "12345678901A", Gen: reader.Gen2016, PKI: pki}, "NIS"},
		{"no generation", Options{NIS: testNIS, PKI: pki}, "Gen"},
		{"unknown generation", Options{NIS: testNIS, Gen: 2019, PKI: pki}, "Gen"},
		{"no PKI", Options{NIS: testNIS, Gen: reader.Gen2022}, "PKI"},
		{"no DS in PKI", Options{NIS: testNIS, Gen: reader.Gen2022, PKI: &testpki.PKI{}}, "PKI.DS2022"},
		{"unknown negative", Options{NIS: testNIS, Gen: reader.Gen2022, PKI: pki, Negative: 99}, "Negative"},
		{"bad ATR", Options{NIS: testNIS, Gen: reader.Gen2022, PKI: pki, ATR: []byte{0x00, 0x01}}, "ATR"},
		{"clone with another negative", Options{CloneOf: mustCard(t, reader.Gen2022, Genuine), Negative: ExpiredDS}, "CloneOf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.opts)
			if !errors.Is(err, ErrOptions) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, %v; want ErrOptions naming %s", c, err, tt.want)
			}
		})
	}
	if _, err := NewClone(nil); !errors.Is(err, ErrOptions) {
		t.Errorf("NewClone(nil) = %v", err)
	}
}

func TestParseNegative(t *testing.T) {
	for _, n := range Negatives() {
		got, err := ParseNegative(n.String())
		if err != nil || got != n {
			t.Errorf("ParseNegative(%q) = %v, %v", n.String(), got, err)
		}
	}
	for _, s := range []string{"", "none", "genuine"} {
		if got, err := ParseNegative(s); err != nil || got != Genuine {
			t.Errorf("ParseNegative(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseNegative("evil-twin"); !errors.Is(err, ErrNegative) || !strings.Contains(err.Error(), `"evil-twin"`) {
		t.Errorf("ParseNegative(evil-twin) = %v", err)
	}
	if _, err := Negative(42).MarshalText(); !errors.Is(err, ErrNegative) {
		t.Errorf("MarshalText(42) = %v", err)
	}
	// Negative round-trips through JSON as its name.
	var v struct{ N Negative }
	if err := json.Unmarshal([]byte(`{"N":"untrusted-ds"}`), &v); err != nil || v.N != UntrustedDS {
		t.Errorf("json: %v, %v", v.N, err)
	}
	if b, err := json.Marshal(v); err != nil || string(b) != `{"N":"untrusted-ds"}` {
		t.Errorf("json: %s, %v", b, err)
	}
	if err := json.Unmarshal([]byte(`{"N":"bad"}`), &v); !errors.Is(err, ErrNegative) {
		t.Errorf("json bad name: %v", err)
	}
	names := fmt.Sprint(Negatives())
	if names != "[genuine clone nis-changed untrusted-ds expired-ds no-intauth]" {
		t.Errorf("Negatives() = %s", names)
	}
}
