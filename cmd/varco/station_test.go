package main

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/testpki"
	"github.com/varco-access/varco/reader/virtcie"
	"github.com/varco-access/varco/wire"
	"github.com/varco-access/varco/wire/sitepki"
)

// fakeTransport stands for the broker in the station's unit tests.
type fakeTransport struct {
	mu  sync.Mutex
	h   func(string, []byte)
	out chan []byte
}

func (f *fakeTransport) Publish(_ context.Context, topic string, _ byte, _ bool, payload []byte) error {
	if topic != wire.Topic(enrolSite, "desk-1", wire.KindEnrollResult) {
		return errors.New("wrong topic " + topic)
	}
	f.out <- payload
	return nil
}

func (f *fakeTransport) Subscribe(_ context.Context, filter string, h func(string, []byte)) error {
	if filter != wire.Topic(enrolSite, "desk-1", wire.KindEnroll) {
		return errors.New("wrong filter " + filter)
	}
	f.mu.Lock()
	f.h = h
	f.mu.Unlock()
	return nil
}

func (f *fakeTransport) deliver(msg []byte) {
	f.mu.Lock()
	h := f.h
	f.mu.Unlock()
	h(wire.Topic(enrolSite, "desk-1", wire.KindEnroll), msg)
}

// readCall is one call of the station's card read, answered by the test.
type readCall struct {
	ctx       context.Context
	challenge []byte
	reply     chan readReply
}

type readReply struct {
	rd  *reader.EnrolRead
	err error
}

// stationHarness runs runStation on a fakeTransport with a card read the
// test drives.
type stationHarness struct {
	t      *testing.T
	tr     *fakeTransport
	signer *wire.Signer
	calls  chan readCall
	out    *syncBuf
	now    time.Time
	stop   context.CancelFunc
	done   chan error
}

