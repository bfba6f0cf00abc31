package admin_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin"
)

func fields(err error) []string {
	var ve *admin.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	for k := range ve.Fields {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestValidationError(t *testing.T) {
	e := &admin.ValidationError{Fields: map[string]string{"name": "required", "email": "not an email address"}}
	if got, want := e.Error(), "admin: invalid: email: not an email address; name: required"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	b, _ := json.Marshal(e)
	if string(b) != `{"fields":{"email":"not an email address","name":"required"}}` {
		t.Errorf("json %s", b)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    interface{ Validate() error }
		want []string
	}{
		{"site ok", &admin.Site{Name: "Sede", TimeZone: "Europe/Rome"}, nil},
		{"site Local", &admin.Site{Name: "Sede", TimeZone: "Local"}, []string{"time_zone"}},
		{"person ok", &admin.Person{EmployeeNo: "1", Name: "Mario", Surname: "Rossi", Email: "mario@example.it"}, nil},
		{"person html kept", &admin.Person{EmployeeNo: "<1>", Name: "<b>", Surname: "'; --"}, nil},
		{"person email no dot", &admin.Person{EmployeeNo: "1", Name: "a", Surname: "b", Email: "a@localhost"}, []string{"email"}},
		{"person tab", &admin.Person{EmployeeNo: "1", Name: "a\tb", Surname: "b"}, []string{"name"}},
		{"person 200 runes", &admin.Person{EmployeeNo: "1", Name: strings.Repeat("è", 200), Surname: "b"}, nil},
		{"door ok", &admin.Door{SiteID: 1, Name: "a", ControllerID: "pi-1.a_b", Mode: varco.ModeNormal}, nil},
		{"door empty mode", &admin.Door{SiteID: 1, Name: "a", ControllerID: "x"}, []string{"mode"}},
		{"door topic chars", &admin.Door{SiteID: 1, Name: "a", ControllerID: "a/+#", Mode: varco.ModeNormal}, []string{"controller_id"}},
		{"holiday", &admin.Holiday{SiteID: 1, Date: "2025-02-30"}, []string{"date"}},
		{"user", &admin.User{Username: "anna", Role: "superuser"}, []string{"role"}},
		{"token", &admin.APIToken{Name: "x", UserID: 1, Role: admin.RoleViewer, Hash: strings.Repeat("A", 64)}, []string{"hash"}},
		{"group", &admin.Group{Name: "g", PersonIDs: []int64{1, 0}}, []string{"person_ids[1]"}},
		{"event", &admin.Event{DoorID: 1}, []string{"kind", "time"}},
		{"schedule", &admin.Schedule{Name: "s", Days: [7][]varco.Window{4: {{Start: 60, End: 120}, {Start: 90, End: 200}}}}, []string{"days[4][1]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.v.Validate()
			if got := fields(err); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Validate() = %v, fields %v, want %v", err, got, tc.want)
			}
		})
	}
}

func TestScheduleVarco(t *testing.T) {
	s := admin.Schedule{ID: 42, Name: "Uffici", OpenOnHolidays: true, Days: [7][]varco.Window{1: {{Start: 480, End: 1080}}, 2: {}}}
	v := s.Varco()
	want := varco.Schedule{ID: "42", Name: "Uffici", OpenOnHolidays: true, Days: [7][]varco.Window{1: {{Start: 480, End: 1080}}}}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("Varco() = %+v, want %+v", v, want)
	}
	v.Days[1][0].Start = 0
	if s.Days[1][0].Start != 480 {
		t.Fatal("Varco() shares the windows")
	}
}

var parseDaysCases = []struct {
	name string
	in   string
	ok   bool
}{
	{"empty week", `[[],[],[],[],[],[],[]]`, true},
	{"nulls", `[null,null,null,null,null,null,null]`, true},
	{"office", `[[],[{"start":480,"end":720},{"start":840,"end":1080}],[],[],[],[],[{"start":0,"end":1440}]]`, true},
	{"six days", `[[],[],[],[],[],[]]`, false},
	{"not array", `{"monday":[]}`, false},
	{"overlap", `[[{"start":0,"end":100},{"start":50,"end":60}],[],[],[],[],[],[]]`, false},
	{"past midnight", `[[{"start":0,"end":1441}],[],[],[],[],[],[]]`, false},
	{"unknown field", `[[{"start":0,"end":10,"open":true}],[],[],[],[],[],[]]`, false},
	{"string minute", `[[{"start":"08:00","end":10}],[],[],[],[],[],[]]`, false},
	{"garbage", `[[`, false},
}

func TestParseDays(t *testing.T) {
	for _, tc := range parseDaysCases {
		t.Run(tc.name, func(t *testing.T) {
			days, err := admin.ParseDays([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("ParseDays(%s) = %v, want ok %v", tc.in, err, tc.ok)
			}
			if err != nil {
				var ve *admin.ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("error %T, want *ValidationError", err)
				}
				return
			}
			s := admin.Schedule{Name: "x", Days: days}
			if err := s.Validate(); err != nil {
				t.Fatalf("parsed days do not validate: %v", err)
			}
		})
	}
}

// FuzzParseDays: schedule days come from API clients and the database;
// whatever the bytes, ParseDays returns valid days or a ValidationError,
// and valid days survive a JSON round trip.
func FuzzParseDays(f *testing.F) {
	for _, tc := range parseDaysCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		days, err := admin.ParseDays(b)
		if err != nil {
			var ve *admin.ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) == 0 {
				t.Fatalf("error %v is not a ValidationError with fields", err)
			}
			return
		}
		s := admin.Schedule{Name: "x", Days: days}
		if err := s.Validate(); err != nil {
			t.Fatalf("ParseDays accepted invalid days: %v", err)
		}
		enc, err := json.Marshal(days)
		if err != nil {
			t.Fatal(err)
		}
		again, err := admin.ParseDays(enc)
		if err != nil || !reflect.DeepEqual(again, days) {
			t.Fatalf("round trip %s: %v %v != %v", enc, err, again, days)
		}
	})
}
