package building

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"time"
)

// model is the in-memory copy of the configuration, rebuilt from the
// store after every change. It is never modified once built: a change
// builds a new one and swaps it in under s.mu.
type model struct {
	sites       map[string]Site
	zones       map[string]*time.Location // per site
	buildings   map[string]Building
	floors      map[string]Floor
	placements  map[placeKey]Placement
	controllers map[string]*ctrlConf
	doors       map[string]*doorConf
	readers     map[readerKey]readerRef
	stations    map[string]string // extension -> door
	schedules   map[string]*schedule
	holidays    map[string]Holiday
	levels      map[string]AccessLevel
	holders     map[string]*holderConf
	cards       map[string]*holderConf
}

type placeKey struct{ kind, device string }

type ctrlConf struct {
	Controller
	hash []byte
}

type doorConf struct {
	Door
	building, site string
	loc            *time.Location
	passback       bool // the door's or its site's anti-passback
}

// readerKey names a reader: ids are unique within a controller.
type readerKey struct{ controller, reader string }

type readerRef struct {
	door      string
	direction string
	pin       bool
}

type holderConf struct {
	Cardholder
	pinHash []byte
	// access maps each door the cardholder's levels open to the
	// schedules that open it ("" for at all times).
	access map[string][]string
}

// schedule is a Schedule compiled for lookups: spans of minutes per day
// (0-6 Sunday-Saturday, 7 holidays).
type schedule struct {
	Schedule
	days [8][]span
}

type span struct{ start, end int }

