-- Varco admin schema, SQLite. Times are INTEGER microseconds since the
-- Unix epoch (UTC); booleans are 0/1. The PostgreSQL schema
-- (../postgres/00001_init.sql) has the same tables, columns and indexes.

-- +goose Up
CREATE TABLE sites (
	id        INTEGER PRIMARY KEY,
	name      TEXT NOT NULL,
	time_zone TEXT NOT NULL
);
INSERT INTO sites (name, time_zone) VALUES ('Sede', 'Europe/Rome');

CREATE TABLE people (
	id          INTEGER PRIMARY KEY,
	employee_no TEXT NOT NULL UNIQUE,
	name        TEXT NOT NULL,
	surname     TEXT NOT NULL,
	department  TEXT NOT NULL,
	email       TEXT NOT NULL,
	active      INTEGER NOT NULL,
	search      TEXT NOT NULL, -- lowercased employee_no, name, surname, email: ListPeople's Search
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
);
CREATE INDEX people_order ON people (surname, name, id);
CREATE INDEX people_department ON people (department);

CREATE TABLE cards (
	id             INTEGER PRIMARY KEY,
	person_id      INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
	nis            TEXT NOT NULL UNIQUE,
	public_key     BLOB NOT NULL,
	key_hash       TEXT NOT NULL,
	sod_generation TEXT NOT NULL,
	ds_subject     TEXT NOT NULL,
	verification   TEXT NOT NULL,
	enrolled_at    INTEGER NOT NULL,
	enrolled_by    TEXT NOT NULL,
	status         TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'revoked')),
	replaced_by    INTEGER REFERENCES cards (id) ON DELETE SET NULL
);
CREATE INDEX cards_person ON cards (person_id, status);

CREATE TABLE schedules (
	id               INTEGER PRIMARY KEY,
	name             TEXT NOT NULL UNIQUE,
	days             TEXT NOT NULL, -- JSON: seven arrays of {"start","end"} windows
	open_on_holidays INTEGER NOT NULL
);

CREATE TABLE holidays (
	id      INTEGER PRIMARY KEY,
	site_id INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
	date    TEXT NOT NULL,
	name    TEXT NOT NULL,
	UNIQUE (site_id, date)
);

-- revision moves by one per transaction that changes the door's view;
-- schedules_rev and holidays_rev are the revisions at which the schedule
-- set and the holiday set last changed; min_rev is the oldest revision a
-- delta can start from (tombstones up to it were pruned).
CREATE TABLE doors (
	id            INTEGER PRIMARY KEY,
	site_id       INTEGER NOT NULL REFERENCES sites (id),
	name          TEXT NOT NULL,
	location      TEXT NOT NULL,
	controller_id TEXT NOT NULL UNIQUE,
	mode          TEXT NOT NULL,
	revision      INTEGER NOT NULL,
	min_rev       INTEGER NOT NULL,
	schedules_rev INTEGER NOT NULL,
	holidays_rev  INTEGER NOT NULL
);
CREATE INDEX doors_site ON doors (site_id);

CREATE TABLE access_groups (
	id                INTEGER PRIMARY KEY,
	name              TEXT NOT NULL UNIQUE,
	schedule_id       INTEGER REFERENCES schedules (id),
	lockdown_override INTEGER NOT NULL
);
CREATE INDEX access_groups_schedule ON access_groups (schedule_id);

CREATE TABLE group_doors (
	group_id INTEGER NOT NULL REFERENCES access_groups (id) ON DELETE CASCADE,
	door_id  INTEGER NOT NULL REFERENCES doors (id) ON DELETE CASCADE,
	PRIMARY KEY (group_id, door_id)
);
CREATE INDEX group_doors_door ON group_doors (door_id, group_id);

CREATE TABLE group_people (
	group_id  INTEGER NOT NULL REFERENCES access_groups (id) ON DELETE CASCADE,
	person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
	PRIMARY KEY (group_id, person_id)
);
CREATE INDEX group_people_person ON group_people (person_id, group_id);

