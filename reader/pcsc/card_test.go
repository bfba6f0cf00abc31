package pcsc

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ebfe/scard"

	"github.com/varco-access/varco/reader"
)

// stubHandle answers every Transmit with resp, err.
type stubHandle struct {
	resp     []byte
	err      error
	discErr  error
	disposed []scard.Disposition
}

func (h *stubHandle) Transmit([]byte) ([]byte, error) { return h.resp, h.err }
func (h *stubHandle) Disconnect(d scard.Disposition) error {
	h.disposed = append(h.disposed, d)
	return h.discErr
}

func TestCardTransmit(t *testing.T) {
	tests := []struct {
		name     string
		resp     []byte
		err      error
		want     []byte
		wantErrs []error // all must match with errors.Is
		removed  bool    // errors.Is(err, ErrCardRemoved)
	}{
		{name: "status only", resp: []byte{0x90, 0x00}, want: []byte{0x90, 0x00}},
		{name: "data and status", resp: []byte{0x31, 0x32, 0x90, 0x00}, want: []byte{0x31, 0x32, 0x90, 0x00}},
		{name: "empty response (card left mid-command)", resp: []byte{}, wantErrs: []error{reader.ErrShortResponse}},
		{name: "one byte", resp: []byte{0x90}, wantErrs: []error{reader.ErrShortResponse}},
		{name: "removed", removed: true, err: scard.ErrRemovedCard, wantErrs: []error{ErrCardRemoved, scard.ErrRemovedCard}},
		{name: "reset by another", removed: true, err: scard.ErrResetCard, wantErrs: []error{ErrCardRemoved, scard.ErrResetCard}},
		{name: "no card", removed: true, err: scard.ErrNoSmartcard, wantErrs: []error{ErrCardRemoved, scard.ErrNoSmartcard}},
		{name: "unpowered", removed: true, err: scard.ErrUnpoweredCard, wantErrs: []error{ErrCardRemoved, scard.ErrUnpoweredCard}},
		{name: "transaction failed stays itself", err: scard.ErrNotTransacted, wantErrs: []error{scard.ErrNotTransacted}},
		{name: "service gone stays itself", err: scard.ErrNoService, wantErrs: []error{scard.ErrNoService}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCard(&stubHandle{resp: tt.resp, err: tt.err}, "R", nil)
			got, err := c.Transmit([]byte{0x00, 0xB0, 0x81, 0x00, 0x0C})
			if len(tt.wantErrs) == 0 {
				if err != nil || !bytes.Equal(got, tt.want) {
					t.Fatalf("Transmit = % X, %v; want % X", got, err, tt.want)
				}
				return
			}
			for _, w := range tt.wantErrs {
				if !errors.Is(err, w) {
					t.Errorf("Transmit error = %v, want one matching %v", err, w)
				}
			}
			if errors.Is(err, ErrCardRemoved) != tt.removed {
				t.Errorf("errors.Is(%v, ErrCardRemoved) = %v, want %v", err, !tt.removed, tt.removed)
			}
			if got != nil {
				t.Errorf("Transmit returned % X with an error", got)
			}
		})
	}
}

func TestCardClose(t *testing.T) {
	h := &stubHandle{resp: []byte{0x90, 0x00}}
	atr := []byte{0x3B, 0x80}
	c := newCard(h, "R", atr)
	atr[0] = 0 // the Card keeps its own copy
	if c.Reader() != "R" || !bytes.Equal(c.ATR(), []byte{0x3B, 0x80}) {
		t.Errorf("Reader, ATR = %q, % X", c.Reader(), c.ATR())
	}
	if err := c.Close(scard.ResetCard); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(scard.LeaveCard); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if len(h.disposed) != 1 || h.disposed[0] != scard.ResetCard {
		t.Errorf("dispositions = %v, want one ResetCard", h.disposed)
	}
	if _, err := c.Transmit([]byte{0x00, 0xC0, 0x00, 0x00}); !errors.Is(err, ErrCardClosed) {
		t.Errorf("Transmit after Close = %v, want ErrCardClosed", err)
	}

	// A card already gone closes without error; other failures surface.
	if err := newCard(&stubHandle{discErr: scard.ErrRemovedCard}, "R", nil).Close(scard.ResetCard); err != nil {
		t.Errorf("Close of a removed card = %v, want nil", err)
	}
	if err := newCard(&stubHandle{discErr: scard.ErrInvalidHandle}, "R", nil).Close(scard.ResetCard); !errors.Is(err, scard.ErrInvalidHandle) {
		t.Errorf("Close = %v, want scard.ErrInvalidHandle", err)
	}
}
