package building

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// at returns a Shanghai wall-clock time on the day of wednesday10.
func at(hour, minute int) time.Time {
	return time.Date(2026, 3, 4, hour, minute, 0, 0, shanghai)
}

func TestSwipeDecisions(t *testing.T) {
	ctx := context.Background()
	lockdown := func(sc Scope) func(*testing.T, *testEnv) {
		return func(t *testing.T, e *testEnv) {
			e.heartbeat(t)
			if err := e.s.Lockdown(ctx, facilities, sc, "drill"); err != nil {
				t.Fatal(err)
			}
		}
	}
	clockAt := func(tm time.Time) func(*testing.T, *testEnv) {
		return func(t *testing.T, e *testEnv) { e.clk.Set(tm) }
	}
	holiday := func(tm time.Time) func(*testing.T, *testEnv) {
		return func(t *testing.T, e *testEnv) {
			if _, err := e.s.SetHoliday(ctx, Holiday{Date: "2026-03-04", Name: "Test day"}); err != nil {
				t.Fatal(err)
			}
			e.clk.Set(tm)
		}
	}
	passback := func(first string) func(*testing.T, *testEnv) {
		return func(t *testing.T, e *testEnv) {
			if _, err := e.s.UpdateSite(ctx, "hq", Site{Name: "Headquarters", TimeZone: "Asia/Shanghai", AntiPassback: true}); err != nil {
				t.Fatal(err)
			}
			if d, err := e.swipe(first, "A1", ""); err != nil || !d.Granted {
				t.Fatalf("first swipe: %+v, %v", d, err)
			}
		}
	}
	doorMode := func(t *testing.T, e *testEnv) {
		d := e.s.ListDoors()[0] // east
		d.Mode = ModeLockedDown
		if _, err := e.s.UpdateDoor(ctx, "east", d); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name        string
		setup       func(*testing.T, *testEnv)
		controller  string // default c1
		reader      string
		card, pin   string
		msgID       string        // default: a fresh one
		age         time.Duration // how old the message is
		wantGranted bool
		wantReason  string
		wantErr     error
	}{
		{name: "valid card", reader: "r1", card: "A1", wantGranted: true, wantReason: ReasonGranted},
		{name: "card number as read", reader: "r1", card: " a1 ", wantGranted: true, wantReason: ReasonGranted},
		{name: "card number with separators", reader: "r1", card: "a:1", wantGranted: true, wantReason: ReasonGranted},
		{name: "unknown card", reader: "r1", card: "ZZ99", wantReason: ReasonUnknownCard},
		{name: "disabled card", reader: "r1", card: "B1", wantReason: ReasonDisabled},
		{name: "expired card", reader: "r1", card: "C1", wantReason: ReasonExpired},
		{name: "not yet valid", reader: "r1", card: "D1", wantReason: ReasonNotYetValid},
		{name: "wrong door", reader: "r5", card: "R1", wantReason: ReasonNoAccess},
		{name: "no access levels", reader: "r1", card: "N1", wantReason: ReasonNoAccess},
		{name: "inside schedule (site's zone)", reader: "r3", card: "A1", wantGranted: true, wantReason: ReasonGranted},
		{name: "outside schedule in the evening", setup: clockAt(at(20, 0)), reader: "r3", card: "A1", wantReason: ReasonOutsideSchedule},
		{name: "schedule ends exclusive", setup: clockAt(at(18, 0)), reader: "r3", card: "A1", wantReason: ReasonOutsideSchedule},
		{name: "outside schedule on Saturday", setup: clockAt(at(10, 0).AddDate(0, 0, 3)), reader: "r3", card: "A1", wantReason: ReasonOutsideSchedule},
		{name: "holiday window", setup: holiday(at(10, 0)), reader: "r3", card: "A1", wantGranted: true, wantReason: ReasonGranted},
		{name: "holiday outside its window", setup: holiday(at(14, 0)), reader: "r3", card: "A1", wantReason: ReasonOutsideSchedule},
		{name: "always-open door at night", setup: clockAt(at(23, 30)), reader: "r1", card: "A1", wantGranted: true, wantReason: ReasonGranted},
		{name: "during building lockdown", setup: lockdown(Scope{ScopeBuilding, "main"}), reader: "r1", card: "A1", wantReason: ReasonLockdown},
		{name: "during floor lockdown", setup: lockdown(Scope{ScopeFloor, "f1"}), reader: "r1", card: "A1", wantReason: ReasonLockdown},
		{name: "lockdown of another floor", setup: lockdown(Scope{ScopeFloor, "f2"}), reader: "r1", card: "A1", wantGranted: true, wantReason: ReasonGranted},
		{name: "responder during lockdown", setup: lockdown(Scope{ScopeBuilding, "main"}), reader: "r1", card: "R1", wantGranted: true, wantReason: ReasonGranted},
		{name: "door in locked-down mode", setup: doorMode, reader: "r1", card: "A1", wantReason: ReasonDoorLockedDown},
		{name: "responder at locked-down door", setup: doorMode, reader: "r1", card: "R1", wantGranted: true, wantReason: ReasonGranted},
		{name: "right PIN", reader: "r5", card: "A1", pin: "1234", wantGranted: true, wantReason: ReasonGranted},
		{name: "bad PIN", reader: "r5", card: "A1", pin: "9999", wantReason: ReasonBadPIN},
		{name: "missing PIN", reader: "r5", card: "A1", wantReason: ReasonBadPIN},
		{name: "anti-passback: in twice", setup: passback("r1"), reader: "r1", card: "A1", wantReason: ReasonAntiPassback},
		{name: "anti-passback: in then out", setup: passback("r1"), reader: "r2", card: "A1", wantGranted: true, wantReason: ReasonGranted},
		{name: "replayed message id", setup: func(t *testing.T, e *testEnv) {
			if _, err := e.s.Swipe(ctx, Swipe{Controller: "c1", Reader: "r1", Card: "A1", MsgID: "dup", At: e.clk.Now()}); err != nil {
				t.Fatal(err)
			}
		}, reader: "r1", card: "A1", msgID: "dup", wantReason: ReasonReplayed, wantErr: ErrRefused},
		{name: "old message", reader: "r1", card: "A1", age: 6 * time.Minute, wantReason: ReasonStale, wantErr: ErrRefused},
		{name: "message from the future", reader: "r1", card: "A1", age: -6 * time.Minute, wantReason: ReasonStale, wantErr: ErrRefused},
		{name: "unknown reader", reader: "r9", card: "A1", wantReason: ReasonUnknownReader, wantErr: ErrNotFound},
		{name: "unknown controller", controller: "c9", reader: "r1", card: "A1", wantReason: ReasonUnknownController, wantErr: ErrNotFound},
		{name: "malformed card", reader: "r1", card: "A1<script>", wantReason: ReasonInvalid, wantErr: ErrRefused},
		{name: "card number too long", reader: "r1", card: strings.Repeat("1", 33), wantReason: ReasonInvalid, wantErr: ErrRefused},
		{name: "no message id", reader: "r1", card: "A1", msgID: " \x00", wantReason: ReasonInvalid, wantErr: ErrRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.seed(t)
			if tt.setup != nil {
				tt.setup(t, e)
			}
			before := len(e.bus.accessEvents())
			sw := Swipe{Controller: cmpOr(tt.controller, "c1"), Reader: tt.reader, Card: tt.card, PIN: tt.pin,
				MsgID: cmpOr(tt.msgID, e.nextMsg()), At: e.clk.Now().Add(-tt.age)}
			got, err := e.s.Swipe(ctx, sw)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if got.Granted != tt.wantGranted || got.Reason != tt.wantReason {
				t.Fatalf("decision %+v, want granted=%v reason=%s", got, tt.wantGranted, tt.wantReason)
			}
			if tt.wantGranted && (got.UnlockSeconds != 5 || got.UnlockFor != 5*time.Second) {
				t.Errorf("grant unlocks for %d s (%v), want 5 s", got.UnlockSeconds, got.UnlockFor)
			}
			if !tt.wantGranted && (got.UnlockSeconds != 0 || got.UnlockFor != 0) {
				t.Errorf("denial unlocks for %d s", got.UnlockSeconds)
			}
			published := e.bus.accessEvents()[before:]
			stored, _, lerr := e.s.ListAccessEvents(ctx, AccessFilter{Since: e.clk.Now().Add(-time.Second)})
			if lerr != nil {
				t.Fatal(lerr)
			}
			if tt.wantErr != nil {
				if len(published) != 0 {
					t.Errorf("a refused message published %+v", published)
				}
				return
			}
			if len(published) != 1 || len(stored) == 0 {
				t.Fatalf("published %d access events, stored %d; want one each", len(published), len(stored))
			}
			ev := published[0]
			if ev != stored[0] {
				t.Errorf("published %+v\nstored    %+v", ev, stored[0])
			}
			if ev.Granted != tt.wantGranted || ev.Reason != tt.wantReason || ev.Door != got.Door || ev.Cardholder != got.Cardholder ||
				ev.Reader != tt.reader || ev.Controller != "c1" || ev.ID == 0 {
				t.Errorf("event %+v does not match decision %+v", ev, got)
			}
		})
	}
}

