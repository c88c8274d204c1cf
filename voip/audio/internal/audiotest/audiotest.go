// Package audiotest holds signal generators and measurements shared by the
// tests of the voip/audio packages: sines, an FFT power spectrum, a sine
// fit for SNR, and a way to run ffmpeg for interoperability checks. Only
// _test.go files under voip/audio may import it.
package audiotest

import (
	"bytes"
	"math"
	"math/cmplx"
	"os"
	"os/exec"
	"testing"

	"civic/internal/ogg"
)

// Sine returns n samples of amp·sin(2π·freq·t) at rate, as int16.
func Sine(freq, rate float64, n int, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(math.Round(amp * math.Sin(2*math.Pi*freq*float64(i)/rate)))
	}
	return out
}

// SineFloat returns n samples of amp·sin(2π·freq·t) at rate, as float32.
func SineFloat(freq, rate float64, n int, amp float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(amp * math.Sin(2*math.Pi*freq*float64(i)/rate))
	}
	return out
}

// Float64s converts int16 or float32 samples to float64.
func Float64s[T int16 | float32](x []T) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// RMS is the root mean square of x.
func RMS(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	var s float64
	for _, v := range x {
		s += v * v
	}
	return math.Sqrt(s / float64(len(x)))
}

// Peak is the largest absolute value in x.
func Peak(x []float64) float64 {
	var p float64
	for _, v := range x {
		p = max(p, math.Abs(v))
	}
	return p
}

// Spectrum is a one-sided power spectrum of a Hann-windowed signal.
type Spectrum struct {
	Power []float64 // power per bin, bins 0..N/2
	BinHz float64   // width of one bin
}

// NewSpectrum windows x with a Hann window, zero-pads it to a power of two
// and returns its power spectrum.
func NewSpectrum(x []float64, rate float64) Spectrum {
	n := 1
	for n < len(x) {
		n <<= 1
	}
	buf := make([]complex128, n)
	for i, v := range x {
		w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(len(x)-1))
		buf[i] = complex(v*w, 0)
	}
	fft(buf)
	p := make([]float64, n/2+1)
	for i := range p {
		a := cmplx.Abs(buf[i])
		p[i] = a * a
	}
	return Spectrum{Power: p, BinHz: rate / float64(n)}
}

// Band is the total power within ±width Hz of freq.
func (s Spectrum) Band(freq, width float64) float64 {
	lo := max(0, int(math.Floor((freq-width)/s.BinHz)))
	hi := min(len(s.Power)-1, int(math.Ceil((freq+width)/s.BinHz)))
	var sum float64
	for i := lo; i <= hi; i++ {
		sum += s.Power[i]
	}
	return sum
}

// Total is the power of all bins above minHz.
func (s Spectrum) Total(minHz float64) float64 {
	var sum float64
	for i := int(minHz / s.BinHz); i < len(s.Power); i++ {
		sum += s.Power[i]
	}
	return sum
}

// PeakHz is the frequency of the strongest bin above minHz, refined by
// parabolic interpolation of the log power around it.
func (s Spectrum) PeakHz(minHz float64) float64 {
	best := max(1, int(minHz/s.BinHz))
	for i := best; i < len(s.Power)-1; i++ {
		if s.Power[i] > s.Power[best] {
			best = i
		}
	}
	if best <= 0 || best >= len(s.Power)-1 {
		return float64(best) * s.BinHz
	}
	a, b, c := math.Log(s.Power[best-1]+1e-30), math.Log(s.Power[best]+1e-30), math.Log(s.Power[best+1]+1e-30)
	d := 0.0
	if den := a - 2*b + c; den != 0 {
		d = 0.5 * (a - c) / den
	}
	return (float64(best) + d) * s.BinHz
}

// DB converts a power ratio to decibels.
func DB(ratio float64) float64 { return 10 * math.Log10(ratio+1e-300) }

// SineFit fits a·sin + b·cos + c at freq to x by least squares and returns
// the amplitude of the fitted sine and the ratio in dB of its power to the
// power of the residual: a delay-independent SNR for a codec's output.
func SineFit(x []float64, freq, rate float64) (amp, snrDB float64) {
	var ss, sc, cc, sx, cx, s1, c1, x1 float64
	n := float64(len(x))
	for i, v := range x {
		w := 2 * math.Pi * freq * float64(i) / rate
		s, c := math.Sin(w), math.Cos(w)
		ss += s * s
		sc += s * c
		cc += c * c
		sx += s * v
		cx += c * v
		s1 += s
		c1 += c
		x1 += v
	}
	// Solve the 3x3 normal equations with Cramer's rule.
	m := [3][3]float64{{ss, sc, s1}, {sc, cc, c1}, {s1, c1, n}}
	r := [3]float64{sx, cx, x1}
	det := det3(m)
	var coef [3]float64
	for k := range 3 {
		mk := m
		for j := range 3 {
			mk[j][k] = r[j]
		}
		coef[k] = det3(mk) / det
	}
	var sig, res float64
	for i, v := range x {
		w := 2 * math.Pi * freq * float64(i) / rate
		f := coef[0]*math.Sin(w) + coef[1]*math.Cos(w)
		sig += f * f
		e := v - f - coef[2]
		res += e * e
	}
	return math.Hypot(coef[0], coef[1]), DB(sig / (res + 1e-30))
}

