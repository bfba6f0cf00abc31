package config

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/BurntSushi/toml"

	// The site's schedules depend on its time zone. Embedding the zone
	// database (about 450 kB) keeps a door working on a minimal image
	// without /usr/share/zoneinfo, where LoadLocation would otherwise fail.
	_ "time/tzdata"
)

// Values of [Config.UntrustedClock] and [Door.UntrustedClock].
const (
	// ClockDeny denies schedule-limited grants while the clock is not
	// trusted (reason clock_untrusted). Always-allowed grants still work.
	ClockDeny = "deny"
	// ClockAllow evaluates schedules against the untrusted clock.
	ClockAllow = "allow"
)

// Values of [Door.FailMode].
const (
	// FailSecure energises the relay only to release the door: with the
	// controller stopped, crashed or unpowered the door stays locked. Wire a
	// fail-secure strike on the relay's COM/NO.
	FailSecure = "secure"
	// FailSafe energises the relay to keep the door locked and releases it
	// on a grant: with the controller down the door is free (escape
	// routes). Wire a maglock or fail-safe strike on the relay's COM/NO.
	FailSafe = "safe"
)

// Values of [Door.InputPull].
const (
	PullUp   = "up"
	PullDown = "down"
	PullNone = "none"
)

// Values of Config.GPIO.
const (
	GPIOPeriph = "periph"
	GPIOFake   = "fake"
)

// VirtualReader is the [Door.Reader] value that selects the virtual CIE
// (vpcd bridge) instead of a PC/SC reader: for the demo and tests only.
const VirtualReader = "virtual"

// Limits checked by [Config.Validate].
const (
	// MinReleaseTime is the shortest strike pulse: shorter pulses leave too
	// little time to push the door (issue 3, point 3).
	MinReleaseTime = 3 * time.Second
	// MaxReleaseTime bounds the strike pulse; longer unlocks belong to a
	// schedule or a command, not to a tap.
	MaxReleaseTime = 5 * time.Minute
	// MinOutboxCap is the smallest non-zero outbox cap: the outbox holds at
	// least a million events (ARCHITECTURE.md section 6).
	MinOutboxCap = 1_000_000
)

// Config is the configuration of one door controller.
type Config struct {
	// Site identifies the site and holds what every controller of it shares.
	Site Site `toml:"site"`
	// ControllerID names this controller in MQTT topics and events. Required.
	ControllerID string `toml:"controller_id"`
	// StateDir holds the store. Default /var/lib/varco-door (systemd's
	// StateDirectory=varco-door).
	StateDir string `toml:"state_dir"`
	// StoreFile is the bbolt file, relative to StateDir unless absolute.
	// Default "varco-door.db". See [Config.StorePath].
	StoreFile string `toml:"store_file"`
	// Log configures log/slog.
	Log Log `toml:"log"`
	// MetricsAddr is the host:port of the Prometheus /metrics listener.
	// Default "127.0.0.1:9465"; empty disables it.
	MetricsAddr string `toml:"metrics_addr"`
	// MQTT is the link to the admin server. Optional: a door works offline.
	MQTT MQTT `toml:"mqtt"`
	// Clock says how the controller decides that its clock is trusted.
	Clock Clock `toml:"clock"`
	// MaxOffline, when not zero, denies every tap with allowlist_stale once
	// the last successful sync is older. Default 0: unlimited.
	MaxOffline Duration `toml:"max_offline"`
	// UntrustedClock is the policy for schedule-limited grants while the
	// clock is not trusted: "deny" (default) or "allow". A door may
	// override it.
	UntrustedClock string `toml:"untrusted_clock"`
	// OutboxCap is the most events the outbox keeps before it starts
	// counting drops. 0 means unlimited; otherwise at least MinOutboxCap.
	// Default 2,000,000.
	OutboxCap int `toml:"outbox_cap"`
	// GPIO selects the pin driver: "periph" (the default: periph's host
	// drivers, gpioioctl on a Raspberry Pi) or "fake" (gpiotest pins
	// registered under the configured names and served over HTTP next to
	// the metrics, for the demo and the end-to-end tests; never on a door).
	GPIO string `toml:"gpio"`
	// Doors are the doors this controller drives; at least one.
	Doors []Door `toml:"doors"`

	// file is the path the configuration was loaded from, for errors.
	file string
}

// Site is the [site] table.
type Site struct {
	// ID names the site. Required.
	ID string `toml:"id"`
	// TimeZone is the IANA name of the zone schedules are written in.
	// Default "Europe/Rome". "Local" is refused: a door must not depend on
	// the board's zone setting.
	TimeZone string `toml:"time_zone"`
	// PublicKey is the standard base64 of the site's 32-byte Ed25519 public
	// key, which signs every admin-to-door message. Required.
	PublicKey string `toml:"site_public_key"`
}

// Log is the [log] table.
type Log struct {
	// Level is "debug", "info" (default), "warn" or "error".
	Level string `toml:"level"`
	// JSON selects slog's JSON handler instead of text.
	JSON bool `toml:"json"`
}

