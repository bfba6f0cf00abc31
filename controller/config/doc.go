// Package config is the configuration of one varco-door controller: one
// TOML file, read once at start.
//
// [DefaultConfig] holds the documented default of every optional setting;
// [Load] reads a file over those defaults, rejects keys it does not know (a
// typo must not silently fall back to a default on a door) and validates the
// result. Every error names the file and the field path, for example
//
//	/etc/varco/varco-door.toml: doors[1].release_time: 2s is below the 3s minimum
//
// Door indexes in field paths count from 0, in file order.
//
// Durations are TOML strings in Go syntax ("5s", "1m30s", "72h"); a bare
// integer is rejected rather than read as nanoseconds.
//
// The package only describes and checks the settings; it opens no device,
// socket or store.
package config
