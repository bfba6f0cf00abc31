package wire

import (
	"slices"
	"strings"
	"testing"
)

func TestKinds(t *testing.T) {
	fromAdmin := []Kind{KindGrants, KindHead, KindSnapshot, KindEventsAck, KindCmd, KindEnroll}
	retained := []Kind{KindHead, KindStatus}
	if len(Kinds()) != 10 {
		t.Fatalf("Kinds() = %v", Kinds())
	}
	for _, k := range Kinds() {
		if !k.Valid() {
			t.Errorf("%s: not Valid", k)
		}
		if got, want := k.FromAdmin(), slices.Contains(fromAdmin, k); got != want || k.Signed() != want {
			t.Errorf("%s: FromAdmin %v, Signed %v, want %v", k, got, k.Signed(), want)
		}
		if got, want := k.Retained(), slices.Contains(retained, k); got != want {
			t.Errorf("%s: Retained %v, want %v", k, got, want)
		}
		if k.QoS() != 1 {
			t.Errorf("%s: QoS %d", k, k.QoS())
		}
		if k.Payload() == nil {
			t.Errorf("%s: no payload type", k)
		}
	}
	for _, k := range []Kind{"", "grant", "events/", "ack", "enroll/", "Grants"} {
		if k.Valid() || k.FromAdmin() || k.Payload() != nil {
			t.Errorf("%q: Valid %v FromAdmin %v Payload %v", k, k.Valid(), k.FromAdmin(), k.Payload())
		}
	}
}

func TestValidID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"demo", true},
		{"demo-1", true},
		{"A.b_c-9", true},
		{strings.Repeat("x", 64), true},
		{strings.Repeat("x", 65), false},
		{"", false},
		{"a/b", false},
		{"a+", false},
		{"#", false},
		{"$SYS", false},
		{"a b", false},
		{"a\x00b", false},
		{"città", false},
	} {
		if got := ValidID(tc.id); got != tc.ok {
			t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.ok)
		}
	}
}

func TestTopicRoundTrip(t *testing.T) {
	for _, k := range Kinds() {
		topic := Topic("site.1", "door_2", k)
		if want := "varco/v1/site.1/door/door_2/" + string(k); topic != want {
			t.Errorf("Topic = %q, want %q", topic, want)
		}
		site, door, kk, err := ParseTopic(topic)
		if err != nil || site != "site.1" || door != "door_2" || kk != k {
			t.Errorf("ParseTopic(%q) = %q %q %q %v", topic, site, door, kk, err)
		}
	}
}

func TestParseTopicErrors(t *testing.T) {
	for _, tc := range []struct{ name, topic, sub string }{
		{"empty", "", "does not start"},
		{"other major", "varco/v2/s/door/d/grants", "does not start"},
		{"no prefix slash", "varco/v1", "does not start"},
		{"only prefix", "varco/v1/", "want {site}"},
		{"empty site", "varco/v1//door/d/grants", "invalid site"},
		{"wildcard site", "varco/v1/+/door/d/grants", "invalid site"},
		{"hash site", "varco/v1/#/door/d/grants", "invalid site"},
		{"long site", "varco/v1/" + strings.Repeat("s", 65) + "/door/d/grants", "invalid site"},
		{"doors", "varco/v1/s/doors/d/grants", `want "door"`},
		{"no door level", "varco/v1/s", "want {site}"},
		{"empty door", "varco/v1/s/door//grants", "invalid door"},
		{"wildcard door", "varco/v1/s/door/+/grants", "invalid door"},
		{"no kind", "varco/v1/s/door/d", "want {site}"},
		{"empty kind", "varco/v1/s/door/d/", "unknown kind"},
		{"unknown kind", "varco/v1/s/door/d/grant", "unknown kind"},
		{"hash kind", "varco/v1/s/door/d/#", "unknown kind"},
		{"extra level", "varco/v1/s/door/d/events/ack/x", "unknown kind"},
		{"trailing slash", "varco/v1/s/door/d/status/", "unknown kind"},
		{"ack alone", "varco/v1/s/door/d/ack", "unknown kind"},
		{"leading slash", "/varco/v1/s/door/d/status", "does not start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := ParseTopic(tc.topic)
			wantErr(t, err, ErrTopic, tc.sub)
		})
	}
}

// match is MQTT 3.1.1 topic matching (section 4.7), enough to check the
// filters: '+' one level, '#' the rest.
func match(filter, topic string) bool {
	f, tp := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, lvl := range f {
		if lvl == "#" {
			return true
		}
		if i >= len(tp) || (lvl != "+" && lvl != tp[i]) {
			return false
		}
	}
	return len(f) == len(tp)
}

func TestFilters(t *testing.T) {
	if got := DoorFilter("s", "d"); got != "varco/v1/s/door/d/#" {
		t.Errorf("DoorFilter = %q", got)
	}
	if got := SiteFilter("s"); got != "varco/v1/s/door/+/#" {
		t.Errorf("SiteFilter = %q", got)
	}
	matchesAny := func(fs []string, topic string) bool {
		return slices.ContainsFunc(fs, func(f string) bool { return match(f, topic) })
	}
	for _, k := range Kinds() {
		mine, other := Topic("s", "d", k), Topic("s", "e", k)
		if !match(DoorFilter("s", "d"), mine) || match(DoorFilter("s", "d"), other) {
			t.Errorf("DoorFilter and %s", k)
		}
		if !match(SiteFilter("s"), other) || match(SiteFilter("s"), Topic("t", "d", k)) {
			t.Errorf("SiteFilter and %s", k)
		}
		if got := matchesAny(DoorFilters("s", "d"), mine); got != k.FromAdmin() {
			t.Errorf("DoorFilters match %s: %v", k, got)
		}
		if matchesAny(DoorFilters("s", "d"), other) {
			t.Errorf("DoorFilters match door e's %s", k)
		}
		if got := matchesAny(SiteFilters("s"), other); got == k.FromAdmin() {
			t.Errorf("SiteFilters match %s: %v", k, got)
		}
		if matchesAny(SiteFilters("s"), Topic("t", "d", k)) {
			t.Errorf("SiteFilters match site t's %s", k)
		}
	}
	if n := len(DoorFilters("s", "d")); n != 6 {
		t.Errorf("%d door filters", n)
	}
	if n := len(SiteFilters("s")); n != 4 {
		t.Errorf("%d site filters", n)
	}
}
