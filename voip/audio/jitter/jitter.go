// Package jitter is a jitter buffer for a desk phone's RTP audio: G.711
// (PCMU, PCMA) and G.722, whose payloads are one octet per sample period
// at any packet time from 10 to 60 ms. The media bridge pushes packets as
// they arrive and pops one frame (20 ms by default) on each tick of its
// own clock; the buffer reorders, drops duplicates and late packets, and
// re-cuts the payloads into frames of the tick's length.
//
// Playout follows the arrival times: each packet is played a target delay
// after the fastest packets of the stream would arrive. The target starts
// at Config.InitialDelay, grows at once to cover the jitter seen (so a
// packet that arrives late raises it), up to Config.MaxDelay, and shrinks
// slowly once the jitter is gone. A change of delay is made in a pause,
// where waiting or skipping ahead costs nothing; only when the delay is
// far off while audio plays does the buffer hold back or drop a frame.
//
// When no audio is due (packet loss, silence suppression or a phone that
// stopped sending) Pop reports no frame and the caller plays silence or
// conceals the loss. A new SSRC, or a sequence number far from the last,
// restarts the stream; a timestamp jump that the arrival times do not
// explain is re-based onto the arrival clock.
//
// Time comes from the caller (Push and Pop take now), so tests run on a
// fake clock. A Buffer is not safe for concurrent use; the caller
// serialises Push and Pop. The package holds no global state; any package
// may import it, in practice the voip media bridge.
package jitter

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pion/rtp"
)

// Config sets up a Buffer. The zero value is a valid configuration for
// PCMU in 20 ms frames.
type Config struct {
	// ClockRate is the stream's RTP clock rate in Hz. G.711 and G.722
	// both use 8000 (G.722 samples at 16 kHz but its RTP clock runs at
	// 8 kHz). Default: 8000.
	ClockRate int
	// OctetRate is the payload octets per second: 8000 for G.711 and
	// G.722 at 64 kbit/s. ClockRate must be a whole multiple of it.
	// Default: 8000.
	OctetRate int
	// Frame is how much audio each Pop returns: the caller's tick.
	// Default: 20 ms.
	Frame time.Duration
	// InitialDelay is the playout delay before any jitter is measured.
	// Default: 40 ms.
	InitialDelay time.Duration
	// MinDelay and MaxDelay bound the adaptive delay. Default: 20 ms and
	// 200 ms.
	MinDelay, MaxDelay time.Duration
	// MaxPackets bounds the packets held; beyond it the oldest is
	// dropped, so a flood cannot grow the buffer. Default: 64.
	MaxPackets int
	// Silence is the octet that fills the missing part of a partly
	// received frame. Default: 0xFF, silence in PCMU and near silence in
	// G.722; use 0xD5 for PCMA.
	Silence byte
}

// ErrConfig reports an invalid Config.
var ErrConfig = errors.New("jitter: invalid config")

// withDefaults fills in the zero fields.
func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.ClockRate == 0 {
		c.ClockRate = 8000
	}
	if c.OctetRate == 0 {
		c.OctetRate = 8000
	}
	def(&c.Frame, 20*time.Millisecond)
	def(&c.InitialDelay, 40*time.Millisecond)
	def(&c.MinDelay, 20*time.Millisecond)
	def(&c.MaxDelay, 200*time.Millisecond)
	if c.MaxPackets == 0 {
		c.MaxPackets = 64
	}
	if c.Silence == 0 {
		c.Silence = 0xFF
	}
	return c
}

