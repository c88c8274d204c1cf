package g722

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"civic/voip/audio/internal/audiotest"
)

func TestILBTable(t *testing.T) {
	for i, got := range ilb {
		if want := int32(math.Round(2048 * math.Pow(2, float64(i)/32))); got != want {
			t.Errorf("ilb[%d] = %d, want %d", i, got, want)
		}
	}
}

func TestCodeTables(t *testing.T) {
	// Every 6-bit magnitude and sign has one code, and the top four
	// bits of it give the 4-bit level of the same sign.
	seen := map[[2]int32]bool{}
	for c := int32(4); c < 64; c++ {
		mag, neg := code6(c)
		key := [2]int32{mag, map[bool]int32{false: 1, true: -1}[neg]}
		if mag < 1 || mag > 30 || seen[key] {
			t.Fatalf("code %d: magnitude %d, sign %v", c, mag, neg)
		}
		seen[key] = true
		m4, neg4 := code4(c >> 2)
		if m4 != 0 && neg4 != neg {
			t.Errorf("code %d: 4-bit sign %v, 6-bit sign %v", c, neg4, neg)
		}
		// The 4-bit level lies within the 6-bit decision interval
		// group it stands for.
		if lvl := qq4[m4]; m4 > 0 && (lvl < q6[max(0, mag-4)] || lvl > q6[min(29, mag+3)]) {
			t.Errorf("code %d: 4-bit level %d far from 6-bit magnitude %d", c, lvl, mag)
		}
	}
}

// roundTrip encodes and decodes pcm in 20 ms frames.
func roundTrip(pcm []int16) []int16 {
	enc, dec := NewEncoder(), NewDecoder()
	var out []int16
	var buf []byte
	for f := range slices.Chunk(pcm, FrameSamples) {
		buf = enc.Encode(buf[:0], f)
		out = dec.Decode(out, buf)
	}
	return out
}

func TestRoundTripTones(t *testing.T) {
	tests := []struct {
		freq, amp, minSNR float64
	}{
		{1000, 10000, 25},
		{3000, 10000, 25},
		{1000, 300, 25}, // quiet: the scale factor adapts down
		{6000, 10000, 20},
	}
	for _, tt := range tests {
		pcm := audiotest.Sine(tt.freq, SampleRate, SampleRate, tt.amp)
		out := roundTrip(pcm)
		if len(out) != len(pcm) {
			t.Fatalf("%v Hz: %d samples out, %d in", tt.freq, len(out), len(pcm))
		}
		x := audiotest.Float64s(out[800:]) // past the adaptation
		amp, snr := audiotest.SineFit(x, tt.freq, SampleRate)
		peak := audiotest.NewSpectrum(x, SampleRate).PeakHz(20)
		t.Logf("%v Hz at %v: SNR %.1f dB, amplitude %.0f, peak %.1f Hz", tt.freq, tt.amp, snr, amp, peak)
		if snr < tt.minSNR {
			t.Errorf("%v Hz: SNR %.1f dB, want > %v", tt.freq, snr, tt.minSNR)
		}
		if math.Abs(amp/tt.amp-1) > 0.05 {
			t.Errorf("%v Hz: amplitude %.0f, want %v", tt.freq, amp, tt.amp)
		}
		if math.Abs(peak/tt.freq-1) > 0.01 {
			t.Errorf("%v Hz: spectral peak at %.1f Hz", tt.freq, peak)
		}
	}
}

func TestFrameSize(t *testing.T) {
	b := NewEncoder().Encode(nil, make([]int16, FrameSamples))
	if len(b) != FrameOctets {
		t.Fatalf("20 ms encodes to %d octets, want %d", len(b), FrameOctets)
	}
	if pcm := NewDecoder().Decode(nil, b); len(pcm) != FrameSamples {
		t.Fatalf("20 ms decodes to %d samples, want %d", len(pcm), FrameSamples)
	}
	// Silence stays near silence.
	for _, v := range roundTrip(make([]int16, 3200)) {
		if v > 8 || v < -8 {
			t.Fatalf("silence decodes to %d", v)
		}
	}
}

// TestChunking checks that odd and uneven chunks give the same stream as
// one call: the state, and a pending odd sample, carry across calls.
func TestChunking(t *testing.T) {
	pcm := audiotest.Sine(440, SampleRate, 4001, 8000)
	whole := NewEncoder().Encode(nil, pcm)
	enc := NewEncoder()
	var parts []byte
	r := rand.New(rand.NewPCG(7, 7))
	for rest := pcm; len(rest) > 0; {
		n := min(len(rest), r.IntN(9))
		parts = enc.Encode(parts, rest[:n])
		rest = rest[n:]
	}
	if !bytes.Equal(whole, parts) {
		t.Fatal("chunked encoding differs from whole")
	}
	if len(whole) != 2000 {
		t.Fatalf("%d octets for 4001 samples, want 2000 (one pending)", len(whole))
	}
	dec := NewDecoder()
	var out []int16
	for c := range slices.Chunk(whole, 7) {
		out = dec.Decode(out, c)
	}
	if !slices.Equal(out, NewDecoder().Decode(nil, whole)) {
		t.Fatal("chunked decoding differs from whole")
	}
	enc.Reset()
	if !bytes.Equal(enc.Encode(nil, pcm), whole) {
		t.Fatal("Reset did not restore the initial state")
	}
}