// loadModel reads the whole configuration from the store.
func loadModel(ctx context.Context, db *sql.DB, defaultLoc *time.Location) (*model, error) {
	m := &model{
		sites: map[string]Site{}, zones: map[string]*time.Location{}, buildings: map[string]Building{},
		floors: map[string]Floor{}, placements: map[placeKey]Placement{}, controllers: map[string]*ctrlConf{},
		doors: map[string]*doorConf{}, readers: map[readerKey]readerRef{}, stations: map[string]string{},
		schedules: map[string]*schedule{}, holidays: map[string]Holiday{}, levels: map[string]AccessLevel{},
		holders: map[string]*holderConf{}, cards: map[string]*holderConf{},
	}
	steps := []struct {
		what, query string
		scan        func(rows *sql.Rows) error
	}{
		{"sites", `SELECT id, name, time_zone, anti_passback FROM building_sites`, func(r *sql.Rows) error {
			var v Site
			if err := r.Scan(&v.ID, &v.Name, &v.TimeZone, &v.AntiPassback); err != nil {
				return err
			}
			m.sites[v.ID] = v
			m.zones[v.ID] = defaultLoc
			if loc, err := loadZone(v.TimeZone); err == nil {
				m.zones[v.ID] = loc
			}
			return nil
		}},
		{"buildings", `SELECT id, site, name FROM building_buildings`, func(r *sql.Rows) error {
			var v Building
			err := r.Scan(&v.ID, &v.Site, &v.Name)
			m.buildings[v.ID] = v
			return err
		}},
		{"floors", `SELECT f.id, f.building, f.name, f.level, COALESCE(p.content_type, '')
			FROM building_floors f LEFT JOIN building_floor_plans p ON p.floor = f.id`, func(r *sql.Rows) error {
			var v Floor
			err := r.Scan(&v.ID, &v.Building, &v.Name, &v.Level, &v.Plan)
			m.floors[v.ID] = v
			return err
		}},
		{"placements", `SELECT kind, device, floor, x, y FROM building_placements`, func(r *sql.Rows) error {
			var v Placement
			err := r.Scan(&v.Kind, &v.Device, &v.Floor, &v.X, &v.Y)
			m.placements[placeKey{v.Kind, v.Device}] = v
			return err
		}},
		{"controllers", `SELECT id, name, heartbeat_seconds, fail_mode, password_hash FROM building_controllers`, func(r *sql.Rows) error {
			var v ctrlConf
			var hash string
			err := r.Scan(&v.ID, &v.Name, &v.HeartbeatSeconds, &v.FailMode, &hash)
			v.hash = []byte(hash)
			m.controllers[v.ID] = &v
			return err
		}},
		{"schedules", `SELECT id, name FROM building_schedules`, func(r *sql.Rows) error {
			var v schedule
			err := r.Scan(&v.ID, &v.Name)
			v.Windows = []Window{}
			m.schedules[v.ID] = &v
			return err
		}},
		{"schedule windows", `SELECT schedule, day, start_min, end_min FROM building_schedule_windows ORDER BY schedule, day, start_min, end_min`, func(r *sql.Rows) error {
			var id string
			var day, start, end int
			if err := r.Scan(&id, &day, &start, &end); err != nil {
				return err
			}
			if sc := m.schedules[id]; sc != nil && day >= 0 && day <= holidayDay {
				sc.Windows = append(sc.Windows, Window{Day: dayNames[day], Start: formatClock(start), End: formatClock(end)})
				sc.days[day] = append(sc.days[day], span{start, end})
			}
			return nil
		}},
		{"holidays", `SELECT date, name FROM building_holidays`, func(r *sql.Rows) error {
			var v Holiday
			err := r.Scan(&v.Date, &v.Name)
			m.holidays[v.Date] = v
			return err
		}},
		{"doors", `SELECT id, name, floor, controller, reader_in, reader_in_pin, reader_out, reader_out_pin,
			unlock_seconds, held_open_seconds, mode, COALESCE(schedule, ''), anti_passback, station_extension, station_digit
			FROM building_doors`, func(r *sql.Rows) error {
			var v doorConf
			err := r.Scan(&v.ID, &v.Name, &v.Floor, &v.Controller, &v.ReaderIn, &v.ReaderInPIN, &v.ReaderOut, &v.ReaderOutPIN,
				&v.UnlockSeconds, &v.HeldOpenSeconds, &v.Mode, &v.Schedule, &v.AntiPassback, &v.StationExtension, &v.StationDigit)
			v.Cameras = []string{}
			m.doors[v.ID] = &v
			return err
		}},
		{"door cameras", `SELECT door, camera FROM building_door_cameras ORDER BY door, position`, func(r *sql.Rows) error {
			var door, camera string
			if err := r.Scan(&door, &camera); err != nil {
				return err
			}
			if d := m.doors[door]; d != nil {
				d.Cameras = append(d.Cameras, camera)
			}
			return nil
		}},
		{"access levels", `SELECT id, name FROM building_access_levels`, func(r *sql.Rows) error {
			var v AccessLevel
			err := r.Scan(&v.ID, &v.Name)
			v.Doors = []LevelDoor{}
			m.levels[v.ID] = v
			return err
		}},
		{"access level doors", `SELECT level, door, COALESCE(schedule, '') FROM building_access_level_doors ORDER BY level, door`, func(r *sql.Rows) error {
			var level string
			var d LevelDoor
			if err := r.Scan(&level, &d.Door, &d.Schedule); err != nil {
				return err
			}
			if v, ok := m.levels[level]; ok {
				v.Doors = append(v.Doors, d)
				m.levels[level] = v
			}
			return nil
		}},
		{"cardholders", `SELECT id, name, department, pin_hash, valid_from, valid_until, status, responder FROM building_cardholders`, func(r *sql.Rows) error {
			var v holderConf
			var hash string
			var from, until sql.NullInt64
			if err := r.Scan(&v.ID, &v.Name, &v.Department, &hash, &from, &until, &v.Status, &v.Responder); err != nil {
				return err
			}
			v.ValidFrom, v.ValidUntil = fromMS(from), fromMS(until)
			if hash != "" {
				v.pinHash, v.HasPIN = []byte(hash), true
			}
			v.Cards, v.AccessLevels, v.access = []string{}, []string{}, map[string][]string{}
			m.holders[v.ID] = &v
			return nil
		}},
		{"cards", `SELECT number, cardholder FROM building_cards ORDER BY cardholder, rowid`, func(r *sql.Rows) error {
			var number, holder string
			if err := r.Scan(&number, &holder); err != nil {
				return err
			}
			if h := m.holders[holder]; h != nil {
				h.Cards = append(h.Cards, number)
				m.cards[number] = h
			}
			return nil
		}},
		{"cardholder levels", `SELECT cardholder, level FROM building_cardholder_levels ORDER BY cardholder, level`, func(r *sql.Rows) error {
			var holder, level string
			if err := r.Scan(&holder, &level); err != nil {
				return err
			}
			if h := m.holders[holder]; h != nil {
				h.AccessLevels = append(h.AccessLevels, level)
			}
			return nil
		}},
	}
	for _, st := range steps {
		if err := scanAll(ctx, db, st.query, st.scan); err != nil {
			return nil, fmt.Errorf("load building %s: %w", st.what, err)
		}
	}
	m.index(defaultLoc)
	return m, nil
}

