package virtcie

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/testpki"
	"github.com/varco-access/varco/reader/vpcd"
)

// keyBits is the size of the "servizi" key of a CIE 3.0: the signature is
// 256 bytes, which GET RESPONSE's 61 00 relies on.
const keyBits = 2048

// defaultATR is the ATR of a real contactless CIE (CIE.md section 7).
var defaultATR = []byte{0x3B, 0x8B, 0x80, 0x01, 0x80, 0x66, 0x47, 0x50, 0x00, 0xB8, 0x00, 0x94, 0x82, 0x90, 0x00, 0xC5}

// DefaultATR returns the ATR of a real contactless CIE 3.0,
// 3B 8B 80 01 80 66 47 50 00 B8 00 94 82 90 00 C5, which new cards use.
func DefaultATR() []byte { return slices.Clone(defaultATR) }

// Options describe a card for New. NIS, Gen and PKI are required unless
// CloneOf is set.
type Options struct {
	// NIS is what EF.ID_Servizi returns: 12 ASCII digits.
	NIS string
	// Gen chooses the EF.SOD format and document signer: reader.Gen2016
	// (SHA-256, PKCS#1 v1.5, PKI.DS2016) or reader.Gen2022 (SHA-512, PSS,
	// PKI.DS2022).
	Gen reader.Generation
	// PKI signs EF.SOD.
	PKI *testpki.PKI
	// Quirks of the card; the zero value is a well-behaved card with the
	// 231-byte cap.
	Quirks Quirks
	// Negative breaks one property of the card; the zero value is Genuine.
	Negative Negative
	// CloneOf, when set, makes a Clone of that card: its NIS, generation,
	// key file, EF.SOD and ATR with a new private key. NIS, Gen and PKI
	// are then ignored and Negative must be Genuine or Clone. A Clone
	// without CloneOf clones a fresh genuine card made for the purpose.
	CloneOf *Card
	// ATR overrides DefaultATR.
	ATR []byte
	// Rand is passed to crypto/rsa; nil means crypto/rand.Reader. Since
	// Go 1.26 rsa.GenerateKey ignores it (use
	// testing/cryptotest.SetGlobalRandom for deterministic keys) and
	// PKCS#1 v1.5 signatures are deterministic anyway.
	Rand io.Reader
	// Sleep implements Quirks.Delay; nil means time.Sleep. Tests inject a
	// recorder so they never sleep.
	Sleep func(time.Duration)
}

// Card is an emulated CIE 3.0. It is safe for concurrent use: commands are
// processed one at a time, as a card does.
type Card struct {
	// Identity, fixed at New or Load.
	nis      string
	gen      reader.Generation
	priv     *rsa.PrivateKey // answers INTERNAL AUTHENTICATE
	pub      *rsa.PublicKey  // the key in keyFile (not priv's for a Clone)
	keyFile  []byte          // EF.Servizi_Int.Kpub without the padded-key quirk
	sod      []byte          // EF.SOD
	negative Negative
	atr      []byte
	rand     io.Reader

	mu     sync.Mutex
	quirks Quirks
	sleep  func(time.Duration)

	// Volatile state, cleared by Reset (CIE.md section 7).
	app     application
	ef      uint16 // current EF, 0 for none
	key     byte   // key reference set by the last MSE SET, 0 for none
	pending []byte // response data waiting for GET RESPONSE

	stats      Stats
	recording  bool
	transcript []Exchange
}

var (
	_ reader.Transmitter = (*Card)(nil)
	_ vpcd.Card          = (*Card)(nil)
)

// application is the selected application or DF.
type application int

const (
	appNone application = iota // after reset
	appIAS                     // IAS-ECC AID selected
	appCIE                     // DF_CIE selected: the only DF with files
	appMF                      // master file selected
)

// Stats counts what the card saw since New, Load or ResetStats.
type Stats struct {
	APDUs      int   // command APDUs received
	BytesIn    int64 // command bytes received
	BytesOut   int64 // response bytes sent, status words included
	Signatures int   // challenges signed by INTERNAL AUTHENTICATE
	Resets     int   // calls to Reset (power cycles, vpcd resets)
}

// Exchange is one command APDU and the response the card gave, as recorded
// when Record is on.
type Exchange struct {
	Command  []byte
	Response []byte
}

