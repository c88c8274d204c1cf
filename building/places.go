package building

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Tables, for the helpers below (constants, never input).
const (
	tSites       = "building_sites"
	tBuildings   = "building_buildings"
	tFloors      = "building_floors"
	tControllers = "building_controllers"
	tDoors       = "building_doors"
	tSchedules   = "building_schedules"
	tLevels      = "building_access_levels"
	tHolders     = "building_cardholders"
)

// exists reports whether table has a row with id.
func exists(ctx context.Context, tx *sql.Tx, table, id string) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM `+table+` WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// mustNotExist fails with ErrExists when table has id.
func mustNotExist(ctx context.Context, tx *sql.Tx, table, id, what string) error {
	ok, err := exists(ctx, tx, table, id)
	if err == nil && ok {
		err = fmt.Errorf("%w: there is already a %s %s", ErrExists, what, id)
	}
	return err
}

// mustExist fails with ErrNotFound when table lacks id.
func mustExist(ctx context.Context, tx *sql.Tx, table, id, what string) error {
	ok, err := exists(ctx, tx, table, id)
	if err == nil && !ok {
		err = fmt.Errorf("%w: there is no %s %s", ErrNotFound, what, id)
	}
	return err
}

// mustRefer fails with ErrInvalid when table lacks id, which the input
// refers to.
func mustRefer(ctx context.Context, tx *sql.Tx, table, id, what string) error {
	ok, err := exists(ctx, tx, table, id)
	if err == nil && !ok {
		err = invalidf("there is no %s %s", what, id)
	}
	return err
}

// mustBeUnused fails with ErrConflict when query (with id) finds a row.
func mustBeUnused(ctx context.Context, tx *sql.Tx, query, id, msg string) error {
	var one int
	err := tx.QueryRowContext(ctx, query, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: %s", ErrConflict, msg)
}

// deleteRow deletes id from table, or fails with ErrNotFound.
func deleteRow(ctx context.Context, tx *sql.Tx, table, id, what string) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: there is no %s %s", ErrNotFound, what, id)
	}
	return nil
}

// sameID fills in an update's id and refuses a change of id.
func sameID(in *string, id, what string) error {
	if *in == "" {
		*in = id
	}
	if *in != id {
		return invalidf("a %s's id cannot change; create a new one instead", what)
	}
	return nil
}

// sortedValues returns m's values ordered by key.
func sortedValues[V any](m map[string]V) []V {
	out := make([]V, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, m[k])
	}
	return out
}

// Sites returns every site, by id.
func (s *Service) Sites() []Site {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedValues(s.m.sites)
}

// CreateSite adds a site.
func (s *Service) CreateSite(ctx context.Context, v Site) (Site, error) {
	v, err := v.normalize()
	if err != nil {
		return Site{}, err
	}
	now := ms(s.now())
	return result(v, s.change(ctx, "create site "+v.ID, func(tx *sql.Tx) error {
		if err := mustNotExist(ctx, tx, tSites, v.ID, "site"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO building_sites (id, name, time_zone, anti_passback, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)`, v.ID, v.Name, v.TimeZone, v.AntiPassback, now, now)
		return err
	}))
}

// UpdateSite replaces a site's name, time zone and anti-passback flag.
func (s *Service) UpdateSite(ctx context.Context, id string, v Site) (Site, error) {
	if err := sameID(&v.ID, id, "site"); err != nil {
		return Site{}, err
	}
	v, err := v.normalize()
	if err != nil {
		return Site{}, err
	}
	return result(v, s.change(ctx, "update site "+id, func(tx *sql.Tx) error {
		if err := mustExist(ctx, tx, tSites, id, "site"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE building_sites SET name = ?, time_zone = ?, anti_passback = ?, updated_at = ? WHERE id = ?`,
			v.Name, v.TimeZone, v.AntiPassback, ms(s.now()), id)
		return err
	}))
}