// MQTT is the [mqtt] table: the link to the admin server's broker.
// Broker empty means "no sync": the doors work offline from their stored
// allowlists.
//
// Each door connects on its own MQTT session, because a connection has one
// Last Will and the broker's ACL is per door identity: each door has its
// own TLS client certificate, whose Common Name is "door:<id>"
// (wire/sitepki), read from [Door.ClientCert] and [Door.ClientKey]
// (default <state_dir>/mqtt/<id>.crt and .key, where `varco door
// provision` writes them). The files are read at every connection
// attempt: a missing or renewed certificate needs no restart, and a door
// without one still opens from its stored allowlist.
type MQTT struct {
	// Broker is the broker URL, e.g. "mqtts://admin.example.org:8883".
	Broker string `toml:"broker"`
	// CA is a PEM bundle that verifies the broker (the site's MQTT CA):
	// only certificates it signs are accepted. Empty uses the system pool.
	CA string `toml:"ca"`
	// ClientCert and ClientKey are a shorthand for a controller with one
	// door: that door's certificate and key, when the door sets none. With
	// several doors they are an error: each door has its own.
	ClientCert string `toml:"client_cert"`
	ClientKey  string `toml:"client_key"`
	// KeepAlive is the MQTT keep-alive: a dead link is noticed within
	// about 1.5 times it. Default 30s.
	KeepAlive Duration `toml:"keep_alive"`
	// ReconnectMin and ReconnectMax bound the wait between connection
	// attempts, which doubles from ReconnectMin up to ReconnectMax, with
	// random jitter so that doors do not reconnect in step after a broker
	// restart. Defaults 1s and 2m.
	ReconnectMin Duration `toml:"reconnect_min"`
	ReconnectMax Duration `toml:"reconnect_max"`
}

// Enabled reports whether the sync link is configured.
func (m MQTT) Enabled() bool { return m.Broker != "" }

// Clock is the [clock] table.
type Clock struct {
	// RTC says a battery-backed real-time clock is fitted and set: the
	// clock is trusted from boot.
	RTC bool `toml:"rtc"`
	// NTPCheck makes the controller trust the clock once the kernel reports
	// NTP synchronisation. Default true.
	NTPCheck bool `toml:"ntp_check"`
}

// Door is one [[doors]] entry: a reader, a strike relay and optional door
// contact and request-to-exit (REX) inputs.
//
// Pins are periph.io names such as "GPIO26". Input polarity: the door
// contact is active while the door is OPEN, the REX input while the button
// is pressed. With the usual wiring (switch between the pin and ground, pull
// up) a pressed button reads low (rex_active_low = true) and a door contact
// that is closed while the door is shut reads high when the door opens or the
// wire is cut (contact_active_low = false).
type Door struct {
	// ID names the door in MQTT topics, events and metrics. Required,
	// unique, letters, digits, '-', '_' and '.' only.
	ID string `toml:"id"`
	// Name is for people. Defaults to ID.
	Name string `toml:"name"`
	// Reader is the PC/SC reader name as pcsc_scan prints it, or "virtual".
	Reader string `toml:"reader"`
	// VPCDPort is the vpcd TCP port of a virtual reader; 0 = vpcd's default.
	// Only with Reader = "virtual".
	VPCDPort int `toml:"vpcd_port"`
	// RelayPin drives the strike relay. Required.
	RelayPin string `toml:"relay_pin"`
	// ContactPin reads the door contact. Optional: without it there is no
	// forced or held-open detection.
	ContactPin string `toml:"contact_pin"`
	// RexPin reads the request-to-exit button. Optional.
	RexPin string `toml:"rex_pin"`
	// RelayActiveLow: the relay is energised when its pin is low, as on most
	// opto-isolated relay boards.
	RelayActiveLow bool `toml:"relay_active_low"`
	// ContactActiveLow: the contact input reads low while the door is open.
	ContactActiveLow bool `toml:"contact_active_low"`
	// RexActiveLow: the REX input reads low while the button is pressed.
	RexActiveLow bool `toml:"rex_active_low"`
	// InputPull is the pull resistor of the contact and REX inputs: "up"
	// (default), "down" or "none" (external resistors).
	InputPull string `toml:"input_pull"`
	// ReleaseTime is how long a grant energises the relay. Default 5s, at
	// least 3s.
	ReleaseTime Duration `toml:"release_time"`
	// HeldOpenAfter is how long the door may stay open before held_open.
	// Default 30s.
	HeldOpenAfter Duration `toml:"held_open_after"`
	// Debounce is how long an input must be stable. Default 50ms.
	Debounce Duration `toml:"debounce"`
	// FailMode is "secure" (default) or "safe"; see [FailSecure].
	FailMode string `toml:"fail_mode"`
	// DeniedRepeatWindow: a denied card tapped again within it is logged
	// once. Default 5s; 0 logs every tap.
	DeniedRepeatWindow Duration `toml:"denied_repeat_window"`
	// UntrustedClock overrides [Config.UntrustedClock] for this door when
	// not empty.
	UntrustedClock string `toml:"untrusted_clock"`
	// ClientCert and ClientKey are the PEM certificate and key of the
	// door's MQTT connection (see [MQTT]); both or neither. Default
	// <state_dir>/mqtt/<id>.crt and <state_dir>/mqtt/<id>.key. See
	// [Config.DoorTLS].
	ClientCert string `toml:"client_cert"`
	ClientKey  string `toml:"client_key"`
}

