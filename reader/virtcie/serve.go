package virtcie

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/varco-access/varco/reader/vpcd"
)

// Back-off between attempts to reach vpcd: it starts small so a restarted
// pcscd gets its card back quickly, and stays bounded so a missing pcscd
// costs one connection attempt every few seconds.
const (
	minBackoff = 250 * time.Millisecond
	maxBackoff = 8 * time.Second
)

// DefaultVPCDAddr is the address of the first reader of a stock vpcd
// (vsmartcard-vpcd's reader.conf: port 35963 on the local host).
const DefaultVPCDAddr = "127.0.0.1:35963"

// Serve puts card in the vpcd reader at addr (host:port, e.g.
// DefaultVPCDAddr) and answers pcscd until ctx ends. When the connection
// cannot be made or is lost (pcscd stopped or restarted) the card leaves the
// field (Reset) and Serve dials again with a back-off from 250 ms doubling
// to 8 s, reset by each successful connection. It logs connections and
// losses with log/slog's default logger and returns nil when ctx ends.
func Serve(ctx context.Context, addr string, card *Card) error {
	if card == nil {
		return errors.New("virtcie: serve: nil card")
	}
	s := server{dial: dialVPCD, wait: waitCtx, log: slog.Default()}
	return s.run(ctx, addr, card)
}

// server is Serve's loop with its I/O injected for tests.
type server struct {
	// dial connects card and returns a function that serves it until the
	// connection ends and then closes it.
	dial func(ctx context.Context, addr string, card *Card) (serve func(context.Context) error, err error)
	// wait sleeps d or until ctx ends, and reports whether d passed.
	wait func(ctx context.Context, d time.Duration) bool
	log  *slog.Logger
}

func (s server) run(ctx context.Context, addr string, card *Card) error {
	backoff := minBackoff
	for {
		serve, err := s.dial(ctx, addr, card)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			s.log.Warn("virtcie: vpcd not reachable", "addr", addr, "err", err, "retry_in", backoff)
		} else {
			backoff = minBackoff
			s.log.Info("virtcie: card in vpcd reader", "addr", addr, "nis", card.NIS())
			err = serve(ctx)
			card.Reset() // out of the field: volatile state is gone
			if ctx.Err() != nil {
				return nil
			}
			s.log.Warn("virtcie: vpcd connection ended", "addr", addr, "err", err, "retry_in", backoff)
		}
		if !s.wait(ctx, backoff) {
			return nil
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// dialVPCD is server.dial over package vpcd.
func dialVPCD(ctx context.Context, addr string, card *Card) (func(context.Context) error, error) {
	conn, err := vpcd.Dial(ctx, addr, card)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		defer conn.Close()
		return conn.Serve(ctx)
	}, nil
}

// waitCtx is server.wait on the real clock.
func waitCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
