package jitter

import (
	"errors"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/pion/rtp"
)

var t0 = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

// The payload octet n of a stream (counting from its first) is n mod
// 251, so played audio can be checked for order and gaps; the silence
// octet 0xFF is never a payload value.
func payload(n uint64, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte((n + uint64(i)) % 251)
	}
	return b
}

// sender makes a phone's packets.
type sender struct {
	ssrc  uint32
	seq   uint16
	ts    uint32 // RTP timestamp of the next packet
	n     uint64 // octets sent so far
	ptime int    // octets per packet
}

func (s *sender) next() *rtp.Packet {
	p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: s.seq, Timestamp: s.ts, SSRC: s.ssrc}, Payload: payload(s.n, s.ptime)}
	s.seq++
	s.ts += uint32(s.ptime)
	s.n += uint64(s.ptime)
	return p
}

// arrival is a packet in flight.
type arrival struct {
	at  time.Time
	pkt *rtp.Packet
}

// run plays a schedule of arrivals against a 20 ms Pop clock from t0 to
// end and returns what each Pop gave.
func run(t *testing.T, b *Buffer, arrivals []arrival, end time.Duration) [][]byte {
	t.Helper()
	sort.SliceStable(arrivals, func(i, j int) bool { return arrivals[i].at.Before(arrivals[j].at) })
	var out [][]byte
	i := 0
	for tick := time.Duration(0); tick < end; tick += 20 * time.Millisecond {
		now := t0.Add(tick)
		for ; i < len(arrivals) && !arrivals[i].at.After(now); i++ {
			b.Push(arrivals[i].pkt, arrivals[i].at)
		}
		f, ok := b.Pop(now)
		if ok {
			out = append(out, append([]byte(nil), f...))
			if len(f) != b.octets {
				t.Fatalf("frame of %d octets, want %d", len(f), b.octets)
			}
		} else {
			out = append(out, nil)
		}
	}
	return out
}

// check verifies that played audio only moves forward: within a frame and
// from frame to frame, each octet follows the last one played (mod 251)
// or starts after a gap. It returns the octets played and the number of
// discontinuities.
func check(t *testing.T, frames [][]byte) (played, jumps int) {
	t.Helper()
	last := -1
	for fi, f := range frames {
		for _, v := range f {
			if v == 0xFF {
				continue
			}
			if last >= 0 && int(v) != (last+1)%251 {
				jumps++
				if jumps < 5 {
					t.Logf("frame %d: octet %d after %d", fi, v, last)
				}
			}
			last = int(v)
			played++
		}
	}
	return played, jumps
}

func newBuffer(t *testing.T, cfg Config) *Buffer {
	t.Helper()
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// schedule sends n packets every ptime from start with delay(i) transit.
func schedule(s *sender, n int, start time.Duration, delay func(i int) time.Duration) []arrival {
	var a []arrival
	step := time.Duration(s.ptime) * time.Second / 8000
	for i := range n {
		p := s.next()
		if d := delay(i); d >= 0 {
			a = append(a, arrival{t0.Add(start + time.Duration(i)*step + d), p})
		}
	}
	return a
}

func TestSteady(t *testing.T) {
	b := newBuffer(t, Config{})
	s := &sender{ssrc: 1, seq: 100, ts: 5000, ptime: 160}
	frames := run(t, b, schedule(s, 500, 3*time.Millisecond, func(int) time.Duration { return 5 * time.Millisecond }), 10*time.Second+100*time.Millisecond)
	played, jumps := check(t, frames)
	st := b.Stats()
	t.Logf("stats %+v", st)
	if played != 500*160 || jumps != 0 {
		t.Errorf("played %d octets with %d jumps, want %d and 0", played, jumps, 500*160)
	}
	if st.Late+st.Lost+st.Dropped+st.Concealed+st.Resets != 0 || st.Received != 500 {
		t.Errorf("unexpected counters: %+v", st)
	}
	// Continuous from the first frame on.
	first := 0
	for frames[first] == nil {
		first++
	}
	for i := first; i < first+495; i++ {
		if frames[i] == nil {
			t.Fatalf("gap at Pop %d", i)
		}
	}
	if first*20 < 40 || first*20 > 60 {
		t.Errorf("audio starts after %d ms, want the initial 40 ms delay", first*20)
	}
	if st.Delay != 20*time.Millisecond {
		t.Errorf("delay %v after 10 s without jitter, want it shrunk to 20ms", st.Delay)
	}
}

func TestJitterAndReorder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	b := newBuffer(t, Config{})
	s := &sender{ssrc: 7, seq: 1, ts: 0, ptime: 160}
	const n = 1500 // 30 s
	frames := run(t, b, schedule(s, n, 0, func(int) time.Duration {
		return time.Duration(rng.IntN(60)) * time.Millisecond // reorders too
	}), 31*time.Second)
	played, jumps := check(t, frames)
	st := b.Stats()
	t.Logf("played %d octets, %d jumps, stats %+v", played, jumps, st)
	if st.Late > n/100 {
		t.Errorf("%d late packets of %d, want under 1%%", st.Late, n)
	}
	if played < (n-n/50)*160 || jumps > n/50 {
		t.Errorf("played %d octets with %d jumps", played, jumps)
	}
	if st.Delay < 60*time.Millisecond || st.Delay > 100*time.Millisecond {
		t.Errorf("delay %v for 0-60 ms jitter, want 60-100 ms", st.Delay)
	}
	if st.Jitter < 5*time.Millisecond || st.Jitter > 40*time.Millisecond {
		t.Errorf("jitter estimate %v", st.Jitter)
	}
}

