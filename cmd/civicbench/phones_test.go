package main

import (
	"slices"
	"testing"
	"time"

	"civic/voip/audio/g711"
)

func TestPickPhones(t *testing.T) {
	rest, parts := pickPhones("a,phones,sip")
	if rest != "a,sip" || !slices.Equal(parts, []string{"phones-bridge", "phones-latency"}) {
		t.Fatalf("rest %q parts %v", rest, parts)
	}
	rest, parts = pickPhones("phones-latency,phones-latency")
	if rest != "" || !slices.Equal(parts, []string{"phones-latency"}) {
		t.Fatalf("rest %q parts %v", rest, parts)
	}
}

// TestToneFrame: a 20 ms PCMU frame of 1 kHz is the tone; silence, a
// quiet 1 kHz and another frequency are not.
func TestToneFrame(t *testing.T) {
	dec := func(b []byte) []int16 { return g711.DecodeUlaw(nil, b) }
	if !toneFrame(dec(pcmuTone(1000, 8000, 0)), 8000, 1000) {
		t.Error("a 1 kHz frame is not the tone")
	}
	if !toneFrame(dec(pcmuTone(1000, 8000, 37)), 8000, 1000) {
		t.Error("a 1 kHz frame at another phase is not the tone")
	}
	if toneFrame(dec(pcmuTone(1000, 0, 0)), 8000, 1000) {
		t.Error("silence is the tone")
	}
	if toneFrame(dec(pcmuTone(1000, 300, 0)), 8000, 1000) {
		t.Error("a quiet 1 kHz (under the RMS threshold) is the tone")
	}
	if toneFrame(dec(pcmuTone(440, 8000, 0)), 8000, 1000) {
		t.Error("440 Hz is the tone")
	}
}

// TestOnsetTracker: an onset is a tone frame after at least quiet frames
// without; a short dropout inside a tone is not a new onset.
func TestOnsetTracker(t *testing.T) {
	tr := newOnsetTracker(3)
	frames := "..TTTT.TTT....TT...TT..T"
	for i, c := range frames {
		tr.frame(int64(i*20), c == 'T')
	}
	want := []int64{2 * 20, 14 * 20, 19 * 20}
	if !slices.Equal(tr.Onsets, want) {
		t.Fatalf("onsets %v, want %v", tr.Onsets, want)
	}
	// A tone from the very first frame counts.
	tr = newOnsetTracker(3)
	tr.frame(5, true)
	if !slices.Equal(tr.Onsets, []int64{5}) {
		t.Fatalf("onsets %v", tr.Onsets)
	}
}

func TestMatchOnsets(t *testing.T) {
	ms := func(v ...int) []int64 {
		out := make([]int64, len(v))
		for i, x := range v {
			out[i] = int64(x) * int64(time.Millisecond)
		}
		return out
	}
	// Sent at 1000, 2000, 3000, 4000; heard: a spurious one before the
	// first, 1040, 2055, nothing for 3000 (3700 is too late), 4010.
	lat, missed := matchOnsets(ms(1000, 2000, 3000, 4000), ms(900, 1040, 2055, 3700, 4010), 500*time.Millisecond)
	want := []time.Duration{40 * time.Millisecond, 55 * time.Millisecond, 10 * time.Millisecond}
	if !slices.Equal(lat, want) || missed != 1 {
		t.Fatalf("lat %v missed %d, want %v and 1", lat, missed, want)
	}
	if lat, missed := matchOnsets(ms(1000), nil, time.Second); len(lat) != 0 || missed != 1 {
		t.Fatalf("nothing heard: %v %d", lat, missed)
	}
}

// TestLatencyQuantiles: the p50/p95/max the latency table prints are
// nearest-rank over the matched onsets.
func TestLatencyQuantiles(t *testing.T) {
	var lat []time.Duration
	for i := 20; i >= 1; i-- {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	s := summarize(lat)
	if s.P50 != 10*time.Millisecond || s.P95 != 19*time.Millisecond || s.Max != 20*time.Millisecond || s.N != 20 {
		t.Fatalf("%+v", s)
	}
	if q := quantiles(lat, 1e-9); q[0] != time.Millisecond {
		t.Fatalf("min %v", q[0])
	}
}
