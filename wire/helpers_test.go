package wire

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/varco-access/varco"
)

// The fixed test site: the golden files are sealed with this key. Ed25519
// is deterministic, so the files do not change between runs.
const (
	testSite = "demo"
	testDoor = "demo-1"
	// testSeed is the 32-byte seed of the golden files' site key.
	testSeed = "varco wire golden test key seed!"
)

// testKey returns the golden files' site key.
func testKey() ed25519.PrivateKey { return ed25519.NewKeyFromSeed([]byte(testSeed)) }

func testSigner() *Signer { return NewSigner(testKey()) }

func testVerifier() *Verifier {
	return NewVerifier(testKey().Public().(ed25519.PublicKey), testSite, testDoor)
}

// t0 is the golden files' clock.
var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// Two RSA-2048 public keys (DER PKCS#1 RSAPublicKey, as on a CIE): their
// private halves were thrown away.
var (
	cardKey1 = mustB64("MIIBCgKCAQEA1A6x92Vc+4XaNXWP7Zcbv3Pl5fG4ESK7ojpPsPJ8izsArImOJWxYWSiv0apVC8jrzY8BczYHLR51BSLPnPg8nUJXzkG4hsK9NlO3h/fCCkgu9bEKjhOqxLZKUMm2Jubi5FgzWdtVgJxr1W1KwgKD+jgyWk7mjKaw9jDYAhtmHzTZtcqKwork9cixroLO7DvZZM2TGBx4XCKbhXij7nzP7QQTPwJ0VWQJdfd/EKKQTki4gxbMgoCM3KQ2ZsahpPWKEtISKQy0m4FSw/xoQDMoND+NB+/XLrxi8PkvbPyZ2qBKU9OJNOdst4GCg7EpgajfdYk1lCIWXPNxldjvRW6bfwIDAQAB")
	cardKey2 = mustB64("MIIBCgKCAQEAl6n7XnDHEfmxGLBf0JvVuIAsDRJ8G/XTYYFIfPGf6JfiaQ4ttTKaS7MrkOifbvHeTGOLHVQ/gCxgPvcXuEtrBuZBPvHxy9CzE1TE2+v6RgfSI3oSh0Q/P4MvWwMDicYDRSLz/Mo0WFiObmb4nNAl6yBSoYLj+AbOvgpsIc/XMGvdOrNXWrhXnnFtDCZq/ChvSSeBirJoXSNO7rVu78PrmkRpDlCIZOx80J5VkqQs06LB51Ny4KJcDgEUy67xY1YbNkZBS/Im2nt++sUTojqS6JoFFJdnbhTqHLxKXS+Si8JEqw1pkpC7gLmGnax3hEdm19MX7PMPmiG5HREN3oNDMwIDAQAB")
)

func mustB64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// grant returns a valid grant for nis, alternating the two card keys.
func grant(nis string) varco.Grant {
	key := cardKey1
	if nis[len(nis)-1]%2 == 1 {
		key = cardKey2
	}
	return varco.Grant{NIS: nis, PersonID: "p-" + nis[8:], PublicKey: key, Flags: varco.FlagAlways}
}

var office = varco.Schedule{
	ID:   "office",
	Name: "Office hours",
	Days: [7][]varco.Window{
		time.Monday: {{Start: 8 * 60, End: 13 * 60}, {Start: 14 * 60, End: 18 * 60}},
		time.Friday: {{Start: 8 * 60, End: 13 * 60}},
	},
}

// Sample payloads, one per kind: the golden files hold them.

func sampleDelta() Delta {
	return Delta{
		From: 41, To: 42,
		Upserts: []varco.Grant{
			{
				NIS: "123456789012", PersonID: "p-1", DisplayName: "Anna Rossi", PublicKey: cardKey1,
				ValidFrom: t0, ValidUntil: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), ScheduleIDs: []string{"office"},
			},
			{NIS: "210987654321", PersonID: "p-2", DisplayName: "Luca Bianchi", PublicKey: cardKey2, Flags: varco.FlagAlways},
		},
		Deletes:   []string{"999999999999"},
		Schedules: []varco.Schedule{office},
		Mode:      varco.ModeNormal,
		TimeZone:  "Europe/Rome",
		IssuedAt:  t0,
	}
}

func sampleHead() Head { return Head{Rev: 42, IssuedAt: t0} }

