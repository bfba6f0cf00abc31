package pcsc

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/pcsc/pcscdtest"
	"github.com/varco-access/varco/reader/testpki"
	"github.com/varco-access/varco/reader/virtcie"
)

// cieReads is what one presentation of a virtual CIE gave: the enrolment
// read, then the door read, on the same PC/SC connection.
type cieReads struct {
	reader   string
	enrol    *reader.EnrolRead
	enrolErr error
	door     *reader.DoorRead
	doorErr  error
	// sodB0 is EF.SOD read the other way (SELECT + READ BINARY), after
	// the enrolment read used the odd-INS read.
	sodB0    []byte
	sodB0Err error
}

// TestRealCIE reads virtual CIEs through pcscd and vpcd exactly as a door
// and an enrolment station do: both generations, every quirk, every negative
// card, on both readers. It checks what each read must prove and, for the
// negative cards, which check refuses them.
func TestRealCIE(t *testing.T) {
	p := testpki.Committed(t)
	verifyAt := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	results := make(chan cieReads, 1)
	d, _, rec, _ := realMonitor(t, func(ctx context.Context, name string, card reader.Transmitter) error {
		var r cieReads
		r.reader = name
		r.enrol, r.enrolErr = reader.ReadEnrol(card, nil)
		r.door, r.doorErr = reader.ReadDoor(card, nil)
		if r.enrolErr == nil {
			var e *reader.EnrolRead
			if e, r.sodB0Err = reader.ReadEnrol(card, &reader.EnrolOptions{SODMethod: reader.SODReadBinary}); e != nil {
				r.sodB0 = e.SOD
			}
		}
		results <- r
		return errors.Join(r.enrolErr, r.doorErr)
	})
	names, addrs := d.ReaderNames(), d.VPCDAddrs()

	genuine := map[reader.Generation]*virtcie.Card{}
	for _, g := range []reader.Generation{reader.Gen2016, reader.Gen2022} {
		c, err := virtcie.New(virtcie.Options{NIS: fmt.Sprintf("%d0000000%d", int(g), int(g)%10), Gen: g, PKI: p})
		if err != nil {
			t.Fatal(err)
		}
		genuine[g] = c
	}

	type tc struct {
		name     string
		card     func(t *testing.T) *virtcie.Card
		enrolled *rsa.PublicKey // the key the door holds for this NIS
		check    func(t *testing.T, r cieReads, enrolled *rsa.PublicKey)
	}
	var cases []tc
	for _, g := range []reader.Generation{reader.Gen2016, reader.Gen2022} {
		for _, ql := range []string{"none", "nocap", "ias-6a82", "getresponse", "getresponse=100", "padded-key", "wrong-le", "delay=3ms", "ias-6a82,getresponse=64,padded-key,wrong-le"} {
			cases = append(cases, tc{
				name: fmt.Sprintf("%v/%s", g, ql),
				card: func(t *testing.T) *virtcie.Card {
					q, err := virtcie.ParseQuirks(ql)
					if err != nil {
						t.Fatal(err)
					}
					genuine[g].SetQuirks(q)
					genuine[g].Reset()
					return genuine[g]
				},
				enrolled: genuine[g].PublicKey(),
				check: func(t *testing.T, r cieReads, enrolled *rsa.PublicKey) {
					mustGenuine(t, r, genuine[g], enrolled, p, verifyAt)
				},
			})
		}
	}
	negatives := []struct {
		neg   virtcie.Negative
		check func(t *testing.T, r cieReads, sodErr error, doorErr error)
	}{
		{virtcie.Clone, func(t *testing.T, r cieReads, sodErr, doorErr error) {
			// Everything a copier can read verifies; the key does not answer.
			if sodErr != nil {
				t.Errorf("clone's SOD (copied) should verify: %v", sodErr)
			}
			if !errors.Is(doorErr, reader.ErrChallengeSignature) {
				t.Errorf("door check of a clone: %v, want ErrChallengeSignature", doorErr)
			}
			if err := reader.VerifyChallenge(r.enrol.PublicKey, r.enrol.Challenge, r.enrol.Signature); !errors.Is(err, reader.ErrChallengeSignature) {
				t.Errorf("enrolment check of a clone: %v, want ErrChallengeSignature", err)
			}
		}},
		{virtcie.NISChanged, func(t *testing.T, r cieReads, sodErr, _ error) {
			if !errors.Is(sodErr, reader.ErrNISHash) {
				t.Errorf("SOD check: %v, want ErrNISHash", sodErr)
			}
		}},
		{virtcie.UntrustedDS, func(t *testing.T, r cieReads, sodErr, _ error) {
			if !errors.Is(sodErr, reader.ErrUnknownCSCA) {
				t.Errorf("SOD check: %v, want ErrUnknownCSCA", sodErr)
			}
		}},
		{virtcie.ExpiredDS, func(t *testing.T, r cieReads, sodErr, _ error) {
			if !errors.Is(sodErr, reader.ErrDSExpired) {
				t.Errorf("SOD check: %v, want ErrDSExpired", sodErr)
			}
		}},
	}
	for _, g := range []reader.Generation{reader.Gen2016, reader.Gen2022} {
		for _, n := range negatives {
			cases = append(cases, tc{
				name: fmt.Sprintf("%v/%v", g, n.neg),
				card: func(t *testing.T) *virtcie.Card {
					opts := virtcie.Options{NIS: genuine[g].NIS(), Gen: g, PKI: p, Negative: n.neg}
					if n.neg == virtcie.Clone {
						opts = virtcie.Options{CloneOf: genuine[g], Negative: virtcie.Clone}
					}
					c, err := virtcie.New(opts)
					if err != nil {
						t.Fatal(err)
					}
					return c
				},
				enrolled: genuine[g].PublicKey(),
				check: func(t *testing.T, r cieReads, enrolled *rsa.PublicKey) {
					if r.enrolErr != nil || r.doorErr != nil {
						t.Fatalf("reads failed: enrol %v, door %v", r.enrolErr, r.doorErr)
					}
					_, sodErr := reader.VerifySOD(r.enrol.SOD, reader.VerifyOptions{
						CSCAs: p.TrustedCSCAs(), Time: verifyAt, NIS: []byte(r.enrol.NIS), PublicKeyFile: r.enrol.KeyFile,
					})
					doorErr := reader.VerifyChallenge(enrolled, r.door.Challenge, r.door.Signature)
					n.check(t, r, sodErr, doorErr)
				},
			})
		}
		cases = append(cases, tc{
			name: fmt.Sprintf("%v/no-intauth", g),
			card: func(t *testing.T) *virtcie.Card {
				c, err := virtcie.New(virtcie.Options{NIS: "555555555555", Gen: g, PKI: p, Negative: virtcie.NoIntAuth})
				if err != nil {
					t.Fatal(err)
				}
				return c
			},
			check: func(t *testing.T, r cieReads, _ *rsa.PublicKey) {
				// The read itself fails: no signature, no entry.
				for _, err := range []error{r.enrolErr, r.doorErr} {
					if !reader.IsStatus(err, reader.SWSecurityNotSatisfied) {
						t.Errorf("read error %v, want the card's 6982", err)
					}
				}
			},
		})
	}

	i := 0
	for k, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			slot := k % 2 // alternate readers: both carry CIE reads
			card := c.card(t)
			conn := pcscdtest.InsertCard(t, addrs[slot], card)
			var r cieReads
			select {
			case r = <-results:
			case <-time.After(waitTimeout):
				t.Fatalf("no read of the card on %s; events:\n%s", names[slot], rec.dump())
			}
			if r.reader != names[slot] {
				t.Errorf("read on %q, card was in %q", r.reader, names[slot])
			}
			c.check(t, r, c.enrolled)
			conn.Close()
			i = rec.next(t, i, "CardRemoved", func(e Event) bool { return e.Kind == CardRemoved && e.Reader == names[slot] }) + 1
		})
	}
}