func TestSwipeRecordsWho(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	d, err := e.swipe("r2", "A1", "")
	if err != nil {
		t.Fatal(err)
	}
	want := Decision{Granted: true, Reason: ReasonGranted, Door: "east", UnlockFor: 5 * time.Second, UnlockSeconds: 5, Cardholder: "alice"}
	if d != want {
		t.Errorf("decision %+v, want %+v", d, want)
	}
	evs, _, err := e.s.ListAccessEvents(context.Background(), AccessFilter{Cardholder: "alice"})
	if err != nil || len(evs) != 1 {
		t.Fatalf("alice's events: %+v, %v", evs, err)
	}
	got := evs[0]
	got.ID = 0
	wantEv := AccessEvent{At: e.clk.Now().Truncate(time.Millisecond), Door: "east", DoorName: "East entrance", Controller: "c1", Reader: "r2",
		Direction: DirectionOut, Card: "A1", Cardholder: "alice", CardholderName: "Alice", Granted: true, Reason: ReasonGranted}
	if !got.At.Equal(wantEv.At) {
		t.Errorf("at %v, want %v", got.At, wantEv.At)
	}
	got.At = wantEv.At
	if got != wantEv {
		t.Errorf("event %+v\nwant  %+v", got, wantEv)
	}
	// A disabled cardholder's denial is found by door, and granted=false.
	if _, err := e.swipe("r1", "B1", ""); err != nil {
		t.Fatal(err)
	}
	no := false
	denied, _, err := e.s.ListAccessEvents(context.Background(), AccessFilter{Door: "east", Granted: &no})
	if err != nil || len(denied) != 1 || denied[0].Cardholder != "bob" || denied[0].Reason != ReasonDisabled {
		t.Errorf("denials at east: %+v, %v", denied, err)
	}
}

