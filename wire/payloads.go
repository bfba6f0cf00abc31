package wire

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/reader"
)

// Delta moves one door's allowlist from revision From to revision To
// (kind grants, admin → door, signed). It carries the net change: the
// final value of every grant added or changed and the NIS of every grant
// removed between the two revisions, so it applies only at From (see
// CheckDelta). To may be more than From+1: one delta may span several
// revisions.
type Delta struct {
	From uint64 `json:"from_rev"`
	To   uint64 `json:"to_rev"`
	// Upserts are the grants added or changed; Deletes the NIS of the
	// grants removed. A NIS is in at most one of them, once.
	Upserts []varco.Grant `json:"upserts,omitempty"`
	Deletes []string      `json:"deletes,omitempty"`
	// Schedules is nil when the schedules did not change, else the door's
	// complete new set (possibly empty: "[]" on the wire). Holidays
	// likewise. nil and empty differ here, and on the wire: absent versus
	// [].
	Schedules []varco.Schedule `json:"schedules,omitzero"`
	Holidays  []varco.Holiday  `json:"holidays,omitzero"`
	// Mode is the door's configured mode, TimeZone the IANA zone its
	// schedules are written in; empty means unchanged.
	Mode     varco.DoorMode `json:"mode,omitempty"`
	TimeZone string         `json:"time_zone,omitempty"`
	// IssuedAt is when the admin built the delta, for logs and the door's
	// "last sync" display; freshness comes from the revisions.
	IssuedAt time.Time `json:"issued_at"`
}

// Validate checks what a door relies on before applying the delta: the
// revisions, every grant, schedule and holiday, and that no NIS, schedule
// id or holiday date repeats. The error names the field.
func (d Delta) Validate() error {
	if d.To <= d.From {
		return fmt.Errorf("delta: to_rev %d is not greater than from_rev %d", d.To, d.From)
	}
	seen, err := validateGrants("delta: upserts", d.Upserts)
	if err != nil {
		return err
	}
	for i, nis := range d.Deletes {
		if err := reader.CheckNIS([]byte(nis)); err != nil {
			return fmt.Errorf("delta: deletes[%d]: %v", i, err)
		}
		if seen[nis] {
			return fmt.Errorf("delta: deletes[%d]: NIS %s upserted or deleted twice", i, nis)
		}
		seen[nis] = true
	}
	if err := validateShared("delta", d.Schedules, d.Holidays, d.Mode, d.TimeZone); err != nil {
		return err
	}
	if d.IssuedAt.IsZero() {
		return fmt.Errorf("delta: issued_at: missing")
	}
	return nil
}

// Head announces the admin's latest revision for a door (kind head, admin
// → door, signed, retained): a door that comes back learns at once whether
// it is behind, without asking.
type Head struct {
	Rev      uint64    `json:"rev"`
	IssuedAt time.Time `json:"issued_at"`
}

// Validate checks the head's fields.
func (h Head) Validate() error {
	if h.IssuedAt.IsZero() {
		return fmt.Errorf("head: issued_at: missing")
	}
	return nil
}

// Reasons a door sends a sync request, for the admin's logs. Other values
// are allowed.
const (
	SyncBoot     = "boot"     // started, or reconnected
	SyncHead     = "head"     // a head ahead of the door arrived
	SyncGap      = "gap"      // a delta did not start at the door's revision
	SyncRejected = "rejected" // an update failed its checks (signature, digest, validation)
	SyncResync   = "resync"   // the admin sent the resync command
	SyncTimeout  = "timeout"  // a requested update did not arrive in time
)

// SyncRequest tells the admin which revision a door holds (kind sync,
// door → admin): "I have rev N". The admin answers with deltas from N, or
// with a snapshot when it no longer has them or N is 0.
type SyncRequest struct {
	Rev    uint64 `json:"rev"`
	Reason string `json:"reason,omitempty"`
}

// MaxText bounds the free-text fields of door-to-admin payloads.
const MaxText = 1024

// Validate checks the request's fields.
func (s SyncRequest) Validate() error {
	return checkText("sync: reason", s.Reason)
}

