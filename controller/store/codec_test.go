package store

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/varco-access/varco"
)

func codecCases() []struct {
	name string
	g    varco.Grant
} {
	full := FixtureGrant(7, "Maria Rossi")
	full.ScheduleIDs = []string{"office", "weekend", ""}
	full.Flags = varco.FlagAlways | varco.FlagLockdownOverride
	full.ValidFrom = time.Date(2026, 1, 1, 8, 30, 0, 123456789, time.UTC)
	return []struct {
		name string
		g    varco.Grant
	}{
		{"typical", FixtureGrant(1, "Mario Bianchi")},
		{"full", full},
		{"no dates no schedules", varco.Grant{NIS: "123456789012", PersonID: "p", PublicKey: []byte{0x30, 0}}},
		{"empty", varco.Grant{}},
		{"unicode name", varco.Grant{NIS: "000000000001", PersonID: "p", DisplayName: "Niccolò Çelik 李"}},
		{"extreme dates", varco.Grant{NIS: "1", ValidFrom: time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC), ValidUntil: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)}},
		{"max flags", varco.Grant{Flags: ^varco.Flags(0)}},
	}
}

func TestGrantCodecRoundTrip(t *testing.T) {
	for _, tc := range codecCases() {
		t.Run(tc.name, func(t *testing.T) {
			b := appendGrant(nil, &tc.g)
			got, err := decodeGrant(b)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !grantsEqual(got, tc.g) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, tc.g)
			}
		})
	}
}

func TestGrantCodecRejects(t *testing.T) {
	good := appendGrant(nil, &[]varco.Grant{FixtureGrant(1, "x")}[0])
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"unknown version", append([]byte{2}, good[1:]...)},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", append(append([]byte(nil), good...), 0)},
		{"only version", []byte{grantV1}},
		{"unknown date bits", []byte{grantV1, 0, 0x04}},
		{"flags overflow", []byte{grantV1, 0x80, 0x80, 0x80, 0x80, 0x10, 0}},
		{"nanoseconds out of range", []byte{grantV1, 0, hasFrom, 0, 0x80, 0x94, 0xeb, 0xdc, 0x03}}, // 1e9 ns
		{"string longer than value", []byte{grantV1, 0, 0, 50, '1'}},
		{"schedule count beyond value", []byte{grantV1, 0, 0, 0, 0, 0, 0, 200, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if g, err := decodeGrant(tc.b); !errors.Is(err, ErrCorrupt) {
				t.Errorf("decodeGrant(% x) = %+v, %v; want ErrCorrupt", tc.b, g, err)
			}
		})
	}
}

// grantsEqual compares grants with time.Equal (times come back in UTC).
func grantsEqual(a, b varco.Grant) bool {
	if !a.ValidFrom.Equal(b.ValidFrom) || !a.ValidUntil.Equal(b.ValidUntil) {
		return false
	}
	a.ValidFrom, a.ValidUntil, b.ValidFrom, b.ValidUntil = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if len(a.PublicKey) == 0 && len(b.PublicKey) == 0 {
		a.PublicKey, b.PublicKey = nil, nil
	}
	if len(a.ScheduleIDs) == 0 && len(b.ScheduleIDs) == 0 {
		a.ScheduleIDs, b.ScheduleIDs = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

// FuzzDecodeGrant feeds arbitrary bytes, as a damaged file would, to the
// grant decoder: it must not panic, and whatever it accepts must survive
// an encode/decode round trip.
func FuzzDecodeGrant(f *testing.F) {
	for _, tc := range codecCases() {
		f.Add(appendGrant(nil, &tc.g))
	}
	f.Add([]byte{grantV1, 0, 3, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := decodeGrant(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		g2, err := decodeGrant(appendGrant(nil, &g))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !grantsEqual(g, g2) {
			j1, _ := json.Marshal(g)
			j2, _ := json.Marshal(g2)
			t.Fatalf("round trip differs:\n%s\n%s", j1, j2)
		}
	})
}