func TestLoss(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	b := newBuffer(t, Config{})
	s := &sender{ssrc: 9, ptime: 160}
	lost := 0
	const n = 1000
	frames := run(t, b, schedule(s, n, 0, func(i int) time.Duration {
		if i > 0 && i < n-1 && rng.IntN(10) == 0 {
			lost++
			return -1
		}
		return 10 * time.Millisecond
	}), 21*time.Second)
	played, jumps := check(t, frames)
	st := b.Stats()
	t.Logf("lost %d, stats %+v", lost, st)
	if int(st.Lost) != lost || st.Late != 0 {
		t.Errorf("counted %d lost and %d late, want %d and 0", st.Lost, st.Late, lost)
	}
	// Each lost packet is a frame to conceal, unless the buffer used the
	// gap to cut its delay, or the loss was at the end of what had
	// arrived, which looks the same as a pause in speech.
	if int(st.Concealed) > lost || int(st.Concealed) < lost*85/100 {
		t.Errorf("concealed %d frames, want about %d", st.Concealed, lost)
	}
	if played != (n-lost)*160 || jumps > lost {
		t.Errorf("played %d octets with %d jumps, want %d", played, jumps, (n-lost)*160)
	}
}

func TestWrap(t *testing.T) {
	b := newBuffer(t, Config{})
	s := &sender{ssrc: 3, seq: 65500, ts: 1<<32 - 160*40, ptime: 160}
	frames := run(t, b, schedule(s, 200, 0, func(i int) time.Duration {
		return time.Duration(i%3) * 15 * time.Millisecond
	}), 4100*time.Millisecond)
	played, jumps := check(t, frames)
	st := b.Stats()
	if played != 200*160 || jumps != 0 || st.Resets != 0 || st.Late != 0 {
		t.Errorf("across the wrap: played %d, jumps %d, stats %+v", played, jumps, st)
	}
}

func TestDuplicates(t *testing.T) {
	b := newBuffer(t, Config{})
	s := &sender{ssrc: 4, ptime: 160}
	a := schedule(s, 100, 0, func(int) time.Duration { return 5 * time.Millisecond })
	for _, x := range a[:len(a):len(a)] {
		a = append(a, arrival{x.at.Add(30 * time.Millisecond), x.pkt}) // again, later
	}
	frames := run(t, b, a, 2200*time.Millisecond)
	played, jumps := check(t, frames)
	st := b.Stats()
	if played != 100*160 || jumps != 0 || st.Duplicates != 100 || st.Late != 0 {
		t.Errorf("played %d, jumps %d, stats %+v", played, jumps, st)
	}
}

func TestSSRCChange(t *testing.T) {
	b := newBuffer(t, Config{})
	a := schedule(&sender{ssrc: 1, seq: 10, ts: 10, ptime: 160}, 50, 0, func(int) time.Duration { return 0 })
	a = append(a, schedule(&sender{ssrc: 2, seq: 40000, ts: 3e9, ptime: 160}, 50, time.Second, func(int) time.Duration { return 0 })...)
	frames := run(t, b, a, 2200*time.Millisecond)
	st := b.Stats()
	// The first stream's last frames go with it; the second plays whole
	// from its start, after its own initial delay.
	playedA, _ := check(t, frames[:52])
	playedB, jumps := check(t, frames[52:])
	if st.Resets != 1 || playedA < 48*160 || playedB != 50*160 || jumps != 0 {
		t.Errorf("played %d and %d octets, stats %+v", playedA, playedB, st)
	}
}

