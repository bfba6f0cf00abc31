package reader

import (
	"errors"
	"fmt"
)

// Command is an ISO 7816-4 command APDU.
//
// Ne is the number of response bytes expected: 0 means no Le field, 1..256
// encode as a short Le (256 as 00), 257..65536 force the extended form. Data
// longer than 255 bytes also forces the extended form.
type Command struct {
	CLA, INS, P1, P2 byte
	Data             []byte
	Ne               int
}

// Maximum sizes of the two APDU forms (ISO 7816-4 section 5.1).
const (
	maxShortNc    = 255
	maxShortNe    = 256
	maxExtendedNc = 65535
	maxExtendedNe = 65536
)

// Bytes encodes c in the short form when it fits and in the extended form
// otherwise. It returns an error wrapping ErrCommand when Data or Ne is out of
// range.
func (c Command) Bytes() ([]byte, error) {
	nc := len(c.Data)
	if nc > maxExtendedNc {
		return nil, fmt.Errorf("%w: %d data bytes (max %d)", ErrCommand, nc, maxExtendedNc)
	}
	if c.Ne < 0 || c.Ne > maxExtendedNe {
		return nil, fmt.Errorf("%w: Ne %d out of range 0..%d", ErrCommand, c.Ne, maxExtendedNe)
	}
	b := make([]byte, 0, 4+3+nc+3)
	b = append(b, c.CLA, c.INS, c.P1, c.P2)
	if nc <= maxShortNc && c.Ne <= maxShortNe {
		if nc > 0 {
			b = append(b, byte(nc))
			b = append(b, c.Data...)
		}
		if c.Ne > 0 {
			b = append(b, byte(c.Ne)) // 256 encodes as 00
		}
		return b, nil
	}
	// Extended form: a 00 marker, then two-byte Lc and/or Le.
	b = append(b, 0)
	if nc > 0 {
		b = append(b, byte(nc>>8), byte(nc))
		b = append(b, c.Data...)
	}
	if c.Ne > 0 {
		b = append(b, byte(c.Ne>>8), byte(c.Ne)) // 65536 encodes as 00 00
	}
	return b, nil
}

// String returns the command in hex, for logs and errors.
func (c Command) String() string {
	b, err := c.Bytes()
	if err != nil {
		return fmt.Sprintf("invalid APDU (%v)", err)
	}
	return fmt.Sprintf("% X", b)
}

// StatusWord is the SW1 SW2 trailer of a response APDU.
type StatusWord uint16

// Status words the CIE reads meet (CIE.md section 3, ISO 7816-4 table 5).
const (
	SWOK                   StatusWord = 0x9000
	SWEndOfFile            StatusWord = 0x6282 // end of file reached before Le bytes
	SWWrongLength          StatusWord = 0x6700
	SWSecurityNotSatisfied StatusWord = 0x6982
	SWAuthMethodBlocked    StatusWord = 0x6983
	SWConditionsNotMet     StatusWord = 0x6985
	SWWrongData            StatusWord = 0x6A80
	SWFuncNotSupported     StatusWord = 0x6A81
	SWNotFound             StatusWord = 0x6A82
	SWWrongP1P2            StatusWord = 0x6A86
	SWRefDataNotFound      StatusWord = 0x6A88
	SWOffsetOutOfRange     StatusWord = 0x6B00 // offset past the end of the file
	SWINSNotSupported      StatusWord = 0x6D00
	SWCLANotSupported      StatusWord = 0x6E00
	SWNoPreciseDiagnosis   StatusWord = 0x6F00
)

var swNames = map[StatusWord]string{
	SWOK:                   "ok",
	SWEndOfFile:            "end of file reached",
	SWWrongLength:          "wrong length",
	SWSecurityNotSatisfied: "security status not satisfied",
	SWAuthMethodBlocked:    "authentication method blocked",
	SWConditionsNotMet:     "conditions of use not satisfied",
	SWWrongData:            "incorrect data field",
	SWFuncNotSupported:     "function not supported",
	SWNotFound:             "file or application not found",
	SWWrongP1P2:            "incorrect P1 P2",
	SWRefDataNotFound:      "referenced data not found",
	SWOffsetOutOfRange:     "offset outside the file",
	SWINSNotSupported:      "instruction not supported",
	SWCLANotSupported:      "class not supported",
	SWNoPreciseDiagnosis:   "no precise diagnosis",
}

