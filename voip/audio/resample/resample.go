// Package resample converts mono audio between the rates civicd's phone
// bridge uses: 8000 Hz (G.711), 16000 Hz (G.722) and 48000 Hz (Opus and
// the mixer), in either direction: ratios 1:2, 1:3 and 1:6.
//
// Each Resampler is a polyphase FIR: a Kaiser-windowed sinc low-pass,
// designed once when the Resampler is made, that attenuates everything
// above the lower rate's Nyquist frequency by at least 60 dB and is flat
// within 0.01 dB up to 85% of it (3.4 kHz at 8000 Hz, 6.8 kHz at 16000
// Hz). Up-sampling evaluates only the taps that meet real input samples;
// down-sampling only computes the outputs it keeps. 48000 and 8000 Hz are
// converted in two stages through 16000 Hz, the stage at the high rate
// with a short filter that only has to keep the aliases out of 0-4 kHz,
// which halves the work of one long filter at 48 kHz.
//
// A Resampler keeps its filter history between calls, so a stream can be
// converted in chunks of any size (20 ms frames, say) and the output is
// identical, sample for sample, to converting it in one call. It is not
// safe for concurrent use. The package has no global state; any package
// may import it.
package resample

import (
	"errors"
	"fmt"
	"math"
)

// ErrRate reports a pair of rates this package does not convert.
var ErrRate = errors.New("resample: unsupported rate pair")

// Filter design targets.
const (
	stopbandDB = 65   // attenuation above the lower Nyquist frequency
	passband   = 0.85 // flat band, as a fraction of the lower Nyquist
)

// Resampler converts one stream from InRate to OutRate.
type Resampler struct {
	in, out int
	stages  []*stage
	mid     []float32 // between two stages
	i16     []float32 // scratch for the int16 interface
	o16     []float32
}

// stage is one polyphase FIR that up-samples by L or down-samples by M.
type stage struct {
	in   int // input rate
	up   int // interpolation factor L
	down int // decimation factor M
	taps int // taps per phase
	// coef[p] holds phase p's taps in the order they meet buf, oldest
	// input first, scaled by L so that up-sampling keeps the level.
	coef [][]float32
	buf  []float32 // taps-1 samples of history, then unconsumed input
	next int       // up-sampled index, relative to buf[0], of the next output
}

// New returns a Resampler from inRate to outRate, each 8000, 16000 or
// 48000 Hz. Equal rates give a Resampler that copies.
func New(inRate, outRate int) (*Resampler, error) {
	valid := func(r int) bool { return r == 8000 || r == 16000 || r == 48000 }
	if !valid(inRate) || !valid(outRate) {
		return nil, fmt.Errorf("%w: %d Hz to %d Hz", ErrRate, inRate, outRate)
	}
	r := &Resampler{in: inRate, out: outRate}
	lo := float64(min(inRate, outRate)) / 2 // the Nyquist frequency kept
	switch {
	case inRate == 48000 && outRate == 8000:
		// Down to 16 kHz keeping what would alias into 0-4 kHz out,
		// then down to 8 kHz with the sharp filter.
		r.stages = []*stage{newStage(48000, 16000, passband*lo, 16000-lo), newStage(16000, 8000, passband*lo, lo)}
	case inRate == 8000 && outRate == 48000:
		r.stages = []*stage{newStage(8000, 16000, passband*lo, lo), newStage(16000, 48000, passband*lo, 16000-lo)}
	default:
		r.stages = []*stage{newStage(inRate, outRate, passband*lo, lo)}
	}
	r.Reset()
	return r, nil
}

// newStage designs a stage from in to out Hz: flat to pass, attenuated by
// stopbandDB from stop.
func newStage(in, out int, pass, stop float64) *stage {
	st := &stage{in: in, up: 1, down: 1}
	switch {
	case out > in:
		st.up = out / in
	case out < in:
		st.down = in / out
	default:
		st.taps = 1
		st.coef = [][]float32{{1}}
		return st
	}
	rate := float64(in * st.up) // the rate the filter runs at
	cutoff := (pass + stop) / 2 / rate
	width := 2 * math.Pi * (stop - pass) / rate
	// Kaiser's estimates of the length and shape for the attenuation.
	n := int(math.Ceil((stopbandDB-8)/(2.285*width))) + 1
	n = (n + st.up - 1) / st.up * st.up // a whole number of taps per phase
	beta := 0.1102 * (stopbandDB - 8.7)

	h := make([]float64, n)
	mid := float64(n-1) / 2
	var sum float64
	for i := range h {
		x := float64(i) - mid
		sinc := 2 * cutoff
		if x != 0 {
			sinc = math.Sin(2*math.Pi*cutoff*x) / (math.Pi * x)
		}
		w := bessel0(beta*math.Sqrt(max(0, 1-(x/mid)*(x/mid)))) / bessel0(beta)
		h[i] = sinc * w
		sum += h[i]
	}
	st.taps = n / st.up
	st.coef = make([][]float32, st.up)
	for p := range st.coef {
		c := make([]float32, st.taps)
		// Output at up-sampled index t = j·L + p uses h[p + k·L] with
		// input j-k; buf runs oldest first, so tap k goes at the end.
		for k := range st.taps {
			c[st.taps-1-k] = float32(h[p+k*st.up] / sum * float64(st.up))
		}
		st.coef[p] = c
	}
	return st
}

