package webui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"civic/building"
	"civic/internal/audit"
	"civic/internal/auth"
)

// TestBuildingEditors: an admin sets the building up through the console;
// each change is audited once, under its request type, naming what
// changed but never a password or a PIN, which no result carries either.
// Facilities staff read the same lists.
func TestBuildingEditors(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.connect(ts.login(auth.RoleAdmin))
	staff := ts.connect(ts.login(auth.RoleFacilities))
	steps := []struct {
		typ    string
		params map[string]any
		target string
		detail string // in the audit detail
	}{
		{TypeSitesCreate, map[string]any{"site": map[string]any{"id": "hq", "name": "总部", "time_zone": "Asia/Shanghai"}}, "site hq", "总部, Asia/Shanghai"},
		{TypeBuildingsCreate, map[string]any{"building": map[string]any{"id": "main", "site": "hq", "name": "Main"}}, "building main", "Main, site hq"},
		{TypeFloorsCreate, map[string]any{"floor": map[string]any{"id": "f1", "building": "main", "name": "Lobby"}}, "floor f1", "Lobby, building main, level 0"},
		{TypeControllersCreate, map[string]any{"controller": map[string]any{"id": "c1", "name": "Lobby panel", "password": "controller-secret-1"}}, "controller c1", "Lobby panel, heartbeat 30 s, fail secure"},
		{TypeControllersUpdate, map[string]any{"controller": map[string]any{"id": "c1", "name": "Lobby panel", "password": "controller-secret-2", "fail_mode": "safe"}}, "controller c1", "fail safe, password changed"},
		{TypeDoorsCreate, map[string]any{"door": map[string]any{"id": "east", "name": "East", "floor": "f1", "controller": "c1", "reader_in": "r1"}}, "door east", "East, floor f1, controller c1, controlled"},
		{TypeSchedulesCreate, map[string]any{"schedule": map[string]any{"id": "office", "name": "Office", "windows": []any{map[string]any{"day": "mon", "start": "08:00", "end": "18:00"}}}}, "schedule office", "Office, 1 windows"},
		{TypeAccessLevelsCreate, map[string]any{"access_level": map[string]any{"name": "Staff", "doors": []any{map[string]any{"door": "east", "schedule": "office"}}}}, "access level lvl-", "Staff, 1 doors"},
		{TypeCardholdersCreate, map[string]any{"cardholder": map[string]any{"name": "Alice", "cards": []string{"a1"}, "pin": "4821"}}, "cardholder ch-", "Alice, active, 1 cards, PIN set"},
		{TypeHolidaysSet, map[string]any{"date": "2026-10-01", "name": "National Day"}, "holiday 2026-10-01", "National Day"},
		{TypePlacementsSet, map[string]any{"kind": "door", "device": "east", "floor": "f1", "x": 0.25, "y": 0.5}, "door east", "floor f1 at 0.250, 0.500"},
		{TypePlacementsDelete, map[string]any{"kind": "door", "device": "east"}, "door east", ""},
		{TypeHolidaysDelete, map[string]any{"date": "2026-10-01"}, "holiday 2026-10-01", "National Day"},
	}
	for _, st := range steps {
		mark := lastAuditID(t, ts)
		res := admin.request(st.typ, st.params)
		if res["success"] != true {
			t.Fatalf("%s: %v", st.typ, res)
		}
		raw, _ := json.Marshal(res)
		for _, secret := range []string{"controller-secret", "4821", `"password"`, `"pin"`} {
			if strings.Contains(string(raw), secret) {
				t.Fatalf("%s result carries %s: %s", st.typ, secret, raw)
			}
		}
		entries := ts.auditSince(mark)
		if len(entries) != 1 {
			t.Fatalf("%s: audit %v, want one entry", st.typ, actions(entries))
		}
		e := entries[0]
		if e.Action != st.typ || e.Result != audit.ResultOK || !strings.HasPrefix(e.Target, st.target) || !strings.Contains(e.Detail, st.detail) ||
			strings.Contains(e.Detail, "secret") || strings.Contains(e.Detail, "4821") {
			t.Fatalf("%s audited as %+v", st.typ, e)
		}
	}
	holders := result(t, staff.request(TypeCardholdersList, nil))["cardholders"].([]any)
	if len(holders) != 1 || holders[0].(map[string]any)["has_pin"] != true || !slices.Equal(anyStrings(holders[0].(map[string]any)["cards"]), []string{"A1"}) {
		t.Fatalf("cardholders %v", holders)
	}
	ctrls := result(t, staff.request(TypeControllersList, nil))["controllers"].([]any)
	if len(ctrls) != 1 || ctrls[0].(map[string]any)["fail_mode"] != "safe" {
		t.Fatalf("controllers %v", ctrls)
	}
	if !ts.bld.Authenticate("c1", "controller-secret-2") {
		t.Fatal("the controller's new password does not work")
	}

	refusals := []struct {
		typ    string
		params map[string]any
		code   string
		msg    string
	}{
		{TypeSitesCreate, map[string]any{"site": map[string]any{"id": "hq", "name": "Again"}}, CodeConflict, "there is already a site hq"},
		{TypeSitesDelete, map[string]any{"site_id": "hq"}, CodeConflict, "site hq still has buildings"},
		{TypeSitesUpdate, map[string]any{"site": map[string]any{"name": "No id"}}, CodeInvalidParams, "site.id must name the site to change"},
		{TypeSitesDelete, map[string]any{"site": "hq"}, CodeInvalidParams, "site_id must name the site"},
		{TypeFloorsDelete, map[string]any{"floor_id": "nowhere"}, CodeNotFound, "there is no floor nowhere"},
		{TypeControllersCreate, map[string]any{"controller": map[string]any{"id": "c2", "name": "Short", "password": "short"}}, CodeInvalidParams, "12-72 bytes"},
		{TypeDoorsCreate, map[string]any{"door": map[string]any{"id": "bad id", "name": "x", "floor": "f1", "controller": "c1"}}, CodeInvalidParams, "a door id must be"},
		{TypeCardholdersCreate, map[string]any{"cardholder": map[string]any{"name": "Bob", "cards": []string{"A1"}}}, CodeConflict, "card A1 already belongs to cardholder"},
		{TypeSchedulesDelete, map[string]any{"schedule_id": "office"}, CodeConflict, "still used by an access level"},
		{TypePlacementsSet, map[string]any{"kind": "door", "device": "east", "floor": "f1", "x": 2, "y": 0}, CodeInvalidParams, "fractions 0 to 1"},
		{TypePlacementsList, nil, CodeInvalidParams, "floor must name"},
		{TypeHolidaysSet, map[string]any{"date": "1 October"}, CodeInvalidParams, "YYYY-MM-DD"},
	}
	for _, tt := range refusals {
		mark := lastAuditID(t, ts)
		res := admin.request(tt.typ, tt.params)
		if errCode(res) != tt.code || !strings.Contains(errMessage(res), tt.msg) {
			t.Errorf("%s %v: %v, want %s saying %q", tt.typ, tt.params, res, tt.code, tt.msg)
		}
		if tt.typ != TypePlacementsList {
			if got := actions(ts.auditSince(mark)); !slices.Equal(got, []string{tt.typ + "/failed"}) {
				t.Errorf("%s: audit %v, want one failure", tt.typ, got)
			}
		}
	}
	mark := lastAuditID(t, ts)
	result(t, admin.request(TypeDoorsDelete, map[string]any{"door_id": "east"}))
	if e := ts.auditSince(mark); len(e) != 1 || e[0].Action != TypeDoorsDelete || e[0].Target != "door east" || e[0].Detail != "East" {
		t.Fatalf("door delete audited as %+v", e)
	}
	if doors := result(t, staff.request(TypeDoorsList, nil))["doors"].([]any); len(doors) != 0 {
		t.Fatalf("doors after delete: %v", doors)
	}
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestBuildingUnavailable: without the building module every building
// request says so; a command still has its one audit entry, and the
// snapshots are empty.
func TestBuildingUnavailable(t *testing.T) {
	ts := newTestServer(t)
	s := &Server{deps: Deps{Audit: ts.audit}, log: ts.srv.log}
	c := &conn{s: s, ctx: context.Background(), source: "192.0.2.1"}
	c.sess.User = auth.User{Username: "u-facilities", Role: auth.RoleFacilities}
	handlers := buildingHandlers()
	for _, m := range Messages {
		if !strings.HasPrefix(m.Type, "building.") || strings.HasPrefix(m.Type, "building.cameras.") {
			continue // cameras are their own module (cameras_test.go)
		}
		mark := lastAuditID(t, ts)
		raw := `{"door":"east","until":"2026-03-04T12:00:00Z","alarm_id":1,"comment":"x","floor":"f1","site_id":"s","building_id":"b","floor_id":"f",` +
			`"controller_id":"c","door_id":"d","cardholder_id":"h","access_level_id":"l","schedule_id":"s","date":"2026-10-01","device":"d",` +
			`"site":{"id":"s"},"building":{"id":"b"},"controller":{"id":"c"},"cardholder":{"id":"h"},"access_level":{"id":"l"},"schedule":{"id":"s"}}`
		if m.Type == TypeFloorsUpdate || m.Type == TypeFloorsCreate {
			raw = `{"floor":{"id":"f"}}`
		}
		if m.Type == TypeDoorsCreate || m.Type == TypeDoorsUpdate {
			raw = `{"door":{"id":"d"}}`
		}
		if m.Type == TypeAccessList {
			raw = `{"door":"east"}`
		}
		_, err := handlers[m.Type](c, context.Background(), request{Type: m.Type, raw: []byte(raw)})
		if we := s.wireError(err); we.Code != CodeUnavailable || we.Message != buildingOff {
			t.Errorf("%s: %v, want unavailable", m.Type, err)
		}
		entries := ts.auditSince(mark)
		if action := AuditedByModule[m.Type]; action != "" {
			if len(entries) != 1 || entries[0].Action != action || entries[0].Result != audit.ResultFailed || entries[0].User != "u-facilities" {
				t.Errorf("%s: audit %+v, want one failed %s", m.Type, entries, action)
			}
		} else if len(entries) != 0 {
			t.Errorf("%s: audit %+v, want none from the handler", m.Type, entries)
		}
	}
	if d := s.doorsSnapshot(); d.Doors == nil || len(d.Doors) != 0 || d.Lockdowns == nil || len(d.Lockdowns) != 0 {
		t.Errorf("doors snapshot %#v", d)
	}
	if a := s.alarmsSnapshot(); a.Alarms == nil || len(a.Alarms) != 0 {
		t.Errorf("alarms snapshot %#v", a)
	}
	if cs := s.controllersSnapshot(); cs.Controllers == nil || len(cs.Controllers) != 0 {
		t.Errorf("controllers snapshot %#v", cs)
	}
}

func TestBuildingErrorSentences(t *testing.T) {
	tests := []struct {
		err  error
		code string
		msg  string
	}{
		{fmt.Errorf("unlock door east: %w", fmt.Errorf("%w: controller c1 of door east is offline", building.ErrUnavailable)), CodeUnavailable, "controller c1 of door east is offline"},
		{fmt.Errorf("%w: a door's unlock time must be 1-300 seconds", building.ErrInvalid), CodeInvalidParams, "a door's unlock time must be 1-300 seconds"},
		{fmt.Errorf("%w: there is already a site hq", building.ErrExists), CodeConflict, "there is already a site hq"},
		{fmt.Errorf("%w: alarm 3 is already resolved", building.ErrConflict), CodeConflict, "alarm 3 is already resolved"},
		{fmt.Errorf("%w: the official role may not unlock doors", building.ErrNotAllowed), CodeNotAllowed, "the official role may not unlock doors"},
		{fmt.Errorf("%w: a floor plan may be at most 5.0 MiB", building.ErrTooLarge), CodeTooLarge, "a floor plan may be at most 5.0 MiB"},
		{fmt.Errorf("lockdown floor:f9: %w", fmt.Errorf("%w: there is no floor f9", building.ErrNotFound)), CodeNotFound, "there is no floor f9"},
		{building.ErrNotFound, CodeNotFound, "it does not exist"},
		{errors.New("database is locked"), "", ""},
	}
	for _, tt := range tests {
		we := buildingError(tt.err)
		if tt.code == "" {
			if we != nil {
				t.Errorf("buildingError(%v) = %+v, want nil", tt.err, we)
			}
			continue
		}
		if we == nil || we.Code != tt.code || we.Message != tt.msg {
			t.Errorf("buildingError(%v) = %+v, want %s %q", tt.err, we, tt.code, tt.msg)
		}
	}
}

// TestBuildingNamesMatchModule: the console's topics are building's bus
// topics, its alarm kinds and states are building's, and each request
// building audits names one of the audit actions docs/building.md lists.
func TestBuildingNamesMatchModule(t *testing.T) {
	for _, p := range [][2]string{
		{TopicBuildingDoors, string(building.TopicDoors)},
		{TopicBuildingAlarms, string(building.TopicAlarms)},
		{TopicBuildingAccess, string(building.TopicAccess)},
		{TopicBuildingControllers, string(building.TopicControllers)},
	} {
		if p[0] != p[1] {
			t.Errorf("topic %q, building publishes on %q", p[0], p[1])
		}
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "building.md"))
	if err != nil {
		t.Fatal(err)
	}
	for typ, action := range AuditedByModule {
		spec, ok := messageSpec(typ)
		if !ok || spec.Changes || !slices.Equal(spec.Roles, doorKeepers) {
			t.Errorf("%s: %+v; a request building audits is in Messages, for admin and facilities, with Changes false", typ, spec)
		}
		if !strings.Contains(string(doc), "`"+action+"`") {
			t.Errorf("%s: action %s is not among building's audit actions in docs/building.md", typ, action)
		}
	}
}
