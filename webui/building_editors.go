package webui

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"civic/building"
)

// The admin's editors of the building's model: sites, buildings, floors,
// controllers, doors, cardholders, access levels, schedules, holidays and
// placements on the floor plans. Facilities staff may list them all; only
// admins change them, and the console audits each change under its
// request type (building.sites.create, ...), as for extensions. Audit
// details name what changed, never a password or a PIN.

// edited is what an editor's change gives back: the result, and the
// audit target (when the request did not name it, as a created
// cardholder's generated id) and detail.
type edited struct {
	result any
	target string
	detail string
}

// edit makes the handler of one change: decode P, name the audit target,
// check P, then do it with the module.
func edit[P any](target func(P) string, check func(P) error, do func(context.Context, Building, P) (edited, error)) handlerFunc {
	return func(c *conn, ctx context.Context, req request) (reply, error) {
		var p P
		if err := req.decode(&p); err != nil {
			return reply{}, err
		}
		rep := reply{target: target(p)}
		if check != nil {
			if err := check(p); err != nil {
				return rep, err
			}
		}
		b, err := c.building()
		if err != nil {
			return rep, err
		}
		out, err := do(ctx, b, p)
		if err != nil {
			return rep, err
		}
		rep.result, rep.detail = out.result, truncate(out.detail, 160)
		if out.target != "" {
			rep.target = out.target
		}
		return rep, nil
	}
}

// list makes the handler of a list without params.
func list(do func(Building) any) handlerFunc {
	return func(c *conn, _ context.Context, _ request) (reply, error) {
		b, err := c.building()
		if err != nil {
			return reply{}, err
		}
		return reply{result: do(b)}, nil
	}
}

// named is the audit target of one object: "door east".
func named(noun, id string) string { return noun + " " + truncate(id, 64) }

// needID refuses an update or delete that names no object.
func needID(id, field, noun string) error {
	if strings.TrimSpace(id) == "" {
		return apiErrorf(CodeInvalidParams, "%s must name the %s", field, noun)
	}
	return nil
}

// nameOf is the name of the object with id in all, for the audit detail
// of a delete ("" when there is none).
func nameOf[T any](all []T, match func(T) bool, name func(T) string) string {
	if i := slices.IndexFunc(all, match); i >= 0 {
		return name(all[i])
	}
	return ""
}

// removed is the outcome of a delete: no result, the deleted object's
// name as the detail.
func removed(name string, err error) (edited, error) { return edited{detail: name}, err }

