package mqttlink

import (
	"log/slog"
	"sync"
	"time"
)

// Rate limits for warnings about bad input: per key (a controller and a
// reason, or a remote address), at most logBurst lines per logWindow;
// the next line after a quiet window says how many were left out.
const (
	logWindow = 10 * time.Second
	logBurst  = 5
	logKeys   = 4096
)

// limitedLog writes warnings with a rate limit per key, so a controller
// sending garbage cannot flood the log.
type limitedLog struct {
	log *slog.Logger
	now func() time.Time

	mu   sync.Mutex
	keys map[string]*logBucket
}

type logBucket struct {
	start      time.Time
	n          int
	suppressed int
}

func newLimitedLog(log *slog.Logger, now func() time.Time) *limitedLog {
	return &limitedLog{log: log, now: now, keys: make(map[string]*logBucket)}
}

// Warn logs msg with args unless key has used up its lines for now.
func (r *limitedLog) Warn(key, msg string, args ...any) {
	now := r.now()
	r.mu.Lock()
	b := r.keys[key]
	if b == nil {
		if len(r.keys) >= logKeys {
			clear(r.keys)
		}
		b = &logBucket{start: now}
		r.keys[key] = b
	}
	if now.Sub(b.start) >= logWindow {
		b.start, b.n = now, 0
	}
	if b.n >= logBurst {
		b.suppressed++
		r.mu.Unlock()
		return
	}
	b.n++
	suppressed := b.suppressed
	b.suppressed = 0
	r.mu.Unlock()
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	r.log.Warn(msg, args...)
}
