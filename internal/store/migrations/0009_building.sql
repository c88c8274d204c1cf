-- building: places, floor plans, controllers, doors, cardholders, access
-- levels, schedules, access events, alarms and lockdowns. Ids of places,
-- controllers, doors, schedules, access levels and cardholders are short
-- text chosen by an admin (or generated), 1-64 of [A-Za-z0-9._-]. Times
-- are unix milliseconds; booleans are 0 or 1. The building package
-- checks every value before it is written; the CHECKs here are a backstop.

-- A site holds buildings and gives them a time zone (IANA name; '' is the
-- daemon's local zone) for schedules, and a site-wide anti-passback flag.
CREATE TABLE building_sites (
	id            TEXT    PRIMARY KEY,
	name          TEXT    NOT NULL,
	time_zone     TEXT    NOT NULL DEFAULT '',
	anti_passback INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
);

CREATE TABLE building_buildings (
	id         TEXT    PRIMARY KEY,
	site       TEXT    NOT NULL REFERENCES building_sites (id),
	name       TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX building_buildings_site ON building_buildings (site);

CREATE TABLE building_floors (
	id         TEXT    PRIMARY KEY,
	building   TEXT    NOT NULL REFERENCES building_buildings (id),
	name       TEXT    NOT NULL,
	level      INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX building_floors_building ON building_floors (building);

-- A floor's plan: the uploaded image exactly as checked (PNG, or SVG
-- that carries no script and no external reference).
CREATE TABLE building_floor_plans (
	floor        TEXT    PRIMARY KEY REFERENCES building_floors (id) ON DELETE CASCADE,
	content_type TEXT    NOT NULL CHECK (content_type IN ('image/png', 'image/svg+xml')),
	data         BLOB    NOT NULL,
	updated_at   INTEGER NOT NULL
);

-- Devices placed on a floor plan, at fractions 0..1 of its width and
-- height. A device is on at most one floor.
CREATE TABLE building_placements (
	kind   TEXT NOT NULL CHECK (kind IN ('door', 'camera')),
	device TEXT NOT NULL,
	floor  TEXT NOT NULL REFERENCES building_floors (id) ON DELETE CASCADE,
	x      REAL NOT NULL CHECK (x BETWEEN 0 AND 1),
	y      REAL NOT NULL CHECK (y BETWEEN 0 AND 1),
	PRIMARY KEY (kind, device)
);
CREATE INDEX building_placements_floor ON building_placements (floor);

-- A door controller: its MQTT password as a bcrypt hash, how often it
-- sends a heartbeat, and what it does when civicd is unreachable
-- (fail 'secure': doors stay locked; 'safe': doors unlock).
CREATE TABLE building_controllers (
	id                TEXT    PRIMARY KEY,
	name              TEXT    NOT NULL,
	password_hash     TEXT    NOT NULL,
	heartbeat_seconds INTEGER NOT NULL DEFAULT 30,
	fail_mode         TEXT    NOT NULL DEFAULT 'secure' CHECK (fail_mode IN ('secure', 'safe')),
	created_at        INTEGER NOT NULL,
	updated_at        INTEGER NOT NULL
);

-- A schedule is a set of weekly windows; day 0-6 is Sunday-Saturday and
-- day 7 holds the windows that apply on holidays instead. Minutes from
-- local midnight, end exclusive (1440 is midnight at the end of the day).
CREATE TABLE building_schedules (
	id         TEXT    PRIMARY KEY,
	name       TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);

CREATE TABLE building_schedule_windows (
	schedule  TEXT    NOT NULL REFERENCES building_schedules (id) ON DELETE CASCADE,
	day       INTEGER NOT NULL CHECK (day BETWEEN 0 AND 7),
	start_min INTEGER NOT NULL CHECK (start_min BETWEEN 0 AND 1439),
	end_min   INTEGER NOT NULL CHECK (end_min BETWEEN 1 AND 1440 AND end_min > start_min)
);
CREATE INDEX building_schedule_windows_schedule ON building_schedule_windows (schedule);

-- Holidays, by local date (YYYY-MM-DD), for every schedule.
CREATE TABLE building_holidays (
	date TEXT PRIMARY KEY CHECK (length(date) = 10),
	name TEXT NOT NULL DEFAULT ''
);

-- A door: on a floor, wired to one controller, with up to two readers
-- (ids unique within the controller), its timings, its mode (and the
-- schedule of the 'unlocked_schedule' mode), and an optional door
-- station (a SIP extension whose callee presses station_digit to open).
CREATE TABLE building_doors (
	id                TEXT    PRIMARY KEY,
	name              TEXT    NOT NULL,
	floor             TEXT    NOT NULL REFERENCES building_floors (id),
	controller        TEXT    NOT NULL REFERENCES building_controllers (id),
	reader_in         TEXT    NOT NULL DEFAULT '',
	reader_in_pin     INTEGER NOT NULL DEFAULT 0,
	reader_out        TEXT    NOT NULL DEFAULT '',
	reader_out_pin    INTEGER NOT NULL DEFAULT 0,
	unlock_seconds    INTEGER NOT NULL DEFAULT 5,
	held_open_seconds INTEGER NOT NULL DEFAULT 30,
	mode              TEXT    NOT NULL DEFAULT 'controlled'
	                  CHECK (mode IN ('controlled', 'unlocked_schedule', 'locked_down')),
	schedule          TEXT    REFERENCES building_schedules (id),
	anti_passback     INTEGER NOT NULL DEFAULT 0,
	station_extension TEXT    NOT NULL DEFAULT '',
	station_digit     TEXT    NOT NULL DEFAULT '',
	created_at        INTEGER NOT NULL,
	updated_at        INTEGER NOT NULL
);
CREATE INDEX building_doors_floor ON building_doors (floor);
CREATE INDEX building_doors_controller ON building_doors (controller);

-- Cameras linked to a door (camera ids; cameras come in a later issue).
CREATE TABLE building_door_cameras (
	door     TEXT    NOT NULL REFERENCES building_doors (id) ON DELETE CASCADE,
	camera   TEXT    NOT NULL,
	position INTEGER NOT NULL,
	PRIMARY KEY (door, camera)
);

-- A cardholder; the PIN, when set, is a bcrypt hash. valid_from and
-- valid_until are NULL when unbounded.
CREATE TABLE building_cardholders (
	id          TEXT    PRIMARY KEY,
	name        TEXT    NOT NULL,
	department  TEXT    NOT NULL DEFAULT '',
	pin_hash    TEXT    NOT NULL DEFAULT '',
	valid_from  INTEGER,
	valid_until INTEGER,
	status      TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
	responder   INTEGER NOT NULL DEFAULT 0,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
);

-- Card numbers, unique across all cardholders.
CREATE TABLE building_cards (
	number     TEXT PRIMARY KEY,
	cardholder TEXT NOT NULL REFERENCES building_cardholders (id) ON DELETE CASCADE
);
CREATE INDEX building_cards_cardholder ON building_cards (cardholder);

-- An access level: doors, each with the schedule during which it opens
-- (NULL: at all times).
CREATE TABLE building_access_levels (
	id         TEXT    PRIMARY KEY,
	name       TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);

CREATE TABLE building_access_level_doors (
	level    TEXT NOT NULL REFERENCES building_access_levels (id) ON DELETE CASCADE,
	door     TEXT NOT NULL REFERENCES building_doors (id) ON DELETE CASCADE,
	schedule TEXT REFERENCES building_schedules (id),
	PRIMARY KEY (level, door)
);
CREATE INDEX building_access_level_doors_door ON building_access_level_doors (door);

CREATE TABLE building_cardholder_levels (
	cardholder TEXT NOT NULL REFERENCES building_cardholders (id) ON DELETE CASCADE,
	level      TEXT NOT NULL REFERENCES building_access_levels (id) ON DELETE CASCADE,
	PRIMARY KEY (cardholder, level)
);
CREATE INDEX building_cardholder_levels_level ON building_cardholder_levels (level);

-- One row per access decision. Names are copied in, so the record stays
-- readable after a door or cardholder is deleted; no foreign keys.
CREATE TABLE building_access_events (
	id              INTEGER PRIMARY KEY,
	at              INTEGER NOT NULL,
	door            TEXT    NOT NULL,
	door_name       TEXT    NOT NULL DEFAULT '',
	controller      TEXT    NOT NULL,
	reader          TEXT    NOT NULL,
	direction       TEXT    NOT NULL,
	card            TEXT    NOT NULL,
	cardholder      TEXT    NOT NULL DEFAULT '',
	cardholder_name TEXT    NOT NULL DEFAULT '',
	granted         INTEGER NOT NULL,
	reason          TEXT    NOT NULL
);
CREATE INDEX building_access_events_at ON building_access_events (at);
CREATE INDEX building_access_events_cardholder ON building_access_events (cardholder, at);
CREATE INDEX building_access_events_door ON building_access_events (door, at);

-- The alarm queue. state is new, acknowledged or resolved; resolved_by is
-- '' when the alarm resolved itself. Every change is a history row.
CREATE TABLE building_alarms (
	id              INTEGER PRIMARY KEY,
	kind            TEXT    NOT NULL,
	severity        TEXT    NOT NULL CHECK (severity IN ('critical', 'major', 'minor')),
	state           TEXT    NOT NULL CHECK (state IN ('new', 'acknowledged', 'resolved')),
	door            TEXT    NOT NULL DEFAULT '',
	controller      TEXT    NOT NULL DEFAULT '',
	reader          TEXT    NOT NULL DEFAULT '',
	message         TEXT    NOT NULL DEFAULT '',
	count           INTEGER NOT NULL DEFAULT 1,
	raised_at       INTEGER NOT NULL,
	acked_at        INTEGER,
	acked_by        TEXT    NOT NULL DEFAULT '',
	ack_comment     TEXT    NOT NULL DEFAULT '',
	resolved_at     INTEGER,
	resolved_by     TEXT    NOT NULL DEFAULT '',
	resolve_comment TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX building_alarms_state ON building_alarms (state);
CREATE INDEX building_alarms_raised ON building_alarms (raised_at);

CREATE TABLE building_alarm_history (
	id      INTEGER PRIMARY KEY,
	alarm   INTEGER NOT NULL REFERENCES building_alarms (id),
	at      INTEGER NOT NULL,
	action  TEXT    NOT NULL,
	state   TEXT    NOT NULL,
	user    TEXT    NOT NULL DEFAULT '',
	comment TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX building_alarm_history_alarm ON building_alarm_history (alarm, id);

-- Lockdowns in force, of a whole building or of one floor.
CREATE TABLE building_lockdowns (
	scope      TEXT    NOT NULL CHECK (scope IN ('building', 'floor')),
	target     TEXT    NOT NULL,
	reason     TEXT    NOT NULL,
	started_by TEXT    NOT NULL,
	started_at INTEGER NOT NULL,
	PRIMARY KEY (scope, target)
);
