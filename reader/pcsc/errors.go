package pcsc

import "errors"

// Errors of the PC/SC transport. The scard error that caused one is kept in
// the chain: test it with errors.Is(err, scard.ErrRemovedCard) and the like.
var (
	// ErrCardRemoved is returned when the card left the reader (or was
	// reset or powered down by someone else) during the session, so the
	// session's state on the card is gone.
	ErrCardRemoved = errors.New("pcsc: card removed")

	// ErrCardClosed is returned when Transmit is called on a Card whose
	// session has ended (Close was called, or OnCard returned).
	ErrCardClosed = errors.New("pcsc: card session closed")

	// ErrNoOnCard is returned by Monitor.Run when Options.OnCard is nil.
	ErrNoOnCard = errors.New("pcsc: Options.OnCard is nil")

	// ErrRunning is returned by Monitor.Run when the Monitor is already
	// running.
	ErrRunning = errors.New("pcsc: monitor already running")
)
