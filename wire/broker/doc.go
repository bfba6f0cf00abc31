// Package broker is the site's MQTT broker as varco-admin embeds it
// (mochi-mqtt v2 behind a TLS listener), and the access rules every
// broker of a site must enforce: Allow for this one, MosquittoACL for an
// external Mosquitto.
//
// # Why it is in wire/
//
// The broker is what admin and door share at test time: door-side tests
// (controller/) must run against the same broker the admin embeds, and
// controller/ may not import admin/. So the implementation lives here,
// beside the contract it enforces; varco-admin only wires it (Options from
// its configuration, Start, Close), and wire/mqtttest starts it for tests
// of both sides. Importing this package links mochi-mqtt: the door's own
// code has no reason to.
//
// # Identity
//
// Client certificates are mandatory (Options.TLS must be
// tls.RequireAndVerifyClientCert) and the verified certificate's Common
// Name is the client's identity: "admin", "door:<id>" or "station:<id>"
// (package wire/sitepki). As with Mosquitto's use_identity_as_username and
// use_username_as_clientid, the CONNECT's user name and password are
// ignored and its client id is replaced by the identity, so a door cannot
// pose as another by name nor take over another's session by client id.
// One identity therefore has one session: a second connection with the
// same certificate takes over the first (so a controller with two doors
// needs two certificates, and the admin one connection). A client whose
// certificate names no valid identity, whom Options.Admit refuses, or
// whose Will is on a topic it may not publish to, is refused with CONNACK
// "not authorized".
//
// # Access rules
//
// For site S (Allow has the details):
//
//	identity    publish                                     subscribe
//	admin       varco/v1/S/...                              filters under varco/v1/S/ (also $share/{group}/...)
//	door:D      varco/v1/S/door/D/{sync,events,status,      varco/v1/S/door/D/{grants,head,snapshot,
//	            enroll/result}                              events/ack,cmd,enroll}, exact topics only
//	station:X   varco/v1/S/door/X/{status,enroll/result}    varco/v1/S/door/X/enroll
//
// Everything else is denied, $SYS included. A door subscribes with
// wire.DoorFilters; wire.DoorFilter (D/#) is refused, as is any wildcard.
// mochi 2.7.9 asks the ACL for every PUBLISH received (write), every
// SUBSCRIBE filter and every message it delivers, retained ones included
// (read), so delivery is filtered too; the exact rules do not rely on it.
//
// # What varco-admin should use
//
// The admin's sync publisher and event ingest should speak MQTT through a
// client over TLS with the "admin" certificate (paho), the same code path
// whether the broker is this embedded one or an external Mosquitto or
// cluster (ARCHITECTURE.md section 9). Broker.Publish and
// Broker.Subscribe, an in-process client with the admin's rights and no
// TLS, are for diagnostics and tests: an in-process subscriber has no QoS
// and runs on the publishing client's goroutine.
//
// # Caveats
//
//   - Sessions, in-flight messages and retained messages are kept in
//     memory only (mochi without a storage hook): a restart of varco-admin
//     loses the retained head and status messages until the admin and the
//     doors publish them again, and every door reconnects. A persistent
//     store (mochi's bbolt hook) can come later.
//   - Retained messages never expire (mochi's default would delete them
//     after a day); messages queued for an offline persistent session are
//     kept too, up to 8192 per session (mochi's MaximumInflight), the
//     oldest kept and newer ones dropped when it is full.
//   - A denied QoS 1 or 2 PUBLISH from an MQTT 3.1.1 client makes mochi
//     drop the connection (MQTT 5 clients get a PUBACK "not authorized");
//     Mosquitto acknowledges and discards it. A denied QoS 0 PUBLISH is
//     discarded by both. A PUBLISH to $SYS is discarded by mochi before
//     the ACL, without a PUBACK.
//   - Mosquitto 2.0 grants SUBSCRIBE filters wider than the ACL (SUBACK
//     QoS 1) and filters each message on delivery; this broker answers
//     them with SUBACK 0x80. Either way nothing is delivered.
//   - Mosquitto 2.0 accepts a CONNECT whose Will topic the client may not
//     publish to and drops the Will when it fires; this broker refuses the
//     CONNECT.
//   - There is no certificate revocation list: a door removed from the
//     site is refused by Options.Admit and cut off by Disconnect; a lost
//     admin certificate means a new site CA.
//   - A peer has 10 seconds to finish the TLS handshake and send CONNECT.
//     There is no limit on connections per address.
package broker
