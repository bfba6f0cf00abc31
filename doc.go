// Package varco holds the domain types shared by the door controller
// (package controller) and the admin server (package admin): grants,
// schedules, holidays, access decisions and door events. It has no I/O and
// no dependency beyond the standard library; adapters in the subpackages
// talk in these terms. The versioned MQTT payloads built on them live with
// the sync code.
package varco
