package admin

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/reader"
)

// Length limits, in characters, of the free-text fields.
const (
	MaxNameLen       = 200 // names, surnames, departments, locations, descriptions
	MaxShortLen      = 64  // employee numbers, controller ids, usernames
	MaxEmailLen      = 254
	MaxDetailLen     = 2000 // card verification summaries, event details
	MaxSecretHashLen = 256
)

// Actor says who made a write; it is stored in the audit entry of the
// write. Name is the admin user's username, "token:<name>" for an API
// token, or "system" for the server's own housekeeping.
type Actor struct {
	Name string `json:"name"`
}

// Validate checks that the actor is named.
func (a Actor) Validate() error {
	var ve ValidationError
	checkText(&ve, "actor", a.Name, true, MaxNameLen)
	return ve.err()
}

// Site is a place with its own calendar: doors and holidays belong to a
// site, schedules are read in its time zone. The first migration creates
// the default site "Sede" in Europe/Rome.
type Site struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	TimeZone string `json:"time_zone"` // IANA name, e.g. "Europe/Rome"
}

// Validate checks the name and that the time zone loads.
func (s *Site) Validate() error {
	var ve ValidationError
	checkText(&ve, "name", s.Name, true, MaxNameLen)
	if s.TimeZone == "" {
		ve.add("time_zone", "required")
	} else if _, err := time.LoadLocation(s.TimeZone); err != nil || s.TimeZone == "Local" {
		ve.add("time_zone", "not a known IANA time zone such as Europe/Rome")
	}
	return ve.err()
}

// Person is someone who may be given access: an employee, a contractor.
type Person struct {
	ID         int64     `json:"id"`
	EmployeeNo string    `json:"employee_no"` // unique
	Name       string    `json:"name"`
	Surname    string    `json:"surname"`
	Department string    `json:"department,omitempty"`
	Email      string    `json:"email,omitempty"`
	Active     bool      `json:"active"` // an inactive person's cards open nothing
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// DisplayName is what a door shows and logs: "Name Surname".
func (p *Person) DisplayName() string { return p.Name + " " + p.Surname }

// Validate checks the fields an administrator types.
func (p *Person) Validate() error {
	var ve ValidationError
	checkText(&ve, "employee_no", p.EmployeeNo, true, MaxShortLen)
	checkText(&ve, "name", p.Name, true, MaxNameLen)
	checkText(&ve, "surname", p.Surname, true, MaxNameLen)
	checkText(&ve, "department", p.Department, false, MaxNameLen)
	if p.Email != "" {
		checkText(&ve, "email", p.Email, false, MaxEmailLen)
		if a, err := mail.ParseAddress(p.Email); err != nil || a.Name != "" || a.Address != p.Email || !strings.Contains(p.Email[strings.LastIndexByte(p.Email, '@')+1:], ".") {
			ve.add("email", "not an email address such as mario.rossi@example.it")
		}
	}
	return ve.err()
}

// CardStatus is where a card is in its life.
type CardStatus string

// Card statuses. Only an active card of an active person opens doors.
const (
	CardActive    CardStatus = "active"
	CardSuspended CardStatus = "suspended" // temporarily: lost and maybe found
	CardRevoked   CardStatus = "revoked"   // for good: stolen, replaced, expired
)

// Valid reports whether s is one of the known statuses.
func (s CardStatus) Valid() bool {
	return s == CardActive || s == CardSuspended || s == CardRevoked
}

// Card is one CIE enrolled for a person. A person may hold several cards
// over time (a renewed CIE replaces the old one).
type Card struct {
	ID       int64  `json:"id"`
	PersonID int64  `json:"person_id"`
	NIS      string `json:"nis"` // 12 digits, unique (CIE.md section 1)
	// PublicKey is the card's key as varco.Grant.PublicKey: DER PKCS#1
	// RSAPublicKey.
	PublicKey []byte `json:"public_key"`
	// KeyHash is the hex SHA-256 of PublicKey, computed by the store.
	KeyHash       string `json:"key_hash"`
	SODGeneration string `json:"sod_generation,omitempty"`
	// DSSubject is the document signer certificate's subject from EF.SOD.
	DSSubject string `json:"ds_subject,omitempty"`
	// Verification summarises the checks made at enrolment, e.g. "ok: SOD
	// verified against CSCA ...".
	Verification string     `json:"verification,omitempty"`
	EnrolledAt   time.Time  `json:"enrolled_at"`
	EnrolledBy   string     `json:"enrolled_by,omitempty"`
	Status       CardStatus `json:"status"`
	// ReplacedBy is the card that replaced this one (ReplaceCard).
	ReplacedBy *int64 `json:"replaced_by,omitempty"`
}

// Validate checks the NIS, the key, the status and the texts. An empty
// Status is taken as active by the store before validation.
func (c *Card) Validate() error {
	var ve ValidationError
	if c.PersonID <= 0 {
		ve.add("person_id", "required")
	}
	if err := reader.CheckNIS([]byte(c.NIS)); err != nil {
		ve.add("nis", "must be 12 digits")
	}
	if len(c.PublicKey) == 0 {
		ve.add("public_key", "required")
	} else if _, der, err := reader.ParsePublicKeyFile(c.PublicKey); err != nil {
		ve.add("public_key", "not a DER RSA public key of 2048 to 4096 bits")
	} else if len(der) != len(c.PublicKey) {
		ve.add("public_key", "bytes after the key: cut it at its DER length")
	}
	checkText(&ve, "sod_generation", c.SODGeneration, false, MaxShortLen)
	checkText(&ve, "ds_subject", c.DSSubject, false, MaxDetailLen)
	checkText(&ve, "verification", c.Verification, false, MaxDetailLen)
	checkText(&ve, "enrolled_by", c.EnrolledBy, false, MaxNameLen)
	if !c.Status.Valid() {
		ve.add("status", "must be active, suspended or revoked")
	}
	return ve.err()
}

// Schedule is a weekly pattern of opening windows that groups refer to.
type Schedule struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// Days holds the windows of each weekday, indexed by time.Weekday
	// (Sunday = 0), sorted and not overlapping.
	Days           [7][]varco.Window `json:"days"`
	OpenOnHolidays bool              `json:"open_on_holidays"`
}

