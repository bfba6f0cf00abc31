package broker

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/varco-access/varco/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestAllow(t *testing.T) {
	const (
		pub = true
		sub = false
	)
	d := func(door, kind string) string { return "varco/v1/S/door/" + door + "/" + kind }
	for _, tc := range []struct {
		identity, topic string
		write, ok       bool
	}{
		// A door writes its door-to-admin kinds and reads its admin-to-door kinds.
		{"door:A", d("A", "sync"), pub, true},
		{"door:A", d("A", "events"), pub, true},
		{"door:A", d("A", "status"), pub, true},
		{"door:A", d("A", "enroll/result"), pub, true},
		{"door:A", d("A", "grants"), sub, true},
		{"door:A", d("A", "head"), sub, true},
		{"door:A", d("A", "snapshot"), sub, true},
		{"door:A", d("A", "events/ack"), sub, true},
		{"door:A", d("A", "cmd"), sub, true},
		{"door:A", d("A", "enroll"), sub, true},
		// ... and not the other way round.
		{"door:A", d("A", "grants"), pub, false},
		{"door:A", d("A", "head"), pub, false},
		{"door:A", d("A", "events/ack"), pub, false},
		{"door:A", d("A", "cmd"), pub, false},
		{"door:A", d("A", "enroll"), pub, false},
		{"door:A", d("A", "events"), sub, false},
		{"door:A", d("A", "status"), sub, false},
		{"door:A", d("A", "sync"), sub, false},
		// Nothing of another door, site, or outside the contract.
		{"door:A", d("B", "events"), pub, false},
		{"door:A", d("B", "status"), pub, false},
		{"door:A", d("B", "grants"), sub, false},
		{"door:A", d("AB", "grants"), sub, false},
		{"door:AB", d("A", "grants"), sub, false},
		{"door:A", "varco/v1/T/door/A/grants", sub, false},
		{"door:A", "varco/v1/T/door/A/events", pub, false},
		{"door:A", "varco/v2/S/door/A/events", pub, false},
		{"door:A", d("A", "events/extra"), pub, false},
		{"door:A", d("A", "events/"), pub, false},
		{"door:A", d("A", ""), pub, false},
		{"door:A", "varco/v1/S/door/A", pub, false},
		{"door:A", "$SYS/broker/uptime", pub, false},
		{"door:A", "$SYS/#", sub, false},
		// No wildcard filter, not even over the door's own topics.
		{"door:A", d("+", "grants"), sub, false},
		{"door:A", d("A", "#"), sub, false},
		{"door:A", d("A", "+"), sub, false},
		{"door:A", "varco/v1/S/door/#", sub, false},
		{"door:A", "varco/v1/S/#", sub, false},
		{"door:A", "varco/v1/+/door/A/grants", sub, false},
		{"door:A", "#", sub, false},
		{"door:A", "$share/g/" + d("A", "grants"), sub, false},
		// A station: status and enrolment results out, challenges in.
		{"station:A", d("A", "status"), pub, true},
		{"station:A", d("A", "enroll/result"), pub, true},
		{"station:A", d("A", "enroll"), sub, true},
		{"station:A", d("A", "events"), pub, false},
		{"station:A", d("A", "sync"), pub, false},
		{"station:A", d("A", "grants"), sub, false},
		{"station:A", d("A", "cmd"), sub, false},
		{"station:A", d("A", "head"), sub, false},
		{"station:A", d("B", "enroll"), sub, false},
		{"station:A", d("B", "enroll/result"), pub, false},
		// The admin: anything under the site.
		{"admin", d("A", "grants"), pub, true},
		{"admin", d("B", "events"), sub, true},
		{"admin", "varco/v1/S/door/+/events", sub, true},
		{"admin", "varco/v1/S/door/+/#", sub, true},
		{"admin", "varco/v1/S/#", sub, true},
		{"admin", "varco/v1/S/anything/else", pub, true},
		{"admin", "$share/ingest/varco/v1/S/door/+/events", sub, true},
		{"admin", "$SHARE/ingest/varco/v1/S/door/+/events", sub, true},
		{"admin", "$share//varco/v1/S/door/+/events", sub, false},
		{"admin", "$share/+/varco/v1/S/door/+/events", sub, false},
		{"admin", "$share/ingest", sub, false},
		{"admin", "$share/ingest/#", sub, false},
		{"admin", "$share/ingest/varco/v1/T/#", sub, false},
		{"admin", "$share/ingest/varco/v1/S/#", pub, false},
		{"admin", "varco/v1/S/", pub, false},
		{"admin", "varco/v1/S", sub, false},
		{"admin", "varco/v1/S/door/+/grants", pub, false},
		{"admin", "varco/v1/S/#", pub, false},
		{"admin", "varco/v1/T/door/A/grants", pub, false},
		{"admin", "varco/v1/SS/door/A/grants", pub, false},
		{"admin", "varco/v1/+/door/A/events", sub, false},
		{"admin", "varco/#", sub, false},
		{"admin", "#", sub, false},
		{"admin", "+/v1/S/door/A/events", sub, false},
		{"admin", "$SYS/#", sub, false},
		{"admin", "$SYS/broker/x", pub, false},
		// Not identities.
		{"", d("A", "events"), pub, false},
		{"A", d("A", "events"), pub, false},
		{"door:", "varco/v1/S/door//events", pub, false},
		{"Admin", d("A", "grants"), pub, false},
		{"admin ", d("A", "grants"), pub, false},
		{"door:A/x", d("A", "events"), pub, false},
		{"gate:A", d("A", "events"), pub, false},
	} {
		if got := Allow("S", tc.identity, tc.topic, tc.write); got != tc.ok {
			t.Errorf("Allow(S, %q, %q, write=%v) = %v, want %v", tc.identity, tc.topic, tc.write, got, tc.ok)
		}
	}
	if Allow("", "admin", "varco/v1//door/A/grants", true) || Allow("S/#", "admin", "varco/v1/S/#/x", true) {
		t.Error("Allow accepted an invalid site")
	}
}

