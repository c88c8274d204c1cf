package webui

import (
	"context"
	"encoding/csv"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"civic/building"
	"civic/internal/auth"
)

// TestAlarmsFromConsole: a forced door shows on building.alarms with its
// floor; facilities staff acknowledge and resolve it with comments (each
// audited once, by building), read its history, and find it again with
// the list's filters.
func TestAlarmsFromConsole(t *testing.T) {
	ts := newTestServer(t)
	ts.seedBuilding()
	watcher := ts.connect(ts.login(auth.RoleFacilities))
	watcher.request(TypeSubscribe, map[string]any{"topics": []string{TopicBuildingAlarms}})
	if snap := eventData(watcher.nextEvent(kindSnapshot)); len(snap["alarms"].([]any)) != 0 {
		t.Fatalf("snapshot %v, want no open alarms", snap)
	}
	id := ts.forcedAlarm()
	raised := eventData(watcher.nextEvent(building.KindAlarmRaised))["alarm"].(map[string]any)
	if raised["id"] != float64(id) || raised["kind"] != building.AlarmForcedOpen || raised["door"] != "west" ||
		raised["floor"] != "f2" || raised["severity"] != building.SeverityCritical || raised["state"] != building.AlarmNew {
		t.Fatalf("alarm_raised %v", raised)
	}

	staff := ts.connect(ts.login(auth.RoleFacilities))
	mark := lastAuditID(t, ts)
	acked := result(t, staff.request(TypeAlarmsAck, map[string]any{"alarm_id": id, "comment": "guard sent"}))["alarm"].(map[string]any)
	if acked["state"] != building.AlarmAcknowledged || acked["acked_by"] != "u-facilities" || acked["ack_comment"] != "guard sent" {
		t.Fatalf("acknowledged %v", acked)
	}
	if ev := eventData(watcher.nextEvent(building.KindAlarmAcknowledged))["alarm"].(map[string]any); ev["state"] != building.AlarmAcknowledged {
		t.Fatalf("alarm_acknowledged %v", ev)
	}
	if res := staff.request(TypeAlarmsAck, map[string]any{"alarm_id": id, "comment": "again"}); errCode(res) != CodeConflict ||
		!strings.Contains(errMessage(res), "already acknowledged by u-facilities") {
		t.Fatalf("second acknowledgement: %v, want conflict", res)
	}
	resolved := result(t, staff.request(TypeAlarmsResolve, map[string]any{"alarm_id": id, "comment": "door repaired"}))["alarm"].(map[string]any)
	if resolved["state"] != building.AlarmResolved || resolved["resolve_comment"] != "door repaired" {
		t.Fatalf("resolved %v", resolved)
	}
	watcher.nextEvent(building.KindAlarmResolved)
	entries := ts.auditSince(mark)
	want := []string{"building.alarm_acknowledge/ok", "building.alarm_acknowledge/failed", "building.alarm_resolve/ok"}
	if got := actions(entries); !slices.Equal(got, want) {
		t.Fatalf("audit %v, want %v", got, want)
	}
	if e := entries[0]; e.User != "u-facilities" || e.Target != alarmTarget(id) || !strings.Contains(e.Detail, "guard sent") {
		t.Fatalf("acknowledgement audited as %+v", e)
	}

	var steps []string
	for _, h := range result(t, staff.request(TypeAlarmsHistory, map[string]any{"alarm_id": id}))["history"].([]any) {
		steps = append(steps, h.(map[string]any)["action"].(string))
	}
	if want := []string{"raised", "acknowledged", "resolved"}; !slices.Equal(steps, want) {
		t.Fatalf("history %v, want %v", steps, want)
	}
	if res := staff.request(TypeAlarmsHistory, map[string]any{"alarm_id": 999}); errCode(res) != CodeNotFound {
		t.Fatalf("history of no alarm: %v", res)
	}

	second := ts.forcedAlarm()
	raisedAt := buildingEpoch.Format(time.RFC3339)
	tests := []struct {
		name   string
		params map[string]any
		want   []int64
	}{
		{"all", nil, []int64{second, id}},
		{"resolved", map[string]any{"state": "resolved"}, []int64{id}},
		{"new", map[string]any{"state": "new"}, []int64{second}},
		{"kind", map[string]any{"kind": "forced_open"}, []int64{second, id}},
		{"other kind", map[string]any{"kind": "tamper"}, nil},
		{"door", map[string]any{"door": "west"}, []int64{second, id}},
		{"other door", map[string]any{"door": "east"}, nil},
		{"from", map[string]any{"from": raisedAt}, []int64{second, id}},
		{"to excludes its instant", map[string]any{"to": raisedAt}, nil},
		{"to", map[string]any{"to": buildingEpoch.Add(time.Second).Format(time.RFC3339), "kind": "forced_open"}, []int64{second, id}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := result(t, staff.request(TypeAlarmsList, tt.params))
			var got []int64
			for _, a := range res["alarms"].([]any) {
				got = append(got, int64(a.(map[string]any)["id"].(float64)))
			}
			if !slices.Equal(got, tt.want) || res["next_before_id"] != float64(0) {
				t.Fatalf("alarms %v (next %v), want %v", got, res["next_before_id"], tt.want)
			}
		})
	}
	for _, bad := range []map[string]any{{"state": "open"}, {"kind": "fire"}, {"from": "yesterday"}, {"limit": 1001},
		{"from": raisedAt, "to": raisedAt}, {"before_id": -1}} {
		if res := staff.request(TypeAlarmsList, bad); errCode(res) != CodeInvalidParams {
			t.Errorf("list %v: %v, want invalid_params", bad, res)
		}
	}
}

