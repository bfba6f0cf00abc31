// Package mqttsync is the door side of the MQTT sync (ARCHITECTURE.md
// section 5, the contract in package wire): one Session per door, each on
// its own MQTT connection, because a connection has one Last Will and the
// broker's ACL is per door identity.
//
// # Inbound
//
// Every admin-to-door message is opened with wire.Verifier (the site's
// Ed25519 key, this site and door) and checked against the door's
// durable state before anything changes:
//
//	grants      CheckDelta; applied in one bbolt transaction; a gap sends SyncRequest
//	head        CheckHead; ahead sends SyncRequest, equal confirms the door is current
//	snapshot    CheckSnapshot, Assembler; applied in one transaction once complete and verified
//	events/ack  CheckAck against the outbox epoch; only acknowledged events are dropped
//	cmd         Cmd.Check against the last executed command, stored before it runs
//
// A bad signature, a message for another door, another major version or a
// payload that does not validate changes nothing and leaves a sync event
// (at most one per reason per Options.EventEvery; the rest are counted in
// varco_door_sync_events_suppressed_total). Duplicates and replays
// (wire.ErrStale) are only counted. The messages are handled one at a
// time, in order, on the transport's goroutine, and acknowledged to the
// broker after they are applied. They never touch the tap path: the
// store applies updates in their own transactions and taps read around
// them (bbolt readers do not wait for the writer), and the door's mode is
// set through door.Door.SetMode.
//
// A delta's or snapshot's mode and zone are stored with the revision; a
// lockdown command sets a flag beside them that overrides the mode, so a
// reboot keeps a lockdown (store.DoorSettings). unlock_once is refused
// while the clock is untrusted (its expiry cannot be checked) and, like a
// grant, does not release a door in lockdown.
//
// # Outbound
//
// On every connection the session publishes its status (retained) and a
// SyncRequest at its revision, then drains the outbox: batches of at most
// Options.BatchEvents events or Options.BatchBytes of JSON, in order, one
// in flight until the admin's ack covers it. After a reconnect, or no ack
// within the ack wait (AckTimeoutMin after a connect or an ack, doubled
// at each resend up to AckTimeout), it starts again from the last acknowledged
// sequence number: the admin ingests idempotently on (door, epoch, seq),
// so nothing is lost and duplicates are harmless. The controller's emit
// path calls Notify after each event; Notify never blocks.
//
// The status is published again, at most once per StatusInterval, when
// the revision, the outbox length's order of magnitude, the clock trust,
// the door's mode or its state (closed, open, forced, held open) changes.
// Run ends by publishing Status{Online: false} (retained) before
// DISCONNECT, so the admin sees a clean offline without the Last Will.
//
// # Transport
//
// Transport is the seam over the MQTT client. PahoTransport is Eclipse
// Paho with TLS (the door's client certificate, the site CA), the door's
// Last Will, a fixed client id and CleanSession false so the broker keeps
// QoS 1 subscriptions and messages across reconnects, and its own
// reconnect loop with exponential back-off and jitter on an injected
// clock. mqttsynctest.Transport is an in-memory fake for unit tests.
//
// # Caveats
//
// A head at the door's revision refreshes the last-sync time (and with it
// max_offline) only to the head's IssuedAt: the admin must answer a sync
// request at the current revision with a fresh head (or a snapshot at that
// revision), and the door sends one every Options.SyncEvery. The store's
// schedules are shared by the controller's doors: a delta's complete set
// of schedules is upserted, never used to delete. A large snapshot holds
// bbolt's writer lock while it commits, so events written meanwhile (not
// decisions) wait for it.
package mqttsync
