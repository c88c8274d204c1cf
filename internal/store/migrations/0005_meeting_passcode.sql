-- An optional passcode per meeting (bcrypt hash; empty = none).
ALTER TABLE meetings ADD COLUMN passcode_hash TEXT NOT NULL DEFAULT '';
