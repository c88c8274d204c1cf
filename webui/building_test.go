package webui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"civic/building"
	"civic/internal/audit"
	"civic/internal/auth"
)

// buildingEpoch is the building clock's start: Wednesday 4 March 2026,
// 10:00 in Shanghai, inside office hours.
var buildingEpoch = time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC)

// testClock is the building module's clock; tests move it by hand. No
// test runs building's timers, so nothing times out on its own.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// sentCommand is a command the recordingCommander was given.
type sentCommand struct {
	controller string
	cmd        building.Command
}

// recordingCommander stands in for the MQTT transport: it keeps every
// command building sends.
type recordingCommander struct {
	mu   sync.Mutex
	sent []sentCommand
}

func (r *recordingCommander) Send(_ context.Context, controller string, cmd building.Command) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, sentCommand{controller, cmd})
	return nil
}

func (r *recordingCommander) all() []sentCommand {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sent)
}

// Actors for setting the building up behind the console's back.
var setupActor = building.Actor{User: "setup", Role: "admin", Source: "test"}

// seedBuilding creates the test building through the module:
//
//   - site hq (Asia/Shanghai), building main, floors f1 and f2;
//   - controller c1, online; controller c2, never seen (offline);
//   - schedule office: Monday to Friday 08:00-18:00;
//   - doors east (f1, c1, readers r1 in, r2 out, camera cam-east),
//     west (f2, c1, reader r3) and gate (f1, c2, reader r9);
//   - access level staff (east always, west in office hours);
//   - cardholder alice, card A1, staff.
func (ts *testServer) seedBuilding() {
	t := ts.t
	t.Helper()
	ctx := context.Background()
	s := ts.bld
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateSite(ctx, building.Site{ID: "hq", Name: "Headquarters", TimeZone: "Asia/Shanghai"}))
	must(s.CreateBuilding(ctx, building.Building{ID: "main", Site: "hq", Name: "Main building"}))
	must(s.CreateFloor(ctx, building.Floor{ID: "f1", Building: "main", Name: "Ground floor"}))
	must(s.CreateFloor(ctx, building.Floor{ID: "f2", Building: "main", Name: "First floor", Level: 1}))
	for _, c := range []string{"c1", "c2"} {
		must(s.CreateController(ctx, building.ControllerInput{Controller: building.Controller{ID: c, Name: "Controller " + c}, Password: "controller-secret-1"}))
	}
	var office []building.Window
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri"} {
		office = append(office, building.Window{Day: d, Start: "08:00", End: "18:00"})
	}
	must(s.CreateSchedule(ctx, building.Schedule{ID: "office", Name: "Office hours", Windows: office}))
	must(s.CreateDoor(ctx, building.Door{ID: "east", Name: "East entrance", Floor: "f1", Controller: "c1", ReaderIn: "r1", ReaderOut: "r2", Cameras: []string{"cam-east"}}))
	must(s.CreateDoor(ctx, building.Door{ID: "west", Name: "West stairs", Floor: "f2", Controller: "c1", ReaderIn: "r3"}))
	must(s.CreateDoor(ctx, building.Door{ID: "gate", Name: "Yard gate", Floor: "f1", Controller: "c2", ReaderIn: "r9"}))
	must(s.CreateAccessLevel(ctx, building.AccessLevel{ID: "staff", Name: "Staff", Doors: []building.LevelDoor{{Door: "east"}, {Door: "west", Schedule: "office"}}}))
	must(s.CreateCardholder(ctx, building.CardholderInput{Cardholder: building.Cardholder{ID: "alice", Name: "Alice", Cards: []string{"A1"}, AccessLevels: []string{"staff"}}}))
	ts.heartbeat("c1")
}

// nextMsgID is a fresh controller message id.
func (ts *testServer) nextMsgID() string { return fmt.Sprintf("m%d", ts.msgN.Add(1)) }

// heartbeat marks a controller alive, as its heartbeat over MQTT would.
func (ts *testServer) heartbeat(controller string) {
	ts.t.Helper()
	if err := ts.bld.Heartbeat(context.Background(), controller, ts.nextMsgID(), ts.clock.Now()); err != nil {
		ts.t.Fatal(err)
	}
}

