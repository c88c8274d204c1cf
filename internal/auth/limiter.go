package auth

import (
	"sync"
	"time"
)

// limiter counts failed logins per key (a username or a source address)
// within a window and locks a key out once it reaches its limit. It lives
// in memory: a restart forgives, which is the usual trade-off (fail2ban,
// Home Assistant) and keeps the hot path off the disk.
type limiter struct {
	mu      sync.Mutex
	window  time.Duration
	lockout time.Duration
	keys    map[string]*failures
	lastGC  time.Time
}

type failures struct {
	count       int
	first       time.Time
	lockedUntil time.Time
}

func newLimiter(window, lockout time.Duration) *limiter {
	return &limiter{window: window, lockout: lockout, keys: make(map[string]*failures)}
}

// locked reports whether key is locked out at now, and until when.
func (l *limiter) locked(key string, now time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.keys[key]
	if f == nil || !now.Before(f.lockedUntil) {
		return time.Time{}, false
	}
	return f.lockedUntil, true
}

// fail records a failure for key; at max failures within the window the
// key is locked out. It returns the lockout end when this failure locked it.
func (l *limiter) fail(key string, max int, now time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gc(now)
	f := l.keys[key]
	if f == nil || now.Sub(f.first) > l.window {
		f = &failures{first: now}
		l.keys[key] = f
	}
	f.count++
	if max > 0 && f.count >= max {
		f.lockedUntil = now.Add(l.lockout)
		f.count = 0
		f.first = now
		return f.lockedUntil, true
	}
	return time.Time{}, false
}

// reset forgets key's failures.
func (l *limiter) reset(key string) {
	l.mu.Lock()
	delete(l.keys, key)
	l.mu.Unlock()
}

// gc drops expired keys at most once a minute, so the map stays bounded
// by the failures of the last window.
func (l *limiter) gc(now time.Time) {
	if now.Sub(l.lastGC) < time.Minute {
		return
	}
	l.lastGC = now
	for k, f := range l.keys {
		if now.Sub(f.first) > l.window && !now.Before(f.lockedUntil) {
			delete(l.keys, k)
		}
	}
}
