package g711

import (
	"testing"

	"civic/voip/audio/internal/audiotest"
)

// specUlaw and specAlaw decode from the segment and mantissa fields the
// way G.711 describes them, independently of the tables in g711.go.
func specUlaw(c byte) int16 {
	u := ^c
	seg, mant := int(u>>4)&7, int(u&0x0F)
	// Decision levels are (2·mant+33)·2^seg - 33 in 14-bit units; the
	// output level is the middle of the interval, 4x for 16 bits.
	v := ((2*mant+33)<<seg - 33) * 4
	if u&0x80 != 0 {
		v = -v
	}
	return int16(v)
}

func specAlaw(c byte) int16 {
	a := c ^ 0x55
	seg, mant := int(a>>4)&7, int(a&0x0F)
	var v int // 13-bit units times 2, so the half step is exact
	if seg == 0 {
		v = 2*mant + 1
	} else {
		v = (2*mant + 33) << (seg - 1)
	}
	v *= 8 // to 16 bits
	if a&0x80 == 0 {
		v = -v
	}
	return int16(v)
}

func TestTables(t *testing.T) {
	for c := range 256 {
		if got, want := UlawToLinear(byte(c)), specUlaw(byte(c)); got != want {
			t.Errorf("μ-law %#02x: got %d, want %d", c, got, want)
		}
		if got, want := AlawToLinear(byte(c)), specAlaw(byte(c)); got != want {
			t.Errorf("A-law %#02x: got %d, want %d", c, got, want)
		}
	}
}

func TestKnownCodes(t *testing.T) {
	tests := []struct {
		in         int16
		ulaw, alaw byte
	}{
		{0, 0xFF, 0xD5},
		{-1, 0x7F, 0x55},
		{8, 0xFE, 0xD5},
		{16, 0xFD, 0xD4},
		{32767, 0x80, 0xAA},
		{-32768, 0x00, 0x2A},
		{1000, 0xCE, 0xFA},
		{-1000, 0x4E, 0x7A},
	}
	for _, tt := range tests {
		if got := LinearToUlaw(tt.in); got != tt.ulaw {
			t.Errorf("LinearToUlaw(%d) = %#02x, want %#02x", tt.in, got, tt.ulaw)
		}
		if got := LinearToAlaw(tt.in); got != tt.alaw {
			t.Errorf("LinearToAlaw(%d) = %#02x, want %#02x", tt.in, got, tt.alaw)
		}
	}
	if UlawToLinear(UlawSilence) != 0 || AlawToLinear(AlawSilence) != 8 {
		t.Error("silence octets do not decode to silence")
	}
}

// TestRoundTrip checks that every code survives decode then encode (μ-law
// -0 becomes +0), and that for every input the error is within the half
// step of its segment: the encoder picks the nearest level.
func TestRoundTrip(t *testing.T) {
	for c := range 256 {
		b := byte(c)
		if got := LinearToUlaw(UlawToLinear(b)); got != b && b != 0x7F {
			t.Errorf("μ-law %#02x round trips to %#02x", b, got)
		}
		if got := LinearToAlaw(AlawToLinear(b)); got != b {
			t.Errorf("A-law %#02x round trips to %#02x", b, got)
		}
	}
	for v := -32768; v <= 32767; v++ {
		x := int16(v)
		u := int(UlawToLinear(LinearToUlaw(x)))
		if seg := int(^LinearToUlaw(x)>>4) & 7; abs(u-v) > 4<<seg+4 && abs(v) < 32124 {
			t.Fatalf("μ-law %d decodes to %d", v, u)
		}
		a := int(AlawToLinear(LinearToAlaw(x)))
		seg := max(1, int((LinearToAlaw(x)^0x55)>>4)&7)
		if abs(a-v) > 8<<(seg-1)+8 && abs(v) < 32256 {
			t.Fatalf("A-law %d decodes to %d", v, a)
		}
	}
}

