package wire

import (
	"fmt"
	"strings"
)

// Prefix is the root of every topic of the contract: the major version is
// in the topic so that a v2 contract can run beside v1 on one broker.
const Prefix = "varco/v1/"

// MaxIDLength is the longest site or door id: the same bound the door's
// configuration checks (controller/config).
const MaxIDLength = 64

// Kind names a message: the last level(s) of its topic and the "kind"
// field of its envelope.
type Kind string

// The message kinds of the v1 contract (ARCHITECTURE.md section 5).
const (
	KindGrants       Kind = "grants"        // admin → door, signed Delta
	KindHead         Kind = "head"          // admin → door, signed Head, retained
	KindSync         Kind = "sync"          // door → admin, SyncRequest
	KindSnapshot     Kind = "snapshot"      // admin → door, signed SnapshotChunk
	KindEvents       Kind = "events"        // door → admin, EventsBatch
	KindEventsAck    Kind = "events/ack"    // admin → door, signed Ack
	KindStatus       Kind = "status"        // door → admin, Status, retained, Last Will
	KindCmd          Kind = "cmd"           // admin → door, signed Cmd
	KindEnroll       Kind = "enroll"        // admin → enrolment station, signed EnrollChallenge
	KindEnrollResult Kind = "enroll/result" // enrolment station → admin, EnrollResult
)

// kinds lists every kind in contract order.
var kinds = []Kind{
	KindGrants, KindHead, KindSync, KindSnapshot, KindEvents, KindEventsAck,
	KindStatus, KindCmd, KindEnroll, KindEnrollResult,
}

// Kinds returns every kind of the contract, admin-to-door and
// door-to-admin, in the order of the package documentation's table.
func Kinds() []Kind { return append([]Kind(nil), kinds...) }

// Valid reports whether k is a kind of the contract.
func (k Kind) Valid() bool {
	switch k {
	case KindGrants, KindHead, KindSync, KindSnapshot, KindEvents, KindEventsAck,
		KindStatus, KindCmd, KindEnroll, KindEnrollResult:
		return true
	}
	return false
}

// FromAdmin reports whether k travels from the admin to a door (or an
// enrolment station). These are exactly the signed kinds.
func (k Kind) FromAdmin() bool {
	switch k {
	case KindGrants, KindHead, KindSnapshot, KindEventsAck, KindCmd, KindEnroll:
		return true
	}
	return false
}

// Signed reports whether messages of kind k carry the site's Ed25519
// signature: every admin-to-door kind. Door-to-admin messages are
// authenticated by the broker (TLS client certificate and ACL), not here.
func (k Kind) Signed() bool { return k.FromAdmin() }

// QoS returns the MQTT QoS to publish and subscribe k with: 1 for every
// kind. Receivers must therefore expect duplicates; the revision, sequence
// and snapshot-id checks make them harmless.
func (k Kind) QoS() byte { return 1 }

// Retained reports whether k is published with the retain flag: head, so
// that a door coming back learns at once whether it is behind, and status,
// so that the admin knows every door's last state when it starts.
func (k Kind) Retained() bool { return k == KindHead || k == KindStatus }

// Payload returns a pointer to a new zero value of k's body type (*Delta
// for KindGrants, ...), or nil for an unknown kind: for code that decodes
// by topic.
func (k Kind) Payload() any {
	switch k {
	case KindGrants:
		return new(Delta)
	case KindHead:
		return new(Head)
	case KindSync:
		return new(SyncRequest)
	case KindSnapshot:
		return new(SnapshotChunk)
	case KindEvents:
		return new(EventsBatch)
	case KindEventsAck:
		return new(Ack)
	case KindStatus:
		return new(Status)
	case KindCmd:
		return new(Cmd)
	case KindEnroll:
		return new(EnrollChallenge)
	case KindEnrollResult:
		return new(EnrollResult)
	}
	return nil
}

// ValidID reports whether s may be a site or door id: 1 to 64 bytes of
// ASCII letters, digits, '.', '_' and '-'. This excludes the MQTT
// wildcards '+' and '#', the level separator '/', the NUL byte the
// signature uses as a separator, and the '$' of broker-internal topics.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// Topic returns the topic of kind k for one door:
// varco/v1/{site}/door/{door}/{kind}. It does not check its arguments:
// site and door come from validated configuration (see ValidID), and a
// topic built from bad ids is refused by ParseTopic and by the broker's
// ACL.
func Topic(site, door string, k Kind) string {
	return Prefix + site + "/door/" + door + "/" + string(k)
}

// DoorFilter returns the subscription filter matching every topic of one
// door: varco/v1/{site}/door/{door}/#. A door subscribed with it also
// receives its own door-to-admin messages back (MQTT 3.1.1 has no "no
// local" option): drop them by kind, or subscribe with DoorFilters.
func DoorFilter(site, door string) string {
	return Prefix + site + "/door/" + door + "/#"
}

// DoorFilters returns one exact topic per admin-to-door kind of one door:
// what a door (or an enrolment station) subscribes to.
func DoorFilters(site, door string) []string {
	var fs []string
	for _, k := range kinds {
		if k.FromAdmin() {
			fs = append(fs, Topic(site, door, k))
		}
	}
	return fs
}

// SiteFilter returns the subscription filter matching every door topic of
// a site: varco/v1/{site}/door/+/#. The admin subscribed with it also
// receives its own admin-to-door messages back: drop them by kind, or
// subscribe with SiteFilters.
func SiteFilter(site string) string {
	return Prefix + site + "/door/+/#"
}

// SiteFilters returns one filter per door-to-admin kind, any door of the
// site: varco/v1/{site}/door/+/{kind}. What the admin subscribes to (with
// shared subscriptions for events when several admins share the ingest).
func SiteFilters(site string) []string {
	var fs []string
	for _, k := range kinds {
		if !k.FromAdmin() {
			fs = append(fs, Prefix+site+"/door/+/"+string(k))
		}
	}
	return fs
}

// ParseTopic splits a topic of the contract into its site, door and kind.
// It is strict: the exact prefix, valid ids (ValidID: no wildcards, no
// empty levels), the literal "door" level, and a known kind with nothing
// after it. Errors wrap ErrTopic.
func ParseTopic(topic string) (site, door string, k Kind, err error) {
	rest, ok := strings.CutPrefix(topic, Prefix)
	if !ok {
		return "", "", "", fmt.Errorf("%w: %q does not start with %q", ErrTopic, clip(topic), Prefix)
	}
	lv := strings.SplitN(rest, "/", 4) // site, "door", door, kind
	if len(lv) < 4 {
		return "", "", "", fmt.Errorf("%w: %q: want {site}/door/{door}/{kind} after %q", ErrTopic, clip(topic), Prefix)
	}
	site, door, rest = lv[0], lv[2], lv[3]
	if !ValidID(site) {
		return "", "", "", fmt.Errorf("%w: %q: invalid site id %q", ErrTopic, clip(topic), clip(site))
	}
	if lv[1] != "door" {
		return "", "", "", fmt.Errorf("%w: %q: want \"door\" after the site", ErrTopic, clip(topic))
	}
	if !ValidID(door) {
		return "", "", "", fmt.Errorf("%w: %q: invalid door id %q", ErrTopic, clip(topic), clip(door))
	}
	k = Kind(rest)
	if !k.Valid() {
		return "", "", "", fmt.Errorf("%w: %q: unknown kind %q", ErrTopic, clip(topic), clip(rest))
	}
	return site, door, k, nil
}

// clip shortens s for an error message: topics and ids come from outside.
func clip(s string) string {
	const n = 80
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