// Varco returns the schedule as doors hold it, its ID in decimal.
func (s *Schedule) Varco() varco.Schedule {
	v := varco.Schedule{ID: strconv.FormatInt(s.ID, 10), Name: s.Name, OpenOnHolidays: s.OpenOnHolidays}
	for d, ws := range s.Days {
		if len(ws) > 0 {
			v.Days[d] = append([]varco.Window(nil), ws...)
		}
	}
	return v
}

// Validate checks the name and every window: within the day, not empty,
// sorted and not overlapping.
func (s *Schedule) Validate() error {
	var ve ValidationError
	checkText(&ve, "name", s.Name, true, MaxNameLen)
	for d, ws := range s.Days {
		if err := ValidateWindows(ws); err != nil {
			ve.merge(fmt.Sprintf("days[%d]", d), err)
		}
	}
	return ve.err()
}

// ValidateWindows checks one day's windows; field names are "[i]".
func ValidateWindows(ws []varco.Window) error {
	var ve ValidationError
	prev := -1
	for i, w := range ws {
		f := fmt.Sprintf("[%d]", i)
		switch {
		case w.Start < 0 || w.End > varco.MinutesPerDay || w.End <= w.Start:
			ve.add(f, "a window must lie within 00:00-24:00 and end after it starts")
		case w.Start < prev:
			ve.add(f, "windows must be sorted and must not overlap")
		}
		if w.End > prev {
			prev = w.End
		}
	}
	return ve.err()
}

// ParseDays decodes the JSON form of Schedule.Days (an array of seven
// arrays of {"start","end"} windows) and validates it. It is the parser of
// outside bytes the HTTP API and the stores use.
func ParseDays(b []byte) ([7][]varco.Window, error) {
	var days [7][]varco.Window
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return days, &ValidationError{Fields: map[string]string{"days": "not a JSON array of seven days of windows"}}
	}
	if len(raw) != 7 {
		return days, &ValidationError{Fields: map[string]string{"days": fmt.Sprintf("want 7 days (Sunday first), got %d", len(raw))}}
	}
	var ve ValidationError
	for d, r := range raw {
		var ws []varco.Window
		dec := json.NewDecoder(strings.NewReader(string(r)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ws); err != nil {
			ve.add(fmt.Sprintf("days[%d]", d), "not an array of {\"start\":minute,\"end\":minute} windows")
			continue
		}
		if err := ValidateWindows(ws); err != nil {
			ve.merge(fmt.Sprintf("days[%d]", d), err)
			continue
		}
		if len(ws) > 0 {
			days[d] = ws
		}
	}
	return days, ve.err()
}

// Holiday is a date on which a site's schedules are closed (unless a
// schedule is open on holidays). Unique per site and date.
type Holiday struct {
	ID     int64  `json:"id"`
	SiteID int64  `json:"site_id"`
	Date   string `json:"date"` // YYYY-MM-DD
	Name   string `json:"name,omitempty"`
}