func editorHandlers() map[string]handlerFunc {
	return map[string]handlerFunc{
		TypeSitesList: list(func(b Building) any { return SitesResult{Sites: nonNil(b.Sites())} }),
		TypeSitesCreate: edit(func(p SiteBody) string { return named("site", p.Site.ID) }, nil,
			func(ctx context.Context, b Building, p SiteBody) (edited, error) {
				v, err := b.CreateSite(ctx, p.Site)
				return edited{result: SiteBody{v}, detail: describeSite(v)}, err
			}),
		TypeSitesUpdate: edit(func(p SiteBody) string { return named("site", p.Site.ID) },
			func(p SiteBody) error { return needID(p.Site.ID, "site.id", "site to change") },
			func(ctx context.Context, b Building, p SiteBody) (edited, error) {
				v, err := b.UpdateSite(ctx, p.Site.ID, p.Site)
				return edited{result: SiteBody{v}, detail: describeSite(v)}, err
			}),
		TypeSitesDelete: edit(func(p SiteIDParams) string { return named("site", p.SiteID) },
			func(p SiteIDParams) error { return needID(p.SiteID, "site_id", "site to delete") },
			func(ctx context.Context, b Building, p SiteIDParams) (edited, error) {
				name := nameOf(b.Sites(), func(v building.Site) bool { return v.ID == p.SiteID }, func(v building.Site) string { return v.Name })
				return removed(name, b.DeleteSite(ctx, p.SiteID))
			}),

		TypeBuildingsList: list(func(b Building) any { return BuildingsResult{Buildings: nonNil(b.Buildings())} }),
		TypeBuildingsCreate: edit(func(p BuildingBody) string { return named("building", p.Building.ID) }, nil,
			func(ctx context.Context, b Building, p BuildingBody) (edited, error) {
				v, err := b.CreateBuilding(ctx, p.Building)
				return edited{result: BuildingBody{v}, detail: v.Name + ", site " + v.Site}, err
			}),
		TypeBuildingsUpdate: edit(func(p BuildingBody) string { return named("building", p.Building.ID) },
			func(p BuildingBody) error { return needID(p.Building.ID, "building.id", "building to change") },
			func(ctx context.Context, b Building, p BuildingBody) (edited, error) {
				v, err := b.UpdateBuilding(ctx, p.Building.ID, p.Building)
				return edited{result: BuildingBody{v}, detail: v.Name + ", site " + v.Site}, err
			}),
		TypeBuildingsDelete: edit(func(p BuildingIDParams) string { return named("building", p.BuildingID) },
			func(p BuildingIDParams) error { return needID(p.BuildingID, "building_id", "building to delete") },
			func(ctx context.Context, b Building, p BuildingIDParams) (edited, error) {
				name := nameOf(b.Buildings(), func(v building.Building) bool { return v.ID == p.BuildingID }, func(v building.Building) string { return v.Name })
				return removed(name, b.DeleteBuilding(ctx, p.BuildingID))
			}),

		TypeFloorsList: list(func(b Building) any { return FloorsResult{Floors: nonNil(b.Floors())} }),
		TypeFloorsCreate: edit(func(p FloorBody) string { return named("floor", p.Floor.ID) }, nil,
			func(ctx context.Context, b Building, p FloorBody) (edited, error) {
				v, err := b.CreateFloor(ctx, p.Floor)
				return edited{result: FloorBody{v}, detail: describeFloor(v)}, err
			}),
		TypeFloorsUpdate: edit(func(p FloorBody) string { return named("floor", p.Floor.ID) },
			func(p FloorBody) error { return needID(p.Floor.ID, "floor.id", "floor to change") },
			func(ctx context.Context, b Building, p FloorBody) (edited, error) {
				v, err := b.UpdateFloor(ctx, p.Floor.ID, p.Floor)
				return edited{result: FloorBody{v}, detail: describeFloor(v)}, err
			}),
		TypeFloorsDelete: edit(func(p FloorIDParams) string { return named("floor", p.FloorID) },
			func(p FloorIDParams) error { return needID(p.FloorID, "floor_id", "floor to delete") },
			func(ctx context.Context, b Building, p FloorIDParams) (edited, error) {
				name := nameOf(b.Floors(), func(v building.Floor) bool { return v.ID == p.FloorID }, func(v building.Floor) string { return v.Name })
				return removed(name, b.DeleteFloor(ctx, p.FloorID))
			}),

		TypeControllersList: list(func(b Building) any { return ControllersResult{Controllers: nonNil(b.ListControllers())} }),
		TypeControllersCreate: edit(func(p ControllerParams) string { return named("controller", p.Controller.ID) }, nil,
			func(ctx context.Context, b Building, p ControllerParams) (edited, error) {
				v, err := b.CreateController(ctx, p.Controller)
				return edited{result: ControllerResult{v}, detail: describeController(v, false)}, err
			}),
		TypeControllersUpdate: edit(func(p ControllerParams) string { return named("controller", p.Controller.ID) },
			func(p ControllerParams) error {
				return needID(p.Controller.ID, "controller.id", "controller to change")
			},
			func(ctx context.Context, b Building, p ControllerParams) (edited, error) {
				v, err := b.UpdateController(ctx, p.Controller.ID, p.Controller)
				return edited{result: ControllerResult{v}, detail: describeController(v, p.Controller.Password != "")}, err
			}),
		TypeControllersDelete: edit(func(p ControllerIDParams) string { return named("controller", p.ControllerID) },
			func(p ControllerIDParams) error {
				return needID(p.ControllerID, "controller_id", "controller to delete")
			},
			func(ctx context.Context, b Building, p ControllerIDParams) (edited, error) {
				name := nameOf(b.ListControllers(), func(v building.Controller) bool { return v.ID == p.ControllerID }, func(v building.Controller) string { return v.Name })
				return removed(name, b.DeleteController(ctx, p.ControllerID))
			}),

		TypeDoorsList: list(func(b Building) any {
			doors := nonNil(b.ListDoors())
			for i := range doors {
				doors[i].Cameras = nonNil(doors[i].Cameras)
			}
			return DoorsResult{Doors: doors}
		}),
		TypeDoorsCreate: edit(func(p DoorBody) string { return named("door", p.Door.ID) }, nil,
			func(ctx context.Context, b Building, p DoorBody) (edited, error) {
				v, err := b.CreateDoor(ctx, p.Door)
				v.Cameras = nonNil(v.Cameras)
				return edited{result: DoorBody{v}, detail: describeDoor(v)}, err
			}),
		TypeDoorsUpdate: edit(func(p DoorBody) string { return named("door", p.Door.ID) },
			func(p DoorBody) error { return needID(p.Door.ID, "door.id", "door to change") },
			func(ctx context.Context, b Building, p DoorBody) (edited, error) {
				v, err := b.UpdateDoor(ctx, p.Door.ID, p.Door)
				v.Cameras = nonNil(v.Cameras)
				return edited{result: DoorBody{v}, detail: describeDoor(v)}, err
			}),
		TypeDoorsDelete: edit(func(p DoorIDParams) string { return named("door", p.DoorID) },
			func(p DoorIDParams) error { return needID(p.DoorID, "door_id", "door to delete") },
			func(ctx context.Context, b Building, p DoorIDParams) (edited, error) {
				name := nameOf(b.ListDoors(), func(v building.Door) bool { return v.ID == p.DoorID }, func(v building.Door) string { return v.Name })
				return removed(name, b.DeleteDoor(ctx, p.DoorID))
			}),

		TypeCardholdersList: list(func(b Building) any {
			hs := nonNil(b.Cardholders())
			for i := range hs {
				hs[i] = holderJSON(hs[i])
			}
			return CardholdersResult{Cardholders: hs}
		}),
		TypeCardholdersCreate: edit(func(p CardholderParams) string { return named("cardholder", p.Cardholder.ID) }, nil,
			func(ctx context.Context, b Building, p CardholderParams) (edited, error) {
				v, err := b.CreateCardholder(ctx, p.Cardholder)
				return edited{result: CardholderResult{holderJSON(v)}, target: named("cardholder", v.ID), detail: describeHolder(v, p.Cardholder)}, err
			}),
		TypeCardholdersImport: edit(func(p CardholdersImportParams) string { return fmt.Sprintf("%d cardholders", len(p.Cardholders)) }, nil,
			func(ctx context.Context, b Building, p CardholdersImportParams) (edited, error) {
				created, updated, err := b.ImportCardholders(ctx, p.Cardholders)
				return edited{result: CardholdersImportResult{Created: created, Updated: updated},
					detail: fmt.Sprintf("%d created, %d updated", created, updated)}, err
			}),
		TypeCardholdersUpdate: edit(func(p CardholderParams) string { return named("cardholder", p.Cardholder.ID) },
			func(p CardholderParams) error {
				return needID(p.Cardholder.ID, "cardholder.id", "cardholder to change")
			},
			func(ctx context.Context, b Building, p CardholderParams) (edited, error) {
				v, err := b.UpdateCardholder(ctx, p.Cardholder.ID, p.Cardholder)
				return edited{result: CardholderResult{holderJSON(v)}, detail: describeHolder(v, p.Cardholder)}, err
			}),
		TypeCardholdersDelete: edit(func(p CardholderIDParams) string { return named("cardholder", p.CardholderID) },
			func(p CardholderIDParams) error {
				return needID(p.CardholderID, "cardholder_id", "cardholder to delete")
			},
			func(ctx context.Context, b Building, p CardholderIDParams) (edited, error) {
				name := nameOf(b.Cardholders(), func(v building.Cardholder) bool { return v.ID == p.CardholderID }, func(v building.Cardholder) string { return v.Name })
				return removed(name, b.DeleteCardholder(ctx, p.CardholderID))
			}),

		TypeAccessLevelsList: list(func(b Building) any {
			ls := nonNil(b.AccessLevels())
			for i := range ls {
				ls[i].Doors = nonNil(ls[i].Doors)
			}
			return AccessLevelsResult{AccessLevels: ls}
		}),
		TypeAccessLevelsCreate: edit(func(p AccessLevelBody) string { return named("access level", p.AccessLevel.ID) }, nil,
			func(ctx context.Context, b Building, p AccessLevelBody) (edited, error) {
				v, err := b.CreateAccessLevel(ctx, p.AccessLevel)
				v.Doors = nonNil(v.Doors)
				return edited{result: AccessLevelBody{v}, target: named("access level", v.ID), detail: describeLevel(v)}, err
			}),
		TypeAccessLevelsUpdate: edit(func(p AccessLevelBody) string { return named("access level", p.AccessLevel.ID) },
			func(p AccessLevelBody) error {
				return needID(p.AccessLevel.ID, "access_level.id", "access level to change")
			},
			func(ctx context.Context, b Building, p AccessLevelBody) (edited, error) {
				v, err := b.UpdateAccessLevel(ctx, p.AccessLevel.ID, p.AccessLevel)
				v.Doors = nonNil(v.Doors)
				return edited{result: AccessLevelBody{v}, detail: describeLevel(v)}, err
			}),
		TypeAccessLevelsDelete: edit(func(p AccessLevelIDParams) string { return named("access level", p.AccessLevelID) },
			func(p AccessLevelIDParams) error {
				return needID(p.AccessLevelID, "access_level_id", "access level to delete")
			},
			func(ctx context.Context, b Building, p AccessLevelIDParams) (edited, error) {
				name := nameOf(b.AccessLevels(), func(v building.AccessLevel) bool { return v.ID == p.AccessLevelID }, func(v building.AccessLevel) string { return v.Name })
				return removed(name, b.DeleteAccessLevel(ctx, p.AccessLevelID))
			}),

		TypeSchedulesList: list(func(b Building) any {
			ss := nonNil(b.Schedules())
			for i := range ss {
				ss[i].Windows = nonNil(ss[i].Windows)
			}
			return SchedulesResult{Schedules: ss}
		}),
		TypeSchedulesCreate: edit(func(p ScheduleBody) string { return named("schedule", p.Schedule.ID) }, nil,
			func(ctx context.Context, b Building, p ScheduleBody) (edited, error) {
				v, err := b.CreateSchedule(ctx, p.Schedule)
				v.Windows = nonNil(v.Windows)
				return edited{result: ScheduleBody{v}, target: named("schedule", v.ID), detail: describeSchedule(v)}, err
			}),
		TypeSchedulesUpdate: edit(func(p ScheduleBody) string { return named("schedule", p.Schedule.ID) },
			func(p ScheduleBody) error { return needID(p.Schedule.ID, "schedule.id", "schedule to change") },
			func(ctx context.Context, b Building, p ScheduleBody) (edited, error) {
				v, err := b.UpdateSchedule(ctx, p.Schedule.ID, p.Schedule)
				v.Windows = nonNil(v.Windows)
				return edited{result: ScheduleBody{v}, detail: describeSchedule(v)}, err
			}),
		TypeSchedulesDelete: edit(func(p ScheduleIDParams) string { return named("schedule", p.ScheduleID) },
			func(p ScheduleIDParams) error { return needID(p.ScheduleID, "schedule_id", "schedule to delete") },
			func(ctx context.Context, b Building, p ScheduleIDParams) (edited, error) {
				name := nameOf(b.Schedules(), func(v building.Schedule) bool { return v.ID == p.ScheduleID }, func(v building.Schedule) string { return v.Name })
				return removed(name, b.DeleteSchedule(ctx, p.ScheduleID))
			}),

		TypeHolidaysList: list(func(b Building) any { return HolidaysResult{Holidays: nonNil(b.Holidays())} }),
		TypeHolidaysSet: edit(func(p building.Holiday) string { return named("holiday", p.Date) }, nil,
			func(ctx context.Context, b Building, p building.Holiday) (edited, error) {
				v, err := b.SetHoliday(ctx, p)
				return edited{result: HolidayResult{v}, detail: v.Name}, err
			}),
		TypeHolidaysDelete: edit(func(p HolidayDateParams) string { return named("holiday", p.Date) },
			func(p HolidayDateParams) error { return needID(p.Date, "date", "holiday to delete (YYYY-MM-DD)") },
			func(ctx context.Context, b Building, p HolidayDateParams) (edited, error) {
				name := nameOf(b.Holidays(), func(v building.Holiday) bool { return v.Date == p.Date }, func(v building.Holiday) string { return v.Name })
				return removed(name, b.DeleteHoliday(ctx, p.Date))
			}),

		TypePlacementsList: func(c *conn, _ context.Context, req request) (reply, error) {
			var p PlacementsListParams
			if err := req.decode(&p); err != nil {
				return reply{}, err
			}
			if err := needID(p.Floor, "floor", "floor whose plan to show"); err != nil {
				return reply{}, err
			}
			b, err := c.building()
			if err != nil {
				return reply{}, err
			}
			return reply{result: PlacementsResult{Placements: nonNil(b.Placements(p.Floor))}}, nil
		},
		TypePlacementsSet: edit(func(p building.Placement) string { return named(p.Kind, p.Device) }, nil,
			func(ctx context.Context, b Building, p building.Placement) (edited, error) {
				v, err := b.Place(ctx, p)
				return edited{result: PlacementResult{v}, detail: fmt.Sprintf("floor %s at %.3f, %.3f", v.Floor, v.X, v.Y)}, err
			}),
		TypePlacementsDelete: edit(func(p PlacementKeyParams) string { return named(p.Kind, p.Device) },
			func(p PlacementKeyParams) error { return needID(p.Device, "device", "device to take off its plan") },
			func(ctx context.Context, b Building, p PlacementKeyParams) (edited, error) {
				return removed("", b.Unplace(ctx, p.Kind, p.Device))
			}),
	}
}

