// Package systemd holds no code: its test checks the unit files in this
// directory, so an edit cannot silently drop the notify protocol, the
// watchdog or the hardening.
package systemd

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
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

func TestVarcoAdminService(t *testing.T) {
	u := parseUnit(t, "varco-admin.service")

	// Exact values.
	for _, tt := range []struct{ section, key, want string }{
		{"Service", "Type", "notify"},
		{"Service", "Restart", "always"},
		{"Service", "WatchdogSec", "30s"},
		{"Service", "ExecStart", "/usr/local/bin/varco-admin -config /etc/varco/varco-admin.toml"},
		{"Unit", "StartLimitIntervalSec", "0"}, // retry a database outage for ever
		{"Service", "User", "varco-admin"},
		{"Service", "StateDirectory", "varco-admin"},
		{"Service", "StateDirectoryMode", "0700"},
		{"Service", "UMask", "0077"},
		{"Service", "NoNewPrivileges", "yes"},
		{"Service", "ProtectSystem", "strict"},
		{"Service", "ProtectHome", "yes"},
		{"Service", "PrivateTmp", "yes"},
		{"Service", "PrivateDevices", "yes"},
		{"Service", "ProtectKernelTunables", "yes"},
		{"Service", "ProtectKernelModules", "yes"},
		{"Service", "ProtectKernelLogs", "yes"},
		{"Service", "ProtectControlGroups", "yes"},
		{"Service", "RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"},
		{"Service", "RestrictNamespaces", "yes"},
		{"Service", "LockPersonality", "yes"},
		{"Service", "MemoryDenyWriteExecute", "yes"},
		{"Service", "SystemCallFilter", "@system-service"},
		{"Service", "CapabilityBoundingSet", ""},
		{"Service", "AmbientCapabilities", ""},
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
		{"Unit", "After", "postgresql.service"},
		{"Unit", "Wants", "network-online.target"},
		// The data directory is the one systemd creates, whatever the file says.
		{"Service", "Environment", "VARCO_ADMIN_DATA_DIR=/var/lib/varco-admin"},
	} {
		if !strings.Contains(u.all(tt.section, tt.key), tt.item) {
			t.Errorf("[%s] %s= lacks %q", tt.section, tt.key, tt.item)
		}
	}

	// The shutdown bound of varco-admin (admin/server.ShutdownTimeout,
	// 10s) must fit in TimeoutStopSec, with time left to close the store.
	stop, err := time.ParseDuration(u.all("Service", "TimeoutStopSec"))
	if err != nil || stop < 15*time.Second {
		t.Errorf("TimeoutStopSec=%q: want at least 15s", u.all("Service", "TimeoutStopSec"))
	}

	for _, tt := range []struct{ section, key, bad string }{
		{"Service", "User", "root"},
		{"Service", "Environment", "VARCO_ADMIN_PASSWORD"},     // secrets go in the EnvironmentFile
		{"Service", "Environment", "VARCO_ADMIN_DATABASE_DSN"}, // idem
		{"Service", "ProcSubset", "pid"},                       // hides /proc/stat from the process collector
	} {
		if strings.Contains(u.all(tt.section, tt.key), tt.bad) {
			t.Errorf("[%s] %s=%s is not allowed", tt.section, tt.key, tt.bad)
		}
	}
}

// TestREADMEPaths: the files the README tells an installer to copy exist.
func TestREADMEPaths(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range regexp.MustCompile(`\.\./[\w./-]+`).FindAllString(string(b), -1) {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("README.md refers to %s: %v", p, err)
		}
	}
}

// TestSystemdAnalyzeVerify runs systemd-analyze verify on each unit when
// the tool is installed, with ExecStart pointed at an executable that
// exists here (verify refuses a missing binary).
func TestSystemdAnalyzeVerify(t *testing.T) {
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"varco-door.service", "varco-admin.service"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			re := regexp.MustCompile(`(?m)^ExecStart=/usr/local/bin/[\w-]+`)
			if !re.Match(b) {
				t.Fatal("no ExecStart=/usr/local/bin/... to point elsewhere")
			}
			b = re.ReplaceAll(b, []byte("ExecStart="+self))
			path := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(tool, "verify", path).CombinedOutput()
			if err != nil || len(out) > 0 {
				t.Errorf("systemd-analyze verify: %v\n%s", err, out)
			}
		})
	}
}
