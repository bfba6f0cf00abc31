package virtcie

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ResponseCap is the most response data bytes a real CIE returns to one
// READ BINARY, whatever Le asks: 231 to a Le of 00 (256), CIE.md section 3.
// The emulator applies it to B0 and B1 reads unless Quirks.NoCap is set.
const ResponseCap = 231

// keyPadding is how many zero bytes the padded-key quirk appends to the key
// file after its TLV (CIE.md section 2: "possibly followed by padding").
const keyPadding = 32

// maxDelay bounds the delay quirk: a card that takes longer than this per
// command is not slow but dead, and a typo such as "delay=5m" should fail.
const maxDelay = time.Minute

// Quirks switch on behaviours of real chips that a reader must survive. The
// zero value is a well-behaved card with the 231-byte cap of real cards.
//
// In a quirk list (ParseQuirks, the --quirks flag) the names are:
//
//	ias-6a82        IAS6A82
//	cap231          the default 231-byte cap, stated explicitly
//	nocap           NoCap
//	getresponse[=N] GetResponse, with GetResponseChunk N (1..256)
//	padded-key      PaddedKey
//	wrong-le        WrongLe
//	delay=DURATION  Delay (a Go duration, e.g. 150ms)
//	none            no quirk (alone)
type Quirks struct {
	// IAS6A82 answers 6A82 to the select of the IAS-ECC AID, as some newer
	// chips do; SELECT MF (00 A4 00 00) and the DF_CIE select still work.
	IAS6A82 bool
	// NoCap lifts the ResponseCap: a READ BINARY with Le 00 returns up to
	// 256 bytes.
	NoCap bool
	// GetResponse makes INTERNAL AUTHENTICATE answer 61 00 and hand the
	// 256-byte signature out through GET RESPONSE (00 C0 00 00 Le).
	GetResponse bool
	// GetResponseChunk bounds the bytes one GET RESPONSE returns, so the
	// signature comes in several chunks with 61xx in between. Values
	// outside 1..256 (0 included) mean 256.
	GetResponseChunk int
	// PaddedKey appends 32 zero bytes to the public key file after its
	// TLV; the SOD still hashes the TLV only.
	PaddedKey bool
	// WrongLe answers 6C xx to a READ BINARY whose Le asks for more than
	// the file holds from the offset, instead of the data and 62 82, so the
	// reader must repeat the command with Le = xx.
	WrongLe bool
	// Delay is slept before every command, to model the on-chip time (an
	// RSA-2048 signature takes a real CIE tens of milliseconds). Zero or
	// negative means none.
	Delay time.Duration
}

// quirkHelp lists the accepted names, for error messages and flag help.
const quirkHelp = "ias-6a82, cap231, nocap, getresponse[=N], padded-key, wrong-le, delay=DURATION, none"

// QuirkNames returns a one-line description of the accepted quirk names, for
// the help text of a --quirks flag.
func QuirkNames() string { return quirkHelp }

// ParseQuirks parses a comma-separated quirk list such as
// "ias-6a82,getresponse=128,delay=80ms". The empty string and "none" give the
// zero Quirks. Errors wrap ErrQuirk and name the bad item.
func ParseQuirks(s string) (Quirks, error) {
	var q Quirks
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return q, nil
	}
	seen := make(map[string]bool)
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return Quirks{}, fmt.Errorf("%w: empty item in %q", ErrQuirk, s)
		}
		name, val, hasVal := strings.Cut(item, "=")
		if seen[name] {
			return Quirks{}, fmt.Errorf("%w %q: given twice", ErrQuirk, item)
		}
		seen[name] = true
		switch name {
		case "ias-6a82", "cap231", "nocap", "padded-key", "wrong-le", "none":
			if hasVal {
				return Quirks{}, fmt.Errorf("%w %q: %s takes no value", ErrQuirk, item, name)
			}
		}
		switch name {
		case "ias-6a82":
			q.IAS6A82 = true
		case "cap231", "nocap":
			if seen["cap231"] && seen["nocap"] {
				return Quirks{}, fmt.Errorf("%w %q: cap231 and nocap contradict each other", ErrQuirk, item)
			}
			q.NoCap = name == "nocap"
		case "getresponse":
			q.GetResponse = true
			if hasVal {
				n, err := strconv.Atoi(val)
				if err != nil || n < 1 || n > 256 {
					return Quirks{}, fmt.Errorf("%w %q: chunk size must be 1..256", ErrQuirk, item)
				}
				if n < 256 { // 256 is the default: keep Quirks comparable
					q.GetResponseChunk = n
				}
			}
		case "padded-key":
			q.PaddedKey = true
		case "wrong-le":
			q.WrongLe = true
		case "delay":
			if !hasVal {
				return Quirks{}, fmt.Errorf("%w %q: delay needs a duration, e.g. delay=150ms", ErrQuirk, item)
			}
			d, err := time.ParseDuration(val)
			if err != nil || d < 0 || d > maxDelay {
				return Quirks{}, fmt.Errorf("%w %q: delay must be a duration from 0 to %v, e.g. delay=150ms", ErrQuirk, item, maxDelay)
			}
			q.Delay = d
		case "none":
			return Quirks{}, fmt.Errorf("%w %q: none must stand alone", ErrQuirk, item)
		default:
			return Quirks{}, fmt.Errorf("%w %q: unknown (known: %s)", ErrQuirk, item, quirkHelp)
		}
	}
	return q, nil
}

// String returns q as a quirk list that ParseQuirks reads back, in a fixed
// order, or "none" for the zero value. The default cap231 is not listed.
func (q Quirks) String() string {
	var parts []string
	if q.IAS6A82 {
		parts = append(parts, "ias-6a82")
	}
	if q.NoCap {
		parts = append(parts, "nocap")
	}
	if q.GetResponse {
		if n := q.GetResponseChunk; n >= 1 && n < 256 {
			parts = append(parts, "getresponse="+strconv.Itoa(n))
		} else {
			parts = append(parts, "getresponse")
		}
	}
	if q.PaddedKey {
		parts = append(parts, "padded-key")
	}
	if q.WrongLe {
		parts = append(parts, "wrong-le")
	}
	if q.Delay > 0 {
		parts = append(parts, "delay="+q.Delay.String())
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

// MarshalText implements encoding.TextMarshaler (so flag.TextVar and JSON
// can hold a Quirks).
func (q Quirks) MarshalText() ([]byte, error) { return []byte(q.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseQuirks.
func (q *Quirks) UnmarshalText(b []byte) error {
	v, err := ParseQuirks(string(b))
	if err != nil {
		return err
	}
	*q = v
	return nil
}

// chunk is the most bytes one GET RESPONSE returns.
func (q Quirks) chunk() int {
	if q.GetResponseChunk < 1 || q.GetResponseChunk > 256 {
		return 256
	}
	return q.GetResponseChunk
}

// readLimit is the most data bytes a READ BINARY answers for Ne.
func (q Quirks) readLimit(ne int) int {
	if !q.NoCap && ne > ResponseCap {
		return ResponseCap
	}
	return ne
}
