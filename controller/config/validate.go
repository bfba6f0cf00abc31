package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// FieldError is one invalid setting. [Config.Validate] returns them joined
// with errors.Join; errors.As finds the first.
type FieldError struct {
	File  string // the configuration file, "config" when built in code
	Field string // the TOML path, e.g. "doors[1].release_time"
	Msg   string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.File, e.Field, e.Msg)
}

// validator collects every problem so one run of the daemon reports them
// all, not one per restart.
type validator struct {
	file string
	errs []error
}

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{File: v.file, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks every setting and returns all problems, each naming the
// file and the field.
func (c Config) Validate() error {
	v := &validator{file: c.file}
	if v.file == "" {
		v.file = "config"
	}

	checkID(v, "site.id", c.Site.ID)
	if _, err := c.Site.Location(); err != nil {
		v.add("site.time_zone", "%v", err)
	}
	if c.Site.PublicKey == "" {
		v.add("site.site_public_key", "required: the base64 Ed25519 public key of the site")
	} else if _, err := c.Site.Key(); err != nil {
		v.add("site.site_public_key", "%v", err)
	}
	checkID(v, "controller_id", c.ControllerID)
	if c.GPIO != GPIOPeriph && c.GPIO != GPIOFake {
		v.add("gpio", "%q: want %q or %q", c.GPIO, GPIOPeriph, GPIOFake)
	}

	if c.StateDir == "" {
		v.add("state_dir", "required")
	} else if !strings.HasPrefix(c.StateDir, "/") {
		v.add("state_dir", "%q is not an absolute path", c.StateDir)
	}
	if c.StoreFile == "" {
		v.add("store_file", "required")
	}

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.add("log.level", "%q: want debug, info, warn or error", c.Log.Level)
	}

	if c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			v.add("metrics_addr", "%q: want host:port (empty disables metrics): %v", c.MetricsAddr, err)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			v.add("metrics_addr", "%q: bad port", c.MetricsAddr)
		}
	}

	checkMQTT(v, c.MQTT, len(c.Doors))

	if c.MaxOffline.Duration < 0 {
		v.add("max_offline", "%v is negative (0 means unlimited)", c.MaxOffline.Duration)
	}
	checkPolicy(v, "untrusted_clock", c.UntrustedClock, false)
	if c.OutboxCap != 0 && c.OutboxCap < MinOutboxCap {
		v.add("outbox_cap", "%d is below the %d minimum (0 means unlimited)", c.OutboxCap, MinOutboxCap)
	}

	if len(c.Doors) == 0 {
		v.add("doors", "at least one [[doors]] table is required")
	}
	doorIDs := map[string]int{}
	pins := map[string]string{} // folded pin name → field that uses it
	vpcdPorts := map[int]int{}
	for i, d := range c.Doors {
		p := fmt.Sprintf("doors[%d]", i)
		checkID(v, p+".id", d.ID)
		if j, dup := doorIDs[d.ID]; dup && d.ID != "" {
			v.add(p+".id", "%q is already the id of doors[%d]", d.ID, j)
		} else {
			doorIDs[d.ID] = i
		}
		if strings.TrimSpace(d.Reader) == "" {
			v.add(p+".reader", "required: a PC/SC reader name (see pcsc_scan) or %q", VirtualReader)
		}
		if d.VPCDPort != 0 {
			switch {
			case d.Reader != VirtualReader:
				v.add(p+".vpcd_port", "only for reader = %q", VirtualReader)
			case d.VPCDPort < 1 || d.VPCDPort > 65535:
				v.add(p+".vpcd_port", "%d is not a TCP port", d.VPCDPort)
			default:
				if j, dup := vpcdPorts[d.VPCDPort]; dup {
					v.add(p+".vpcd_port", "%d is already used by doors[%d]", d.VPCDPort, j)
				}
				vpcdPorts[d.VPCDPort] = i
			}
		}

		if d.RelayPin == "" {
			v.add(p+".relay_pin", "required: the GPIO that drives the strike relay, e.g. \"GPIO26\"")
		}
		for _, pin := range []struct{ field, name string }{
			{p + ".relay_pin", d.RelayPin},
			{p + ".contact_pin", d.ContactPin},
			{p + ".rex_pin", d.RexPin},
		} {
			if pin.name == "" {
				continue
			}
			if strings.ContainsAny(pin.name, " \t\r\n") {
				v.add(pin.field, "%q contains white space", pin.name)
				continue
			}
			key := strings.ToUpper(pin.name)
			if other, dup := pins[key]; dup {
				v.add(pin.field, "%q is already used by %s", pin.name, other)
				continue
			}
			pins[key] = pin.field
		}
		switch d.InputPull {
		case PullUp, PullDown, PullNone:
		default:
			v.add(p+".input_pull", "%q: want up, down or none", d.InputPull)
		}

		checkRange(v, p+".release_time", d.ReleaseTime.Duration, MinReleaseTime, MaxReleaseTime)
		checkRange(v, p+".held_open_after", d.HeldOpenAfter.Duration, time.Second, time.Hour)
		checkRange(v, p+".debounce", d.Debounce.Duration, time.Millisecond, time.Second)
		checkRange(v, p+".denied_repeat_window", d.DeniedRepeatWindow.Duration, 0, 10*time.Minute)
		switch d.FailMode {
		case FailSecure, FailSafe:
		default:
			v.add(p+".fail_mode", "%q: want %q or %q", d.FailMode, FailSecure, FailSafe)
		}
		checkPolicy(v, p+".untrusted_clock", d.UntrustedClock, true)
		if (d.ClientCert == "") != (d.ClientKey == "") {
			v.add(p+".client_key", "client_cert and client_key go together")
		}
		checkPath(v, p+".client_cert", d.ClientCert)
		checkPath(v, p+".client_key", d.ClientKey)
		if d.ClientCert != "" && !c.MQTT.Enabled() {
			v.add(p+".client_cert", "only with mqtt.broker set")
		}
	}
	return errors.Join(v.errs...)
}