// reportContact reports a door of c1 open or closed.
func (ts *testServer) reportContact(door, contact string) {
	ts.t.Helper()
	err := ts.bld.DoorState(context.Background(), building.DoorReport{Controller: "c1", Door: door, Contact: contact, MsgID: ts.nextMsgID(), At: ts.clock.Now()})
	if err != nil {
		ts.t.Fatal(err)
	}
}

// forcedAlarm resolves the open alarms of door west, then forces it open
// (closed, then open with no grant) and returns the new alarm's id.
func (ts *testServer) forcedAlarm() int64 {
	ts.t.Helper()
	for _, a := range ts.bld.Alarms() {
		if a.Door == "west" {
			if _, err := ts.bld.Resolve(context.Background(), setupActor, a.ID, "reset for the test"); err != nil {
				ts.t.Fatal(err)
			}
		}
	}
	ts.reportContact("west", building.ContactClosed)
	ts.reportContact("west", building.ContactOpen)
	for _, a := range ts.bld.Alarms() {
		if a.Door == "west" && a.Kind == building.AlarmForcedOpen && a.State == building.AlarmNew {
			return a.ID
		}
	}
	ts.t.Fatal("forcing door west raised no alarm")
	return 0
}

// swipe presents a card at a reader of c1.
func (ts *testServer) swipe(reader, card string) building.Decision {
	ts.t.Helper()
	d, err := ts.bld.Swipe(context.Background(), building.Swipe{Controller: "c1", Reader: reader, Card: card, MsgID: ts.nextMsgID(), At: ts.clock.Now()})
	if err != nil {
		ts.t.Fatal(err)
	}
	return d
}

// auditSince returns the audit entries newer than mark, oldest first.
func (ts *testServer) auditSince(mark int64) []audit.Entry {
	ts.t.Helper()
	entries, _, err := ts.audit.List(context.Background(), audit.Filter{Limit: 500})
	if err != nil {
		ts.t.Fatal(err)
	}
	var out []audit.Entry
	for _, e := range entries {
		if e.ID > mark {
			out = append(out, e)
		}
	}
	slices.Reverse(out)
	return out
}

// actions lists the actions of entries, in order.
func actions(entries []audit.Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Action+"/"+e.Result)
	}
	return out
}

// result is the result object of a successful reply.
func result(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	if m["success"] != true {
		t.Fatalf("request failed: %v", m)
	}
	r, _ := m["result"].(map[string]any)
	return r
}

