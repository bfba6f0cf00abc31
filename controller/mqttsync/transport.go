package mqttsync

import (
	"context"
	"errors"
)

// Message is one message the broker delivered.
type Message struct {
	Topic    string
	Payload  []byte
	Retained bool
}

// Completion is the outcome of a Publish, as paho's Token: Done is closed
// once the broker acknowledged the message (QoS 1) or the publish failed,
// and then Err says which.
type Completion interface {
	Done() <-chan struct{}
	Err() error
}

// Transport is one MQTT session of one door: a connection with the
// door's client certificate, a fixed client id, a persistent session
// (CleanSession false) and the door's Last Will. PahoTransport is the
// real one; mqttsynctest.Transport is an in-memory fake.
type Transport interface {
	// Subscribe registers h for the messages matching filter, at QoS 1.
	// Call it before Run; the subscriptions are made again on every
	// connection. Handlers are called one message at a time, in arrival
	// order, and the broker gets the message's acknowledgement only when
	// the handler returns: a crash while applying a delta leaves it to be
	// delivered again. A handler may Publish but must not wait for the
	// Completion: acknowledgements queue behind it.
	Subscribe(filter string, h func(Message))
	// Publish sends a message without blocking on the network. Once not
	// connected, it completes at once with ErrNotConnected. It is safe
	// for concurrent use.
	Publish(topic string, qos byte, retained bool, payload []byte) Completion
	// Run connects, and connects again after every loss, waiting between
	// attempts with back-off and jitter, until ctx ends; then it sends
	// DISCONNECT (so the broker discards the Last Will) and returns. up
	// is called after each connection, once the subscriptions are in
	// place, and down after each loss, from one goroutine, never at the
	// same time. Run is called once; it returns an error only if it
	// cannot run at all.
	Run(ctx context.Context, up func(), down func(error)) error
}

// ErrNotConnected completes a Publish made while the session is down.
var ErrNotConnected = errors.New("mqttsync: not connected")

// ErrConnectionLost completes a Publish whose connection went away before
// the broker acknowledged it. The message may or may not have arrived:
// the door sends it again after the next connect (the admin ingests
// events idempotently).
var ErrConnectionLost = errors.New("mqttsync: connection lost before the broker acknowledged")

// done is a Completion that is already complete.
type done struct{ err error }

var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (d done) Done() <-chan struct{} { return closed }
func (d done) Err() error            { return d.err }

// Completed returns a Completion that is already complete with err.
func Completed(err error) Completion { return done{err} }
