package building

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCommandsNeedRole(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.seed(t)
	e.heartbeat(t)
	commands := map[string]func(Actor) error{
		"unlock": func(a Actor) error { _, err := e.s.UnlockMomentary(ctx, a, "east", 5); return err },
		"unlock_until": func(a Actor) error {
			_, err := e.s.UnlockUntil(ctx, a, "east", e.clk.Now().Add(time.Hour))
			return err
		},
		"lock":             func(a Actor) error { _, err := e.s.Lock(ctx, a, "east"); return err },
		"lockdown":         func(a Actor) error { return e.s.Lockdown(ctx, a, Scope{ScopeBuilding, "main"}, "test") },
		"lockdown_release": func(a Actor) error { return e.s.ReleaseLockdown(ctx, a, Scope{ScopeBuilding, "main"}) },
	}
	for _, name := range sortedKeys(commands) {
		for _, a := range []Actor{official, {User: "", Role: "admin"}, {User: "x", Role: "guest"}} {
			wantErr(t, name+" by "+a.User+"/"+a.Role, commands[name](a), ErrNotAllowed)
		}
	}
	if sent := e.cmd.all(); len(sent) != 0 {
		t.Errorf("refused commands sent %+v", sent)
	}
	rows := e.auditRows(t, "building.")
	if len(rows) != 15 {
		t.Fatalf("%d audit rows, want 15", len(rows))
	}
	for _, r := range rows {
		if r.Result != "denied" {
			t.Errorf("audit %+v, want denied", r)
		}
	}
	if rows[0].User != "li" || rows[0].Role != "official" || rows[0].Source != "127.0.0.1" || !strings.Contains(rows[0].Detail, "official") {
		t.Errorf("first audit row %+v", rows[0])
	}
}

func TestUnlockAcknowledged(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.seed(t)
	e.heartbeat(t)
	id, err := e.s.UnlockMomentary(ctx, facilities, "east", 7)
	if err != nil {
		t.Fatal(err)
	}
	sent := e.cmd.last(t)
	want := Command{ID: id, Door: "east", Action: ActionUnlock, Seconds: 7, At: e.clk.Now()}
	if sent.controller != "c1" || sent.cmd != want {
		t.Errorf("sent %s %+v, want c1 %+v", sent.controller, sent.cmd, want)
	}
	if d, _ := e.bus.lastDoor("east"); d.LastCommand == nil || d.LastCommand.ID != id || d.LastCommand.State != CommandPending || d.LastCommand.By != "fang" {
		t.Errorf("door while pending: %+v", d.LastCommand)
	}
	e.clk.Advance(time.Second)
	if err := e.s.CommandAcked(ctx, Ack{Controller: "c1", CommandID: id, OK: true}); err != nil {
		t.Fatal(err)
	}
	if d, _ := e.bus.lastDoor("east"); d.LastCommand == nil || d.LastCommand.State != CommandOK {
		t.Errorf("door after the ack: %+v", d.LastCommand)
	}
	wantErr(t, "second ack", e.s.CommandAcked(ctx, Ack{Controller: "c1", CommandID: id, OK: true}), ErrNotFound)
	wantErr(t, "ack from a stranger", e.s.CommandAcked(ctx, Ack{Controller: "c9", CommandID: id, OK: true}), ErrNotFound)

	rows := e.auditRows(t, "building.")
	if len(rows) != 2 {
		t.Fatalf("audit rows %+v, want 2", rows)
	}
	if r := rows[0]; r.Action != "building.unlock" || r.Result != "ok" || r.User != "fang" || r.Target != "door:east" || !strings.Contains(r.Detail, "7 s") {
		t.Errorf("command audit %+v", r)
	}
	if r := rows[1]; r.Action != "building.command_result" || r.Result != "ok" || r.User != "fang" || !strings.Contains(r.Detail, "acknowledged") {
		t.Errorf("outcome audit %+v", r)
	}

	// The default duration is the door's unlock time.
	if _, err := e.s.UnlockMomentary(ctx, admin, "east", 0); err != nil {
		t.Fatal(err)
	}
	if c := e.cmd.last(t).cmd; c.Seconds != 5 {
		t.Errorf("default unlock %d s, want 5", c.Seconds)
	}
	_, err = e.s.UnlockMomentary(ctx, admin, "east", 1000)
	wantErr(t, "1000 s", err, ErrInvalid)
	_, err = e.s.UnlockMomentary(ctx, admin, "nowhere", 5)
	wantErr(t, "unknown door", err, ErrNotFound)
	_, err = e.s.UnlockUntil(ctx, admin, "east", e.clk.Now().Add(-time.Minute))
	wantErr(t, "until in the past", err, ErrInvalid)
	_, err = e.s.UnlockUntil(ctx, admin, "east", e.clk.Now().Add(25*time.Hour))
	wantErr(t, "until too far", err, ErrInvalid)
}

