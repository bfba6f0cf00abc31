package mqtttest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/varco-access/varco/wire/broker"
	"github.com/varco-access/varco/wire/sitepki"
)

// MosquittoInstallHint is the command that provides the mosquitto binary.
const MosquittoInstallHint = "apt-get install -y mosquitto"

// Mosquitto is the broker StartMosquitto runs: Debian's mosquitto as a
// child process on 127.0.0.1 and a free port, its files in a temp dir.
type Mosquitto struct {
	*pki
	// Dir holds mosquitto.conf, acl, the certificates and mosquitto.log.
	Dir    string
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	err    error         // its exit status, once done is closed
	closed bool
}

var _ Broker = (*Mosquitto)(nil)

// debianMosquitto is where Debian installs the broker; a variable for
// tests.
var debianMosquitto = "/usr/sbin/mosquitto"

// FindMosquitto returns the path of the mosquitto binary: on PATH, or
// Debian's /usr/sbin/mosquitto (not on a normal user's PATH).
func FindMosquitto() (string, error) {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p, nil
	}
	if st, err := os.Stat(debianMosquitto); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
		return debianMosquitto, nil
	}
	return "", fmt.Errorf("mosquitto not found: install it with: %s", MosquittoInstallHint)
}

// StartMosquitto starts Debian's mosquitto for site with a new CA and the
// same rules as the embedded broker, and stops it when tb ends; if tb
// failed, the end of mosquitto's log is shown. The ACL names "admin" and,
// for each id in doors, "door:<id>" and "station:<id>" (Mosquitto cannot
// derive rights from a user name: see broker.MosquittoACL); any other
// identity can connect but may do nothing.
//
// Without the mosquitto binary it skips tb, or fails it when the
// environment says CI=true.
func StartMosquitto(tb testing.TB, site string, doors ...string) *Mosquitto {
	tb.Helper()
	bin, err := FindMosquitto()
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("mqtttest: %v (CI=true: not skipping)", err)
		}
		tb.Skipf("mqtttest: %v", err)
	}
	p := newPKI(tb, site, KindMosquitto)
	m := &Mosquitto{pki: p, Dir: tb.TempDir()}

	identities := []string{sitepki.AdminIdentity}
	for _, d := range doors {
		identities = append(identities, sitepki.DoorIdentity(d), sitepki.StationIdentity(d))
	}
	acl, err := broker.MosquittoACL(site, identities)
	if err != nil {
		tb.Fatalf("mqtttest: %v", err)
	}
	cert, key := p.serverCert()
	for name, data := range map[string][]byte{
		"ca.crt":     p.ca.CertPEM(),
		"server.crt": cert,
		"server.key": key,
		"acl":        acl,
	} {
		if err := os.WriteFile(filepath.Join(m.Dir, name), data, 0o600); err != nil {
			tb.Fatalf("mqtttest: %v", err)
		}
	}

	// A free port can be taken between our probe and mosquitto's bind:
	// try a few.
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			tb.Fatalf("mqtttest: %v", err)
		}
		err = m.start(bin, port)
		if err == nil {
			break
		}
		log, _ := os.ReadFile(m.logPath())
		if attempt < 5 && strings.Contains(string(log), "Address already in use") {
			continue
		}
		tb.Fatalf("mqtttest: start mosquitto: %v\n%s", err, tail(string(log), tailLines))
	}
	tb.Cleanup(func() {
		if err := m.Close(); err != nil {
			tb.Error(err)
		}
		if tb.Failed() {
			log, _ := os.ReadFile(m.logPath())
			tb.Logf("last lines of %s:\n%s", m.logPath(), tail(string(log), tailLines))
		}
	})
	return m
}

func (m *Mosquitto) logPath() string { return filepath.Join(m.Dir, "mosquitto.log") }

// config returns mosquitto.conf for a listener on 127.0.0.1:port.
func (m *Mosquitto) config(port int) string {
	f := func(name string) string { return filepath.Join(m.Dir, name) }
	var b strings.Builder
	b.WriteString("# mqtttest: the varco broker rules on Mosquitto 2.0\n")
	if os.Geteuid() == 0 {
		// Run as root rather than switching to the "mosquitto" user,
		// which could not read the test's 0700 temp dir.
		b.WriteString("user root\n")
	}
	fmt.Fprintf(&b, "per_listener_settings false\n")
	fmt.Fprintf(&b, "persistence false\n")
	fmt.Fprintf(&b, "allow_anonymous false\n")
	fmt.Fprintf(&b, "acl_file %s\n", f("acl"))
	fmt.Fprintf(&b, "log_dest file %s\n", m.logPath())
	fmt.Fprintf(&b, "log_type all\n")
	fmt.Fprintf(&b, "log_timestamp_format %%H:%%M:%%S\n")
	fmt.Fprintf(&b, "listener %d 127.0.0.1\n", port)
	fmt.Fprintf(&b, "cafile %s\n", f("ca.crt"))
	fmt.Fprintf(&b, "certfile %s\n", f("server.crt"))
	fmt.Fprintf(&b, "keyfile %s\n", f("server.key"))
	fmt.Fprintf(&b, "tls_version tlsv1.2\n")
	fmt.Fprintf(&b, "require_certificate true\n")
	fmt.Fprintf(&b, "use_identity_as_username true\n")
	fmt.Fprintf(&b, "use_username_as_clientid true\n")
	return b.String()
}

// start runs mosquitto on port and waits until it completes a TLS
// handshake, or exits.
func (m *Mosquitto) start(bin string, port int) error {
	conf := filepath.Join(m.Dir, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(m.config(port)), 0o600); err != nil {
		return err
	}
	os.Remove(m.logPath())
	cmd := exec.Command(bin, "-c", conf)
	cmd.Dir = m.Dir
	// Kill mosquitto if the test binary dies without its cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	m.cmd, m.done = cmd, make(chan struct{})
	go func() {
		m.err = cmd.Wait()
		close(m.done)
	}()

	addr := fmt.Sprintf("127.0.0.1:%d", port)
	probe := m.ClientTLS(sitepki.AdminIdentity)
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-m.done:
			return fmt.Errorf("mosquitto exited: %v", m.err)
		default:
		}
		d := &net.Dialer{Timeout: time.Second}
		c, err := tls.DialWithDialer(d, "tcp", addr, probe)
		if err == nil {
			c.Close()
			m.url = "ssl://" + addr
			return nil
		}
		if time.Now().After(deadline) {
			m.stop()
			return fmt.Errorf("no TLS handshake on %s within 15s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Close stops mosquitto: SIGTERM, then SIGKILL after 5 seconds. It
// reports a mosquitto that had already died. Only the first call stops.
func (m *Mosquitto) Close() error {
	if m.cmd == nil || m.closed {
		return nil
	}
	m.closed = true
	select {
	case <-m.done:
		return fmt.Errorf("mqtttest: mosquitto exited before Close: %v", m.err)
	default:
	}
	return m.stop()
}

// stop ends the running process.
func (m *Mosquitto) stop() error {
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		m.cmd.Process.Kill()
		<-m.done
		return errors.New("mqtttest: mosquitto did not stop on SIGTERM within 5s")
	}
	if m.err != nil {
		return fmt.Errorf("mqtttest: mosquitto: %v", m.err)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("mqtttest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
