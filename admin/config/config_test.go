package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// mustWrite writes data to a file in a temp dir and returns its path.
func mustWrite(tb testing.TB, name, data string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// plain drops the bookkeeping fields so configs compare by settings.
func plain(c Config) Config {
	c.file, c.env = "", nil
	return c
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	for _, tt := range []struct{ name, got, want string }{
		{"listen", c.Listen, "127.0.0.1:8080"},
		{"data_dir", c.DataDir, "/var/lib/varco-admin"},
		{"metrics_listen", c.MetricsListen, "127.0.0.1:9466"},
		{"database.driver", c.Database.Driver, "sqlite"},
		{"retention", c.Retention.String(), "365d"},
		{"session_ttl", c.SessionTTL.String(), "12h0m0s"},
		{"log.level", c.Log.Level, "info"},
		{"mqtt.site", c.MQTT.Site, "sede"},
		{"mqtt.listen", c.MQTT.Listen, ":8883"},
		{"SiteKeyPath", c.SiteKeyPath(), "/var/lib/varco-admin/site.key"},
		{"MQTTCADir", c.MQTTCADir(), "/var/lib/varco-admin/mqtt"},
		{"SQLitePath", c.SQLitePath(), "/var/lib/varco-admin/varco-admin.db"},
		{"CSCAPath", c.CSCAPath(), "/var/lib/varco-admin/csca"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if !c.MQTT.Embedded || !c.MQTT.SyncEnabled() || len(c.MQTT.Hosts) != 0 || c.MQTT.Broker != "" {
		t.Errorf("mqtt defaults: %+v", c.MQTT)
	}
	if c.Demo || c.Log.JSON || c.TLS.Enabled() || c.PublicURL != "" || c.CSCADir != "" {
		t.Errorf("optional settings not off by default: %+v", c)
	}
}

func TestLoadNoFile(t *testing.T) {
	c, err := load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(plain(c), DefaultConfig()) {
		t.Errorf("load(\"\") = %+v, want the defaults", c)
	}
	if c.File() != "" {
		t.Errorf("File() = %q, want empty", c.File())
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := load(filepath.Join(t.TempDir(), "nope.toml"), nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not exist", err)
	}
}

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		name string
		toml string
		want func(c *Config)
	}{
		{"empty", ``, func(c *Config) {}},
		{"listen", `listen = "0.0.0.0:443"`, func(c *Config) { c.Listen = "0.0.0.0:443" }},
		{"data dir", `data_dir = "/srv/varco"`, func(c *Config) { c.DataDir = "/srv/varco" }},
		{"public url", `public_url = "https://varco.example.it/"`, func(c *Config) { c.PublicURL = "https://varco.example.it/" }},
		{"metrics off", `metrics_listen = ""`, func(c *Config) { c.MetricsListen = "" }},
		{"csca", `csca_dir = "/etc/varco/csca"`, func(c *Config) { c.CSCADir = "/etc/varco/csca" }},
		{"retention days", `retention = "30d"`, func(c *Config) { c.Retention = D(30 * Day) }},
		{"retention go", `retention = "36h"`, func(c *Config) { c.Retention = D(36 * time.Hour) }},
		{"retention off string", `retention = "0"`, func(c *Config) { c.Retention = D(0) }},
		{"retention off number", `retention = 0`, func(c *Config) { c.Retention = D(0) }},
		{"session ttl", `session_ttl = "8h"`, func(c *Config) { c.SessionTTL = D(8 * time.Hour) }},
		{"demo", `demo = true`, func(c *Config) { c.Demo = true }},
		{"demo dir", "demo = true\ndemo_dir = \"/tmp/varco-demo\"", func(c *Config) { c.Demo, c.DemoDir = true, "/tmp/varco-demo" }},
		{"log", "[log]\nlevel = \"debug\"\njson = true", func(c *Config) { c.Log = Log{Level: "debug", JSON: true} }},
		{"postgres", "[database]\ndriver = \"postgres\"\ndsn = \"host=db dbname=varco\"", func(c *Config) {
			c.Database = Database{Driver: DriverPostgres, DSN: "host=db dbname=varco"}
		}},
		{"sqlite path", "[database]\ndsn = \"x/admin.db\"", func(c *Config) { c.Database.DSN = "x/admin.db" }},
		{"mqtt embedded", "[mqtt]\nsite = \"hq\"\nlisten = \"0.0.0.0:18883\"\nhosts = [\"varco.example.it\", \"192.0.2.10\"]", func(c *Config) {
			c.MQTT.Site, c.MQTT.Listen, c.MQTT.Hosts = "hq", "0.0.0.0:18883", List{"varco.example.it", "192.0.2.10"}
		}},
		{"mqtt off", "[mqtt]\nembedded = false", func(c *Config) { c.MQTT.Embedded = false }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("test.toml", []byte(tt.toml))
			if err != nil {
				t.Fatal(err)
			}
			want := DefaultConfig()
			tt.want(&want)
			if !reflect.DeepEqual(plain(got), want) {
				t.Errorf("got  %+v\nwant %+v", plain(got), want)
			}
			if got.File() != "test.toml" {
				t.Errorf("File() = %q", got.File())
			}
		})
	}
}

func TestPaths(t *testing.T) {
	for _, tt := range []struct {
		name, dsn, csca, wantDB, wantCSCA string
	}{
		{"defaults", "", "", "/d/varco-admin.db", "/d/csca"},
		{"relative db", "sub/a.db", "", "/d/sub/a.db", "/d/csca"},
		{"absolute", "/x/a.db", "/etc/csca", "/x/a.db", "/etc/csca"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.DataDir, c.Database.DSN, c.CSCADir = "/d", tt.dsn, tt.csca
			if got := c.SQLitePath(); got != tt.wantDB {
				t.Errorf("SQLitePath = %q, want %q", got, tt.wantDB)
			}
			if got := c.CSCAPath(); got != tt.wantCSCA {
				t.Errorf("CSCAPath = %q, want %q", got, tt.wantCSCA)
			}
		})
	}
}