// bessel0 is the modified Bessel function of the first kind, order 0.
func bessel0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 50; k++ {
		term *= (x / 2) / float64(k)
		sum += term * term
		if term*term < sum*1e-17 {
			break
		}
	}
	return sum
}

// InRate is the input sample rate.
func (r *Resampler) InRate() int { return r.in }

// OutRate is the output sample rate.
func (r *Resampler) OutRate() int { return r.out }

// Delay is the filters' group delay in output samples: a feature at input
// time t appears at output time t + Delay/OutRate.
func (r *Resampler) Delay() float64 {
	var seconds float64
	for _, st := range r.stages {
		seconds += float64(st.taps*st.up-1) / 2 / float64(st.in*st.up)
	}
	return seconds * float64(r.out)
}

// Reset clears the history, for a new stream.
func (r *Resampler) Reset() {
	for _, st := range r.stages {
		st.buf = append(st.buf[:0], make([]float32, st.taps-1)...)
		st.next = (st.taps - 1) * st.up
	}
}

// Idle reports whether the filter history holds only zeros: converting
// silence would then give silence and leave the state as it is, except
// for the decimation phase when the silence is not a whole multiple of
// the ratio. A mixer may skip a silent source's frames while Idle is true.
func (r *Resampler) Idle() bool {
	for _, st := range r.stages {
		for _, v := range st.buf {
			if v != 0 {
				return false
			}
		}
	}
	return true
}

// Process appends the conversion of src to dst and returns the extended
// slice. Down-sampling by M gives len(src)/M samples when every chunk is
// a multiple of M long, as 20 ms frames are; otherwise the phase carries
// over to the next call.
func (r *Resampler) Process(dst, src []float32) []float32 {
	if len(r.stages) == 1 {
		return r.stages[0].process(dst, src)
	}
	r.mid = r.stages[0].process(r.mid[:0], src)
	return r.stages[1].process(dst, r.mid)
}

func (st *stage) process(dst, src []float32) []float32 {
	st.buf = append(st.buf, src...)
	L, M, taps := st.up, st.down, st.taps
	for {
		j := st.next / L // newest input the output needs
		if j >= len(st.buf) {
			break
		}
		x := st.buf[j-taps+1 : j+1]
		dst = append(dst, dot(st.coef[st.next%L], x))
		st.next += M
	}
	// Keep the history the next output needs.
	keep := st.next/L - taps + 1
	n := copy(st.buf, st.buf[keep:])
	st.buf = st.buf[:n]
	st.next -= keep * L
	return dst
}

// dot is the inner product of c and x, which have the same length, with
// four accumulators to keep the floating-point units busy.
func dot(c, x []float32) float32 {
	x = x[:len(c)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(c); i += 4 {
		s0 += c[i] * x[i]
		s1 += c[i+1] * x[i+1]
		s2 += c[i+2] * x[i+2]
		s3 += c[i+3] * x[i+3]
	}
	for ; i < len(c); i++ {
		s0 += c[i] * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// ProcessInt16 is Process for 16-bit samples: the output is rounded and
// limited to the int16 range.
func (r *Resampler) ProcessInt16(dst, src []int16) []int16 {
	r.i16 = r.i16[:0]
	for _, v := range src {
		r.i16 = append(r.i16, float32(v))
	}
	r.o16 = r.Process(r.o16[:0], r.i16)
	for _, v := range r.o16 {
		dst = append(dst, ToInt16(v))
	}
	return dst
}

// ToInt16 rounds v to the nearest int16, limiting it to the int16 range
// rather than letting it wrap.
func ToInt16(v float32) int16 {
	switch {
	case v != v: // NaN
		return 0
	case v >= 32767:
		return 32767
	case v <= -32768:
		return -32768
	case v >= 0:
		return int16(v + 0.5)
	default:
		return int16(v - 0.5)
	}
}
