package building

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

// openGrace is added to an unlock window: a door opened this long after a
// grant, exit request or remote unlock ran out is still not forced.
const openGrace = 2 * time.Second

// doorRT is a door's live state.
type doorRT struct {
	lock, contact string
	tamper        bool
	// Opening the door is authorised until these times: after a grant, a
	// request to exit, or a momentary remote unlock.
	grantUntil, exitUntil, remoteUntil time.Time
	// unlockedUntil is the end of an UnlockUntil in force.
	unlockedUntil time.Time
	// scheduleOpen: the door is unlocked for its schedule's current
	// window.
	scheduleOpen bool
	// heldDeadline is when an open door raises a held-open alarm;
	// heldRaised says it did.
	heldDeadline time.Time
	heldRaised   bool
	lastCmd      *CommandStatus
	last         DoorStatus // as last published, ChangedAt zero
	changedAt    time.Time
}

// ListDoors returns every door's settings, by id.
func (s *Service) ListDoors() []Door {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Door, 0, len(s.m.doors))
	for _, id := range sortedKeys(s.m.doors) {
		d := s.m.doors[id].Door
		d.Cameras = slices.Clone(d.Cameras)
		out = append(out, d)
	}
	return out
}

// Doors returns every door's live state, by id: the snapshot of
// TopicDoors (with Lockdowns).
func (s *Service) Doors() []DoorStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]DoorStatus, 0, len(s.doors))
	for _, id := range sortedKeys(s.doors) {
		st := s.doorStatusLocked(id)
		st.ChangedAt = s.doors[id].changedAt
		out = append(out, st)
	}
	return out
}

// DoorForStation returns the door whose door station is extension ext,
// and the DTMF digit that opens it.
func (s *Service) DoorForStation(ext string) (doorID, digit string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.m.stations[ext]
	if !ok {
		return "", "", false
	}
	return id, s.m.doors[id].StationDigit, true
}

// CreateDoor adds a door.
func (s *Service) CreateDoor(ctx context.Context, d Door) (Door, error) {
	d, err := d.normalize()
	if err != nil {
		return Door{}, err
	}
	now := ms(s.now())
	return result(d, s.change(ctx, "create door "+d.ID, func(tx *sql.Tx) error {
		if err := mustNotExist(ctx, tx, tDoors, d.ID, "door"); err != nil {
			return err
		}
		if err := checkDoorRefs(ctx, tx, d); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO building_doors (id, name, floor, controller, reader_in, reader_in_pin,
			reader_out, reader_out_pin, unlock_seconds, held_open_seconds, mode, schedule, anti_passback,
			station_extension, station_digit, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULLIF(?, ''), ?, ?, ?, ?, ?)`,
			d.ID, d.Name, d.Floor, d.Controller, d.ReaderIn, d.ReaderInPIN, d.ReaderOut, d.ReaderOutPIN,
			d.UnlockSeconds, d.HeldOpenSeconds, d.Mode, d.Schedule, d.AntiPassback, d.StationExtension, d.StationDigit, now, now)
		if err != nil {
			return err
		}
		return writeCameras(ctx, tx, d)
	}))
}

// UpdateDoor replaces a door's settings. A door moved to another floor
// leaves its old floor plan. A change of mode is sent to its controller.
func (s *Service) UpdateDoor(ctx context.Context, id string, d Door) (Door, error) {
	if err := sameID(&d.ID, id, "door"); err != nil {
		return Door{}, err
	}
	d, err := d.normalize()
	if err != nil {
		return Door{}, err
	}
	return result(d, s.change(ctx, "update door "+id, func(tx *sql.Tx) error {
		if err := mustExist(ctx, tx, tDoors, id, "door"); err != nil {
			return err
		}
		if err := checkDoorRefs(ctx, tx, d); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM building_placements WHERE kind = 'door' AND device = ? AND floor != ?`, id, d.Floor); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE building_doors SET name = ?, floor = ?, controller = ?, reader_in = ?, reader_in_pin = ?,
			reader_out = ?, reader_out_pin = ?, unlock_seconds = ?, held_open_seconds = ?, mode = ?, schedule = NULLIF(?, ''),
			anti_passback = ?, station_extension = ?, station_digit = ?, updated_at = ? WHERE id = ?`,
			d.Name, d.Floor, d.Controller, d.ReaderIn, d.ReaderInPIN, d.ReaderOut, d.ReaderOutPIN, d.UnlockSeconds,
			d.HeldOpenSeconds, d.Mode, d.Schedule, d.AntiPassback, d.StationExtension, d.StationDigit, ms(s.now()), id)
		if err != nil {
			return err
		}
		return writeCameras(ctx, tx, d)
	}))
}

// DeleteDoor removes a door, its placement and its place in access
// levels. Its access events and alarms stay.
func (s *Service) DeleteDoor(ctx context.Context, id string) error {
	return s.change(ctx, "delete door "+id, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM building_placements WHERE kind = 'door' AND device = ?`, id); err != nil {
			return err
		}
		return deleteRow(ctx, tx, tDoors, id, "door")
	})
}