// DeleteSite removes a site that has no buildings.
func (s *Service) DeleteSite(ctx context.Context, id string) error {
	return s.change(ctx, "delete site "+id, func(tx *sql.Tx) error {
		if err := mustBeUnused(ctx, tx, `SELECT 1 FROM building_buildings WHERE site = ? LIMIT 1`, id,
			"site "+id+" still has buildings; delete them first"); err != nil {
			return err
		}
		return deleteRow(ctx, tx, tSites, id, "site")
	})
}

// Buildings returns every building, by id.
func (s *Service) Buildings() []Building {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedValues(s.m.buildings)
}

// CreateBuilding adds a building to a site.
func (s *Service) CreateBuilding(ctx context.Context, v Building) (Building, error) {
	v, err := v.normalize()
	if err != nil {
		return Building{}, err
	}
	now := ms(s.now())
	return result(v, s.change(ctx, "create building "+v.ID, func(tx *sql.Tx) error {
		if err := mustNotExist(ctx, tx, tBuildings, v.ID, "building"); err != nil {
			return err
		}
		if err := mustRefer(ctx, tx, tSites, v.Site, "site"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO building_buildings (id, site, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			v.ID, v.Site, v.Name, now, now)
		return err
	}))
}

// UpdateBuilding replaces a building's site and name.
func (s *Service) UpdateBuilding(ctx context.Context, id string, v Building) (Building, error) {
	if err := sameID(&v.ID, id, "building"); err != nil {
		return Building{}, err
	}
	v, err := v.normalize()
	if err != nil {
		return Building{}, err
	}
	return result(v, s.change(ctx, "update building "+id, func(tx *sql.Tx) error {
		if err := mustExist(ctx, tx, tBuildings, id, "building"); err != nil {
			return err
		}
		if err := mustRefer(ctx, tx, tSites, v.Site, "site"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE building_buildings SET site = ?, name = ?, updated_at = ? WHERE id = ?`,
			v.Site, v.Name, ms(s.now()), id)
		return err
	}))
}

// DeleteBuilding removes a building that has no floors; a lockdown of it
// ends.
func (s *Service) DeleteBuilding(ctx context.Context, id string) error {
	return s.change(ctx, "delete building "+id, func(tx *sql.Tx) error {
		if err := mustBeUnused(ctx, tx, `SELECT 1 FROM building_floors WHERE building = ? LIMIT 1`, id,
			"building "+id+" still has floors; delete them first"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM building_lockdowns WHERE scope = 'building' AND target = ?`, id); err != nil {
			return err
		}
		return deleteRow(ctx, tx, tBuildings, id, "building")
	})
}

// Floors returns every floor, by building, level and id.
func (s *Service) Floors() []Floor {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := sortedValues(s.m.floors)
	slices.SortStableFunc(out, func(a, b Floor) int {
		if c := strings.Compare(a.Building, b.Building); c != 0 {
			return c
		}
		return a.Level - b.Level
	})
	return out
}

// CreateFloor adds a floor to a building.
func (s *Service) CreateFloor(ctx context.Context, v Floor) (Floor, error) {
	v, err := v.normalize()
	if err != nil {
		return Floor{}, err
	}
	now := ms(s.now())
	return result(v, s.change(ctx, "create floor "+v.ID, func(tx *sql.Tx) error {
		if err := mustNotExist(ctx, tx, tFloors, v.ID, "floor"); err != nil {
			return err
		}
		if err := mustRefer(ctx, tx, tBuildings, v.Building, "building"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO building_floors (id, building, name, level, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
			v.ID, v.Building, v.Name, v.Level, now, now)
		return err
	}))
}

// UpdateFloor replaces a floor's building, name and level; its plan and
// placements stay.
func (s *Service) UpdateFloor(ctx context.Context, id string, v Floor) (Floor, error) {
	if err := sameID(&v.ID, id, "floor"); err != nil {
		return Floor{}, err
	}
	v, err := v.normalize()
	if err != nil {
		return Floor{}, err
	}
	err = s.change(ctx, "update floor "+id, func(tx *sql.Tx) error {
		if err := mustExist(ctx, tx, tFloors, id, "floor"); err != nil {
			return err
		}
		if err := mustRefer(ctx, tx, tBuildings, v.Building, "building"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE building_floors SET building = ?, name = ?, level = ?, updated_at = ? WHERE id = ?`,
			v.Building, v.Name, v.Level, ms(s.now()), id)
		return err
	})
	if err != nil {
		return Floor{}, err
	}
	s.mu.Lock()
	v.Plan = s.m.floors[id].Plan
	s.mu.Unlock()
	return v, nil
}

// DeleteFloor removes a floor that has no doors, with its plan and
// placements; a lockdown of it ends.
func (s *Service) DeleteFloor(ctx context.Context, id string) error {
	return s.change(ctx, "delete floor "+id, func(tx *sql.Tx) error {
		if err := mustBeUnused(ctx, tx, `SELECT 1 FROM building_doors WHERE floor = ? LIMIT 1`, id,
			"floor "+id+" still has doors; delete or move them first"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM building_lockdowns WHERE scope = 'floor' AND target = ?`, id); err != nil {
			return err
		}
		return deleteRow(ctx, tx, tFloors, id, "floor")
	})
}

// Placements returns the devices placed on a floor, by kind and id.
func (s *Service) Placements(floor string) []Placement {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Placement{}
	for _, p := range s.m.placements {
		if p.Floor == floor {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b Placement) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.Device, b.Device)
	})
	return out
}

// Place puts a device on a floor plan, or moves it there. A door can be
// placed only on its own floor; a camera (building/cameras, in the same
// store) on any.
func (s *Service) Place(ctx context.Context, p Placement) (Placement, error) {
	p, err := p.normalize()
	if err != nil {
		return Placement{}, err
	}
	old := s.placedOn(p.Kind, p.Device)
	err = s.change(ctx, "place "+p.Kind+" "+p.Device, func(tx *sql.Tx) error {
		if err := mustExist(ctx, tx, tFloors, p.Floor, "floor"); err != nil {
			return err
		}
		if p.Kind == PlaceCamera {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM cameras WHERE id = ?`, p.Device).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return invalidf("there is no camera %s", p.Device)
			}
			if err != nil {
				return err
			}
		}
		if p.Kind == PlaceDoor {
			var floor string
			err := tx.QueryRowContext(ctx, `SELECT floor FROM building_doors WHERE id = ?`, p.Device).Scan(&floor)
			if errors.Is(err, sql.ErrNoRows) {
				return invalidf("there is no door %s", p.Device)
			}
			if err != nil {
				return err
			}
			if floor != p.Floor {
				return invalidf("door %s is on floor %s, not %s", p.Device, floor, p.Floor)
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO building_placements (kind, device, floor, x, y) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (kind, device) DO UPDATE SET floor = excluded.floor, x = excluded.x, y = excluded.y`,
			p.Kind, p.Device, p.Floor, p.X, p.Y)
		return err
	})
	if err != nil {
		return Placement{}, err
	}
	if old != "" && old != p.Floor {
		s.publishFloor(old)
	}
	s.publishFloor(p.Floor)
	return p, nil
}

// Unplace takes a device off its floor plan.
func (s *Service) Unplace(ctx context.Context, kind, device string) error {
	floor := s.placedOn(kind, device)
	err := s.change(ctx, "unplace "+kind+" "+device, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM building_placements WHERE kind = ? AND device = ?`, kind, device)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: %s %s is not placed on any floor", ErrNotFound, kind, device)
		}
		return nil
	})
	if err == nil && floor != "" {
		s.publishFloor(floor)
	}
	return err
}

// placedOn returns the floor a device is placed on, or "".
func (s *Service) placedOn(kind, device string) string {
	for _, f := range s.Floors() {
		for _, p := range s.Placements(f.ID) {
			if p.Kind == kind && p.Device == device {
				return f.ID
			}
		}
	}
	return ""
}

// publishFloor announces floor id's plan and placements after a change.
func (s *Service) publishFloor(id string) {
	for _, f := range s.Floors() {
		if f.ID == id {
			ps := s.Placements(id)
			if ps == nil {
				ps = []Placement{}
			}
			s.publish(FloorEvent{Floor: f, Placements: ps})
			return
		}
	}
}