// TestAlarmPages: paging by before_id returns every alarm once, newest
// first, with and without the filters building lacks (kind, to).
func TestAlarmPages(t *testing.T) {
	ts := newTestServer(t)
	ts.seedBuilding()
	var want []int64
	for range 5 {
		want = append([]int64{ts.forcedAlarm()}, want...)
	}
	staff := ts.connect(ts.login(auth.RoleFacilities))
	for _, extra := range []map[string]any{nil, {"kind": "forced_open"}, {"to": buildingEpoch.Add(time.Hour).Format(time.RFC3339)}} {
		var got []int64
		var before float64
		for page := 0; page < 10; page++ {
			params := map[string]any{"limit": 2, "before_id": before}
			for k, v := range extra {
				params[k] = v
			}
			res := result(t, staff.request(TypeAlarmsList, params))
			for _, a := range res["alarms"].([]any) {
				got = append(got, int64(a.(map[string]any)["id"].(float64)))
			}
			if before = res["next_before_id"].(float64); before == 0 {
				break
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages with %v: %v, want %v", extra, got, want)
		}
	}
}

// TestAccessEvents: decisions show live on building.access (no snapshot),
// and the list and the CSV export find them by cardholder, card, door,
// outcome and time.
func TestAccessEvents(t *testing.T) {
	ts := newTestServer(t)
	ts.seedBuilding()
	ctx := context.Background()
	if _, err := ts.bld.CreateCardholder(ctx, building.CardholderInput{Cardholder: building.Cardholder{
		ID: "eve", Name: "=HYPERLINK(\"http://x\")", Department: "-", Cards: []string{"E1"}, AccessLevels: []string{"staff"}}}); err != nil {
		t.Fatal(err)
	}
	watcher := ts.connect(ts.login(auth.RoleFacilities))
	watcher.request(TypeSubscribe, map[string]any{"topics": []string{TopicBuildingAccess}})
	if d := ts.swipe("r1", "a1"); !d.Granted {
		t.Fatalf("alice at east: %+v", d)
	}
	// The first message after the result is the event: no snapshot.
	first := watcher.readMsg()
	ev := first["event"].(map[string]any)
	if ev["kind"] != building.KindAccess || ev["topic"] != TopicBuildingAccess {
		t.Fatalf("first message %v, want a building.access event", first)
	}
	if d := ev["data"].(map[string]any); d["cardholder"] != "alice" || d["door"] != "east" || d["granted"] != true || d["direction"] != "in" {
		t.Fatalf("access event %v", d)
	}
	ts.clock.Advance(time.Hour)
	ts.swipe("r2", "Z9") // unknown card, leaving
	ts.swipe("r1", "E1") // eve

	staff := ts.connect(ts.login(auth.RoleFacilities))
	later := buildingEpoch.Add(30 * time.Minute).Format(time.RFC3339)
	tests := []struct {
		name   string
		params map[string]any
		query  string
		want   []string // card:reason, newest first
	}{
		{"all", nil, "", []string{"E1:granted", "Z9:unknown_card", "A1:granted"}},
		{"cardholder", map[string]any{"cardholder": "alice"}, "cardholder=alice", []string{"A1:granted"}},
		{"card as read", map[string]any{"card": "e:1"}, "card=e%3A1", []string{"E1:granted"}},
		{"denied", map[string]any{"granted": false}, "granted=false", []string{"Z9:unknown_card"}},
		{"granted", map[string]any{"granted": true}, "granted=true", []string{"E1:granted", "A1:granted"}},
		{"door", map[string]any{"door": "west"}, "door=west", nil},
		{"from", map[string]any{"from": later}, "from=" + strings.ReplaceAll(later, "+", "%2B"), []string{"E1:granted", "Z9:unknown_card"}},
		{"to", map[string]any{"to": later}, "to=" + later, []string{"A1:granted"}},
	}
	admin := ts.login(auth.RoleAdmin)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := result(t, staff.request(TypeAccessList, tt.params))
			var got []string
			for _, e := range res["events"].([]any) {
				m := e.(map[string]any)
				got = append(got, m["card"].(string)+":"+m["reason"].(string))
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("list: %v, want %v", got, tt.want)
			}
			resp, body := ts.getWithCookie(AccessCSVPath+"?"+tt.query, admin)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("export: %d %s", resp.StatusCode, body)
			}
			rows := readCSV(t, body)
			got = nil
			for _, r := range rows[1:] {
				got = append(got, r[7]+":"+r[11])
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("export: %v, want %v", got, tt.want)
			}
		})
	}
	page := result(t, staff.request(TypeAccessList, map[string]any{"limit": 2}))
	if len(page["events"].([]any)) != 2 || page["next_before_id"] == float64(0) {
		t.Fatalf("first page %v", page)
	}
	rest := result(t, staff.request(TypeAccessList, map[string]any{"before_id": page["next_before_id"]}))
	if evs := rest["events"].([]any); len(evs) != 1 || evs[0].(map[string]any)["card"] != "A1" || rest["next_before_id"] != float64(0) {
		t.Fatalf("second page %v", rest)
	}
	for _, bad := range []map[string]any{{"from": "now"}, {"limit": -1}, {"granted": "yes"}, {"door": strings.Repeat("d", 65)}} {
		if res := staff.request(TypeAccessList, bad); errCode(res) != CodeInvalidParams {
			t.Errorf("list %v: %v, want invalid_params", bad, res)
		}
	}
}

