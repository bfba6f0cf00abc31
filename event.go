package varco

import "time"

// Reason says why a tap was denied. The values are part of the MQTT
// contract and of the admin's entry log: never renumber or rename them.
type Reason string

// Deny reasons (ARCHITECTURE.md section 4).
const (
	ReasonUnknown         Reason = "unknown"          // no grant for the NIS
	ReasonCloneSuspected  Reason = "clone_suspected"  // key mismatch or bad signature
	ReasonExpired         Reason = "expired"          // after ValidUntil
	ReasonNotYetValid     Reason = "not_yet_valid"    // before ValidFrom
	ReasonOutsideSchedule Reason = "outside_schedule" // no schedule window open
	ReasonHoliday         Reason = "holiday"          // a window would be open, but it is a holiday
	ReasonLockdown        Reason = "lockdown"         // door in lockdown
	ReasonRevoked         Reason = "revoked"          // grant deleted by the admin (admin-side log)
	ReasonClockUntrusted  Reason = "clock_untrusted"  // schedule-limited grant, clock not trusted
	ReasonAllowlistStale  Reason = "allowlist_stale"  // last sync older than max_offline
	ReasonReadError       Reason = "read_error"       // the card could not be read
)

// Decision is the outcome of a tap. A deny is a decision, not an error.
type Decision struct {
	Granted  bool   `json:"granted"`
	Reason   Reason `json:"reason,omitempty"` // set when !Granted
	PersonID string `json:"person_id,omitempty"`
}

// EventKind says what a door Event reports.
type EventKind string

// Door event kinds.
const (
	EventGranted    EventKind = "granted"
	EventDenied     EventKind = "denied"
	EventForced     EventKind = "forced"     // opened while locked, no REX
	EventHeldOpen   EventKind = "held_open"  // still open after the limit
	EventClosed     EventKind = "closed"     // closed again after forced or held open
	EventREX        EventKind = "rex"        // request-to-exit pressed
	EventMode       EventKind = "mode"       // door mode changed
	EventReader     EventKind = "reader"     // reader up/down, pcscd outage
	EventSync       EventKind = "sync"       // allowlist applied or rejected
	EventClock      EventKind = "clock"      // clock became trusted
	EventDropped    EventKind = "dropped"    // the outbox cap discarded events
	EventController EventKind = "controller" // started, stopping
)

// Event is something that happened at a door. Seq is assigned by the
// door's outbox, per door, in the same transaction that stores the event.
type Event struct {
	Seq      uint64    `json:"seq"`
	Door     string    `json:"door"`
	Time     time.Time `json:"time"`
	Kind     EventKind `json:"kind"`
	NIS      string    `json:"nis,omitempty"`
	PersonID string    `json:"person_id,omitempty"`
	Reason   Reason    `json:"reason,omitempty"`
	Detail   string    `json:"detail,omitempty"`
	// ClockTrusted says whether the door's clock was trusted (NTP or RTC)
	// when it stamped Time: an untrusted time may be far off.
	ClockTrusted bool `json:"clock_trusted,omitempty"`
}

// DoorMode is how a door treats taps.
type DoorMode string

// Door modes.
const (
	ModeNormal           DoorMode = "normal"            // grants decide
	ModeLockdown         DoorMode = "lockdown"          // deny all but FlagLockdownOverride
	ModeUnlockedSchedule DoorMode = "unlocked_schedule" // held open by a schedule
	ModeUnlockedCommand  DoorMode = "unlocked_command"  // held open by an admin command
)
