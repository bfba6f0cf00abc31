package mqttsync_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/varco-access/varco/controller/mqttsync"
	"github.com/varco-access/varco/wire/mqtttest"
	"github.com/varco-access/varco/wire/sitepki"
)

func TestTLSFilesErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		ca, cert, key string
		want          string
	}{
		{"missing ca", filepath.Join(dir, "none.crt"), "", "", "mqtt ca"},
		{"ca not PEM", junk, "", "", "no PEM certificate"},
		{"missing certificate", "", filepath.Join(dir, "door.crt"), filepath.Join(dir, "door.key"), "mqtt client certificate"},
		{"certificate not PEM", "", junk, junk, "mqtt client certificate"},
	}
	for _, tt := range tests {
		_, err := mqttsync.TLSFiles(tt.ca, tt.cert, tt.key, "")()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	cfg, err := mqttsync.TLSFiles("", "", "", "broker.example")()
	if err != nil || cfg.ServerName != "broker.example" || cfg.RootCAs != nil || len(cfg.Certificates) != 0 {
		t.Errorf("no files: %+v %v", cfg, err)
	}
}

// TestPahoCertificateLater: a door provisioned after it started keeps
// trying, and connects once its certificate is there, without a restart.
func TestPahoCertificateLater(t *testing.T) {
	b := mqtttest.StartEmbedded(t, site, doorID)
	dir := t.TempDir()
	ca, cert, key := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "mqtt", doorID+".crt"), filepath.Join(dir, "mqtt", doorID+".key")
	if err := os.WriteFile(ca, b.CA().CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	tr, err := mqttsync.NewPahoTransport(mqttsync.PahoOptions{
		Broker:   b.URL(),
		ClientID: mqttsync.ClientID(doorID),
		TLS:      mqttsync.TLSFiles(ca, cert, key, ""),
		Backoff:  mqttsync.Backoff{Min: 20 * time.Millisecond, Max: 100 * time.Millisecond},
		Log:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	up := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx, func() { up <- struct{}{} }, func(error) {}) }()
	defer func() { cancel(); <-done }()

	select {
	case <-up:
		t.Fatal("connected without a certificate")
	case <-time.After(300 * time.Millisecond):
	}
	if c := tr.Publish("x", 1, false, nil); c.Err() != mqttsync.ErrNotConnected {
		t.Errorf("publish while down: %v", c.Err())
	}
	certPEM, keyPEM, err := b.CA().ClientCert(sitepki.DoorIdentity(doorID), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(cert), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cert, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case <-up:
	case <-time.After(10 * time.Second):
		t.Fatal("not connected 10s after the certificate appeared")
	}
}
