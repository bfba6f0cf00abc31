package sitepki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mustCA(tb testing.TB, site string, now time.Time) *CA {
	tb.Helper()
	ca, err := NewCA(site, now)
	if err != nil {
		tb.Fatal(err)
	}
	return ca
}

func mustParse(tb testing.TB, certPEM []byte) *x509.Certificate {
	tb.Helper()
	b, _ := pem.Decode(certPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		tb.Fatalf("not a PEM certificate: %q", certPEM)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func mustClient(tb testing.TB, ca *CA, id string, now time.Time) (certPEM, keyPEM []byte) {
	tb.Helper()
	c, k, err := ca.ClientCert(id, now)
	if err != nil {
		tb.Fatal(err)
	}
	return c, k
}

func mustServer(tb testing.TB, ca *CA, now time.Time) (certPEM, keyPEM []byte) {
	tb.Helper()
	c, k, err := ca.ServerCert([]string{"localhost", "127.0.0.1", "::1"}, now)
	if err != nil {
		tb.Fatal(err)
	}
	return c, k
}

func TestNewCA(t *testing.T) {
	ca := mustCA(t, "demo", t0)
	c := ca.Certificate()
	if got, want := c.Subject.CommonName, "Varco site demo MQTT CA"; got != want {
		t.Errorf("CN %q, want %q", got, want)
	}
	if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("basic constraints: IsCA %v valid %v MaxPathLen %d zero %v", c.IsCA, c.BasicConstraintsValid, c.MaxPathLen, c.MaxPathLenZero)
	}
	if c.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("key usage %v", c.KeyUsage)
	}
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key %T, want ECDSA P-256", c.PublicKey)
	}
	if !c.NotBefore.Equal(t0.Add(-Backdate).Truncate(time.Second)) || !c.NotAfter.Equal(t0.Add(CAValidity)) {
		t.Errorf("validity %v .. %v", c.NotBefore, c.NotAfter)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	if !strings.Contains(string(ca.CertPEM()), "BEGIN CERTIFICATE") {
		t.Error("CertPEM is not PEM")
	}
	for _, bad := range []string{"", "a/b", "+", "#", strings.Repeat("x", 65)} {
		if _, err := NewCA(bad, t0); err == nil {
			t.Errorf("NewCA(%q) accepted", bad)
		}
	}
}

// TestChain: leaf certificates verify against the CA pool for their own
// purpose only, at the times they are valid, and not against another
// site's CA.
func TestChain(t *testing.T) {
	ca := mustCA(t, "demo", t0)
	other := mustCA(t, "demo", t0)
	srv := mustParse(t, first(mustServer(t, ca, t0)))
	cli := mustParse(t, first(mustClient(t, ca, DoorIdentity("d1"), t0)))
	server, client := x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth

	if got, want := cli.Subject.CommonName, "door:d1"; got != want {
		t.Errorf("client CN %q, want %q", got, want)
	}
	if len(srv.DNSNames) != 1 || srv.DNSNames[0] != "localhost" || len(srv.IPAddresses) != 2 {
		t.Errorf("server SANs %v %v", srv.DNSNames, srv.IPAddresses)
	}
	if !cli.NotAfter.Equal(t0.Add(LeafValidity)) {
		t.Errorf("client NotAfter %v, want %v", cli.NotAfter, t0.Add(LeafValidity))
	}

	for _, tc := range []struct {
		name string
		cert *x509.Certificate
		pool *x509.CertPool
		at   time.Time
		eku  x509.ExtKeyUsage
		ok   bool
	}{
		{"server as server", srv, ca.CertPool(), t0, server, true},
		{"client as client", cli, ca.CertPool(), t0, client, true},
		{"client near its end", cli, ca.CertPool(), t0.Add(LeafValidity - time.Minute), client, true},
		{"server as client", srv, ca.CertPool(), t0, client, false},
		{"client as server", cli, ca.CertPool(), t0, server, false},
		{"client expired", cli, ca.CertPool(), t0.Add(LeafValidity + time.Minute), client, false},
		{"client not yet valid", cli, ca.CertPool(), t0.Add(-2 * Backdate), client, false},
		{"client backdated an hour", cli, ca.CertPool(), t0.Add(-Backdate / 2), client, true},
		{"another CA", cli, other.CertPool(), t0, client, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cert.Verify(x509.VerifyOptions{Roots: tc.pool, CurrentTime: tc.at, KeyUsages: []x509.ExtKeyUsage{tc.eku}})
			if (err == nil) != tc.ok {
				t.Errorf("Verify: %v, want ok=%v", err, tc.ok)
			}
		})
	}

	// MaxPathLen 0: an intermediate CA made with the site CA's key does
	// not make its leaves valid.
	ikey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	itmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "rogue intermediate"},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	ider, err := x509.CreateCertificate(rand.Reader, itmpl, ca.cert, &ikey.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	inter, _ := x509.ParseCertificate(ider)
	lkey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ltmpl := &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "admin"},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{client},
	}
	lder, err := x509.CreateCertificate(rand.Reader, ltmpl, inter, &lkey.PublicKey, ikey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(lder)
	inters := x509.NewCertPool()
	inters.AddCert(inter)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.CertPool(), Intermediates: inters, CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{client}}); err == nil {
		t.Error("a leaf under an intermediate verified: MaxPathLen 0 not enforced")
	}
}

