package virtcie

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/testpki"
)

// Commands of CIE.md section 3 used by many tests.
const (
	selIAS = "00 A4 04 0C 0D A0 00 00 00 30 80 00 00 00 09 81 60 01" // SELECT by AID (04), no FCI (0C): IAS-ECC
	selCIE = "00 A4 04 0C 06 A0 00 00 00 00 39"                      // SELECT by AID: DF_CIE
	selMF  = "00 A4 00 00"                                           // SELECT MF: P1 00, no data
	selNIS = "00 A4 02 0C 02 10 01"                                  // SELECT EF (02) 1001: EF.ID_Servizi
	selKey = "00 A4 02 0C 02 10 05"                                  // SELECT EF 1005: EF.Servizi_Int.Kpub
	selSOD = "00 A4 02 0C 02 10 06"                                  // SELECT EF 1006: EF.SOD
	mse    = "00 22 41 A4 06 80 01 02 84 01 83"                      // MSE SET 41 A4: algorithm 02, key 83
	chal16 = "00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F"
	auth16 = "00 88 00 00 10 " + chal16 + " 00" // INTERNAL AUTHENTICATE, Lc 10, Le 00 (256)
)

const testNIS = "123456789012"

// h decodes hex with optional spaces; it panics on bad hex (literals only).
func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(fmt.Sprintf("h(%q): %v", s, err))
	}
	return b
}

// mustPKI returns the committed test PKI.
func mustPKI(tb testing.TB) *testpki.PKI { return testpki.Committed(tb) }

type cardKey struct {
	gen reader.Generation
	neg Negative
}

var (
	cardsMu sync.Mutex
	cards   = map[cardKey]*Card{}
)

// mustCard returns a card made once per test binary (RSA key generation is
// slow). Its state is shared: send commands to fresh(tb, mustCard(...)).
func mustCard(tb testing.TB, gen reader.Generation, neg Negative) *Card {
	tb.Helper()
	pki := mustPKI(tb)
	cardsMu.Lock()
	defer cardsMu.Unlock()
	k := cardKey{gen, neg}
	if c, ok := cards[k]; ok {
		return c
	}
	c, err := New(Options{NIS: testNIS, Gen: gen, PKI: pki, Negative: neg})
	if err != nil {
		tb.Fatalf("New(%v, %v): %v", gen, neg, err)
	}
	cards[k] = c
	return c
}

// fresh returns a new card with the identity of base, quirks q, no state,
// and a Sleep that fails the test.
func fresh(tb testing.TB, base *Card, q Quirks) *Card {
	c := newCard(Options{Quirks: q, ATR: base.atr, Sleep: func(d time.Duration) {
		tb.Errorf("unexpected sleep of %v", d)
	}})
	c.nis, c.gen, c.priv, c.pub = base.nis, base.gen, base.priv, base.pub
	c.keyFile, c.sod, c.negative, c.rand = base.keyFile, base.sod, base.negative, base.rand
	return c
}

// genuine returns a fresh genuine 2022 card with the given quirk list.
func genuine(tb testing.TB, quirks string) *Card {
	tb.Helper()
	return fresh(tb, mustCard(tb, reader.Gen2022, Genuine), mustQuirks(tb, quirks))
}

func mustQuirks(tb testing.TB, s string) Quirks {
	tb.Helper()
	q, err := ParseQuirks(s)
	if err != nil {
		tb.Fatal(err)
	}
	return q
}

// step is one command sent to a card and the exact answer expected.
type step struct {
	cmd   string             // command APDU in hex
	cmdf  func(*Card) string // computes the command when cmd is ""
	sw    uint16             // expected status word
	data  func(*Card) []byte // expected response data; nil means none
	reset bool               // call Reset instead of sending a command
}

// ok is a step expecting 90 00 and no data.
func ok(cmd string) step { return step{cmd: cmd, sw: 0x9000} }

// run sends the steps to c and fails at the first answer that differs.
func run(t *testing.T, c *Card, steps []step) {
	t.Helper()
	for i, s := range steps {
		if s.reset {
			c.Reset()
			continue
		}
		cmd := s.cmd
		if s.cmdf != nil {
			cmd = s.cmdf(c)
		}
		data, sw := transmit(t, c, h(cmd))
		if sw != s.sw {
			t.Fatalf("step %d (%s): SW %04X, want %04X (data %s)", i+1, cmd, sw, s.sw, short(data))
		}
		var want []byte
		if s.data != nil {
			want = s.data(c)
		}
		if !bytes.Equal(data, want) {
			t.Fatalf("step %d (%s): data %s (%d bytes), want %s (%d bytes)", i+1, cmd, short(data), len(data), short(want), len(want))
		}
	}
}

// transmit sends one APDU and splits the answer.
func transmit(tb testing.TB, c *Card, apdu []byte) ([]byte, uint16) {
	tb.Helper()
	resp, err := c.Transmit(apdu)
	if err != nil {
		tb.Fatalf("Transmit(% X): %v", apdu, err)
	}
	if len(resp) < 2 {
		tb.Fatalf("Transmit(% X): %d bytes", apdu, len(resp))
	}
	n := len(resp) - 2
	return resp[:n], uint16(resp[n])<<8 | uint16(resp[n+1])
}

func short(b []byte) string {
	if len(b) > 12 {
		return fmt.Sprintf("% X ...", b[:12])
	}
	return fmt.Sprintf("% X", b)
}

// Expected response data, computed from the card.

func slice(b []byte, from, to int) []byte {
	if to < 0 {
		to = len(b)
	}
	return b[from:to]
}

func nisData(from, to int) func(*Card) []byte {
	return func(c *Card) []byte { return slice([]byte(c.nis), from, to) }
}

func keyData(from, to int) func(*Card) []byte {
	return func(c *Card) []byte { return slice(c.KeyFile(), from, to) }
}

func sodData(from, to int) func(*Card) []byte {
	return func(c *Card) []byte { return slice(c.sod, from, to) }
}

func sodTail(n int) func(*Card) []byte {
	return func(c *Card) []byte { return c.sod[len(c.sod)-n:] }
}

func sod53(from, to int) func(*Card) []byte {
	return func(c *Card) []byte { return wrap53(slice(c.sod, from, to)) }
}

func sodTail53(n int) func(*Card) []byte {
	return func(c *Card) []byte { return wrap53(c.sod[len(c.sod)-n:]) }
}

// sig is the signature the card must return for challenge (hex), computed
// with its private key: PKCS#1 v1.5 type 1 signatures are deterministic.
func sig(challenge string, from, to int) func(*Card) []byte {
	return func(c *Card) []byte {
		s, err := rsa.SignPKCS1v15(nil, c.priv, crypto.Hash(0), h(challenge))
		if err != nil {
			panic(err)
		}
		return slice(s, from, to)
	}
}

// sodOffsetCmd returns a command for an offset counted back from the end of
// EF.SOD: format gets the offset's high and low bytes.
func sodOffsetCmd(back int, format string) func(*Card) string {
	return func(c *Card) string {
		off := len(c.sod) - back
		return fmt.Sprintf(format, off>>8, off&0xFF)
	}
}
