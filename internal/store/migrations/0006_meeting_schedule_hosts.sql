-- Scheduled meetings and co-hosts. scheduled_at is unix milliseconds, NULL
-- for a meeting held ad hoc. A co-host is a console user who hosts the
-- meeting beside its creator (meetings.host).
ALTER TABLE meetings ADD COLUMN scheduled_at INTEGER;

CREATE TABLE meeting_hosts (
	meeting_id INTEGER NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
	username   TEXT    NOT NULL COLLATE NOCASE,
	PRIMARY KEY (meeting_id, username)
);
CREATE INDEX meeting_hosts_user ON meeting_hosts (username);
