package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// TestSdNotify runs the server as systemd would for a Type=notify unit
// with WatchdogSec=: READY=1 once listening, WATCHDOG=1 keep-alives,
// STOPPING=1 at shutdown. Not parallel: it sets the process environment.
func TestSdNotify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "2000000") // 2s: keep-alives every second
	t.Setenv("WATCHDOG_PID", "")

	watchdogTicks := make(chan time.Time)
	opts := testOptions(io.Discard)
	opts.NewTicker = func(d time.Duration) (<-chan time.Time, func()) {
		if d == time.Second {
			return watchdogTicks, func() {}
		}
		return nil, func() {} // housekeeping: never ticks
	}
	m := New(testConfig(t), testLogger(t, io.Discard), opts)
	errc := make(chan error, 1)
	go func() { errc <- m.Run(context.Background()) }()

	msgs := make(chan string, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	next := func(want string, errc <-chan error) string {
		t.Helper()
		for {
			select {
			case msg, ok := <-msgs:
				if !ok {
					t.Fatalf("socket closed waiting for %q", want)
				}
				if strings.Contains(msg, want) {
					return msg
				}
			case err := <-errc:
				t.Fatalf("Run returned %v waiting for %q", err, want)
			case <-time.After(10 * time.Second):
				t.Fatalf("no %q within 10s", want)
			}
		}
	}

	ready := next("READY=1", errc)
	select {
	case <-m.Ready():
	default:
		t.Error("READY=1 sent before Ready closed")
	}
	if !strings.Contains(ready, "STATUS=serving "+m.URL()) {
		t.Errorf("ready message %q lacks the status line", ready)
	}
	next("WATCHDOG=1", errc) // at once
	watchdogTicks <- time.Time{}
	next("WATCHDOG=1", errc) // on the tick

	if err := m.Close(); err != nil { // Run returns: stop watching errc
		t.Fatal(err)
	}
	next("STOPPING=1", nil)
}

// mustSelfSigned writes a self-signed certificate for 127.0.0.1 and its
// key to PEM files, returning their paths and a pool that trusts it.
func mustSelfSigned(tb testing.TB) (certPath, keyPath string, pool *x509.CertPool) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "varco-admin test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	certPath, keyPath = filepath.Join(dir, "admin.crt"), filepath.Join(dir, "admin.key")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		tb.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certPath, keyPath, pool
}

func TestTLS(t *testing.T) {
	cfg := testConfig(t)
	var pool *x509.CertPool
	cfg.TLS.Cert, cfg.TLS.Key, pool = mustSelfSigned(t)
	var secure bool
	opts := testOptions(io.Discard)
	opts.RegisterAPI = func(_ *gin.Engine, d Deps) error { secure = d.Secure; return nil }
	m := New(cfg, testLogger(t, io.Discard), opts)
	mustStart(t, m)
	if !secure {
		t.Error("Deps.Secure = false under TLS")
	}
	if !strings.HasPrefix(m.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL = %q, want https", m.URL())
	}

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	code, body := get(t, client, m.URL()+"healthz")
	if code != http.StatusOK || strings.TrimSpace(body) != `{"status":"ok"}` {
		t.Errorf("GET https /healthz = %d %s", code, body)
	}

	// TLS 1.1 is refused.
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if resp, err := old.Get(m.URL() + "healthz"); err == nil {
		resp.Body.Close()
		t.Error("a TLS 1.1 client was served")
	}

	// Plain HTTP to the TLS port gets no health answer (Go's server
	// replies 400 to a plaintext request on a TLS listener).
	plain := "http://" + strings.TrimPrefix(m.URL(), "https://") + "healthz"
	resp, err := http.Get(plain)
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || strings.Contains(string(b), `"status"`) {
			t.Errorf("plain HTTP to the TLS port = %d %s, want a failure", resp.StatusCode, b)
		}
	}
}

func TestTLSBadKey(t *testing.T) {
	cfg := testConfig(t)
	cert, _, _ := mustSelfSigned(t)
	cfg.TLS.Cert, cfg.TLS.Key = cert, cert // a certificate is not a key
	err := New(cfg, testLogger(t, io.Discard), testOptions(io.Discard)).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "server: tls:") {
		t.Fatalf("Run = %v, want a TLS error", err)
	}
}
