package building

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"
)

// Schedules returns every schedule, by id.
func (s *Service) Schedules() []Schedule {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Schedule, 0, len(s.m.schedules))
	for _, id := range sortedKeys(s.m.schedules) {
		v := s.m.schedules[id].Schedule
		v.Windows = slices.Clone(v.Windows)
		out = append(out, v)
	}
	return out
}

// CreateSchedule adds a schedule; an empty ID gets a generated one.
func (s *Service) CreateSchedule(ctx context.Context, v Schedule) (Schedule, error) {
	if v.ID == "" {
		v.ID = newID("sch-")
	}
	v, err := v.normalize()
	if err != nil {
		return Schedule{}, err
	}
	now := ms(s.now())
	return result(v, s.change(ctx, "create schedule "+v.ID, func(tx *sql.Tx) error {
		if err := mustNotExist(ctx, tx, tSchedules, v.ID, "schedule"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO building_schedules (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)`,
			v.ID, v.Name, now, now); err != nil {
			return err
		}
		return writeWindows(ctx, tx, v)
	}))
}

// UpdateSchedule replaces a schedule's name and windows.
func (s *Service) UpdateSchedule(ctx context.Context, id string, v Schedule) (Schedule, error) {
	if err := sameID(&v.ID, id, "schedule"); err != nil {
		return Schedule{}, err
	}
	v, err := v.normalize()
	if err != nil {
		return Schedule{}, err
	}
	return result(v, s.change(ctx, "update schedule "+id, func(tx *sql.Tx) error {
		if err := mustExist(ctx, tx, tSchedules, id, "schedule"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE building_schedules SET name = ?, updated_at = ? WHERE id = ?`, v.Name, ms(s.now()), id); err != nil {
			return err
		}
		return writeWindows(ctx, tx, v)
	}))
}

// DeleteSchedule removes a schedule no door or access level uses.
func (s *Service) DeleteSchedule(ctx context.Context, id string) error {
	return s.change(ctx, "delete schedule "+id, func(tx *sql.Tx) error {
		if err := mustBeUnused(ctx, tx, `SELECT 1 FROM building_doors WHERE schedule = ? LIMIT 1`, id,
			"schedule "+id+" still unlocks a door; change the door first"); err != nil {
			return err
		}
		if err := mustBeUnused(ctx, tx, `SELECT 1 FROM building_access_level_doors WHERE schedule = ? LIMIT 1`, id,
			"schedule "+id+" is still used by an access level; change the level first"); err != nil {
			return err
		}
		return deleteRow(ctx, tx, tSchedules, id, "schedule")
	})
}

func writeWindows(ctx context.Context, tx *sql.Tx, v Schedule) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM building_schedule_windows WHERE schedule = ?`, v.ID); err != nil {
		return err
	}
	for _, w := range v.Windows {
		day, _ := parseDay(w.Day)
		start, _ := parseClock(w.Start)
		end, _ := parseClock(w.End)
		if _, err := tx.ExecContext(ctx, `INSERT INTO building_schedule_windows (schedule, day, start_min, end_min) VALUES (?, ?, ?, ?)`,
			v.ID, day, start, end); err != nil {
			return err
		}
	}
	return nil
}

// Holidays returns every holiday, by date.
func (s *Service) Holidays() []Holiday {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedValues(s.m.holidays)
}

// SetHoliday adds a holiday, or renames the one on that date.
func (s *Service) SetHoliday(ctx context.Context, h Holiday) (Holiday, error) {
	h, err := h.normalize()
	if err != nil {
		return Holiday{}, err
	}
	return result(h, s.change(ctx, "set holiday "+h.Date, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO building_holidays (date, name) VALUES (?, ?)
			ON CONFLICT (date) DO UPDATE SET name = excluded.name`, h.Date, h.Name)
		return err
	}))
}

// DeleteHoliday removes the holiday on a date.
func (s *Service) DeleteHoliday(ctx context.Context, date string) error {
	return s.change(ctx, "delete holiday "+date, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM building_holidays WHERE date = ?`, date)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: %s is not a holiday", ErrNotFound, date)
		}
		return nil
	})
}

// AccessLevels returns every access level, by id.
func (s *Service) AccessLevels() []AccessLevel {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := sortedValues(s.m.levels)
	for i := range out {
		out[i].Doors = slices.Clone(out[i].Doors)
	}
	return out
}

// CreateAccessLevel adds an access level; an empty ID gets a generated
// one.
func (s *Service) CreateAccessLevel(ctx context.Context, v AccessLevel) (AccessLevel, error) {
	if v.ID == "" {
		v.ID = newID("lvl-")
	}
	v, err := v.normalize()
	if err != nil {
		return AccessLevel{}, err
	}
	now := ms(s.now())
	return result(v, s.change(ctx, "create access level "+v.ID, func(tx *sql.Tx) error {
		if err := mustNotExist(ctx, tx, tLevels, v.ID, "access level"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO building_access_levels (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)`,
			v.ID, v.Name, now, now); err != nil {
			return err
		}
		return writeLevelDoors(ctx, tx, v)
	}))
}

