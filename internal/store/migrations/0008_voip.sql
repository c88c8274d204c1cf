-- SIP: extensions (desk phones), ring groups and call records.
-- Extension and ring-group numbers share one namespace of 2-5 digits, so
-- they never collide with each other (voip checks that) nor with the
-- 6-digit meeting room numbers. Times are unix milliseconds.

-- An extension's SIP password is kept only as digest HA1 values,
-- H(number ":" realm ":" password), one per algorithm; realm is the SIP
-- domain they were computed for (changing sip.domain needs new passwords).
CREATE TABLE extensions (
	number            TEXT    PRIMARY KEY
	                  CHECK (length(number) BETWEEN 2 AND 5 AND number NOT GLOB '*[^0-9]*'),
	name              TEXT    NOT NULL,
	user              TEXT    REFERENCES users (username) ON DELETE SET NULL,
	department        TEXT    NOT NULL DEFAULT '',
	realm             TEXT    NOT NULL,
	ha1_md5           TEXT    NOT NULL,
	ha1_sha256        TEXT    NOT NULL,
	forward_always    TEXT    NOT NULL DEFAULT '',
	forward_busy      TEXT    NOT NULL DEFAULT '',
	forward_no_answer TEXT    NOT NULL DEFAULT '',
	no_answer_seconds INTEGER NOT NULL DEFAULT 20,
	dnd               INTEGER NOT NULL DEFAULT 0,
	created_at        INTEGER NOT NULL,
	updated_at        INTEGER NOT NULL
);
CREATE INDEX extensions_user ON extensions (user);

-- A ring group rings its members at once ('all') or one after another in
-- position order ('order'), ring_seconds each.
CREATE TABLE ring_groups (
	number       TEXT    PRIMARY KEY
	             CHECK (length(number) BETWEEN 2 AND 5 AND number NOT GLOB '*[^0-9]*'),
	name         TEXT    NOT NULL,
	strategy     TEXT    NOT NULL CHECK (strategy IN ('all', 'order')),
	ring_seconds INTEGER NOT NULL DEFAULT 20,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL
);

CREATE TABLE ring_group_members (
	ring_group TEXT    NOT NULL REFERENCES ring_groups (number) ON DELETE CASCADE,
	extension  TEXT    NOT NULL REFERENCES extensions (number) ON DELETE CASCADE,
	position   INTEGER NOT NULL,
	PRIMARY KEY (ring_group, extension)
);
CREATE INDEX ring_group_members_extension ON ring_group_members (extension);

-- One row per call. final_target is who was rung last after forwarding and
-- ring groups; result is answered, busy, no_answer, cancelled,
-- unavailable, unknown_number, refused or failed. The *_transport columns
-- are udp, tcp or tls; rtp_from_* count the RTP packets the relay passed
-- on from each phone (zero on one side: one-way audio).
CREATE TABLE call_records (
	id               INTEGER PRIMARY KEY,
	call_id          TEXT    NOT NULL,
	caller           TEXT    NOT NULL,
	callee           TEXT    NOT NULL,
	final_target     TEXT    NOT NULL DEFAULT '',
	started_at       INTEGER NOT NULL,
	answered_at      INTEGER,
	ended_at         INTEGER,
	duration_ms      INTEGER NOT NULL DEFAULT 0,
	result           TEXT    NOT NULL DEFAULT '',
	codec            TEXT    NOT NULL DEFAULT '',
	caller_transport TEXT    NOT NULL DEFAULT '',
	callee_transport TEXT    NOT NULL DEFAULT '',
	rtp_from_caller  INTEGER NOT NULL DEFAULT 0,
	rtp_from_callee  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX call_records_started ON call_records (started_at);
CREATE INDEX call_records_caller ON call_records (caller, started_at);
CREATE INDEX call_records_callee ON call_records (callee, started_at);
