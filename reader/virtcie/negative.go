package virtcie

import (
	"fmt"
	"strings"
)

// Negative says which property of a genuine card a test card breaks (CIE.md
// section 7). Each negative card fails exactly one check of enrolment or of
// the door; the zero value is a genuine card.
type Negative int

const (
	// Genuine is a card with nothing wrong: its SOD verifies against the
	// test CSCA, covers its NIS and key file, and it signs challenges with
	// the key in its key file.
	Genuine Negative = iota
	// Clone copies the NIS, key file and EF.SOD of another card (all
	// readable by anyone) but holds a different private key: the SOD
	// verifies, INTERNAL AUTHENTICATE does not.
	Clone
	// NISChanged returns a NIS that differs from the one its SOD was
	// signed for (last digit changed): SOD verification with the read NIS
	// fails with reader.ErrNISHash.
	NISChanged
	// UntrustedDS carries an EF.SOD signed by a document signer under a
	// rogue CSCA: verification fails with reader.ErrUnknownCSCA.
	UntrustedDS
	// ExpiredDS carries an EF.SOD signed by an expired document signer:
	// verification fails with reader.ErrDSExpired.
	ExpiredDS
	// NoIntAuth refuses INTERNAL AUTHENTICATE with 69 82 (security status
	// not satisfied) after a correct MSE SET: 6982 is the refusal CIE.md
	// section 3 tells readers to handle, and it tests that a door denies
	// rather than skips the anti-clone step.
	NoIntAuth
)

var negativeNames = [...]string{
	Genuine:     "genuine",
	Clone:       "clone",
	NISChanged:  "nis-changed",
	UntrustedDS: "untrusted-ds",
	ExpiredDS:   "expired-ds",
	NoIntAuth:   "no-intauth",
}

// Negatives returns every Negative value, Genuine first, for help texts and
// tests that iterate over them.
func Negatives() []Negative {
	out := make([]Negative, len(negativeNames))
	for i := range out {
		out[i] = Negative(i)
	}
	return out
}

// String returns the name used by ParseNegative and the card file.
func (n Negative) String() string {
	if n >= 0 && int(n) < len(negativeNames) {
		return negativeNames[n]
	}
	return fmt.Sprintf("Negative(%d)", int(n))
}

// valid reports whether n is one of the defined values.
func (n Negative) valid() bool { return n >= 0 && int(n) < len(negativeNames) }

// ParseNegative returns the Negative named s: genuine (also "" and "none"),
// clone, nis-changed, untrusted-ds, expired-ds, no-intauth. Errors wrap
// ErrNegative.
func ParseNegative(s string) (Negative, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return Genuine, nil
	}
	for i, name := range negativeNames {
		if s == name {
			return Negative(i), nil
		}
	}
	return 0, fmt.Errorf("%w %q (known: %s)", ErrNegative, s, strings.Join(negativeNames[:], ", "))
}

// MarshalText implements encoding.TextMarshaler.
func (n Negative) MarshalText() ([]byte, error) {
	if !n.valid() {
		return nil, fmt.Errorf("%w: %d", ErrNegative, int(n))
	}
	return []byte(n.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseNegative.
func (n *Negative) UnmarshalText(b []byte) error {
	v, err := ParseNegative(string(b))
	if err != nil {
		return err
	}
	*n = v
	return nil
}
