package syncer

import "testing"

func TestMatchFilter(t *testing.T) {
	for _, tt := range []struct {
		filter, topic string
		want          bool
	}{
		{"a/b/c", "a/b/c", true},
		{"a/b/c", "a/b", false},
		{"a/b", "a/b/c", false},
		{"a/+/c", "a/x/c", true},
		{"a/+/c", "a/x/y/c", false},
		{"a/+", "a/", true}, // an empty level is a level
		{"varco/v1/sede/door/+/events", "varco/v1/sede/door/d1/events", true},
		{"varco/v1/sede/door/+/events", "varco/v1/sede/door/d1/events/ack", false},
		{"varco/v1/sede/door/+/events", "varco/v1/altro/door/d1/events", false},
		{"a/#", "a", true}, // '#' includes the parent level
		{"a/#", "a/b/c", true},
		{"#", "a/b", true},
		{"+/b", "a/b", true},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/x", true},
		{"a/#/c", "a/b/c", false}, // '#' only last
		{"$share/g/a/+", "a/b", true},
		{"$share/g", "g", false},
	} {
		if got := matchFilter(tt.filter, tt.topic); got != tt.want {
			t.Errorf("matchFilter(%q, %q) = %v, want %v", tt.filter, tt.topic, got, tt.want)
		}
	}
}