// Validate reports whether the configuration, after defaults, is usable.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.ClockRate < 1000 || c.ClockRate > 192000:
		return fmt.Errorf("%w: clock rate %d Hz", ErrConfig, c.ClockRate)
	case c.OctetRate <= 0 || c.ClockRate%c.OctetRate != 0:
		return fmt.Errorf("%w: clock rate %d Hz is not a multiple of the octet rate %d", ErrConfig, c.ClockRate, c.OctetRate)
	case c.Frame < time.Millisecond || c.Frame > time.Second:
		return fmt.Errorf("%w: frame %v", ErrConfig, c.Frame)
	case c.Frame*time.Duration(c.OctetRate)%time.Second != 0:
		return fmt.Errorf("%w: frame %v is not a whole number of octets at %d a second", ErrConfig, c.Frame, c.OctetRate)
	case c.MinDelay < 0 || c.MinDelay > c.MaxDelay:
		return fmt.Errorf("%w: delay bounds %v..%v", ErrConfig, c.MinDelay, c.MaxDelay)
	case c.InitialDelay < c.MinDelay || c.InitialDelay > c.MaxDelay:
		return fmt.Errorf("%w: initial delay %v outside %v..%v", ErrConfig, c.InitialDelay, c.MinDelay, c.MaxDelay)
	case c.MaxPackets < 2:
		return fmt.Errorf("%w: max packets %d", ErrConfig, c.MaxPackets)
	}
	return nil
}

// Stats counts what the buffer did. Counters are cumulative over the
// Buffer's life, across stream restarts.
type Stats struct {
	Received   uint64 // packets accepted
	Duplicates uint64 // packets received more than once
	Late       uint64 // packets that arrived after their playout time began
	Lost       uint64 // packets missing at their playout time (a gap in the sequence)
	Dropped    uint64 // packets discarded unplayed: overflow or cutting the delay
	Concealed  uint64 // Pops within a talk spurt that had no frame
	Resets     uint64 // stream restarts and timestamp re-bases
	// Delay is the current target playout delay.
	Delay time.Duration
	// Buffered is the audio held, from the playout point to the end of
	// the newest packet.
	Buffered time.Duration
	// Jitter is the RFC 3550 interarrival jitter estimate.
	Jitter time.Duration
}

// Tuning that is not worth a config knob.
const (
	seqWindow   = 1024                   // duplicate memory, in sequence numbers
	seqRestart  = 3000                   // a sequence jump this large restarts the stream
	rebaseAfter = 2 * time.Second        // an arrival-time error this large re-bases timestamps
	window      = 4 * time.Second        // transit minimum and jitter peak span one to two windows
	lateResync  = 10                     // this many wholly late packets in a row re-anchor playout
	shrinkAfter = 2 * time.Second        // quiet time before the target shrinks
	shrinkEvery = time.Second            // then one half-frame step per interval
	dropEvery   = 500 * time.Millisecond // at most one frame dropped per interval while audio plays
)

// entry is one buffered packet on the stream's timeline.
type entry struct {
	seq, ts, end int64 // extended sequence number; first and past-last timestamp
	data         []byte
}

// Buffer is the jitter buffer of one stream.
type Buffer struct {
	cfg               Config
	frame             int64 // Frame in clock units
	octets            int   // octets per frame
	unit              int64 // clock units per octet
	minD, maxD, initD int64

	queue []entry // sorted by ts
	free  [][]byte
	out   []byte
	stats Stats

	// Stream state, cleared by a restart.
	started    bool
	ssrc       uint32
	epoch      time.Time
	maxSeq     int64  // newest extended sequence number
	maxTS      uint32 // its raw timestamp
	maxTSExt   int64  // and that timestamp unwrapped, before offset
	offset     int64  // added to unwrapped timestamps (re-bases)
	lastEnd    int64  // end of the newest packet on the timeline
	seen       [seqWindow]int64
	playedSeq  int64 // newest sequence number consumed
	playing    bool
	head       int64 // timeline position of the next octet to play
	playedEnd  int64 // end of the last audio played: head never goes back past it
	lateStreak int   // wholly late packets in a row
	// Transit: e = arrival - timestamp, in clock units. minE is the
	// fastest transit over the last one or two windows, j = e - minE a
	// packet's jitter.
	minE, minCur, minPrev int64
	peakCur, peakPrev     int64
	winStart              int64
	lastE                 int64
	jitter                float64
	target                int64
	lastGrow, lastShrink  int64
	lastDrop              int64
}