// Varco returns the holiday as doors hold it.
func (h *Holiday) Varco() varco.Holiday { return varco.Holiday{Date: h.Date, Name: h.Name} }

// Validate checks the site, the date and the name.
func (h *Holiday) Validate() error {
	var ve ValidationError
	if h.SiteID <= 0 {
		ve.add("site_id", "required")
	}
	if t, err := time.Parse(time.DateOnly, h.Date); err != nil || t.Format(time.DateOnly) != h.Date {
		ve.add("date", "must be a date as YYYY-MM-DD")
	}
	checkText(&ve, "name", h.Name, false, MaxNameLen)
	return ve.err()
}

// Door is one reader and strike. ControllerID is the door's sync id: the
// {door} of its MQTT topics and varco.Event.Door, unique.
type Door struct {
	ID           int64          `json:"id"`
	SiteID       int64          `json:"site_id"`
	Name         string         `json:"name"`
	Location     string         `json:"location,omitempty"`
	ControllerID string         `json:"controller_id"`
	Mode         varco.DoorMode `json:"mode"`
	// Revision is the revision of the door's view (DoorView), maintained
	// by the store: writes ignore it.
	Revision int64 `json:"revision"`
}

// Validate checks the fields. ControllerID must be usable in an MQTT topic
// level: letters, digits, '-', '_' and '.', at most 64. An empty Mode is
// taken as normal by the store before validation.
func (d *Door) Validate() error {
	var ve ValidationError
	if d.SiteID <= 0 {
		ve.add("site_id", "required")
	}
	checkText(&ve, "name", d.Name, true, MaxNameLen)
	checkText(&ve, "location", d.Location, false, MaxNameLen)
	if d.ControllerID == "" {
		ve.add("controller_id", "required")
	} else if len(d.ControllerID) > MaxShortLen || strings.IndexFunc(d.ControllerID, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	}) >= 0 {
		ve.add("controller_id", "only letters, digits, '-', '_' and '.', at most 64")
	}
	if !ValidMode(d.Mode) {
		ve.add("mode", "must be normal, lockdown, unlocked_schedule or unlocked_command")
	}
	return ve.err()
}

// ValidMode reports whether m is one of the door modes of package varco.
func ValidMode(m varco.DoorMode) bool {
	switch m {
	case varco.ModeNormal, varco.ModeLockdown, varco.ModeUnlockedSchedule, varco.ModeUnlockedCommand:
		return true
	}
	return false
}

// Group is an access group: its people may open its doors during its
// schedule.
type Group struct {
	ID   int64  `json:"id"`
	Name string `json:"name"` // unique
	// ScheduleID names the schedule; nil means always (varco.FlagAlways).
	ScheduleID *int64 `json:"schedule_id"`
	// LockdownOverride lets the group's people in during a lockdown.
	LockdownOverride bool    `json:"lockdown_override"`
	DoorIDs          []int64 `json:"door_ids"`   // sorted
	PersonIDs        []int64 `json:"person_ids"` // sorted
}

// Validate checks the name and the ids.
func (g *Group) Validate() error {
	var ve ValidationError
	checkText(&ve, "name", g.Name, true, MaxNameLen)
	if g.ScheduleID != nil && *g.ScheduleID <= 0 {
		ve.add("schedule_id", "must be a schedule id or null for always")
	}
	for i, id := range g.DoorIDs {
		if id <= 0 {
			ve.add(fmt.Sprintf("door_ids[%d]", i), "not an id")
		}
	}
	for i, id := range g.PersonIDs {
		if id <= 0 {
			ve.add(fmt.Sprintf("person_ids[%d]", i), "not an id")
		}
	}
	return ve.err()
}

// Admin user roles (ARCHITECTURE.md section 7). What each may do is
// decided by package admin/auth; the store only keeps the name.
const (
	RoleAdmin      = "admin"
	RoleHR         = "hr"
	RoleFacilities = "facilities"
	RoleViewer     = "viewer"
)

// ValidRole reports whether r is one of the known roles.
func ValidRole(r string) bool {
	return r == RoleAdmin || r == RoleHR || r == RoleFacilities || r == RoleViewer
}