// TestTimestampJump sends a stream whose timestamps jump with no matching
// gap in time (a re-based sender clock), forward then backward: the audio
// must carry on without a stall or a burst of losses.
func TestTimestampJump(t *testing.T) {
	b := newBuffer(t, Config{})
	s := &sender{ssrc: 5, seq: 1, ts: 1000, ptime: 160}
	a := schedule(s, 50, 0, func(int) time.Duration { return 0 })
	s.ts += 50_000_000 // forward, about 1.7 hours
	a = append(a, schedule(s, 50, time.Second, func(int) time.Duration { return 0 })...)
	s.ts -= 90_000_000 // backward
	a = append(a, schedule(s, 50, 2*time.Second, func(int) time.Duration { return 0 })...)
	frames := run(t, b, a, 3200*time.Millisecond)
	st := b.Stats()
	var got int
	for _, f := range frames {
		if f != nil {
			got++
		}
	}
	t.Logf("frames %d, stats %+v", got, st)
	if got < 148 || st.Resets != 2 || st.Late != 0 || st.Dropped > 2 {
		t.Errorf("played %d frames of 150, stats %+v", got, st)
	}
}

// TestDTX sends talk, two seconds without packets (the timestamps move on,
// the sequence numbers do not), then talk again.
func TestDTX(t *testing.T) {
	b := newBuffer(t, Config{})
	s := &sender{ssrc: 6, ptime: 160}
	a := schedule(s, 50, 0, func(int) time.Duration { return 10 * time.Millisecond })
	s.ts += 2 * 8000
	a = append(a, schedule(s, 50, 3*time.Second, func(int) time.Duration { return 10 * time.Millisecond })...)
	frames := run(t, b, a, 4200*time.Millisecond)
	played, _ := check(t, frames)
	st := b.Stats()
	silent := 0
	for _, f := range frames[60:140] {
		if f == nil {
			silent++
		}
	}
	if played != 100*160 || st.Lost != 0 || st.Concealed != 0 || st.Late != 0 || silent < 75 {
		t.Errorf("played %d, %d silent Pops in the pause, stats %+v", played, silent, st)
	}
	// The second talk spurt starts the target delay after it arrives.
	for i := 150; i < len(frames); i++ {
		if frames[i] != nil {
			if start := time.Duration(i) * 20 * time.Millisecond; start < 3030*time.Millisecond || start > 3080*time.Millisecond {
				t.Errorf("second talk spurt plays at %v, want about 3.05 s", start)
			}
			break
		}
	}
}

func TestFlood(t *testing.T) {
	b := newBuffer(t, Config{})
	s := &sender{ssrc: 8, ptime: 160}
	var a []arrival
	for range 500 {
		a = append(a, arrival{t0.Add(time.Millisecond), s.next()}) // ten seconds at once
	}
	a = append(a, schedule(s, 100, 0, func(int) time.Duration { return 10 * time.Second })...)
	frames := run(t, b, a, 13*time.Second)
	st := b.Stats()
	if len(b.queue) > b.cfg.MaxPackets {
		t.Errorf("%d packets held", len(b.queue))
	}
	if st.Dropped < 500-64 {
		t.Errorf("dropped %d, stats %+v", st.Dropped, st)
	}
	// After the flood the live packets play with a bounded delay.
	if st.Buffered > 300*time.Millisecond {
		t.Errorf("buffered %v after the flood", st.Buffered)
	}
	played, _ := check(t, frames[500:])
	if played < 90*160 {
		t.Errorf("played %d octets of the live stream after the flood", played)
	}
}

