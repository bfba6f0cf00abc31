// Package systemd holds no code: its test checks the unit files in this
// directory, so an edit cannot silently drop the notify protocol, the
// watchdog or the hardening.
package systemd

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// unit is a parsed unit file: section → key → values, in file order (a key
// may repeat).
type unit map[string]map[string][]string

// parseUnit is a small INI reader for systemd unit files: sections,
// key=value, # and ; comments, trailing-backslash continuations.
func parseUnit(tb testing.TB, path string) unit {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	n := 0
	var cont string
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if cont != "" {
			line = cont + " " + line
			cont = ""
		}
		if strings.HasSuffix(line, "\\") {
			cont = strings.TrimSuffix(line, "\\")
			continue
		}
		switch {
		case line == "", line[0] == '#', line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				tb.Fatalf("%s:%d: not a key=value in a section: %q", path, n, line)
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			u[section][k] = append(u[section][k], v)
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return u
}

// all returns every value of section.key, space-joined.
func (u unit) all(section, key string) string {
	return strings.Join(u[section][key], " ")
}

func TestVarcoDoorService(t *testing.T) {
	u := parseUnit(t, "varco-door.service")

	// Exact values.
	for _, tt := range []struct{ section, key, want string }{
		{"Service", "Type", "notify"},
		{"Service", "Restart", "always"},
		{"Service", "WatchdogSec", "30s"},
		{"Service", "StateDirectory", "varco-door"},
		{"Service", "ExecStart", "/usr/local/bin/varco-door -config /etc/varco/varco-door.toml"},
		{"Service", "NoNewPrivileges", "yes"},
		{"Service", "ProtectSystem", "strict"},
		{"Service", "ProtectHome", "yes"},
		{"Service", "PrivateTmp", "yes"},
		{"Service", "ProtectKernelTunables", "yes"},
		{"Service", "ProtectKernelModules", "yes"},
		{"Service", "RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"},
		{"Service", "SupplementaryGroups", "gpio"},
		{"Service", "ReadWritePaths", "/var/lib/varco-door"},
		{"Service", "CapabilityBoundingSet", ""},
		{"Install", "WantedBy", "multi-user.target"},
	} {
		vals, ok := u[tt.section][tt.key]
		if !ok {
			t.Errorf("[%s] %s= missing, want %q", tt.section, tt.key, tt.want)
			continue
		}
		if got := vals[len(vals)-1]; got != tt.want { // the last assignment wins
			t.Errorf("[%s] %s=%q, want %q", tt.section, tt.key, got, tt.want)
		}
	}

	// Lists that must contain an item.
	for _, tt := range []struct{ section, key, item string }{
		{"Unit", "After", "network-online.target"},
		{"Unit", "Wants", "network-online.target"},
		{"Service", "DeviceAllow", "gpiochip"},
	} {
		if !strings.Contains(u.all(tt.section, tt.key), tt.item) {
			t.Errorf("[%s] %s= lacks %q", tt.section, tt.key, tt.item)
		}
	}
	if a, w := u.all("Unit", "After"), u.all("Unit", "Wants"); !strings.Contains(a, "pcscd.") || !strings.Contains(w, "pcscd.") {
		t.Errorf("pcscd must be in After= (%q) and Wants= (%q)", a, w)
	}
	if dev := u.all("Service", "DeviceAllow"); !strings.HasSuffix(dev, " rw") {
		t.Errorf("DeviceAllow=%q: want rw access to the gpiochips", dev)
	}

	// Settings that would break the door or its hardening.
	for _, tt := range []struct{ section, key, bad string }{
		{"Service", "PrivateDevices", "yes"}, // hides /dev/gpiochip*
		{"Service", "User", "root"},
	} {
		if strings.Contains(u.all(tt.section, tt.key), tt.bad) {
			t.Errorf("[%s] %s=%s is not allowed", tt.section, tt.key, tt.bad)
		}
	}
	if u.all("Service", "User") == "" {
		t.Error("[Service] User= missing: varco-door must not run as root")
	}
	if strings.Contains(u.all("Unit", "After"), "time-sync.target") {
		t.Error("After=time-sync.target would keep doors shut until NTP answers")
	}
}