// New returns a Buffer for cfg.
func New(cfg Config) (*Buffer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	b := &Buffer{cfg: cfg, unit: int64(cfg.ClockRate / cfg.OctetRate)}
	b.frame = b.dur(cfg.Frame)
	b.octets = int(b.frame / b.unit)
	b.minD, b.maxD, b.initD = b.dur(cfg.MinDelay), b.dur(cfg.MaxDelay), b.dur(cfg.InitialDelay)
	b.out = make([]byte, b.octets)
	b.restart()
	return b, nil
}

// dur converts a duration to clock units.
func (b *Buffer) dur(d time.Duration) int64 {
	return int64(d/time.Second)*int64(b.cfg.ClockRate) + int64(d%time.Second)*int64(b.cfg.ClockRate)/int64(time.Second)
}

// time converts clock units to a duration.
func (b *Buffer) time(u int64) time.Duration {
	return time.Duration(u) * time.Second / time.Duration(b.cfg.ClockRate)
}

// clock is now in clock units since the stream's first packet.
func (b *Buffer) clock(now time.Time) int64 { return b.dur(now.Sub(b.epoch)) }

// restart forgets the stream, keeping the counters and free buffers.
func (b *Buffer) restart() {
	for _, e := range b.queue {
		b.free = append(b.free, e.data[:0])
	}
	b.queue = b.queue[:0]
	for i := range b.seen {
		b.seen[i] = -1
	}
	b.started, b.playing = false, false
	b.target = b.initD
	b.jitter = 0
}

// Reset forgets the stream, as if no packet had arrived; the counters
// stay.
func (b *Buffer) Reset() { b.restart() }

// Push adds a received packet. The payload is copied; pkt may be reused.
// Packets without payload are ignored.
func (b *Buffer) Push(pkt *rtp.Packet, now time.Time) {
	if pkt == nil || len(pkt.Payload) == 0 {
		return
	}
	if b.started && pkt.SSRC != b.ssrc {
		b.stats.Resets++
		b.restart()
	}
	if !b.started {
		b.begin(pkt, now)
	}
	seq := b.maxSeq + int64(int16(pkt.SequenceNumber-uint16(b.maxSeq)))
	if d := seq - b.maxSeq; d > seqRestart || d < -seqRestart {
		b.stats.Resets++
		b.restart()
		b.begin(pkt, now)
		seq = b.maxSeq + 1
	}
	if b.seen[seq%seqWindow] == seq {
		b.stats.Duplicates++
		return
	}
	if seq <= b.maxSeq-seqWindow {
		b.stats.Late++ // too old to place
		return
	}
	b.seen[seq%seqWindow] = seq

	nowU := b.clock(now)
	dur := int64(len(pkt.Payload)) * b.unit
	raw := b.maxTSExt + int64(int32(pkt.Timestamp-b.maxTS))
	ts := raw + b.offset
	if seq > b.maxSeq {
		// A newer packet whose timestamp runs backwards, or runs ahead
		// of the arrival clock by more than any network explains, is a
		// re-based sender clock: lay it after what came before.
		if ts < b.lastEnd-b.frame || nowU-ts < b.minE-b.dur(rebaseAfter) {
			place := max(b.lastEnd, nowU-b.minE)
			b.offset += place - ts
			ts = place
			b.stats.Resets++
		}
		b.maxSeq, b.maxTS, b.maxTSExt = seq, pkt.Timestamp, raw
		b.lastEnd = ts + dur
	}
	b.track(nowU, ts)

	if b.playing && (ts < b.head || seq <= b.playedSeq) {
		b.stats.Late++
		if ts+dur <= b.head || seq <= b.playedSeq {
			if b.lateStreak++; b.lateStreak < lateResync || ts < b.playedEnd {
				return // wholly past; the part inside the frame played is lost
			}
			b.resync(nowU, ts)
		}
	} else {
		b.lateStreak = 0
	}
	b.insert(entry{seq: seq, ts: ts, end: ts + dur, data: append(b.alloc(), pkt.Payload...)})
	b.stats.Received++
}

