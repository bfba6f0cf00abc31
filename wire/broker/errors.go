package broker

import "errors"

// Errors of the package, wrapped with details; test with errors.Is.
var (
	// ErrOptions is returned by New when Options are incomplete or
	// invalid; the message names the field.
	ErrOptions = errors.New("broker: invalid options")

	// ErrDenied is returned by Publish and Subscribe when the admin
	// identity may not use the topic or filter (Allow).
	ErrDenied = errors.New("broker: not allowed")

	// ErrClosed is returned by Start after Close.
	ErrClosed = errors.New("broker: closed")
)