// TestFFmpeg cross-checks with ffmpeg's G.722: each side decodes the
// other's stream with the tone intact, and for ordinary signals the octets
// and samples are identical.
func TestFFmpeg(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	noise := make([]int16, SampleRate)
	for i := range noise {
		noise[i] = int16(r.NormFloat64() * 6000)
	}
	tests := []struct {
		name string
		freq float64
		pcm  []int16
	}{
		{"1 kHz", 1000, audiotest.Sine(1000, SampleRate, SampleRate, 10000)},
		{"3 kHz", 3000, audiotest.Sine(3000, SampleRate, SampleRate, 10000)},
		{"6 kHz", 6000, audiotest.Sine(6000, SampleRate, SampleRate, 10000)},
		{"noise", 0, noise},
	}
	for _, tt := range tests {
		mine := NewEncoder().Encode(nil, tt.pcm)
		theirs := audiotest.RunFFmpeg(t, audiotest.S16LE(tt.pcm),
			"-f", "s16le", "-ar", "16000", "-ac", "1", "-i", "-", "-c:a", "g722", "-f", "g722", "-")
		theirDecode := audiotest.FromS16LE(audiotest.RunFFmpeg(t, mine, "-f", "g722", "-i", "-", "-f", "s16le", "-"))
		myDecode := NewDecoder().Decode(nil, theirs)
		if !bytes.Equal(mine, theirs) {
			t.Errorf("%s: encoded octets differ from ffmpeg's", tt.name)
		}
		if !slices.Equal(myDecode, audiotest.FromS16LE(audiotest.RunFFmpeg(t, theirs, "-f", "g722", "-i", "-", "-f", "s16le", "-"))) {
			t.Errorf("%s: decoded samples differ from ffmpeg's", tt.name)
		}
		if tt.freq == 0 {
			continue
		}
		for dir, out := range map[string][]int16{"ours→ffmpeg": theirDecode, "ffmpeg→ours": myDecode} {
			if len(out) != len(tt.pcm) {
				t.Fatalf("%s %s: %d samples, want %d", tt.name, dir, len(out), len(tt.pcm))
			}
			x := audiotest.Float64s(out[800:])
			peak := audiotest.NewSpectrum(x, SampleRate).PeakHz(20)
			gain := audiotest.RMS(x) / audiotest.RMS(audiotest.Float64s(tt.pcm[800:]))
			t.Logf("%s %s: peak %.1f Hz, gain %.2f dB", tt.name, dir, peak, 20*math.Log10(gain))
			if math.Abs(peak/tt.freq-1) > 0.02 {
				t.Errorf("%s %s: tone at %.1f Hz", tt.name, dir, peak)
			}
			if math.Abs(20*math.Log10(gain)) > 1 {
				t.Errorf("%s %s: gain %.2f dB", tt.name, dir, 20*math.Log10(gain))
			}
		}
	}
}

func FuzzG722Decode(f *testing.F) {
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xFF}, 160))
	f.Add(NewEncoder().Encode(nil, audiotest.Sine(1000, SampleRate, 640, 30000)))
	f.Add([]byte{0x00, 0x01, 0x02, 0x03, 0x3F, 0x40, 0x80, 0xC0})
	f.Fuzz(func(t *testing.T, b []byte) {
		whole := NewDecoder().Decode(nil, b)
		if len(whole) != 2*len(b) {
			t.Fatalf("%d octets decode to %d samples", len(b), len(whole))
		}
		d := NewDecoder()
		half := d.Decode(nil, b[:len(b)/2])
		if !slices.Equal(d.Decode(half, b[len(b)/2:]), whole) {
			t.Fatal("decoding in two calls differs from one")
		}
	})
}

func BenchmarkG722Encode(b *testing.B) {
	pcm := audiotest.Sine(1000, SampleRate, FrameSamples, 10000)
	enc := NewEncoder()
	dst := make([]byte, 0, FrameOctets)
	b.SetBytes(2 * FrameSamples)
	for b.Loop() {
		dst = enc.Encode(dst[:0], pcm)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/20e6, "cores/stream")
}

func BenchmarkG722Decode(b *testing.B) {
	enc := NewEncoder().Encode(nil, audiotest.Sine(1000, SampleRate, FrameSamples, 10000))
	dec := NewDecoder()
	dst := make([]int16, 0, FrameSamples)
	b.SetBytes(FrameOctets)
	for b.Loop() {
		dst = dec.Decode(dst[:0], enc)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/20e6, "cores/stream")
}