func first(a, _ []byte) []byte { return a }

func TestLeafNeverOutlivesCA(t *testing.T) {
	ca := mustCA(t, "demo", t0)
	late := t0.Add(CAValidity - 24*time.Hour)
	c := mustParse(t, first(mustClient(t, ca, AdminIdentity, late)))
	if !c.NotAfter.Equal(ca.cert.NotAfter) {
		t.Errorf("NotAfter %v, want the CA's %v", c.NotAfter, ca.cert.NotAfter)
	}
}

func TestCertArguments(t *testing.T) {
	ca := mustCA(t, "demo", t0)
	for _, id := range []string{"", "door:", "door", "door:a/b", "door:+", "station:#", "root", "Admin", "door:a:b", "gate:a"} {
		if _, _, err := ca.ClientCert(id, t0); !errors.Is(err, ErrBadIdentity) {
			t.Errorf("ClientCert(%q): %v, want ErrBadIdentity", id, err)
		}
	}
	for _, hosts := range [][]string{nil, {}, {""}, {"localhost", ""}} {
		if _, _, err := ca.ServerCert(hosts, t0); err == nil {
			t.Errorf("ServerCert(%q) accepted", hosts)
		}
	}
}

func TestParseIdentity(t *testing.T) {
	for _, tc := range []struct {
		in   string
		role Role
		id   string
	}{
		{"admin", RoleAdmin, ""},
		{"door:A", RoleDoor, "A"},
		{"door:admin", RoleDoor, "admin"},
		{"station:enrol-1", RoleStation, "enrol-1"},
		{DoorIdentity("x.y_z-1"), RoleDoor, "x.y_z-1"},
		{StationIdentity("s"), RoleStation, "s"},
		{"", "", ""},
		{"admin:x", "", ""},
		{"door:", "", ""},
		{"door:a/b", "", ""},
		{"door:a b", "", ""},
		{"door:$SYS", "", ""},
		{"station:" + strings.Repeat("s", 65), "", ""},
		{"door:A\x00", "", ""},
	} {
		role, id, err := ParseIdentity(tc.in)
		if tc.role == "" {
			if !errors.Is(err, ErrBadIdentity) {
				t.Errorf("ParseIdentity(%q) = %q %q %v, want ErrBadIdentity", tc.in, role, id, err)
			}
			continue
		}
		if err != nil || role != tc.role || id != tc.id {
			t.Errorf("ParseIdentity(%q) = %q %q %v, want %q %q", tc.in, role, id, err, tc.role, tc.id)
		}
	}
}

// handshake runs a TLS handshake over loopback TCP and returns the
// server's connection state and both sides' errors. The client also reads
// once, so that a TLS 1.3 client learns that the server refused its
// certificate (TLS 1.3 sends that alert after the client's Finished).
func handshake(t *testing.T, server, client *tls.Config) (tls.ConnectionState, error, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		cs  tls.ConnectionState
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		tc := tls.Server(c, server)
		err = tc.Handshake()
		if err == nil {
			_, err = tc.Write([]byte("ok"))
		}
		done <- result{tc.ConnectionState(), err}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	tc := tls.Client(c, client)
	cerr := tc.Handshake()
	if cerr == nil {
		_, cerr = io.ReadFull(tc, make([]byte, 2))
	}
	r := <-done
	return r.cs, r.err, cerr
}

