// Package g711 converts between 16-bit linear PCM and ITU-T G.711
// companded samples: μ-law (PCMU, RTP payload type 0) and A-law (PCMA,
// payload type 8), 8000 samples a second, one octet per sample.
//
// Decoding is a lookup in a 256-entry table. Encoding finds the segment
// with one bit-length instruction, which is as fast as a table and needs
// none. The package has no state; any package may import it.
package g711

import "math/bits"

// Silence octets: the codes that decode to (near) zero.
const (
	UlawSilence byte = 0xFF // decodes to 0
	AlawSilence byte = 0xD5 // decodes to +8, the smallest positive level
)

const (
	ulawBias = 0x84  // 33 in 14-bit units, scaled to 16 bits
	ulawClip = 32635 // 32767 - ulawBias: the largest value before the bias
)

// EncodeUlaw appends the μ-law encoding of pcm to dst and returns the
// extended slice, one octet per sample.
func EncodeUlaw(dst []byte, pcm []int16) []byte {
	dst = grow(dst, len(pcm))
	out := dst[len(dst)-len(pcm):]
	for i, v := range pcm {
		out[i] = LinearToUlaw(v)
	}
	return dst
}

// DecodeUlaw appends the linear samples of the μ-law octets b to dst and
// returns the extended slice.
func DecodeUlaw(dst []int16, b []byte) []int16 {
	dst = grow(dst, len(b))
	out := dst[len(dst)-len(b):]
	for i, c := range b {
		out[i] = ulawToLinear[c]
	}
	return dst
}

// EncodeAlaw appends the A-law encoding of pcm to dst and returns the
// extended slice, one octet per sample.
func EncodeAlaw(dst []byte, pcm []int16) []byte {
	dst = grow(dst, len(pcm))
	out := dst[len(dst)-len(pcm):]
	for i, v := range pcm {
		out[i] = LinearToAlaw(v)
	}
	return dst
}

// DecodeAlaw appends the linear samples of the A-law octets b to dst and
// returns the extended slice.
func DecodeAlaw(dst []int16, b []byte) []int16 {
	dst = grow(dst, len(b))
	out := dst[len(dst)-len(b):]
	for i, c := range b {
		out[i] = alawToLinear[c]
	}
	return dst
}

// LinearToUlaw encodes one sample to μ-law (G.711 Table 2a). The sample is
// taken as 14-bit: its two low bits do not change the code.
func LinearToUlaw(v int16) byte {
	x := int32(v)
	sign := byte(0)
	if x < 0 {
		x = -x
		sign = 0x80
	}
	x = min(x, ulawClip) + ulawBias  // now 132..32767
	exp := bits.Len32(uint32(x)) - 8 // segment 0..7
	mant := byte(x>>(exp+3)) & 0x0F
	return ^(sign | byte(exp)<<4 | mant)
}

// UlawToLinear decodes one μ-law octet.
func UlawToLinear(c byte) int16 { return ulawToLinear[c] }

// LinearToAlaw encodes one sample to A-law (G.711 Table 1a). The sample is
// taken as 13-bit: its three low bits do not change the code.
func LinearToAlaw(v int16) byte {
	x := int32(v) >> 3 // 13-bit, -4096..4095
	mask := byte(0xD5) // positive: sign bit set, even bits inverted
	if x < 0 {
		x = ^x // -x-1: 0..4095, the way G.711 folds negative values
		mask = 0x55
	}
	var code byte
	if x < 32 {
		code = byte(x >> 1) // segment 0
	} else {
		seg := bits.Len32(uint32(x)) - 5 // 1..7
		code = byte(seg)<<4 | byte(x>>seg)&0x0F
	}
	return code ^ mask
}

// AlawToLinear decodes one A-law octet.
func AlawToLinear(c byte) int16 { return alawToLinear[c] }

// grow extends s by n elements, reallocating only when its capacity is
// too small.
func grow[T any](s []T, n int) []T {
	if need := len(s) + n; need <= cap(s) {
		return s[:need]
	}
	out := make([]T, len(s)+n, max(len(s)+n, 2*cap(s)))
	copy(out, s)
	return out
}

