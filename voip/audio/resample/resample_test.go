package resample

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"civic/voip/audio/internal/audiotest"
)

var pairs = [][2]int{{48000, 8000}, {8000, 48000}, {48000, 16000}, {16000, 48000}, {16000, 8000}, {8000, 16000}}

func mustNew(t testing.TB, in, out int) *Resampler {
	t.Helper()
	r, err := New(in, out)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// convert resamples one second of a tone at freq and returns the output
// after the filter's start-up.
func convert(t testing.TB, in, out int, freq, amp float64) []float64 {
	r := mustNew(t, in, out)
	y := r.Process(nil, audiotest.SineFloat(freq, float64(in), in, amp))
	if len(y) != out {
		t.Fatalf("%d→%d: %d samples out of %d, want %d", in, out, len(y), in, out)
	}
	return audiotest.Float64s(y[int(r.Delay())*2+10:])
}

// TestTones checks that tones in the pass band keep their frequency and
// level, at 1 kHz and at the top of the band.
func TestTones(t *testing.T) {
	for _, p := range pairs {
		top := 0.8 * float64(min(p[0], p[1])) / 2 // 3.2 or 6.4 kHz
		for _, freq := range []float64{1000, top} {
			y := convert(t, p[0], p[1], freq, 10000)
			amp, snr := audiotest.SineFit(y, freq, float64(p[1]))
			peak := audiotest.NewSpectrum(y, float64(p[1])).PeakHz(20)
			gain := 20 * math.Log10(amp/10000)
			t.Logf("%d→%d %v Hz: peak %.1f Hz, gain %+.3f dB, SNR %.1f dB", p[0], p[1], freq, peak, gain, snr)
			if math.Abs(peak/freq-1) > 0.002 {
				t.Errorf("%d→%d %v Hz: peak at %.1f Hz", p[0], p[1], freq, peak)
			}
			if math.Abs(gain) > 0.1 {
				t.Errorf("%d→%d %v Hz: gain %.3f dB", p[0], p[1], freq, gain)
			}
			if snr < 60 {
				t.Errorf("%d→%d %v Hz: SNR %.1f dB", p[0], p[1], freq, snr)
			}
		}
	}
}

// TestStopband checks that down-sampling removes what lies above the new
// Nyquist frequency instead of folding it back into the band.
func TestStopband(t *testing.T) {
	for _, p := range pairs {
		if p[1] > p[0] {
			continue
		}
		nyq := float64(p[1]) / 2
		freqs := []float64{nyq * 1.02, nyq * 1.25, nyq * 1.9, float64(p[0])/2 - 500}
		if p[0] == 48000 && p[1] == 8000 {
			// Around the edge of the first stage, which alias to the
			// edges of the 4 kHz band at 16 kHz.
			freqs = append(freqs, 11900, 12100, 16200, 19900)
		}
		for _, f := range freqs {
			y := convert(t, p[0], p[1], f, 10000)
			att := -20 * math.Log10(audiotest.RMS(y)/(10000/math.Sqrt2))
			t.Logf("%d→%d: %.0f Hz attenuated %.1f dB", p[0], p[1], f, att)
			if att < 40 {
				t.Errorf("%d→%d: %.0f Hz attenuated only %.1f dB", p[0], p[1], f, att)
			}
		}
	}
}

// TestImages checks that up-sampling leaves no images of the tone above
// the old Nyquist frequency.
func TestImages(t *testing.T) {
	for _, p := range pairs {
		if p[1] < p[0] {
			continue
		}
		y := convert(t, p[0], p[1], 1000, 10000)
		s := audiotest.NewSpectrum(y, float64(p[1]))
		rel := audiotest.DB(s.Total(float64(p[0])/2) / s.Band(1000, 30))
		t.Logf("%d→%d: images at %.1f dB", p[0], p[1], rel)
		if rel > -40 {
			t.Errorf("%d→%d: images only %.1f dB below the tone", p[0], p[1], rel)
		}
	}
}

// TestChunks checks that 20 ms frames, and chunks of any size, give the
// same output as one call: no clicks at chunk boundaries.
func TestChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, p := range pairs {
		x := audiotest.SineFloat(997, float64(p[0]), p[0], 12000)
		whole := mustNew(t, p[0], p[1]).Process(nil, x)
		for _, mode := range []string{"20ms", "random"} {
			r := mustNew(t, p[0], p[1])
			var got []float32
			for rest := x; len(rest) > 0; {
				n := p[0] / 50
				if mode == "random" {
					n = rng.IntN(200)
				}
				n = min(n, len(rest))
				got = r.Process(got, rest[:n])
				rest = rest[n:]
			}
			if !slices.Equal(got, whole) {
				t.Errorf("%d→%d: %s chunks differ from one call", p[0], p[1], mode)
			}
		}
	}
}