// User is an admin panel user.
type User struct {
	ID       int64  `json:"id"`
	Username string `json:"username"` // unique
	// PasswordHash is the encoded password hash (admin/auth); never
	// serialised, never written to the audit log.
	PasswordHash string     `json:"-"`
	Role         string     `json:"role"`
	Disabled     bool       `json:"disabled"`
	CreatedAt    time.Time  `json:"created_at"`
	LastLoginAt  *time.Time `json:"last_login_at,omitempty"`
}

// Validate checks the username and the role. Usernames are printable,
// without spaces.
func (u *User) Validate() error {
	var ve ValidationError
	checkText(&ve, "username", u.Username, true, MaxShortLen)
	if strings.IndexFunc(u.Username, unicode.IsSpace) >= 0 {
		ve.add("username", "must not contain spaces")
	}
	if len(u.PasswordHash) > MaxSecretHashLen {
		ve.add("password_hash", "too long")
	}
	if !ValidRole(u.Role) {
		ve.add("role", "must be admin, hr, facilities or viewer")
	}
	return ve.err()
}

// Session is a logged-in browser session. IDHash is the hash of the
// session cookie's secret (admin/auth); the secret itself is never stored.
type Session struct {
	IDHash    string    `json:"-"`
	UserID    int64     `json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Validate checks the fields.
func (s *Session) Validate() error {
	var ve ValidationError
	if s.IDHash == "" || len(s.IDHash) > MaxSecretHashLen {
		ve.add("id_hash", "required")
	}
	if s.UserID <= 0 {
		ve.add("user_id", "required")
	}
	if !s.ExpiresAt.After(s.CreatedAt) {
		ve.add("expires_at", "must be after created_at")
	}
	return ve.err()
}

// APIToken is a bearer token for scripts. Hash is the hex SHA-256 of the
// token; the token itself is shown once and never stored.
type APIToken struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	UserID     int64      `json:"user_id"` // who created it
	Role       string     `json:"role"`
	Hash       string     `json:"-"` // unique
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// Validate checks the fields.
func (t *APIToken) Validate() error {
	var ve ValidationError
	checkText(&ve, "name", t.Name, true, MaxNameLen)
	if t.UserID <= 0 {
		ve.add("user_id", "required")
	}
	if !ValidRole(t.Role) {
		ve.add("role", "must be admin, hr, facilities or viewer")
	}
	if len(t.Hash) != 64 || strings.IndexFunc(t.Hash, func(r rune) bool { return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') }) >= 0 {
		ve.add("hash", "must be a lowercase hex SHA-256")
	}
	if t.ExpiresAt != nil && !t.ExpiresAt.After(t.CreatedAt) {
		ve.add("expires_at", "must be after created_at")
	}
	return ve.err()
}

// Audit actions. Entities are the lowercase type names: "site", "person",
// "card", "schedule", "holiday", "door", "group", "user", "session",
// "api_token", "event".
const (
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionDelete = "delete"
	ActionImport = "import" // one entry per ImportPeople call, beside the per-person ones
	ActionLogin  = "login"  // CreateSession
	ActionLogout = "logout" // DeleteSession, DeleteUserSessions
	ActionRevoke = "revoke" // RevokeAPIToken
	ActionPurge  = "purge"  // PurgeEventsBefore

	// Group membership changes record only the ids added (in After) or
	// removed (in Before).
	ActionAddPeople    = "add_people"
	ActionRemovePeople = "remove_people"
	ActionAddDoors     = "add_doors"
	ActionRemoveDoors  = "remove_doors"
)

// AuditEntry records one write: who, what, and the entity before and
// after it (JSON of the domain type; null for a create's Before and a
// delete's After).
type AuditEntry struct {
	ID       int64           `json:"id"`
	Time     time.Time       `json:"time"`
	Actor    string          `json:"actor"`
	Action   string          `json:"action"`
	Entity   string          `json:"entity"`
	EntityID string          `json:"entity_id"`
	Before   json.RawMessage `json:"before,omitempty"`
	After    json.RawMessage `json:"after,omitempty"`
}

// AuditFilter selects audit entries, newest first. Zero fields match
// anything.
type AuditFilter struct {
	From, To time.Time // From inclusive, To exclusive
	Actor    string
	Action   string
	Entity   string
	EntityID string
	// BeforeID pages: only entries with an ID below it (keyset; 0 = from
	// the newest).
	BeforeID int64
	Limit    int // 0 = 100; at most 1000
}

// Event is a door event as stored: varco.Event resolved to the admin's
// ids. (DoorID, Epoch, Seq) is unique: ingest is idempotent.
type Event struct {
	ID     int64 `json:"id"`
	DoorID int64 `json:"door_id"`
	// Epoch names the door's outbox (wire.EventsBatch.Epoch): a door whose
	// store was replaced starts its sequence again under a new epoch.
	Epoch        string          `json:"epoch,omitempty"`
	Seq          uint64          `json:"seq"`
	Time         time.Time       `json:"time"` // the door's clock
	ClockTrusted bool            `json:"clock_trusted"`
	Kind         varco.EventKind `json:"kind"`
	Reason       varco.Reason    `json:"reason,omitempty"`
	NIS          string          `json:"nis,omitempty"`
	// PersonID is resolved from NIS by InsertEvents when nil and the
	// NIS belongs to a known card.
	PersonID   *int64    `json:"person_id,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
}