// The decoding tables follow G.711 Tables 2a (μ-law) and 1a (A-law), in
// 16-bit units; g711_test.go recomputes them from the segment formulas.
var ulawToLinear = [256]int16{
	-32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956,
	-23932, -22908, -21884, -20860, -19836, -18812, -17788, -16764,
	-15996, -15484, -14972, -14460, -13948, -13436, -12924, -12412,
	-11900, -11388, -10876, -10364, -9852, -9340, -8828, -8316,
	-7932, -7676, -7420, -7164, -6908, -6652, -6396, -6140,
	-5884, -5628, -5372, -5116, -4860, -4604, -4348, -4092,
	-3900, -3772, -3644, -3516, -3388, -3260, -3132, -3004,
	-2876, -2748, -2620, -2492, -2364, -2236, -2108, -1980,
	-1884, -1820, -1756, -1692, -1628, -1564, -1500, -1436,
	-1372, -1308, -1244, -1180, -1116, -1052, -988, -924,
	-876, -844, -812, -780, -748, -716, -684, -652,
	-620, -588, -556, -524, -492, -460, -428, -396,
	-372, -356, -340, -324, -308, -292, -276, -260,
	-244, -228, -212, -196, -180, -164, -148, -132,
	-120, -112, -104, -96, -88, -80, -72, -64,
	-56, -48, -40, -32, -24, -16, -8, 0,
	32124, 31100, 30076, 29052, 28028, 27004, 25980, 24956,
	23932, 22908, 21884, 20860, 19836, 18812, 17788, 16764,
	15996, 15484, 14972, 14460, 13948, 13436, 12924, 12412,
	11900, 11388, 10876, 10364, 9852, 9340, 8828, 8316,
	7932, 7676, 7420, 7164, 6908, 6652, 6396, 6140,
	5884, 5628, 5372, 5116, 4860, 4604, 4348, 4092,
	3900, 3772, 3644, 3516, 3388, 3260, 3132, 3004,
	2876, 2748, 2620, 2492, 2364, 2236, 2108, 1980,
	1884, 1820, 1756, 1692, 1628, 1564, 1500, 1436,
	1372, 1308, 1244, 1180, 1116, 1052, 988, 924,
	876, 844, 812, 780, 748, 716, 684, 652,
	620, 588, 556, 524, 492, 460, 428, 396,
	372, 356, 340, 324, 308, 292, 276, 260,
	244, 228, 212, 196, 180, 164, 148, 132,
	120, 112, 104, 96, 88, 80, 72, 64,
	56, 48, 40, 32, 24, 16, 8, 0,
}

var alawToLinear = [256]int16{
	-5504, -5248, -6016, -5760, -4480, -4224, -4992, -4736,
	-7552, -7296, -8064, -7808, -6528, -6272, -7040, -6784,
	-2752, -2624, -3008, -2880, -2240, -2112, -2496, -2368,
	-3776, -3648, -4032, -3904, -3264, -3136, -3520, -3392,
	-22016, -20992, -24064, -23040, -17920, -16896, -19968, -18944,
	-30208, -29184, -32256, -31232, -26112, -25088, -28160, -27136,
	-11008, -10496, -12032, -11520, -8960, -8448, -9984, -9472,
	-15104, -14592, -16128, -15616, -13056, -12544, -14080, -13568,
	-344, -328, -376, -360, -280, -264, -312, -296,
	-472, -456, -504, -488, -408, -392, -440, -424,
	-88, -72, -120, -104, -24, -8, -56, -40,
	-216, -200, -248, -232, -152, -136, -184, -168,
	-1376, -1312, -1504, -1440, -1120, -1056, -1248, -1184,
	-1888, -1824, -2016, -1952, -1632, -1568, -1760, -1696,
	-688, -656, -752, -720, -560, -528, -624, -592,
	-944, -912, -1008, -976, -816, -784, -880, -848,
	5504, 5248, 6016, 5760, 4480, 4224, 4992, 4736,
	7552, 7296, 8064, 7808, 6528, 6272, 7040, 6784,
	2752, 2624, 3008, 2880, 2240, 2112, 2496, 2368,
	3776, 3648, 4032, 3904, 3264, 3136, 3520, 3392,
	22016, 20992, 24064, 23040, 17920, 16896, 19968, 18944,
	30208, 29184, 32256, 31232, 26112, 25088, 28160, 27136,
	11008, 10496, 12032, 11520, 8960, 8448, 9984, 9472,
	15104, 14592, 16128, 15616, 13056, 12544, 14080, 13568,
	344, 328, 376, 360, 280, 264, 312, 296,
	472, 456, 504, 488, 408, 392, 440, 424,
	88, 72, 120, 104, 24, 8, 56, 40,
	216, 200, 248, 232, 152, 136, 184, 168,
	1376, 1312, 1504, 1440, 1120, 1056, 1248, 1184,
	1888, 1824, 2016, 1952, 1632, 1568, 1760, 1696,
	688, 656, 752, 720, 560, 528, 624, 592,
	944, 912, 1008, 976, 816, 784, 880, 848,
}
