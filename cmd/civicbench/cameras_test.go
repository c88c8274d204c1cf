package main

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"civic/building/cameras/h264"
)

func TestQuantiles(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100..1, unsorted
	}
	tests := []struct {
		name    string
		samples []time.Duration
		qs      []float64
		want    []time.Duration
	}{
		{"none", nil, []float64{0.5, 0.99}, ms(0, 0)},
		{"one", ms(7), []float64{0.01, 0.5, 1}, ms(7, 7, 7)},
		{"two", ms(9, 1), []float64{0.5, 0.51, 1}, ms(1, 9, 9)},
		{"hundred", ms(hundred...), []float64{0.5, 0.95, 0.99, 1}, ms(50, 95, 99, 100)},
		{"twenty runs", ms(20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1), []float64{0.5, 0.95}, ms(10, 19)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := slices.Clone(tt.samples)
			if got := quantiles(tt.samples, tt.qs...); !slices.Equal(got, tt.want) {
				t.Errorf("quantiles = %v, want %v", got, tt.want)
			}
			if !slices.Equal(tt.samples, orig) {
				t.Error("quantiles changed its input")
			}
		})
	}
	s := summarize(ms(hundred...))
	if s.N != 100 || s.P50 != 50*time.Millisecond || s.P95 != 95*time.Millisecond || s.P99 != 99*time.Millisecond || s.Max != 100*time.Millisecond {
		t.Errorf("summarize = %+v", s)
	}
}

func TestStampLog(t *testing.T) {
	base := time.Now()
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	l := newStampLog(3)
	l.sent(1000, at(0))
	l.sent(1000, at(2))
	l.sent(1000, at(5)) // the picture's last packet
	l.sent(7000, at(66))
	if m, ok := l.lookup(1000); !ok || !m.First.Equal(at(0)) || !m.Last.Equal(at(5)) {
		t.Errorf("lookup(1000) = %v, %v; want first +0 ms, last +5 ms", m, ok)
	}
	if _, ok := l.lookup(4000); ok {
		t.Error("lookup(4000) found a picture never sent")
	}
	// Two more pictures push the oldest out of a log of three.
	l.sent(13000, at(133))
	l.sent(19000, at(200))
	if _, ok := l.lookup(1000); ok {
		t.Error("the oldest picture is still kept past the log's size")
	}
	for _, ts := range []uint32{7000, 13000, 19000} {
		if _, ok := l.lookup(ts); !ok {
			t.Errorf("lookup(%d) lost a recent picture", ts)
		}
	}
	// A packet of a kept picture moves its last time only.
	l.sent(7000, at(70))
	if m, _ := l.lookup(7000); !m.First.Equal(at(66)) || !m.Last.Equal(at(70)) {
		t.Errorf("lookup(7000) = %v; want first +66 ms, last +70 ms", m)
	}
	if got := l.count(camWindow{From: at(100), To: at(200)}); got != 1 {
		t.Errorf("count([100, 200) ms) = %d, want 1 (the window is half open)", got)
	}
	if got := l.count(camWindow{From: at(0)}); got != 3 {
		t.Errorf("count(from 0, open) = %d, want 3", got)
	}
	if got := l.count(camWindow{}); got != 0 {
		t.Errorf("count(no window) = %d, want 0", got)
	}
}

func TestStampLogConcurrent(t *testing.T) {
	l := newStampLog(50)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				l.sent(uint32(i*6000), time.Now())
				l.lookup(uint32((i - g) * 6000))
			}
		})
	}
	wg.Wait()
	if got := l.count(camWindow{From: time.Now().Add(-time.Hour)}); got != 50 {
		t.Errorf("kept %d pictures, want 50", got)
	}
}

func TestFirstSeen(t *testing.T) {
	var f firstSeen
	steps := []struct {
		ts   uint32
		want bool
	}{
		{0, true}, // a timestamp of 0 is a picture like any other
		{0, false},
		{6000, true},
		{6000, false},
		{0, false}, // a late packet of the picture before
		{12000, true},
		{6000, false},
	}
	for i, s := range steps {
		if got := f.first(s.ts); got != s.want {
			t.Errorf("step %d: first(%d) = %v, want %v", i, s.ts, got, s.want)
		}
	}
	// After 64 newer pictures the oldest is forgotten.
	for i := range 64 {
		f.first(uint32(100000 + i))
	}
	if !f.first(0) {
		t.Error("a timestamp 64 pictures old is still remembered")
	}
}

