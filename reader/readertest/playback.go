// Package readertest provides fakes for code that talks to a card through
// reader.Transmitter: a playback of a recorded APDU transcript that fails on
// the first command that differs from the recording, and a recorder that
// captures what a real exchange looked like.
package readertest

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	"github.com/varco-access/varco/reader"
)

// Op is one recorded exchange: the command sent and the response returned.
// Err, when set, is returned by Transmit instead of Resp (a transport
// failure, such as the card leaving the field).
type Op struct {
	Cmd  []byte
	Resp []byte
	Err  error
}

// H decodes a hex string with optional spaces, for writing transcripts in
// the notation of CIE.md ("00 A4 04 0C ..."). It panics on bad hex: it is
// meant for literals in tests.
func H(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(fmt.Sprintf("readertest.H(%q): %v", s, err))
	}
	return b
}

// Playback replays a transcript. Each Transmit must send exactly the next
// recorded command; anything else is an error, and Close reports commands
// that were never sent.
type Playback struct {
	mu    sync.Mutex
	Ops   []Op
	count int
	err   error
}

var _ reader.Transmitter = (*Playback)(nil)

// Transmit implements reader.Transmitter.
func (p *Playback) Transmit(apdu []byte) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.count >= len(p.Ops) {
		p.fail(fmt.Errorf("readertest: unexpected command #%d % X: transcript has %d", p.count+1, apdu, len(p.Ops)))
		return nil, p.err
	}
	op := p.Ops[p.count]
	if !bytes.Equal(apdu, op.Cmd) {
		p.fail(fmt.Errorf("readertest: command #%d is % X, recording has % X", p.count+1, apdu, op.Cmd))
		return nil, p.err
	}
	p.count++
	if op.Err != nil {
		return nil, op.Err
	}
	return append([]byte(nil), op.Resp...), nil
}

func (p *Playback) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

// Count returns how many commands were played.
func (p *Playback) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count
}

// Close returns the first mismatch seen, or an error if recorded commands
// were left unsent.
func (p *Playback) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	if p.count != len(p.Ops) {
		return fmt.Errorf("readertest: %d of %d recorded commands were sent", p.count, len(p.Ops))
	}
	return nil
}

// Record wraps a Transmitter and keeps every exchange, so a test can assert
// on the exact APDUs and count bytes each way.
type Record struct {
	T reader.Transmitter

	mu  sync.Mutex
	ops []Op
}

var _ reader.Transmitter = (*Record)(nil)

// Transmit implements reader.Transmitter.
func (r *Record) Transmit(apdu []byte) ([]byte, error) {
	resp, err := r.T.Transmit(apdu)
	r.mu.Lock()
	r.ops = append(r.ops, Op{Cmd: append([]byte(nil), apdu...), Resp: append([]byte(nil), resp...), Err: err})
	r.mu.Unlock()
	return resp, err
}

// Ops returns a copy of the exchanges recorded so far.
func (r *Record) Ops() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Op(nil), r.ops...)
}

// Bytes returns the total bytes sent to and received from the card.
func (r *Record) Bytes() (out, in int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, op := range r.ops {
		out += len(op.Cmd)
		in += len(op.Resp)
	}
	return out, in
}
