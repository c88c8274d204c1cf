package voip

import (
	"sync"
	"time"
)

// limiter counts failed authentications per key (a source IP or an
// extension number) and blocks a key for a while once it reaches its
// limit. Failures are counted over the same period as the block lasts.
// It lives in memory: a restart forgives, the usual trade-off (fail2ban,
// Kamailio's htable recipe), and the hot path stays off the disk.
type limiter struct {
	mu     sync.Mutex
	period time.Duration
	keys   map[string]*failures
	lastGC time.Time
}

type failures struct {
	count        int
	first        time.Time
	blockedUntil time.Time
}

// maxLimiterKeys bounds the map against an attacker inventing keys; when
// it is full even after dropping stale keys, new keys are not counted
// (the per-source limit has blocked such an attacker long before).
const maxLimiterKeys = 100_000

func newLimiter(period time.Duration) *limiter {
	return &limiter{period: period, keys: make(map[string]*failures)}
}

// locked reports whether key is blocked at now, and until when.
func (l *limiter) locked(key string, now time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.keys[key]
	if f == nil || !now.Before(f.blockedUntil) {
		return time.Time{}, false
	}
	return f.blockedUntil, true
}

// fail records a failure for key. The max-th failure within the period
// blocks the key; fail then returns the end of the block and true.
func (l *limiter) fail(key string, max int, now time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gc(now)
	f := l.keys[key]
	if f == nil {
		if len(l.keys) >= maxLimiterKeys {
			return time.Time{}, false
		}
		f = &failures{first: now}
		l.keys[key] = f
	}
	if now.Sub(f.first) > l.period {
		f.count, f.first = 0, now
	}
	f.count++
	if max > 0 && f.count >= max && !now.Before(f.blockedUntil) {
		f.blockedUntil = now.Add(l.period)
		f.count, f.first = 0, now
		return f.blockedUntil, true
	}
	return time.Time{}, false
}

// reset forgets key's failures (not a block in force).
func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.keys[key]; f != nil && !f.blockedUntil.After(time.Now()) {
		delete(l.keys, key)
	}
}

// gc drops keys with nothing left to remember, at most once a second or
// whenever the map is full.
func (l *limiter) gc(now time.Time) {
	if now.Sub(l.lastGC) < time.Second && len(l.keys) < maxLimiterKeys {
		return
	}
	l.lastGC = now
	for k, f := range l.keys {
		if now.Sub(f.first) > l.period && !now.Before(f.blockedUntil) {
			delete(l.keys, k)
		}
	}
}
