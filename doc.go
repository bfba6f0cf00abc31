// Package varco holds the domain types shared by the door controller
// (package controller) and the admin server (package admin): grants,
// schedules, holidays, access decisions and door events. It has no I/O and
// no dependency beyond the standard library and package reader's NIS
// check; adapters in the subpackages talk in these terms. The versioned
// MQTT payloads built on them live in package wire.
package varco
