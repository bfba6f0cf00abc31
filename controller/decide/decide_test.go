package decide

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/reader"
)

const testNIS = "123456789012"

// keys holds two real RSA-2048 card keys, generated once per test binary:
// card is the enrolled card, other a card (or clone) with another key.
var keys struct {
	once        sync.Once
	card, other *rsa.PrivateKey
}

func mustKeys(tb testing.TB) (card, other *rsa.PrivateKey) {
	tb.Helper()
	keys.once.Do(func() {
		var err error
		if keys.card, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if keys.other, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return keys.card, keys.other
}

// mustRead returns what a door reads from a card holding priv: the NIS, a
// fresh challenge and the card's INTERNAL AUTHENTICATE answer (PKCS#1 v1.5
// type 1 over the raw challenge, no DigestInfo; CIE.md section 4).
func mustRead(tb testing.TB, priv *rsa.PrivateKey) *reader.DoorRead {
	tb.Helper()
	ch := make([]byte, reader.DefaultChallenge)
	if _, err := rand.Read(ch); err != nil {
		tb.Fatal(err)
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.Hash(0), ch)
	if err != nil {
		tb.Fatal(err)
	}
	return &reader.DoorRead{NIS: testNIS, Challenge: ch, Signature: sig}
}

var rome = mustLoadLocation("Europe/Rome")

func mustLoadLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// at returns a wall-clock time in Rome.
func at(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, rome)
}

// hm is a minute of the day.
func hm(h, m int) int { return h*60 + m }

func weekdays(ws ...varco.Window) [7][]varco.Window {
	var d [7][]varco.Window
	for wd := time.Monday; wd <= time.Friday; wd++ {
		d[wd] = ws
	}
	return d
}

func everyDay(ws ...varco.Window) [7][]varco.Window {
	var d [7][]varco.Window
	for wd := range d {
		d[wd] = ws
	}
	return d
}

func testSchedules() map[string]varco.Schedule {
	return map[string]varco.Schedule{
		"office": {ID: "office", Days: weekdays(varco.Window{Start: hm(8, 0), End: hm(18, 0)})},
		"split": {ID: "split", Days: weekdays(
			varco.Window{Start: hm(8, 0), End: hm(12, 0)},
			varco.Window{Start: hm(13, 0), End: hm(17, 0)},
		)},
		"guard":     {ID: "guard", Days: everyDay(varco.Window{Start: 0, End: varco.MinutesPerDay}), OpenOnHolidays: true},
		"midnight":  {ID: "midnight", Days: everyDay(varco.Window{Start: 0, End: hm(1, 0)})},
		"daily":     {ID: "daily", Days: everyDay(varco.Window{Start: hm(8, 0), End: hm(18, 0)})},
		"skipped":   {ID: "skipped", Days: everyDay(varco.Window{Start: hm(2, 0), End: hm(3, 0)})},
		"acrossDST": {ID: "acrossDST", Days: everyDay(varco.Window{Start: hm(1, 30), End: hm(3, 30)})},
	}
}

// tuesday is a working day with no DST change nearby: 2026-03-10.
var tuesday = at(2026, 3, 10, 10, 0)

// baseInput is a valid tap at 10:00 on a Tuesday by an enrolled card with an
// office-hours grant valid this year, trusted clock, normal mode.
func baseInput(tb testing.TB) Input {
	tb.Helper()
	card, _ := mustKeys(tb)
	return Input{
		Grant: &varco.Grant{
			NIS:         testNIS,
			PersonID:    "p-1",
			DisplayName: "Maria Rossi",
			PublicKey:   x509.MarshalPKCS1PublicKey(&card.PublicKey),
			ValidFrom:   at(2026, 1, 1, 0, 0),
			ValidUntil:  at(2027, 1, 1, 0, 0),
			ScheduleIDs: []string{"office"},
		},
		Read:      mustRead(tb, card),
		Now:       tuesday,
		Location:  rome,
		Schedules: testSchedules(),
		Holidays:  map[string]bool{"2026-04-06": true, "2026-03-11": true},
		Mode:      varco.ModeNormal,
		Clock:     ClockState{Trusted: true},
		LastSync:  tuesday.Add(-time.Hour),
	}
}

var (
	granted = varco.Decision{Granted: true, PersonID: "p-1"}
	// anonymous denies: the card did not prove who it is.
	readError = varco.Decision{Reason: varco.ReasonReadError}
	unknown   = varco.Decision{Reason: varco.ReasonUnknown}
	clone     = varco.Decision{Reason: varco.ReasonCloneSuspected}
)

func denied(r varco.Reason) varco.Decision { return varco.Decision{Reason: r, PersonID: "p-1"} }

func TestDecide(t *testing.T) {
	card, other := mustKeys(t)
	tests := []struct {
		name string
		mod  func(in *Input)
		want varco.Decision
	}{
		{"granted in office hours", func(in *Input) {}, granted},
		{"empty mode is normal", func(in *Input) { in.Mode = "" }, granted},
		{"pre-parsed key", func(in *Input) { in.PublicKey = &card.PublicKey }, granted},
		{"grant without NIS field", func(in *Input) { in.Grant.NIS = "" }, granted},
		{"no dates", func(in *Input) { in.Grant.ValidFrom, in.Grant.ValidUntil = time.Time{}, time.Time{} }, granted},

		// read_error
		{"read error", func(in *Input) { in.Read, in.ReadErr = nil, reader.ErrShortResponse }, readError},
		{"read error with partial read", func(in *Input) { in.ReadErr = errors.New("card removed") }, readError},
		{"no read and no error", func(in *Input) { in.Read = nil }, readError},
		{"read error on unlocked door", func(in *Input) {
			in.Read, in.ReadErr, in.Mode = nil, reader.ErrShortResponse, varco.ModeUnlockedCommand
		}, readError},

		// unknown
		{"unknown NIS", func(in *Input) { in.Grant = nil }, unknown},
		{"grant for another NIS", func(in *Input) { in.Grant.NIS = "999999999999" }, unknown},
		{"unknown in lockdown", func(in *Input) { in.Grant, in.Mode = nil, varco.ModeLockdown }, unknown},
		{"unknown on unlocked door", func(in *Input) { in.Grant, in.Mode = nil, varco.ModeUnlockedSchedule }, unknown},

		// clone_suspected
		{"key mismatch: card signed with another key", func(in *Input) { in.Read = mustRead(t, other) }, clone},
		{"corrupted signature", func(in *Input) { in.Read.Signature[100] ^= 0x01 }, clone},
		{"truncated signature", func(in *Input) { in.Read.Signature = in.Read.Signature[:255] }, clone},
		{"empty signature", func(in *Input) { in.Read.Signature = nil }, clone},
		{"signature over another challenge", func(in *Input) { in.Read.Challenge[0] ^= 0xFF }, clone},
		{"replayed answer to an old challenge", func(in *Input) { in.Read.Signature = mustRead(t, card).Signature }, clone},
		{"empty challenge", func(in *Input) { in.Read.Challenge = nil }, clone},
		{"stored key unparseable", func(in *Input) { in.Grant.PublicKey = []byte{0x30, 0x03, 0x02, 0x01, 0x01} }, clone},
		{"stored key empty", func(in *Input) { in.Grant.PublicKey = nil }, clone},
		{"pre-parsed key of another card", func(in *Input) { in.PublicKey = &other.PublicKey }, clone},
		{"clone before every grant detail", func(in *Input) {
			in.Read = mustRead(t, other)
			in.Mode = varco.ModeLockdown
			in.Now = at(2027, 6, 1, 3, 0)
			in.Clock.Trusted = false
			in.Policy.MaxOffline = time.Hour
			in.LastSync = time.Time{}
		}, clone},
		{"clone on unlocked door", func(in *Input) { in.Read, in.Mode = mustRead(t, other), varco.ModeUnlockedCommand }, clone},

		// unlocked modes: granted once the card is proven, nothing else checked
		{"unlocked by schedule, outside schedule and expired", func(in *Input) {
			in.Mode = varco.ModeUnlockedSchedule
			in.Now = at(2027, 2, 6, 3, 0)
		}, granted},
		{"unlocked by command, stale and clock untrusted", func(in *Input) {
			in.Mode = varco.ModeUnlockedCommand
			in.Policy.MaxOffline = time.Minute
			in.LastSync = time.Time{}
			in.Clock.Trusted = false
		}, granted},

		// allowlist_stale
		{"max offline: exactly at the limit", func(in *Input) {
			in.Policy.MaxOffline = 24 * time.Hour
			in.LastSync = in.Now.Add(-24 * time.Hour)
		}, granted},
		{"max offline: one second over", func(in *Input) {
			in.Policy.MaxOffline = 24 * time.Hour
			in.LastSync = in.Now.Add(-24*time.Hour - time.Second)
		}, denied(varco.ReasonAllowlistStale)},
		{"max offline: never synced", func(in *Input) {
			in.Policy.MaxOffline = 24 * time.Hour
			in.LastSync = time.Time{}
		}, denied(varco.ReasonAllowlistStale)},
		{"no max offline, never synced", func(in *Input) { in.LastSync = time.Time{} }, granted},
		{"max offline, clock before last sync", func(in *Input) {
			in.Policy.MaxOffline = time.Hour
			in.LastSync = in.Now.Add(time.Hour)
		}, granted},
		{"stale binds FlagAlways", func(in *Input) {
			in.Grant.Flags = varco.FlagAlways | varco.FlagLockdownOverride
			in.Policy.MaxOffline = time.Hour
			in.LastSync = in.Now.Add(-2 * time.Hour)
		}, denied(varco.ReasonAllowlistStale)},
		{"stale before lockdown", func(in *Input) {
			in.Mode = varco.ModeLockdown
			in.Policy.MaxOffline = time.Hour
			in.LastSync = time.Time{}
		}, denied(varco.ReasonAllowlistStale)},

		// lockdown
		{"lockdown", func(in *Input) { in.Mode = varco.ModeLockdown }, denied(varco.ReasonLockdown)},
		{"lockdown beats FlagAlways", func(in *Input) {
			in.Mode, in.Grant.Flags = varco.ModeLockdown, varco.FlagAlways
		}, denied(varco.ReasonLockdown)},
		{"lockdown before expired", func(in *Input) {
			in.Mode, in.Now = varco.ModeLockdown, at(2027, 3, 2, 10, 0)
		}, denied(varco.ReasonLockdown)},
		{"lockdown override", func(in *Input) {
			in.Mode, in.Grant.Flags = varco.ModeLockdown, varco.FlagLockdownOverride
		}, granted},
		{"lockdown override still needs its schedule", func(in *Input) {
			in.Mode, in.Grant.Flags, in.Now = varco.ModeLockdown, varco.FlagLockdownOverride, at(2026, 3, 10, 20, 0)
		}, denied(varco.ReasonOutsideSchedule)},
		{"lockdown override with FlagAlways at night", func(in *Input) {
			in.Mode = varco.ModeLockdown
			in.Grant.Flags = varco.FlagLockdownOverride | varco.FlagAlways
			in.Now = at(2026, 3, 10, 3, 0)
		}, granted},

		// validity dates
		{"ValidFrom exactly", func(in *Input) { in.Grant.ValidFrom = in.Now }, granted},
		{"one ns before ValidFrom", func(in *Input) { in.Grant.ValidFrom = in.Now.Add(time.Nanosecond) }, denied(varco.ReasonNotYetValid)},
		{"ValidUntil exactly", func(in *Input) { in.Grant.ValidUntil = in.Now }, denied(varco.ReasonExpired)},
		{"one ns before ValidUntil", func(in *Input) { in.Grant.ValidUntil = in.Now.Add(time.Nanosecond) }, granted},
		{"ValidFrom in another zone", func(in *Input) { in.Grant.ValidFrom = in.Now.UTC() }, granted},
		{"expired outside schedule is expired", func(in *Input) { in.Now = at(2027, 1, 2, 3, 0) }, denied(varco.ReasonExpired)},
		{"FlagAlways expired", func(in *Input) {
			in.Grant.Flags = varco.FlagAlways
			in.Grant.ValidUntil = in.Now.Add(-time.Second)
		}, denied(varco.ReasonExpired)},
		{"FlagAlways not yet valid", func(in *Input) {
			in.Grant.Flags = varco.FlagAlways
			in.Grant.ValidFrom = in.Now.Add(time.Second)
		}, denied(varco.ReasonNotYetValid)},

		// clock
		{"clock untrusted, deny policy", func(in *Input) { in.Clock.Trusted = false }, denied(varco.ReasonClockUntrusted)},
		{"clock untrusted before dates", func(in *Input) {
			in.Clock.Trusted = false
			in.Now = time.Date(1970, 1, 1, 0, 0, 12, 0, time.UTC)
		}, denied(varco.ReasonClockUntrusted)},
		{"clock untrusted, allow policy, in schedule", func(in *Input) {
			in.Clock.Trusted, in.Policy.UntrustedClock = false, UntrustedAllowLocal
		}, granted},
		{"clock untrusted, allow policy, outside schedule", func(in *Input) {
			in.Clock.Trusted, in.Policy.UntrustedClock = false, UntrustedAllowLocal
			in.Now = at(2026, 3, 10, 19, 0)
		}, denied(varco.ReasonOutsideSchedule)},
		{"FlagAlways with untrusted clock", func(in *Input) {
			in.Clock.Trusted, in.Grant.Flags = false, varco.FlagAlways
			in.Now = at(2026, 3, 8, 3, 0) // Sunday night
		}, granted},

		// schedule boundary minutes (office 08:00-18:00 Mon-Fri)
		{"07:59 outside", func(in *Input) { in.Now = at(2026, 3, 10, 7, 59) }, denied(varco.ReasonOutsideSchedule)},
		{"07:59:59.999 outside", func(in *Input) { in.Now = at(2026, 3, 10, 8, 0).Add(-time.Millisecond) }, denied(varco.ReasonOutsideSchedule)},
		{"08:00 open", func(in *Input) { in.Now = at(2026, 3, 10, 8, 0) }, granted},
		{"17:59 open", func(in *Input) { in.Now = at(2026, 3, 10, 17, 59) }, granted},
		{"17:59:59 open", func(in *Input) { in.Now = at(2026, 3, 10, 17, 59).Add(59 * time.Second) }, granted},
		{"18:00 closed", func(in *Input) { in.Now = at(2026, 3, 10, 18, 0) }, denied(varco.ReasonOutsideSchedule)},
		{"Saturday closed", func(in *Input) { in.Now = at(2026, 3, 14, 10, 0) }, denied(varco.ReasonOutsideSchedule)},
		{"same instant given in UTC", func(in *Input) { in.Now = at(2026, 3, 10, 8, 0).UTC() }, granted},
		{"nil location is UTC", func(in *Input) {
			in.Location = nil
			in.Now = time.Date(2026, 3, 10, 7, 30, 0, 0, time.UTC) // 08:30 in Rome
		}, denied(varco.ReasonOutsideSchedule)},

		// several windows a day with a gap (split 08-12, 13-17)
		{"split 11:59 open", func(in *Input) { in.Grant.ScheduleIDs, in.Now = []string{"split"}, at(2026, 3, 10, 11, 59) }, granted},
		{"split 12:00 gap", func(in *Input) { in.Grant.ScheduleIDs, in.Now = []string{"split"}, at(2026, 3, 10, 12, 0) }, denied(varco.ReasonOutsideSchedule)},
		{"split 12:59 gap", func(in *Input) { in.Grant.ScheduleIDs, in.Now = []string{"split"}, at(2026, 3, 10, 12, 59) }, denied(varco.ReasonOutsideSchedule)},
		{"split 13:00 open", func(in *Input) { in.Grant.ScheduleIDs, in.Now = []string{"split"}, at(2026, 3, 10, 13, 0) }, granted},
		{"split 17:00 closed", func(in *Input) { in.Grant.ScheduleIDs, in.Now = []string{"split"}, at(2026, 3, 10, 17, 0) }, denied(varco.ReasonOutsideSchedule)},

		// schedule sets
		{"second schedule opens", func(in *Input) {
			in.Grant.ScheduleIDs, in.Now = []string{"split", "office"}, at(2026, 3, 10, 12, 30)
		}, granted},
		{"unknown schedule ID is closed", func(in *Input) { in.Grant.ScheduleIDs = []string{"gone"} }, denied(varco.ReasonOutsideSchedule)},
		{"no schedules means never", func(in *Input) { in.Grant.ScheduleIDs = nil }, denied(varco.ReasonOutsideSchedule)},
		{"nil schedule map", func(in *Input) { in.Schedules = nil }, denied(varco.ReasonOutsideSchedule)},

		// holidays (2026-03-11 is a Wednesday holiday in the test calendar)
		{"holiday in office hours", func(in *Input) { in.Now = at(2026, 3, 11, 10, 0) }, denied(varco.ReasonHoliday)},
		{"holiday outside office hours", func(in *Input) { in.Now = at(2026, 3, 11, 20, 0) }, denied(varco.ReasonOutsideSchedule)},
		{"holiday with OpenOnHolidays schedule", func(in *Input) {
			in.Grant.ScheduleIDs, in.Now = []string{"guard"}, at(2026, 3, 11, 20, 0)
		}, granted},
		{"holiday: one closed schedule, one OpenOnHolidays", func(in *Input) {
			in.Grant.ScheduleIDs, in.Now = []string{"office", "guard"}, at(2026, 3, 11, 10, 0)
		}, granted},
		{"holiday with FlagAlways", func(in *Input) {
			in.Grant.Flags, in.Now = varco.FlagAlways, at(2026, 3, 11, 10, 0)
		}, granted},
		{"holiday date is the site's date, not UTC's", func(in *Input) {
			in.Grant.ScheduleIDs = []string{"midnight"}
			in.Now = time.Date(2026, 3, 10, 23, 30, 0, 0, time.UTC) // 00:30 on the 11th in Rome
		}, denied(varco.ReasonHoliday)},
		{"day before the holiday, late", func(in *Input) {
			in.Grant.ScheduleIDs = []string{"midnight"}
			in.Now = time.Date(2026, 3, 9, 23, 30, 0, 0, time.UTC) // 00:30 on the 10th in Rome
		}, granted},
		{"no holidays map", func(in *Input) { in.Holidays, in.Now = nil, at(2026, 3, 11, 10, 0) }, granted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInput(t)
			tt.mod(&in)
			got := Decide(in)
			if got != tt.want {
				t.Errorf("Decide = %+v, want %+v", got, tt.want)
			}
			checkDecision(t, got)
		})
	}
}

