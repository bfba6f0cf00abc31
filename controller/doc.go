// Package controller is varco-door: the daemon of a door controller. It
// wires the pieces in its subpackages together (ARCHITECTURE.md section 6):
//
//   - reader/pcsc's Monitor reads each CIE presented to a door's reader with
//     the five-APDU door read (reader.ReadDoor);
//   - store looks the NIS up in the door's bbolt allowlist;
//   - decide turns grant, card proof, time, door mode and clock trust into a
//     decision, with no I/O;
//   - door releases the strike for a grant and watches contact and REX;
//   - every event goes into the store's outbox with its per-door sequence
//     number, for the sync code to deliver;
//   - with an [mqtt] broker configured, mqttsync runs one MQTT session per
//     door: signed allowlist updates and commands in, the outbox and the
//     door's status out. Without one the controller runs offline from its
//     stored allowlists;
//   - metrics, clocktrust and sdnotify report health.
//
// Decisions never need the network: a tap reads the store, and sync
// writes it in transactions of its own, so a tap never waits for sync. Relays go to their safe state when a
// door is created and again when the controller stops, is signalled or
// panics in Run.
package controller
