// Package g722 is an ITU-T Recommendation G.722 (first published 1988) codec at
// 64 kbit/s: 16 kHz 16-bit PCM is split by a 24-tap quadrature mirror
// filter into a lower (0-4 kHz) and a higher (4-8 kHz) sub-band at 8 kHz
// each. The lower band is coded with 6-bit and the higher band with 2-bit
// adaptive differential PCM; each sample pair becomes one octet, the
// higher band's 2 bits in the top of it (RFC 3551 section 4.5.2).
//
// The arithmetic follows the Recommendation's fixed-point description
// block by block, so the bit stream interoperates with other G.722
// implementations (the tests check this against ffmpeg). The 56 and 48
// kbit/s modes, which steal low-band bits for data, are not supported:
// SIP phones always send 64 kbit/s.
//
// RTP quirk: G.722 audio is sampled at 16 kHz but its RTP clock rate is
// 8000 Hz, a mistake in RFC 1890 kept for compatibility. SDP says
// "a=rtpmap:9 G722/8000"; a 20 ms packet carries 160 octets (320 samples)
// and its RTP timestamp advances by 160, not 320.
//
// Encoders and decoders hold the ADPCM and filter state of one stream;
// they are not safe for concurrent use. Any package may import g722.
package g722

// FrameOctets is the payload size of a 20 ms packet; it decodes to
// FrameSamples samples at 16 kHz.
const (
	FrameOctets  = 160
	FrameSamples = 2 * FrameOctets
	// ClockRate is the RTP clock rate of G.722, half its sample rate.
	ClockRate = 8000
	// SampleRate is the rate of the PCM on both sides of the codec.
	SampleRate = 16000
)

// qmfEven holds the QMF coefficients h0..h23 in units of 2^-13;
// h(i) = h(23-i). The even ones are listed, h0, h2, ..., h22;
// the odd ones are the same values in reverse order.
var qmfEven = [12]int32{3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11}

// QMF scaling for 16-bit PCM. The coefficient sums are in units of 2^-13;
// shifting the transmit sums by 14 makes each sub-band signal half the
// 16-bit input scale, which is the Recommendation's 14-bit input carried
// in the 15-bit sub-band range, and shifting the receive sums by 11 undoes
// it. This is the scaling that other implementations use: the tests check
// that this package's octets and samples match ffmpeg's bit for bit.
const (
	qmfTxShift = 14
	qmfRxShift = 11
)

// Lower sub-band quantizer tables, in units that multiply the scale
// factor DETL >> 12.
var (
	// q6 are the decision levels between the 30 magnitudes of the 6-bit
	// quantizer: |EL| >= q6[m]·DETL selects magnitude m+1 or more.
	q6 = [30]int32{0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650,
		714, 786, 858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919}
	// qq6 are the output levels of the 6-bit inverse quantizer by
	// magnitude 1..30 (index 0 unused).
	qq6 = [31]int32{0, 17, 54, 91, 130, 170, 211, 254, 300, 347, 396, 447, 501, 558, 618, 682,
		750, 822, 899, 982, 1072, 1170, 1279, 1399, 1535, 1689, 1873, 2088, 2376, 2738, 3101}
	// qq4 are the output levels of the 4-bit inverse quantizer, which
	// the adaptation loop uses, by magnitude 0..7.
	qq4 = [8]int32{0, 150, 323, 530, 786, 1121, 1612, 2557}
	// wl is the log scale factor step for the lower band by 4-bit
	// magnitude.
	wl = [8]int32{-60, -30, 58, 172, 334, 538, 1198, 3042}
)

// Higher sub-band quantizer.
const (
	q2       = 564 // decision level between the small and large magnitude
	qq2Small = 202 // output level of the small magnitude
	qq2Large = 926 // output level of the large magnitude
	whSmall  = -214
	whLarge  = 798
)

// ilb is 2048·2^(i/32), the antilog table of the scale factor.
var ilb = [32]int32{2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543,
	2599, 2656, 2714, 2774, 2834, 2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444,
	3520, 3597, 3676, 3756, 3838, 3922, 4008}

// Scale factor limits: the lower band's log factor NBL runs over
// 0..18432, the higher band's NBH over 0..22528; the linear factors DETL
// and DETH start at their minimum.
const (
	nblMax  = 18432
	nbhMax  = 22528
	detlMin = 32
	dethMin = 8
)

// band is the adaptive predictor of one sub-band (blocks 4L and 4H): two
// poles on the reconstructed signal and six zeros on the quantized
// difference. The encoder and decoder run the same predictor on the same
// codes, which keeps them in step.
type band struct {
	s   int32    // SL/SH: the predicted signal for the next sample
	sz  int32    // SZL/SZH: the zero section's part of s
	r   [2]int32 // RLT1, RLT2: past reconstructed signals
	p   [2]int32 // PLT1, PLT2: past partial reconstructions
	a   [2]int32 // AL1, AL2: pole coefficients (Q14)
	b   [6]int32 // BL1..BL6: zero coefficients (Q14)
	d   [6]int32 // 2·DLT1..2·DLT6, limited: past quantized differences
	nb  int32    // NBL/NBH: log scale factor
	det int32    // DETL/DETH: linear scale factor
}

// sat16 limits x to 16 bits, the LIMIT of the Recommendation.
func sat16(x int32) int32 { return min(max(x, -32768), 32767) }

// sat15 limits a reconstructed sub-band signal to 15 bits.
func sat15(x int32) int32 { return min(max(x, -16384), 16383) }