func TestFrameSizes(t *testing.T) {
	for _, p := range pairs {
		r := mustNew(t, p[0], p[1])
		in := p[0] / 50
		for range 3 {
			if got := len(r.Process(nil, make([]float32, in))); got != p[1]/50 {
				t.Errorf("%d→%d: 20 ms gives %d samples, want %d", p[0], p[1], got, p[1]/50)
			}
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, rate := range []int{8000, 16000} {
		up, down := mustNew(t, rate, 48000), mustNew(t, 48000, rate)
		x := audiotest.Sine(1000, float64(rate), rate, 12000)
		y := down.ProcessInt16(nil, up.ProcessInt16(nil, x))
		amp, snr := audiotest.SineFit(audiotest.Float64s(y[200:]), 1000, float64(rate))
		t.Logf("%d→48000→%d: amplitude %.0f, SNR %.1f dB", rate, rate, amp, snr)
		if snr < 60 || math.Abs(amp-12000) > 30 {
			t.Errorf("%d→48000→%d: amplitude %.0f, SNR %.1f dB", rate, rate, amp, snr)
		}
	}
}

// TestLimit checks that overshoot of a full-scale square wave is limited,
// never wrapped around.
func TestLimit(t *testing.T) {
	x := make([]int16, 4800)
	for i := range x {
		x[i] = 32767
		if i/40%2 == 1 {
			x[i] = -32768
		}
	}
	for _, p := range [][2]int{{48000, 8000}, {48000, 16000}, {8000, 48000}} {
		y := mustNew(t, p[0], p[1]).ProcessInt16(nil, x)
		f := mustNew(t, p[0], p[1]).Process(nil, audiotest.Float32s(x))
		over := 0
		for i, v := range f {
			if v > 32767 || v < -32768 {
				over++
			}
			if y[i] != ToInt16(v) || (v > 0) != (y[i] > 0) && math.Abs(float64(v)) > 1 {
				t.Fatalf("%d→%d: sample %d is %d for %.1f", p[0], p[1], i, y[i], v)
			}
		}
		if over == 0 {
			t.Errorf("%d→%d: no overshoot to limit; the test is too weak", p[0], p[1])
		}
	}
	for _, c := range []struct {
		in   float32
		want int16
	}{{40000, 32767}, {-40000, -32768}, {1.5, 2}, {-1.5, -2}, {float32(math.NaN()), 0}, {float32(math.Inf(1)), 32767}} {
		if got := ToInt16(c.in); got != c.want {
			t.Errorf("ToInt16(%v) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestIdle(t *testing.T) {
	r := mustNew(t, 48000, 8000)
	if !r.Idle() {
		t.Fatal("new resampler not idle")
	}
	r.Process(nil, audiotest.SineFloat(440, 48000, 960, 1000))
	if r.Idle() {
		t.Fatal("idle with signal in the history")
	}
	r.Process(nil, make([]float32, 960))
	if !r.Idle() {
		t.Fatal("not idle after a frame of silence")
	}
}

func TestRates(t *testing.T) {
	for _, c := range [][2]int{{44100, 48000}, {8000, 0}, {48000, 32000}} {
		if _, err := New(c[0], c[1]); !errors.Is(err, ErrRate) {
			t.Errorf("New(%d, %d): %v, want ErrRate", c[0], c[1], err)
		}
	}
	r := mustNew(t, 16000, 16000)
	x := []float32{1, 2, 3}
	if got := r.Process(nil, x); !slices.Equal(got, x) {
		t.Errorf("16000→16000 = %v", got)
	}
}

func benchmark(b *testing.B, in, out int) {
	r := mustNew(b, in, out)
	x := audiotest.SineFloat(1000, float64(in), in/50, 10000)
	dst := make([]float32, 0, out/50)
	for b.Loop() {
		dst = r.Process(dst[:0], x)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/20e6, "cores/stream")
}

// BenchmarkResample48to8 converts one 20 ms frame per op.
func BenchmarkResample48to8(b *testing.B) { benchmark(b, 48000, 8000) }

func BenchmarkResampleOthers(b *testing.B) {
	for _, p := range pairs[1:] {
		b.Run(fmt.Sprintf("%dto%d", p[0]/1000, p[1]/1000), func(b *testing.B) { benchmark(b, p[0], p[1]) })
	}
}