// errMessage is the message of a failed reply.
func errMessage(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

// TestDoorCommandsReachTheController: each command a facilities user
// gives reaches the controller's transport as the command building
// builds, the reply carries that command's id, and the audit log has
// exactly one entry for it, building's, with the user, role and address.
func TestDoorCommandsReachTheController(t *testing.T) {
	ts := newTestServer(t)
	ts.seedBuilding()
	c := ts.connect(ts.login(auth.RoleFacilities))
	until := buildingEpoch.Add(90 * time.Minute)
	tests := []struct {
		typ    string
		params map[string]any
		check  func(building.Command) error
	}{
		{TypeDoorsUnlock, map[string]any{"door": "east", "seconds": 7}, func(cmd building.Command) error {
			if cmd.Action != building.ActionUnlock || cmd.Seconds != 7 {
				return fmt.Errorf("want unlock for 7 s")
			}
			return nil
		}},
		{TypeDoorsUnlock, map[string]any{"door": "east"}, func(cmd building.Command) error {
			if cmd.Action != building.ActionUnlock || cmd.Seconds != 5 {
				return fmt.Errorf("want unlock for the door's 5 s")
			}
			return nil
		}},
		{TypeDoorsUnlockUntil, map[string]any{"door": "east", "until": until.In(time.FixedZone("CST", 8*3600)).Format(time.RFC3339)}, func(cmd building.Command) error {
			if cmd.Action != building.ActionUnlock || !cmd.Until.Equal(until) {
				return fmt.Errorf("want unlock until %v", until)
			}
			return nil
		}},
		{TypeDoorsLock, map[string]any{"door": "east"}, func(cmd building.Command) error {
			if cmd.Action != building.ActionLock {
				return fmt.Errorf("want lock")
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			before := len(ts.cmds.all())
			mark := lastAuditID(t, ts)
			res := result(t, c.request(tt.typ, tt.params))
			sent := ts.cmds.all()[before:]
			if len(sent) != 1 {
				t.Fatalf("commands sent: %+v, want one", sent)
			}
			got := sent[0]
			if got.controller != "c1" || got.cmd.Door != "east" || res["command_id"] != got.cmd.ID || got.cmd.ID == "" {
				t.Fatalf("sent %+v to %s, reply %v", got.cmd, got.controller, res)
			}
			if err := tt.check(got.cmd); err != nil {
				t.Fatalf("sent %+v: %v", got.cmd, err)
			}
			entries := ts.auditSince(mark)
			if len(entries) != 1 {
				t.Fatalf("audit entries %v, want exactly one", actions(entries))
			}
			e := entries[0]
			if e.Action != AuditedByModule[tt.typ] || e.Result != audit.ResultOK || e.User != "u-facilities" || e.Role != "facilities" ||
				e.Target != "door:east" || e.Source != "127.0.0.1" || !strings.Contains(e.Detail, got.cmd.ID) {
				t.Fatalf("audit entry %+v", e)
			}
		})
	}
}

// TestDoorCommandRefusals: a refused command reaches no controller, its
// reply says why, and it too has exactly one audit entry: the console's
// for a role refusal or a request it cannot read, building's otherwise.
func TestDoorCommandRefusals(t *testing.T) {
	ts := newTestServer(t)
	ts.seedBuilding()
	official := ts.connect(ts.login(auth.RoleOfficial))
	staff := ts.connect(ts.login(auth.RoleFacilities))
	tests := []struct {
		name   string
		c      *wsClient
		typ    string
		params map[string]any
		code   string
		action string // the one audit entry's action and result
		msg    string // in the error message
	}{
		{"official unlocks", official, TypeDoorsUnlock, map[string]any{"door": "east"}, CodeNotAllowed, TypeDoorsUnlock + "/denied", "role"},
		{"official locks down", official, TypeLockdownStart, map[string]any{"scope": map[string]any{"kind": "building", "id": "main"}, "reason": "x"}, CodeNotAllowed, TypeLockdownStart + "/denied", "role"},
		{"official acknowledges", official, TypeAlarmsAck, map[string]any{"alarm_id": 1, "comment": "x"}, CodeNotAllowed, TypeAlarmsAck + "/denied", "role"},
		{"controller offline", staff, TypeDoorsUnlock, map[string]any{"door": "gate"}, CodeUnavailable, "building.unlock/failed", "controller c2 of door gate is offline"},
		{"unknown door", staff, TypeDoorsLock, map[string]any{"door": "nowhere"}, CodeNotFound, "building.lock/failed", "there is no door nowhere"},
		{"too long", staff, TypeDoorsUnlock, map[string]any{"door": "east", "seconds": 301}, CodeInvalidParams, "building.unlock/failed", "1-300 seconds"},
		{"bad time", staff, TypeDoorsUnlockUntil, map[string]any{"door": "east", "until": "tomorrow"}, CodeInvalidParams, "building.unlock_until/failed", "RFC 3339"},
		{"no time", staff, TypeDoorsUnlockUntil, map[string]any{"door": "east"}, CodeInvalidParams, "building.unlock_until/failed", "RFC 3339"},
		{"seconds not a number", staff, TypeDoorsUnlock, map[string]any{"door": "east", "seconds": "five"}, CodeInvalidParams, "building.unlock/failed", "seconds"},
		{"lockdown without reason", staff, TypeLockdownStart, map[string]any{"scope": map[string]any{"kind": "floor", "id": "f1"}}, CodeInvalidParams, "building.lockdown/failed", "reason"},
		{"lockdown of nothing", staff, TypeLockdownStart, map[string]any{"scope": map[string]any{"kind": "floor", "id": "f9"}, "reason": "drill"}, CodeNotFound, "building.lockdown/failed", "there is no floor f9"},
		{"release what is not locked", staff, TypeLockdownRelease, map[string]any{"scope": map[string]any{"kind": "floor", "id": "f1"}}, CodeNotFound, "building.lockdown_release/failed", "not locked down"},
		{"ack without comment", staff, TypeAlarmsAck, map[string]any{"alarm_id": 1, "comment": " "}, CodeInvalidParams, "building.alarm_acknowledge/failed", "comment"},
		{"ack names no alarm", staff, TypeAlarmsAck, map[string]any{"comment": "seen"}, CodeInvalidParams, "building.alarm_acknowledge/failed", "alarm_id"},
		{"resolve an unknown alarm", staff, TypeAlarmsResolve, map[string]any{"alarm_id": 999, "comment": "gone"}, CodeNotFound, "building.alarm_resolve/failed", "there is no alarm 999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(ts.cmds.all())
			mark := lastAuditID(t, ts)
			res := tt.c.request(tt.typ, tt.params)
			if errCode(res) != tt.code || !strings.Contains(errMessage(res), tt.msg) {
				t.Fatalf("got %v, want %s saying %q", res, tt.code, tt.msg)
			}
			if sent := ts.cmds.all()[before:]; len(sent) != 0 {
				t.Fatalf("a refused request sent %+v", sent)
			}
			if got := actions(ts.auditSince(mark)); !slices.Equal(got, []string{tt.action}) {
				t.Fatalf("audit %v, want [%s]", got, tt.action)
			}
		})
	}
}

// TestLockdownFromConsole: a lockdown locks its doors down (a mode
// command to each), shows on building.doors, refuses unlocks until it is
// released, and each step is audited once.
func TestLockdownFromConsole(t *testing.T) {
	ts := newTestServer(t)
	ts.seedBuilding()
	watcher := ts.connect(ts.login(auth.RoleFacilities))
	watcher.request(TypeSubscribe, map[string]any{"topics": []string{TopicBuildingDoors}})
	if snap := eventData(watcher.nextEvent(kindSnapshot)); len(snap["lockdowns"].([]any)) != 0 {
		t.Fatalf("snapshot %v, want no lockdowns", snap)
	}
	staff := ts.connect(ts.login(auth.RoleFacilities))
	mark := lastAuditID(t, ts)
	before := len(ts.cmds.all())
	scope := map[string]any{"kind": "floor", "id": "f1"}
	res := result(t, staff.request(TypeLockdownStart, map[string]any{"scope": scope, "reason": "Fire drill"}))
	l := res["lockdown"].(map[string]any)
	if l["reason"] != "Fire drill" || l["started_by"] != "u-facilities" || l["scope"].(map[string]any)["id"] != "f1" {
		t.Fatalf("lockdown %v", l)
	}
	ev := eventData(watcher.nextEvent(building.KindLockdownStarted))
	if ev["lockdown"].(map[string]any)["reason"] != "Fire drill" {
		t.Fatalf("lockdown_started %v", ev)
	}
	var modes []string
	for _, s := range ts.cmds.all()[before:] {
		modes = append(modes, s.cmd.Door+":"+s.cmd.Mode)
	}
	slices.Sort(modes)
	if want := []string{"east:locked_down", "gate:locked_down"}; !slices.Equal(modes, want) {
		t.Fatalf("mode commands %v, want %v", modes, want)
	}
	if res := staff.request(TypeDoorsUnlock, map[string]any{"door": "east"}); errCode(res) != CodeConflict {
		t.Fatalf("unlock during the lockdown: %v, want conflict", res)
	}
	if res := staff.request(TypeLockdownStart, map[string]any{"scope": scope, "reason": "again"}); errCode(res) != CodeConflict {
		t.Fatalf("second lockdown: %v, want conflict", res)
	}
	result(t, staff.request(TypeLockdownRelease, map[string]any{"scope": scope}))
	if ev := eventData(watcher.nextEvent(building.KindLockdownReleased)); ev["lockdown"].(map[string]any)["scope"].(map[string]any)["id"] != "f1" {
		t.Fatalf("lockdown_released %v", ev)
	}
	want := []string{"building.lockdown/ok", "building.unlock/failed", "building.lockdown/failed", "building.lockdown_release/ok"}
	if got := actions(ts.auditSince(mark)); !slices.Equal(got, want) {
		t.Fatalf("audit %v, want %v", got, want)
	}
	result(t, staff.request(TypeDoorsUnlock, map[string]any{"door": "east"}))
}

// buildingCase prepares the building for case n of the RBAC matrix and
// returns valid params for a building request (ok false for any other
// type): what an update or delete acts on exists, a lockdown to release
// is in force and one to start is not, an alarm to handle is new.
func (ts *testServer) buildingCase(typ string, n int) (map[string]any, bool) {
	t := ts.t
	t.Helper()
	ctx := context.Background()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	id := func(prefix string) string { return fmt.Sprintf("%s%d", prefix, n) }
	drill := building.Scope{Kind: building.ScopeFloor, ID: "f2"}
	locked := func() bool {
		return slices.ContainsFunc(ts.bld.Lockdowns(), func(l building.Lockdown) bool { return l.Scope == drill })
	}
	switch typ {
	case TypeBuildingOverview, TypeAlarmsList, TypeSitesList, TypeBuildingsList, TypeFloorsList, TypeControllersList, TypeDoorsList,
		TypeCardholdersList, TypeAccessLevelsList, TypeSchedulesList, TypeHolidaysList:
		return nil, true
	case TypePlacementsList:
		return map[string]any{"floor": "f1"}, true
	case TypeDoorsUnlock:
		return map[string]any{"door": "east", "seconds": 3}, true
	case TypeDoorsUnlockUntil:
		return map[string]any{"door": "east", "until": ts.clock.Now().Add(time.Hour).Format(time.RFC3339)}, true
	case TypeDoorsLock:
		return map[string]any{"door": "east"}, true
	case TypeLockdownStart:
		if locked() {
			must(nil, ts.bld.ReleaseLockdown(ctx, setupActor, drill))
		}
		return map[string]any{"scope": drill, "reason": "drill"}, true
	case TypeLockdownRelease:
		if !locked() {
			must(nil, ts.bld.Lockdown(ctx, setupActor, drill, "drill"))
		}
		return map[string]any{"scope": drill}, true
	case TypeAlarmsAck, TypeAlarmsResolve, TypeAlarmsHistory:
		return map[string]any{"alarm_id": ts.forcedAlarm(), "comment": "checked"}, true
	case TypeAccessList:
		return map[string]any{"door": "east", "limit": 5}, true

	case TypeSitesCreate:
		return map[string]any{"site": map[string]any{"id": id("s"), "name": "Site"}}, true
	case TypeSitesUpdate, TypeSitesDelete:
		must(ts.bld.CreateSite(ctx, building.Site{ID: id("s"), Name: "Site"}))
		return map[string]any{"site": map[string]any{"id": id("s"), "name": "Renamed"}, "site_id": id("s")}, true
	case TypeBuildingsCreate:
		return map[string]any{"building": map[string]any{"id": id("b"), "site": "hq", "name": "Annex"}}, true
	case TypeBuildingsUpdate, TypeBuildingsDelete:
		must(ts.bld.CreateBuilding(ctx, building.Building{ID: id("b"), Site: "hq", Name: "Annex"}))
		return map[string]any{"building": map[string]any{"id": id("b"), "site": "hq", "name": "Renamed"}, "building_id": id("b")}, true
	case TypeFloorsCreate:
		return map[string]any{"floor": map[string]any{"id": id("fl"), "building": "main", "name": "Roof", "level": 9}}, true
	case TypeFloorsUpdate, TypeFloorsDelete:
		must(ts.bld.CreateFloor(ctx, building.Floor{ID: id("fl"), Building: "main", Name: "Roof"}))
		return map[string]any{"floor": map[string]any{"id": id("fl"), "building": "main", "name": "Renamed"}, "floor_id": id("fl")}, true
	case TypeControllersCreate:
		return map[string]any{"controller": map[string]any{"id": id("ctl"), "name": "Panel", "password": "controller-secret-1"}}, true
	case TypeControllersUpdate, TypeControllersDelete:
		must(ts.bld.CreateController(ctx, building.ControllerInput{Controller: building.Controller{ID: id("ctl"), Name: "Panel"}, Password: "controller-secret-1"}))
		return map[string]any{"controller": map[string]any{"id": id("ctl"), "name": "Renamed"}, "controller_id": id("ctl")}, true
	case TypeDoorsCreate:
		return map[string]any{"door": map[string]any{"id": id("d"), "name": "Door", "floor": "f1", "controller": "c1", "reader_in": id("rd")}}, true
	case TypeDoorsUpdate, TypeDoorsDelete:
		must(ts.bld.CreateDoor(ctx, building.Door{ID: id("d"), Name: "Door", Floor: "f1", Controller: "c1", ReaderIn: id("rd")}))
		return map[string]any{"door": map[string]any{"id": id("d"), "name": "Renamed", "floor": "f1", "controller": "c1", "reader_in": id("rd")}, "door_id": id("d")}, true
	case TypeCardholdersCreate:
		return map[string]any{"cardholder": map[string]any{"id": id("h"), "name": "Holder", "cards": []string{id("K")}}}, true
	case TypeCardholdersImport:
		return map[string]any{"cardholders": []any{map[string]any{"id": id("h"), "name": "Holder", "cards": []string{id("K")}}}}, true
	case TypeCardholdersUpdate, TypeCardholdersDelete:
		must(ts.bld.CreateCardholder(ctx, building.CardholderInput{Cardholder: building.Cardholder{ID: id("h"), Name: "Holder"}}))
		return map[string]any{"cardholder": map[string]any{"id": id("h"), "name": "Renamed"}, "cardholder_id": id("h")}, true
	case TypeAccessLevelsCreate:
		return map[string]any{"access_level": map[string]any{"id": id("l"), "name": "Level", "doors": []any{map[string]any{"door": "east"}}}}, true
	case TypeAccessLevelsUpdate, TypeAccessLevelsDelete:
		must(ts.bld.CreateAccessLevel(ctx, building.AccessLevel{ID: id("l"), Name: "Level"}))
		return map[string]any{"access_level": map[string]any{"id": id("l"), "name": "Renamed"}, "access_level_id": id("l")}, true
	case TypeSchedulesCreate:
		return map[string]any{"schedule": map[string]any{"id": id("sc"), "name": "Mornings", "windows": []any{map[string]any{"day": "mon", "start": "08:00", "end": "12:00"}}}}, true
	case TypeSchedulesUpdate, TypeSchedulesDelete:
		must(ts.bld.CreateSchedule(ctx, building.Schedule{ID: id("sc"), Name: "Mornings"}))
		return map[string]any{"schedule": map[string]any{"id": id("sc"), "name": "Renamed"}, "schedule_id": id("sc")}, true
	case TypeHolidaysSet:
		return map[string]any{"date": "2026-10-01", "name": "National Day"}, true
	case TypeHolidaysDelete:
		date := time.Date(2027, 1, 1+n, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
		must(ts.bld.SetHoliday(ctx, building.Holiday{Date: date, Name: "Day off"}))
		return map[string]any{"date": date}, true
	case TypePlacementsSet:
		return map[string]any{"kind": "door", "device": "east", "floor": "f1", "x": 0.5, "y": 0.5}, true
	case TypePlacementsDelete:
		must(ts.bld.Place(ctx, building.Placement{Kind: building.PlaceDoor, Device: "east", Floor: "f1", X: 0.5, Y: 0.5}))
		return map[string]any{"kind": "door", "device": "east"}, true
	}
	return nil, false
}
