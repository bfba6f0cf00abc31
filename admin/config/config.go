package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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
