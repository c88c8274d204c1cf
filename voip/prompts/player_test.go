package prompts

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// ramp returns n samples counting up from start, so that any misplaced
// sample shows.
func ramp(start, n int) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(start + i)
	}
	return s
}

// playAll returns a copy of every frame p gives.
func playAll(t *testing.T, p *Player) [][]int16 {
	t.Helper()
	var frames [][]int16
	for {
		f, ok := p.Next()
		if !ok {
			if f != nil {
				t.Fatal("Next returned a frame with ok false")
			}
			return frames
		}
		frames = append(frames, slices.Clone(f))
		if len(frames) > 1e6 {
			t.Fatal("Player does not end")
		}
	}
}

// TestPlayerFrames checks that the frames are exactly FrameSamples long and
// cover exactly the clips, back to back, with silence only at the end.
func TestPlayerFrames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rate  int
		clips [][]int16
	}{
		{"no clips", 8000, nil},
		{"only empty clips", 8000, [][]int16{nil, {}}},
		{"one sample", 8000, [][]int16{ramp(1, 1)}},
		{"one frame less one", 8000, [][]int16{ramp(1, 159)}},
		{"one frame", 8000, [][]int16{ramp(1, 160)}},
		{"one frame and one", 8000, [][]int16{ramp(1, 161)}},
		{"clips across frames", 8000, [][]int16{ramp(1, 100), ramp(101, 100), nil, ramp(201, 1), ramp(202, 500)}},
		{"many tiny clips", 8000, [][]int16{ramp(1, 1), ramp(2, 1), ramp(3, 1), ramp(4, 2)}},
		{"16 kHz", 16000, [][]int16{ramp(1, 320), ramp(321, 321)}},
		{"16 kHz with a gap", 16000, [][]int16{ramp(1, 1000), Silence(16000, 100*time.Millisecond), ramp(1001, 7)}},
		{"48 kHz", 48000, [][]int16{ramp(1, 2000)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPlayer(tc.rate, tc.clips...)
			if err != nil {
				t.Fatal(err)
			}
			frameLen := tc.rate / 50
			var want []int16
			for _, c := range tc.clips {
				want = append(want, c...)
			}
			if d := time.Duration((len(want)+frameLen-1)/frameLen) * FrameDuration; p.Remaining() != d {
				t.Errorf("Remaining() = %v before playing, want %v", p.Remaining(), d)
			}
			frames := playAll(t, p)
			if wantFrames := (len(want) + frameLen - 1) / frameLen; len(frames) != wantFrames {
				t.Errorf("%d frames, want %d", len(frames), wantFrames)
			}
			var got []int16
			for i, f := range frames {
				if len(f) != frameLen {
					t.Errorf("frame %d has %d samples, want %d", i, len(f), frameLen)
				}
				got = append(got, f...)
			}
			want = append(want, make([]int16, len(got)-min(len(got), len(want)))...)
			if !slices.Equal(got, want) {
				t.Errorf("frames do not cover the clips:\n got %v\nwant %v", got, want)
			}
			if _, ok := p.Next(); ok {
				t.Error("Next gave a frame after the end")
			}
			if p.Remaining() != 0 {
				t.Errorf("Remaining() = %v at the end", p.Remaining())
			}
		})
	}
}

// TestPlayerPrompts plays real prompts with a gap at both rates.
func TestPlayerPrompts(t *testing.T) {
	for _, rate := range Rates() {
		t.Run(fmt.Sprint(rate), func(t *testing.T) {
			welcome := mustGet(t, Chinese, Welcome, rate)
			pin := mustGet(t, Chinese, EnterPIN, rate)
			gap := Silence(rate, 300*time.Millisecond)
			p, err := NewPlayer(rate, welcome, gap, pin)
			if err != nil {
				t.Fatal(err)
			}
			frames := playAll(t, p)
			want := slices.Concat(welcome, gap, pin)
			var got []int16
			for _, f := range frames {
				if len(f) != FrameSamples(rate) {
					t.Fatalf("frame of %d samples, want %d", len(f), FrameSamples(rate))
				}
				got = append(got, f...)
			}
			if pad := len(got) - len(want); pad < 0 || pad >= FrameSamples(rate) ||
				!slices.Equal(got[:len(want)], want) || slices.ContainsFunc(got[len(want):], func(s int16) bool { return s != 0 }) {
				t.Errorf("%d samples in %d frames do not cover the %d of the prompts", len(got), len(frames), len(want))
			}
		})
	}
}

