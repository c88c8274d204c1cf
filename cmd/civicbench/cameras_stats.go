package main

import (
	"slices"
	"sync"
	"time"
)

// The camera parts' pure bookkeeping: when the camera sent each picture,
// which packets are the first of their picture at a viewer, and
// percentiles of exact samples. None of it touches the network.

// sendMark is when the camera sent one picture: its first and its last
// packet.
type sendMark struct {
	First, Last time.Time
}

// stampLog remembers, by RTP timestamp, when the bench's camera sent each
// of its last pictures. civicd keeps the camera's RTP timestamps (it
// rewrites only SSRC and sequence numbers), so a viewer can look up when
// the picture it just received left the camera. It is safe for
// concurrent use.
type stampLog struct {
	mu   sync.Mutex
	byTS map[uint32]sendMark
	ring []uint32 // the timestamps kept, in a ring: ring[next] is the oldest once full
	next int
	full bool
}

// newStampLog keeps the last keep pictures (at least 1).
func newStampLog(keep int) *stampLog {
	keep = max(keep, 1)
	return &stampLog{byTS: make(map[uint32]sendMark, keep+1), ring: make([]uint32, keep)}
}

// sent notes that a packet of the picture with timestamp ts left at at:
// the first such call sets the picture's first and last time, later ones
// move its last.
func (l *stampLog) sent(ts uint32, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if m, ok := l.byTS[ts]; ok {
		m.Last = at
		l.byTS[ts] = m
		return
	}
	if l.full {
		delete(l.byTS, l.ring[l.next])
	}
	l.byTS[ts] = sendMark{First: at, Last: at}
	l.ring[l.next] = ts
	l.next = (l.next + 1) % len(l.ring)
	l.full = l.full || l.next == 0
}

// lookup returns when the picture with timestamp ts was sent.
func (l *stampLog) lookup(ts uint32) (sendMark, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m, ok := l.byTS[ts]
	return m, ok
}

// firstSeen tells, packet by packet, whether a packet is the first a
// viewer received of its picture (its RTP timestamp): it remembers the
// last 64 timestamps, so a packet reordered behind the next picture's
// first packet is not taken for a new picture. The owner serialises
// calls.
type firstSeen struct {
	recent [64]uint32
	n      int // timestamps remembered, up to len(recent)
	next   int // where the next one goes
}

// first reports whether ts has not been seen among the last 64 pictures,
// and remembers it.
func (f *firstSeen) first(ts uint32) bool {
	// The common case: another packet of the newest picture.
	if f.n > 0 && f.recent[(f.next+len(f.recent)-1)%len(f.recent)] == ts {
		return false
	}
	for i := range f.n {
		if f.recent[i] == ts {
			return false
		}
	}
	f.recent[f.next] = ts
	f.next = (f.next + 1) % len(f.recent)
	f.n = min(f.n+1, len(f.recent))
	return true
}

// camWindow is the measurement interval [From, To) of one phase, as wall
// (monotonic) times; a picture counts in it when it was sent in it.
type camWindow struct {
	From, To time.Time
}

func (w camWindow) has(t time.Time) bool {
	return !w.From.IsZero() && !t.Before(w.From) && (w.To.IsZero() || t.Before(w.To))
}

// quantiles returns, for each q in qs (0 < q <= 1), the nearest-rank
// q-quantile of samples: the smallest sample with at least q of them at
// or below it. It returns zeros for no samples and does not change
// samples.
func quantiles(samples []time.Duration, qs ...float64) []time.Duration {
	out := make([]time.Duration, len(qs))
	if len(samples) == 0 {
		return out
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	for i, q := range qs {
		rank := int(q*float64(len(s)) + 0.999999) // ceil, forgiving float error
		out[i] = s[min(max(rank, 1), len(s))-1]
	}
	return out
}

// latSummary is a set of latency samples' p50, p95, p99 and maximum.
type latSummary struct {
	N                  int
	P50, P95, P99, Max time.Duration
}

func summarize(samples []time.Duration) latSummary {
	q := quantiles(samples, 0.50, 0.95, 0.99, 1)
	return latSummary{N: len(samples), P50: q[0], P95: q[1], P99: q[2], Max: q[3]}
}

// behind says whether a viewer fell behind in a window: it decoded fewer
// than 95 % of the pictures the camera sent (less one at each edge of the
// window), or lost packets.
func behind(got, sent int, lost uint64) bool {
	return lost > 0 || float64(got) < 0.95*float64(max(sent-2, 0))
}

// count returns how many pictures the log holds whose first packet was
// sent in w.
func (l *stampLog) count(w camWindow) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.byTS {
		if w.has(m.First) {
			n++
		}
	}
	return n
}
