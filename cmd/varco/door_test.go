package main

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/varco-access/varco/admin/config"
	doorconfig "github.com/varco-access/varco/controller/config"
	"github.com/varco-access/varco/wire"
	"github.com/varco-access/varco/wire/sitepki"
)

// adminDataDir makes the data directory varco-admin leaves after its
// first start: the site key and the MQTT CA for site.
func adminDataDir(t *testing.T, site string) (dir string, ca *sitepki.CA, pub string) {
	t.Helper()
	dir = t.TempDir()
	ca, err := sitepki.NewCA(site, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(filepath.Join(dir, config.MQTTDir)); err != nil {
		t.Fatal(err)
	}
	key, err := wire.GenerateSiteKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := wire.WritePrivateKey(filepath.Join(dir, config.SiteKeyFile), key); err != nil {
		t.Fatal(err)
	}
	return dir, ca, wire.EncodePublicKey(key.Public().(ed25519.PublicKey))
}

func TestDoorProvision(t *testing.T) {
	ctx := context.Background()
	data, ca, pub := adminDataDir(t, "hq")
	out := filepath.Join(t.TempDir(), "front-door")
	code, stdout, stderr := runCLI(t, ctx, "door", "provision", "--data-dir", data, "--door", "front", "--broker", "mqtts://varco.example.it:8883", "-out", out)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}

	for name, want := range map[string]os.FileMode{"": 0o700, "front.key": 0o600, "front.crt": 0o644, "ca.crt": 0o644, "site.pub": 0o644} {
		fi, err := os.Stat(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", filepath.Join(out, name), got, want)
		}
	}

	// The certificate is the door's identity, signed by the site CA, for
	// client authentication, and the key is its key.
	certPEM, _ := os.ReadFile(filepath.Join(out, "front.crt"))
	keyPEM, _ := os.ReadFile(filepath.Join(out, "front.key"))
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Errorf("key and certificate do not match: %v", err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("front.crt: no PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.CertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the certificate does not verify against the site CA: %v", err)
	}
	if role, id, err := sitepki.ParseIdentity(cert.Subject.CommonName); err != nil || role != sitepki.RoleDoor || id != "front" {
		t.Errorf("identity %q: %v %q %v", cert.Subject.CommonName, role, id, err)
	}
	caPEM, _ := os.ReadFile(filepath.Join(out, "ca.crt"))
	if string(caPEM) != string(ca.CertPEM()) {
		t.Error("ca.crt is not the site CA")
	}
	sitePub, _ := os.ReadFile(filepath.Join(out, "site.pub"))
	if strings.TrimSpace(string(sitePub)) != pub {
		t.Errorf("site.pub = %q, want %q", sitePub, pub)
	}
	if _, err := wire.ParsePublicKey(strings.TrimSpace(string(sitePub))); err != nil {
		t.Error(err)
	}

	// The printed lines are TOML with the door's settings.
	var snippet struct {
		Site struct {
			ID        string `toml:"id"`
			PublicKey string `toml:"site_public_key"`
		} `toml:"site"`
		MQTT struct {
			Broker string `toml:"broker"`
			CA     string `toml:"ca"`
		} `toml:"mqtt"`
		Doors []struct {
			ID string `toml:"id"`
		} `toml:"doors"`
	}
	if _, err := toml.Decode(stdout, &snippet); err != nil {
		t.Fatalf("stdout is not TOML: %v\n%s", err, stdout)
	}
	if snippet.Site.ID != "hq" || snippet.Site.PublicKey != pub || snippet.MQTT.Broker != "mqtts://varco.example.it:8883" ||
		snippet.MQTT.CA != doorCAFile || len(snippet.Doors) != 1 || snippet.Doors[0].ID != "front" {
		t.Errorf("snippet %+v\n%s", snippet, stdout)
	}

	// varco-door reads it: with a controller id and a door's reader and
	// pins added, it is a valid door configuration that pins the site
	// key and finds the certificate where the comments say to copy it.
	doorTOML := "controller_id = \"c1\"\n" + stdout + "reader = \"virtual\"\nrelay_pin = \"GPIO26\"\n"
	dc, err := doorconfig.Parse("varco-door.toml", []byte(doorTOML))
	if err != nil {
		t.Fatalf("varco-door refuses the printed lines: %v\n%s", err, doorTOML)
	}
	if k, err := dc.Site.Key(); err != nil || wire.EncodePublicKey(k) != pub {
		t.Errorf("site key %v, %v", k, err)
	}
	if c, k := dc.DoorTLS(dc.Doors[0]); !strings.Contains(stdout, c) || !strings.Contains(stdout, k) {
		t.Errorf("varco-door looks for %s and %s, not where the comments say", c, k)
	}
	if dc.MQTT.CA != doorCAFile || dc.Site.ID != "hq" {
		t.Errorf("mqtt %+v site %+v", dc.MQTT, dc.Site)
	}

	// Again: refused without --force, the files kept.
	code, _, stderr = runCLI(t, ctx, "door", "provision", "--data-dir", data, "--door", "front", "-out", out)
	if code != exitFail || !strings.Contains(stderr, "--force") {
		t.Errorf("second run: exit %d, stderr %q", code, stderr)
	}
	if again, _ := os.ReadFile(filepath.Join(out, "front.key")); string(again) != string(keyPEM) {
		t.Error("the key was replaced without --force")
	}
	code, _, stderr = runCLI(t, ctx, "door", "provision", "--data-dir", data, "--door", "front", "--site", "other", "--force", "-out", out)
	if code != exitOK {
		t.Fatalf("--force: exit %d, %s", code, stderr)
	}
	if again, _ := os.ReadFile(filepath.Join(out, "front.key")); string(again) == string(keyPEM) {
		t.Error("--force kept the old key")
	}
}

func TestDoorProvisionErrors(t *testing.T) {
	ctx := context.Background()
	data, _, _ := adminDataDir(t, "hq")
	empty := t.TempDir()
	noKey := t.TempDir()
	ca, err := sitepki.NewCA("hq", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(filepath.Join(noKey, config.MQTTDir)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"-h"}, exitOK, "-data-dir"},
		{"no door", []string{"--data-dir", data, "-out", out}, exitUsage, "--door ID and -out DIR are required"},
		{"no out", []string{"--data-dir", data, "--door", "d"}, exitUsage, "--door ID and -out DIR are required"},
		{"bad door", []string{"--data-dir", data, "--door", "front/+", "-out", out}, exitUsage, `--door "front/+"`},
		{"bad site", []string{"--data-dir", data, "--door", "d", "--site", "a b", "-out", out}, exitUsage, `--site "a b"`},
		{"plain broker", []string{"--data-dir", data, "--door", "d", "--broker", "mqtt://x:1883", "-out", out}, exitUsage, "MQTT over TLS"},
		{"no CA", []string{"--data-dir", empty, "--door", "d", "-out", out}, exitFail, "start varco-admin once first"},
		{"no site key", []string{"--data-dir", noKey, "--door", "d", "-out", out}, exitFail, "start varco-admin once first"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, ctx, append([]string{"door", "provision"}, tt.args...)...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d (want %d), stderr %q (want %q), stdout %q", code, tt.code, stderr, tt.want, stdout)
			}
		})
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed run made %s: %v", out, err)
	}
}
