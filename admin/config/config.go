package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Values of [Database.Driver].
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// SQLiteFile is the SQLite database's file name under DataDir when
// database.dsn is empty.
const SQLiteFile = "varco-admin.db"

// EnvPrefix starts the name of every environment variable this package
// reads.
const EnvPrefix = "VARCO_ADMIN_"

// EnvPassword is not a configuration key: it holds the first admin user's
// password, which the server reads at its first start only (when the store
// has no users). The environment check of [Load] lets it through.
const EnvPassword = "VARCO_ADMIN_PASSWORD"

// Limits checked by [Config.Validate].
const (
	// MinRetention is the shortest non-zero event retention.
	MinRetention = Day
	// MinSessionTTL and MaxSessionTTL bound how long a login lasts.
	MinSessionTTL = time.Minute
	MaxSessionTTL = 90 * Day
)

// Config is the configuration of varco-admin.
type Config struct {
	// Listen is the host:port of the panel and API. Default
	// "127.0.0.1:8080"; port 0 picks a free port (tests).
	Listen string `toml:"listen"`
	// DataDir holds the SQLite database, the site secret and, by default,
	// the CSCA certificates. Created with mode 0700 if missing. Default
	// /var/lib/varco-admin (systemd's StateDirectory=varco-admin).
	DataDir string `toml:"data_dir"`
	// PublicURL is how people reach the server (behind a proxy, say),
	// e.g. "https://varco.example.it/". Optional, logged at start.
	PublicURL string `toml:"public_url"`
	// TLS serves HTTPS when set; otherwise plain HTTP (behind a TLS proxy
	// or on loopback only).
	TLS TLS `toml:"tls"`
	// Database selects the store.
	Database Database `toml:"database"`
	// MetricsListen is the host:port of the Prometheus /metrics listener,
	// separate from Listen so it can stay on loopback. Default
	// "127.0.0.1:9466"; empty disables it.
	MetricsListen string `toml:"metrics_listen"`
	// CSCADir is the directory of CSCA certificates that verify cards at
	// enrolment. Empty means DataDir/csca; see [Config.CSCAPath].
	CSCADir string `toml:"csca_dir"`
	// Retention is how long door events are kept; older ones are purged
	// every hour. Default 365d; at least 1d; 0 keeps events for ever.
	Retention Duration `toml:"retention"`
	// SessionTTL is how long a panel login lasts. Default 12h.
	SessionTTL Duration `toml:"session_ttl"`
	// Log configures log/slog.
	Log Log `toml:"log"`
	// Demo marks a demonstration install (sample data, banner in the
	// panel). Default false.
	Demo bool `toml:"demo"`
	// DemoDir is the directory of the demo that `make run` starts
	// (.ci/demo.sh): its demo.json names the virtual cards and the demo
	// doors, which the panel's demo page taps. Only read with Demo;
	// empty means DataDir; see [Config.DemoPath].
	DemoDir string `toml:"demo_dir"`
	// MQTT is the link to the doors.
	MQTT MQTT `toml:"mqtt"`

	// file is the path the configuration was read from, for errors.
	file string
	// env maps the keys set from the environment to their variables, for
	// errors.
	env map[string]string
}

// TLS is the [tls] table: PEM files, both or neither.
type TLS struct {
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
}

// Enabled reports whether HTTPS is configured.
func (t TLS) Enabled() bool { return t.Cert != "" || t.Key != "" }

// Database is the [database] table.
type Database struct {
	// Driver is "sqlite" (the default: a file in DataDir) or "postgres".
	Driver string `toml:"driver"`
	// DSN is, for postgres, the pgx connection string or URL (required);
	// for sqlite, an optional file path, relative to DataDir unless
	// absolute (default SQLiteFile).
	DSN string `toml:"dsn"`
}

// Log is the [log] table.
type Log struct {
	// Level is "debug", "info" (default), "warn" or "error". At debug the
	// HTTP router also runs in gin's debug mode.
	Level string `toml:"level"`
	// JSON selects slog's JSON handler instead of text.
	JSON bool `toml:"json"`
}

// MQTT is the [mqtt] table: the broker through which the admin syncs the
// doors (ARCHITECTURE.md section 5). By default varco-admin runs its own
// broker (Embedded) with a site CA it keeps in DataDir/mqtt; with
// Embedded false it connects to an external one (Broker), or, with no
// Broker either, syncs no door at all.
type MQTT struct {
	// Site is the site id in every topic (varco/v1/{site}/...): the
	// [site] id of every door's configuration. Default "sede". A
	// wire.ValidID.
	Site string `toml:"site"`
	// Embedded runs the broker inside varco-admin. Default true.
	Embedded bool `toml:"embedded"`
	// Listen is the embedded broker's MQTT-over-TLS address. Default
	// ":8883" (every interface: the doors connect to it); port 0 picks a
	// free port (tests).
	Listen string `toml:"listen"`
	// Hosts are extra DNS names or IP addresses the embedded broker's
	// certificate is valid for, besides the machine's host name,
	// "localhost", 127.0.0.1 and ::1: the names the doors dial (see
	// [Config.BrokerHosts]). In the environment, a comma-separated list.
	Hosts List `toml:"hosts"`
	// Broker is the URL of an external broker ("mqtts://mqtt.example.it:8883")
	// when Embedded is false. Empty (and Embedded false) disables the
	// sync: the doors keep working from their stored allowlists and
	// commands to them are refused.
	Broker string `toml:"broker"`
	// ClientCert and ClientKey are the admin's PEM client certificate for
	// the external broker, whose Common Name must be "admin"; CA is the
	// PEM bundle that verifies the broker. Required with Broker.
	ClientCert string `toml:"client_cert"`
	ClientKey  string `toml:"client_key"`
	CA         string `toml:"ca"`
}

