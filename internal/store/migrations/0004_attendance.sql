-- Who attended each meeting, from where, and when, for the record.
CREATE TABLE attendance (
	id             INTEGER PRIMARY KEY,
	meeting_id     INTEGER NOT NULL REFERENCES meetings (id),
	participant_id TEXT    NOT NULL,
	name           TEXT    NOT NULL,
	username       TEXT    NOT NULL DEFAULT '',
	source         TEXT    NOT NULL DEFAULT '',
	joined_at      INTEGER NOT NULL,
	left_at        INTEGER
);
CREATE INDEX attendance_meeting ON attendance (meeting_id, joined_at);
