package conference

import (
	"testing"
	"time"
)

// fakeEstimator is a bandwidth estimate the test sets.
type fakeEstimator struct {
	rate  int
	usage string
	loss  float64
}

func (f *fakeEstimator) GetTargetBitrate() int { return f.rate }
func (f *fakeEstimator) GetStats() map[string]any {
	return map[string]any{"usage": f.usage, "averageLoss": f.loss}
}

// allocFixture is one subscriber of one three-layer track, with measured
// layer rates of 150, 500 and 1500 kbit/s, and no peer connections.
func allocFixture(est *fakeEstimator) (*Participant, *downTrack) {
	owner := &Participant{id: "pub", done: make(chan struct{})}
	close(owner.done) // no keyframe request loops
	t := &forwardTrack{owner: owner, id: "cam", streamID: "pub", video: true}
	for i, rate := range []int{150_000, 500_000, 1_500_000} {
		t.layers = append(t.layers, &layer{t: t, rid: []string{"q", "h", "f"}[i], index: i, knownRate: rate})
	}
	sub := &Participant{id: "sub", est: est, downs: map[*forwardTrack]*downTrack{}}
	d := newDownTrack(t, sub)
	sub.downs[t] = d
	return sub, d
}

func TestAllocatorStepsUpAndBacksOff(t *testing.T) {
	est := &fakeEstimator{rate: 1_000_000, usage: "normal"}
	sub, d := allocFixture(est)
	now := time.Now()
	step := func(after time.Duration, want int32, why string) {
		t.Helper()
		now = now.Add(after)
		sub.allocate(now, true)
		if got := d.target.Load(); got != want {
			t.Fatalf("%s: layer %d, want %d", why, got, want)
		}
	}
	step(0, 1, "a new track starts in the best layer within the 1 Mbit/s estimate")
	step(allocTick, 1, "no step up while the first layer settles")
	step(probeHold, 2, "a calm link gets one step up")

	est.usage, est.rate = "overuse", 300_000
	step(allocTick, 0, "congestion: down to what fits the estimate")
	est.usage = "normal"
	step(allocTick, 0, "no step up during the hold-off")
	step(backoffMin, 1, "after the hold-off, one step up")

	est.loss = 0.2
	step(allocTick, 0, "heavy loss counts as congestion")
	est.loss = 0
	step(backoffMin, 0, "the second hold-off is twice as long")
	step(backoffMin+allocTick, 1, "and then it steps up again")
}

func TestAllocatorFollowsViewAndCap(t *testing.T) {
	est := &fakeEstimator{rate: 10_000_000, usage: "normal"}
	sub, d := allocFixture(est)
	now := time.Now()
	check := func(want int32, why string) {
		t.Helper()
		now = now.Add(probeHold + allocTick)
		sub.allocate(now, true)
		if got := d.target.Load(); got != want {
			t.Fatalf("%s: layer %d, want %d", why, got, want)
		}
	}
	check(2, "no view reported: the top layer")
	sub.views = map[string]View{"pub": {Stream: "pub", Width: 320, Height: 180}}
	check(0, "a 320x180 tile gets the 320x180 layer")
	sub.views["pub"] = View{Stream: "pub", Width: 600, Height: 338}
	check(1, "a 600x338 tile gets the 640x360 layer")
	sub.views["pub"] = View{Stream: "pub"}
	check(-1, "a hidden tile gets nothing")
	sub.views["pub"] = View{Stream: "pub", Width: 1920, Height: 1080}
	sub.maxRate = 200_000
	check(0, "capped at 200 kbit/s: the low layer")
	sub.maxRate = 0
	check(1, "the cap lifted: one step")
	check(2, "and another")
}

func TestLayerSizeFromKeyframe(t *testing.T) {
	// A VP8 keyframe of 640x360 after a one-byte payload descriptor.
	pkt := []byte{0x10, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01}
	w, h, ok := vp8Size(pkt)
	if !ok || w != 640 || h != 360 {
		t.Fatalf("vp8Size = %d, %d, %v; want 640, 360, true", w, h, ok)
	}
	if _, _, ok := vp8Size(pkt[:8]); ok {
		t.Error("a truncated keyframe gave a size")
	}
	if !isH264KeyframePayload([]byte{0x65, 0x88}) || isH264KeyframePayload([]byte{0x41, 0x9a}) {
		t.Error("H.264: an IDR slice is a keyframe, a P slice is not")
	}
	stap := []byte{0x18, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}
	if !isH264KeyframePayload(stap) {
		t.Error("H.264: a STAP-A with an SPS starts a keyframe")
	}
	if !isH264KeyframePayload([]byte{0x7c, 0x85, 0x00}) || isH264KeyframePayload([]byte{0x7c, 0x05, 0x00}) {
		t.Error("H.264: only the first FU-A fragment of an IDR starts a keyframe")
	}
}