func TestCommandRefusedByController(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.seed(t)
	e.heartbeat(t)
	id, err := e.s.Lock(ctx, admin, "west")
	if err != nil {
		t.Fatal(err)
	}
	if c := e.cmd.last(t).cmd; c.Action != ActionLock || c.Door != "west" {
		t.Errorf("sent %+v", c)
	}
	if err := e.s.CommandAcked(ctx, Ack{Controller: "c1", CommandID: id, OK: false, Error: "bolt jammed"}); err != nil {
		t.Fatal(err)
	}
	d, _ := e.bus.lastDoor("west")
	if d.LastCommand == nil || d.LastCommand.State != CommandFailed || !strings.Contains(d.LastCommand.Error, "bolt jammed") {
		t.Errorf("door %+v", d.LastCommand)
	}
	rows := e.auditRows(t, "building.command_result")
	if len(rows) != 1 || rows[0].Result != "failed" || !strings.Contains(rows[0].Detail, "bolt jammed") {
		t.Errorf("outcome audit %+v", rows)
	}
}

func TestCommandAckTimeout(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.seed(t)
	e.heartbeat(t)
	e.settle(t)
	e.report(t, DoorReport{Door: "east", Lock: LockLocked, Contact: ContactClosed})
	id, err := e.s.UnlockMomentary(ctx, admin, "east", 5)
	if err != nil {
		t.Fatal(err)
	}
	e.tick(4 * time.Second)
	if n := len(e.auditRows(t, "building.command_result")); n != 0 {
		t.Fatalf("an outcome after 4 s: %d rows", n)
	}
	e.tick(time.Second)
	rows := e.auditRows(t, "building.command_result")
	if len(rows) != 1 || rows[0].Result != "failed" || rows[0].User != "root" || !strings.Contains(rows[0].Detail, "no acknowledgement within 5s") {
		t.Fatalf("outcome audit %+v", rows)
	}
	if d, _ := e.bus.lastDoor("east"); d.LastCommand == nil || d.LastCommand.ID != id || d.LastCommand.State != CommandFailed {
		t.Errorf("door %+v", d.LastCommand)
	}
	wantErr(t, "late ack", e.s.CommandAcked(ctx, Ack{Controller: "c1", CommandID: id, OK: true}), ErrNotFound)
	// The unlock window went with the failed command: opening now is
	// forced.
	e.report(t, DoorReport{Door: "east", Contact: ContactOpen})
	if !e.hasOpen(AlarmForcedOpen) {
		t.Error("no forced-open alarm after a failed unlock")
	}
}