// checkDoorRefs checks, inside tx, what a door refers to and that its
// readers and door station are its own.
func checkDoorRefs(ctx context.Context, tx *sql.Tx, d Door) error {
	if err := mustRefer(ctx, tx, tFloors, d.Floor, "floor"); err != nil {
		return err
	}
	if err := mustRefer(ctx, tx, tControllers, d.Controller, "controller"); err != nil {
		return err
	}
	if d.Schedule != "" {
		if err := mustRefer(ctx, tx, tSchedules, d.Schedule, "schedule"); err != nil {
			return err
		}
	}
	const none = "\x00" // matches no reader
	in, out := cmpOr(d.ReaderIn, none), cmpOr(d.ReaderOut, none)
	var other string
	err := tx.QueryRowContext(ctx, `SELECT id FROM building_doors WHERE controller = ? AND id != ?
		AND (reader_in IN (?, ?) OR reader_out IN (?, ?)) LIMIT 1`, d.Controller, d.ID, in, out, in, out).Scan(&other)
	if err == nil {
		return fmt.Errorf("%w: a reader of controller %s is already used by door %s", ErrConflict, d.Controller, other)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if d.StationExtension != "" {
		err := tx.QueryRowContext(ctx, `SELECT id FROM building_doors WHERE station_extension = ? AND id != ?`, d.StationExtension, d.ID).Scan(&other)
		if err == nil {
			return fmt.Errorf("%w: extension %s is already the door station of door %s", ErrConflict, d.StationExtension, other)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
	}
	return nil
}

func cmpOr(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// writeCameras replaces a door's linked cameras.
func writeCameras(ctx context.Context, tx *sql.Tx, d Door) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM building_door_cameras WHERE door = ?`, d.ID); err != nil {
		return err
	}
	for i, c := range d.Cameras {
		if _, err := tx.ExecContext(ctx, `INSERT INTO building_door_cameras (door, camera, position) VALUES (?, ?, ?)`, d.ID, c, i); err != nil {
			return err
		}
	}
	return nil
}

// Door report values.
var (
	lockStates    = []string{"", LockLocked, LockUnlocked}
	contactStates = []string{"", ContactClosed, ContactOpen, ContactFault}
)

// DoorState applies a controller's report of one door: the lock and
// contact states, tamper, and a press of request-to-exit. A door that
// opens without a grant, an exit request or an unlock raises a
// forced-open alarm; one that stays open past its held-open time raises a
// held-open alarm, which resolves itself when the door closes.
func (s *Service) DoorState(ctx context.Context, r DoorReport) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.checkReportLocked(r, now)
	if err != nil {
		s.refused("door state", r.Controller, err)
		return fmt.Errorf("door state: %w", err)
	}
	s.acceptMsgLocked(r.Controller, r.MsgID, r.At, now)
	rt := s.doors[d.ID]
	if r.RequestToExit {
		rt.exitUntil = now.Add(time.Duration(d.UnlockSeconds)*time.Second + openGrace)
	}
	if r.Lock != "" {
		rt.lock = r.Lock
	}
	if r.Tamper != nil {
		if *r.Tamper && !rt.tamper {
			s.raiseLocked(now, AlarmTamper, alarmSubject{door: d.ID, controller: d.Controller}, "tamper switch of door "+d.Name+" tripped")
		} else if !*r.Tamper {
			// Also resolves an alarm from before a restart.
			s.resolveAutoLocked(alarmKey{AlarmTamper, d.ID}, "the tamper switch is back to normal", now)
		}
		rt.tamper = *r.Tamper
	}
	switch was := rt.contact; {
	case r.Contact == "":
	case r.Contact == ContactOpen && was != ContactOpen:
		// Only an opening seen from closed can be forced: after a
		// restart (state unknown) the door may have opened rightly.
		if was == ContactClosed && !s.openAuthorisedLocked(rt, now) {
			s.raiseLocked(now, AlarmForcedOpen, alarmSubject{door: d.ID, controller: d.Controller},
				"door "+d.Name+" opened without a grant, exit request or unlock")
		}
		rt.heldDeadline = now.Add(time.Duration(d.HeldOpenSeconds) * time.Second)
		rt.heldRaised = false
	case r.Contact != ContactOpen:
		rt.heldDeadline, rt.heldRaised = time.Time{}, false
		s.resolveAutoLocked(alarmKey{AlarmHeldOpen, d.ID}, "the door closed", now)
	}
	if r.Contact != "" {
		rt.contact = r.Contact
	}
	s.publishDoorLocked(d.ID, now)
	return nil
}

// checkReportLocked checks a door report and returns its door.
func (s *Service) checkReportLocked(r DoorReport, now time.Time) (*doorConf, error) {
	if _, err := s.checkMsgLocked(r.Controller, r.MsgID, r.At, now); err != nil {
		return nil, err
	}
	d := s.m.doors[r.Door]
	if d == nil || d.Controller != r.Controller {
		return nil, fmt.Errorf("%w: controller %s has no door %q", ErrNotFound, r.Controller, truncate(r.Door, maxIDLen))
	}
	if !slices.Contains(lockStates, r.Lock) {
		return nil, fmt.Errorf("%w: lock state %q is not locked or unlocked", ErrRefused, truncate(r.Lock, 20))
	}
	if !slices.Contains(contactStates, r.Contact) {
		return nil, fmt.Errorf("%w: contact state %q is not open, closed or fault", ErrRefused, truncate(r.Contact, 20))
	}
	return d, nil
}

// openAuthorisedLocked reports whether a door may open now: within a
// grant, exit request or remote unlock window, while it is unlocked until
// a time or by its schedule, or while its lock reports unlocked.
func (s *Service) openAuthorisedLocked(rt *doorRT, now time.Time) bool {
	return !now.After(rt.grantUntil) || !now.After(rt.exitUntil) || !now.After(rt.remoteUntil) ||
		now.Before(rt.unlockedUntil) || rt.scheduleOpen || rt.lock == LockUnlocked
}

// meantOpenLocked reports whether a door is meant to stand open now, so
// that being open is no held-open alarm.
func (s *Service) meantOpenLocked(rt *doorRT, now time.Time) bool {
	return rt.scheduleOpen || now.Before(rt.unlockedUntil)
}

// checkDoorsLocked runs the door timers: held-open alarms, the end of an
// UnlockUntil, and unlocking and locking on schedule.
func (s *Service) checkDoorsLocked(now time.Time) effects {
	var fx effects
	for _, id := range sortedKeys(s.doors) {
		d, rt := s.m.doors[id], s.doors[id]
		if d == nil {
			continue
		}
		changed := false
		if rt.contact == ContactOpen {
			held := time.Duration(d.HeldOpenSeconds) * time.Second
			if s.meantOpenLocked(rt, now) {
				// Held open counts from when the door stops being
				// meant to stand open.
				rt.heldDeadline, rt.heldRaised = laterOf(now, rt.unlockedUntil).Add(held), false
			} else if !rt.heldRaised && !rt.heldDeadline.IsZero() && !now.Before(rt.heldDeadline) {
				rt.heldRaised, changed = true, true
				s.raiseLocked(now, AlarmHeldOpen, alarmSubject{door: id, controller: d.Controller},
					fmt.Sprintf("door %s has been open longer than %v", d.Name, held))
			}
		}
		if !rt.unlockedUntil.IsZero() && !now.Before(rt.unlockedUntil) {
			rt.unlockedUntil, changed = time.Time{}, true
			if rt.lock == LockUnlocked && !s.inLockdownLocked(d) {
				fx.sends = append(fx.sends, s.newCommandLocked(systemActor, id, Command{Action: ActionLock}, now))
			}
		}
		if c := s.ctrls[d.Controller]; c == nil || !c.online {
			continue // schedules wait for the controller; resync catches up
		}
		lockdown := s.inLockdownLocked(d)
		want := d.Mode == ModeUnlocked && !lockdown && s.m.scheduleOpen(d.Schedule, now.In(d.loc))
		switch {
		case want && !rt.scheduleOpen:
			rt.scheduleOpen, changed = true, true
			until := s.m.windowEnd(d.Schedule, now.In(d.loc))
			fx.sends = append(fx.sends, s.newCommandLocked(systemActor, id, Command{Action: ActionUnlock, Until: until}, now))
		case !want && rt.scheduleOpen:
			rt.scheduleOpen, changed = false, true
			if !lockdown {
				fx.sends = append(fx.sends, s.newCommandLocked(systemActor, id, Command{Action: ActionLock}, now))
			}
		}
		if changed {
			s.publishDoorLocked(id, now)
		}
	}
	return fx
}

// doorStatusLocked returns a door's state, with ChangedAt zero.
func (s *Service) doorStatusLocked(id string) DoorStatus {
	d, rt := s.m.doors[id], s.doors[id]
	if d == nil || rt == nil {
		return DoorStatus{ID: id, Cameras: []string{}}
	}
	st := DoorStatus{
		ID: id, Name: d.Name, Floor: d.Floor, Building: d.building, Controller: d.Controller,
		Mode: d.Mode, Lockdown: s.inLockdownLocked(d), Lock: rt.lock, Contact: rt.contact, Tamper: rt.tamper,
		UnlockedUntil: rt.unlockedUntil, UnlockSeconds: d.UnlockSeconds, Cameras: slices.Clone(d.Cameras),
	}
	if c := s.ctrls[d.Controller]; c != nil {
		st.Online = c.online
	}
	for _, a := range s.alarms {
		if a.Door == id {
			st.Alarm = true
			break
		}
	}
	if rt.lastCmd != nil {
		c := *rt.lastCmd
		st.LastCommand = &c
	}
	return st
}

// publishDoorLocked announces a door's state if it changed since it was
// last announced.
func (s *Service) publishDoorLocked(id string, now time.Time) {
	rt := s.doors[id]
	if rt == nil || s.m.doors[id] == nil {
		return
	}
	st := s.doorStatusLocked(id)
	if sameState(st, rt.last) {
		return
	}
	rt.last, rt.changedAt = st, msTime(now)
	st.ChangedAt = rt.changedAt
	s.publish(DoorEvent{Kind: KindDoorChanged, Door: st})
}

// publishDoorsOfLocked announces the doors of a controller that changed.
func (s *Service) publishDoorsOfLocked(controller string, now time.Time) {
	for _, id := range sortedKeys(s.m.doors) {
		if s.m.doors[id].Controller == controller {
			s.publishDoorLocked(id, now)
		}
	}
}