// UpdateAccessLevel replaces an access level's name and doors.
func (s *Service) UpdateAccessLevel(ctx context.Context, id string, v AccessLevel) (AccessLevel, error) {
	if err := sameID(&v.ID, id, "access level"); err != nil {
		return AccessLevel{}, err
	}
	v, err := v.normalize()
	if err != nil {
		return AccessLevel{}, err
	}
	return result(v, s.change(ctx, "update access level "+id, func(tx *sql.Tx) error {
		if err := mustExist(ctx, tx, tLevels, id, "access level"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE building_access_levels SET name = ?, updated_at = ? WHERE id = ?`, v.Name, ms(s.now()), id); err != nil {
			return err
		}
		return writeLevelDoors(ctx, tx, v)
	}))
}

// DeleteAccessLevel removes an access level; its cardholders lose it.
func (s *Service) DeleteAccessLevel(ctx context.Context, id string) error {
	return s.change(ctx, "delete access level "+id, func(tx *sql.Tx) error {
		return deleteRow(ctx, tx, tLevels, id, "access level")
	})
}

func writeLevelDoors(ctx context.Context, tx *sql.Tx, v AccessLevel) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM building_access_level_doors WHERE level = ?`, v.ID); err != nil {
		return err
	}
	for _, d := range v.Doors {
		if err := mustRefer(ctx, tx, tDoors, d.Door, "door"); err != nil {
			return err
		}
		if d.Schedule != "" {
			if err := mustRefer(ctx, tx, tSchedules, d.Schedule, "schedule"); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO building_access_level_doors (level, door, schedule) VALUES (?, ?, NULLIF(?, ''))`,
			v.ID, d.Door, d.Schedule); err != nil {
			return err
		}
	}
	return nil
}

// spansOn returns a schedule's spans for the local date of t: its
// holiday spans on a holiday, else those of t's weekday.
func (m *model) spansOn(sc *schedule, t time.Time) []span {
	if _, ok := m.holidays[t.Format(time.DateOnly)]; ok {
		return sc.days[holidayDay]
	}
	return sc.days[t.Weekday()]
}

// scheduleOpen reports whether schedule id is open at t (in the door's
// local time). The empty schedule is always open; an unknown one never.
func (m *model) scheduleOpen(id string, t time.Time) bool {
	if id == "" {
		return true
	}
	sc := m.schedules[id]
	if sc == nil {
		return false
	}
	minute := t.Hour()*60 + t.Minute()
	for _, sp := range m.spansOn(sc, t) {
		if sp.start <= minute && minute < sp.end {
			return true
		}
	}
	return false
}

// windowEnd returns when the schedule's window open at t closes, joining
// windows that overlap or meet, also across midnight (for at most a
// week). It returns t when no window is open.
func (m *model) windowEnd(id string, t time.Time) time.Time {
	sc := m.schedules[id]
	if sc == nil {
		return t
	}
	day, minute := t, t.Hour()*60+t.Minute()
	for i := 0; i < 8; i++ {
		end, found := reach(m.spansOn(sc, day), minute)
		y, mo, d := day.Date()
		switch {
		case !found && i == 0:
			return t
		case !found:
			return time.Date(y, mo, d, 0, 0, 0, 0, day.Location())
		case end < 24*60:
			return time.Date(y, mo, d, 0, end, 0, 0, day.Location())
		}
		day, minute = time.Date(y, mo, d+1, 12, 0, 0, 0, day.Location()), 0
	}
	y, mo, d := day.Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, day.Location())
}

// reach returns how far the spans reach from minute on, following spans
// that overlap or meet, and whether any span holds minute.
func reach(spans []span, minute int) (int, bool) {
	cur, found := minute, false
	for progressed := true; progressed; {
		progressed = false
		for _, sp := range spans {
			if sp.start <= cur && cur < sp.end {
				cur, found, progressed = sp.end, true, true
			}
		}
	}
	return cur, found
}