// holderJSON gives a cardholder's lists as [] rather than null.
func holderJSON(h building.Cardholder) building.Cardholder {
	h.Cards, h.AccessLevels = nonNil(h.Cards), nonNil(h.AccessLevels)
	return h
}

func describeSite(v building.Site) string {
	d := v.Name
	if v.TimeZone != "" {
		d += ", " + v.TimeZone
	}
	if v.AntiPassback {
		d += ", anti-passback"
	}
	return d
}

func describeFloor(v building.Floor) string {
	return fmt.Sprintf("%s, building %s, level %d", v.Name, v.Building, v.Level)
}

// describeController never carries the password, only that it changed.
func describeController(v building.Controller, password bool) string {
	d := fmt.Sprintf("%s, heartbeat %d s, fail %s", v.Name, v.HeartbeatSeconds, v.FailMode)
	if password {
		d += ", password changed"
	}
	return d
}

func describeDoor(v building.Door) string {
	return fmt.Sprintf("%s, floor %s, controller %s, %s", v.Name, v.Floor, v.Controller, v.Mode)
}

// describeHolder never carries the PIN, only that it was set or cleared.
func describeHolder(v building.Cardholder, in building.CardholderInput) string {
	d := fmt.Sprintf("%s, %s, %d cards", v.Name, v.Status, len(v.Cards))
	switch {
	case in.ClearPIN:
		d += ", PIN cleared"
	case in.PIN != "":
		d += ", PIN set"
	}
	if v.Responder {
		d += ", responder"
	}
	return d
}

func describeLevel(v building.AccessLevel) string {
	return fmt.Sprintf("%s, %d doors", v.Name, len(v.Doors))
}

func describeSchedule(v building.Schedule) string {
	return fmt.Sprintf("%s, %d windows", v.Name, len(v.Windows))
}