// New makes a card: a fresh RSA-2048 key pair, the key file holding its DER
// PKCS#1 RSAPublicKey, and an EF.SOD over {A1: NIS, A5: key file} signed by
// the document signer of the generation (or the one the negative calls
// for). Errors wrap ErrOptions, or come from key generation or
// testpki.BuildSOD.
func New(opts Options) (*Card, error) {
	if !opts.Negative.valid() {
		return nil, fmt.Errorf("%w: Negative %d", ErrOptions, int(opts.Negative))
	}
	if opts.ATR != nil {
		if err := checkATR(opts.ATR); err != nil {
			return nil, fmt.Errorf("%w: ATR: %v", ErrOptions, err)
		}
	}
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	if opts.CloneOf != nil || opts.Negative == Clone {
		return newClone(opts, rnd)
	}
	if err := reader.CheckNIS([]byte(opts.NIS)); err != nil {
		return nil, fmt.Errorf("%w: NIS %q: %v", ErrOptions, opts.NIS, err)
	}
	if !validGen(opts.Gen) {
		return nil, fmt.Errorf("%w: Gen %v: want reader.Gen2016 or reader.Gen2022", ErrOptions, opts.Gen)
	}
	if opts.PKI == nil {
		return nil, fmt.Errorf("%w: PKI is nil", ErrOptions)
	}
	ds, dsName := opts.PKI.DS2016, "DS2016"
	if opts.Gen == reader.Gen2022 {
		ds, dsName = opts.PKI.DS2022, "DS2022"
	}
	switch opts.Negative {
	case UntrustedDS:
		ds, dsName = opts.PKI.DSRogue, "DSRogue"
	case ExpiredDS:
		ds, dsName = opts.PKI.DSExpired, "DSExpired"
	}
	if ds == nil {
		return nil, fmt.Errorf("%w: PKI.%s is nil", ErrOptions, dsName)
	}
	priv, err := rsa.GenerateKey(rnd, keyBits)
	if err != nil {
		return nil, fmt.Errorf("virtcie: generate card key: %w", err)
	}
	keyFile := x509.MarshalPKCS1PublicKey(&priv.PublicKey)
	sodNIS := opts.NIS
	if opts.Negative == NISChanged {
		sodNIS = otherNIS(opts.NIS)
	}
	sod, err := testpki.BuildSOD(ds, opts.Gen, map[byte][]byte{
		0xA1: []byte(sodNIS),
		0xA5: keyFile,
	})
	if err != nil {
		return nil, fmt.Errorf("virtcie: build EF.SOD: %w", err)
	}
	c := newCard(opts)
	c.nis, c.gen, c.priv, c.pub = opts.NIS, opts.Gen, priv, &priv.PublicKey
	c.keyFile, c.sod, c.negative, c.rand = keyFile, sod, opts.Negative, rnd
	return c, nil
}

// newClone implements New for Clone cards.
func newClone(opts Options, rnd io.Reader) (*Card, error) {
	if opts.Negative != Clone && opts.Negative != Genuine {
		return nil, fmt.Errorf("%w: CloneOf with Negative %v", ErrOptions, opts.Negative)
	}
	of := opts.CloneOf
	if of == nil {
		orig := opts
		orig.Negative = Genuine
		var err error
		if of, err = New(orig); err != nil {
			return nil, err
		}
	}
	priv, err := rsa.GenerateKey(rnd, keyBits)
	if err != nil {
		return nil, fmt.Errorf("virtcie: generate clone key: %w", err)
	}
	c := newCard(opts)
	c.nis, c.gen, c.priv, c.pub = of.nis, of.gen, priv, of.pub
	c.keyFile, c.sod, c.negative, c.rand = of.keyFile, of.sod, Clone, rnd
	if opts.ATR == nil {
		c.atr = of.atr
	}
	return c, nil
}

// NewClone makes a Clone of card of: same NIS, key file, EF.SOD, ATR and
// quirks, another private key. It is what an attacker can build from a free
// read of a victim's card.
func NewClone(of *Card) (*Card, error) {
	if of == nil {
		return nil, fmt.Errorf("%w: NewClone of nil card", ErrOptions)
	}
	return New(Options{CloneOf: of, Negative: Clone, Quirks: of.Quirks(), Rand: of.rand})
}

