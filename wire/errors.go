package wire

import "errors"

// Errors of Open, Decode and the receiver checks. Each is wrapped with
// details (the field, the values compared); test with errors.Is. What a
// door does with each is in the package documentation: reject the message,
// report it in an event, never crash.
var (
	// ErrVersion is returned when a message has no "v" field, a "v" that
	// is not "MAJOR.MINOR", or a major version other than Major.
	ErrVersion = errors.New("wire: unsupported version")

	// ErrSignature is returned when an admin-to-door message is unsigned,
	// its signature is not 64 bytes of standard base64, or the signature
	// does not verify with the site key over the kind, site, door and body.
	ErrSignature = errors.New("wire: bad signature")

	// ErrWrongDoor is returned when a message names another site or door
	// than the receiver's (or than the topic it arrived on).
	ErrWrongDoor = errors.New("wire: message for another site or door")

	// ErrWrongKind is returned when a message's kind is not the kind the
	// receiver expects (the topic's), or a kind is used in the wrong
	// direction (sealing a door-to-admin kind, decoding a signed kind
	// without its signature).
	ErrWrongKind = errors.New("wire: wrong message kind")

	// ErrMalformed is returned when a message is not a JSON object of the
	// envelope's shape, or its body does not decode or fails its Validate
	// method. The message names the field.
	ErrMalformed = errors.New("wire: malformed message")

	// ErrTooLarge is returned when a message is longer than MaxMessage, or
	// a snapshot goes past the Assembler's limits.
	ErrTooLarge = errors.New("wire: message too large")

	// ErrStale is returned by the receiver checks when a message carries
	// nothing new: a delta or snapshot the door already has, a head not
	// ahead of the door, a command already executed, an ack of another
	// outbox epoch or of events already dropped. Duplicates after a
	// reconnect and replays end here; dropping the message is correct.
	ErrStale = errors.New("wire: stale message")

	// ErrGap is returned by CheckDelta when a delta does not start at the
	// door's revision: updates were missed and the door must send a sync
	// request.
	ErrGap = errors.New("wire: revision gap")

	// ErrExpired is returned when a command or an enrolment challenge is
	// checked at or after its expiry time.
	ErrExpired = errors.New("wire: expired")

	// ErrIncomplete is returned by Assemble when chunks of the snapshot are
	// missing.
	ErrIncomplete = errors.New("wire: snapshot incomplete")

	// ErrDigest is returned when an assembled snapshot's grant count or
	// digest differs from the one its last chunk announces.
	ErrDigest = errors.New("wire: snapshot digest mismatch")

	// ErrTopic is returned by ParseTopic when a topic is not one of the
	// contract's: wrong prefix, an invalid site or door id, an unknown kind.
	ErrTopic = errors.New("wire: not a varco/v1 topic")
)
