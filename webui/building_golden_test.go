package webui

import (
	"context"
	"regexp"
	"testing"
	"time"

	"civic/building"
	"civic/internal/auth"
)

// recordBuildingGoldens drives every building request and event once, in
// the order an admin sets a building up and facilities staff run it, and
// records each message for TestGoldenMessages.
func recordBuildingGoldens(t *testing.T, ts *testServer, record func(string, map[string]any)) {
	admin := ts.connect(ts.login(auth.RoleAdmin))
	staff := ts.connect(ts.login(auth.RoleFacilities))
	ask := func(c *wsClient, typ string, params map[string]any) {
		t.Helper()
		m := c.request(typ, params)
		if m["success"] != true {
			t.Fatalf("%s: %v", typ, m)
		}
		record(typ, m)
	}
	// watch subscribes a new facilities socket to one topic and records
	// its snapshot (none for building.access).
	watch := func(topic string) *wsClient {
		c := ts.connect(ts.login(auth.RoleFacilities))
		c.request(TypeSubscribe, map[string]any{"topics": []string{topic}})
		if topic != TopicBuildingAccess {
			record(TypeEvent+"."+topic+".snapshot", c.nextEvent(kindSnapshot))
		}
		return c
	}
	event := func(c *wsClient, kind string) { record(TypeEvent+"."+kind, c.nextEvent(kind)) }

	ask(admin, TypeSitesCreate, map[string]any{"site": map[string]any{"id": "hq", "name": "市政中心 Civic Center", "time_zone": "Asia/Shanghai"}})
	ask(admin, TypeBuildingsCreate, map[string]any{"building": map[string]any{"id": "main", "site": "hq", "name": "Main building"}})
	ask(admin, TypeFloorsCreate, map[string]any{"floor": map[string]any{"id": "f1", "building": "main", "name": "Ground floor", "level": 0}})
	controllers := watch(TopicBuildingControllers)
	ask(admin, TypeControllersCreate, map[string]any{"controller": map[string]any{"id": "c1", "name": "Lobby panel", "heartbeat_seconds": 10, "password": "controller-secret-1"}})
	event(controllers, building.KindControllerChanged)
	ask(admin, TypeSchedulesCreate, map[string]any{"schedule": map[string]any{"id": "office", "name": "Office hours", "windows": []any{
		map[string]any{"day": "mon", "start": "08:00", "end": "18:00"}, map[string]any{"day": "holiday", "start": "09:00", "end": "12:00"}}}})
	ask(admin, TypeDoorsCreate, map[string]any{"door": map[string]any{"id": "east", "name": "East entrance", "floor": "f1", "controller": "c1",
		"reader_in": "r1", "reader_out": "r2", "cameras": []string{"cam-east"}}})
	ask(admin, TypeAccessLevelsCreate, map[string]any{"access_level": map[string]any{"id": "staff", "name": "Staff", "doors": []any{map[string]any{"door": "east", "schedule": "office"}}}})
	ask(admin, TypeCardholdersCreate, map[string]any{"cardholder": map[string]any{"id": "alice", "name": "王丽 Alice", "department": "Facilities",
		"cards": []string{"04:a3:1f"}, "pin": "4821", "valid_until": "2027-01-01T00:00:00+08:00", "access_levels": []string{"staff"}}})
	ask(admin, TypeCardholdersImport, map[string]any{"cardholders": []any{
		map[string]any{"id": "bob", "name": "Bob", "cards": []string{"B-1"}},
		map[string]any{"id": "carol", "name": "Carol", "cards": []string{"C-1"}, "access_levels": []string{"staff"}}}})
	ask(admin, TypeHolidaysSet, map[string]any{"date": "2026-10-01", "name": "National Day"})
	ask(admin, TypePlacementsSet, map[string]any{"kind": "door", "device": "east", "floor": "f1", "x": 0.25, "y": 0.5})

	ask(admin, TypeSitesUpdate, map[string]any{"site": map[string]any{"id": "hq", "name": "市政中心 Civic Center", "time_zone": "Asia/Shanghai", "anti_passback": true}})
	ask(admin, TypeBuildingsUpdate, map[string]any{"building": map[string]any{"id": "main", "site": "hq", "name": "Main hall"}})
	ask(admin, TypeFloorsUpdate, map[string]any{"floor": map[string]any{"id": "f1", "building": "main", "name": "Lobby", "level": 0}})
	ask(admin, TypeControllersUpdate, map[string]any{"controller": map[string]any{"id": "c1", "name": "Lobby panel", "heartbeat_seconds": 10, "fail_mode": "safe"}})
	ask(admin, TypeDoorsUpdate, map[string]any{"door": map[string]any{"id": "east", "name": "East entrance", "floor": "f1", "controller": "c1",
		"reader_in": "r1", "reader_out": "r2", "held_open_seconds": 45, "cameras": []string{"cam-east"}}})
	ask(admin, TypeAccessLevelsUpdate, map[string]any{"access_level": map[string]any{"id": "staff", "name": "Staff", "doors": []any{map[string]any{"door": "east"}}}})
	ask(admin, TypeCardholdersUpdate, map[string]any{"cardholder": map[string]any{"id": "alice", "name": "王丽 Alice", "department": "Facilities",
		"cards": []string{"04A31F"}, "clear_pin": true, "responder": true, "access_levels": []string{"staff"}}})
	ask(admin, TypeSchedulesUpdate, map[string]any{"schedule": map[string]any{"id": "office", "name": "Office hours", "windows": []any{
		map[string]any{"day": "mon", "start": "08:00", "end": "18:00"}, map[string]any{"day": "tue", "start": "08:00", "end": "18:00"}}}})
	for _, typ := range []string{TypeSitesList, TypeBuildingsList, TypeFloorsList, TypeControllersList, TypeDoorsList, TypeCardholdersList,
		TypeAccessLevelsList, TypeSchedulesList, TypeHolidaysList} {
		ask(staff, typ, nil)
	}
	ask(staff, TypePlacementsList, map[string]any{"floor": "f1"})

	// The controller connects; facilities staff watch the doors and act.
	ts.heartbeat("c1")
	event(controllers, building.KindControllerOnline)
	doors := watch(TopicBuildingDoors)
	ask(staff, TypeBuildingOverview, nil)
	ask(staff, TypeDoorsUnlock, map[string]any{"door": "east", "seconds": 8})
	event(doors, building.KindDoorChanged)
	ask(staff, TypeDoorsUnlockUntil, map[string]any{"door": "east", "until": "2026-03-04T12:00:00+08:00"})
	ask(staff, TypeDoorsLock, map[string]any{"door": "east"})
	scope := map[string]any{"kind": "floor", "id": "f1"}
	ask(staff, TypeLockdownStart, map[string]any{"scope": scope, "reason": "Fire drill"})
	event(doors, building.KindLockdownStarted)
	ask(staff, TypeLockdownRelease, map[string]any{"scope": scope})
	event(doors, building.KindLockdownReleased)

	// The door is forced; the alarm is seen, handled and looked up.
	alarms := watch(TopicBuildingAlarms)
	ts.reportContact("east", building.ContactClosed)
	ts.reportContact("east", building.ContactOpen)
	event(alarms, building.KindAlarmRaised)
	ts.reportContact("east", building.ContactClosed)
	ts.reportContact("east", building.ContactOpen)
	event(alarms, building.KindAlarmRepeated)
	id := ts.bld.Alarms()[0].ID
	watch(TopicBuildingAlarms)
	ask(staff, TypeAlarmsAck, map[string]any{"alarm_id": id, "comment": "Guard on the way"})
	event(alarms, building.KindAlarmAcknowledged)
	ask(staff, TypeAlarmsResolve, map[string]any{"alarm_id": id, "comment": "Lock was jammed; repaired"})
	event(alarms, building.KindAlarmResolved)
	ask(staff, TypeAlarmsHistory, map[string]any{"alarm_id": id})
	ask(staff, TypeAlarmsList, map[string]any{"state": "resolved", "kind": "forced_open", "door": "east", "from": "2026-03-04T00:00:00+08:00", "limit": 10})

	// Cards are presented.
	access := watch(TopicBuildingAccess)
	ts.swipe("r1", "04a31f")
	event(access, building.KindAccess)
	ts.swipe("r2", "DEAD01")
	ask(staff, TypeAccessList, map[string]any{"door": "east", "from": "2026-03-04T00:00:00+08:00", "limit": 10})

	// Everything is taken down again.
	ask(admin, TypePlacementsDelete, map[string]any{"kind": "door", "device": "east"})
	ask(admin, TypeHolidaysDelete, map[string]any{"date": "2026-10-01"})
	ask(admin, TypeCardholdersDelete, map[string]any{"cardholder_id": "alice"})
	ask(admin, TypeAccessLevelsDelete, map[string]any{"access_level_id": "staff"})
	ask(admin, TypeDoorsDelete, map[string]any{"door_id": "east"})
	event(doors, building.KindDoorRemoved)
	// The controller falls silent: building's timers, on the test's
	// clock, take it offline.
	go func() { _ = ts.bld.Run(context.Background()) }()
	ts.clock.Advance(31 * time.Second)
	event(controllers, building.KindControllerOffline)
	ask(admin, TypeSchedulesDelete, map[string]any{"schedule_id": "office"})
	ask(admin, TypeControllersDelete, map[string]any{"controller_id": "c1"})
	event(controllers, building.KindControllerRemoved)
	ask(admin, TypeFloorsDelete, map[string]any{"floor_id": "f1"})
	ask(admin, TypeBuildingsDelete, map[string]any{"building_id": "main"})
	ask(admin, TypeSitesDelete, map[string]any{"site_id": "hq"})
}

// commandID matches the ids building gives commands.
var commandID = regexp.MustCompile(`^[0-9a-f]{24}$`)

// normaliseTime writes an RFC 3339 time in UTC, so goldens do not depend
// on the machine's zone (building keeps times in the local one).
func normaliseTime(s string) (string, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s, false
	}
	return t.UTC().Format(time.RFC3339Nano), true
}
