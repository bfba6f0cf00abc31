package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestEnvVarsCoverEveryKey pins the variable of every key. A key added to
// Config without a test here fails, and the walker panics on a field kind
// it could not parse from the environment.
func TestEnvVarsCoverEveryKey(t *testing.T) {
	want := map[string]string{
		"listen":           "VARCO_ADMIN_LISTEN",
		"data_dir":         "VARCO_ADMIN_DATA_DIR",
		"public_url":       "VARCO_ADMIN_PUBLIC_URL",
		"tls.cert":         "VARCO_ADMIN_TLS_CERT",
		"tls.key":          "VARCO_ADMIN_TLS_KEY",
		"database.driver":  "VARCO_ADMIN_DATABASE_DRIVER",
		"database.dsn":     "VARCO_ADMIN_DATABASE_DSN",
		"metrics_listen":   "VARCO_ADMIN_METRICS_LISTEN",
		"csca_dir":         "VARCO_ADMIN_CSCA_DIR",
		"retention":        "VARCO_ADMIN_RETENTION",
		"session_ttl":      "VARCO_ADMIN_SESSION_TTL",
		"log.level":        "VARCO_ADMIN_LOG_LEVEL",
		"log.json":         "VARCO_ADMIN_LOG_JSON",
		"demo":             "VARCO_ADMIN_DEMO",
		"demo_dir":         "VARCO_ADMIN_DEMO_DIR",
		"mqtt.site":        "VARCO_ADMIN_MQTT_SITE",
		"mqtt.embedded":    "VARCO_ADMIN_MQTT_EMBEDDED",
		"mqtt.listen":      "VARCO_ADMIN_MQTT_LISTEN",
		"mqtt.hosts":       "VARCO_ADMIN_MQTT_HOSTS",
		"mqtt.broker":      "VARCO_ADMIN_MQTT_BROKER",
		"mqtt.client_cert": "VARCO_ADMIN_MQTT_CLIENT_CERT",
		"mqtt.client_key":  "VARCO_ADMIN_MQTT_CLIENT_KEY",
		"mqtt.ca":          "VARCO_ADMIN_MQTT_CA",
	}
	if got := EnvVars(); !reflect.DeepEqual(got, want) {
		t.Errorf("EnvVars() = %v\nwant %v", got, want)
	}
}

