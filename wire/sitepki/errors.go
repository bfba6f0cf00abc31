package sitepki

import "errors"

// Errors of the package, wrapped with details; test with errors.Is.
var (
	// ErrNoIdentity is returned by Identity when a TLS connection has no
	// verified client certificate chain, or the certificate has an empty
	// Common Name.
	ErrNoIdentity = errors.New("sitepki: no verified client identity")

	// ErrBadIdentity is returned by ParseIdentity when a name is not
	// "admin", "door:<id>" or "station:<id>" with a valid id.
	ErrBadIdentity = errors.New("sitepki: not a varco MQTT identity")

	// ErrBadPEM is returned when certificate or key bytes are not the PEM
	// the package writes (one CERTIFICATE block, one PKCS#8 ECDSA PRIVATE
	// KEY block), or a key does not match its certificate.
	ErrBadPEM = errors.New("sitepki: bad PEM certificate or key")

	// ErrNotCA is returned by LoadCA when ca.crt is not a CA certificate.
	ErrNotCA = errors.New("sitepki: not a CA certificate")
)