func TestCamWindow(t *testing.T) {
	t0 := time.Now()
	tests := []struct {
		w    camWindow
		at   time.Time
		want bool
	}{
		{camWindow{}, t0, false},
		{camWindow{From: t0}, t0, true},
		{camWindow{From: t0}, t0.Add(-time.Nanosecond), false},
		{camWindow{From: t0}, t0.Add(time.Hour), true},
		{camWindow{From: t0, To: t0.Add(time.Second)}, t0.Add(time.Second), false},
		{camWindow{From: t0, To: t0.Add(time.Second)}, t0.Add(999 * time.Millisecond), true},
	}
	for i, tt := range tests {
		if got := tt.w.has(tt.at); got != tt.want {
			t.Errorf("%d: has = %v, want %v", i, got, tt.want)
		}
	}
}

func TestBehind(t *testing.T) {
	tests := []struct {
		got, sent int
		lost      uint64
		want      bool
	}{
		{150, 150, 0, false},
		{148, 150, 0, false}, // the window's edges
		{141, 150, 0, false},
		{139, 150, 0, true},
		{150, 150, 1, true},
		{0, 0, 0, false},
	}
	for _, tt := range tests {
		if got := behind(tt.got, tt.sent, tt.lost); got != tt.want {
			t.Errorf("behind(%d, %d, %d) = %v, want %v", tt.got, tt.sent, tt.lost, got, tt.want)
		}
	}
}

// TestViewerMatchesSendTimes feeds a viewer the packets civicd would
// send for the test clip (new SSRC and sequence numbers, the camera's
// timestamps) and checks what it counts in and out of the window.
func TestViewerMatchesSendTimes(t *testing.T) {
	clip, err := loadClip(repoClip(), 15)
	if err != nil {
		t.Fatal(err)
	}
	log := newStampLog(100)
	v := &camViewer{log: log, key: make(chan struct{}), end: make(chan struct{})}
	asm := h264.NewAssembler(0)
	pack := h264.NewPacketizer(1200, 102, 0xbeef)
	base := time.Now()
	const ts0 = 0xfffff000 // the timestamps wrap in the middle
	send := func(i int) (uint32, time.Time) {
		ts := uint32(ts0) + uint32(i)*6000
		at := base.Add(time.Duration(i) * time.Second / 15)
		log.sent(ts, at)
		log.sent(ts, at.Add(time.Millisecond))
		return ts, at
	}
	win := camWindow{From: base.Add(10 * time.Second / 15), To: base.Add(40 * time.Second / 15)} // pictures 10..39
	v.measure(camWindow{From: win.From})
	for i := range 50 {
		if i == 40 {
			v.endWindow(win.To)
		}
		ts, at := send(i)
		au := clip.AUs[i%len(clip.AUs)]
		au.Timestamp = ts
		for k, p := range pack.Packetize(au) {
			v.packet(at.Add(5*time.Millisecond+time.Duration(k)*time.Microsecond), p, asm)
		}
	}
	c := v.counts()
	if c.Pics != 30 || c.Keys != 1 || c.Lost != 0 || c.Broken != 0 {
		t.Errorf("pictures %d, keyframes %d, lost %d, broken %d; want 30, 1 (picture 30), 0, 0", c.Pics, c.Keys, c.Lost, c.Broken)
	}
	if len(c.Lat) != 30 || len(c.LatLast) != 30 {
		t.Fatalf("latency samples %d and %d, want 30 each (one per picture)", len(c.Lat), len(c.LatLast))
	}
	for i := range c.Lat {
		if c.Lat[i] != 5*time.Millisecond || c.LatLast[i] != 4*time.Millisecond {
			t.Fatalf("sample %d: %v from the first packet, %v from the last; want 5 ms and 4 ms", i, c.Lat[i], c.LatLast[i])
		}
	}
	if c.Pkts == 0 || c.Bytes == 0 {
		t.Errorf("packets %d, bytes %d; want some", c.Pkts, c.Bytes)
	}
	if tm := v.times(); tm.FirstKey.IsZero() || tm.FirstPacket.IsZero() {
		t.Errorf("first keyframe %v, first packet %v: want both set", tm.FirstKey, tm.FirstPacket)
	}
	select {
	case <-v.key:
	default:
		t.Error("the first-keyframe channel is still open")
	}
	// A lost packet in the window counts.
	v.measure(camWindow{From: base})
	ts, at := send(50)
	au := clip.AUs[50%len(clip.AUs)]
	au.Timestamp = ts
	pack.Packetize(au) // a whole picture's packets never arrive
	ts, at = send(51)
	au = clip.AUs[51%len(clip.AUs)]
	au.Timestamp = ts
	for _, p := range pack.Packetize(au) {
		v.packet(at, p, asm)
	}
	if c := v.counts(); c.Lost == 0 {
		t.Errorf("lost %d after a gap in sequence numbers, want some", c.Lost)
	}
}