// checkDecision checks the invariants every decision keeps.
func checkDecision(tb testing.TB, d varco.Decision) {
	tb.Helper()
	if d.Granted != (d.Reason == "") {
		tb.Errorf("decision %+v: Granted must be true exactly when Reason is empty", d)
	}
	switch d.Reason {
	case "", varco.ReasonExpired, varco.ReasonNotYetValid, varco.ReasonOutsideSchedule,
		varco.ReasonHoliday, varco.ReasonLockdown, varco.ReasonClockUntrusted, varco.ReasonAllowlistStale:
	case varco.ReasonUnknown, varco.ReasonCloneSuspected, varco.ReasonReadError:
		if d.PersonID != "" {
			tb.Errorf("decision %+v names a person the card did not prove", d)
		}
	default:
		tb.Errorf("decision %+v: reason Decide never gives", d)
	}
}

// TestEveryReason makes sure the table above leaves no deny reason of the
// door untested (revoked is admin-side only).
func TestEveryReason(t *testing.T) {
	want := []varco.Reason{
		varco.ReasonUnknown, varco.ReasonCloneSuspected, varco.ReasonExpired,
		varco.ReasonNotYetValid, varco.ReasonOutsideSchedule, varco.ReasonHoliday,
		varco.ReasonLockdown, varco.ReasonClockUntrusted, varco.ReasonAllowlistStale,
		varco.ReasonReadError,
	}
	// One representative input per reason, built independently of the table.
	_, other := mustKeys(t)
	mods := map[varco.Reason]func(*Input){
		varco.ReasonUnknown:         func(in *Input) { in.Grant = nil },
		varco.ReasonCloneSuspected:  func(in *Input) { in.Read = mustRead(t, other) },
		varco.ReasonExpired:         func(in *Input) { in.Now = in.Grant.ValidUntil },
		varco.ReasonNotYetValid:     func(in *Input) { in.Now = in.Grant.ValidFrom.Add(-1) },
		varco.ReasonOutsideSchedule: func(in *Input) { in.Now = at(2026, 3, 10, 18, 0) },
		varco.ReasonHoliday:         func(in *Input) { in.Now = at(2026, 4, 6, 9, 0) },
		varco.ReasonLockdown:        func(in *Input) { in.Mode = varco.ModeLockdown },
		varco.ReasonClockUntrusted:  func(in *Input) { in.Clock.Trusted = false },
		varco.ReasonAllowlistStale:  func(in *Input) { in.Policy.MaxOffline = time.Minute; in.LastSync = time.Time{} },
		varco.ReasonReadError:       func(in *Input) { in.Read, in.ReadErr = nil, reader.ErrTooManyRetries },
	}
	for _, r := range want {
		in := baseInput(t)
		mods[r](&in)
		if got := Decide(in); got.Reason != r {
			t.Errorf("%s: got %+v", r, got)
		}
	}
}