// EventsBatch carries door events in outbox order (kind events, door →
// admin). Epoch names the door's outbox: a door whose store was wiped
// starts a new epoch and its sequence numbers start again at 1, and the
// admin, keying events on (door, epoch, seq), neither drops them as
// duplicates nor mixes them up with the old ones.
type EventsBatch struct {
	Epoch  string        `json:"epoch"`
	Events []varco.Event `json:"events"`
}

// Validate checks the epoch and that sequence numbers are positive and
// strictly increasing, nothing else: the admin stores the kinds, reasons
// and details newer doors send, and refusing a batch would only block the
// door's outbox (the door resends what is not acknowledged). Event.Door
// is not authoritative: the admin takes the door from the topic.
func (b EventsBatch) Validate() error {
	if !ValidID(b.Epoch) {
		return fmt.Errorf("events: epoch %q is not a valid id", clip(b.Epoch))
	}
	if len(b.Events) == 0 {
		return fmt.Errorf("events: events: empty batch")
	}
	var prev uint64
	for i, e := range b.Events {
		if e.Seq <= prev {
			return fmt.Errorf("events: events[%d]: seq %d after %d: want positive and increasing", i, e.Seq, prev)
		}
		prev = e.Seq
	}
	return nil
}

// Ack tells a door that the admin has stored every event of outbox Epoch
// up to Seq durably (kind events/ack, admin → door, signed); the door may
// drop them. See CheckAck.
type Ack struct {
	Epoch string `json:"epoch"`
	Seq   uint64 `json:"seq"`
}

// Validate checks the ack's fields.
func (a Ack) Validate() error {
	if !ValidID(a.Epoch) {
		return fmt.Errorf("ack: epoch %q is not a valid id", clip(a.Epoch))
	}
	if a.Seq == 0 {
		return fmt.Errorf("ack: seq: must be positive")
	}
	return nil
}

// Door states reported in Status.DoorState. Newer doors may report others;
// the admin shows them as they are.
const (
	DoorClosed   = "closed"
	DoorOpen     = "open"
	DoorForced   = "forced"
	DoorHeldOpen = "held_open"
)

// Status is a door's state (kind status, door → admin, retained). The
// door publishes it on connect and on every change; its Last Will is
// OfflineWill, so the broker publishes Online false when the door
// disappears.
type Status struct {
	Online bool `json:"online"`
	// Rev is the allowlist revision the door holds.
	Rev uint64 `json:"rev,omitempty"`
	// OutboxLen is the number of events not yet acknowledged.
	OutboxLen    int    `json:"outbox_len,omitempty"`
	ClockTrusted bool   `json:"clock_trusted,omitempty"`
	Version      string `json:"version,omitempty"` // varco-door build
	// Mode is the door's current mode (varco.DoorMode values); DoorState
	// one of DoorClosed, DoorOpen, DoorForced, DoorHeldOpen.
	Mode      varco.DoorMode `json:"mode,omitempty"`
	DoorState string         `json:"door_state,omitempty"`
	// Time is the door's clock when it sent the status; zero in the Last
	// Will, which is fixed at connect time.
	Time time.Time `json:"time,omitzero"`
}

// Validate checks the status's fields. Mode and DoorState are only checked
// to be short tokens: newer doors may report values this package does not
// know.
func (s Status) Validate() error {
	if s.OutboxLen < 0 {
		return fmt.Errorf("status: outbox_len %d is negative", s.OutboxLen)
	}
	if s.Online && s.Time.IsZero() {
		return fmt.Errorf("status: time: missing in an online status")
	}
	if err := checkText("status: version", s.Version); err != nil {
		return err
	}
	if s.Mode != "" && !token(string(s.Mode)) {
		return fmt.Errorf("status: mode %q is not a lowercase token", clip(string(s.Mode)))
	}
	if s.DoorState != "" && !token(s.DoorState) {
		return fmt.Errorf("status: door_state %q is not a lowercase token", clip(s.DoorState))
	}
	return nil
}

