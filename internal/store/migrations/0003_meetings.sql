-- Video meetings. room is the short number people (and phones) dial.
CREATE TABLE meetings (
	id         INTEGER PRIMARY KEY,
	room       TEXT    NOT NULL UNIQUE,
	title      TEXT    NOT NULL,
	host       TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	ended_at   INTEGER
);
CREATE INDEX meetings_open ON meetings (ended_at, created_at);
