package pcsc

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/ebfe/scard"

	"github.com/varco-access/varco/reader"
)

// Card is a card connected through PC/SC. It implements reader.Transmitter;
// Transmit and Close may be called from several goroutines.
type Card struct {
	reader string
	atr    []byte

	mu     sync.Mutex // serialises Transmit and Close
	h      cardHandle
	closed bool
}

var _ reader.Transmitter = (*Card)(nil)

// NewCard wraps a card connected with scard.Context.Connect. readerName and
// atr are only reported back by Reader and ATR; either may be empty.
func NewCard(c *scard.Card, readerName string, atr []byte) *Card {
	return newCard(c, readerName, atr)
}

func newCard(h cardHandle, readerName string, atr []byte) *Card {
	return &Card{h: h, reader: readerName, atr: slices.Clone(atr)}
}

// Reader returns the name of the reader the card is in.
func (c *Card) Reader() string { return c.reader }

// ATR returns the card's Answer To Reset as pcscd reported it when the card
// arrived (a copy).
func (c *Card) ATR() []byte { return slices.Clone(c.atr) }

// Transmit sends one command APDU and returns the response APDU. It returns
// ErrCardRemoved (wrapping the scard error) when the card is gone,
// reader.ErrShortResponse when the response has fewer than the two status
// bytes, and ErrCardClosed after Close.
func (c *Card) Transmit(apdu []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrCardClosed
	}
	resp, err := c.h.Transmit(apdu)
	if err != nil {
		return nil, fmt.Errorf("pcsc: transmit: %w", mapError(err))
	}
	if len(resp) < 2 {
		return nil, fmt.Errorf("pcsc: transmit: %d-byte response: %w", len(resp), reader.ErrShortResponse)
	}
	return resp, nil
}

// Close ends the session with disposition d and makes later Transmit calls
// fail with ErrCardClosed. It waits for a Transmit in progress. Closing a
// card that has left the reader is not an error; closing twice returns nil.
func (c *Card) Close(d scard.Disposition) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if err := c.h.Disconnect(d); err != nil && !errors.Is(mapError(err), ErrCardRemoved) {
		return fmt.Errorf("pcsc: disconnect: %w", err)
	}
	return nil
}

// mapError wraps the scard errors that mean the card's session is over
// (removed, reset or powered down by someone else, no card) in
// ErrCardRemoved, keeping the original in the chain.
func mapError(err error) error {
	var e scard.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e {
	case scard.ErrRemovedCard, scard.ErrResetCard, scard.ErrNoSmartcard, scard.ErrUnpoweredCard:
		return fmt.Errorf("%w (%w)", ErrCardRemoved, err)
	}
	return err
}
