package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Day is 24 hours: the unit of the "365d" form of [Duration]. Calendar
// days with a DST change are off by an hour, which retention does not mind.
const Day = 24 * time.Hour

// Duration is a [time.Duration] written as a string: Go syntax ("12h",
// "1h30m") or a whole number of days ("365d"). A bare number other than 0
// is refused, so that "retention = 365" cannot mean 365 nanoseconds.
type Duration struct {
	time.Duration
}

// D returns d as a Duration.
func D(d time.Duration) Duration { return Duration{d} }

// ParseDuration reads the forms [Duration] accepts.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n < 0 || days[0] == '+' {
			return 0, fmt.Errorf("%q: want a whole number of days such as \"365d\"", s)
		}
		if n > int64(maxDuration/Day) {
			return 0, fmt.Errorf("%q: too long", s)
		}
		return time.Duration(n) * Day, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q: want a duration such as \"12h\" or \"365d\"", s)
	}
	return d, nil
}

const maxDuration = time.Duration(1<<63 - 1)

// UnmarshalText parses s with [ParseDuration].
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := ParseDuration(string(text))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText writes whole days as "<n>d" and anything else in Go syntax,
// forms UnmarshalText reads back to the same value.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}

// String is the form MarshalText writes.
func (d Duration) String() string {
	if d.Duration > 0 && d.Duration%Day == 0 {
		return strconv.FormatInt(int64(d.Duration/Day), 10) + "d"
	}
	return d.Duration.String()
}
