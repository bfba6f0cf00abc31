package decide

import (
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/reader"
)

// FuzzDecide feeds Decide arbitrary times, windows, dates, modes, clock
// states and proofs. Decide must not panic, must set a reason exactly when
// it denies, must never name an unproven card's person, and must agree with
// refOpen whenever the schedule is what decides.
func FuzzDecide(f *testing.F) {
	// Seeds from the table: a grant in office hours, each boundary minute,
	// each change day, the lockdown and clock corners.
	seed := func(now time.Time, start, end int, flags, mode uint8, trusted bool, proof uint8) {
		f.Add(now.Unix(), int64(now.Nanosecond()), start, end, uint8(now.In(rome).Weekday()), int64(-3600), int64(3600),
			flags, mode, trusted, false, int64(0), int64(0), false, proof)
	}
	seed(tuesday, hm(8, 0), hm(18, 0), 0, 0, true, 0)
	seed(at(2026, 3, 10, 7, 59), hm(8, 0), hm(18, 0), 0, 0, true, 0)
	seed(at(2026, 3, 10, 18, 0), hm(8, 0), hm(18, 0), 0, 0, true, 0)
	seed(time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), hm(2, 0), hm(3, 0), 0, 0, true, 0)
	seed(time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), hm(2, 0), hm(3, 0), 0, 0, true, 0)
	seed(tuesday, hm(8, 0), hm(18, 0), uint8(varco.FlagLockdownOverride), 1, false, 1)
	seed(tuesday, -5, 99999, uint8(varco.FlagAlways), 2, false, 2)
	seed(time.Unix(-1<<62, 0), 1440, 0, 0, 3, true, 3)

	card, other := mustKeys(f)
	good := mustRead(f, card)
	cloned := mustRead(f, other)
	pub := x509.MarshalPKCS1PublicKey(&card.PublicKey)
	modes := []varco.DoorMode{varco.ModeNormal, varco.ModeLockdown, varco.ModeUnlockedSchedule, varco.ModeUnlockedCommand, "", "bogus"}

	f.Fuzz(func(t *testing.T, nowSec, nowNsec int64, start, end int, weekday uint8,
		fromOff, untilOff int64, flags, mode uint8, trusted, allowUntrusted bool,
		maxOffline, syncOff int64, holiday bool, proof uint8) {
		now := time.Unix(nowSec, nowNsec)
		var days [7][]varco.Window
		days[weekday%7] = []varco.Window{{Start: start, End: end}}
		s := varco.Schedule{ID: "s", Days: days}
		in := Input{
			Grant: &varco.Grant{
				NIS: testNIS, PersonID: "p-1", PublicKey: pub,
				ScheduleIDs: []string{"s"}, Flags: varco.Flags(flags & 3),
			},
			Now:       now,
			Location:  rome,
			Schedules: map[string]varco.Schedule{"s": s},
			Holidays:  map[string]bool{now.In(rome).Format(time.DateOnly): holiday},
			Mode:      modes[int(mode)%len(modes)],
			Clock:     ClockState{Trusted: trusted},
			Policy:    Policy{MaxOffline: time.Duration(maxOffline)},
		}
		if allowUntrusted {
			in.Policy.UntrustedClock = UntrustedAllowLocal
		}
		if fromOff != 0 {
			in.Grant.ValidFrom = now.Add(time.Duration(fromOff))
		}
		if untilOff != 0 {
			in.Grant.ValidUntil = now.Add(time.Duration(untilOff))
		}
		if syncOff != 0 {
			in.LastSync = now.Add(time.Duration(syncOff))
		}
		proven := false
		switch proof % 6 {
		case 0:
			in.Read, proven = good, true
		case 1:
			in.Read, in.PublicKey, proven = good, &card.PublicKey, true
		case 2:
			in.Read = cloned
		case 3:
			in.ReadErr = errors.New("read failed")
		case 4:
			in.Read = &reader.DoorRead{NIS: testNIS, Challenge: good.Challenge, Signature: good.Signature[:len(good.Signature)-1]}
		case 5:
			in.Read, in.Grant = good, nil
		}

		d := Decide(in)
		checkDecision(t, d)
		if d.Granted && !proven {
			t.Fatalf("granted an unproven card: %+v", d)
		}
		if !proven {
			return
		}
		// With a proven card in a normal door, trusted clock, no limits
		// and no flags, the schedule alone decides.
		if (in.Mode == varco.ModeNormal || in.Mode == "") && trusted && in.Policy.MaxOffline <= 0 &&
			in.Grant.Flags == 0 && in.Grant.ValidFrom.IsZero() && in.Grant.ValidUntil.IsZero() {
			if want := refOpen(s, in.Holidays, now, rome); d.Reason != want {
				t.Fatalf("%s (%s): got %+v, reference %q", now.UTC(), now.In(rome), d, want)
			}
		}
	})
}