func TestCommandNotSent(t *testing.T) {
	ctx := context.Background()
	t.Run("offline controller", func(t *testing.T) {
		e := newEnv(t)
		e.seed(t)
		_, err := e.s.UnlockMomentary(ctx, admin, "east", 5)
		wantErr(t, "unlock", err, ErrUnavailable)
		if rows := e.auditRows(t, "building.unlock"); len(rows) != 1 || rows[0].Result != "failed" {
			t.Errorf("audit %+v", rows)
		}
	})
	t.Run("transport error", func(t *testing.T) {
		e := newEnv(t)
		e.seed(t)
		e.heartbeat(t)
		e.cmd.err = errors.New("broker gone")
		_, err := e.s.UnlockMomentary(ctx, admin, "east", 5)
		if err == nil || !strings.Contains(err.Error(), "broker gone") {
			t.Fatalf("error %v", err)
		}
		if d, _ := e.bus.lastDoor("east"); d.LastCommand == nil || d.LastCommand.State != CommandFailed {
			t.Errorf("door %+v", d.LastCommand)
		}
		if rows := e.auditRows(t, "building.command_result"); len(rows) != 1 || rows[0].Result != "failed" {
			t.Errorf("audit %+v", rows)
		}
	})
	t.Run("no transport", func(t *testing.T) {
		e := newEnv(t)
		e.seed(t)
		e.heartbeat(t)
		e.s.SetCommander(nil)
		_, err := e.s.UnlockMomentary(ctx, admin, "east", 5)
		wantErr(t, "unlock", err, ErrUnavailable)
		e.s.SetCommander(e.cmd)
		if _, err := e.s.UnlockMomentary(ctx, admin, "east", 5); err != nil || len(e.cmd.all()) != 1 {
			t.Errorf("after SetCommander: %v, sent %d", err, len(e.cmd.all()))
		}
	})
}

