package auth

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(10*time.Minute, 5*time.Minute)
	steps := []struct {
		at         time.Duration
		op         string // "fail", "reset" or "check"
		wantLocked bool
	}{
		{0, "fail", false},
		{time.Minute, "fail", false},
		{2 * time.Minute, "fail", true}, // third within the window
		{3 * time.Minute, "check", true},
		{7*time.Minute - time.Nanosecond, "check", true},
		{7 * time.Minute, "check", false}, // lockout over
		{8 * time.Minute, "fail", false},  // counting starts again
		{8 * time.Minute, "reset", false},
		{9 * time.Minute, "fail", false},
		{10 * time.Minute, "fail", false},
		{21 * time.Minute, "fail", false}, // the window from 9m has passed
		{22 * time.Minute, "fail", false},
		{23 * time.Minute, "fail", true},
	}
	for i, s := range steps {
		now := t0.Add(s.at)
		var locked bool
		switch s.op {
		case "fail":
			_, locked = l.fail("k", 3, now)
		case "reset":
			l.reset("k")
		case "check":
			_, locked = l.locked("k", now)
		}
		if locked != s.wantLocked {
			t.Errorf("step %d (%s at %v): locked %v, want %v", i, s.op, s.at, locked, s.wantLocked)
		}
	}
}

func TestLimiterPrunes(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(time.Minute, time.Hour)
	for i := range 1000 {
		l.fail(fmt.Sprint("spray-", i), 5, t0)
	}
	l.fail("locked", 1, t0)
	// Much later, one more failure prunes every stale key but keeps the
	// one still locked out.
	l.fail("new", 5, t0.Add(10*time.Minute))
	if got := len(l.keys); got != 2 {
		t.Errorf("%d keys after pruning, want 2 (locked, new)", got)
	}
	if _, locked := l.locked("locked", t0.Add(10*time.Minute)); !locked {
		t.Error("pruning dropped a lockout")
	}
}