// index derives the lookup tables from the loaded rows.
func (m *model) index(defaultLoc *time.Location) {
	for _, d := range m.doors {
		d.loc = defaultLoc
		if f, ok := m.floors[d.Floor]; ok {
			d.building = f.Building
			if b, ok := m.buildings[f.Building]; ok {
				d.site = b.Site
				d.loc = m.zones[b.Site]
				d.passback = m.sites[b.Site].AntiPassback
			}
		}
		d.passback = d.passback || d.AntiPassback
		if d.ReaderIn != "" {
			m.readers[readerKey{d.Controller, d.ReaderIn}] = readerRef{d.ID, DirectionIn, d.ReaderInPIN}
		}
		if d.ReaderOut != "" {
			m.readers[readerKey{d.Controller, d.ReaderOut}] = readerRef{d.ID, DirectionOut, d.ReaderOutPIN}
		}
		if d.StationExtension != "" {
			m.stations[d.StationExtension] = d.ID
		}
	}
	for _, h := range m.holders {
		for _, l := range h.AccessLevels {
			for _, ld := range m.levels[l].Doors {
				h.access[ld.Door] = append(h.access[ld.Door], ld.Schedule)
			}
		}
	}
}

// scanAll runs query and calls scan for each row.
func scanAll(ctx context.Context, db *sql.DB, query string, scan func(*sql.Rows) error) error {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// reload rebuilds the cache from the store and brings the runtime state
// in line: new doors and controllers get a state, removed ones go (and
// are announced), and every door whose state changed is announced. The
// returned effects (mode commands for doors whose mode changed) are for
// the caller to apply without s.mu.
func (s *Service) reload(ctx context.Context) (effects, error) {
	m, err := loadModel(ctx, s.db, s.cfg.Location)
	if err != nil {
		return effects{}, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.m
	s.m = m
	var fx effects

	for sc := range s.lockdowns {
		if !s.scopeExistsLocked(sc) {
			delete(s.lockdowns, sc) // its building or floor is gone; the row went with it
		}
	}
	for _, id := range sortedKeys(m.controllers) {
		rt := s.ctrls[id]
		if rt == nil {
			rt = &ctrlRT{lastSeen: now, msgs: newMsgWindow()}
			s.ctrls[id] = rt
			if _, ok := s.alarmKeys[alarmKey{AlarmControllerOffline, id}]; ok {
				rt.offlineRaised = true
			}
		}
		if old == nil || old.controllers[id] == nil || old.controllers[id].Controller != m.controllers[id].Controller {
			s.publishControllerLocked(id, KindControllerChanged)
		}
	}
	for _, id := range sortedKeys(s.ctrls) {
		if m.controllers[id] == nil {
			st := s.ctrls[id].last
			delete(s.ctrls, id)
			s.publish(ControllerEvent{Kind: KindControllerRemoved, Controller: st})
		}
	}
	for _, id := range sortedKeys(m.doors) {
		if s.doors[id] == nil {
			s.doors[id] = &doorRT{}
		}
		if old != nil && old.doors[id] != nil && old.doors[id].Mode != m.doors[id].Mode {
			fx.sends = append(fx.sends, s.newCommandLocked(systemActor, id, Command{Action: ActionMode, Mode: s.effectiveModeLocked(id)}, now))
		}
		s.publishDoorLocked(id, now)
	}
	for _, id := range sortedKeys(s.doors) {
		if m.doors[id] == nil {
			st := s.doors[id].last
			delete(s.doors, id)
			s.publish(DoorEvent{Kind: KindDoorRemoved, Door: st})
		}
	}
	for k := range s.passback {
		if m.holders[k.holder] == nil || m.doors[k.door] == nil {
			delete(s.passback, k)
		}
	}
	return fx, nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}

// sameState reports whether two published states are equal.
func sameState[T any](a, b T) bool { return reflect.DeepEqual(a, b) }
