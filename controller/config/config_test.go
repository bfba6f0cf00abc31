package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testKey = "1jDY1rIclNybMgSb7JM4o11SrtRAZwqRFQOItzpk+C8="

// minimal is the smallest valid file; cases append to or replace parts of it.
const minimal = `
controller_id = "c1"
[site]
id = "s1"
site_public_key = "` + testKey + `"
[[doors]]
id = "d1"
reader = "virtual"
relay_pin = "GPIO26"
`

// MustParse parses src as file "test.toml" and fails the test on error.
func MustParse(tb testing.TB, src string) Config {
	tb.Helper()
	c, err := Parse("test.toml", []byte(src))
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return c
}

func TestParseDefaults(t *testing.T) {
	c := MustParse(t, minimal)
	def := DefaultConfig()
	if c.StateDir != def.StateDir || c.MetricsAddr != "127.0.0.1:9465" || c.UntrustedClock != ClockDeny ||
		c.OutboxCap != def.OutboxCap || !c.Clock.NTPCheck || c.Log.Level != "info" || c.Site.TimeZone != "Europe/Rome" {
		t.Errorf("top-level defaults not applied: %+v", c)
	}
	if got, want := c.StorePath(), "/var/lib/varco-door/varco-door.db"; got != want {
		t.Errorf("StorePath = %q, want %q", got, want)
	}
	if c.File() != "test.toml" {
		t.Errorf("File = %q", c.File())
	}
	d := c.Doors[0]
	want := DefaultDoor()
	want.ID, want.Reader, want.RelayPin = "d1", "virtual", "GPIO26"
	if d != want {
		t.Errorf("door = %+v\nwant %+v", d, want)
	}
	if d.ReleaseTime.Duration != 5*time.Second || d.HeldOpenAfter.Duration != 30*time.Second ||
		d.Debounce.Duration != 50*time.Millisecond || d.DeniedRepeatWindow.Duration != 5*time.Second || d.FailMode != FailSecure {
		t.Errorf("door defaults wrong: %+v", d)
	}
	if d.DisplayName() != "d1" {
		t.Errorf("DisplayName = %q", d.DisplayName())
	}
	if k, err := c.Site.Key(); err != nil || len(k) != 32 {
		t.Errorf("Key = %x, %v", k, err)
	}
	if loc, err := c.Site.Location(); err != nil || loc.String() != "Europe/Rome" {
		t.Errorf("Location = %v, %v", loc, err)
	}
}