func TestEnvOverrides(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  []string
		want func(c *Config)
	}{
		{"none", nil, func(c *Config) {}},
		{"other variables ignored", []string{"HOME=/root", "VARCO_DOOR_X=1", "PATH"}, func(c *Config) {}},
		{"listen", []string{"VARCO_ADMIN_LISTEN=127.0.0.1:0"}, func(c *Config) { c.Listen = "127.0.0.1:0" }},
		{"data dir", []string{"VARCO_ADMIN_DATA_DIR=/srv/v"}, func(c *Config) { c.DataDir = "/srv/v" }},
		{"public url", []string{"VARCO_ADMIN_PUBLIC_URL=https://v.example.it/"}, func(c *Config) { c.PublicURL = "https://v.example.it/" }},
		{"database", []string{"VARCO_ADMIN_DATABASE_DRIVER=postgres", "VARCO_ADMIN_DATABASE_DSN=host=db password=s=cret"}, func(c *Config) {
			c.Database = Database{Driver: DriverPostgres, DSN: "host=db password=s=cret"}
		}},
		{"metrics off by empty value", []string{"VARCO_ADMIN_METRICS_LISTEN="}, func(c *Config) { c.MetricsListen = "" }},
		{"csca", []string{"VARCO_ADMIN_CSCA_DIR=/etc/csca"}, func(c *Config) { c.CSCADir = "/etc/csca" }},
		{"retention days", []string{"VARCO_ADMIN_RETENTION=90d"}, func(c *Config) { c.Retention = D(90 * Day) }},
		{"retention off", []string{"VARCO_ADMIN_RETENTION=0"}, func(c *Config) { c.Retention = D(0) }},
		{"session ttl", []string{"VARCO_ADMIN_SESSION_TTL=30m"}, func(c *Config) { c.SessionTTL = D(30 * time.Minute) }},
		{"log", []string{"VARCO_ADMIN_LOG_LEVEL=debug", "VARCO_ADMIN_LOG_JSON=true"}, func(c *Config) { c.Log = Log{Level: "debug", JSON: true} }},
		{"demo", []string{"VARCO_ADMIN_DEMO=1"}, func(c *Config) { c.Demo = true }},
		{"demo dir", []string{"VARCO_ADMIN_DEMO_DIR=/tmp/varco-demo"}, func(c *Config) { c.DemoDir = "/tmp/varco-demo" }},
		{"mqtt listen", []string{"VARCO_ADMIN_MQTT_LISTEN=127.0.0.1:0"}, func(c *Config) { c.MQTT.Listen = "127.0.0.1:0" }},
		{"mqtt site", []string{"VARCO_ADMIN_MQTT_SITE=hq"}, func(c *Config) { c.MQTT.Site = "hq" }},
		{"mqtt hosts", []string{"VARCO_ADMIN_MQTT_HOSTS= varco.example.it, 192.0.2.10,,"}, func(c *Config) { c.MQTT.Hosts = List{"varco.example.it", "192.0.2.10"} }},
		{"mqtt sync off", []string{"VARCO_ADMIN_MQTT_EMBEDDED=false"}, func(c *Config) { c.MQTT.Embedded = false }},
		{"password is not a key", []string{"VARCO_ADMIN_PASSWORD=whatever"}, func(c *Config) {}},
		{"first of a repeated name wins", []string{"VARCO_ADMIN_LISTEN=:1", "VARCO_ADMIN_LISTEN=:2"}, func(c *Config) { c.Listen = ":1" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := load("", tt.env)
			if err != nil {
				t.Fatal(err)
			}
			want := DefaultConfig()
			tt.want(&want)
			if !reflect.DeepEqual(plain(got), want) {
				t.Errorf("got  %+v\nwant %+v", plain(got), want)
			}
		})
	}
}

func TestEnvTLS(t *testing.T) {
	cert, key := mustWrite(t, "c.pem", "x"), mustWrite(t, "k.pem", "x")
	c, err := load("", []string{"VARCO_ADMIN_TLS_CERT=" + cert, "VARCO_ADMIN_TLS_KEY=" + key})
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS != (TLS{Cert: cert, Key: key}) {
		t.Errorf("TLS = %+v", c.TLS)
	}
}

