package pcscdtest_test

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"github.com/varco-access/varco/reader/pcsc/pcscdtest"
)

func TestMain(m *testing.M) { pcscdtest.Main(m) }

type echoCard struct{}

func (echoCard) ATR() []byte { return []byte{0x3B, 0x80, 0x80, 0x01, 0x01} }
func (echoCard) Reset()      {}
func (echoCard) Transmit(apdu []byte) ([]byte, error) {
	return append(slices.Clone(apdu), 0x90, 0x00), nil
}

func establish(t *testing.T) *scard.Context {
	t.Helper()
	c, err := scard.EstablishContext()
	if err != nil {
		t.Fatalf("EstablishContext: %v", err)
	}
	t.Cleanup(func() { c.Release() })
	return c
}

// waitPresent waits until pcscd reports a card in reader (vpcd is polled,
// so this takes up to about half a second).
func waitPresent(t *testing.T, c *scard.Context, reader string) {
	t.Helper()
	rs := []scard.ReaderState{{Reader: reader, CurrentState: scard.StateUnaware}}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if err := c.GetStatusChange(rs, time.Second); err != nil && !errors.Is(err, scard.ErrTimeout) {
			t.Fatalf("GetStatusChange: %v", err)
		}
		if rs[0].EventState&scard.StatePresent != 0 {
			return
		}
		rs[0].CurrentState = rs[0].EventState &^ scard.StateChanged
	}
	t.Fatalf("no card in %q", reader)
}

// TestStart: the daemon lists its two vpcd readers under the announced
// names, and a card inserted with InsertCard answers through PC/SC.
func TestStart(t *testing.T) {
	d := pcscdtest.Start(t)
	if d.Private() && os.Getenv("PCSCLITE_CSOCK_NAME") == "" {
		t.Error("private daemon but PCSCLITE_CSOCK_NAME is not set")
	}
	c := establish(t)
	readers, err := c.ListReaders()
	if err != nil {
		t.Fatalf("ListReaders: %v", err)
	}
	for _, n := range d.ReaderNames() {
		if !slices.Contains(readers, n) {
			t.Errorf("reader %q not in %q", n, readers)
		}
	}
	if len(d.VPCDAddrs()) != 2 {
		t.Fatalf("VPCDAddrs = %q, want two", d.VPCDAddrs())
	}

	for i, addr := range d.VPCDAddrs() {
		name := d.ReaderNames()[i]
		pcscdtest.InsertCard(t, addr, echoCard{})
		waitPresent(t, c, name)
		card, err := c.Connect(name, scard.ShareExclusive, scard.ProtocolAny)
		if err != nil {
			t.Fatalf("Connect %q: %v", name, err)
		}
		apdu := []byte{0x00, 0xB0, 0x81, 0x00, 0x0C}
		resp, err := card.Transmit(apdu)
		if want := append(slices.Clone(apdu), 0x90, 0x00); err != nil || !bytes.Equal(resp, want) {
			t.Errorf("Transmit on %q = % X, %v; want % X", name, resp, err, want)
		}
		card.Disconnect(scard.ResetCard)
	}
}

// TestKillRestart: after Kill the PC/SC service is gone; after Restart it
// answers again on the same socket path with the same readers.
func TestKillRestart(t *testing.T) {
	d := pcscdtest.Start(t)
	d.Kill()
	if c, err := scard.EstablishContext(); err == nil {
		_, err = c.ListReaders()
		c.Release()
		if err == nil {
			t.Fatal("PC/SC still answers after Kill")
		}
	}
	d.Restart()
	c := establish(t)
	readers, err := c.ListReaders()
	if err != nil {
		t.Fatalf("ListReaders after Restart: %v", err)
	}
	if !slices.Equal(readers, d.ReaderNames()) {
		t.Errorf("readers after Restart = %q, want %q", readers, d.ReaderNames())
	}
	pcscdtest.InsertCard(t, d.VPCDAddrs()[1], echoCard{})
	waitPresent(t, c, d.ReaderNames()[1])

	d.Stop()
	d.Stop() // idempotent
	if c2, err := scard.EstablishContext(); err == nil {
		c2.Release()
		t.Error("EstablishContext works after Stop")
	}
}

// TestSequentialDaemons: a second Daemon in the same process (after the
// first one's test ended) works with libpcsclite's cached socket path.
func TestSequentialDaemons(t *testing.T) {
	for _, name := range []string{"first", "second"} {
		t.Run(name, func(t *testing.T) {
			d := pcscdtest.Start(t)
			c := establish(t)
			if _, err := c.ListReaders(); err != nil {
				t.Fatalf("ListReaders: %v", err)
			}
			pcscdtest.InsertCard(t, d.VPCDAddrs()[0], echoCard{})
			waitPresent(t, c, d.ReaderNames()[0])
		})
	}
}
