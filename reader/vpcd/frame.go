package vpcd

import (
	"encoding/binary"
	"fmt"
	"io"
)

// MaxFrame is the largest payload a frame can carry: the length prefix is
// two bytes. It is also the bound on what the reader allocates per frame.
const MaxFrame = 0xFFFF

// Control messages: a frame with a 1-byte payload sent by vpcd (the values
// are those of vpcd.h in vsmartcard).
const (
	ctrlPowerOff byte = 0x00 // no reply
	ctrlPowerOn  byte = 0x01 // no reply
	ctrlReset    byte = 0x02 // no reply
	ctrlGetATR   byte = 0x04 // reply: one frame holding the ATR
)

// readFrame reads one frame (2-byte big-endian length, then the payload)
// and returns the payload in a new slice. It never allocates more than
// MaxFrame bytes. A clean end of stream before the first header byte is
// io.EOF; an end inside a frame is io.ErrUnexpectedEOF.
func readFrame(r io.Reader) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint16(hdr[:])
	if n == 0 {
		return nil, ErrEmptyFrame
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return payload, nil
}

// appendFrame appends payload to dst as one frame, so that it can go out in
// a single write (with TCP_NODELAY a split header would be its own segment).
func appendFrame(dst, payload []byte) ([]byte, error) {
	if len(payload) > MaxFrame {
		return dst, fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, len(payload))
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(payload)))
	return append(dst, payload...), nil
}
