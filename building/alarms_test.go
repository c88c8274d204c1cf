package building

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestForcedOpen(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		before    func(*testing.T, *testEnv)
		wantAlarm bool
	}{
		{"no grant", nil, true},
		{"after a grant", func(t *testing.T, e *testEnv) {
			if d, _ := e.swipe("r1", "A1", ""); !d.Granted {
				t.Fatal("not granted")
			}
			e.clk.Advance(3 * time.Second)
		}, false},
		{"after the grant ran out", func(t *testing.T, e *testEnv) {
			if d, _ := e.swipe("r1", "A1", ""); !d.Granted {
				t.Fatal("not granted")
			}
			e.clk.Advance(8 * time.Second) // 5 s unlock + 2 s grace
		}, true},
		{"after a denial", func(t *testing.T, e *testEnv) {
			if d, _ := e.swipe("r1", "B1", ""); d.Granted {
				t.Fatal("granted")
			}
		}, true},
		{"after request to exit", func(t *testing.T, e *testEnv) {
			e.report(t, DoorReport{Door: "east", RequestToExit: true})
		}, false},
		{"after a remote unlock", func(t *testing.T, e *testEnv) {
			if _, err := e.s.UnlockMomentary(ctx, facilities, "east", 10); err != nil {
				t.Fatal(err)
			}
			e.clk.Advance(9 * time.Second)
		}, false},
		{"while the lock reports unlocked", func(t *testing.T, e *testEnv) {
			e.report(t, DoorReport{Door: "east", Lock: LockUnlocked})
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.seed(t)
			e.heartbeat(t)
			e.report(t, DoorReport{Door: "east", Lock: LockLocked, Contact: ContactClosed})
			if tt.before != nil {
				tt.before(t, e)
			}
			e.report(t, DoorReport{Door: "east", Contact: ContactOpen})
			if got := e.hasOpen(AlarmForcedOpen); got != tt.wantAlarm {
				t.Fatalf("forced-open alarm open: %v, want %v", got, tt.wantAlarm)
			}
			if !tt.wantAlarm {
				return
			}
			a := e.openAlarm(t, AlarmForcedOpen)
			if a.Severity != SeverityCritical || a.State != AlarmNew || a.Door != "east" || a.Floor != "f1" || a.Building != "main" ||
				!slices.Equal(a.Cameras, []string{"cam-east"}) || a.Count != 1 || a.Message == "" {
				t.Errorf("alarm %+v", a)
			}
			if evs := e.bus.alarmEvents(AlarmForcedOpen); len(evs) != 1 || evs[0].Kind != KindAlarmRaised || evs[0].Alarm.ID != a.ID {
				t.Errorf("alarm events %+v", evs)
			}
			if d, _ := e.bus.lastDoor("east"); !d.Alarm || d.Contact != ContactOpen {
				t.Errorf("door state %+v, want open with an alarm", d)
			}
			// Closing the door does not end a forced-open alarm: staff do.
			e.report(t, DoorReport{Door: "east", Contact: ContactClosed})
			if !e.hasOpen(AlarmForcedOpen) {
				t.Error("the forced-open alarm resolved itself when the door closed")
			}
		})
	}
}

