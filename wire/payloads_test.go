package wire

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/varco-access/varco"
)

// TestValidate: every payload's Validate, one named case per rule; the
// error must name the field.
func TestValidate(t *testing.T) {
	type tc struct {
		name string
		v    validator
		sub  string // "" = valid
	}
	delta := func(f func(*Delta)) Delta { d := sampleDelta(); f(&d); return d }
	chunk := func(i int, f func(*SnapshotChunk)) SnapshotChunk { c := sampleSnapshot()[i]; f(&c); return c }
	status := func(f func(*Status)) Status { s := sampleStatus(); f(&s); return s }
	cmd := func(f func(*Cmd)) Cmd { c := sampleCmd(); f(&c); return c }
	chal := func(f func(*EnrollChallenge)) EnrollChallenge { c := sampleChallenge(); f(&c); return c }
	res := func(f func(*EnrollResult)) EnrollResult { r := sampleResult(); f(&r); return r }
	events := func(f func(*EventsBatch)) EventsBatch { b := sampleEvents(); f(&b); return b }
	bad := grant("123456789012")
	bad.PersonID = ""

	for _, c := range []tc{
		{"delta ok", sampleDelta(), ""},
		{"delta spanning revisions", delta(func(d *Delta) { d.From = 10 }), ""},
		{"delta empty change", delta(func(d *Delta) { d.Upserts, d.Deletes, d.Schedules = nil, nil, nil }), ""},
		{"delta empty schedule set", delta(func(d *Delta) { d.Schedules = []varco.Schedule{} }), ""},
		{"delta to == from", delta(func(d *Delta) { d.To = 41 }), "to_rev 41 is not greater than from_rev 41"},
		{"delta to < from", delta(func(d *Delta) { d.To = 1 }), "to_rev"},
		{"delta bad grant", delta(func(d *Delta) { d.Upserts[1] = bad }), "upserts[1]"},
		{"delta bad nis", delta(func(d *Delta) { d.Upserts[0].NIS = "12345" }), "upserts[0]"},
		{"delta bad key", delta(func(d *Delta) { d.Upserts[0].PublicKey = []byte{0x30, 0} }), "public_key"},
		{"delta repeated upsert", delta(func(d *Delta) { d.Upserts[1].NIS = d.Upserts[0].NIS }), "upserts[1]: NIS 123456789012 repeated"},
		{"delta bad delete", delta(func(d *Delta) { d.Deletes = []string{"12345678901x"} }), "deletes[0]"},
		{"delta upsert and delete", delta(func(d *Delta) { d.Deletes = []string{"210987654321"} }), "deletes[0]: NIS 210987654321"},
		{"delta repeated delete", delta(func(d *Delta) { d.Deletes = []string{"999999999999", "999999999999"} }), "deletes[1]"},
		{"delta bad schedule", delta(func(d *Delta) { d.Schedules = []varco.Schedule{{ID: ""}} }), "schedules[0]"},
		{"delta bad window", delta(func(d *Delta) {
			d.Schedules = []varco.Schedule{{ID: "x", Days: [7][]varco.Window{{{Start: 10, End: 5}}}}}
		}), "schedules[0]"},
		{"delta repeated schedule", delta(func(d *Delta) { d.Schedules = []varco.Schedule{office, office} }), `schedules[1]: id "office" repeated`},
		{"delta bad holiday", delta(func(d *Delta) { d.Holidays = []varco.Holiday{{Date: "25/12/2026"}} }), "holidays[0]"},
		{"delta repeated holiday", delta(func(d *Delta) {
			d.Holidays = []varco.Holiday{{Date: "2026-12-25"}, {Date: "2026-12-25", Name: "again"}}
		}), "holidays[1]: date 2026-12-25 repeated"},
		{"delta unknown mode", delta(func(d *Delta) { d.Mode = "party" }), `mode "party"`},
		{"delta each mode", delta(func(d *Delta) { d.Mode = varco.ModeUnlockedSchedule }), ""},
		{"delta no mode", delta(func(d *Delta) { d.Mode = "" }), ""},
		{"delta zone UTC", delta(func(d *Delta) { d.TimeZone = "UTC" }), ""},
		{"delta zone deep", delta(func(d *Delta) { d.TimeZone = "America/Argentina/Buenos_Aires" }), ""},
		{"delta zone Etc", delta(func(d *Delta) { d.TimeZone = "Etc/GMT+1" }), ""},
		{"delta zone Local", delta(func(d *Delta) { d.TimeZone = "Local" }), "time_zone"},
		{"delta zone path", delta(func(d *Delta) { d.TimeZone = "../../etc/passwd" }), "time_zone"},
		{"delta zone absolute", delta(func(d *Delta) { d.TimeZone = "/etc/localtime" }), "time_zone"},
		{"delta zone trailing slash", delta(func(d *Delta) { d.TimeZone = "Europe/" }), "time_zone"},
		{"delta zone double slash", delta(func(d *Delta) { d.TimeZone = "Europe//Rome" }), "time_zone"},
		{"delta zone space", delta(func(d *Delta) { d.TimeZone = "Europe/Ro me" }), "time_zone"},
		{"delta zone long", delta(func(d *Delta) { d.TimeZone = strings.Repeat("A", 65) }), "time_zone"},
		{"delta no issued_at", delta(func(d *Delta) { d.IssuedAt = time.Time{} }), "issued_at"},

		{"head ok", sampleHead(), ""},
		{"head rev 0", Head{IssuedAt: t0}, ""},
		{"head no issued_at", Head{Rev: 1}, "issued_at"},

		{"sync ok", sampleSync(), ""},
		{"sync rev 0 no reason", SyncRequest{}, ""},
		{"sync long reason", SyncRequest{Reason: strings.Repeat("x", MaxText+1)}, "sync: reason"},
		{"sync reason not utf-8", SyncRequest{Reason: "\xff"}, "UTF-8"},

		{"chunk 0 ok", sampleSnapshot()[0], ""},
		{"chunk 1 ok", sampleSnapshot()[1], ""},
		{"chunk bad id", chunk(0, func(c *SnapshotChunk) { c.ID = "a b" }), "id"},
		{"chunk rev 0", chunk(0, func(c *SnapshotChunk) { c.Rev = 0 }), "rev"},
		{"chunk total 0", chunk(0, func(c *SnapshotChunk) { c.Total = 0 }), "total 0"},
		{"chunk index = total", chunk(0, func(c *SnapshotChunk) { c.Index = 2 }), "index 2"},
		{"chunk index < 0", chunk(0, func(c *SnapshotChunk) { c.Index = -1 }), "index -1"},
		{"chunk bad grant", chunk(0, func(c *SnapshotChunk) { c.Grants[1] = bad }), "grants[1]"},
		{"chunk repeated grant", chunk(0, func(c *SnapshotChunk) { c.Grants[1] = c.Grants[0] }), "grants[1]: NIS 100000000001 repeated"},
		{"chunk 0 with schedules", chunk(0, func(c *SnapshotChunk) { c.Schedules = []varco.Schedule{office} }), "belong in the last chunk"},
		{"chunk 0 with digest", chunk(0, func(c *SnapshotChunk) { c.Digest = Digest(nil) }), "belong in the last chunk"},
		{"chunk 0 with count", chunk(0, func(c *SnapshotChunk) { c.Count = 1 }), "belong in the last chunk"},
		{"last negative count", chunk(1, func(c *SnapshotChunk) { c.Count = -1 }), "count -1"},
		{"last no digest", chunk(1, func(c *SnapshotChunk) { c.Digest = "" }), "digest"},
		{"last digest upper", chunk(1, func(c *SnapshotChunk) { c.Digest = strings.ToUpper(c.Digest) }), "digest"},
		{"last digest not hex", chunk(1, func(c *SnapshotChunk) { c.Digest = strings.Repeat("g", 64) }), "digest"},
		{"last bad holiday", chunk(1, func(c *SnapshotChunk) { c.Holidays = []varco.Holiday{{Date: "x"}} }), "holidays[0]"},
		{"last bad mode", chunk(1, func(c *SnapshotChunk) { c.Mode = "open" }), "mode"},
		{"last bad zone", chunk(1, func(c *SnapshotChunk) { c.TimeZone = "Local" }), "time_zone"},

		{"events ok", sampleEvents(), ""},
		{"events newer kind", events(func(b *EventsBatch) { b.Events[0].Kind = "tamper"; b.Events[0].Reason = "new_reason" }), ""},
		{"events bad epoch", events(func(b *EventsBatch) { b.Epoch = "" }), "epoch"},
		{"events empty", events(func(b *EventsBatch) { b.Events = nil }), "empty batch"},
		{"events seq 0", events(func(b *EventsBatch) { b.Events[0].Seq = 0 }), "events[0]: seq 0"},
		{"events seq repeated", events(func(b *EventsBatch) { b.Events[1].Seq = 1 }), "events[1]: seq 1 after 1"},
		{"events seq backwards", events(func(b *EventsBatch) { b.Events[0].Seq = 5 }), "events[1]: seq 2 after 5"},

		{"ack ok", sampleAck(), ""},
		{"ack bad epoch", Ack{Epoch: "a/b", Seq: 1}, "epoch"},
		{"ack seq 0", Ack{Epoch: sampleEpoch}, "seq"},

		{"status ok", sampleStatus(), ""},
		{"status will", Status{}, ""},
		{"status newer state", status(func(s *Status) { s.DoorState = "tampered"; s.Mode = "eco" }), ""},
		{"status negative outbox", status(func(s *Status) { s.OutboxLen = -1 }), "outbox_len"},
		{"status online no time", status(func(s *Status) { s.Time = time.Time{} }), "time"},
		{"status long version", status(func(s *Status) { s.Version = strings.Repeat("v", MaxText+1) }), "version"},
		{"status bad mode", status(func(s *Status) { s.Mode = "Lockdown!" }), "mode"},
		{"status bad door state", status(func(s *Status) { s.DoorState = "held open" }), "door_state"},

		{"cmd ok", sampleCmd(), ""},
		{"cmd each action", cmd(func(c *Cmd) { c.Action = ActionResync }), ""},
		{"cmd seq 0", cmd(func(c *Cmd) { c.Seq = 0 }), "seq"},
		{"cmd unknown action", cmd(func(c *Cmd) { c.Action = "open_sesame" }), `action "open_sesame"`},
		{"cmd no issued_at", cmd(func(c *Cmd) { c.IssuedAt = time.Time{} }), "issued_at"},
		{"cmd no expires_at", cmd(func(c *Cmd) { c.ExpiresAt = time.Time{} }), "expires_at"},
		{"cmd expires before issued", cmd(func(c *Cmd) { c.ExpiresAt = c.IssuedAt.Add(-time.Second) }), "expires_at"},
		{"cmd expires at issued", cmd(func(c *Cmd) { c.ExpiresAt = c.IssuedAt }), "expires_at"},
		{"cmd ttl too long", cmd(func(c *Cmd) { c.ExpiresAt = c.IssuedAt.Add(MaxCmdTTL + time.Second) }), "expires_at"},
		{"cmd ttl max", cmd(func(c *Cmd) { c.ExpiresAt = c.IssuedAt.Add(MaxCmdTTL) }), ""},
		{"cmd long by", cmd(func(c *Cmd) { c.By = strings.Repeat("b", MaxText+1) }), "cmd: by"},

		{"challenge ok", sampleChallenge(), ""},
		{"challenge bad id", chal(func(c *EnrollChallenge) { c.ID = "" }), "id"},
		{"challenge short", chal(func(c *EnrollChallenge) { c.Challenge = c.Challenge[:31] }), "challenge is 31 bytes"},
		{"challenge no expiry", chal(func(c *EnrollChallenge) { c.ExpiresAt = time.Time{} }), "expires_at"},

		{"result ok", sampleResult(), ""},
		{"result error only", EnrollResult{ID: "enr-1", Error: "card removed"}, ""},
		{"result long error", EnrollResult{ID: "enr-1", Error: strings.Repeat("e", MaxText+1)}, "error"},
		{"result bad id", res(func(r *EnrollResult) { r.ID = "#" }), "id"},
		{"result bad nis", res(func(r *EnrollResult) { r.NIS = "1234" }), "nis"},
		{"result no key", res(func(r *EnrollResult) { r.PublicKey = nil }), "public_key"},
		{"result no sod", res(func(r *EnrollResult) { r.SOD = nil }), "sod"},
		{"result no signature", res(func(r *EnrollResult) { r.Signature = nil }), "signature"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.v.Validate()
			if c.sub == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.sub) {
				t.Fatalf("Validate = %v, want an error mentioning %q", err, c.sub)
			}
		})
	}
}

