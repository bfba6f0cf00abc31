package broker

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/varco-access/varco/wire"
	"github.com/varco-access/varco/wire/sitepki"
)

// The kinds each role may publish (write) and subscribe to (read) on its
// own door's topics. A door publishes every door-to-admin kind and
// subscribes to every admin-to-door kind of its own id (what
// wire.DoorFilters lists); an enrolment station only reports its status
// and enrolment results and receives enrolment challenges.
var (
	doorWrite    = filterKinds(func(k wire.Kind) bool { return !k.FromAdmin() })
	doorRead     = filterKinds(wire.Kind.FromAdmin)
	stationWrite = []wire.Kind{wire.KindStatus, wire.KindEnrollResult}
	stationRead  = []wire.Kind{wire.KindEnroll}
)

func filterKinds(keep func(wire.Kind) bool) []wire.Kind {
	var ks []wire.Kind
	for _, k := range wire.Kinds() {
		if keep(k) {
			ks = append(ks, k)
		}
	}
	return ks
}

// sharePrefix is the first level of an MQTT 5 shared subscription filter,
// $share/{group}/{filter}, which Mosquitto and mochi also accept from
// MQTT 3.1.1 clients. mochi compares it without regard to case.
const sharePrefix = "$share"

// Allow reports whether identity (a certificate Common Name, see
// sitepki.ParseIdentity) may, in site, publish to topic (write) or
// subscribe to the filter topic and receive messages on it (!write). It
// is the embedded broker's ACL and the rule MosquittoACL writes out:
//
//   - "admin" may publish to any topic under varco/v1/{site}/ and
//     subscribe to any filter whose levels up to varco/v1/{site}/ are
//     literal (so "varco/v1/{site}/door/+/events" but not
//     "varco/v1/+/door/..." nor "#"), also as a shared subscription
//     "$share/{group}/{filter}";
//   - "door:D" may publish exactly varco/v1/{site}/door/D/{sync, events,
//     status, enroll/result} and subscribe to exactly
//     varco/v1/{site}/door/D/{grants, head, snapshot, events/ack, cmd,
//     enroll}: no wildcard filters at all, not even D/#;
//   - "station:X" may publish exactly varco/v1/{site}/door/X/{status,
//     enroll/result} and subscribe to exactly varco/v1/{site}/door/X/enroll;
//   - anything else is denied, including every $SYS topic and any
//     identity ParseIdentity refuses.
//
// Exact topics make the door rules easy to audit: a filter is allowed only
// if it is one of the topics, so no wildcard can reach another door's
// messages whatever the broker does at delivery time.
func Allow(site, identity, topic string, write bool) bool {
	role, id, err := sitepki.ParseIdentity(identity)
	if err != nil || !wire.ValidID(site) {
		return false
	}
	switch role {
	case sitepki.RoleAdmin:
		if write {
			if strings.ContainsAny(topic, "+#") {
				return false
			}
		} else {
			topic = unshare(topic)
		}
		prefix := wire.Prefix + site + "/"
		return len(topic) > len(prefix) && strings.HasPrefix(topic, prefix)
	case sitepki.RoleDoor, sitepki.RoleStation:
		rest, ok := strings.CutPrefix(topic, wire.Topic(site, id, ""))
		return ok && slices.Contains(kinds(role, write), wire.Kind(rest))
	}
	return false
}

// kinds returns what a door or station may write or read.
func kinds(role sitepki.Role, write bool) []wire.Kind {
	switch {
	case role == sitepki.RoleDoor && write:
		return doorWrite
	case role == sitepki.RoleDoor:
		return doorRead
	case role == sitepki.RoleStation && write:
		return stationWrite
	case role == sitepki.RoleStation:
		return stationRead
	}
	return nil
}

// unshare returns the filter of a shared subscription without its
// "$share/{group}/" levels, a filter that is not shared as it is, and ""
// (which Allow refuses) for a malformed shared one.
func unshare(filter string) string {
	first, rest, ok := strings.Cut(filter, "/")
	if !strings.EqualFold(first, sharePrefix) {
		return filter
	}
	group, f, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || group == "" || strings.ContainsAny(group, "+#") {
		return ""
	}
	return f
}

// Topics returns the exact topics identity may publish and subscribe to
// in site, for a door or a station; for the admin, the one filter
// "varco/v1/{site}/#" in both lists. Errors wrap sitepki.ErrBadIdentity.
func Topics(site, identity string) (publish, subscribe []string, err error) {
	role, id, err := sitepki.ParseIdentity(identity)
	if err != nil {
		return nil, nil, err
	}
	if !wire.ValidID(site) {
		return nil, nil, fmt.Errorf("broker: invalid site id %q", site)
	}
	if role == sitepki.RoleAdmin {
		all := wire.Prefix + site + "/#"
		return []string{all}, []string{all}, nil
	}
	for _, k := range kinds(role, true) {
		publish = append(publish, wire.Topic(site, id, k))
	}
	for _, k := range kinds(role, false) {
		subscribe = append(subscribe, wire.Topic(site, id, k))
	}
	return publish, subscribe, nil
}

// MosquittoACL returns a Mosquitto acl_file granting each of identities
// what Allow grants it in site, and nothing to anyone else. It goes with
// a listener configured with require_certificate true,
// use_identity_as_username true (the user names the file names are
// certificate Common Names) and use_username_as_clientid true (the client
// id is the identity, as on the embedded broker).
//
// Mosquitto's %u patterns cannot express the rules (the user name
// "door:D" is not the topic level "D"), so every identity has its own
// user block: when doors are added, the file must be written again and
// Mosquitto sent SIGHUP to reload it. Unlike Allow, Mosquitto grants a
// SUBSCRIBE whose filter is wider than the ACL and then filters each
// message on delivery, so a door's "+" subscription is acknowledged but
// delivers only what the door may read.
func MosquittoACL(site string, identities []string) ([]byte, error) {
	if !wire.ValidID(site) {
		return nil, fmt.Errorf("broker: mosquitto ACL: invalid site id %q", site)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Varco site %s: generated by wire/broker.MosquittoACL, do not edit.\n", site)
	fmt.Fprintf(&b, "# Every user is a client certificate Common Name: use with require_certificate,\n")
	fmt.Fprintf(&b, "# use_identity_as_username and use_username_as_clientid set to true.\n")
	seen := map[string]bool{}
	for _, identity := range identities {
		if seen[identity] {
			continue
		}
		seen[identity] = true
		pub, sub, err := Topics(site, identity)
		if err != nil {
			return nil, fmt.Errorf("broker: mosquitto ACL: %w", err)
		}
		fmt.Fprintf(&b, "\nuser %s\n", identity)
		if identity == sitepki.AdminIdentity {
			fmt.Fprintf(&b, "topic readwrite %s\n", pub[0])
			continue
		}
		for _, t := range pub {
			fmt.Fprintf(&b, "topic write %s\n", t)
		}
		for _, t := range sub {
			fmt.Fprintf(&b, "topic read %s\n", t)
		}
	}
	return b.Bytes(), nil
}