// TestDST checks that windows open and close on the wall clock across the
// 2026 changes in Europe/Rome: spring forward on Sunday 29 March (02:00 CET
// becomes 03:00 CEST at 01:00 UTC) and fall back on Sunday 25 October (03:00
// CEST becomes 02:00 CET at 01:00 UTC). Instants are given in UTC so that
// an hour's error cannot hide behind the same zone arithmetic.
func TestDST(t *testing.T) {
	utc := func(m time.Month, d, hh, mm int) time.Time { return time.Date(2026, m, d, hh, mm, 0, 0, time.UTC) }
	tests := []struct {
		name     string
		schedule string
		now      time.Time
		open     bool
	}{
		// 08:00-18:00 every day, spring.
		{"sat before spring 07:59 CET", "daily", utc(3, 28, 6, 59), false},
		{"sat before spring 08:00 CET", "daily", utc(3, 28, 7, 0), true},
		{"sat before spring 17:59 CET", "daily", utc(3, 28, 16, 59), true},
		{"sat before spring 18:00 CET", "daily", utc(3, 28, 17, 0), false},
		{"spring day 07:59 CEST", "daily", utc(3, 29, 5, 59), false},
		{"spring day 08:00 CEST", "daily", utc(3, 29, 6, 0), true},
		{"spring day 17:59 CEST", "daily", utc(3, 29, 15, 59), true},
		{"spring day 18:00 CEST", "daily", utc(3, 29, 16, 0), false},
		{"mon after spring 07:59 CEST", "daily", utc(3, 30, 5, 59), false},
		{"mon after spring 08:00 CEST", "daily", utc(3, 30, 6, 0), true},
		// 02:00-03:00 does not exist on the spring day.
		{"spring 01:59 CET, skipped window", "skipped", utc(3, 29, 0, 59), false},
		{"spring 03:00 CEST, skipped window", "skipped", utc(3, 29, 1, 0), false},
		{"sat 02:00 CET, skipped window", "skipped", utc(3, 28, 1, 0), true},
		{"mon 02:59 CEST, skipped window", "skipped", utc(3, 30, 0, 59), true},
		// 01:30-03:30 across the skipped hour: one real hour that day.
		{"spring 01:29 CET, across", "acrossDST", utc(3, 29, 0, 29), false},
		{"spring 01:30 CET, across", "acrossDST", utc(3, 29, 0, 30), true},
		{"spring 01:59 CET, across", "acrossDST", utc(3, 29, 0, 59), true},
		{"spring 03:00 CEST, across", "acrossDST", utc(3, 29, 1, 0), true},
		{"spring 03:29 CEST, across", "acrossDST", utc(3, 29, 1, 29), true},
		{"spring 03:30 CEST, across", "acrossDST", utc(3, 29, 1, 30), false},

		// 08:00-18:00 every day, autumn.
		{"sat before fall 07:59 CEST", "daily", utc(10, 24, 5, 59), false},
		{"sat before fall 08:00 CEST", "daily", utc(10, 24, 6, 0), true},
		{"fall day 07:59 CET", "daily", utc(10, 25, 6, 59), false},
		{"fall day 08:00 CET", "daily", utc(10, 25, 7, 0), true},
		{"fall day 17:59 CET", "daily", utc(10, 25, 16, 59), true},
		{"fall day 18:00 CET", "daily", utc(10, 25, 17, 0), false},
		{"mon after fall 08:00 CET", "daily", utc(10, 26, 7, 0), true},
		// 02:00-03:00 on the fall day happens twice: open both times.
		{"fall 01:59 CEST", "skipped", utc(10, 24, 23, 59), false},
		{"fall first 02:00 CEST", "skipped", utc(10, 25, 0, 0), true},
		{"fall first 02:59 CEST", "skipped", utc(10, 25, 0, 59), true},
		{"fall second 02:00 CET", "skipped", utc(10, 25, 1, 0), true},
		{"fall second 02:59 CET", "skipped", utc(10, 25, 1, 59), true},
		{"fall 03:00 CET", "skipped", utc(10, 25, 2, 0), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInput(t)
			in.Grant.ScheduleIDs = []string{tt.schedule}
			in.Now = tt.now
			want := denied(varco.ReasonOutsideSchedule)
			if tt.open {
				want = granted
			}
			if got := Decide(in); got != want {
				t.Errorf("%s (%s local) = %+v, want %+v", tt.now.Format(time.RFC3339), tt.now.In(rome).Format("15:04 MST"), got, want)
			}
		})
	}

	// Real minutes open on each change day.
	for _, c := range []struct {
		schedule string
		day      time.Time
		minutes  int
	}{
		{"skipped", at(2026, 3, 29, 0, 0), 0},
		{"acrossDST", at(2026, 3, 29, 0, 0), 60},
		{"daily", at(2026, 3, 29, 0, 0), 600},
		{"skipped", at(2026, 10, 25, 0, 0), 120},
		{"daily", at(2026, 10, 25, 0, 0), 600},
	} {
		in := baseInput(t)
		in.Grant.ScheduleIDs = []string{c.schedule}
		n := 0
		for tm := c.day; tm.Before(c.day.AddDate(0, 0, 1)); tm = tm.Add(time.Minute) {
			if ScheduleState(in.Grant.ScheduleIDs, in.Schedules, in.Holidays, tm, rome) == Open {
				n++
			}
		}
		if n != c.minutes {
			t.Errorf("%s on %s: open %d real minutes, want %d", c.schedule, c.day.Format(time.DateOnly), n, c.minutes)
		}
	}
}