func TestUnknownKeys(t *testing.T) {
	for _, tt := range []struct {
		name, toml string
		want       []string
	}{
		{"top level", `listne = "x:1"`, []string{"test.toml: unknown key listne"}},
		{"in a table", "[database]\ndrvier = \"sqlite\"", []string{"test.toml: unknown key database.drvier"}},
		{"unknown table", "[amqp]\nbroker = \"x\"", []string{"test.toml: unknown key amqp"}},
		{"in mqtt", "[mqtt]\nbrokr = \"x\"", []string{"test.toml: unknown key mqtt.brokr"}},
		{"several", "a = 1\nb = 2", []string{"unknown key a", "unknown key b"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("test.toml", []byte(tt.toml))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestParseSyntaxAndTypes(t *testing.T) {
	for _, tt := range []struct{ name, toml, want string }{
		{"syntax", `listen = `, "test.toml:"},
		{"string for bool", `demo = "yes"`, "test.toml:"},
		{"bare nanoseconds", `retention = 365`, "365"},
		{"bad duration", `session_ttl = "soon"`, "session_ttl"},
		{"negative days", `retention = "-3d"`, "whole number of days"},
		{"hosts not an array", "[mqtt]\nhosts = \"a,b\"", "want an array of strings"},
		{"hosts not strings", "[mqtt]\nhosts = [1]", "want an array of strings"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("test.toml", []byte(tt.toml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	cert := mustWrite(t, "cert.pem", "x")
	for _, tt := range []struct {
		name string
		edit func(c *Config)
		want string // the whole error: source, field, message
	}{
		{"listen empty", func(c *Config) { c.Listen = "" }, `f.toml: listen: required: host:port such as "127.0.0.1:8080"`},
		{"listen no port", func(c *Config) { c.Listen = "localhost" }, `f.toml: listen: "localhost": want host:port such as "127.0.0.1:8080"`},
		{"listen bad port", func(c *Config) { c.Listen = ":http" }, `f.toml: listen: ":http": port must be a number from 0 to 65535`},
		{"listen port too big", func(c *Config) { c.Listen = ":65536" }, `f.toml: listen: ":65536": port must be a number from 0 to 65535`},
		{"metrics bad", func(c *Config) { c.MetricsListen = "9466" }, `f.toml: metrics_listen: "9466": want host:port such as "127.0.0.1:8080"`},
		{"metrics same as listen", func(c *Config) { c.MetricsListen = c.Listen }, `f.toml: metrics_listen: "127.0.0.1:8080" is the same address as listen`},
		{"data dir empty", func(c *Config) { c.DataDir = "" }, `f.toml: data_dir: required`},
		{"data dir relative", func(c *Config) { c.DataDir = "data" }, `f.toml: data_dir: "data" is not an absolute path`},
		{"csca relative", func(c *Config) { c.CSCADir = "csca" }, `f.toml: csca_dir: "csca" is not an absolute path`},
		{"public url scheme", func(c *Config) { c.PublicURL = "ftp://x/" }, `f.toml: public_url: "ftp://x/": want an http or https URL such as "https://varco.example.it/"`},
		{"public url no host", func(c *Config) { c.PublicURL = "https://" }, `f.toml: public_url: "https://": want an http or https URL`},
		{"public url password", func(c *Config) { c.PublicURL = "https://u:secret@x/" }, `f.toml: public_url: must not contain a user name or password`},
		{"tls cert only", func(c *Config) { c.TLS.Cert = cert }, `f.toml: tls.key: required when tls.cert is set`},
		{"tls key only", func(c *Config) { c.TLS.Key = cert }, `f.toml: tls.cert: required when tls.key is set`},
		{"tls missing file", func(c *Config) { c.TLS = TLS{Cert: cert, Key: filepath.Join(dir, "nokey.pem")} }, `f.toml: tls.key: stat ` + filepath.Join(dir, "nokey.pem") + `: no such file or directory`},
		{"tls dir", func(c *Config) { c.TLS = TLS{Cert: dir, Key: cert} }, `f.toml: tls.cert: "` + dir + `" is not a regular file`},
		{"driver", func(c *Config) { c.Database.Driver = "mysql" }, `f.toml: database.driver: "mysql": must be "sqlite" or "postgres"`},
		{"driver empty", func(c *Config) { c.Database.Driver = "" }, `f.toml: database.driver: "": must be "sqlite" or "postgres"`},
		{"sqlite dsn query", func(c *Config) { c.Database.DSN = "a.db?mode=ro" }, `f.toml: database.dsn: for sqlite, a file path without ? or #`},
		{"postgres no dsn", func(c *Config) { c.Database.Driver = DriverPostgres }, `f.toml: database.dsn: required for postgres`},
		{"retention short", func(c *Config) { c.Retention = D(time.Hour) }, `f.toml: retention: 1h0m0s: want at least 1d, or 0 to keep events for ever`},
		{"retention negative", func(c *Config) { c.Retention = D(-Day) }, `f.toml: retention: -24h0m0s: want at least 1d`},
		{"session ttl zero", func(c *Config) { c.SessionTTL = D(0) }, `f.toml: session_ttl: 0s: want between 1m0s and 90d`},
		{"session ttl long", func(c *Config) { c.SessionTTL = D(91 * Day) }, `f.toml: session_ttl: 91d: want between 1m0s and 90d`},
		{"log level", func(c *Config) { c.Log.Level = "verbose" }, `f.toml: log.level: "verbose": want debug, info, warn or error`},
		{"mqtt site", func(c *Config) { c.MQTT.Site = "se/de" }, `f.toml: mqtt.site: "se/de": want 1 to 64 ASCII letters`},
		{"mqtt site empty", func(c *Config) { c.MQTT.Site = "" }, `f.toml: mqtt.site: "": want 1 to 64`},
		{"mqtt listen", func(c *Config) { c.MQTT.Listen = "8883" }, `f.toml: mqtt.listen: "8883": want host:port`},
		{"mqtt host", func(c *Config) { c.MQTT.Hosts = List{"varco example"} }, `f.toml: mqtt.hosts: "varco example": want a DNS name or an IP address`},
		{"mqtt broker with embedded", func(c *Config) { c.MQTT.Broker = "mqtts://x:8883" }, `f.toml: mqtt.broker: is for an external broker: set mqtt.embedded = false`},
		{"mqtt cert without broker", func(c *Config) { c.MQTT.Embedded, c.MQTT.CA = false, cert }, `f.toml: mqtt.broker: required when mqtt.ca is set`},
		{"mqtt broker plain", func(c *Config) {
			c.MQTT = MQTT{Site: "s", Broker: "mqtt://x:1883", ClientCert: cert, ClientKey: cert, CA: cert}
		}, `f.toml: mqtt.broker: "mqtt://x:1883": want MQTT over TLS`},
		{"mqtt broker no port", func(c *Config) {
			c.MQTT = MQTT{Site: "s", Broker: "mqtts://x", ClientCert: cert, ClientKey: cert, CA: cert}
		}, `f.toml: mqtt.broker: "mqtts://x": want a URL such as "mqtts://mqtt.example.it:8883"`},
		{"mqtt broker password", func(c *Config) {
			c.MQTT = MQTT{Site: "s", Broker: "mqtts://u:secret@x:8883", ClientCert: cert, ClientKey: cert, CA: cert}
		}, `f.toml: mqtt.broker: must not contain a user name or password`},
		{"mqtt broker no key", func(c *Config) {
			c.MQTT = MQTT{Site: "s", Broker: "mqtts://x:8883", ClientCert: cert, CA: cert}
		}, `f.toml: mqtt.client_key: required with mqtt.broker`},
		{"mqtt broker missing ca", func(c *Config) {
			c.MQTT = MQTT{Site: "s", Broker: "mqtts://x:8883", ClientCert: cert, ClientKey: cert, CA: filepath.Join(dir, "ca.pem")}
		}, `f.toml: mqtt.ca: stat ` + filepath.Join(dir, "ca.pem") + `: no such file or directory`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.file = "f.toml"
			tt.edit(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %q\nwant exactly one error starting %q", err, tt.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Source != "f.toml" {
				t.Errorf("errors.As FieldError = %+v", fe)
			}
		})
	}
}

func TestValidateReportsEverything(t *testing.T) {
	c := DefaultConfig()
	c.Listen, c.Log.Level, c.Database.Driver = "", "loud", "x"
	err := c.Validate()
	for _, f := range []string{"config: listen:", "config: log.level:", "config: database.driver:"} {
		if err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("err = %v, lacks %q", err, f)
		}
	}
}

func TestValidateAccepts(t *testing.T) {
	cert, key := mustWrite(t, "c.pem", "x"), mustWrite(t, "k.pem", "x")
	for _, tt := range []struct {
		name string
		edit func(c *Config)
	}{
		{"every interface", func(c *Config) { c.Listen = ":8080" }},
		{"port 0 twice", func(c *Config) { c.Listen, c.MetricsListen = "127.0.0.1:0", "127.0.0.1:0" }},
		{"ipv6", func(c *Config) { c.Listen = "[::1]:8443" }},
		{"tls", func(c *Config) { c.TLS = TLS{Cert: cert, Key: key} }},
		{"retention off", func(c *Config) { c.Retention = D(0) }},
		{"retention one day", func(c *Config) { c.Retention = D(Day) }},
		{"postgres url", func(c *Config) { c.Database = Database{Driver: DriverPostgres, DSN: "postgres://u:p@h/db"} }},
		{"mqtt hosts", func(c *Config) { c.MQTT.Hosts = List{"varco.example.it", "*.example.it", "192.0.2.10", "2001:db8::1"} }},
		{"mqtt sync off", func(c *Config) { c.MQTT.Embedded = false }},
		{"mqtt external", func(c *Config) {
			c.MQTT = MQTT{Site: "hq", Broker: "mqtts://mqtt.example.it:8883", ClientCert: cert, ClientKey: key, CA: cert}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSlogLevel(t *testing.T) {
	for lvl, want := range map[string]string{"debug": "DEBUG", "info": "INFO", "warn": "WARN", "error": "ERROR"} {
		c := DefaultConfig()
		c.Log.Level = lvl
		if got := c.SlogLevel().String(); got != want {
			t.Errorf("%s: SlogLevel = %s, want %s", lvl, got, want)
		}
	}
}

const examplePath = "testdata/varco-admin.example.toml"

// TestExample: the example file loads to the defaults and mentions every
// key (set or commented out), so it stays the complete reference.
func TestExample(t *testing.T) {
	c, err := load(examplePath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(plain(c), DefaultConfig()) {
		t.Errorf("example = %+v\nwant the defaults %+v", plain(c), DefaultConfig())
	}
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	for path := range EnvVars() {
		table, leaf := "", path
		if i := strings.LastIndexByte(path, '.'); i >= 0 {
			table, leaf = path[:i], path[i+1:]
		}
		re := regexp.MustCompile(`(?ms)` + regexp.QuoteMeta(sectionHeader(table)) + `.*?^#? ?` + regexp.QuoteMeta(leaf) + ` = `)
		if !re.Match(data) {
			t.Errorf("%s does not mention %s", examplePath, path)
		}
	}
}

// sectionHeader returns what precedes a key of table in the file: its
// header, or the start of the file for top-level keys (which come first).
func sectionHeader(table string) string {
	if table == "" {
		return "# varco-admin configuration"
	}
	return "[" + table + "]"
}

func TestBrokerHosts(t *testing.T) {
	c := DefaultConfig()
	c.MQTT.Hosts = List{"varco.example.it", "LOCALHOST", "192.0.2.10"}
	got := c.BrokerHosts()
	want := []string{"localhost", "127.0.0.1", "::1", "varco.example.it", "192.0.2.10"}
	if h, err := os.Hostname(); err == nil && h != "" && !strings.EqualFold(h, "localhost") {
		want = append([]string{h}, want...)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("BrokerHosts = %q, want %q", got, want)
	}
}

func TestDemoPath(t *testing.T) {
	c := DefaultConfig()
	c.DataDir = "/srv/varco"
	if got := c.DemoPath(); got != "/srv/varco" {
		t.Errorf("DemoPath() without demo_dir = %q, want the data_dir", got)
	}
	c.DemoDir = "/tmp/varco-demo"
	if got := c.DemoPath(); got != "/tmp/varco-demo" {
		t.Errorf("DemoPath() = %q, want demo_dir", got)
	}
}
