// Package syncer is the admin side of the MQTT contract (package wire,
// ARCHITECTURE.md section 5): it keeps every door's allowlist in step with
// the admin's per-door view and takes every door event in exactly once.
//
//   - When a door's view revision moves (the API calls Changed after each
//     write; a slow poll catches anything else), it publishes a signed
//     delta from the revision it last announced, and a retained signed
//     head. Bursts coalesce: a CSV import of 10,000 people becomes one
//     delta per door, sent after the writes settle (Options.Debounce).
//   - A door's sync request ("I have rev N") is answered with a delta from
//     N when the store still has one, else with a chunked snapshot.
//   - Events batches are stored with admin.Store.InsertEvents, which
//     ignores duplicates on (door, epoch, seq); the ack naming the highest
//     sequence is sent only after the insert committed.
//   - Retained door status and the Last Will give each door's online
//     state, revision, outbox length and clock trust (Status).
//   - Commands (unlock once, lockdown, resync) are signed with a sequence
//     number that only grows and a short expiry.
//   - Enrolment (ARCHITECTURE.md section 8, CIE.md section 6): StartEnrol
//     sends an enrolment station a signed, expiring challenge of fresh
//     random bytes; the station's answer (NIS, key file, EF.SOD, the
//     card's signature over the challenge) is accepted only for a
//     waiting, unexpired session of that same station, verified with
//     admin.VerifyCard against Options.CSCAs, and the card is stored for
//     the session's person at once when every check passes. A refused
//     card is never stored; the session says why (EnrolResult,
//     WaitEnrol). Sessions live in memory only: a restart of the admin
//     forgets them, and HR starts again.
//
// The broker connection is behind the Transport interface: Paho, a paho
// client over TLS with the admin's certificate, in production (its
// documentation says how it keeps the order of messages without blocking
// paho), an in-memory fake in unit tests. The tests of Paho and of the
// syncer over Paho run against both real brokers (wire/mqtttest).
package syncer