// refOpen is the exhaustive test's reference: it places an instant on the
// site's wall clock by adding the zone offset to Unix seconds and doing the
// calendar arithmetic by hand (1970-01-01 was a Thursday), instead of using
// time.Time's Weekday, Hour and Format as ScheduleState does.
func refOpen(s varco.Schedule, holidays map[string]bool, t time.Time, loc *time.Location) varco.Reason {
	_, off := t.In(loc).Zone()
	secs := t.Unix() + int64(off)
	days := secs / 86400
	if secs < 0 && secs%86400 != 0 {
		days--
	}
	wd := (days%7 + 7 + 4) % 7
	minute := int((secs - days*86400) / 60)
	var open bool
	for _, w := range s.Days[wd] {
		if w.Start <= minute && minute < w.End {
			open = true
		}
	}
	y, m, d := civil(days)
	holiday := holidays[fmtDate(y, m, d)]
	switch {
	case open && holiday && !s.OpenOnHolidays:
		return varco.ReasonHoliday
	case open:
		return ""
	default:
		return varco.ReasonOutsideSchedule
	}
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's algorithm).
func civil(z int64) (y, m, d int64) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func fmtDate(y, m, d int64) string { return fmt.Sprintf("%04d-%02d-%02d", y, m, d) }

// TestExhaustiveWeek decides every minute of three weeks (an ordinary one
// and the two with a DST change) for a schedule with several windows a day,
// a window touching midnight and a holiday, against refOpen.
func TestExhaustiveWeek(t *testing.T) {
	card, _ := mustKeys(t)
	var days [7][]varco.Window
	for wd := time.Monday; wd <= time.Friday; wd++ {
		days[wd] = []varco.Window{{Start: hm(7, 30), End: hm(12, 0)}, {Start: hm(12, 45), End: hm(17, 15)}}
	}
	days[time.Friday] = append(days[time.Friday], varco.Window{Start: hm(22, 0), End: varco.MinutesPerDay})
	days[time.Saturday] = []varco.Window{{Start: 0, End: hm(6, 0)}, {Start: hm(9, 0), End: hm(9, 1)}}
	days[time.Sunday] = []varco.Window{{Start: hm(1, 45), End: hm(3, 15)}, {Start: hm(23, 59), End: varco.MinutesPerDay}}
	s := varco.Schedule{ID: "week", Days: days}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	holidays := map[string]bool{"2026-03-11": true, "2026-03-28": true, "2026-10-23": true}

	for _, monday := range []time.Time{at(2026, 3, 9, 0, 0), at(2026, 3, 23, 0, 0), at(2026, 10, 19, 0, 0)} {
		in := baseInput(t)
		in.PublicKey = &card.PublicKey
		in.Grant.ScheduleIDs = []string{"week"}
		in.Grant.ValidFrom, in.Grant.ValidUntil = time.Time{}, time.Time{}
		in.Schedules = map[string]varco.Schedule{"week": s}
		in.Holidays = holidays
		counts := map[varco.Reason]int{}
		// Step real minutes from Sunday 23:00 to the next Monday 01:00 so
		// both week edges are crossed.
		start, end := monday.Add(-time.Hour), monday.AddDate(0, 0, 7).Add(time.Hour)
		for tm := start; tm.Before(end); tm = tm.Add(time.Minute) {
			in.Now = tm
			got := Decide(in)
			want := refOpen(s, holidays, tm, rome)
			if got.Reason != want {
				t.Fatalf("%s (%s): got %+v, reference says %q", tm.UTC().Format(time.RFC3339), tm.In(rome).Format("Mon 2006-01-02 15:04 MST"), got, want)
			}
			counts[got.Reason]++
		}
		if counts[""] == 0 || counts[varco.ReasonOutsideSchedule] == 0 || counts[varco.ReasonHoliday] == 0 {
			t.Errorf("week of %s: every outcome should occur, got %v", monday.Format(time.DateOnly), counts)
		}
		t.Logf("week of %s: %v", monday.Format(time.DateOnly), counts)
	}
}

func TestRefCivil(t *testing.T) {
	for d := int64(-800000); d < 800000; d += 997 {
		want := time.Unix(d*86400, 0).UTC().Format(time.DateOnly)
		y, m, dd := civil(d)
		if y < 0 || y > 9999 {
			continue
		}
		if got := fmtDate(y, m, dd); got != want {
			t.Fatalf("civil(%d) = %s, want %s", d, got, want)
		}
	}
}

func TestStale(t *testing.T) {
	now := tuesday
	for _, tt := range []struct {
		name     string
		lastSync time.Time
		max      time.Duration
		want     bool
	}{
		{"never synced", time.Time{}, time.Hour, true},
		{"exactly max", now.Add(-time.Hour), time.Hour, false},
		{"one ns over", now.Add(-time.Hour - 1), time.Hour, true},
		{"future sync", now.Add(time.Hour), time.Hour, false},
	} {
		if got := Stale(now, tt.lastSync, tt.max); got != tt.want {
			t.Errorf("%s: Stale = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	card, _ := mustKeys(b)
	run := func(name string, mod func(*Input)) {
		b.Run(name, func(b *testing.B) {
			in := baseInput(b)
			mod(&in)
			b.ReportAllocs()
			for b.Loop() {
				if d := Decide(in); !d.Granted {
					b.Fatal(d)
				}
			}
		})
	}
	run("pre-parsed-key", func(in *Input) { in.PublicKey = &card.PublicKey })
	run("parse-key-each-tap", func(in *Input) {})
	b.Run("schedule-only", func(b *testing.B) {
		in := baseInput(b)
		b.ReportAllocs()
		for b.Loop() {
			if ScheduleState(in.Grant.ScheduleIDs, in.Schedules, in.Holidays, in.Now, in.Location) != Open {
				b.Fatal("closed")
			}
		}
	})
	b.Run("parse-key-only", func(b *testing.B) {
		in := baseInput(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := reader.ParsePublicKeyFile(in.Grant.PublicKey); err != nil {
				b.Fatal(err)
			}
		}
	})
}
