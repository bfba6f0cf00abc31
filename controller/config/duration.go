package config

import (
	"fmt"
	"time"
)

// Duration is a [time.Duration] written in the TOML file as a string such as
// "5s". It exists so that a bare integer (which the TOML decoder would read
// as nanoseconds) is an error instead of a 5 ns strike pulse.
type Duration struct {
	time.Duration
}

// D returns d as a Duration.
func D(d time.Duration) Duration { return Duration{d} }

// UnmarshalText parses a Go duration string with a unit.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("want a duration string with a unit such as \"5s\": %w", err)
	}
	d.Duration = v
	return nil
}

// MarshalText writes d in the form UnmarshalText reads.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.Duration.String()), nil
}