// sameSign reports whether x and y have the same sign, zero counting as
// positive (SG = x >> 15 in the Recommendation).
func sameSign(x, y int32) bool { return (x ^ y) >= 0 }

// scale converts the log scale factor nb to the linear DET (blocks SCALEL
// and SCALEH); shift is 8 for the lower band and 10 for the higher.
func scale(nb, shift int32) int32 {
	wd1 := ilb[(nb>>6)&31]
	wd2 := shift - nb>>11
	if wd2 >= 0 {
		wd1 >>= wd2
	} else {
		wd1 <<= -wd2
	}
	return wd1 << 2
}

// adapt runs one step of the predictor with dlt, the quantized difference
// of the current sample, and computes the prediction for the next one
// (blocks RECONS, PARREC, UPPOL2, UPPOL1, UPZERO, DELAYA, FILTEP, FILTEZ
// and PREDIC).
func (bd *band) adapt(dlt int32) {
	r := sat16(bd.s + dlt)  // RLT: the reconstructed signal, limited by FILTEP when doubled
	p := sat16(dlt + bd.sz) // PLT: the partial reconstruction

	// UPPOL2: a2 leaks by 2^-7 and moves by 2^-7 times
	// sgn(p·p2) - f(a1)·sgn(p·p1), with f(a1) = 4·a1 limited to ±2.
	wd := sat16(4 * bd.a[0])
	if sameSign(p, bd.p[0]) {
		wd = sat16(-wd) // -(-32768) saturates, as in 16-bit arithmetic
	}
	wd >>= 7
	if sameSign(p, bd.p[1]) {
		wd += 128
	} else {
		wd -= 128
	}
	a2 := min(max(wd+(bd.a[1]*32512)>>15, -12288), 12288)

	// UPPOL1: a1 leaks by 2^-8 and moves by 3·2^-8·sgn(p·p1), limited
	// to keep the pole pair stable: |a1| <= 1 - 2^-4 - a2.
	wd = -192
	if sameSign(p, bd.p[0]) {
		wd = 192
	}
	a1 := sat16(wd + (bd.a[0]*32640)>>15)
	lim := 15360 - a2
	a1 = min(max(a1, -lim), lim)

	bd.r[1], bd.r[0] = bd.r[0], r
	bd.p[1], bd.p[0] = bd.p[0], p
	bd.a[0], bd.a[1] = a1, a2

	// UPZERO: each b leaks by 2^-8 and moves by 2^-7·sgn(d·d_i). One
	// loop also shifts the difference line (DELAYA) and sums the zero
	// section with the new coefficients (FILTEZ); d holds 2·DLT, limited,
	// which has the sign of DLT.
	step := int32(128)
	if dlt == 0 {
		step = 0
	}
	var sz int32
	in := sat16(2 * dlt)
	for i := range bd.d {
		old := bd.d[i]
		w := -step
		if sameSign(dlt, old) {
			w = step
		}
		b := sat16(w + (bd.b[i]*32640)>>15)
		bd.b[i], bd.d[i] = b, in
		sz = sat16(sz + (b*in)>>15)
		in = old
	}

	// FILTEP, PREDIC
	sp := sat16((bd.a[0]*sat16(2*bd.r[0]))>>15 + (bd.a[1]*sat16(2*bd.r[1]))>>15)
	bd.sz = sz
	bd.s = sat16(sp + sz)
}

// lowUpdate adapts the lower band to the 4-bit code il4 (the top four
// bits of the 6-bit code): it returns the quantized difference DLT and
// updates the scale factor (blocks INVQAL, LOGSCL and SCALEL).
func (bd *band) lowUpdate(il4 int32) int32 {
	mag, neg := code4(il4)
	dlt := (qq4[mag] << 3 * bd.det) >> 15
	if neg {
		dlt = -(qq4[mag] << 3 * bd.det) >> 15
	}
	bd.nb = min(max((bd.nb*32512)>>15+wl[mag], 0), nblMax)
	bd.det = scale(bd.nb, 8)
	return dlt
}

// highUpdate adapts the higher band to the 2-bit code ih and returns the
// quantized difference DH (blocks INVQAH, LOGSCH and SCALEH).
func (bd *band) highUpdate(ih int32) int32 {
	level, w := int32(qq2Small), int32(whSmall)
	if ih&1 == 0 {
		level, w = qq2Large, whLarge
	}
	if ih < 2 {
		level = -level
	}
	dh := (level << 3 * bd.det) >> 15
	bd.nb = min(max((bd.nb*32512)>>15+w, 0), nbhMax)
	bd.det = scale(bd.nb, 10)
	return dh
}

// code4 splits a 4-bit lower-band code into its magnitude 0..7 and sign:
// codes 8..15 are positive with 15 the smallest, codes 1..7 negative with
// 7 the smallest, and 0 is the (unused) zero.
func code4(c int32) (mag int32, neg bool) {
	if c >= 8 {
		return 15 - c, false
	}
	if c == 0 {
		return 0, false
	}
	return 8 - c, true
}

// code6 splits a 6-bit lower-band code into its magnitude 1..30 and sign:
// 61 down to 32 are the positive magnitudes 1..30, 63 and 62 the negative
// magnitudes 1 and 2, and 31 down to 4 the negative magnitudes 3..30.
// The unused codes 0..3 decode as the smallest negative magnitude.
func code6(c int32) (mag int32, neg bool) {
	switch {
	case c >= 62:
		return 64 - c, true
	case c >= 32:
		return 62 - c, false
	case c >= 4:
		return 34 - c, true
	default:
		return 1, true
	}
}

func newBands() (lo, hi band) {
	return band{det: detlMin}, band{det: dethMin}
}