// checkID accepts what is safe in an MQTT topic level, a metric label and a
// file name.
func checkID(v *validator, field, id string) {
	if id == "" {
		v.add(field, "required")
		return
	}
	if len(id) > 64 {
		v.add(field, "%q is longer than 64 bytes", id)
		return
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			v.add(field, "%q: use letters, digits, '-', '_' and '.' only", id)
			return
		}
	}
}

func checkPolicy(v *validator, field, policy string, emptyOK bool) {
	switch {
	case policy == ClockDeny, policy == ClockAllow:
	case policy == "" && emptyOK:
	default:
		v.add(field, "%q: want %q or %q", policy, ClockDeny, ClockAllow)
	}
}

func checkRange(v *validator, field string, d, lo, hi time.Duration) {
	switch {
	case d < lo:
		v.add(field, "%v is below the %v minimum", d, lo)
	case d > hi:
		v.add(field, "%v is above the %v maximum", d, hi)
	}
}

func checkMQTT(v *validator, m MQTT, doors int) {
	if m.Broker == "" {
		if m.ClientCert != "" || m.ClientKey != "" || m.CA != "" {
			v.add("mqtt.broker", "required when mqtt certificates are set")
		}
		return
	}
	u, err := url.Parse(m.Broker)
	if err != nil {
		v.add("mqtt.broker", "%v", err)
		return
	}
	switch u.Scheme {
	case "mqtt", "mqtts", "tcp", "ssl", "tls", "ws", "wss":
	default:
		v.add("mqtt.broker", "%q: want a URL such as mqtts://admin.example.org:8883", m.Broker)
		return
	}
	if u.Host == "" {
		v.add("mqtt.broker", "%q has no host", m.Broker)
	}
	if (m.ClientCert == "") != (m.ClientKey == "") {
		v.add("mqtt.client_key", "client_cert and client_key go together")
	}
	if m.ClientCert != "" && doors > 1 {
		v.add("mqtt.client_cert", "each of the %d doors connects with its own certificate: set doors[i].client_cert and client_key instead (default <state_dir>/mqtt/<id>.crt and .key)", doors)
	}
	checkPath(v, "mqtt.ca", m.CA)
	checkPath(v, "mqtt.client_cert", m.ClientCert)
	checkPath(v, "mqtt.client_key", m.ClientKey)
	checkRange(v, "mqtt.keep_alive", m.KeepAlive.Duration, 5*time.Second, 10*time.Minute)
	checkRange(v, "mqtt.reconnect_min", m.ReconnectMin.Duration, 100*time.Millisecond, time.Minute)
	checkRange(v, "mqtt.reconnect_max", m.ReconnectMax.Duration, m.ReconnectMin.Duration, time.Hour)
}

// checkPath accepts an empty path or an absolute one: a daemon's working
// directory is nobody's choice.
func checkPath(v *validator, field, path string) {
	if path != "" && !strings.HasPrefix(path, "/") {
		v.add(field, "%q is not an absolute path", path)
	}
}
