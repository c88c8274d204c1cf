-- Browser calls (issue 7): a call between the console and a desk phone is
-- a private two-party meeting. Private meetings are never listed, never
-- announced on the bus, have no dial-in and no invite links, and only
-- their host (the console user on the call) joins them from a browser;
-- the phone is bridged in server-side.
ALTER TABLE meetings ADD COLUMN private INTEGER NOT NULL DEFAULT 0;