func sampleSync() SyncRequest { return SyncRequest{Rev: 41, Reason: SyncBoot} }

const (
	sampleSnapID = "0123456789abcdef0123456789abcdef"
	sampleEpoch  = "5f1c0e7a9b2d4c6e8f0a1b2c3d4e5f60"
	// sampleChunkBytes cuts sampleSnapshot in two chunks.
	sampleChunkBytes = 1300
)

func sampleGrants() []varco.Grant {
	return []varco.Grant{
		grant("300000000003"), grant("100000000001"), grant("200000000002"),
	}
}

func sampleSnapshot() []SnapshotChunk {
	return SplitSnapshot(sampleSnapID, 42, sampleGrants(), []varco.Schedule{office},
		[]varco.Holiday{{Date: "2026-12-25", Name: "Natale"}}, varco.ModeNormal, "Europe/Rome", sampleChunkBytes)
}

func sampleEvents() EventsBatch {
	return EventsBatch{Epoch: sampleEpoch, Events: []varco.Event{
		{Seq: 1, Door: testDoor, Time: t0, Kind: varco.EventGranted, NIS: "123456789012", PersonID: "p-1"},
		{Seq: 2, Door: testDoor, Time: t0.Add(90 * time.Second), Kind: varco.EventDenied, NIS: "210987654321", PersonID: "p-2", Reason: varco.ReasonOutsideSchedule},
	}}
}

func sampleAck() Ack { return Ack{Epoch: sampleEpoch, Seq: 2} }

func sampleStatus() Status {
	return Status{
		Online: true, Rev: 42, OutboxLen: 3, ClockTrusted: true, Version: "0.1.0",
		Mode: varco.ModeNormal, DoorState: DoorClosed, Time: t0,
	}
}

func sampleCmd() Cmd {
	return Cmd{Seq: 7, Action: ActionUnlockOnce, IssuedAt: t0, ExpiresAt: t0.Add(time.Minute), By: "facilities@example.com"}
}

func sampleChallenge() EnrollChallenge {
	c := make([]byte, ChallengeSize)
	for i := range c {
		c[i] = byte(i)
	}
	return EnrollChallenge{ID: "enr-1", Challenge: c, ExpiresAt: t0.Add(2 * time.Minute)}
}

func sampleResult() EnrollResult {
	return EnrollResult{
		ID: "enr-1", NIS: "123456789012", PublicKey: cardKey1,
		SOD:       []byte{0x77, 0x82, 0x01, 0x00, 0x30}, // not a real EF.SOD: the admin checks it, not wire
		Signature: []byte{0x01, 0x02, 0x03, 0x04},
	}
}

// mustSeal seals body for the test door.
func mustSeal(tb testing.TB, k Kind, body any) []byte {
	tb.Helper()
	msg, err := testSigner().Seal(k, testSite, testDoor, body)
	if err != nil {
		tb.Fatal(err)
	}
	return msg
}

// mustEncode encodes body for the test door.
func mustEncode(tb testing.TB, k Kind, body any) []byte {
	tb.Helper()
	msg, err := Encode(k, testSite, testDoor, body)
	if err != nil {
		tb.Fatal(err)
	}
	return msg
}

// mustSealRaw signs raw body bytes for the test door, bypassing Seal's
// checks.
func mustSealRaw(tb testing.TB, k Kind, site, door string, body string) []byte {
	tb.Helper()
	msg, err := testSigner().seal(k, site, door, []byte(body))
	if err != nil {
		tb.Fatal(err)
	}
	return msg
}

// rewrite decodes msg's envelope as a map, lets f change it and encodes it
// again: the body and sig strings stay byte-identical.
func rewrite(tb testing.TB, msg []byte, f func(m map[string]any)) []byte {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(msg, &m); err != nil {
		tb.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// wantErr fails unless err wraps want (or is nil when want is nil) and,
// when sub is set, mentions it.
func wantErr(tb testing.TB, err, want error, sub string) {
	tb.Helper()
	switch {
	case want == nil && err != nil:
		tb.Fatalf("err = %v, want nil", err)
	case want != nil && !errors.Is(err, want):
		tb.Fatalf("err = %v, want %v", err, want)
	case sub != "" && (err == nil || !strings.Contains(err.Error(), sub)):
		tb.Fatalf("err = %v, want it to mention %q", err, sub)
	}
}