func TestTLS(t *testing.T) {
	now := time.Now()
	ca := mustCA(t, "demo", now)
	other := mustCA(t, "demo", now)
	caPEM := ca.CertPEM()
	sc, sk := mustServer(t, ca, now)
	dc, dk := mustClient(t, ca, DoorIdentity("A"), now)
	oc, ok := mustClient(t, other, DoorIdentity("A"), now)
	xc, xk := mustClient(t, ca, DoorIdentity("A"), now.Add(-LeafValidity-time.Hour)) // expired an hour ago
	os1, ok1 := mustServer(t, other, now)
	// A certificate for localhost with only the client key usage: the
	// client must refuse it for its key usage alone.
	lc, lk, err := ca.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, now)
	if err != nil {
		t.Fatal(err)
	}

	serverCfg := func(t *testing.T, c, k []byte) *tls.Config {
		cfg, err := ServerTLSConfig(c, k, caPEM)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	clientCfg := func(t *testing.T, c, k []byte) *tls.Config {
		cfg, err := ClientTLSConfig(c, k, caPEM, "localhost")
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}

	t.Run("door", func(t *testing.T) {
		cs, serr, cerr := handshake(t, serverCfg(t, sc, sk), clientCfg(t, dc, dk))
		if serr != nil || cerr != nil {
			t.Fatalf("server %v, client %v", serr, cerr)
		}
		id, err := Identity(cs)
		if err != nil || id != "door:A" {
			t.Errorf("Identity = %q, %v; want door:A", id, err)
		}
		if cs.Version < tls.VersionTLS12 {
			t.Errorf("TLS version %x", cs.Version)
		}
	})
	for _, tc := range []struct {
		name           string
		server, client *tls.Config
		serverFails    bool // else the client refuses the server
	}{
		{"no client certificate", serverCfg(t, sc, sk), &tls.Config{RootCAs: ca.CertPool(), ServerName: "localhost"}, true},
		{"client certificate of another CA", serverCfg(t, sc, sk), clientCfg(t, oc, ok), true},
		{"expired client certificate", serverCfg(t, sc, sk), clientCfg(t, xc, xk), true},
		{"server certificate used by a client", serverCfg(t, sc, sk), clientCfg(t, sc, sk), true},
		{"client certificate used by the server", serverCfg(t, dc, dk), clientCfg(t, dc, dk), false},
		{"server certificate without the server key usage", serverCfg(t, lc, lk), clientCfg(t, dc, dk), false},
		{"server of another CA", serverCfg(t, os1, ok1), clientCfg(t, dc, dk), false},
		{"wrong server name", serverCfg(t, sc, sk), func() *tls.Config { c := clientCfg(t, dc, dk); c.ServerName = "mqtt.example.org"; return c }(), false},
		{"TLS 1.1 client", serverCfg(t, sc, sk), func() *tls.Config {
			c := clientCfg(t, dc, dk)
			c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
			return c
		}(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, serr, cerr := handshake(t, tc.server, tc.client)
			if serr == nil || cerr == nil {
				t.Fatalf("handshake went through: server err %v, client err %v", serr, cerr)
			}
			// The side that refuses reports its own reason; the other
			// gets the refusal as a TLS alert ("remote error").
			refuser, peer := cerr, serr
			if tc.serverFails {
				refuser, peer = serr, cerr
			}
			if strings.Contains(refuser.Error(), "remote error") {
				t.Errorf("the wrong side refused: refuser %v, peer %v", refuser, peer)
			}
			t.Logf("refused: %v", refuser)
			if _, err := Identity(cs); err == nil {
				t.Error("Identity of a failed handshake")
			}
		})
	}

	t.Run("requested but unverified certificate has no identity", func(t *testing.T) {
		cfg := serverCfg(t, sc, sk)
		cfg.ClientAuth = tls.RequestClientCert // the certificate is taken, not verified
		cs, serr, cerr := handshake(t, cfg, clientCfg(t, oc, ok))
		if serr != nil || cerr != nil {
			t.Fatalf("server %v, client %v", serr, cerr)
		}
		if len(cs.PeerCertificates) == 0 {
			t.Fatal("no peer certificate")
		}
		if id, err := Identity(cs); !errors.Is(err, ErrNoIdentity) {
			t.Errorf("Identity = %q, %v; want ErrNoIdentity", id, err)
		}
	})
}

