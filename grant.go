package varco

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/varco-access/varco/reader"
)

// Flags modify how a grant is decided.
type Flags uint32

const (
	// FlagAlways ignores schedules and holidays: the grant opens whenever
	// it is valid, also while the clock is untrusted.
	FlagAlways Flags = 1 << iota
	// FlagLockdownOverride lets the holder in during a lockdown (security,
	// first responders).
	FlagLockdownOverride
)

// Has reports whether all of the flags in g are set in f.
func (f Flags) Has(g Flags) bool { return f&g == g }

// Grant lets one card open one door: the allowlist entry a door holds. The
// door keeps only the grants of people allowed at that door.
type Grant struct {
	// NIS is the card's 12-digit identifier (CIE.md section 1): the key.
	NIS string `json:"nis"`
	// PersonID and DisplayName say who it is, for events and logs.
	PersonID    string `json:"person_id"`
	DisplayName string `json:"display_name,omitempty"`
	// PublicKey is the card's "servizi" key as read and verified at
	// enrolment: DER PKCS#1 RSAPublicKey cut at its TLV length. The door
	// verifies the INTERNAL AUTHENTICATE answer with it.
	PublicKey []byte `json:"public_key"`
	// ValidFrom and ValidUntil bound the grant; a zero value means no
	// bound. ValidUntil is exclusive.
	ValidFrom  time.Time `json:"valid_from,omitzero"`
	ValidUntil time.Time `json:"valid_until,omitzero"`
	// ScheduleIDs name the schedules during which the grant opens; the
	// grant opens if any of them is open. Empty with FlagAlways unset
	// means never.
	ScheduleIDs []string `json:"schedule_ids,omitempty"`
	Flags       Flags    `json:"flags,omitempty"`
}

// Validate checks the fields a door relies on: a 12-digit NIS, a person,
// a parseable RSA key and consistent dates.
func (g *Grant) Validate() error {
	if err := reader.CheckNIS([]byte(g.NIS)); err != nil {
		return fmt.Errorf("grant %q: %w", g.NIS, err)
	}
	if g.PersonID == "" {
		return fmt.Errorf("grant %s: empty person_id", g.NIS)
	}
	if _, _, err := reader.ParsePublicKeyFile(g.PublicKey); err != nil {
		return fmt.Errorf("grant %s: public_key: %w", g.NIS, err)
	}
	if !g.ValidFrom.IsZero() && !g.ValidUntil.IsZero() && !g.ValidUntil.After(g.ValidFrom) {
		return fmt.Errorf("grant %s: valid_until %s is not after valid_from %s", g.NIS, g.ValidUntil.Format(time.RFC3339), g.ValidFrom.Format(time.RFC3339))
	}
	return nil
}

// KeyHash returns the hex SHA-256 of the grant's public key: with the NIS,
// the whitelist entry CIE.md section 1 prescribes.
func (g *Grant) KeyHash() string {
	s := sha256.Sum256(g.PublicKey)
	return hex.EncodeToString(s[:])
}