// TestDeltaNilVersusEmpty: nil schedules mean "unchanged" and are absent
// on the wire; an empty set is "[]" and stays non-nil.
func TestDeltaNilVersusEmpty(t *testing.T) {
	d := sampleDelta()
	d.Schedules, d.Holidays = nil, []varco.Holiday{}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"schedules"`) || !strings.Contains(string(b), `"holidays":[]`) {
		t.Fatalf("encoded %s", b)
	}
	var got Delta
	if err := testVerifier().Open(KindGrants, mustSeal(t, KindGrants, d), &got); err != nil {
		t.Fatal(err)
	}
	if got.Schedules != nil || got.Holidays == nil || len(got.Holidays) != 0 {
		t.Errorf("schedules %#v, holidays %#v", got.Schedules, got.Holidays)
	}
}

func TestCheckDelta(t *testing.T) {
	for _, c := range []struct {
		name     string
		cur      uint64
		from, to uint64
		want     error
	}{
		{"next", 41, 41, 42, nil},
		{"spanning", 41, 41, 45, nil},
		{"from zero", 0, 0, 1, nil},
		{"duplicate", 42, 41, 42, ErrStale},
		{"old", 50, 41, 42, ErrStale},
		{"ends at cur", 45, 41, 45, ErrStale},
		{"gap", 41, 42, 43, ErrGap},
		{"overlap", 43, 41, 45, ErrGap},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, CheckDelta(c.cur, Delta{From: c.from, To: c.to}), c.want, "")
		})
	}
}

func TestCheckSnapshotHeadAck(t *testing.T) {
	wantErr(t, CheckSnapshot(41, SnapshotChunk{Rev: 42}), nil, "")
	wantErr(t, CheckSnapshot(42, SnapshotChunk{Rev: 42}), nil, "") // confirms the door is current
	wantErr(t, CheckSnapshot(43, SnapshotChunk{Rev: 42}), ErrStale, "")

	wantErr(t, CheckHead(41, Head{Rev: 42}), nil, "")
	wantErr(t, CheckHead(42, Head{Rev: 42}), ErrStale, "up to date")
	wantErr(t, CheckHead(43, Head{Rev: 42}), ErrStale, "ahead of the admin")

	wantErr(t, CheckAck(sampleEpoch, 1, Ack{Epoch: sampleEpoch, Seq: 2}), nil, "")
	wantErr(t, CheckAck(sampleEpoch, 2, Ack{Epoch: sampleEpoch, Seq: 2}), ErrStale, "already at 2")
	wantErr(t, CheckAck(sampleEpoch, 5, Ack{Epoch: sampleEpoch, Seq: 2}), ErrStale, "")
	wantErr(t, CheckAck("new-epoch", 0, Ack{Epoch: sampleEpoch, Seq: 900}), ErrStale, "epoch")
}

func TestCmdCheck(t *testing.T) {
	c := sampleCmd() // seq 7, expires t0+1m
	for _, tc := range []struct {
		name string
		last uint64
		now  time.Time
		want error
	}{
		{"fresh", 6, t0, nil},
		{"after a gap", 2, t0.Add(59 * time.Second), nil},
		{"door clock behind", 6, t0.Add(-time.Hour), nil},
		{"first ever", 0, t0, nil},
		{"replay", 7, t0, ErrStale},
		{"older", 9, t0, ErrStale},
		{"at expiry", 6, t0.Add(time.Minute), ErrExpired},
		{"after expiry", 6, t0.Add(time.Hour), ErrExpired},
		{"replay and expired", 7, t0.Add(time.Hour), ErrStale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, c.Check(tc.last, tc.now), tc.want, "")
		})
	}
}

func TestEnrollChallengeCheck(t *testing.T) {
	c := sampleChallenge() // expires t0+2m
	wantErr(t, c.Check(t0), nil, "")
	wantErr(t, c.Check(t0.Add(2*time.Minute)), ErrExpired, "enr-1")
}

func TestOfflineWill(t *testing.T) {
	msg, err := OfflineWill(testSite, testDoor)
	if err != nil {
		t.Fatal(err)
	}
	s := Status{Online: true}
	if err := DecodeFor(testSite, testDoor, KindStatus, msg, &s); err != nil {
		t.Fatal(err)
	}
	if s != (Status{}) {
		t.Errorf("will decodes to %+v", s)
	}
	if _, err := OfflineWill("bad site", testDoor); err == nil {
		t.Error("will for an invalid site")
	}
}