// begin starts a stream at its first packet.
func (b *Buffer) begin(pkt *rtp.Packet, now time.Time) {
	b.started, b.ssrc, b.epoch = true, pkt.SSRC, now
	// The first packet counts as newer than maxSeq; the offset keeps
	// early unwrapped numbers positive.
	b.maxSeq = int64(pkt.SequenceNumber) + 1<<16 - 1
	b.playedSeq = b.maxSeq
	b.maxTS, b.maxTSExt, b.offset = pkt.Timestamp, int64(pkt.Timestamp), 0
	ts := int64(pkt.Timestamp)
	b.lastEnd, b.playedEnd = ts, ts
	b.minE, b.minCur, b.minPrev, b.lastE = -ts, -ts, -ts, -ts
	b.peakCur, b.peakPrev, b.winStart = 0, 0, 0
	b.lastGrow, b.lastShrink, b.lastDrop, b.lateStreak = 0, 0, 0, 0
}

// track updates the transit estimates with a packet at ts arriving at
// nowU and grows the target to cover the jitter seen.
func (b *Buffer) track(nowU, ts int64) {
	e := nowU - ts
	if span := nowU - b.winStart; span >= b.dur(window) {
		b.minPrev, b.peakPrev = b.minCur, b.peakCur
		if span >= 2*b.dur(window) { // a silence: the old window is stale
			b.minPrev, b.peakPrev = e, 0
		}
		b.minCur, b.peakCur, b.winStart = e, 0, nowU
	}
	b.minCur = min(b.minCur, e)
	b.minE = min(b.minCur, b.minPrev)

	d := float64(e - b.lastE)
	b.jitter += (max(d, -d) - b.jitter) / 16
	b.lastE = e

	j := e - b.minE
	b.peakCur = max(b.peakCur, j)
	if need := min(j+b.frame, b.maxD); need > b.target {
		b.target = need
		b.lastGrow = nowU
	}
}

// resync re-anchors playout on the packet at ts arriving at nowU, after
// a run of packets that all came too late to play: the timeline was
// anchored on arrivals that no longer hold (a burst of packets stamped
// ahead of real time, say).
func (b *Buffer) resync(nowU, ts int64) {
	e := nowU - ts
	b.minE, b.minCur, b.minPrev, b.winStart = e, e, e, nowU
	b.peakCur, b.peakPrev = 0, 0
	b.target = max(b.target, b.initD)
	b.playing, b.lateStreak = false, 0
	for len(b.queue) > 0 && b.queue[0].ts < b.playedEnd {
		b.drop(0)
	}
	b.stats.Resets++
}

// insert adds e in timestamp order, dropping the oldest on overflow.
func (b *Buffer) insert(e entry) {
	i := len(b.queue)
	for i > 0 && b.queue[i-1].ts > e.ts {
		i--
	}
	b.queue = slices.Insert(b.queue, i, e)
	for len(b.queue) > b.cfg.MaxPackets {
		b.drop(0)
	}
}

// drop discards queue entry i unplayed.
func (b *Buffer) drop(i int) {
	b.stats.Dropped++
	b.consume(i)
}

// consume removes queue entry i and accounts for its sequence number.
func (b *Buffer) consume(i int) {
	e := b.queue[i]
	if e.seq > b.playedSeq {
		if gap := e.seq - b.playedSeq - 1; gap > 0 {
			b.stats.Lost += uint64(gap)
		}
		b.playedSeq = e.seq
	}
	b.free = append(b.free, e.data[:0])
	b.queue = slices.Delete(b.queue, i, i+1)
}

func (b *Buffer) alloc() []byte {
	if n := len(b.free); n > 0 {
		d := b.free[n-1]
		b.free = b.free[:n-1]
		return d
	}
	return make([]byte, 0, 480)
}