// readCSV parses an export, checking its byte order mark.
func readCSV(t *testing.T, body string) [][]string {
	t.Helper()
	if !strings.HasPrefix(body, "\ufeff") {
		t.Fatalf("export has no byte order mark: %q", body)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestAccessCSV: the export has the documented columns, defuses cells
// against spreadsheet formulas, goes past building's page of 1000 rows,
// and is for admins and facilities staff only.
func TestAccessCSV(t *testing.T) {
	ts := newTestServer(t)
	ts.seedBuilding()
	ctx := context.Background()
	if _, err := ts.bld.CreateCardholder(ctx, building.CardholderInput{Cardholder: building.Cardholder{
		ID: "eve", Name: "=HYPERLINK(\"http://x\")", Cards: []string{"E1"}, AccessLevels: []string{"staff"}}}); err != nil {
		t.Fatal(err)
	}
	ts.swipe("r1", "E1")
	resp, body := ts.getWithCookie(AccessCSVPath, ts.login(auth.RoleFacilities))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="access-events.csv"` {
		t.Fatalf("export: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	rows := readCSV(t, body)
	if !slices.Equal(rows[0], accessCSVHeader) || strings.Join(accessCSVHeader, ", ") !=
		"id, time, door, door_name, controller, reader, direction, card, cardholder, cardholder_name, granted, reason" {
		t.Fatalf("header %v", rows[0])
	}
	if len(rows) != 2 {
		t.Fatalf("rows %v, want one event", rows)
	}
	r := rows[1]
	at := buildingEpoch.In(time.Local).Format(time.RFC3339)
	want := []string{r[0], at, "east", "East entrance", "c1", "r1", "in", "E1", "eve", `'=HYPERLINK("http://x")`, "true", "granted"}
	if !slices.Equal(r, want) || r[0] == "" {
		t.Fatalf("row %q, want %q", r, want)
	}

	// 1,204 more events, straight into the store: the export pages
	// through them, and limit cuts it.
	tx, err := ts.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1204 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO building_access_events (at, door, door_name, controller, reader, direction, card,
			cardholder, cardholder_name, granted, reason) VALUES (?, 'east', 'East entrance', 'c1', 'r1', 'in', 'A1', 'alice', 'Alice', 1, 'granted')`,
			buildingEpoch.Add(time.Duration(i+1)*time.Second).UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	admin := ts.login(auth.RoleAdmin)
	for _, tt := range []struct {
		query string
		rows  int
	}{{"", 1205}, {"?limit=1100", 1100}, {"?limit=3", 3}, {"?cardholder=eve", 1}} {
		resp, body := ts.getWithCookie(AccessCSVPath+tt.query, admin)
		rows := readCSV(t, body)
		if resp.StatusCode != http.StatusOK || len(rows)-1 != tt.rows {
			t.Fatalf("export %s: %d, %d rows, want %d", tt.query, resp.StatusCode, len(rows)-1, tt.rows)
		}
		seen := map[string]bool{}
		for _, r := range rows[1:] {
			if seen[r[0]] {
				t.Fatalf("export %s: event %s twice", tt.query, r[0])
			}
			seen[r[0]] = true
		}
	}

	for _, tt := range []struct {
		name, query, token string
		status             int
		code               string
	}{
		{"official", "", ts.login(auth.RoleOfficial), http.StatusForbidden, CodeNotAllowed},
		{"no session", "", "", http.StatusUnauthorized, CodeAuthFailed},
		{"bad granted", "?granted=maybe", admin, http.StatusBadRequest, CodeInvalidParams},
		{"bad limit", "?limit=0", admin, http.StatusBadRequest, CodeInvalidParams},
		{"too many", "?limit=100001", admin, http.StatusBadRequest, CodeInvalidParams},
		{"bad time", "?from=monday", admin, http.StatusBadRequest, CodeInvalidParams},
	} {
		resp, body := ts.getWithCookie(AccessCSVPath+tt.query, tt.token)
		if resp.StatusCode != tt.status || !strings.Contains(body, `"code":"`+tt.code+`"`) {
			t.Errorf("%s: %d %s, want %d %s", tt.name, resp.StatusCode, body, tt.status, tt.code)
		}
	}
}

// TestBuildingSnapshots: each building topic starts with the whole
// current state (building.access with none), for admins and facilities.
func TestBuildingSnapshots(t *testing.T) {
	ts := newTestServer(t)
	ts.seedBuilding()
	id := ts.forcedAlarm()
	if err := ts.bld.Lockdown(context.Background(), setupActor, building.Scope{Kind: "building", ID: "main"}, "drill"); err != nil {
		t.Fatal(err)
	}
	c := ts.connect(ts.login(auth.RoleAdmin))
	c.request(TypeSubscribe, map[string]any{"topics": []string{TopicBuildingDoors}})
	doors := eventData(c.nextEvent(kindSnapshot))
	var got []string
	for _, d := range doors["doors"].([]any) {
		m := d.(map[string]any)
		got = append(got, m["id"].(string)+":"+m["contact"].(string)+":"+boolWord(m["online"], "online")+":"+boolWord(m["lockdown"], "lockdown")+":"+boolWord(m["alarm"], "alarm"))
	}
	want := []string{"east::online:lockdown:", "gate:::lockdown:", "west:open:online:lockdown:alarm"}
	if !slices.Equal(got, want) {
		t.Fatalf("doors %v, want %v", got, want)
	}
	if l := doors["lockdowns"].([]any); len(l) != 1 || l[0].(map[string]any)["reason"] != "drill" {
		t.Fatalf("lockdowns %v", l)
	}

	c.request(TypeSubscribe, map[string]any{"topics": []string{TopicBuildingAlarms}})
	alarms := eventData(c.nextEvent(kindSnapshot))["alarms"].([]any)
	if len(alarms) != 1 || alarms[0].(map[string]any)["id"] != float64(id) {
		t.Fatalf("alarms %v, want alarm %d", alarms, id)
	}

	c.request(TypeSubscribe, map[string]any{"topics": []string{TopicBuildingControllers}})
	got = nil
	for _, x := range eventData(c.nextEvent(kindSnapshot))["controllers"].([]any) {
		m := x.(map[string]any)
		got = append(got, m["id"].(string)+":"+boolWord(m["online"], "online"))
	}
	if want := []string{"c1:online", "c2:"}; !slices.Equal(got, want) {
		t.Fatalf("controllers %v, want %v", got, want)
	}

	overview := result(t, c.request(TypeBuildingOverview, nil))
	for key, n := range map[string]int{"sites": 1, "buildings": 1, "floors": 2, "doors": 3, "lockdowns": 1, "controllers": 2, "alarms": 1, "placements": 0} {
		if got, _ := overview[key].([]any); len(got) != n {
			t.Errorf("overview %s: %v, want %d", key, overview[key], n)
		}
	}
}

func boolWord(v any, word string) string {
	if v == true {
		return word
	}
	return ""
}