func startStation(t *testing.T) *stationHarness {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &stationHarness{t: t, tr: &fakeTransport{out: make(chan []byte, 10)}, signer: wire.NewSigner(priv),
		calls: make(chan readCall), out: &syncBuf{}, now: time.Now(), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	go func() {
		h.done <- runStation(ctx, stationOptions{Site: enrolSite, Station: "desk-1", SitePub: pub, Transport: h.tr, Out: h.out,
			Read: func(ctx context.Context, ch []byte) (*reader.EnrolRead, string, error) {
				c := readCall{ctx, ch, make(chan readReply, 1)}
				select {
				case h.calls <- c:
				case <-ctx.Done():
					return nil, "", ctx.Err()
				}
				select {
				case r := <-c.reply:
					return r.rd, "Virtual PCD 00 00", r.err
				case <-ctx.Done():
					return nil, "", ctx.Err()
				}
			}})
	}()
	t.Cleanup(func() { h.halt() })
	waitFor(t, "the station to subscribe", func() bool { return strings.Contains(h.out.String(), "ready") })
	return h
}

func (h *stationHarness) halt() {
	if h.stop != nil {
		h.stop()
		if err := <-h.done; err != nil {
			h.t.Errorf("runStation: %v", err)
		}
		h.stop = nil
	}
}

// send seals ch with signer (the site's, unless another) and delivers it.
func (h *stationHarness) send(ch wire.EnrollChallenge, signer *wire.Signer, door string) {
	h.t.Helper()
	msg, err := signer.Seal(wire.KindEnroll, enrolSite, door, ch)
	if err != nil {
		h.t.Fatal(err)
	}
	h.tr.deliver(msg)
}

func (h *stationHarness) challenge(id string, ttl time.Duration) wire.EnrollChallenge {
	c := make([]byte, wire.ChallengeSize)
	for i := range c {
		c[i] = byte(len(id) + i)
	}
	return wire.EnrollChallenge{ID: id, Challenge: c, ExpiresAt: time.Now().Add(ttl)}
}

func (h *stationHarness) call() readCall {
	h.t.Helper()
	select {
	case c := <-h.calls:
		return c
	case <-time.After(5 * time.Second):
		h.t.Fatal("the station did not read a card")
	}
	panic("unreachable")
}

func (h *stationHarness) noCall() {
	h.t.Helper()
	select {
	case c := <-h.calls:
		h.t.Fatalf("unexpected card read for challenge %x", c.challenge)
	case <-time.After(100 * time.Millisecond):
	}
}

func (h *stationHarness) result() wire.EnrollResult {
	h.t.Helper()
	select {
	case msg := <-h.tr.out:
		var r wire.EnrollResult
		site, door, err := wire.Decode(wire.KindEnrollResult, msg, &r)
		if err != nil || site != enrolSite || door != "desk-1" {
			h.t.Fatalf("result %s/%s: %v", site, door, err)
		}
		return r
	case <-time.After(10 * time.Second):
		h.t.Fatal("no result published")
	}
	panic("unreachable")
}

func (h *stationHarness) noResult() {
	h.t.Helper()
	select {
	case msg := <-h.tr.out:
		h.t.Fatalf("unexpected result %s", msg)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestStation: the station answers the admin's signed challenges only,
// each once, with the card's read or the reason there is none.
func TestStation(t *testing.T) {
	card, err := virtcie.New(virtcie.Options{NIS: "200000000001", PKI: testpki.Committed(t), Gen: reader.Gen2022})
	if err != nil {
		t.Fatal(err)
	}
	_, rogueKey, _ := ed25519.GenerateKey(nil)

	t.Run("a card read is sent back", func(t *testing.T) {
		h := startStation(t)
		ch := h.challenge("s1", time.Minute)
		h.send(ch, h.signer, "desk-1")
		c := h.call()
		if string(c.challenge) != string(ch.Challenge) {
			t.Fatalf("the card was asked to sign %x, not the admin's challenge", c.challenge)
		}
		if dl, ok := c.ctx.Deadline(); !ok || dl.After(ch.ExpiresAt.Add(-stationMargin+100*time.Millisecond)) {
			t.Errorf("read deadline %v, challenge expires %v", dl, ch.ExpiresAt)
		}
		rd, err := reader.ReadEnrol(card, &reader.EnrolOptions{Challenge: c.challenge})
		if err != nil {
			t.Fatal(err)
		}
		c.reply <- readReply{rd: rd}
		r := h.result()
		if r.ID != "s1" || r.NIS != card.NIS() || string(r.PublicKey) != string(rd.KeyFile) || string(r.SOD) != string(card.SOD()) ||
			reader.VerifyChallenge(card.PublicKey(), ch.Challenge, r.Signature) != nil || r.Error != "" {
			t.Errorf("result %+v", r)
		}
		// The same challenge again (a QoS 1 duplicate): not read again.
		h.send(ch, h.signer, "desk-1")
		h.noCall()
		if !strings.Contains(h.out.String(), "card NIS 200000000001 read") {
			t.Errorf("output:\n%s", h.out)
		}
	})
	t.Run("refused challenges", func(t *testing.T) {
		h := startStation(t)
		h.send(h.challenge("r1", time.Minute), wire.NewSigner(rogueKey), "desk-1") // not the site key
		h.send(h.challenge("r2", time.Minute), h.signer, "desk-2")                 // another station's
		h.send(h.challenge("r3", -time.Second), h.signer, "desk-1")                // expired
		h.noCall()
		h.noResult()
		out := h.out.String()
		if strings.Count(out, "refused an enrolment request") != 2 || !strings.Contains(out, "ignored an expired enrolment request r3") {
			t.Errorf("output:\n%s", out)
		}
	})
	t.Run("errors go to the admin", func(t *testing.T) {
		h := startStation(t)
		h.send(h.challenge("e1", time.Minute), h.signer, "desk-1")
		h.call().reply <- readReply{err: errors.New("reader: card answered 6A82")}
		if r := h.result(); r.ID != "e1" || r.Error != "the card could not be read: reader: card answered 6A82" || r.NIS != "" {
			t.Errorf("read failure: %+v", r)
		}
		// No card before the deadline.
		h.send(h.challenge("e2", stationMargin+300*time.Millisecond), h.signer, "desk-1")
		c := h.call()
		<-c.ctx.Done()
		if r := h.result(); r.ID != "e2" || !strings.HasPrefix(r.Error, "no card was presented in time") {
			t.Errorf("no card: %+v", r)
		}
		// A newer challenge replaces the one being read: only the newer
		// is answered.
		h.send(h.challenge("e3", time.Minute), h.signer, "desk-1")
		old := h.call()
		h.send(h.challenge("e4", time.Minute), h.signer, "desk-1")
		<-old.ctx.Done()
		rd, err := reader.ReadEnrol(card, nil)
		if err != nil {
			t.Fatal(err)
		}
		h.call().reply <- readReply{rd: rd}
		if r := h.result(); r.ID != "e4" {
			t.Errorf("after a newer challenge: %+v", r)
		}
		h.noResult()
		// Stopping the station mid-read tells the admin.
		h.send(h.challenge("e5", time.Minute), h.signer, "desk-1")
		h.call()
		h.halt()
		if r := h.result(); r.ID != "e5" || r.Error != errStopped.Error() {
			t.Errorf("stopped: %+v", r)
		}
	})
}

// TestStationProvision: a station certificate from the admin's data
// directory, named station:<id>, and the command line to run it with.
func TestStationProvision(t *testing.T) {
	ctx := context.Background()
	data, ca, pub := adminDataDir(t, "hq")
	out := filepath.Join(t.TempDir(), "desk")
	code, stdout, stderr := runCLI(t, ctx, "station", "provision", "--data-dir", data, "--station", "desk-1", "--broker", "mqtts://varco.example.it:8883", "-out", out)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	certPEM, _ := os.ReadFile(filepath.Join(out, "desk-1.crt"))
	keyPEM, _ := os.ReadFile(filepath.Join(out, "desk-1.key"))
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatalf("key and certificate: %v", err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.CertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the certificate does not verify against the site CA: %v", err)
	}
	if cert.Subject.CommonName != sitepki.StationIdentity("desk-1") {
		t.Errorf("Common Name %q", cert.Subject.CommonName)
	}
	if id, err := certStation(certPEM); err != nil || id != "desk-1" {
		t.Errorf("certStation: %q %v", id, err)
	}
	if s, err := pemCASite(ca.CertPEM()); err != nil || s != "hq" {
		t.Errorf("pemCASite: %q %v", s, err)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "site.pub")); strings.TrimSpace(string(got)) != pub {
		t.Errorf("site.pub %q", got)
	}
	if !strings.Contains(stdout, "varco enroll --broker mqtts://varco.example.it:8883 --cert "+filepath.Join(out, "desk-1.crt")) || !strings.Contains(stdout, "--site hq") {
		t.Errorf("stdout:\n%s", stdout)
	}
	// Again without --force: refused.
	if code, _, stderr := runCLI(t, ctx, "station", "provision", "--data-dir", data, "--station", "desk-1", "-out", out); code != exitFail || !strings.Contains(stderr, "--force") {
		t.Errorf("second run: %d %s", code, stderr)
	}
	// A door certificate is not a station's.
	doorOut := filepath.Join(t.TempDir(), "door")
	if code, _, stderr := runCLI(t, ctx, "door", "provision", "--data-dir", data, "--door", "front", "-out", doorOut); code != exitOK {
		t.Fatal(stderr)
	}
	doorPEM, _ := os.ReadFile(filepath.Join(doorOut, "front.crt"))
	if _, err := certStation(doorPEM); err == nil {
		t.Error("a door certificate was taken for a station's")
	}

	// varco enroll refuses bad command lines before connecting.
	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"-h"}, exitOK, "-site-key"},
		{"no broker", []string{"--cert", "c", "--key", "k"}, exitUsage, "--broker, --cert and --key are required"},
		{"plain MQTT", []string{"--broker", "mqtt://x:1883", "--cert", "c", "--key", "k"}, exitUsage, "MQTT over TLS"},
		{"door certificate", []string{"--broker", "mqtts://127.0.0.1:1", "--cert", filepath.Join(doorOut, "front.crt"), "--key", filepath.Join(doorOut, "front.key")}, exitFail, "want station:<id>"},
		{"other station", []string{"--broker", "mqtts://127.0.0.1:1", "--cert", filepath.Join(out, "desk-1.crt"), "--key", filepath.Join(out, "desk-1.key"), "--station", "desk-2"}, exitUsage, `certificate is station "desk-1"'s`},
		{"missing site key", []string{"--broker", "mqtts://127.0.0.1:1", "--cert", filepath.Join(out, "desk-1.crt"), "--key", filepath.Join(out, "desk-1.key"), "--site-key", filepath.Join(out, "nope.pub")}, exitFail, "nope.pub"},
		{"broker down", []string{"--broker", "mqtts://127.0.0.1:1", "--cert", filepath.Join(out, "desk-1.crt"), "--key", filepath.Join(out, "desk-1.key")}, exitFail, "connect"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, ctx, append([]string{"enroll"}, tt.args...)...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d (want %d), stderr %q (want %q), stdout %q", code, tt.code, stderr, tt.want, stdout)
			}
		})
	}
}