func abs(x int) int { return max(x, -x) }

func TestAppend(t *testing.T) {
	pcm := []int16{0, 100, -100, 32767}
	dst := EncodeUlaw([]byte{1, 2}, pcm)
	if len(dst) != 6 || dst[0] != 1 || dst[1] != 2 || dst[2] != 0xFF {
		t.Fatalf("EncodeUlaw did not append: %v", dst)
	}
	back := DecodeUlaw(nil, dst[2:])
	if len(back) != 4 || back[0] != 0 {
		t.Fatalf("DecodeUlaw = %v", back)
	}
	buf := make([]byte, 0, 16)
	if out := EncodeAlaw(buf, pcm); &out[0] != &buf[:1][0] {
		t.Error("EncodeAlaw reallocated a buffer with room")
	}
}

// TestFFmpeg compares the encoders with ffmpeg's pcm_mulaw and pcm_alaw
// over every 16-bit input value. They may differ by one level near a
// decision value: G.711 works on 14-bit (μ-law) and 13-bit (A-law)
// sign-magnitude samples, and ffmpeg floors the extra low bits of negative
// samples and puts the decisions between segments midway between output
// levels, where G.711 puts them at the segment edge as this package does.
func TestFFmpeg(t *testing.T) {
	ramp := make([]int16, 65536)
	for i := range ramp {
		ramp[i] = int16(i - 32768)
	}
	in := audiotest.S16LE(ramp)
	for _, c := range []struct {
		name string
		enc  func([]byte, []int16) []byte
		dec  func(byte) int16
	}{{"pcm_mulaw", EncodeUlaw, UlawToLinear}, {"pcm_alaw", EncodeAlaw, AlawToLinear}} {
		want := audiotest.RunFFmpeg(t, in, "-f", "s16le", "-ar", "8000", "-ac", "1", "-i", "-", "-c:a", c.name, "-f", c.name[4:], "-")
		got := c.enc(nil, ramp)
		if len(got) != len(want) {
			t.Fatalf("%s: %d octets, ffmpeg %d", c.name, len(got), len(want))
		}
		differ := 0
		for i, v := range ramp {
			if got[i] == want[i] {
				continue
			}
			differ++
			// Adjacent levels: nothing decodes strictly between them.
			lo, hi := min(c.dec(got[i]), c.dec(want[i])), max(c.dec(got[i]), c.dec(want[i]))
			for b := range 256 {
				if x := c.dec(byte(b)); x > lo && x < hi {
					t.Fatalf("%s: input %d: code %#02x (%d), ffmpeg %#02x (%d)", c.name, v, got[i], c.dec(got[i]), want[i], c.dec(want[i]))
				}
			}
		}
		if differ > len(ramp)/50 {
			t.Errorf("%s: %d of %d codes differ from ffmpeg's", c.name, differ, len(ramp))
		}
		t.Logf("%s: %d of %d codes differ from ffmpeg's by one level", c.name, differ, len(ramp))
	}
}

func BenchmarkEncodeUlaw(b *testing.B) {
	pcm := audiotest.Sine(1000, 8000, 160, 12000)
	dst := make([]byte, 0, 160)
	b.SetBytes(160 * 2)
	for b.Loop() {
		dst = EncodeUlaw(dst[:0], pcm)
	}
}

func BenchmarkDecodeUlaw(b *testing.B) {
	enc := EncodeUlaw(nil, audiotest.Sine(1000, 8000, 160, 12000))
	dst := make([]int16, 0, 160)
	b.SetBytes(160)
	for b.Loop() {
		dst = DecodeUlaw(dst[:0], enc)
	}
}

func BenchmarkEncodeAlaw(b *testing.B) {
	pcm := audiotest.Sine(1000, 8000, 160, 12000)
	dst := make([]byte, 0, 160)
	b.SetBytes(160 * 2)
	for b.Loop() {
		dst = EncodeAlaw(dst[:0], pcm)
	}
}
