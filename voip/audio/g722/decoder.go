package g722

// Decoder decodes G.722 at 64 kbit/s to 16 kHz 16-bit PCM. The zero value
// is not ready; use NewDecoder.
type Decoder struct {
	lo, hi band
	xd, xs [qmfHistory + 12]int32 // receive QMF inputs; [n-1] is the newest
	n      int
}

// NewDecoder returns a decoder in the reset state of the Recommendation.
func NewDecoder() *Decoder {
	d := &Decoder{}
	d.Reset()
	return d
}

// Reset returns the decoder to its initial state, for a new stream.
func (d *Decoder) Reset() {
	*d = Decoder{n: 12}
	d.lo, d.hi = newBands()
}

// Decode appends the PCM samples of the G.722 octets b to dst and returns
// the extended slice: two 16 kHz samples per octet, so 160 octets (20 ms)
// give 320 samples. Every octet is valid input.
func (d *Decoder) Decode(dst []int16, b []byte) []int16 {
	for _, c := range b {
		s0, s1 := d.decodeOctet(c)
		dst = append(dst, s0, s1)
	}
	return dst
}

func (d *Decoder) decodeOctet(c byte) (int16, int16) {
	il, ih := int32(c&0x3F), int32(c>>6)

	// Lower band (blocks INVQBL, RECONS): the output uses all six bits,
	// the adaptation only the top four, as in the encoder.
	lo := &d.lo
	mag, neg := code6(il)
	dl := (qq6[mag] << 3 * lo.det) >> 15
	if neg {
		dl = -(qq6[mag] << 3 * lo.det) >> 15
	}
	rl := sat15(lo.s + dl)
	lo.adapt(lo.lowUpdate(il >> 2))

	// Higher band (blocks INVQAH, RECONS).
	hi := &d.hi
	dh := hi.highUpdate(ih)
	rh := sat15(hi.s + dh)
	hi.adapt(dh)

	// Block 2R, the receive QMF.
	if d.n == len(d.xd) {
		copy(d.xd[:11], d.xd[d.n-11:])
		copy(d.xs[:11], d.xs[d.n-11:])
		d.n = 11
	}
	d.xd[d.n], d.xs[d.n] = sat16(rl-rh), sat16(rl+rh)
	d.n++
	xd, xs := d.xd[d.n-12:d.n], d.xs[d.n-12:d.n]
	var o0, o1 int32
	for i := range 12 {
		o0 += qmfEven[i] * xd[11-i]
		o1 += qmfEven[11-i] * xs[11-i]
	}
	return int16(sat16(o0 >> qmfRxShift)), int16(sat16(o1 >> qmfRxShift))
}