// TestDoorDefaultsPerDoor checks that each door is read over its own
// defaults: a setting in one door must not leak into the next.
func TestDoorDefaultsPerDoor(t *testing.T) {
	c := MustParse(t, minimal+`
release_time = "9s"
untrusted_clock = "allow"
[[doors]]
id = "d2"
reader = "virtual"
relay_pin = "GPIO20"
`)
	if len(c.Doors) != 2 {
		t.Fatalf("%d doors", len(c.Doors))
	}
	if c.Doors[0].ReleaseTime.Duration != 9*time.Second || c.Doors[1].ReleaseTime.Duration != 5*time.Second {
		t.Errorf("release times %v, %v", c.Doors[0].ReleaseTime, c.Doors[1].ReleaseTime)
	}
	if c.ClockPolicy(c.Doors[0]) != ClockAllow || c.ClockPolicy(c.Doors[1]) != ClockDeny {
		t.Errorf("clock policies %q, %q", c.ClockPolicy(c.Doors[0]), c.ClockPolicy(c.Doors[1]))
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // every string must appear in the error
	}{
		{"syntax", "controller_id = ", []string{"test.toml: toml: line 1"}},
		{"unknown top key", minimal + "\n[clok]\nrtc = true\n", []string{"test.toml: unknown key clok"}},
		{"unknown key before doors", "metrics_adr = \"x\"\n" + minimal, []string{"test.toml: unknown key metrics_adr"}},
		{"unknown door key", minimal + "relay_pn = \"GPIO5\"\n", []string{"test.toml: unknown key doors.relay_pn"}},
		{"unknown site key", strings.Replace(minimal, "[site]", "[site]\ntimezone = \"UTC\"", 1), []string{"unknown key site.timezone"}},
		{"integer duration", minimal + "release_time = 5\n", []string{"test.toml: doors[0]:", "missing unit"}},
		{"bad duration", minimal + "debounce = \"fast\"\n", []string{"doors[0]", "invalid duration"}},
		{"wrong type", "controller_id = 3\n" + minimal[len("\ncontroller_id = \"c1\""):], []string{"test.toml:", "incompatible types"}},
		{"release too short", door2(`release_time = "2s"`), []string{"test.toml: doors[1].release_time: 2s is below the 3s minimum"}},
		{"release too long", door2(`release_time = "1h"`), []string{"doors[1].release_time: 1h0m0s is above the 5m0s maximum"}},
		{"debounce zero", minimal + "debounce = \"0s\"\n", []string{"doors[0].debounce: 0s is below"}},
		{"held open zero", minimal + "held_open_after = \"0s\"\n", []string{"doors[0].held_open_after"}},
		{"negative repeat", minimal + "denied_repeat_window = \"-1s\"\n", []string{"doors[0].denied_repeat_window"}},
		{"fail mode", minimal + "fail_mode = \"open\"\n", []string{"doors[0].fail_mode: \"open\""}},
		{"door policy", minimal + "untrusted_clock = \"maybe\"\n", []string{"doors[0].untrusted_clock"}},
		{"input pull", minimal + "input_pull = \"sideways\"\n", []string{"doors[0].input_pull"}},
		{"duplicate door id", minimal + "[[doors]]\nid = \"d1\"\nreader = \"virtual\"\nrelay_pin = \"GPIO20\"\n",
			[]string{"doors[1].id: \"d1\" is already the id of doors[0]"}},
		{"duplicate relay pin", minimal + "[[doors]]\nid = \"d2\"\nreader = \"virtual\"\nrelay_pin = \"gpio26\"\n",
			[]string{"doors[1].relay_pin: \"gpio26\" is already used by doors[0].relay_pin"}},
		{"pin shared within a door", minimal + "contact_pin = \"GPIO26\"\n", []string{"doors[0].contact_pin: \"GPIO26\" is already used by doors[0].relay_pin"}},
		{"contact vs other rex", minimal + "contact_pin = \"GPIO5\"\n" + "[[doors]]\nid = \"d2\"\nreader = \"virtual\"\nrelay_pin = \"GPIO20\"\nrex_pin = \"GPIO5\"\n",
			[]string{"doors[1].rex_pin: \"GPIO5\" is already used by doors[0].contact_pin"}},
		{"no relay pin", strings.Replace(minimal, "relay_pin = \"GPIO26\"", "", 1), []string{"doors[0].relay_pin: required"}},
		{"unknown gpio driver", "gpio = \"spi\"\n" + minimal, []string{`gpio: "spi": want "periph" or "fake"`}},
		{"no reader", strings.Replace(minimal, "reader = \"virtual\"", "", 1), []string{"doors[0].reader: required"}},
		{"vpcd port on pcsc", strings.Replace(minimal, "reader = \"virtual\"", "reader = \"ACS\"\nvpcd_port = 35963", 1), []string{"doors[0].vpcd_port: only for reader"}},
		{"vpcd port range", minimal + "vpcd_port = 70000\n", []string{"doors[0].vpcd_port: 70000"}},
		{"vpcd port dup", minimal + "vpcd_port = 35963\n" + door2("vpcd_port = 35963\n")[len(minimal):], []string{"doors[1].vpcd_port: 35963 is already used by doors[0]"}},
		{"bad door id", strings.Replace(minimal, "id = \"d1\"", "id = \"d/1\"", 1), []string{"doors[0].id: \"d/1\""}},
		{"no doors", minimal[:strings.Index(minimal, "[[doors]]")], []string{"test.toml: doors: at least one"}},
		{"no controller id", strings.Replace(minimal, "controller_id = \"c1\"", "", 1), []string{"test.toml: controller_id: required"}},
		{"no site id", strings.Replace(minimal, "id = \"s1\"", "", 1), []string{"site.id: required"}},
		{"bad zone", strings.Replace(minimal, "[site]", "[site]\ntime_zone = \"Europe/Atlantis\"", 1), []string{"site.time_zone"}},
		{"local zone", strings.Replace(minimal, "[site]", "[site]\ntime_zone = \"Local\"", 1), []string{"site.time_zone"}},
		{"no key", strings.Replace(minimal, testKey, "", 1), []string{"site.site_public_key: required"}},
		{"key not base64", strings.Replace(minimal, testKey, "not base64!", 1), []string{"site.site_public_key: not standard base64"}},
		{"key short", strings.Replace(minimal, testKey, "AAAA", 1), []string{"site.site_public_key: 3 bytes, want a 32-byte"}},
		{"relative state dir", "state_dir = \"var/lib\"\n" + minimal, []string{"state_dir: \"var/lib\" is not an absolute path"}},
		{"log level", minimal + "[log]\nlevel = \"loud\"\n", []string{"log.level: \"loud\""}},
		{"metrics addr", "metrics_addr = \"9465\"\n" + minimal, []string{"metrics_addr: \"9465\""}},
		{"max offline", "max_offline = \"-1h\"\n" + minimal, []string{"max_offline: -1h0m0s is negative"}},
		{"policy", "untrusted_clock = \"sometimes\"\n" + minimal, []string{"untrusted_clock: \"sometimes\""}},
		{"outbox cap", "outbox_cap = 1000\n" + minimal, []string{"outbox_cap: 1000 is below the 1000000 minimum"}},
		{"mqtt scheme", minimal + "[mqtt]\nbroker = \"http://x:1\"\n", []string{"mqtt.broker: \"http://x:1\""}},
		{"mqtt half tls", minimal + "[mqtt]\nbroker = \"mqtts://x:8883\"\nclient_cert = \"/c\"\n", []string{"mqtt.client_key"}},
		{"mqtt certs without broker", minimal + "[mqtt]\nca = \"/ca\"\n", []string{"mqtt.broker: required"}},
		{"mqtt shared cert, two doors", door2("") + "[mqtt]\nbroker = \"mqtts://x:8883\"\nclient_cert = \"/c\"\nclient_key = \"/k\"\n",
			[]string{"mqtt.client_cert: each of the 2 doors connects with its own certificate"}},
		{"mqtt relative ca", minimal + "[mqtt]\nbroker = \"mqtts://x:8883\"\nca = \"ca.pem\"\n", []string{"mqtt.ca: \"ca.pem\" is not an absolute path"}},
		{"mqtt keep alive", minimal + "[mqtt]\nbroker = \"mqtts://x:8883\"\nkeep_alive = \"1s\"\n", []string{"mqtt.keep_alive: 1s is below the 5s minimum"}},
		{"mqtt reconnect", minimal + "[mqtt]\nbroker = \"mqtts://x:8883\"\nreconnect_min = \"10s\"\nreconnect_max = \"5s\"\n", []string{"mqtt.reconnect_max: 5s is below the 10s minimum"}},
		{"door half cert", minimal + "client_cert = \"/c\"\n[mqtt]\nbroker = \"mqtts://x:8883\"\n", []string{"doors[0].client_key: client_cert and client_key go together"}},
		{"door relative cert", minimal + "client_cert = \"c.pem\"\nclient_key = \"/k\"\n[mqtt]\nbroker = \"mqtts://x:8883\"\n", []string{"doors[0].client_cert: \"c.pem\" is not an absolute path"}},
		{"door cert without broker", minimal + "client_cert = \"/c\"\nclient_key = \"/k\"\n", []string{"doors[0].client_cert: only with mqtt.broker set"}},
		{"several at once", "max_offline = \"-1h\"\n" + minimal + "fail_mode = \"x\"\n", []string{"max_offline", "doors[0].fail_mode"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("test.toml", []byte(tt.src))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidateFieldError(t *testing.T) {
	c := DefaultConfig()
	err := c.Validate()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("Validate() = %v, want a *FieldError", err)
	}
	if fe.File != "config" || fe.Field == "" {
		t.Errorf("FieldError = %+v", fe)
	}
}

func TestParseOptional(t *testing.T) {
	c := MustParse(t, `metrics_addr = ""
store_file = "/srv/varco.db"
outbox_cap = 0
`+minimal+`contact_pin = "GPIO5"
rex_pin = "GPIO6"
input_pull = "none"
denied_repeat_window = "0s"
[mqtt]
broker = "mqtts://admin.example.org:8883"
client_cert = "/c"
client_key = "/k"
`)
	if c.MetricsAddr != "" || c.StorePath() != "/srv/varco.db" || c.OutboxCap != 0 {
		t.Errorf("config = %+v", c)
	}
	if c.Doors[0].DeniedRepeatWindow.Duration != 0 || c.Doors[0].InputPull != PullNone {
		t.Errorf("door = %+v", c.Doors[0])
	}
	if c.SlogLevel().String() != "INFO" {
		t.Errorf("SlogLevel = %v", c.SlogLevel())
	}
}

// door2 is minimal with a second door, extra appended to it.
func door2(extra string) string {
	return minimal + "[[doors]]\nid = \"d2\"\nreader = \"virtual\"\nrelay_pin = \"GPIO20\"\n" + extra
}

func TestDoorTLS(t *testing.T) {
	one := MustParse(t, minimal+"[mqtt]\nbroker = \"mqtts://x:8883\"\n")
	if c, k := one.DoorTLS(one.Doors[0]); c != "/var/lib/varco-door/mqtt/d1.crt" || k != "/var/lib/varco-door/mqtt/d1.key" {
		t.Errorf("default = %q, %q", c, k)
	}
	if !one.MQTT.Enabled() || one.MQTT.KeepAlive.Duration != 30*time.Second || one.MQTT.ReconnectMin.Duration != time.Second || one.MQTT.ReconnectMax.Duration != 2*time.Minute {
		t.Errorf("mqtt defaults: %+v", one.MQTT)
	}
	shared := MustParse(t, minimal+"[mqtt]\nbroker = \"mqtts://x:8883\"\nclient_cert = \"/c\"\nclient_key = \"/k\"\n")
	if c, k := shared.DoorTLS(shared.Doors[0]); c != "/c" || k != "/k" {
		t.Errorf("one door, [mqtt] certificate = %q, %q", c, k)
	}
	own := MustParse(t, door2("client_cert = \"/d2.crt\"\nclient_key = \"/d2.key\"\n")+"[mqtt]\nbroker = \"mqtts://x:8883\"\n")
	if c, k := own.DoorTLS(own.Doors[1]); c != "/d2.crt" || k != "/d2.key" {
		t.Errorf("door's own = %q, %q", c, k)
	}
	if c, _ := own.DoorTLS(own.Doors[0]); c != "/var/lib/varco-door/mqtt/d1.crt" {
		t.Errorf("other door = %q", c)
	}
	if off := MustParse(t, minimal); off.MQTT.Enabled() {
		t.Error("MQTT enabled without a broker")
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "varco-door.toml")
	if err := os.WriteFile(path, []byte(minimal+"release_time = \"2s\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if want := path + ": doors[0].release_time: 2s is below the 3s minimum"; err == nil || err.Error() != want {
		t.Errorf("Load = %v, want %q", err, want)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.toml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
}

// TestFirmwareExamples loads and validates every example shipped in
// firmware-config/, so an example can never drift from the code.
func TestFirmwareExamples(t *testing.T) {
	files, err := filepath.Glob("../../firmware-config/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("found %d examples in firmware-config/, want at least 3", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Doors) == 0 {
				t.Error("no doors")
			}
			if strings.HasPrefix(filepath.Base(f), "virtual") {
				for _, d := range c.Doors {
					if d.Reader != VirtualReader {
						t.Errorf("door %s: reader %q in a virtual example", d.ID, d.Reader)
					}
				}
			}
		})
	}
}