// Validate checks what ingest relies on.
func (e *Event) Validate() error {
	var ve ValidationError
	if e.DoorID <= 0 {
		ve.add("door_id", "required")
	}
	if e.Time.IsZero() {
		ve.add("time", "required")
	}
	if e.Kind == "" || len(e.Kind) > MaxShortLen {
		ve.add("kind", "required")
	}
	if len(e.Reason) > MaxShortLen {
		ve.add("reason", "too long")
	}
	if len(e.NIS) > MaxShortLen {
		ve.add("nis", "too long")
	}
	if len(e.Epoch) > MaxShortLen {
		ve.add("epoch", "too long")
	}
	if len(e.Detail) > MaxDetailLen {
		ve.add("detail", "too long")
	}
	return ve.err()
}

// EventCursor is the position after the last event of a page: events are
// listed newest first by (Time, ID).
type EventCursor struct {
	Time time.Time `json:"time"`
	ID   int64     `json:"id"`
}

// EventFilter selects events for the entry log. Zero fields match
// anything.
type EventFilter struct {
	From, To time.Time // From inclusive, To exclusive
	DoorID   int64
	PersonID int64
	Kind     varco.EventKind
	Reason   varco.Reason
	// After continues from the cursor SearchEvents returned.
	After *EventCursor
	Limit int // 0 = 100; at most 10000
}

// PersonFilter selects people, ordered by surname, name and id (byte
// order, the same on every backend).
type PersonFilter struct {
	// Search matches people whose name, surname, employee number or email
	// contains every word of it, ignoring case.
	Search     string
	Active     *bool  // nil = both
	Department string // exact; "" = any
	// After pages by keyset: people ordered after this one (use the last
	// of the previous page). Offset pages by count instead; use one.
	After  *Person
	Offset int
	Limit  int // 0 = 100; at most 10000 (Count ignores Limit and paging)
}

// DoorView is everything a door must hold, at one revision: the snapshot
// sent to a door that is too far behind for a delta.
type DoorView struct {
	DoorID   int64 `json:"door_id"`
	Revision int64 `json:"revision"`
	// Grants are sorted by NIS.
	Grants []varco.Grant `json:"grants"`
	// Schedules are those the grants name, sorted by id.
	Schedules []varco.Schedule `json:"schedules"`
	// Holidays are the door's site's, sorted by date.
	Holidays []varco.Holiday `json:"holidays"`
	Mode     varco.DoorMode  `json:"mode"`
	TimeZone string          `json:"time_zone"`
}

// DoorDelta takes a door from revision From to revision To: apply Deletes
// and Upserts (by NIS), and replace the schedule and holiday sets when
// they are non-nil.
type DoorDelta struct {
	DoorID  int64         `json:"door_id"`
	From    int64         `json:"from"`
	To      int64         `json:"to"`
	Upserts []varco.Grant `json:"upserts"`
	Deletes []string      `json:"deletes"` // NIS
	// Schedules and Holidays are the full current sets when they changed
	// after From, nil when unchanged (non-nil and empty when changed to
	// none).
	Schedules []varco.Schedule `json:"schedules"`
	Holidays  []varco.Holiday  `json:"holidays"`
	// Mode and TimeZone are always the current ones.
	Mode     varco.DoorMode `json:"mode"`
	TimeZone string         `json:"time_zone"`
}

// checkText validates a free-text field: valid UTF-8, no control
// characters, no leading or trailing space, at most max characters, and
// present when required.
func checkText(ve *ValidationError, field, s string, required bool, max int) {
	switch {
	case s == "":
		if required {
			ve.add(field, "required")
		}
	case !utf8.ValidString(s):
		ve.add(field, "not valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		ve.add(field, fmt.Sprintf("longer than %d characters", max))
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		ve.add(field, "contains control characters")
	case strings.TrimSpace(s) != s:
		ve.add(field, "has leading or trailing spaces")
	}
}