// DefaultMQTTSite is the default of mqtt.site.
const DefaultMQTTSite = "sede"

// Files of the data directory that belong to the MQTT sync.
const (
	// SiteKeyFile is the site's Ed25519 private key (PKCS#8 PEM, mode
	// 0600): it signs every message to the doors, which pin its public
	// half.
	SiteKeyFile = "site.key"
	// MQTTDir holds the embedded broker's site CA (ca.crt, ca.key; see
	// wire/sitepki).
	MQTTDir = "mqtt"
)

// SyncEnabled reports whether the admin talks to doors at all: through
// the embedded broker or an external one.
func (m MQTT) SyncEnabled() bool { return m.Embedded || m.Broker != "" }

// List is a list of strings: a TOML array of strings, or in the
// environment a comma-separated list (spaces around items ignored, empty
// items dropped).
type List []string

// UnmarshalText reads a comma-separated list.
func (l *List) UnmarshalText(text []byte) error {
	out := List{}
	for item := range strings.SplitSeq(string(text), ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	*l = out
	return nil
}

// UnmarshalTOML reads a TOML array of strings.
func (l *List) UnmarshalTOML(v any) error {
	arr, ok := v.([]any)
	if !ok {
		return fmt.Errorf("want an array of strings such as [\"varco.example.it\"], not %T", v)
	}
	out := make(List, 0, len(arr))
	for _, x := range arr {
		s, ok := x.(string)
		if !ok {
			return fmt.Errorf("want an array of strings, found %T", x)
		}
		out = append(out, s)
	}
	*l = out
	return nil
}

// DefaultConfig returns the default of every setting. It validates as it
// is.
func DefaultConfig() Config {
	return Config{
		Listen:        "127.0.0.1:8080",
		DataDir:       "/var/lib/varco-admin",
		Database:      Database{Driver: DriverSQLite},
		MetricsListen: "127.0.0.1:9466",
		Retention:     D(365 * Day),
		SessionTTL:    D(12 * time.Hour),
		Log:           Log{Level: "info"},
		MQTT:          MQTT{Site: DefaultMQTTSite, Embedded: true, Listen: ":8883"},
	}
}

// Load reads the TOML file at path over [DefaultConfig], applies the
// VARCO_ADMIN_ environment variables over it and validates the result.
// An empty path skips the file: defaults and environment only.
func Load(path string) (Config, error) {
	return load(path, os.Environ())
}

// load is Load with the environment as a list of "KEY=value", for tests.
func load(path string, environ []string) (Config, error) {
	cfg := DefaultConfig()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		if cfg, err = decode(path, data); err != nil {
			return Config{}, err
		}
	}
	if err := cfg.applyEnv(environ); err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Parse reads a TOML document over [DefaultConfig] and validates it,
// without looking at the environment. name is the file name used in
// errors.
func Parse(name string, data []byte) (Config, error) {
	cfg, err := decode(name, data)
	if err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// decode reads data over DefaultConfig, refusing unknown keys.
func decode(name string, data []byte) (Config, error) {
	cfg := DefaultConfig()
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&cfg)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		errs := make([]error, 0, len(undecoded))
		for _, k := range undecoded {
			errs = append(errs, fmt.Errorf("%s: unknown key %s", name, k))
		}
		return Config{}, errors.Join(errs...)
	}
	cfg.file = name
	return cfg, nil
}

// File returns the path the configuration was read from, or "" when it
// came from defaults and the environment only.
func (c Config) File() string { return c.file }

// SQLitePath returns the SQLite database file: database.dsn, under
// DataDir unless absolute, or DataDir/varco-admin.db when empty. It is
// meaningful only for the sqlite driver.
func (c Config) SQLitePath() string {
	p := c.Database.DSN
	if p == "" {
		p = SQLiteFile
	}
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.DataDir, p)
}

// CSCAPath returns the CSCA certificate directory: csca_dir, or
// DataDir/csca when empty.
func (c Config) CSCAPath() string {
	if c.CSCADir != "" {
		return c.CSCADir
	}
	return filepath.Join(c.DataDir, "csca")
}

// DemoPath returns the demo directory: DemoDir, or DataDir when empty.
func (c Config) DemoPath() string {
	if c.DemoDir != "" {
		return c.DemoDir
	}
	return c.DataDir
}

// SiteKeyPath returns DataDir/site.key: the site's signing key.
func (c Config) SiteKeyPath() string { return filepath.Join(c.DataDir, SiteKeyFile) }

// MQTTCADir returns DataDir/mqtt: the embedded broker's site CA.
func (c Config) MQTTCADir() string { return filepath.Join(c.DataDir, MQTTDir) }

// BrokerHosts returns the names the embedded broker's certificate is
// issued for: the machine's host name (when it has one), "localhost",
// "127.0.0.1", "::1", then mqtt.hosts, without duplicates.
func (c Config) BrokerHosts() []string {
	var hosts []string
	if h, err := os.Hostname(); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	hosts = append(hosts, "localhost", "127.0.0.1", "::1")
	hosts = append(hosts, c.MQTT.Hosts...)
	seen := map[string]bool{}
	out := hosts[:0]
	for _, h := range hosts {
		if k := strings.ToLower(h); !seen[k] {
			seen[k] = true
			out = append(out, h)
		}
	}
	return out
}

// SlogLevel returns the log level as a [slog.Level] (info if unknown).
func (c Config) SlogLevel() slog.Level {
	switch c.Log.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
