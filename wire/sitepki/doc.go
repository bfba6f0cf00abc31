// Package sitepki is a site's MQTT TLS PKI: one ECDSA P-256 certificate
// authority per site, the broker's server certificate, and one client
// certificate per MQTT identity. varco-admin (which embeds the broker) and
// the test harnesses of both admin and door (wire/mqtttest) use it, so it
// lives in wire/ and imports neither admin/ nor controller/.
//
// # Identities
//
// A client is who its verified certificate's Common Name says (Identity),
// never what its CONNECT packet claims: the broker takes the MQTT user
// name from the certificate, like Mosquitto's use_identity_as_username.
// The names are
//
//	admin         varco-admin's own client(s)                  AdminIdentity
//	door:<id>     the controller connection of door <id>       DoorIdentity
//	station:<id>  the enrolment station <id>                   StationIdentity
//
// with <id> a wire.ValidID. The role prefix keeps the roles apart: a door
// may be called "admin" without becoming the admin, and a station cannot
// act as the door that shares its id. What each identity may publish and
// subscribe to is the broker's ACL (package wire/broker).
//
// # Lifetimes and caveats
//
// The CA is valid 10 years, server and client certificates 2 years; all
// are back-dated by an hour so that a door whose clock runs a little
// behind still accepts them. There is no revocation (no CRL, no OCSP):
// to cut a door off, the broker must stop admitting its identity (the
// embedded broker's Options.Admit, Mosquitto's ACL file), or the CA must
// be replaced. The CA private key (ca.key, mode 0600) is the root of
// the site's MQTT trust: whoever holds it can mint an "admin" certificate.
package sitepki
