-- Console users and their server-side sessions. Times are unix milliseconds.
CREATE TABLE users (
	id                  INTEGER PRIMARY KEY,
	username            TEXT    NOT NULL UNIQUE COLLATE NOCASE,
	display_name        TEXT    NOT NULL DEFAULT '',
	role                TEXT    NOT NULL CHECK (role IN ('admin', 'official', 'facilities')),
	password_hash       TEXT    NOT NULL,
	disabled            INTEGER NOT NULL DEFAULT 0,
	language            TEXT    NOT NULL DEFAULT '',
	created_at          INTEGER NOT NULL,
	updated_at          INTEGER NOT NULL,
	password_changed_at INTEGER NOT NULL
);

CREATE TABLE sessions (
	token_hash   TEXT    PRIMARY KEY,
	user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at   INTEGER NOT NULL,
	last_seen_at INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	source       TEXT    NOT NULL DEFAULT '',
	user_agent   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