// OfflineWill returns the Last Will a door registers when it connects: an
// encoded Status{Online: false} on its status topic (retained, QoS 1). A
// will is fixed at connect time, so it carries no time and no revision.
// MQTT has one will per connection: a controller serving several doors
// connects once per door.
func OfflineWill(site, door string) ([]byte, error) {
	return Encode(KindStatus, site, door, Status{})
}

// Action is what a Cmd asks a door to do.
type Action string

// Command actions. A door refuses actions it does not know (Validate
// fails): the admin must not send newer actions to older doors (see
// Status.Version).
const (
	ActionUnlockOnce  Action = "unlock_once"  // release the strike once, as for a grant
	ActionLockdownOn  Action = "lockdown_on"  // enter varco.ModeLockdown
	ActionLockdownOff Action = "lockdown_off" // back to the configured mode
	ActionResync      Action = "resync"       // send a SyncRequest (SyncResync) now
)

// MaxCmdTTL bounds ExpiresAt-IssuedAt of a command: a command is for now,
// and a captured one must not stay usable.
const MaxCmdTTL = time.Hour

// Cmd is a remote command (kind cmd, admin → door, signed). Seq grows by
// at least one with every command the admin sends to the door, across
// admin restarts; the door stores the last Seq it executed and runs a
// command only once and only before ExpiresAt (see Cmd.Check).
type Cmd struct {
	Seq       uint64    `json:"seq"`
	Action    Action    `json:"action"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// By names the admin user who sent it, for the door's event.
	By string `json:"by,omitempty"`
}

// Validate checks the command's fields.
func (c Cmd) Validate() error {
	if c.Seq == 0 {
		return fmt.Errorf("cmd: seq: must be positive")
	}
	switch c.Action {
	case ActionUnlockOnce, ActionLockdownOn, ActionLockdownOff, ActionResync:
	default:
		return fmt.Errorf("cmd: action %q: unknown", clip(string(c.Action)))
	}
	if c.IssuedAt.IsZero() || c.ExpiresAt.IsZero() {
		return fmt.Errorf("cmd: issued_at and expires_at: both required")
	}
	if ttl := c.ExpiresAt.Sub(c.IssuedAt); ttl <= 0 || ttl > MaxCmdTTL {
		return fmt.Errorf("cmd: expires_at is %v after issued_at, want more than 0 and at most %v", ttl, MaxCmdTTL)
	}
	return checkText("cmd: by", c.By)
}

// ChallengeSize is the length of an enrolment challenge, as the door's
// INTERNAL AUTHENTICATE uses (CIE.md).
const ChallengeSize = 32

// EnrollChallenge asks an enrolment station to read the card on its reader
// and sign Challenge with it (kind enroll, admin → station, signed).
type EnrollChallenge struct {
	// ID names the enrolment session; the result carries it back.
	ID        string    `json:"id"`
	Challenge []byte    `json:"challenge"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Validate checks the challenge's fields.
func (c EnrollChallenge) Validate() error {
	if !ValidID(c.ID) {
		return fmt.Errorf("enroll: id %q is not a valid id", clip(c.ID))
	}
	if len(c.Challenge) != ChallengeSize {
		return fmt.Errorf("enroll: challenge is %d bytes, want %d", len(c.Challenge), ChallengeSize)
	}
	if c.ExpiresAt.IsZero() {
		return fmt.Errorf("enroll: expires_at: missing")
	}
	return nil
}

// Check refuses a challenge at or after its expiry (ErrExpired).
func (c EnrollChallenge) Check(now time.Time) error {
	if !now.Before(c.ExpiresAt) {
		return fmt.Errorf("wire: enroll %s: %w at %s", c.ID, ErrExpired, c.ExpiresAt.Format(time.RFC3339))
	}
	return nil
}

// EnrollResult is what an enrolment station read from the card (kind
// enroll/result, station → admin): NIS, the "servizi" public key file,
// EF.SOD and the card's signature over the challenge. The admin verifies
// all of it (SOD against the CSCA set, signature against the key); this
// package only checks the shape. Error is set instead when the read
// failed, and then the other fields may be empty.
type EnrollResult struct {
	ID        string `json:"id"`
	NIS       string `json:"nis,omitempty"`
	PublicKey []byte `json:"public_key,omitempty"`
	SOD       []byte `json:"sod,omitempty"`
	Signature []byte `json:"signature,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Validate checks the result's shape.
func (r EnrollResult) Validate() error {
	if !ValidID(r.ID) {
		return fmt.Errorf("enroll result: id %q is not a valid id", clip(r.ID))
	}
	if r.Error != "" {
		return checkText("enroll result: error", r.Error)
	}
	if err := reader.CheckNIS([]byte(r.NIS)); err != nil {
		return fmt.Errorf("enroll result: nis: %v", err)
	}
	switch {
	case len(r.PublicKey) == 0:
		return fmt.Errorf("enroll result: public_key: missing")
	case len(r.SOD) == 0:
		return fmt.Errorf("enroll result: sod: missing")
	case len(r.Signature) == 0:
		return fmt.Errorf("enroll result: signature: missing")
	}
	return nil
}

// validateGrants validates each grant and refuses a repeated NIS. It
// returns the set of NIS seen.
func validateGrants(field string, gs []varco.Grant) (map[string]bool, error) {
	seen := make(map[string]bool, len(gs))
	for i := range gs {
		if err := gs[i].Validate(); err != nil {
			return nil, fmt.Errorf("%s[%d]: %v", field, i, err)
		}
		if seen[gs[i].NIS] {
			return nil, fmt.Errorf("%s[%d]: NIS %s repeated", field, i, gs[i].NIS)
		}
		seen[gs[i].NIS] = true
	}
	return seen, nil
}

// validateShared checks the door-wide part of a delta or snapshot.
func validateShared(what string, scheds []varco.Schedule, hols []varco.Holiday, mode varco.DoorMode, tz string) error {
	ids := make(map[string]bool, len(scheds))
	for i := range scheds {
		if err := scheds[i].Validate(); err != nil {
			return fmt.Errorf("%s: schedules[%d]: %v", what, i, err)
		}
		if ids[scheds[i].ID] {
			return fmt.Errorf("%s: schedules[%d]: id %q repeated", what, i, scheds[i].ID)
		}
		ids[scheds[i].ID] = true
	}
	dates := make(map[string]bool, len(hols))
	for i, h := range hols {
		if err := h.Validate(); err != nil {
			return fmt.Errorf("%s: holidays[%d]: %v", what, i, err)
		}
		if dates[h.Date] {
			return fmt.Errorf("%s: holidays[%d]: date %s repeated", what, i, h.Date)
		}
		dates[h.Date] = true
	}
	switch mode {
	case "", varco.ModeNormal, varco.ModeLockdown, varco.ModeUnlockedSchedule, varco.ModeUnlockedCommand:
	default:
		return fmt.Errorf("%s: mode %q: unknown", what, clip(string(mode)))
	}
	if tz != "" && !zoneName(tz) {
		return fmt.Errorf("%s: time_zone %q is not an IANA zone name", what, clip(tz))
	}
	return nil
}

// zoneName reports whether tz looks like an IANA zone name
// ("Europe/Rome", "UTC", "America/Argentina/Buenos_Aires", "Etc/GMT+1").
// Whether the door's tzdata knows it is the door's check: loading zones
// here would make validation depend on the machine. "Local" is refused,
// as in the door's configuration.
func zoneName(tz string) bool {
	if len(tz) > 64 || tz == "Local" || tz[0] == '/' || tz[len(tz)-1] == '/' {
		return false
	}
	for i := 0; i < len(tz); i++ {
		c := tz[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '_' || c == '-' || c == '+'
		if !ok {
			return false
		}
		if c == '/' && tz[i+1] == '/' {
			return false
		}
	}
	return true
}

// token reports whether s is a short lowercase identifier: 1 to 32 bytes
// of a-z, 0-9 and '_'.
func token(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// checkText bounds a free-text field and requires valid UTF-8.
func checkText(field, s string) error {
	if len(s) > MaxText {
		return fmt.Errorf("%s: %d bytes, limit %d", field, len(s), MaxText)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s: not valid UTF-8", field)
	}
	return nil
}
