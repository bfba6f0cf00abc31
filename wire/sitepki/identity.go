package sitepki

import (
	"crypto/tls"
	"fmt"
	"strings"

	"github.com/varco-access/varco/wire"
)

// Role is the kind of MQTT client an identity names.
type Role string

// The roles of the site's MQTT clients.
const (
	RoleAdmin   Role = "admin"   // varco-admin: everything under varco/v1/{site}/
	RoleDoor    Role = "door"    // one door of a controller: its own topics
	RoleStation Role = "station" // an enrolment station: its enrolment topics
)

// AdminIdentity is the certificate Common Name (and so the MQTT user name)
// of varco-admin's own MQTT client.
const AdminIdentity = string(RoleAdmin)

// DoorIdentity returns the Common Name of door's client certificate:
// "door:<door>". The door connects with it as its client id (or with
// "door:<door>/<suffix>"; see wire/broker).
func DoorIdentity(door string) string { return string(RoleDoor) + ":" + door }

// StationIdentity returns the Common Name of an enrolment station's
// client certificate: "station:<id>".
func StationIdentity(id string) string { return string(RoleStation) + ":" + id }

// ParseIdentity splits an identity into its role and id: "admin" gives
// (RoleAdmin, ""), "door:D" gives (RoleDoor, "D"), "station:X" gives
// (RoleStation, "X"). The id must be a wire.ValidID. Errors wrap
// ErrBadIdentity.
func ParseIdentity(identity string) (Role, string, error) {
	if identity == AdminIdentity {
		return RoleAdmin, "", nil
	}
	role, id, ok := strings.Cut(identity, ":")
	if ok && (Role(role) == RoleDoor || Role(role) == RoleStation) && wire.ValidID(id) {
		return Role(role), id, nil
	}
	return "", "", fmt.Errorf("%w: %q", ErrBadIdentity, clip(identity))
}

// Identity returns the Common Name of the verified client certificate of
// a TLS connection: the client's MQTT identity. It looks only at
// VerifiedChains, which crypto/tls fills in when it verified the chain
// against the CA pool (ServerTLSConfig), never at the unverified
// PeerCertificates. Errors wrap ErrNoIdentity.
func Identity(cs tls.ConnectionState) (string, error) {
	if !cs.HandshakeComplete {
		return "", fmt.Errorf("%w: TLS handshake not complete", ErrNoIdentity)
	}
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return "", fmt.Errorf("%w: no verified client certificate", ErrNoIdentity)
	}
	cn := cs.VerifiedChains[0][0].Subject.CommonName
	if cn == "" {
		return "", fmt.Errorf("%w: client certificate has no Common Name", ErrNoIdentity)
	}
	return cn, nil
}

// clip shortens s for an error message: names come from outside.
func clip(s string) string {
	const n = 80
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
