package decide

import (
	"crypto/rsa"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/reader"
)

// UntrustedPolicy says how schedule-limited grants are decided while the
// clock is not trusted (ARCHITECTURE.md section 6, "Clock").
type UntrustedPolicy int

const (
	// UntrustedDeny denies schedule-limited grants with
	// varco.ReasonClockUntrusted while the clock is untrusted. It is the
	// zero value and the default: a Pi that boots in 1970 or in the future
	// must not open a door on a schedule it cannot place in time.
	UntrustedDeny UntrustedPolicy = iota
	// UntrustedAllowLocal decides schedule-limited grants on the local
	// clock as it is, trusted or not (a site that prefers people getting in
	// to a correct schedule after a power cut).
	UntrustedAllowLocal
)

// ClockState is what the controller knows about its own clock.
type ClockState struct {
	// Trusted is true once NTP synchronisation has been seen or an RTC is
	// configured.
	Trusted bool
}

// Policy holds the per-door settings that change decisions. The zero value
// is the default: deny schedule-limited grants while the clock is untrusted,
// no offline limit.
type Policy struct {
	// UntrustedClock decides schedule-limited grants while the clock is
	// untrusted.
	UntrustedClock UntrustedPolicy
	// MaxOffline, when positive, denies every tap with
	// varco.ReasonAllowlistStale once Now is more than MaxOffline after
	// Input.LastSync. Zero means no limit.
	MaxOffline time.Duration
}

// Input is everything a decision depends on. Decide reads it and nothing
// else.
type Input struct {
	// Grant is the allowlist entry for the NIS read; nil when the door holds
	// no grant for it.
	Grant *varco.Grant
	// Read is the card's NIS, the challenge sent and the card's signature.
	// It is nil when the read failed; ReadErr then says why.
	Read *reader.DoorRead
	// ReadErr is the error of the card read, if any. A non-nil ReadErr (or a
	// nil Read) denies with varco.ReasonReadError.
	ReadErr error
	// PublicKey, when not nil, is Grant.PublicKey already parsed (by
	// reader.ParsePublicKeyFile), so a tap does not parse it again. It must
	// come from the same grant: a cache must be keyed by the key bytes (or
	// Grant.KeyHash), never by NIS alone, or a re-enrolled card would be
	// checked against its old key. When nil, Decide parses Grant.PublicKey.
	PublicKey *rsa.PublicKey
	// Now is the time of the tap, from the controller's (injected) clock.
	Now time.Time
	// Location is the site's time zone, in which schedules and holidays are
	// read. Nil means UTC (never time.Local: Decide reads no global state).
	Location *time.Location
	// Schedules holds the door's schedules by ID. A grant's schedule ID
	// missing from the map is a closed schedule.
	Schedules map[string]varco.Schedule
	// Holidays holds the site's holidays as YYYY-MM-DD dates in Location.
	Holidays map[string]bool
	// Mode is the door mode. The zero value "" is treated as
	// varco.ModeNormal.
	Mode varco.DoorMode
	// Clock is the clock state at the tap.
	Clock ClockState
	// Policy holds the door's decision settings.
	Policy Policy
	// LastSync is the time of the last successful allowlist sync; the zero
	// time means never synced. Only used when Policy.MaxOffline is set.
	LastSync time.Time
}