// TestPtime checks that 10, 30 and 60 ms packets come out as 20 ms frames.
func TestPtime(t *testing.T) {
	for _, pt := range []int{80, 240, 480} {
		b := newBuffer(t, Config{})
		s := &sender{ssrc: 1, ptime: pt}
		n := 8000 * 4 / pt
		frames := run(t, b, schedule(s, n, 0, func(i int) time.Duration { return time.Duration(i%2) * 7 * time.Millisecond }), 4500*time.Millisecond)
		played, jumps := check(t, frames)
		st := b.Stats()
		if played != n*pt || jumps != 0 || st.Late != 0 {
			t.Errorf("ptime %d ms: played %d of %d, jumps %d, stats %+v", pt/8, played, n*pt, jumps, st)
		}
	}
}

// TestSpike delays a run of packets by 150 ms: the target grows to cover
// it and, once the network is calm again, shrinks back.
func TestSpike(t *testing.T) {
	b := newBuffer(t, Config{})
	s := &sender{ssrc: 2, ptime: 160}
	frames := run(t, b, schedule(s, 1500, 0, func(i int) time.Duration {
		if i >= 200 && i < 206 {
			return 150 * time.Millisecond
		}
		return 5 * time.Millisecond
	}), 30*time.Second)
	st := b.Stats()
	t.Logf("stats %+v", st)
	if st.Late == 0 || st.Late > 6 {
		t.Errorf("late %d, want the spike's packets", st.Late)
	}
	if st.Delay > 40*time.Millisecond {
		t.Errorf("delay %v long after the spike, want it shrunk back", st.Delay)
	}
	// The spike's packets are lost; growing the delay holds back a few
	// frames and cutting it again, with no pause to hide it in (the
	// stream is one long talk spurt), drops as many.
	played, _ := check(t, frames)
	if played < 1475*160 || st.Concealed > 10 || st.Dropped > 10 {
		t.Errorf("played %d, stats %+v", played, st)
	}
}

// TestDrift runs a phone whose clock is 0.5% fast, then one 0.5% slow,
// against our 20 ms ticks for a minute.
func TestDrift(t *testing.T) {
	for _, skew := range []float64{0.995, 1.005} {
		b := newBuffer(t, Config{})
		s := &sender{ssrc: 1, ptime: 160}
		var a []arrival
		for i := range 3000 {
			at := time.Duration(float64(i) * float64(20*time.Millisecond) * skew)
			a = append(a, arrival{t0.Add(at + 5*time.Millisecond), s.next()})
		}
		frames := run(t, b, a, 61*time.Second)
		played, _ := check(t, frames)
		st := b.Stats()
		t.Logf("skew %v: played %d, stats %+v", skew, played, st)
		// A fast phone costs the frames it sends in excess (0.5% of a
		// minute, 15), a slow one nothing but a few late packets.
		if st.Buffered > 150*time.Millisecond || st.Late > 20 || st.Dropped > 20 || played < 2970*160 {
			t.Errorf("skew %v: played %d, stats %+v", skew, played, st)
		}
	}
}

func TestG722Clock(t *testing.T) {
	// A phone that (wrongly, but some do) runs G.722's RTP clock at
	// 16 kHz: two clock units per octet.
	b := newBuffer(t, Config{ClockRate: 16000})
	s := &sender{ssrc: 1, ptime: 160}
	var a []arrival
	for i := range 100 {
		p := s.next()
		p.Timestamp = uint32(i * 320)
		a = append(a, arrival{t0.Add(time.Duration(i) * 20 * time.Millisecond), p})
	}
	frames := run(t, b, a, 2200*time.Millisecond)
	n := 0
	for _, f := range frames {
		if f != nil {
			n++
			if len(f) != 160 {
				t.Fatalf("frame of %d octets", len(f))
			}
		}
	}
	if n != 100 {
		t.Errorf("played %d frames of 100, stats %+v", n, b.Stats())
	}
}

func TestConfig(t *testing.T) {
	bad := []Config{
		{ClockRate: 8000, OctetRate: 3000},
		{Frame: time.Microsecond},
		{Frame: 1100 * time.Microsecond}, // 8.8 octets
		{MinDelay: time.Second},
		{InitialDelay: time.Second},
		{MaxPackets: 1},
		{ClockRate: 7},
	}
	for _, c := range bad {
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v): %v, want ErrConfig", c, err)
		}
	}
	b := newBuffer(t, Config{})
	if _, ok := b.Pop(t0); ok {
		t.Error("frame from an empty buffer")
	}
	b.Push(nil, t0)
	b.Push(&rtp.Packet{}, t0)
	if b.Stats().Received != 0 {
		t.Error("empty packets accepted")
	}
}
