-- Cameras (building/cameras): each is reached by an RTSP URL, filled in
-- by hand or by an ONVIF probe. The password is the camera's, needed in
-- the clear to log in to it; it never leaves the daemon (the console only
-- learns whether one is set) and is never logged.
CREATE TABLE cameras (
	id           TEXT    PRIMARY KEY,
	name         TEXT    NOT NULL,
	rtsp_url     TEXT    NOT NULL DEFAULT '',
	onvif_url    TEXT    NOT NULL DEFAULT '',
	username     TEXT    NOT NULL DEFAULT '',
	password     TEXT    NOT NULL DEFAULT '',
	transport    TEXT    NOT NULL DEFAULT 'tcp' CHECK (transport IN ('tcp', 'udp', 'auto')),
	snapshot_url TEXT    NOT NULL DEFAULT '',
	manufacturer TEXT    NOT NULL DEFAULT '',
	model        TEXT    NOT NULL DEFAULT '',
	firmware     TEXT    NOT NULL DEFAULT '',
	serial       TEXT    NOT NULL DEFAULT '',
	-- The ONVIF profiles found by the last probe, as JSON.
	profiles     TEXT    NOT NULL DEFAULT '[]',
	profile      TEXT    NOT NULL DEFAULT '', -- the profile token in use
	enabled      INTEGER NOT NULL DEFAULT 1,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL
);

-- Alarms about a camera (offline, tamper) name it here.
ALTER TABLE building_alarms ADD COLUMN camera TEXT NOT NULL DEFAULT '';