func TestHeldOpen(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	e.heartbeat(t)
	e.report(t, DoorReport{Door: "east", Lock: LockLocked, Contact: ContactClosed})
	if d, _ := e.swipe("r1", "A1", ""); !d.Granted {
		t.Fatal("not granted")
	}
	e.report(t, DoorReport{Door: "east", Lock: LockUnlocked, Contact: ContactOpen})
	e.report(t, DoorReport{Door: "east", Lock: LockLocked})
	e.tick(19 * time.Second) // east's held-open time is 20 s
	if e.hasOpen(AlarmHeldOpen) {
		t.Fatal("held-open alarm before the held-open time")
	}
	e.tick(time.Second)
	a := e.openAlarm(t, AlarmHeldOpen)
	if a.Severity != SeverityMajor || a.Door != "east" {
		t.Errorf("alarm %+v", a)
	}
	e.tick(time.Minute)
	if evs := e.bus.alarmEvents(AlarmHeldOpen); len(evs) != 1 {
		t.Errorf("held-open events while still open: %d, want 1", len(evs))
	}
	if e.hasOpen(AlarmForcedOpen) {
		t.Error("a granted opening raised a forced-open alarm")
	}

	e.report(t, DoorReport{Door: "east", Contact: ContactClosed})
	if e.hasOpen(AlarmHeldOpen) {
		t.Fatal("held-open alarm still open after the door closed")
	}
	evs := e.bus.alarmEvents(AlarmHeldOpen)
	last := evs[len(evs)-1]
	if last.Kind != KindAlarmResolved || last.Alarm.State != AlarmResolved || last.Alarm.ResolvedBy != "" || last.Alarm.ResolveComment != "the door closed" {
		t.Errorf("last held-open event %s %+v", last.Kind, last.Alarm)
	}
	hist, err := e.s.AlarmHistory(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, h := range hist {
		actions = append(actions, h.Action+"/"+h.State)
	}
	if want := []string{"raised/new", "resolved/resolved"}; !slices.Equal(actions, want) {
		t.Errorf("history %v, want %v", actions, want)
	}
	if d, _ := e.bus.lastDoor("east"); d.Alarm {
		t.Error("the door still shows an alarm")
	}
}

func TestHeldOpenWhileUnlockedUntil(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.seed(t)
	e.heartbeat(t)
	until := e.clk.Now().Add(10 * time.Minute)
	id, err := e.s.UnlockUntil(ctx, admin, "east", until)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.CommandAcked(ctx, Ack{Controller: "c1", CommandID: id, OK: true}); err != nil {
		t.Fatal(err)
	}
	e.report(t, DoorReport{Door: "east", Lock: LockUnlocked, Contact: ContactOpen})
	for range 27 {
		e.tick(20 * time.Second)
		e.heartbeat(t)
	}
	if e.hasOpen(AlarmHeldOpen) || e.hasOpen(AlarmForcedOpen) {
		t.Fatalf("alarms while unlocked until %v: %+v", until, e.s.Alarms())
	}
	n := len(e.cmd.all())
	e.tick(time.Minute) // until has passed: civicd locks the door
	e.heartbeat(t)
	if c := e.cmd.last(t); len(e.cmd.all()) != n+1 || c.cmd.Action != ActionLock || c.cmd.Door != "east" {
		t.Errorf("after until: commands %+v, want one lock", e.cmd.all()[n:])
	}
	e.tick(19 * time.Second)
	if e.hasOpen(AlarmHeldOpen) {
		t.Fatal("held open counted from before the unlock ended")
	}
	e.tick(time.Second)
	e.openAlarm(t, AlarmHeldOpen)
}

func TestTamper(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	yes, no := true, false
	e.report(t, DoorReport{Door: "west", Tamper: &yes})
	a := e.openAlarm(t, AlarmTamper)
	if a.Severity != SeverityCritical || a.Door != "west" || a.Floor != "f2" {
		t.Errorf("alarm %+v", a)
	}
	e.report(t, DoorReport{Door: "west", Tamper: &yes}) // unchanged: nothing new
	if n := len(e.bus.alarmEvents(AlarmTamper)); n != 1 {
		t.Errorf("%d tamper events, want 1", n)
	}
	e.report(t, DoorReport{Door: "west", Tamper: &no})
	if e.hasOpen(AlarmTamper) {
		t.Error("tamper alarm still open after the switch cleared")
	}
}

func TestControllerOffline(t *testing.T) {
	e := newEnv(t) // c1 beats every 10 s; 3 missed make it offline
	e.seed(t)
	e.heartbeat(t)
	if c := e.s.Controllers()[0]; !c.Online || !c.LastSeen.Equal(e.clk.Now()) {
		t.Fatalf("controller after a heartbeat: %+v", c)
	}
	// One lost heartbeat (20 s of silence) raises nothing.
	e.tick(10 * time.Second)
	e.tick(10 * time.Second)
	if e.hasOpen(AlarmControllerOffline) || !e.s.Controllers()[0].Online {
		t.Fatal("offline after a single missed heartbeat")
	}
	e.heartbeat(t)
	e.tick(29 * time.Second)
	if e.hasOpen(AlarmControllerOffline) {
		t.Fatal("offline before three intervals")
	}
	e.tick(time.Second)
	a := e.openAlarm(t, AlarmControllerOffline)
	if a.Controller != "c1" || a.Severity != SeverityMajor || a.Door != "" {
		t.Errorf("alarm %+v", a)
	}
	if c := e.s.Controllers()[0]; c.Online {
		t.Error("controller still online")
	}
	for _, d := range e.s.Doors() {
		if d.Online {
			t.Errorf("door %s of an offline controller shows online", d.ID)
		}
	}
	e.tick(time.Minute)
	if n := len(e.bus.alarmEvents(AlarmControllerOffline)); n != 1 {
		t.Errorf("%d offline alarm events while offline, want 1", n)
	}

	e.heartbeat(t)
	if e.hasOpen(AlarmControllerOffline) {
		t.Fatal("offline alarm still open after the controller came back")
	}
	evs := e.bus.alarmEvents(AlarmControllerOffline)
	if last := evs[len(evs)-1]; last.Kind != KindAlarmResolved || last.Alarm.ResolvedBy != "" {
		t.Errorf("last offline event %s %+v", last.Kind, last.Alarm)
	}
	want := []string{KindControllerChanged, KindControllerOnline, KindControllerOffline, KindControllerOnline}
	if got := e.bus.kinds(TopicControllers); !slices.Equal(got, want) {
		t.Errorf("controller events %v, want %v", got, want)
	}
	if d, _ := e.bus.lastDoor("east"); !d.Online {
		t.Error("door not back online")
	}
}

func TestControllerNeverConnected(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	e.tick(29 * time.Second)
	if e.hasOpen(AlarmControllerOffline) {
		t.Fatal("alarm too early")
	}
	e.tick(time.Second)
	if a := e.openAlarm(t, AlarmControllerOffline); !strings.Contains(a.Message, "not connected") {
		t.Errorf("message %q", a.Message)
	}
}

func TestRepeatedDenials(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	deny := func(n int, gap time.Duration) {
		for range n {
			if d, err := e.swipe("r1", "BAD1", ""); err != nil || d.Granted {
				t.Fatalf("swipe: %+v, %v", d, err)
			}
			e.clk.Advance(gap)
		}
	}
	deny(4, 10*time.Second)
	e.clk.Advance(30 * time.Second) // the first denial is now over a minute old
	deny(1, 0)
	if e.hasOpen(AlarmRepeatedDenials) {
		t.Fatal("alarm for denials spread over more than a minute")
	}
	deny(1, 0) // five within the last minute
	a := e.openAlarm(t, AlarmRepeatedDenials)
	if a.Severity != SeverityMinor || a.Reader != "r1" || a.Controller != "c1" || a.Door != "east" || a.Count != 1 {
		t.Errorf("alarm %+v", a)
	}
	deny(4, time.Second)
	if e.openAlarm(t, AlarmRepeatedDenials).Count != 1 {
		t.Error("counted again before another burst")
	}
	deny(1, 0)
	if got := e.openAlarm(t, AlarmRepeatedDenials); got.Count != 2 || got.ID != a.ID {
		t.Errorf("after a second burst: %+v, want the same alarm with count 2", got)
	}
	evs := e.bus.alarmEvents(AlarmRepeatedDenials)
	if len(evs) != 2 || evs[1].Kind != KindAlarmRepeated {
		t.Errorf("events %+v", evs)
	}
}

func TestAlarmAcknowledgeAndResolve(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.seed(t)
	e.report(t, DoorReport{Door: "east", Contact: ContactClosed})
	e.report(t, DoorReport{Door: "east", Contact: ContactOpen})
	id := e.openAlarm(t, AlarmForcedOpen).ID

	_, err := e.s.Acknowledge(ctx, official, id, "seen")
	wantErr(t, "official acknowledges", err, ErrNotAllowed)
	_, err = e.s.Acknowledge(ctx, facilities, id, "  ")
	wantErr(t, "no comment", err, ErrInvalid)
	if e.openAlarm(t, AlarmForcedOpen).State != AlarmNew {
		t.Fatal("a refused acknowledgement changed the alarm")
	}
	a, err := e.s.Acknowledge(ctx, facilities, id, " Checked the camera: a courier ")
	if err != nil {
		t.Fatal(err)
	}
	if a.State != AlarmAcknowledged || a.AckedBy != "fang" || a.AckComment != "Checked the camera: a courier" || !a.AckedAt.Equal(e.clk.Now()) {
		t.Errorf("acknowledged %+v", a)
	}
	_, err = e.s.Acknowledge(ctx, admin, id, "again")
	wantErr(t, "second acknowledgement", err, ErrConflict)

	e.clk.Advance(time.Minute)
	_, err = e.s.Resolve(ctx, facilities, id, "")
	wantErr(t, "resolve without comment", err, ErrInvalid)
	a, err = e.s.Resolve(ctx, admin, id, "door closed, courier escorted")
	if err != nil {
		t.Fatal(err)
	}
	if a.State != AlarmResolved || a.ResolvedBy != "root" || a.AckedBy != "fang" {
		t.Errorf("resolved %+v", a)
	}
	if e.hasOpen(AlarmForcedOpen) {
		t.Error("resolved alarm still open")
	}
	_, err = e.s.Resolve(ctx, admin, id, "again")
	wantErr(t, "resolve twice", err, ErrConflict)
	_, err = e.s.Acknowledge(ctx, admin, 999, "x")
	wantErr(t, "unknown alarm", err, ErrNotFound)

	evs := e.bus.alarmEvents(AlarmForcedOpen)
	var kinds []string
	for _, ev := range evs {
		kinds = append(kinds, ev.Kind)
	}
	if want := []string{KindAlarmRaised, KindAlarmAcknowledged, KindAlarmResolved}; !slices.Equal(kinds, want) {
		t.Errorf("events %v, want %v", kinds, want)
	}
	hist, err := e.s.AlarmHistory(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hist {
		got = append(got, h.Action+"/"+h.User+"/"+h.Comment)
	}
	want := []string{"raised//" + hist[0].Comment, "acknowledged/fang/Checked the camera: a courier", "resolved/root/door closed, courier escorted"}
	if !slices.Equal(got, want) {
		t.Errorf("history %q, want %q", got, want)
	}

	rows := e.auditRows(t, "building.alarm_")
	var audited []string
	for _, r := range rows {
		audited = append(audited, r.User+" "+r.Action+" "+r.Result+" "+r.Target)
	}
	wantAudit := []string{
		"li building.alarm_acknowledge denied alarm:1",
		"fang building.alarm_acknowledge failed alarm:1", // no comment
		"fang building.alarm_acknowledge ok alarm:1",
		"root building.alarm_acknowledge failed alarm:1",
		"fang building.alarm_resolve failed alarm:1", // no comment
		"root building.alarm_resolve ok alarm:1",
		"root building.alarm_resolve failed alarm:1",
		"root building.alarm_acknowledge failed alarm:999",
	}
	if !slices.Equal(audited, wantAudit) {
		t.Errorf("audit\n%s\nwant\n%s", strings.Join(audited, "\n"), strings.Join(wantAudit, "\n"))
	}
	if !strings.Contains(rows[2].Detail, "a courier") || !strings.Contains(rows[5].Detail, "escorted") {
		t.Errorf("audit details %q, %q lack the comments", rows[2].Detail, rows[5].Detail)
	}

	resolved, _, err := e.s.ListAlarms(ctx, AlarmFilter{State: AlarmResolved})
	if err != nil || len(resolved) != 1 || resolved[0].ID != id || resolved[0].Floor != "f1" {
		t.Errorf("resolved alarms %+v, %v", resolved, err)
	}
}

func TestOpenAlarmsSurviveRestart(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	yes := true
	e.report(t, DoorReport{Door: "east", Tamper: &yes})
	before := e.openAlarm(t, AlarmTamper)

	s2 := e.reopen(t)
	after := s2.Alarms()
	if len(after) != 1 || after[0].ID != before.ID || after[0].Kind != AlarmTamper || after[0].Floor != "f1" ||
		!slices.Equal(after[0].Cameras, []string{"cam-east"}) {
		t.Fatalf("after restart: %+v, want %+v", after, before)
	}
	found := false
	for _, d := range s2.Doors() {
		found = found || d.ID == "east" && d.Alarm
	}
	if !found {
		t.Error("door east shows no alarm after restart")
	}
	// The first report after the restart clears it; and a door first
	// seen open is not taken as forced (it may have opened rightly while
	// civicd was away).
	no := false
	r := DoorReport{Controller: "c1", Door: "east", Tamper: &no, Contact: ContactOpen, MsgID: "after-restart", At: e.clk.Now()}
	if err := s2.DoorState(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if open := s2.Alarms(); len(open) != 0 {
		t.Errorf("open alarms after the report: %+v", open)
	}
}

// TestCameraAlarm: a camera's offline alarm joins the doors' queue with
// the camera as its live view, counts a repeat, survives a restart, and
// resolves by itself when the camera is back.
func TestCameraAlarm(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	if err := e.s.CameraAlarm("cam-east", AlarmForcedOpen, true, "x"); err == nil {
		t.Fatal("a door alarm kind was taken as a camera alarm")
	}
	for range 2 {
		if err := e.s.CameraAlarm("cam-east", AlarmCameraOffline, true, "no video from camera East entrance: unreachable"); err != nil {
			t.Fatal(err)
		}
	}
	a := e.openAlarm(t, AlarmCameraOffline)
	if a.Camera != "cam-east" || !slices.Equal(a.Cameras, []string{"cam-east"}) || a.Count != 2 || a.Severity != SeverityMajor || a.Door != "" {
		t.Fatalf("alarm %+v", a)
	}
	s2 := e.reopen(t)
	after := s2.Alarms()
	if len(after) != 1 || after[0].ID != a.ID || after[0].Camera != "cam-east" || !slices.Equal(after[0].Cameras, []string{"cam-east"}) {
		t.Fatalf("after restart: %+v", after)
	}
	if err := s2.CameraAlarm("cam-east", AlarmCameraOffline, false, "the camera is back"); err != nil {
		t.Fatal(err)
	}
	if open := s2.Alarms(); len(open) != 0 {
		t.Fatalf("open alarms after the camera came back: %+v", open)
	}
	if err := s2.CameraAlarm("cam-east", AlarmCameraOffline, false, "again"); err != nil {
		t.Fatal(err)
	}
}