func TestEnvWinsOverFile(t *testing.T) {
	path := mustWrite(t, "varco-admin.toml", "listen = \"127.0.0.1:1\"\ndemo = true\n[log]\nlevel = \"warn\"\n")
	c, err := load(path, []string{"VARCO_ADMIN_LISTEN=127.0.0.1:2", "VARCO_ADMIN_DEMO=false"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:2" || c.Demo {
		t.Errorf("environment did not win: listen %q demo %v", c.Listen, c.Demo)
	}
	if c.Log.Level != "warn" {
		t.Errorf("log.level = %q, want the file's warn", c.Log.Level)
	}
	if c.File() != path {
		t.Errorf("File() = %q", c.File())
	}
}

func TestEnvErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  []string
		want string
		not  string // must not appear in the error
	}{
		{"bad bool", []string{"VARCO_ADMIN_LOG_JSON=maybe"}, "environment VARCO_ADMIN_LOG_JSON: log.json: want true or false", "maybe"},
		{"bad duration", []string{"VARCO_ADMIN_RETENTION=a year"}, "environment VARCO_ADMIN_RETENTION: retention: ", ""},
		{"bare number", []string{"VARCO_ADMIN_SESSION_TTL=3600"}, "environment VARCO_ADMIN_SESSION_TTL: session_ttl: ", ""},
		{"unknown with hint", []string{"VARCO_ADMIN_LISTN=:1"}, "environment VARCO_ADMIN_LISTN: not a varco-admin setting (did you mean VARCO_ADMIN_LISTEN?)", ""},
		{"unknown no hint", []string{"VARCO_ADMIN_ZZZ=1"}, "environment VARCO_ADMIN_ZZZ: not a varco-admin setting", "did you mean"},
		// Validation of a value from the environment names the variable,
		// and never repeats a DSN.
		{"invalid driver", []string{"VARCO_ADMIN_DATABASE_DRIVER=mysql"}, `environment VARCO_ADMIN_DATABASE_DRIVER: database.driver: "mysql": must be "sqlite" or "postgres"`, ""},
		{"invalid level", []string{"VARCO_ADMIN_LOG_LEVEL=trace"}, `environment VARCO_ADMIN_LOG_LEVEL: log.level: "trace": want debug`, ""},
		{"short retention", []string{"VARCO_ADMIN_RETENTION=1h"}, "environment VARCO_ADMIN_RETENTION: retention: 1h0m0s: want at least 1d", ""},
		{"empty postgres dsn", []string{"VARCO_ADMIN_DATABASE_DRIVER=postgres", "VARCO_ADMIN_DATABASE_DSN= "}, "environment VARCO_ADMIN_DATABASE_DSN: database.dsn: required for postgres", ""},
		{"sqlite dsn not repeated", []string{"VARCO_ADMIN_DATABASE_DSN=x.db?password=hunter2"}, "environment VARCO_ADMIN_DATABASE_DSN: database.dsn:", "hunter2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load("", tt.env)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q\nwant it to contain %q", err, tt.want)
			}
			if tt.not != "" && strings.Contains(err.Error(), tt.not) {
				t.Errorf("err = %q contains %q", err, tt.not)
			}
		})
	}
}

// TestEnvNamesFileWhenFileSetsBadValue: a bad value from the file names
// the file even when other keys come from the environment.
func TestEnvNamesFileWhenFileSetsBadValue(t *testing.T) {
	path := mustWrite(t, "varco-admin.toml", "[log]\nlevel = \"loud\"\n")
	_, err := load(path, []string{"VARCO_ADMIN_LISTEN=127.0.0.1:0"})
	want := path + `: log.level: "loud": want debug, info, warn or error`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

// TestLoadUsesProcessEnvironment checks the exported Load reads os.Environ.
func TestLoadUsesProcessEnvironment(t *testing.T) {
	t.Setenv("VARCO_ADMIN_LISTEN", "127.0.0.1:0")
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:0" {
		t.Errorf("Listen = %q", c.Listen)
	}
}

func TestDuration(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    time.Duration
		wantErr bool
		out     string
	}{
		{in: "365d", want: 365 * Day, out: "365d"},
		{in: "1d", want: Day, out: "1d"},
		{in: "0d", want: 0, out: "0s"},
		{in: "0", want: 0, out: "0s"},
		{in: "12h", want: 12 * time.Hour, out: "12h0m0s"},
		{in: "48h", want: 2 * Day, out: "2d"},
		{in: "1h30m", want: 90 * time.Minute, out: "1h30m0s"},
		{in: " 7d ", want: 7 * Day, out: "7d"},
		{in: "-1h", want: -time.Hour, out: "-1h0m0s"},
		{in: "", wantErr: true},
		{in: "d", wantErr: true},
		{in: "-1d", wantErr: true},
		{in: "+1d", wantErr: true},
		{in: "1.5d", wantErr: true},
		{in: "365", wantErr: true},
		{in: "999999999d", wantErr: true},
		{in: "1y", wantErr: true},
	} {
		t.Run(tt.in, func(t *testing.T) {
			var d Duration
			err := d.UnmarshalText([]byte(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("accepted as %v", d.Duration)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Duration != tt.want {
				t.Errorf("= %v, want %v", d.Duration, tt.want)
			}
			b, _ := d.MarshalText()
			if string(b) != tt.out {
				t.Errorf("MarshalText = %q, want %q", b, tt.out)
			}
			var back Duration
			if err := back.UnmarshalText(b); err != nil || back != d {
				t.Errorf("round trip %q = %v, %v", b, back.Duration, err)
			}
		})
	}
}