func TestLockdown(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.seed(t)
	e.heartbeat(t)
	main, f1 := Scope{ScopeBuilding, "main"}, Scope{ScopeFloor, "f1"}
	wantErr(t, "no reason", e.s.Lockdown(ctx, facilities, main, " "), ErrInvalid)
	wantErr(t, "unknown building", e.s.Lockdown(ctx, facilities, Scope{ScopeBuilding, "annex"}, "drill"), ErrNotFound)
	wantErr(t, "bad scope", e.s.Lockdown(ctx, facilities, Scope{"site", "hq"}, "drill"), ErrNotFound)
	if err := e.s.Lockdown(ctx, facilities, main, "intruder reported"); err != nil {
		t.Fatal(err)
	}
	modes := func(from int) map[string]string {
		out := map[string]string{}
		for _, c := range e.cmd.all()[from:] {
			if c.cmd.Action != ActionMode {
				t.Errorf("lockdown sent %+v", c.cmd)
			}
			out[c.cmd.Door] = c.cmd.Mode
		}
		return out
	}
	want := map[string]string{"east": ModeLockedDown, "lab": ModeLockedDown, "west": ModeLockedDown}
	if got := modes(0); !mapsEqual(got, want) {
		t.Errorf("lockdown commands %v, want %v", got, want)
	}
	if l := e.s.Lockdowns(); len(l) != 1 || l[0].Scope != main || l[0].Reason != "intruder reported" || l[0].StartedBy != "fang" {
		t.Errorf("lockdowns %+v", l)
	}
	for _, d := range e.s.Doors() {
		if !d.Lockdown {
			t.Errorf("door %s not in lockdown", d.ID)
		}
	}
	wantErr(t, "again", e.s.Lockdown(ctx, admin, main, "again"), ErrConflict)
	_, err := e.s.UnlockMomentary(ctx, admin, "east", 5)
	wantErr(t, "unlock in lockdown", err, ErrConflict)
	if _, err := e.s.Lock(ctx, admin, "east"); err != nil {
		t.Errorf("lock in lockdown: %v", err)
	}
	if err := e.s.Lockdown(ctx, admin, f1, "second alarm"); err != nil {
		t.Fatal(err)
	}

	// After a restart the lockdowns still hold.
	s2 := e.reopen(t)
	if got := len(s2.Lockdowns()); got != 2 {
		t.Errorf("%d lockdowns after restart, want 2", got)
	}

	n := len(e.cmd.all())
	if err := e.s.ReleaseLockdown(ctx, admin, main); err != nil {
		t.Fatal(err)
	}
	if got := modes(n); !mapsEqual(got, map[string]string{"west": ModeControlled}) {
		t.Errorf("release of main sent %v; the floor f1 lockdown still holds east and lab", got)
	}
	if d, _ := e.swipe("r1", "A1", ""); d.Reason != ReasonLockdown {
		t.Errorf("east after releasing only the building: %+v", d)
	}
	n = len(e.cmd.all())
	if err := e.s.ReleaseLockdown(ctx, admin, f1); err != nil {
		t.Fatal(err)
	}
	if got := modes(n); !mapsEqual(got, map[string]string{"east": ModeControlled, "lab": ModeControlled}) {
		t.Errorf("release of f1 sent %v", got)
	}
	wantErr(t, "release twice", e.s.ReleaseLockdown(ctx, admin, f1), ErrNotFound)
	if d, _ := e.swipe("r1", "A1", ""); !d.Granted {
		t.Errorf("east after the release: %+v", d)
	}
	wantKinds := []string{KindLockdownStarted, KindLockdownStarted, KindLockdownReleased, KindLockdownReleased}
	var got []string
	for _, k := range e.bus.kinds(TopicDoors) {
		if strings.HasPrefix(k, "building.lockdown") {
			got = append(got, k)
		}
	}
	if !slices.Equal(got, wantKinds) {
		t.Errorf("lockdown events %v, want %v", got, wantKinds)
	}
	var audited []string
	for _, r := range e.auditRows(t, "building.lockdown") {
		audited = append(audited, r.Action+" "+r.Result+" "+r.Target)
	}
	wantAudit := []string{
		"building.lockdown failed building:main", "building.lockdown failed building:annex", "building.lockdown failed site:hq",
		"building.lockdown ok building:main", "building.lockdown failed building:main", "building.lockdown ok floor:f1",
		"building.lockdown_release ok building:main", "building.lockdown_release ok floor:f1", "building.lockdown_release failed floor:f1",
	}
	if !slices.Equal(audited, wantAudit) {
		t.Errorf("audit\n%s\nwant\n%s", strings.Join(audited, "\n"), strings.Join(wantAudit, "\n"))
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestUnlockedOnSchedule(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.seed(t)
	e.heartbeat(t)
	e.settle(t)
	d := e.s.ListDoors()[2] // west
	d.Mode, d.Schedule = ModeUnlocked, "office"
	if _, err := e.s.UpdateDoor(ctx, "west", d); err != nil {
		t.Fatal(err)
	}
	if c := e.cmd.last(t).cmd; c.Action != ActionMode || c.Mode != ModeUnlocked || c.Door != "west" {
		t.Errorf("mode change sent %+v", c)
	}
	e.clk.Advance(time.Second)
	e.settle(t)
	c := e.cmd.last(t).cmd
	if c.Action != ActionUnlock || c.Door != "west" || !c.Until.Equal(at(18, 0)) {
		t.Errorf("at 10:00 sent %+v, want unlock until 18:00 Shanghai", c)
	}
	n := len(e.cmd.all())
	e.clk.Set(at(12, 0))
	e.heartbeat(t)
	e.tick(0)
	if len(e.cmd.all()) != n {
		t.Errorf("sent again within the window: %+v", e.cmd.all()[n:])
	}
	e.clk.Set(at(18, 0))
	e.heartbeat(t)
	e.tick(0)
	if c := e.cmd.last(t).cmd; len(e.cmd.all()) != n+1 || c.Action != ActionLock || c.Door != "west" {
		t.Errorf("at 18:00 sent %+v, want one lock", e.cmd.all()[n:])
	}
}

func TestResyncAfterReconnect(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.seed(t)
	// The controller is away when the lockdown starts: its mode commands
	// fail.
	if err := e.s.Lockdown(ctx, admin, Scope{ScopeFloor, "f2"}, "drill"); err != nil {
		t.Fatal(err)
	}
	e.tick(6 * time.Second)
	n := len(e.cmd.all())
	e.heartbeat(t)
	e.tick(0)
	got := map[string]string{}
	for _, c := range e.cmd.all()[n:] {
		got[c.cmd.Door] = c.cmd.Action + " " + c.cmd.Mode
	}
	want := map[string]string{"east": "mode controlled", "lab": "mode controlled", "west": "mode locked_down"}
	if !mapsEqual(got, want) {
		t.Errorf("after reconnecting sent %v, want %v", got, want)
	}
	e.tick(0)
	if len(e.cmd.all()) != n+3 {
		t.Errorf("resent on the next tick: %+v", e.cmd.all()[n+3:])
	}
}

func TestWindowEnd(t *testing.T) {
	allDay := func(days ...string) Schedule {
		sc := Schedule{ID: "s", Name: "s"}
		for _, d := range days {
			sc.Windows = append(sc.Windows, Window{Day: d, Start: "00:00", End: "24:00"})
		}
		return sc
	}
	tests := []struct {
		name     string
		schedule Schedule
		now      time.Time
		want     time.Time
	}{
		{"one window", Schedule{ID: "s", Name: "s", Windows: []Window{{"wed", "08:00", "12:00"}}}, at(9, 30), at(12, 0)},
		{"windows that meet", Schedule{ID: "s", Name: "s", Windows: []Window{{"wed", "08:00", "12:00"}, {"wed", "12:00", "13:30"}}}, at(9, 0), at(13, 30)},
		{"across midnight", allDay("wed", "thu"), at(9, 0), at(0, 0).AddDate(0, 0, 2)},
		{"closed now", Schedule{ID: "s", Name: "s", Windows: []Window{{"wed", "08:00", "09:00"}}}, at(10, 0), at(10, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := tt.schedule.normalize()
			if err != nil {
				t.Fatal(err)
			}
			m := &model{schedules: map[string]*schedule{"s": {Schedule: sc}}, holidays: map[string]Holiday{}}
			for _, w := range sc.Windows {
				day, _ := parseDay(w.Day)
				start, _ := parseClock(w.Start)
				end, _ := parseClock(w.End)
				m.schedules["s"].days[day] = append(m.schedules["s"].days[day], span{start, end})
			}
			if got := m.windowEnd("s", tt.now); !got.Equal(tt.want) {
				t.Errorf("windowEnd = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDoorStation(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.seed(t)
	d := e.s.ListDoors()[0] // east
	d.StationExtension, d.StationDigit = "2001", "#"
	if _, err := e.s.UpdateDoor(ctx, "east", d); err != nil {
		t.Fatal(err)
	}
	if door, digit, ok := e.s.DoorForStation("2001"); !ok || door != "east" || digit != "#" {
		t.Errorf("DoorForStation(2001) = %q, %q, %v", door, digit, ok)
	}
	if _, _, ok := e.s.DoorForStation("2002"); ok {
		t.Error("DoorForStation(2002) found a door")
	}
	w := e.s.ListDoors()[2]
	w.StationExtension, w.StationDigit = "2001", "5"
	_, err := e.s.UpdateDoor(ctx, "west", w)
	wantErr(t, "station taken", err, ErrConflict)
	w.StationDigit = ""
	_, err = e.s.UpdateDoor(ctx, "west", w)
	wantErr(t, "extension without digit", err, ErrInvalid)
	w.StationExtension, w.StationDigit = "12a", "5"
	_, err = e.s.UpdateDoor(ctx, "west", w)
	wantErr(t, "bad extension", err, ErrInvalid)

	// The door station unlocks as the answering extension's user.
	e.heartbeat(t)
	station := Actor{User: "fang", Role: "facilities", Source: "sip:1001"}
	if _, err := e.s.UnlockMomentary(ctx, station, "east", 0); err != nil {
		t.Fatal(err)
	}
	if rows := e.auditRows(t, "building.unlock"); len(rows) != 1 || rows[0].Source != "sip:1001" {
		t.Errorf("audit %+v", rows)
	}
}

func TestRunAndShutdown(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.TickInterval = time.Millisecond })
	e.seed(t)
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- e.s.Run(ctx) }()
	// Run's own ticks time the command out: its clock has moved on.
	e.heartbeat(t)
	if _, err := e.s.UnlockMomentary(ctx, admin, "east", 5); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(6 * time.Second)
	deadline := time.After(5 * time.Second)
	for len(e.auditRows(t, "building.command_result")) == 0 {
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		case <-deadline:
			t.Fatal("Run did not time the command out within 5 s")
		case <-time.After(time.Millisecond): // polls Run, a real goroutine
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := e.s.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if err := e.s.Run(ctx); err == nil {
		t.Error("a second Run did not fail")
	}
}
