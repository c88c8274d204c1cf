package voip

import (
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// flood limits the request rate of each source address with a token
// bucket: a phone sends a few requests a minute, so a source far above
// the rate is a flood (a scanner, a looping proxy, a broken phone). Its
// requests get 503 with Retry-After (RFC 3261 21.5.4) until it slows
// down; one line is logged when a flood starts, not per request.
type flood struct {
	rate  float64 // tokens per second; 0 turns the limit off
	burst float64

	mu      sync.Mutex
	sources map[string]*bucket
	lastGC  time.Time
}

type bucket struct {
	tokens   float64
	last     time.Time
	flooding bool // answered 503 since the last time it had tokens
	refused  int  // requests refused in this flood
}

func newFlood(rate int) *flood {
	return &flood{rate: float64(rate), burst: 2 * float64(rate), sources: make(map[string]*bucket)}
}

// allow takes a token for ip. It reports false when ip is over its rate;
// started is true for the first refusal of a flood, ended true (with the
// count refused) for the first request allowed after one.
func (f *flood) allow(ip string, now time.Time) (ok, started bool, ended int) {
	if f.rate <= 0 {
		return true, false, 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.sources[ip]
	if b == nil {
		if len(f.sources) >= maxLimiterKeys {
			f.gc(now)
		}
		b = &bucket{tokens: f.burst, last: now}
		f.sources[ip] = b
	}
	b.tokens = min(f.burst, b.tokens+now.Sub(b.last).Seconds()*f.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		if b.flooding {
			ended, b.flooding, b.refused = b.refused, false, 0
		}
		return true, false, ended
	}
	b.refused++
	started = !b.flooding
	b.flooding = true
	return false, started, 0
}

// gc drops the buckets that have refilled; f.mu is held.
func (f *flood) gc(now time.Time) {
	for ip, b := range f.sources {
		if !b.flooding && b.tokens+now.Sub(b.last).Seconds()*f.rate >= f.burst {
			delete(f.sources, ip)
		}
	}
	f.lastGC = now
}

// tidy drops idle buckets now and then (from the maintenance loop).
func (f *flood) tidy(now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now.Sub(f.lastGC) >= time.Minute {
		f.gc(now)
	}
}

// limitRate wraps a handler with the per-source rate limit.
func (s *Service) limitRate(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		ip := hostOf(req.Source())
		ok, started, ended := s.flood.allow(ip, time.Now())
		if ended > 0 {
			s.log.Info("sip request flood over", "source", ip, "refused", ended)
		}
		if ok {
			h(req, tx)
			return
		}
		if started {
			s.log.Warn("sip request flood: answering 503 until it slows down", "source", ip,
				"limit_per_second", s.cfg.MaxRequestsPerSource)
		}
		if !req.IsAck() {
			s.respond(tx, req, 503, "Service Unavailable", sip.NewHeader("Retry-After", "5"))
		}
	}
}
