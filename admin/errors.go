package admin

import (
	"errors"
	"sort"
	"strings"
)

var (
	// ErrNotFound is returned when the entity asked for (or one a write
	// refers to, such as the person of a new card) does not exist.
	ErrNotFound = errors.New("admin: not found")

	// ErrConflict is returned when a write would break a uniqueness rule
	// (a second card with the same NIS, a second person with the same
	// employee number, a username taken) or would remove something still
	// in use (a schedule a group names, a site that has doors).
	ErrConflict = errors.New("admin: conflict")

	// ErrRevisionGone is returned by DoorDelta when the door's revision is
	// older than the oldest revision the store can still compute a delta
	// from (its tombstones were pruned), or newer than the door's current
	// revision (the database was restored from a backup). The door must be
	// sent a full snapshot (DoorView).
	ErrRevisionGone = errors.New("admin: revision no longer available, send a snapshot")
)

// ValidationError is returned when an entity handed to a write does not
// pass its Validate method. Fields maps each bad field (by its JSON name,
// with an index for lists: "people[3].email", "days[1][0]") to a message
// meant for the person who typed it.
type ValidationError struct {
	Fields map[string]string `json:"fields"`
}

// Error lists the fields in a stable order.
func (e *ValidationError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("admin: invalid")
	for i, k := range keys {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(k)
		b.WriteString(": ")
		b.WriteString(e.Fields[k])
	}
	return b.String()
}

// add records a problem with field, keeping the first message per field.
func (e *ValidationError) add(field, msg string) {
	if e.Fields == nil {
		e.Fields = map[string]string{}
	}
	if _, ok := e.Fields[field]; !ok {
		e.Fields[field] = msg
	}
}

// merge copies o's fields under prefix ("people[3]." + field).
func (e *ValidationError) merge(prefix string, o error) {
	var ve *ValidationError
	if !errors.As(o, &ve) {
		e.add(strings.TrimSuffix(prefix, "."), o.Error())
		return
	}
	for k, v := range ve.Fields {
		e.add(prefix+k, v)
	}
}

// err returns e as an error, or nil when no field was added.
func (e *ValidationError) err() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}
