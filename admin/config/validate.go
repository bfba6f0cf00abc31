package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/varco-access/varco/wire"
)

// FieldError is one invalid setting. [Config.Validate] returns them joined
// with errors.Join; errors.As finds the first.
type FieldError struct {
	// Source is where the value came from: the configuration file,
	// "environment VARCO_ADMIN_..." for a variable, or "config" for a
	// default or a Config built in code.
	Source string
	Field  string // the TOML path, e.g. "database.driver"
	Msg    string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Source, e.Field, e.Msg)
}

// validator collects every problem so one start reports them all.
type validator struct {
	c    *Config
	errs []error
}

func (v *validator) add(field, format string, args ...any) {
	src := v.c.file
	if env, ok := v.c.env[field]; ok {
		src = "environment " + env
	} else if src == "" {
		src = "config"
	}
	v.errs = append(v.errs, &FieldError{Source: src, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks every setting and returns all problems, each naming the
// source (file or environment variable) and the field. It stats the TLS
// files; it opens nothing else.
func (c Config) Validate() error {
	v := &validator{c: &c}

	checkAddr(v, "listen", c.Listen, false)
	checkAddr(v, "metrics_listen", c.MetricsListen, true)
	if c.MetricsListen != "" && c.MetricsListen == c.Listen && !strings.HasSuffix(c.Listen, ":0") {
		v.add("metrics_listen", "%q is the same address as listen", c.MetricsListen)
	}
	checkAbs(v, "data_dir", c.DataDir, true)
	checkAbs(v, "csca_dir", c.CSCADir, false)

	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		switch {
		case err == nil && u.User != nil:
			// Not quoted back: the user part may hold a password.
			v.add("public_url", "must not contain a user name or password")
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			v.add("public_url", "%q: want an http or https URL such as \"https://varco.example.it/\"", c.PublicURL)
		}
	}

	switch {
	case c.TLS.Cert == "" && c.TLS.Key == "":
	case c.TLS.Cert == "":
		v.add("tls.cert", "required when tls.key is set")
	case c.TLS.Key == "":
		v.add("tls.key", "required when tls.cert is set")
	default:
		checkFile(v, "tls.cert", c.TLS.Cert)
		checkFile(v, "tls.key", c.TLS.Key)
	}

	switch c.Database.Driver {
	case DriverSQLite:
		if strings.ContainsAny(c.Database.DSN, "?#") {
			v.add("database.dsn", "for sqlite, a file path without ? or #")
		}
	case DriverPostgres:
		// The DSN is never quoted back: it may hold a password.
		if strings.TrimSpace(c.Database.DSN) == "" {
			v.add("database.dsn", "required for postgres: a connection string such as \"postgres://varco@db.example.it/varco\"")
		}
	default:
		v.add("database.driver", "%q: must be %q or %q", c.Database.Driver, DriverSQLite, DriverPostgres)
	}

	if r := c.Retention.Duration; r < 0 || (r > 0 && r < MinRetention) {
		v.add("retention", "%v: want at least %v, or 0 to keep events for ever", c.Retention, D(MinRetention))
	}
	if t := c.SessionTTL.Duration; t < MinSessionTTL || t > MaxSessionTTL {
		v.add("session_ttl", "%v: want between %v and %v", c.SessionTTL, D(MinSessionTTL), D(MaxSessionTTL))
	}

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.add("log.level", "%q: want debug, info, warn or error", c.Log.Level)
	}
	checkMQTT(v, c.MQTT)
	return errors.Join(v.errs...)
}

// checkMQTT checks the [mqtt] table: the embedded broker's settings, or
// an external broker's, never a mix.
func checkMQTT(v *validator, m MQTT) {
	if !wire.ValidID(m.Site) {
		v.add("mqtt.site", "%q: want 1 to %d ASCII letters, digits, '.', '_' or '-'", m.Site, wire.MaxIDLength)
	}
	external := []struct{ field, value string }{
		{"mqtt.broker", m.Broker}, {"mqtt.client_cert", m.ClientCert}, {"mqtt.client_key", m.ClientKey}, {"mqtt.ca", m.CA},
	}
	if m.Embedded {
		checkAddr(v, "mqtt.listen", m.Listen, false)
		for _, h := range m.Hosts {
			if !validHost(h) {
				v.add("mqtt.hosts", "%q: want a DNS name or an IP address", h)
			}
		}
		for _, f := range external {
			if f.value != "" {
				v.add(f.field, "is for an external broker: set mqtt.embedded = false, or remove it")
			}
		}
		return
	}
	if m.Broker == "" {
		// Sync disabled; files without a broker are a mistake.
		for _, f := range external[1:] {
			if f.value != "" {
				v.add("mqtt.broker", "required when %s is set", f.field)
				break
			}
		}
		return
	}
	u, err := url.Parse(m.Broker)
	switch {
	case err == nil && u.User != nil:
		v.add("mqtt.broker", "must not contain a user name or password: the client certificate is the identity")
	case err != nil || u.Hostname() == "" || u.Port() == "":
		v.add("mqtt.broker", "%q: want a URL such as \"mqtts://mqtt.example.it:8883\"", m.Broker)
	default:
		switch u.Scheme {
		case "mqtts", "ssl", "tls", "tcps":
		default:
			v.add("mqtt.broker", "%q: want MQTT over TLS (mqtts://host:port): the admin authenticates with a client certificate", m.Broker)
		}
	}
	for _, f := range external[1:] {
		if f.value == "" {
			v.add(f.field, "required with mqtt.broker")
		} else {
			checkFile(v, f.field, f.value)
		}
	}
}

// validHost accepts an IP address or a DNS name (letters, digits, '-',
// '.', and a leading "*." wildcard).
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	name := strings.TrimPrefix(h, "*.")
	if name == "" || len(name) > 253 {
		return false
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// checkAddr accepts host:port with a numeric port, host possibly empty
// (every interface).
func checkAddr(v *validator, field, addr string, emptyOK bool) {
	if addr == "" {
		if !emptyOK {
			v.add(field, "required: host:port such as \"127.0.0.1:8080\"")
		}
		return
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(field, "%q: want host:port such as \"127.0.0.1:8080\"", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.add(field, "%q: port must be a number from 0 to 65535", addr)
	}
}

// checkAbs requires an absolute path: a service's working directory is
// not something to rely on.
func checkAbs(v *validator, field, path string, required bool) {
	switch {
	case path == "":
		if required {
			v.add(field, "required")
		}
	case !strings.HasPrefix(path, "/"):
		v.add(field, "%q is not an absolute path", path)
	}
}

// checkFile requires a readable regular file.
func checkFile(v *validator, field, path string) {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		v.add(field, "%v", err)
	case !fi.Mode().IsRegular():
		v.add(field, "%q is not a regular file", path)
	}
}
