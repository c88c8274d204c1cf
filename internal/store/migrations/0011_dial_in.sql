-- Dial-in (issue 7): each meeting's PIN, which a desk phone keys after
-- dialling the meeting's number. It is shown to the meeting's
-- participants, so it is stored as is (6 digits); '' until first asked.
ALTER TABLE meetings ADD COLUMN dial_pin TEXT NOT NULL DEFAULT '';