-- The materialised per-door allowlist: one row per (door, NIS), kept as a
-- tombstone (deleted = 1) when the grant goes, so DoorDelta can send the
-- delete. No foreign keys to people or cards: tombstones outlive them.
-- schedule_ids is the sorted comma-separated union of the schedules of the
-- groups that grant it; flags is varco.Flags.
CREATE TABLE door_grants (
	door_id      INTEGER NOT NULL REFERENCES doors (id) ON DELETE CASCADE,
	nis          TEXT NOT NULL,
	card_id      INTEGER NOT NULL,
	person_id    INTEGER NOT NULL,
	display_name TEXT NOT NULL,
	schedule_ids TEXT NOT NULL,
	flags        INTEGER NOT NULL,
	rev          INTEGER NOT NULL,
	deleted      INTEGER NOT NULL,
	PRIMARY KEY (door_id, nis)
) WITHOUT ROWID;
CREATE INDEX door_grants_rev ON door_grants (door_id, rev);
CREATE INDEX door_grants_person ON door_grants (person_id);
CREATE INDEX door_grants_tombstones ON door_grants (door_id, rev) WHERE deleted;

-- The schedules each door's grants name.
CREATE TABLE door_schedules (
	door_id     INTEGER NOT NULL REFERENCES doors (id) ON DELETE CASCADE,
	schedule_id INTEGER NOT NULL,
	PRIMARY KEY (door_id, schedule_id)
) WITHOUT ROWID;
CREATE INDEX door_schedules_schedule ON door_schedules (schedule_id);

CREATE TABLE users (
	id            INTEGER PRIMARY KEY,
	username      TEXT NOT NULL UNIQUE,
	password_hash TEXT NOT NULL,
	role          TEXT NOT NULL,
	disabled      INTEGER NOT NULL,
	created_at    INTEGER NOT NULL,
	last_login_at INTEGER
);

CREATE TABLE sessions (
	id_hash    TEXT PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE api_tokens (
	id           INTEGER PRIMARY KEY,
	name         TEXT NOT NULL,
	user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role         TEXT NOT NULL,
	hash         TEXT NOT NULL UNIQUE,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER,
	revoked_at   INTEGER,
	last_used_at INTEGER
);

CREATE TABLE audit (
	id        INTEGER PRIMARY KEY,
	time      INTEGER NOT NULL,
	actor     TEXT NOT NULL,
	action    TEXT NOT NULL,
	entity    TEXT NOT NULL,
	entity_id TEXT NOT NULL,
	before    TEXT,
	after     TEXT
);
CREATE INDEX audit_entity ON audit (entity, entity_id, id);
CREATE INDEX audit_actor ON audit (actor, id);
CREATE INDEX audit_time ON audit (time);

-- Door events. No foreign key to doors: the entry log outlives a door.
CREATE TABLE events (
	id            INTEGER PRIMARY KEY,
	door_id       INTEGER NOT NULL,
	-- epoch names the door's outbox: a door whose store was replaced
	-- restarts its sequence numbers under a new epoch.
	epoch         TEXT NOT NULL DEFAULT '',
	seq           INTEGER NOT NULL,
	time          INTEGER NOT NULL,
	clock_trusted INTEGER NOT NULL,
	kind          TEXT NOT NULL,
	reason        TEXT NOT NULL,
	nis           TEXT NOT NULL,
	person_id     INTEGER,
	detail        TEXT NOT NULL,
	received_at   INTEGER NOT NULL,
	UNIQUE (door_id, epoch, seq)
);
-- The entry log lists newest first by (time, id), filtered by one of
-- these. Events arrive roughly in time order, so the kind and reason
-- indexes (few distinct values) take each batch at the end of a few
-- ranges; the person index is the one that costs a leaf per event.
-- Partial indexes: person_id = ? implies IS NOT NULL for both planners;
-- a search by reason adds the literal reason <> '' term, which neither
-- planner could derive from reason = ? with a bound parameter. Only denies
-- have a reason, so those two cost little at ingest.
CREATE INDEX events_time ON events (time, id);
CREATE INDEX events_door ON events (door_id, time, id);
CREATE INDEX events_person ON events (person_id, time, id) WHERE person_id IS NOT NULL;
CREATE INDEX events_kind ON events (kind, time, id);
CREATE INDEX events_reason ON events (reason, time, id) WHERE reason <> '';
CREATE INDEX events_door_reason ON events (door_id, reason, time, id) WHERE reason <> '';

-- +goose Down
DROP TABLE events;
DROP TABLE audit;
DROP TABLE api_tokens;
DROP TABLE sessions;
DROP TABLE users;
DROP TABLE door_schedules;
DROP TABLE door_grants;
DROP TABLE group_people;
DROP TABLE group_doors;
DROP TABLE access_groups;
DROP TABLE doors;
DROP TABLE holidays;
DROP TABLE schedules;
DROP TABLE cards;
DROP TABLE people;
DROP TABLE sites;