// DefaultConfig returns the defaults of every optional setting. It has no
// site, controller id or doors, so it does not validate by itself.
func DefaultConfig() Config {
	return Config{
		Site:        Site{TimeZone: "Europe/Rome"},
		StateDir:    "/var/lib/varco-door",
		StoreFile:   "varco-door.db",
		Log:         Log{Level: "info"},
		MetricsAddr: "127.0.0.1:9465",
		Clock:       Clock{NTPCheck: true},
		MQTT: MQTT{
			KeepAlive:    D(30 * time.Second),
			ReconnectMin: D(time.Second),
			ReconnectMax: D(2 * time.Minute),
		},
		UntrustedClock: ClockDeny,
		OutboxCap:      2_000_000,
		GPIO:           GPIOPeriph,
	}
}

// DefaultDoor returns the defaults of every optional door setting; each
// [[doors]] table is read over them.
func DefaultDoor() Door {
	return Door{
		InputPull:          PullUp,
		ReleaseTime:        D(5 * time.Second),
		HeldOpenAfter:      D(30 * time.Second),
		Debounce:           D(50 * time.Millisecond),
		FailMode:           FailSecure,
		DeniedRepeatWindow: D(5 * time.Second),
	}
}

// fileConfig is what the decoder fills: the doors stay undecoded
// (toml.Primitive) until each can be decoded over DefaultDoor. The outer
// Doors field shadows Config.Doors.
type fileConfig struct {
	Config
	Doors []toml.Primitive `toml:"doors"`
}

// Load reads the TOML file at path over [DefaultConfig] and validates it.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse reads a TOML document over [DefaultConfig] and validates it. name
// is the file name used in errors.
func Parse(name string, data []byte) (Config, error) {
	fc := fileConfig{Config: DefaultConfig()}
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&fc)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	cfg := fc.Config
	cfg.file = name
	cfg.Doors = make([]Door, 0, len(fc.Doors))
	for i, p := range fc.Doors {
		d := DefaultDoor()
		if err := md.PrimitiveDecode(p, &d); err != nil {
			return Config{}, fmt.Errorf("%s: doors[%d]: %w", name, i, err)
		}
		cfg.Doors = append(cfg.Doors, d)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		errs := make([]error, 0, len(undecoded))
		for _, k := range undecoded {
			errs = append(errs, fmt.Errorf("%s: unknown key %s", name, k))
		}
		return Config{}, errors.Join(errs...)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// File returns the path the configuration was loaded from, or "" for a
// configuration built in code.
func (c Config) File() string { return c.file }

// StorePath returns the bbolt file: StoreFile, under StateDir unless
// absolute.
func (c Config) StorePath() string {
	if filepath.IsAbs(c.StoreFile) {
		return c.StoreFile
	}
	return filepath.Join(c.StateDir, c.StoreFile)
}

// SlogLevel returns Log.Level as a slog level (info when not valid).
func (c Config) SlogLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.Log.Level)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// Location loads the site's time zone.
func (s Site) Location() (*time.Location, error) {
	if s.TimeZone == "" || s.TimeZone == "Local" {
		return nil, fmt.Errorf("time zone %q: want an IANA name such as \"Europe/Rome\"", s.TimeZone)
	}
	return time.LoadLocation(s.TimeZone)
}

// Key decodes the site's Ed25519 public key, which verifies every
// admin-to-door message (wire.ParsePublicKey's format).
func (s Site) Key() (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("not standard base64: %w", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%d bytes, want a %d-byte Ed25519 public key", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// DoorTLS returns the client certificate and key files of door d's MQTT
// connection: the door's own, else for a controller with one door the
// [mqtt] table's, else <state_dir>/mqtt/<id>.crt and .key.
func (c Config) DoorTLS(d Door) (cert, key string) {
	switch {
	case d.ClientCert != "":
		return d.ClientCert, d.ClientKey
	case c.MQTT.ClientCert != "" && len(c.Doors) == 1:
		return c.MQTT.ClientCert, c.MQTT.ClientKey
	}
	dir := filepath.Join(c.StateDir, "mqtt")
	return filepath.Join(dir, d.ID+".crt"), filepath.Join(dir, d.ID+".key")
}

// ClockPolicy returns the door's policy for schedule-limited grants while
// the clock is untrusted: its own UntrustedClock, else the controller's.
func (c Config) ClockPolicy(d Door) string {
	if d.UntrustedClock != "" {
		return d.UntrustedClock
	}
	return c.UntrustedClock
}

// DisplayName returns Name, or ID when Name is empty.
func (d Door) DisplayName() string {
	if d.Name != "" {
		return d.Name
	}
	return d.ID
}
