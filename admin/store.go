package admin

import (
	"context"
	"time"

	"github.com/varco-access/varco"
)

// Store is the admin server's storage. Implementations (admin/sqlstore)
// pass the shared suite in admin/storetest.
//
// Conventions, for every method:
//   - Writes validate their input first and return a *ValidationError
//     naming the bad fields; nothing is written then.
//   - A missing entity is ErrNotFound; a uniqueness clash or a delete of
//     something still referred to is ErrConflict (both wrapped: test with
//     errors.Is).
//   - Create methods set the ID (and CreatedAt/UpdatedAt, KeyHash, the
//     defaults documented on the type) on the value passed in.
//   - Update methods replace every editable field of the entity with the
//     given ID. A write that changes nothing records no audit entry and
//     moves no revision.
//   - Every write that takes an Actor records its AuditEntry, and moves the
//     revisions of the doors whose view it changes, in the same
//     transaction as the change.
//   - Times are stored with microsecond precision and returned in UTC.
type Store interface {
	// Sites.
	CreateSite(ctx context.Context, a Actor, s *Site) error
	GetSite(ctx context.Context, id int64) (Site, error)
	ListSites(ctx context.Context) ([]Site, error)
	UpdateSite(ctx context.Context, a Actor, s *Site) error
	// DeleteSite fails with ErrConflict while the site has doors; its
	// holidays go with it.
	DeleteSite(ctx context.Context, a Actor, id int64) error

	// People.
	CreatePerson(ctx context.Context, a Actor, p *Person) error
	GetPerson(ctx context.Context, id int64) (Person, error)
	GetPersonByEmployeeNo(ctx context.Context, employeeNo string) (Person, error)
	// ListPeople returns one page of the people f selects.
	ListPeople(ctx context.Context, f PersonFilter) ([]Person, error)
	// CountPeople counts all the people f selects, ignoring its paging.
	CountPeople(ctx context.Context, f PersonFilter) (int, error)
	UpdatePerson(ctx context.Context, a Actor, p *Person) error
	// DeletePerson deletes the person with their cards and group
	// memberships; their grants become tombstones. Prefer deactivating:
	// events keep the person id but lose the link.
	DeletePerson(ctx context.Context, a Actor, id int64) error
	// ImportPeople upserts people by EmployeeNo in one transaction: all or
	// nothing. People already present with the same fields count as
	// neither created nor updated, so importing the same list twice
	// changes nothing the second time. IDs and timestamps are set on the
	// slice's elements. Validation errors name fields as
	// "people[i].field".
	ImportPeople(ctx context.Context, a Actor, people []Person) (created, updated int, err error)

	// Cards.
	// CreateCard stores an enrolled card (Status defaults to active) and
	// grants it wherever its person has access.
	CreateCard(ctx context.Context, a Actor, c *Card) error
	GetCard(ctx context.Context, id int64) (Card, error)
	GetCardByNIS(ctx context.Context, nis string) (Card, error)
	// ListCards returns a person's cards, newest enrolment first.
	ListCards(ctx context.Context, personID int64) ([]Card, error)
	SetCardStatus(ctx context.Context, a Actor, id int64, s CardStatus) error
	// ReplaceCard stores newCard for the same person as the card oldID
	// (newCard.PersonID is set from it) and revokes the old card with
	// ReplacedBy pointing to the new one, in one transaction.
	ReplaceCard(ctx context.Context, a Actor, oldID int64, newCard *Card) error
	// DeleteCard removes a card enrolled by mistake; revoke cards that
	// were in use instead, to keep their history.
	DeleteCard(ctx context.Context, a Actor, id int64) error

	// Schedules.
	CreateSchedule(ctx context.Context, a Actor, s *Schedule) error
	GetSchedule(ctx context.Context, id int64) (Schedule, error)
	ListSchedules(ctx context.Context) ([]Schedule, error)
	// UpdateSchedule changes the windows (and name) in place: doors whose
	// grants name the schedule get the new definition and a new revision,
	// their grants are not rewritten.
	UpdateSchedule(ctx context.Context, a Actor, s *Schedule) error
	// DeleteSchedule fails with ErrConflict while a group names it.
	DeleteSchedule(ctx context.Context, a Actor, id int64) error

	// Holidays.
	CreateHoliday(ctx context.Context, a Actor, h *Holiday) error
	GetHoliday(ctx context.Context, id int64) (Holiday, error)
	// ListHolidays returns a site's holidays sorted by date (every site's
	// when siteID is 0).
	ListHolidays(ctx context.Context, siteID int64) ([]Holiday, error)
	UpdateHoliday(ctx context.Context, a Actor, h *Holiday) error
	DeleteHoliday(ctx context.Context, a Actor, id int64) error

	// Doors.
	// CreateDoor stores a door (Mode defaults to normal) at revision 1.
	CreateDoor(ctx context.Context, a Actor, d *Door) error
	GetDoor(ctx context.Context, id int64) (Door, error)
	GetDoorByControllerID(ctx context.Context, controllerID string) (Door, error)
	// ListDoors returns a site's doors by name (every site's when siteID
	// is 0).
	ListDoors(ctx context.Context, siteID int64) ([]Door, error)
	UpdateDoor(ctx context.Context, a Actor, d *Door) error
	SetDoorMode(ctx context.Context, a Actor, id int64, m varco.DoorMode) error
	DeleteDoor(ctx context.Context, a Actor, id int64) error

	// Access groups.
	// CreateGroup stores the group with its DoorIDs and PersonIDs.
	CreateGroup(ctx context.Context, a Actor, g *Group) error
	GetGroup(ctx context.Context, id int64) (Group, error)
	// ListGroups returns every group by name, with members and doors.
	ListGroups(ctx context.Context) ([]Group, error)
	// ListPersonGroups returns the groups a person belongs to.
	ListPersonGroups(ctx context.Context, personID int64) ([]Group, error)
	// UpdateGroup replaces name, schedule, flag, doors and people.
	UpdateGroup(ctx context.Context, a Actor, g *Group) error
	DeleteGroup(ctx context.Context, a Actor, id int64) error
	// AddGroupPeople and the three below change membership; ids already
	// in (or already out) are ignored.
	AddGroupPeople(ctx context.Context, a Actor, groupID int64, personIDs ...int64) error
	RemoveGroupPeople(ctx context.Context, a Actor, groupID int64, personIDs ...int64) error
	AddGroupDoors(ctx context.Context, a Actor, groupID int64, doorIDs ...int64) error
	RemoveGroupDoors(ctx context.Context, a Actor, groupID int64, doorIDs ...int64) error

	// Admin users.
	// CreateUser stores a user; CreatedAt is set by the store.
	CreateUser(ctx context.Context, a Actor, u *User) error
	GetUser(ctx context.Context, id int64) (User, error)
	GetUserByUsername(ctx context.Context, username string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	// UpdateUser changes username, role and disabled (not the password:
	// SetUserPassword). Disabling a user deletes their sessions.
	UpdateUser(ctx context.Context, a Actor, u *User) error
	SetUserPassword(ctx context.Context, a Actor, id int64, passwordHash string) error
	DeleteUser(ctx context.Context, a Actor, id int64) error

	// Sessions. CreateSession also sets the user's LastLoginAt to the
	// session's CreatedAt and is audited as a login.
	CreateSession(ctx context.Context, a Actor, s Session) error
	// GetSession returns ErrNotFound for an unknown or expired session
	// (expired as of now).
	GetSession(ctx context.Context, idHash string, now time.Time) (Session, error)
	DeleteSession(ctx context.Context, a Actor, idHash string) error
	// DeleteUserSessions logs a user out everywhere.
	DeleteUserSessions(ctx context.Context, a Actor, userID int64) (int64, error)
	// DeleteExpiredSessions is housekeeping: not audited.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error)

	// API tokens.
	CreateAPIToken(ctx context.Context, a Actor, t *APIToken) error
	// GetAPITokenByHash returns the token whatever its state: the caller
	// checks RevokedAt and ExpiresAt.
	GetAPITokenByHash(ctx context.Context, hash string) (APIToken, error)
	ListAPITokens(ctx context.Context) ([]APIToken, error)
	RevokeAPIToken(ctx context.Context, a Actor, id int64, at time.Time) error
	// TouchAPIToken records a use: bookkeeping, not audited.
	TouchAPIToken(ctx context.Context, id int64, at time.Time) error

	// ListAudit returns audit entries newest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)

	// Events.
	// InsertEvents stores events from doors, ignoring those whose
	// (DoorID, Epoch, Seq) is already stored, and reports how many were new. IDs
	// are not set on the slice. ReceivedAt defaults to now.
	InsertEvents(ctx context.Context, events []Event) (inserted int, err error)
	// SearchEvents returns one page of the events f selects, newest first,
	// and the cursor of the next page (nil after the last).
	SearchEvents(ctx context.Context, f EventFilter) ([]Event, *EventCursor, error)
	// MaxEventSeq is the highest Seq stored for a door (0 if none).
	MaxEventSeq(ctx context.Context, doorID int64) (uint64, error)
	// PurgeEventsBefore deletes events older than t (retention) and
	// records one audit entry with the count.
	PurgeEventsBefore(ctx context.Context, a Actor, t time.Time) (int64, error)

	// Door sync.
	// DoorView is the door's whole view at its current revision.
	DoorView(ctx context.Context, doorID int64) (DoorView, error)
	// DoorDelta is what changed in the door's view after revision from,
	// up to the current revision; ErrRevisionGone when from is too old or
	// ahead of the door.
	DoorDelta(ctx context.Context, doorID int64, from int64) (DoorDelta, error)
	// DoorRevision is the door's current revision.
	DoorRevision(ctx context.Context, doorID int64) (int64, error)

	// Close releases the store.
	Close() error
}
