package vpcd

import "errors"

// Protocol errors.
var (
	// ErrEmptyFrame is returned when vpcd sends a frame with a zero length,
	// which the protocol never uses.
	ErrEmptyFrame = errors.New("vpcd: empty frame")

	// ErrFrameTooLarge is returned when the card produces an ATR or a
	// response APDU longer than MaxFrame, which a 2-byte length cannot carry.
	ErrFrameTooLarge = errors.New("vpcd: frame larger than 65535 bytes")
)
