// Package wire is the MQTT contract between varco-admin and varco-door
// (ARCHITECTURE.md section 5): topics, the versioned JSON envelope, the
// Ed25519 signature of admin-to-door messages, the payload types, the
// snapshot chunking, the receiver's replay checks, and the site key files.
// Admin and door both import it and never each other. It does no I/O
// except in keys.go; the MQTT client is the caller's.
//
// # Topics
//
// Every topic is varco/v1/{site}/door/{door}/{kind}; site and door ids
// are 1 to 64 bytes of [A-Za-z0-9._-] (ValidID). All kinds use QoS 1.
//
//	kind           direction         signed  retained  payload
//	grants         admin → door      yes               Delta
//	head           admin → door      yes     yes       Head
//	sync           door → admin                        SyncRequest
//	snapshot       admin → door      yes               SnapshotChunk
//	events         door → admin                        EventsBatch
//	events/ack     admin → door      yes               Ack
//	status         door → admin              yes, LWT  Status
//	cmd            admin → door      yes               Cmd
//	enroll         admin → station   yes               EnrollChallenge
//	enroll/result  station → admin                     EnrollResult
//
// An enrolment station is addressed like a door, by its id. The broker's
// ACL lets each door's client certificate publish only its own
// door-to-admin topics and subscribe only to its own admin-to-door topics
// (DoorFilters); the admin subscribes to SiteFilters. One MQTT connection
// carries one Last Will, so a controller serving several doors connects
// once per door.
//
// # Envelope
//
// Every message is one JSON object:
//
//	{"v":"1.0","kind":"status","site":"demo","door":"demo-1","body":{...}}
//	{"v":"1.0","kind":"grants","site":"demo","door":"demo-1","body":"<base64>","sig":"<base64>"}
//
// In a door-to-admin message body is the payload's JSON object itself:
// there is no signature to keep byte-exact, and operators read retained
// status messages with mosquitto_sub. In an admin-to-door message body is
// the standard base64 of the payload's JSON bytes and sig the standard
// base64 of the Ed25519 signature (the site key) over
//
//	"varco-wire-v1" NUL kind NUL site NUL door NUL body-bytes
//
// Signing the exact bytes, not a re-encoding, spares both sides a
// canonical JSON; binding kind, site and door means a message for door A
// fails at door B even if its door field is rewritten, and a head fails
// as grants. A signed kind whose body is an object is refused as unsigned.
// The envelope's other fields (v, unknown ones) are not signed, so any
// field whose meaning matters must go in the body.
//
// # Versions
//
// v is "MAJOR.MINOR". A receiver accepts any minor of its major and
// refuses another major with ErrVersion. A minor version may only add
// optional fields, and receivers ignore fields they do not know, in the
// envelope and in the body (no DisallowUnknownFields). Enumerations are
// open in the door-to-admin direction (event kinds, reasons, door states:
// the admin stores what newer doors send) and closed in the other (a door
// refuses a command action or door mode it does not know), so the admin
// sends newer actions only to doors whose Status.Version knows them.
// Anything else is a new major, on new topics (varco/v2/...).
//
// # Replays and duplicates
//
// QoS 1 redelivers, head is retained, and whoever can publish on the
// broker can replay what it saw; a valid signature proves only who wrote a
// message. So the door checks every opened message against its durable
// state: allowlist revisions (CheckDelta, CheckSnapshot, CheckHead), the
// outbox epoch and acknowledged sequence (CheckAck), the last executed
// command and its expiry (Cmd.Check), the enrolment challenge's expiry.
// The admin's revisions for a door only grow and are never reused, also
// across a restore from backup (bump them past what doors report in
// status and sync); its command sequence numbers likewise.
//
// # What a receiver does with each error
//
// A door never crashes on a message and never applies part of one:
//
//	ErrTooLarge, ErrMalformed, ErrVersion  drop; event (sync, rejected); for grants and snapshot, SyncRequest
//	ErrSignature                           drop; event (someone publishes with the wrong key)
//	ErrWrongDoor, ErrWrongKind             drop; event (a broker ACL or admin bug)
//	ErrStale                               drop silently: a duplicate or replay
//	ErrGap                                 drop; SyncRequest{Rev: current}
//	ErrExpired                             drop; event
//	ErrDigest, ErrIncomplete               drop the snapshot; SyncRequest (SyncRejected / SyncTimeout)
//	ErrTopic                               ignore: not a topic of this contract
//
// A zero-length payload is not a message: it is a retained message being
// cleared (a head or status of a removed door). Receivers skip it before
// calling Open or Decode.
//
// The admin drops a door-to-admin message that fails Decode or DecodeFor
// and logs it; an events batch it cannot store is simply not acknowledged,
// and the door sends it again.
//
// # Snapshots
//
// SplitSnapshot cuts a door's allowlist into chunks of bounded size, each
// sealed on its own; the last carries schedules, holidays, mode, zone,
// grant count and Digest. The door's Assembler takes the chunks in any
// order, ignores duplicates, bounds memory (AssemblerOptions) and returns
// the snapshot only when every chunk is in and count and digest match; the
// door then applies it in one transaction.
//
// # Keys
//
// The admin holds the site's Ed25519 private key in a PEM PKCS#8 file
// with mode 0600 (WritePrivateKey, LoadPrivateKey); every door pins the
// public key as site_public_key, standard base64 of the 32 raw bytes
// (EncodePublicKey, ParsePublicKey). Door-to-admin messages are not
// signed: the broker authenticates doors by TLS client certificate, and
// the admin trusts the topic, not the envelope (DecodeFor).
package wire