func det3(m [3][3]float64) float64 {
	return m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) -
		m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) +
		m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
}

// fft is an in-place iterative radix-2 FFT; len(x) must be a power of two.
func fft(x []complex128) {
	n := len(x)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j ^= bit
		if i < j {
			x[i], x[j] = x[j], x[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		w := cmplx.Exp(complex(0, -2*math.Pi/float64(size)))
		for start := 0; start < n; start += size {
			wk := complex(1, 0)
			for k := range size / 2 {
				a, b := x[start+k], x[start+k+size/2]*wk
				x[start+k], x[start+k+size/2] = a+b, a-b
				wk *= w
			}
		}
	}
}

// FFmpeg returns the path of the ffmpeg binary. Without one the test is
// skipped, unless CI=true, where ffmpeg is required and the test fails.
func FFmpeg(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("ffmpeg")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ffmpeg is required under CI=true: %v", err)
		}
		t.Skipf("ffmpeg not installed: %v", err)
	}
	return path
}

// RunFFmpeg runs ffmpeg with args, feeding stdin, and returns its stdout.
func RunFFmpeg(t testing.TB, stdin []byte, args ...string) []byte {
	t.Helper()
	bin := FFmpeg(t)
	cmd := exec.Command(bin, append([]string{"-hide_banner", "-loglevel", "error"}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg %v: %v: %s", args, err, errb.String())
	}
	return out.Bytes()
}

// S16LE encodes samples as little-endian 16-bit PCM.
func S16LE(x []int16) []byte {
	b := make([]byte, 2*len(x))
	for i, v := range x {
		b[2*i] = byte(v)
		b[2*i+1] = byte(uint16(v) >> 8)
	}
	return b
}

// FromS16LE decodes little-endian 16-bit PCM.
func FromS16LE(b []byte) []int16 {
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(uint16(b[2*i]) | uint16(b[2*i+1])<<8)
	}
	return out
}

// Float32s converts int16 samples to float32.
func Float32s(x []int16) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// OpusPackets encodes mono 48 kHz PCM to 20 ms Opus packets with ffmpeg's
// libopus at bitrate, skipping the test when ffmpeg is missing (failing
// it under CI=true).
func OpusPackets(t testing.TB, pcm []int16, bitrate string) [][]byte {
	t.Helper()
	stream := RunFFmpeg(t, S16LE(pcm), "-f", "s16le", "-ar", "48000", "-ac", "1", "-i", "-",
		"-c:a", "libopus", "-b:a", bitrate, "-frame_duration", "20", "-application", "audio", "-f", "ogg", "-")
	packets, err := ogg.Packets(stream)
	if err != nil {
		t.Fatal(err)
	}
	if len(packets) < 3 || !bytes.HasPrefix(packets[0], []byte("OpusHead")) {
		t.Fatalf("ffmpeg gave no Ogg Opus stream (%d packets)", len(packets))
	}
	return packets[2:]
}

// Voice returns n samples at rate of a speech-like test signal: a
// 110-180 Hz glottal buzz with a dozen harmonics, syllables four times a
// second, and a little breath noise. It exercises a speech codec the way
// talk does, which a pure tone does not.
func Voice(n int, rate float64, amp float64) []int16 {
	out := make([]int16, n)
	var phase float64
	seed := uint32(12345)
	for i := range out {
		t := float64(i) / rate
		f0 := 145 + 35*math.Sin(2*math.Pi*0.7*t)
		phase += 2 * math.Pi * f0 / rate
		var v float64
		for h := 1; h <= 12; h++ {
			v += math.Sin(float64(h)*phase) / float64(h)
		}
		env := math.Max(0, math.Sin(2*math.Pi*4*t))
		seed = seed*1664525 + 1013904223
		noise := (float64(seed>>8)/float64(1<<24) - 0.5) * 0.1
		out[i] = int16(amp * env * (0.5*v + noise))
	}
	return out
}