// SW1 returns the first status byte.
func (sw StatusWord) SW1() byte { return byte(sw >> 8) }

// SW2 returns the second status byte.
func (sw StatusWord) SW2() byte { return byte(sw) }

// Name returns a short English name for the status word.
func (sw StatusWord) Name() string {
	if n, ok := swNames[sw]; ok {
		return n
	}
	switch sw.SW1() {
	case 0x61:
		return fmt.Sprintf("%d more bytes available (GET RESPONSE)", available(sw.SW2()))
	case 0x6C:
		return fmt.Sprintf("wrong Le, exact length %d", available(sw.SW2()))
	case 0x63:
		return "warning, non-volatile memory changed"
	case 0x62:
		return "warning, non-volatile memory unchanged"
	case 0x64, 0x65:
		return "execution error"
	}
	return "unknown status"
}

// String returns the status word in hex with its name, e.g. "6A82 (file or
// application not found)".
func (sw StatusWord) String() string {
	return fmt.Sprintf("%04X (%s)", uint16(sw), sw.Name())
}

// available turns the length byte of 61xx and 6Cxx into a count (00 = 256).
func available(b byte) int {
	if b == 0 {
		return 256
	}
	return int(b)
}

// Response is a parsed response APDU.
type Response struct {
	Data []byte
	SW   StatusWord
}

// ParseResponse splits a raw response APDU into data and status word. The
// returned Data aliases b. A response of fewer than two bytes returns
// ErrShortResponse.
func ParseResponse(b []byte) (Response, error) {
	if len(b) < 2 {
		return Response{}, fmt.Errorf("%w: got %d bytes", ErrShortResponse, len(b))
	}
	n := len(b) - 2
	return Response{Data: b[:n:n], SW: StatusWord(uint16(b[n])<<8 | uint16(b[n+1]))}, nil
}

// StatusError is returned when a card answers a command with a status word
// the protocol step does not accept.
type StatusError struct {
	Step string     // protocol step, e.g. "select DF_CIE"
	SW   StatusWord // what the card answered
}

// Error implements error.
func (e *StatusError) Error() string {
	return fmt.Sprintf("reader: %s: card answered %s", e.Step, e.SW)
}

// IsStatus reports whether err is a StatusError with status word sw.
func IsStatus(err error, sw StatusWord) bool {
	var se *StatusError
	return errors.As(err, &se) && se.SW == sw
}

// maxRetries bounds the GET RESPONSE and wrong-Le loops of Exchange: a card
// that keeps asking is broken or hostile, and the door must not hang on it.
const maxRetries = 32

// Exchange sends c and applies the retry rules of CIE.md section 3:
//   - 61xx: send GET RESPONSE (00 C0 00 00 xx) and append what comes back,
//     for as long as the card answers 61xx;
//   - 6Cxx: send the same command again with Le = xx;
//   - a response shorter than two bytes is an error (ErrShortResponse).
//
// Any other status word is returned to the caller in the Response, which
// decides what it means for its step (6282 and 6B00 end a file read).
func Exchange(t Transmitter, c Command) (Response, error) {
	var data []byte
	for try := 0; ; try++ {
		if try > maxRetries {
			return Response{}, fmt.Errorf("%w (%s)", ErrTooManyRetries, c)
		}
		raw, err := c.Bytes()
		if err != nil {
			return Response{}, err
		}
		out, err := t.Transmit(raw)
		if err != nil {
			return Response{}, fmt.Errorf("reader: transmit %02X: %w", c.INS, err)
		}
		r, err := ParseResponse(out)
		if err != nil {
			return Response{}, err
		}
		switch r.SW.SW1() {
		case 0x61:
			data = append(data, r.Data...)
			c = Command{CLA: c.CLA & 0x03, INS: 0xC0, Ne: available(r.SW.SW2())} // GET RESPONSE keeps the logical channel
			continue
		case 0x6C:
			c.Ne = available(r.SW.SW2()) // repeat the same command with the length the card wants
			continue
		}
		if data != nil {
			r.Data = append(data, r.Data...)
		}
		return r, nil
	}
}