// newCard returns a card with the settings of opts and no identity.
func newCard(opts Options) *Card {
	c := &Card{quirks: opts.Quirks, sleep: opts.Sleep, atr: defaultATR}
	if opts.ATR != nil {
		c.atr = slices.Clone(opts.ATR)
	}
	if c.sleep == nil {
		c.sleep = time.Sleep
	}
	return c
}

// otherNIS returns nis with its last digit changed, for NISChanged.
func otherNIS(nis string) string {
	b := []byte(nis)
	b[len(b)-1] = '0' + (b[len(b)-1]-'0'+1)%10
	return string(b)
}

// validGen reports whether g is one of the two card generations.
func validGen(g reader.Generation) bool {
	return g == reader.Gen2016 || g == reader.Gen2022
}

// NIS returns what the card answers to a read of EF.ID_Servizi.
func (c *Card) NIS() string { return c.nis }

// Generation returns the generation of the card's EF.SOD.
func (c *Card) Generation() reader.Generation { return c.gen }

// Negative returns which property the card breaks, Genuine for none.
func (c *Card) Negative() Negative { return c.negative }

// PublicKey returns the key in the card's key file. For a Clone it is the
// original card's key, which does not match the private key.
func (c *Card) PublicKey() *rsa.PublicKey { return c.pub }

// KeyFileTLV returns the DER PKCS#1 RSAPublicKey the key file holds, without
// padding: what data group A5 of EF.SOD hashes and what a whitelist stores.
func (c *Card) KeyFileTLV() []byte { return slices.Clone(c.keyFile) }

// KeyFile returns EF.Servizi_Int.Kpub as the card serves it now, with the
// padding of the padded-key quirk when it is on.
func (c *Card) KeyFile() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.file(reader.FIDKey))
}

// SOD returns the card's EF.SOD.
func (c *Card) SOD() []byte { return slices.Clone(c.sod) }

// ATR returns the card's Answer To Reset. It implements vpcd.Card.
func (c *Card) ATR() []byte { return slices.Clone(c.atr) }

// Quirks returns the card's current quirks.
func (c *Card) Quirks() Quirks {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.quirks
}

// SetQuirks replaces the card's quirks, e.g. with those of a --quirks flag
// when serving a saved card. It takes effect at the next command.
func (c *Card) SetQuirks(q Quirks) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.quirks = q
}

// SetSleep replaces the function that implements Quirks.Delay (nil restores
// time.Sleep), so tests of slow cards need not sleep.
func (c *Card) SetSleep(sleep func(time.Duration)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sleep == nil {
		sleep = time.Sleep
	}
	c.sleep = sleep
}

// Reset drops the volatile state (selected application and EF, security
// environment, pending GET RESPONSE data), as a power cycle does. It
// implements vpcd.Card.
func (c *Card) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resetState()
	c.stats.Resets++
}

func (c *Card) resetState() {
	c.app, c.ef, c.key, c.pending = appNone, 0, 0, nil
}

// Stats returns the counters since New, Load or ResetStats.
func (c *Card) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// ResetStats zeroes the counters and drops the recorded transcript.
func (c *Card) ResetStats() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats = Stats{}
	c.transcript = nil
}

// Record turns the transcript on or off. While on, every exchange is kept
// (use it in tests, not in a long-running serve: it grows without bound).
func (c *Card) Record(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recording = on
}

// Transcript returns a copy of the exchanges recorded so far.
func (c *Card) Transcript() []Exchange {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Exchange, len(c.transcript))
	for i, e := range c.transcript {
		out[i] = Exchange{Command: slices.Clone(e.Command), Response: slices.Clone(e.Response)}
	}
	return out
}

// Transmit answers one command APDU. It never returns an error and always
// returns at least the two status bytes: every problem with the command is a
// status word, as on a real card. It implements reader.Transmitter and
// vpcd.Card and does not retain apdu.
func (c *Card) Transmit(apdu []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d := c.quirks.Delay; d > 0 {
		c.sleep(d)
	}
	resp := c.process(apdu)
	c.stats.APDUs++
	c.stats.BytesIn += int64(len(apdu))
	c.stats.BytesOut += int64(len(resp))
	if c.recording {
		c.transcript = append(c.transcript, Exchange{Command: slices.Clone(apdu), Response: slices.Clone(resp)})
	}
	return resp, nil
}
