package syncer

import "errors"

// Errors of the package, wrapped with details; test with errors.Is.
var (
	// ErrNotConnected is returned by Paho.Publish when the client has no
	// connection to the broker at the moment: nothing is queued, the
	// syncer sends again on its next pass (heads and deltas) or when the
	// door sends again (acks).
	ErrNotConnected = errors.New("syncer: not connected to the broker")

	// ErrClosed is returned by the methods of a Paho after Close.
	ErrClosed = errors.New("syncer: transport closed")

	// ErrRefused is returned by Paho.Subscribe when the broker refused
	// the subscription (SUBACK 0x80: the ACL does not allow the filter).
	ErrRefused = errors.New("syncer: the broker refused the subscription")

	// ErrEnrolBusy is returned by StartEnrol when MaxEnrolSessions
	// sessions are waiting for their stations.
	ErrEnrolBusy = errors.New("syncer: too many enrolment sessions waiting")
)