// Decide returns the access decision for a tap. It is a pure function of in.
//
// The checks run in this order; the first that fails gives the reason:
//
//  1. read_error: ReadErr set or no Read. Nothing is known about the card
//     and a read error never opens the door.
//  2. unknown: no grant, or a grant for another NIS (a caller bug, treated
//     as no grant).
//  3. clone_suspected: the stored key does not parse, or the card's answer
//     to the challenge does not verify with it (a copied NIS with another
//     key, a corrupted or replayed answer). This comes before every check
//     that depends on the grant's content, so an unproven card learns
//     nothing about the grant it claims (dates, schedule, flags) and the
//     log never puts an unproven tap under someone's name: PersonID is set
//     in the decision only from here on.
//  4. Door unlocked (by schedule or by command): granted. The door is
//     already open to everyone, so dates, schedules, clock and staleness
//     are moot; the relay is already held and a grant needs no relay
//     change. Identity still goes first so that a clone tapped on an open
//     door is still reported, and a proven tap is logged with its person.
//  5. allowlist_stale: Policy.MaxOffline set and Now - LastSync >
//     MaxOffline (exactly MaxOffline is still fresh; a zero LastSync is
//     stale). A stale list may miss revocations, so it binds every grant,
//     FlagAlways and FlagLockdownOverride included. A Now before LastSync
//     (a clock set back) counts as fresh: the clock policy covers clocks
//     that cannot be trusted.
//  6. lockdown: Mode is lockdown and the grant lacks FlagLockdownOverride.
//     Before dates and schedules: in a lockdown the reason that matters to
//     the people watching the log is the lockdown.
//  7. clock_untrusted: the clock is untrusted, the policy is UntrustedDeny
//     and the grant is schedule-limited (no FlagAlways). It comes before the
//     date checks because with an untrusted clock a date deny would name a
//     cause that may well be the clock itself.
//  8. not_yet_valid: Now before ValidFrom (ValidFrom itself is valid).
//  9. expired: Now at or after ValidUntil (exclusive bound). Dates bind
//     FlagAlways grants too, on the local clock even while it is untrusted:
//     it is the only clock the door has, and a grant that must work at
//     boot should carry no dates.
//  10. FlagAlways: granted, schedules and holidays ignored, whatever the
//     clock state.
//  11. Schedules, on the wall clock of Now in Location: granted if any of
//     the grant's schedules is open; otherwise holiday if today is a holiday
//     and one of them would have been open on a working day; otherwise
//     outside_schedule.
//
// A Decision is Granted exactly when its Reason is empty.
func Decide(in Input) varco.Decision {
	if in.ReadErr != nil || in.Read == nil {
		return deny(varco.ReasonReadError, "")
	}
	g := in.Grant
	if g == nil || (g.NIS != "" && g.NIS != in.Read.NIS) {
		return deny(varco.ReasonUnknown, "")
	}
	pub := in.PublicKey
	if pub == nil {
		var err error
		if pub, _, err = reader.ParsePublicKeyFile(g.PublicKey); err != nil {
			// Grants are validated when applied, so this is a corrupted
			// entry: the card cannot prove anything against it.
			return deny(varco.ReasonCloneSuspected, "")
		}
	}
	if reader.VerifyChallenge(pub, in.Read.Challenge, in.Read.Signature) != nil {
		return deny(varco.ReasonCloneSuspected, "")
	}
	// The card holds the private key enrolled for this grant.
	who := g.PersonID

	switch in.Mode {
	case varco.ModeUnlockedSchedule, varco.ModeUnlockedCommand:
		return grant(who)
	}
	if in.Policy.MaxOffline > 0 && Stale(in.Now, in.LastSync, in.Policy.MaxOffline) {
		return deny(varco.ReasonAllowlistStale, who)
	}
	if in.Mode == varco.ModeLockdown && !g.Flags.Has(varco.FlagLockdownOverride) {
		return deny(varco.ReasonLockdown, who)
	}
	always := g.Flags.Has(varco.FlagAlways)
	if !always && !in.Clock.Trusted && in.Policy.UntrustedClock == UntrustedDeny {
		return deny(varco.ReasonClockUntrusted, who)
	}
	if !g.ValidFrom.IsZero() && in.Now.Before(g.ValidFrom) {
		return deny(varco.ReasonNotYetValid, who)
	}
	if !g.ValidUntil.IsZero() && !in.Now.Before(g.ValidUntil) {
		return deny(varco.ReasonExpired, who)
	}
	if always {
		return grant(who)
	}
	switch ScheduleState(g.ScheduleIDs, in.Schedules, in.Holidays, in.Now, in.Location) {
	case Open:
		return grant(who)
	case ClosedForHoliday:
		return deny(varco.ReasonHoliday, who)
	default:
		return deny(varco.ReasonOutsideSchedule, who)
	}
}

// Stale reports whether an allowlist last synced at lastSync is too old at
// now for maxOffline: now - lastSync > maxOffline. A zero lastSync (never
// synced) is always stale; a now before lastSync is not.
func Stale(now, lastSync time.Time, maxOffline time.Duration) bool {
	if lastSync.IsZero() {
		return true
	}
	return now.Sub(lastSync) > maxOffline
}

// State is whether a set of schedules is open at a given time.
type State int

const (
	// Closed: no window open at this time.
	Closed State = iota
	// Open: at least one schedule has a window open.
	Open
	// ClosedForHoliday: closed, but some schedule would have been open if
	// the day were not a holiday.
	ClosedForHoliday
)

// ScheduleState evaluates the schedules named by ids at now, read on the
// wall clock of loc (nil means UTC). holidays holds YYYY-MM-DD dates in
// loc. IDs missing from schedules are closed.
func ScheduleState(ids []string, schedules map[string]varco.Schedule, holidays map[string]bool, now time.Time, loc *time.Location) State {
	if loc == nil {
		loc = time.UTC
	}
	local := now.In(loc)
	holiday := false
	if len(holidays) > 0 {
		var buf [len(time.DateOnly)]byte
		// string(b) in a map index does not allocate.
		holiday = holidays[string(local.AppendFormat(buf[:0], time.DateOnly))]
	}
	wouldOpen := false
	for _, id := range ids {
		s, ok := schedules[id]
		if !ok {
			continue
		}
		if s.OpenAt(local, holiday) {
			return Open
		}
		if holiday && s.OpenAt(local, false) {
			wouldOpen = true
		}
	}
	if wouldOpen {
		return ClosedForHoliday
	}
	return Closed
}

func grant(who string) varco.Decision {
	return varco.Decision{Granted: true, PersonID: who}
}

func deny(r varco.Reason, who string) varco.Decision {
	return varco.Decision{Reason: r, PersonID: who}
}