func TestTLSConfigErrors(t *testing.T) {
	ca := mustCA(t, "demo", t0)
	c, k := mustClient(t, ca, AdminIdentity, t0)
	_, k2 := mustClient(t, ca, AdminIdentity, t0)
	for name, f := range map[string]func() error{
		"server mismatched key": func() error { _, err := ServerTLSConfig(c, k2, ca.CertPEM()); return err },
		"server no CA":          func() error { _, err := ServerTLSConfig(c, k, nil); return err },
		"client garbage":        func() error { _, err := ClientTLSConfig([]byte("x"), k, ca.CertPEM(), ""); return err },
		"client no CA":          func() error { _, err := ClientTLSConfig(c, k, []byte("nope"), ""); return err },
	} {
		if err := f(); !errors.Is(err, ErrBadPEM) {
			t.Errorf("%s: %v, want ErrBadPEM", name, err)
		}
	}
	cfg, err := ServerTLSConfig(c, k, ca.CertPEM())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientAuth != tls.RequireAndVerifyClientCert || cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("server config: ClientAuth %v MinVersion %x", cfg.ClientAuth, cfg.MinVersion)
	}
}

func TestSaveLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	ca := mustCA(t, "demo", t0)
	if err := ca.Save(dir); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{".": 0o700, CertFile: 0o644, KeyFile: 0o600} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != want {
			t.Errorf("%s mode %#o, want %#o", name, got, want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("dir holds %d entries, want ca.crt and ca.key only (no temporary files)", len(entries))
	}

	got, err := LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Certificate().Equal(ca.Certificate()) || !got.key.Equal(ca.key) {
		t.Fatal("loaded CA differs")
	}
	// The loaded CA issues certificates the original's pool accepts.
	c := mustParse(t, first(mustClient(t, got, DoorIdentity("A"), t0)))
	if _, err := c.Verify(x509.VerifyOptions{Roots: ca.CertPool(), CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Error(err)
	}

	// Saving again replaces both files atomically.
	ca2 := mustCA(t, "demo", t0)
	if err := ca2.Save(dir); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadCA(dir); err != nil || !got.Certificate().Equal(ca2.Certificate()) {
		t.Fatalf("after a second Save: %v", err)
	}
}

func TestLoadCARefuses(t *testing.T) {
	write := func(t *testing.T, dir, name string, data []byte, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	ca := mustCA(t, "demo", t0)
	other := mustCA(t, "demo", t0)
	caKey, _ := encodeKey(ca.key)
	otherKey, _ := encodeKey(other.key)
	leafPEM, leafKey := mustClient(t, ca, AdminIdentity, t0)

	for _, tc := range []struct {
		name      string
		cert, key []byte
		keyMode   os.FileMode
		want      error // nil: any error naming the file
		wantText  string
	}{
		{"key readable by others", ca.CertPEM(), caKey, 0o644, nil, "chmod 600"},
		{"key readable by group", ca.CertPEM(), caKey, 0o640, nil, "chmod 600"},
		{"key of another CA", ca.CertPEM(), otherKey, 0o600, ErrBadPEM, KeyFile},
		{"leaf certificate", leafPEM, leafKey, 0o600, ErrNotCA, CertFile},
		{"garbage certificate", []byte("hello"), caKey, 0o600, ErrBadPEM, CertFile},
		{"two certificates", append(ca.CertPEM(), other.CertPEM()...), caKey, 0o600, ErrBadPEM, CertFile},
		{"garbage key", ca.CertPEM(), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600, ErrBadPEM, KeyFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, CertFile, tc.cert, 0o644)
			write(t, dir, KeyFile, tc.key, tc.keyMode)
			_, err := LoadCA(dir)
			if err == nil {
				t.Fatal("LoadCA accepted it")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q does not mention %q", err, tc.wantText)
			}
		})
	}
	if _, err := LoadCA(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("empty dir: %v, want ErrNotExist", err)
	}
}