func TestFrameSamples(t *testing.T) {
	for _, tc := range []struct{ rate, want int }{{8000, 160}, {16000, 320}, {48000, 960}} {
		if got := FrameSamples(tc.rate); got != tc.want {
			t.Errorf("FrameSamples(%d) = %d, want %d", tc.rate, got, tc.want)
		}
	}
}

func TestNewPlayerRate(t *testing.T) {
	for _, rate := range []int{0, -8000, 8001, 44110, MaxWAVRate + 50} {
		if p, err := NewPlayer(rate, ramp(0, 10)); !errors.Is(err, ErrRate) || p != nil {
			t.Errorf("NewPlayer(%d) = %v, %v; want %v", rate, p, err, ErrRate)
		}
	}
}

func TestPlayerInterrupt(t *testing.T) {
	p, err := NewPlayer(8000, ramp(0, 1000))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Next(); !ok {
		t.Fatal("no first frame")
	}
	if p.Interrupted() {
		t.Fatal("interrupted before Interrupt")
	}
	p.Interrupt()
	p.Interrupt()
	if f, ok := p.Next(); ok || f != nil {
		t.Errorf("Next after Interrupt = %d samples, %v", len(f), ok)
	}
	if !p.Interrupted() || p.Remaining() != 0 {
		t.Errorf("Interrupted() = %v, Remaining() = %v", p.Interrupted(), p.Remaining())
	}
}

// TestPlayerInterruptConcurrent interrupts from another goroutine while
// Next runs, as the DTMF handler does; run with -race.
func TestPlayerInterruptConcurrent(t *testing.T) {
	p, err := NewPlayer(8000, make([]int16, 8000*600))
	if err != nil {
		t.Fatal(err)
	}
	keyed := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		<-keyed
		p.Interrupt()
	})
	n := 0
	for {
		if _, ok := p.Next(); !ok {
			break
		}
		if n++; n == 100 {
			close(keyed)
		}
		if n > 8000*600/160 {
			t.Fatal("Next went on after Interrupt")
		}
	}
	wg.Wait()
	if n < 100 {
		t.Errorf("stopped after %d frames, before Interrupt", n)
	}
}

func TestSilence(t *testing.T) {
	for _, tc := range []struct {
		rate int
		d    time.Duration
		want int
	}{
		{8000, 20 * time.Millisecond, 160},
		{16000, 500 * time.Millisecond, 8000},
		{8000, 0, 0},
		{8000, -time.Second, 0},
		{0, time.Second, 0},
		{-8000, time.Second, 0},
		{8000, time.Hour, 8000 * 10},
		{1 << 40, time.Second, 0},
	} {
		s := Silence(tc.rate, tc.d)
		if len(s) != tc.want || slices.ContainsFunc(s, func(v int16) bool { return v != 0 }) {
			t.Errorf("Silence(%d, %v) = %d samples, want %d zeros", tc.rate, tc.d, len(s), tc.want)
		}
	}
}

func BenchmarkPlayerNext(b *testing.B) {
	clip := make([]int16, 16000*3)
	for b.Loop() {
		p, err := NewPlayer(16000, clip, clip)
		if err != nil {
			b.Fatal(err)
		}
		for _, ok := p.Next(); ok; _, ok = p.Next() {
		}
	}
}

// ExamplePlayer plays the PIN prompt to a phone that negotiated G.711 (8 kHz)
// and stops when the caller keys a digit.
func ExamplePlayer() {
	welcome, err := Get("zh-CN", Welcome, Rate8k)
	if err != nil {
		fmt.Println(err)
		return
	}
	pin, err := Get("zh-CN", EnterPIN, Rate8k)
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := NewPlayer(Rate8k, Silence(Rate8k, 200*time.Millisecond), welcome, pin)
	if err != nil {
		fmt.Println(err)
		return
	}
	sent := 0
	for frame, ok := p.Next(); ok; frame, ok = p.Next() {
		_ = frame // encode as PCMU and send one RTP packet; wait for the next 20 ms tick
		if sent++; sent == 50 {
			p.Interrupt() // the DTMF handler saw a key
		}
	}
	fmt.Println(sent, "frames, one second, then interrupted")
	// Output: 50 frames, one second, then interrupted
}