// TestTopics pins the door and station rules to the lists of the MQTT
// contract: a kind added to package wire must be placed here on purpose.
func TestTopics(t *testing.T) {
	for _, tc := range []struct {
		identity string
		pub, sub []wire.Kind
	}{
		{"door:A",
			[]wire.Kind{"sync", "events", "status", "enroll/result"},
			[]wire.Kind{"grants", "head", "snapshot", "events/ack", "cmd", "enroll"}},
		{"station:A",
			[]wire.Kind{"status", "enroll/result"},
			[]wire.Kind{"enroll"}},
	} {
		pub, sub, err := Topics("S", tc.identity)
		if err != nil {
			t.Fatal(err)
		}
		var wantPub, wantSub []string
		for _, k := range tc.pub {
			wantPub = append(wantPub, wire.Topic("S", "A", k))
		}
		for _, k := range tc.sub {
			wantSub = append(wantSub, wire.Topic("S", "A", k))
		}
		if !slices.Equal(pub, wantPub) || !slices.Equal(sub, wantSub) {
			t.Errorf("Topics(%s):\n pub %q\nwant %q\n sub %q\nwant %q", tc.identity, pub, wantPub, sub, wantSub)
		}
		// Allow agrees with Topics on every kind.
		for _, k := range wire.Kinds() {
			tp := wire.Topic("S", "A", k)
			if got, want := Allow("S", tc.identity, tp, true), slices.Contains(pub, tp); got != want {
				t.Errorf("Allow(%s, %s, write) = %v, Topics says %v", tc.identity, tp, got, want)
			}
			if got, want := Allow("S", tc.identity, tp, false), slices.Contains(sub, tp); got != want {
				t.Errorf("Allow(%s, %s, read) = %v, Topics says %v", tc.identity, tp, got, want)
			}
		}
	}
	if _, _, err := Topics("S", "nobody"); err == nil {
		t.Error("Topics accepted an invalid identity")
	}
	pub, sub, err := Topics("S", "admin")
	if err != nil || !slices.Equal(pub, []string{"varco/v1/S/#"}) || !slices.Equal(sub, pub) {
		t.Errorf("Topics(admin) = %q %q %v", pub, sub, err)
	}
}

func TestMosquittoACL(t *testing.T) {
	got, err := MosquittoACL("demo", []string{"admin", "door:demo-1", "station:desk", "door:demo-1"})
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "mosquitto.acl")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("MosquittoACL differs from %s (go test -update to accept):\n%s", golden, got)
	}
	if _, err := MosquittoACL("demo", []string{"door:a/b"}); err == nil {
		t.Error("MosquittoACL accepted an invalid identity")
	}
	if _, err := MosquittoACL("de mo", []string{"admin"}); err == nil {
		t.Error("MosquittoACL accepted an invalid site")
	}
}

// FuzzAllow: no input makes Allow grant a door anything but its own
// exact topics, or the admin anything outside its site.
func FuzzAllow(f *testing.F) {
	for _, s := range []string{"varco/v1/S/door/A/events", "varco/v1/S/door/A/grants", "$share/g/varco/v1/S/#", "#", "varco/v1/S/door/+/grants", "$SYS/x"} {
		f.Add("door:A", s, true)
		f.Add("admin", s, false)
	}
	f.Fuzz(func(t *testing.T, identity, topic string, write bool) {
		if !Allow("S", identity, topic, write) {
			return
		}
		pub, sub, err := Topics("S", identity)
		if err != nil {
			t.Fatalf("Allow granted %q, which Topics refuses: %v", identity, err)
		}
		if identity == "admin" {
			f := unshare(topic)
			if len(f) <= len("varco/v1/S/") || f[:len("varco/v1/S/")] != "varco/v1/S/" {
				t.Fatalf("admin granted %q outside the site", topic)
			}
			return
		}
		allowed := sub
		if write {
			allowed = pub
		}
		if !slices.Contains(allowed, topic) {
			t.Fatalf("%s granted %q (write=%v), not one of its topics", identity, topic, write)
		}
	})
}