// mustGenuine checks the reads of a genuine card: same NIS both times, the
// key, SOD and both challenge answers verify, and the door answer verifies
// with the key enrolment stored.
func mustGenuine(t *testing.T, r cieReads, card *virtcie.Card, enrolled *rsa.PublicKey, p *testpki.PKI, at time.Time) {
	t.Helper()
	if r.enrolErr != nil || r.doorErr != nil {
		t.Fatalf("reads failed: enrol %v, door %v", r.enrolErr, r.doorErr)
	}
	if r.enrol.NIS != card.NIS() || r.door.NIS != card.NIS() {
		t.Errorf("NIS %q / %q, card has %q", r.enrol.NIS, r.door.NIS, card.NIS())
	}
	if !slices.Equal(r.enrol.KeyFile, card.KeyFileTLV()) || !slices.Equal(r.enrol.SOD, card.SOD()) {
		t.Errorf("key file or SOD differ from the card's")
	}
	if r.sodB0Err != nil || !slices.Equal(r.sodB0, card.SOD()) {
		t.Errorf("EF.SOD by SELECT + READ BINARY: %d bytes, %v; card has %d", len(r.sodB0), r.sodB0Err, len(card.SOD()))
	}
	res, err := reader.VerifySOD(r.enrol.SOD, reader.VerifyOptions{
		CSCAs: p.TrustedCSCAs(), Time: at, NIS: []byte(r.enrol.NIS), PublicKeyFile: r.enrol.KeyFile,
	})
	if err != nil {
		t.Fatalf("passive authentication: %v", err)
	}
	if res.Generation != card.Generation() {
		t.Errorf("SOD generation %v, card is %v", res.Generation, card.Generation())
	}
	if err := reader.VerifyChallenge(r.enrol.PublicKey, r.enrol.Challenge, r.enrol.Signature); err != nil {
		t.Errorf("enrolment challenge: %v", err)
	}
	if err := reader.VerifyChallenge(enrolled, r.door.Challenge, r.door.Signature); err != nil {
		t.Errorf("door challenge with the enrolled key: %v", err)
	}
	if len(r.door.Challenge) != 32 || slices.Equal(r.door.Challenge, r.enrol.Challenge) {
		t.Errorf("door challenge not a fresh 32 bytes")
	}
}
