package pcsc

import (
	"time"

	"github.com/ebfe/scard"
)

// The PC/SC calls the package makes, behind small interfaces so the loop
// can run against a fake: a virtual vpcd reader cannot be unplugged, and
// service failures are easier to script than to provoke.

// pcscContext is the subset of *scard.Context the package uses.
type pcscContext interface {
	ListReaders() ([]string, error)
	GetStatusChange(states []scard.ReaderState, timeout time.Duration) error
	// Cancel makes a pending GetStatusChange return ErrCancelled. It is
	// the one call safe to make from another goroutine.
	Cancel() error
	Connect(reader string, mode scard.ShareMode, proto scard.Protocol) (cardHandle, error)
	Release() error
}

// cardHandle is the subset of *scard.Card the package uses.
type cardHandle interface {
	Transmit(cmd []byte) ([]byte, error)
	Disconnect(d scard.Disposition) error
}

// establishFunc opens a new PC/SC context.
type establishFunc func() (pcscContext, error)

// scardContext adapts *scard.Context (whose Connect returns a concrete
// *scard.Card) to pcscContext.
type scardContext struct{ *scard.Context }

func (c scardContext) Connect(reader string, mode scard.ShareMode, proto scard.Protocol) (cardHandle, error) {
	card, err := c.Context.Connect(reader, mode, proto)
	if err != nil {
		return nil, err
	}
	return card, nil
}

func establishSCard() (pcscContext, error) {
	c, err := scard.EstablishContext()
	if err != nil {
		return nil, err
	}
	return scardContext{c}, nil
}

var (
	_ pcscContext = scardContext{}
	_ cardHandle  = (*scard.Card)(nil)
)