func TestAccessEventPaging(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	for range 5 {
		if _, err := e.swipe("r1", "ZZ1", ""); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(time.Minute) // no repeated-denials noise
	}
	ctx := context.Background()
	page1, next, err := e.s.ListAccessEvents(ctx, AccessFilter{Limit: 3})
	if err != nil || len(page1) != 3 || next == 0 {
		t.Fatalf("page 1: %d events, next %d, %v", len(page1), next, err)
	}
	page2, next2, err := e.s.ListAccessEvents(ctx, AccessFilter{Limit: 3, BeforeID: next})
	if err != nil || len(page2) != 2 || next2 != 0 {
		t.Fatalf("page 2: %d events, next %d, %v", len(page2), next2, err)
	}
	if page1[0].ID <= page1[2].ID || page2[0].ID >= page1[2].ID {
		t.Errorf("pages not newest first: %d..%d then %d..", page1[0].ID, page1[2].ID, page2[0].ID)
	}
}

func TestReplayWindowDropsOldIDs(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MessageWindow = 2 })
	e.seed(t)
	ctx := context.Background()
	for _, id := range []string{"x1", "x2", "x3"} {
		if err := e.s.Heartbeat(ctx, "c1", id, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	// x3 is within the window; x1 was pushed out, but its time still
	// refuses it once it is old.
	wantErr(t, "replay of x3", e.s.Heartbeat(ctx, "c1", "x3", e.clk.Now()), ErrRefused)
	if err := e.s.Heartbeat(ctx, "c1", "x1", e.clk.Now()); err != nil {
		t.Errorf("x1 after it left a window of 2: %v", err)
	}
	old := e.clk.Now()
	e.tick(6 * time.Minute)
	wantErr(t, "replay of an old message", e.s.Heartbeat(ctx, "c1", "x2", old), ErrRefused)
}

// TestConcurrentTraffic runs swipes, reports, heartbeats, edits and ticks
// at once, for the race detector.
func TestConcurrentTraffic(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	n := 0
	id := func() string {
		mu.Lock()
		defer mu.Unlock()
		n++
		return "c" + time.Duration(n).String()
	}
	granted := make([]int, 4)
	for g := range 4 {
		wg.Go(func() {
			for range 25 {
				d, err := e.s.Swipe(ctx, Swipe{Controller: "c1", Reader: "r1", Card: "A1", MsgID: id(), At: e.clk.Now()})
				if err != nil {
					t.Error(err)
					return
				}
				if d.Granted {
					granted[g]++
				}
				_ = e.s.DoorState(ctx, DoorReport{Controller: "c1", Door: "east", Contact: ContactClosed, MsgID: id(), At: e.clk.Now()})
				_ = e.s.Heartbeat(ctx, "c1", id(), e.clk.Now())
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			e.s.tick(e.clk.Now())
			_ = e.s.Doors()
			_ = e.s.Alarms()
		}
	})
	wg.Go(func() {
		for i := range 5 {
			if _, err := e.s.UpdateCardholder(ctx, "nina", CardholderInput{Cardholder: Cardholder{Name: "Nina", Cards: []string{"N1"}, Department: time.Duration(i).String()}}); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	total := 0
	for _, g := range granted {
		total += g
	}
	if total != 100 {
		t.Errorf("%d of 100 swipes granted", total)
	}
	evs, _, err := e.s.ListAccessEvents(ctx, AccessFilter{Door: "east", Limit: 1000})
	if err != nil || len(evs) != 100 {
		t.Errorf("stored %d access events, %v; want 100", len(evs), err)
	}
}

// BenchmarkSwipe measures a decision with its access event written to
// the store and published.
func BenchmarkSwipe(b *testing.B) {
	e := newEnv(b)
	e.seed(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d, err := e.s.Swipe(ctx, Swipe{Controller: "c1", Reader: "r1", Card: "A1", MsgID: e.nextMsg(), At: e.clk.Now()})
		if err != nil || !d.Granted {
			b.Fatalf("%+v, %v", d, err)
		}
	}
}
