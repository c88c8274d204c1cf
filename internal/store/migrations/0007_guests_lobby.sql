-- Guests: invite links to one meeting, the guest sessions made from them,
-- and the lobby where guests wait for a host.

-- lobby: guests wait until a host admits them (1) or walk in (0).
ALTER TABLE meetings ADD COLUMN lobby INTEGER NOT NULL DEFAULT 1;

-- Only the SHA-256 of an invite token is kept.
CREATE TABLE meeting_invites (
	id         INTEGER PRIMARY KEY,
	meeting_id INTEGER NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
	token_hash TEXT    NOT NULL UNIQUE,
	created_by TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX meeting_invites_meeting ON meeting_invites (meeting_id);

-- A guest's session: no users row, one meeting room, a name they chose.
CREATE TABLE guest_sessions (
	token_hash   TEXT    PRIMARY KEY,
	guest_id     TEXT    NOT NULL UNIQUE,
	name         TEXT    NOT NULL,
	room         TEXT    NOT NULL,
	created_at   INTEGER NOT NULL,
	last_seen_at INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	source       TEXT    NOT NULL DEFAULT '',
	user_agent   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX guest_sessions_expires ON guest_sessions (expires_at);
