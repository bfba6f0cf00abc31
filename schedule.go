package varco

import (
	"fmt"
	"time"
)

// MinutesPerDay is the end of the last window of a day: a Window's End may
// be 1440 (midnight at the end of the day).
const MinutesPerDay = 24 * 60

// Window is an interval of wall-clock time within one day, in minutes since
// local midnight: Start inclusive, End exclusive. Wall-clock minutes make
// DST changes neither open nor close a window an hour early or late: 08:00
// is 08:00 on both sides of the change.
type Window struct {
	Start int `json:"start"` // 0..1439
	End   int `json:"end"`   // Start+1..1440
}

// Contains reports whether minute m of the day (0..1439) is in w.
func (w Window) Contains(m int) bool { return m >= w.Start && m < w.End }

// String formats w as "08:00-12:30".
func (w Window) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", w.Start/60, w.Start%60, w.End/60, w.End%60)
}

// Schedule is a weekly pattern of opening windows, several per day.
type Schedule struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Days holds the windows of each weekday, indexed by time.Weekday
	// (Sunday = 0).
	Days [7][]Window `json:"days"`
	// OpenOnHolidays keeps the schedule's windows on holidays (a
	// security guard's schedule); by default a holiday closes it.
	OpenOnHolidays bool `json:"open_on_holidays,omitempty"`
}

// Validate checks every window: inside the day, not empty, sorted and not
// overlapping.
func (s *Schedule) Validate() error {
	if s.ID == "" {
		return fmt.Errorf("schedule: empty id")
	}
	for d, ws := range s.Days {
		prev := -1
		for i, w := range ws {
			if w.Start < 0 || w.End > MinutesPerDay || w.End <= w.Start {
				return fmt.Errorf("schedule %s: %v window %d (%d..%d) is not within 0..1440 with start < end", s.ID, time.Weekday(d), i, w.Start, w.End)
			}
			if w.Start < prev {
				return fmt.Errorf("schedule %s: %v window %s overlaps or precedes the one before", s.ID, time.Weekday(d), w)
			}
			prev = w.End
		}
	}
	return nil
}

// OpenAt reports whether the schedule is open at wall-clock time t (already
// in the site's time zone). holiday says whether t's date is a holiday.
func (s *Schedule) OpenAt(t time.Time, holiday bool) bool {
	if holiday && !s.OpenOnHolidays {
		return false
	}
	m := t.Hour()*60 + t.Minute()
	for _, w := range s.Days[t.Weekday()] {
		if w.Contains(m) {
			return true
		}
	}
	return false
}

// Holiday is a date on which schedules are closed (unless they say
// otherwise), in the site's calendar.
type Holiday struct {
	Date string `json:"date"` // YYYY-MM-DD
	Name string `json:"name,omitempty"`
}

// Validate checks the date format.
func (h Holiday) Validate() error {
	if _, err := time.Parse(time.DateOnly, h.Date); err != nil {
		return fmt.Errorf("holiday %q: date must be YYYY-MM-DD", h.Date)
	}
	return nil
}