// Pop returns the next frame of audio, Config.Frame long, or false when
// there is none to play now: the caller then plays silence or conceals a
// loss. Call it once per frame on the caller's clock. The payload is
// valid until the next call.
func (b *Buffer) Pop(now time.Time) ([]byte, bool) {
	if !b.started {
		return nil, false
	}
	nowU := b.clock(now)
	b.shrink(nowU)
	desired := nowU - b.minE - b.target // the position due now
	if !b.playing {
		if len(b.queue) == 0 || desired < b.queue[0].ts {
			return nil, false
		}
		b.playing, b.head = true, b.queue[0].ts
	}
	F := b.frame
	diff := b.head - desired // > 0: playing with less delay than the target
	next, has := b.nextData()

	if !has || next >= b.head+F {
		// Nothing to play in this frame: a silence or a loss, where the
		// playout point moves for free. It never moves back, which
		// could replay audio: waiting adds delay, skipping ahead
		// (never past audio) removes it.
		if !has {
			if diff < F {
				b.head += max(-diff/F, 0)*F + F
			}
			return nil, false
		}
		// Start the audio at next in the Pop that lands it nearest
		// the target: m Pops from now.
		m := (next - desired + F/2) / F
		if next-desired+F/2 < 0 {
			m = 0
		}
		if m == 0 {
			b.head = next
			return b.emit()
		}
		b.head = max(b.head, next-(m-1)*F)
		return b.empty()
	}

	// Audio is due: change the delay only when it is well off target.
	switch {
	case diff >= F:
		b.stats.Concealed++
		return nil, false // hold back one frame
	case diff <= -(b.maxD + 2*F):
		// Far behind, after a flood or a stall: jump to the target.
		b.head += -diff / F * F
		b.dropBefore(b.head)
	case diff <= -2*F && nowU-b.lastDrop >= b.dur(dropEvery):
		b.head += F // drop one frame
		b.lastDrop = nowU
		b.dropBefore(b.head)
	}
	return b.emit()
}

// nextData is the timeline position of the first audio at or after the
// playout point.
func (b *Buffer) nextData() (int64, bool) {
	for _, e := range b.queue {
		if e.end > b.head {
			return max(e.ts, b.head), true
		}
	}
	return 0, false
}

// empty reports no frame while audio waits in the queue, counting it as
// concealment when packets before that audio are missing.
func (b *Buffer) empty() ([]byte, bool) {
	if len(b.queue) > 0 && b.queue[0].seq > b.playedSeq+1 {
		b.stats.Concealed++
	}
	return nil, false
}

// dropBefore discards the packets that end before pos.
func (b *Buffer) dropBefore(pos int64) {
	for len(b.queue) > 0 && b.queue[0].end <= pos {
		b.drop(0)
	}
}

// emit copies the frame at the playout point out of the queue, fills
// what is missing with silence, and advances.
func (b *Buffer) emit() ([]byte, bool) {
	start, end := b.head, b.head+b.frame
	for i := range b.out {
		b.out[i] = b.cfg.Silence
	}
	have := false
	for i := 0; i < len(b.queue); {
		e := b.queue[i]
		if e.ts >= end {
			break
		}
		if lo, hi := max(e.ts, start), min(e.end, end); hi > lo {
			copy(b.out[(lo-start)/b.unit:], e.data[(lo-e.ts)/b.unit:(hi-e.ts)/b.unit])
			have = true
		}
		if e.end <= end {
			b.consume(i)
			continue
		}
		i++
	}
	b.head = end
	if !have {
		return b.empty()
	}
	b.playedEnd = end
	return b.out, true
}

// shrink lowers the target slowly while no jitter calls for it.
func (b *Buffer) shrink(nowU int64) {
	floor := max(b.minD, min(max(b.peakCur, b.peakPrev)+b.frame, b.maxD))
	if b.target <= floor || nowU-b.lastGrow < b.dur(shrinkAfter) || nowU-b.lastShrink < b.dur(shrinkEvery) {
		return
	}
	b.target = max(floor, b.target-b.frame/2)
	b.lastShrink = nowU
}

// Stats returns the counters and the current delay.
func (b *Buffer) Stats() Stats {
	s := b.stats
	s.Delay = b.time(b.target)
	s.Jitter = b.time(int64(b.jitter))
	if b.started && len(b.queue) > 0 {
		from := b.queue[0].ts
		if b.playing {
			from = b.head
		}
		s.Buffered = b.time(max(0, b.lastEnd-from))
	}
	return s
}