func TestLoadClip(t *testing.T) {
	c, err := loadClip(repoClip(), 15)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.AUs) != 60 || c.Width != 640 || c.Height != 360 || c.GOP != 2*time.Second || c.Kbps <= 0 {
		t.Errorf("clip: %d pictures, %dx%d, keyframe every %s, %d kbit/s; want 60, 640x360, 2s", len(c.AUs), c.Width, c.Height, c.GOP, c.Kbps)
	}
	if !strings.HasPrefix(c.Profile, "42") {
		t.Errorf("profile-level-id %q, want baseline (42...)", c.Profile)
	}
	sdp := c.sdp()
	for _, want := range []string{"m=video 0 RTP/AVP 96", "H264/90000", "packetization-mode=1", "sprop-parameter-sets="} {
		if !strings.Contains(sdp, want) {
			t.Errorf("SDP %q lacks %q", sdp, want)
		}
	}
}

// TestCamSourcePlays runs the camera for a third of a second: pictures
// go out 1/15 s apart with timestamps 6000 apart, every one logged.
func TestCamSourcePlays(t *testing.T) {
	clip, err := loadClip(repoClip(), 15)
	if err != nil {
		t.Fatal(err)
	}
	log := newStampLog(100)
	s := newCamSource(clip, log)
	ctx, cancel := context.WithTimeout(context.Background(), 330*time.Millisecond)
	defer cancel()
	var stamps []uint32
	_ = s.play(ctx, func(p *rtp.Packet) error {
		if len(stamps) == 0 || stamps[len(stamps)-1] != p.Timestamp {
			stamps = append(stamps, p.Timestamp)
		}
		return nil
	})
	if len(stamps) < 2 || len(stamps) > 6 {
		t.Fatalf("%d pictures in 330 ms at 15 fps, want about 5", len(stamps))
	}
	for i := 1; i < len(stamps); i++ {
		if d := stamps[i] - stamps[i-1]; d != 6000 {
			t.Errorf("timestamp step %d, want 6000", d)
		}
	}
	for _, ts := range stamps {
		if m, ok := log.lookup(ts); !ok || m.Last.Before(m.First) {
			t.Errorf("picture %d: logged %v, %v", ts, m, ok)
		}
	}
}

func TestSecondKeyframe(t *testing.T) {
	const gop = 2 * time.Second
	ms := func(v int) time.Duration { return time.Duration(v) * time.Millisecond }
	tests := []struct {
		run  ffRun
		want bool
	}{
		{ffRun{Total: ms(900), FirstPacket: ms(899)}, false},                // the first packet began the keyframe
		{ffRun{Total: ms(2900), FirstPacket: ms(1100)}, true},               // a Go viewer got packets a keyframe interval early
		{ffRun{Total: ms(1500), FirstPacket: ms(1100), PLIs: 2}, true},      // Chromium asked for a keyframe
		{ffRun{Total: ms(1900), FirstPacket: ms(1000), Packets: 14}, false}, // within half an interval
		{ffRun{Total: ms(2001), FirstPacket: ms(1000), Packets: 120}, true}, // over half an interval
	}
	for i, tt := range tests {
		if got := tt.run.secondKeyframe(gop); got != tt.want {
			t.Errorf("%d: secondKeyframe(%+v) = %v, want %v", i, tt.run, got, tt.want)
		}
	}
}

func TestPickCameras(t *testing.T) {
	tests := []struct {
		in, rest string
		parts    []string
	}{
		{"cameras", "", []string{"cameras-viewers", "cameras-health", "cameras-first-frame"}},
		{"a,cameras-health", "a", []string{"cameras-health"}},
		{"cameras-first-frame,cameras", "", []string{"cameras-first-frame", "cameras-viewers", "cameras-health"}},
		{"sip,building", "sip,building", nil},
	}
	for _, tt := range tests {
		rest, parts := pickCameras(tt.in)
		if rest != tt.rest || !slices.Equal(parts, tt.parts) && !(len(parts) == 0 && len(tt.parts) == 0) {
			t.Errorf("pickCameras(%q) = %q, %v; want %q, %v", tt.in, rest, parts, tt.rest, tt.parts)
		}
	}
}

func TestParseMetrics(t *testing.T) {
	in := `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 1234
go_gc_duration_seconds{quantile="0.5"} 0.001
process_resident_memory_bytes 5.4e+07
`
	m, err := parseMetrics(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if m["go_goroutines"] != 1234 || m["process_resident_memory_bytes"] != 5.4e7 || len(m) != 2 {
		t.Errorf("parseMetrics = %v", m)
	}
}

func TestStatesText(t *testing.T) {
	if got, want := statesText(map[string]int{"online": 200}, 200), "**200 online** of 200"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got := statesText(map[string]int{"online": 197, "offline": 2, "degraded": 1}, 200)
	if want := "**197 online** of 200 (1 degraded, 2 offline)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
