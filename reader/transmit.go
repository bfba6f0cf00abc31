package reader

// Transmitter sends one command APDU to a card and returns the raw response
// APDU (data followed by the two status bytes). It is the only thing the
// protocol code needs from a transport: PC/SC cards, the virtual CIE and
// recorded transcripts all implement it.
//
// Transmit must not retain apdu after it returns. A response shorter than two
// bytes is treated as a failed exchange (ErrShortResponse).
type Transmitter interface {
	Transmit(apdu []byte) ([]byte, error)
}

// TransmitFunc adapts a function to the Transmitter interface.
type TransmitFunc func(apdu []byte) ([]byte, error)

// Transmit calls f(apdu).
func (f TransmitFunc) Transmit(apdu []byte) ([]byte, error) { return f(apdu) }

var _ Transmitter = TransmitFunc(nil)
