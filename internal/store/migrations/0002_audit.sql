-- The append-only audit log: who did what, to what, with what result.
CREATE TABLE audit_log (
	id       INTEGER PRIMARY KEY,
	at       INTEGER NOT NULL,
	username TEXT    NOT NULL,
	role     TEXT    NOT NULL,
	action   TEXT    NOT NULL,
	target   TEXT    NOT NULL DEFAULT '',
	result   TEXT    NOT NULL,
	detail   TEXT    NOT NULL DEFAULT '',
	source   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_at ON audit_log (at);
CREATE INDEX audit_user ON audit_log (username, at);
CREATE INDEX audit_action ON audit_log (action, at);

-- REPLACE deletes the old row without firing DELETE triggers, so an insert
-- that names an existing id is refused as well.
CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log
WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id)
BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only');
END;
