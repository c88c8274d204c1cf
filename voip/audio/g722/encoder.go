package g722

// qmfHistory is the length of the transmit and receive filter delay lines
// kept in one slice; they slide back to the start when full, so the
// per-sample cost is one store instead of a shift of the whole line.
const qmfHistory = 512

// Encoder encodes 16 kHz 16-bit PCM to G.722 at 64 kbit/s. The zero value
// is not ready; use NewEncoder.
type Encoder struct {
	lo, hi band
	x      [qmfHistory + 24]int32 // input samples; x[n-1] is the newest
	n      int
	odd    bool  // a sample is waiting for its pair
	oddV   int16 // that sample
}

// NewEncoder returns an encoder in the reset state of the Recommendation.
func NewEncoder() *Encoder {
	e := &Encoder{}
	e.Reset()
	return e
}

// Reset returns the encoder to its initial state, for a new stream.
func (e *Encoder) Reset() {
	*e = Encoder{n: 24}
	e.lo, e.hi = newBands()
}

// Encode appends the G.722 octets of pcm (16 kHz samples) to dst and
// returns the extended slice: one octet per two samples, so 320 samples
// (20 ms) give 160 octets. An odd trailing sample is kept and coded with
// the first sample of the next call.
func (e *Encoder) Encode(dst []byte, pcm []int16) []byte {
	if e.odd && len(pcm) > 0 {
		dst = append(dst, e.encodePair(e.oddV, pcm[0]))
		pcm = pcm[1:]
		e.odd = false
	}
	for len(pcm) >= 2 {
		dst = append(dst, e.encodePair(pcm[0], pcm[1]))
		pcm = pcm[2:]
	}
	if len(pcm) == 1 {
		e.odd, e.oddV = true, pcm[0]
	}
	return dst
}

// encodePair codes two consecutive samples, s0 first, into one octet.
func (e *Encoder) encodePair(s0, s1 int16) byte {
	if e.n == len(e.x) {
		copy(e.x[:22], e.x[e.n-22:])
		e.n = 22
	}
	e.x[e.n], e.x[e.n+1] = int32(s0), int32(s1)
	e.n += 2

	// Block 1T, the transmit QMF: xA sums the even taps over the newest
	// sample and every second one before it, xB the odd taps over the
	// others.
	h := e.x[e.n-24 : e.n]
	var xa, xb int32
	for i := range 12 {
		xa += qmfEven[i] * h[23-2*i]
		xb += qmfEven[11-i] * h[22-2*i]
	}
	xl := sat16((xa + xb) >> qmfTxShift)
	xh := sat16((xa - xb) >> qmfTxShift)

	il := e.lo.encodeLow(xl)
	ih := e.hi.encodeHigh(xh)
	return byte(ih<<6 | il)
}

// encodeLow quantizes the lower band sample to a 6-bit code (blocks
// SUBTRA and QUANTL) and adapts the band to its top four bits.
func (bd *band) encodeLow(xl int32) int32 {
	el := sat16(xl - bd.s)
	wd := el
	if el < 0 {
		wd = -(el + 1)
	}
	mag := int32(1)
	for mag < 30 && wd >= (q6[mag]*bd.det)>>12 {
		mag++
	}
	var il int32
	switch {
	case el >= 0:
		il = 62 - mag
	case mag <= 2:
		il = 64 - mag
	default:
		il = 34 - mag
	}
	bd.adapt(bd.lowUpdate(il >> 2))
	return il
}

// encodeHigh quantizes the higher band sample to a 2-bit code (blocks
// SUBTRA and QUANTH) and adapts the band to it.
func (bd *band) encodeHigh(xh int32) int32 {
	eh := sat16(xh - bd.s)
	wd := eh
	if eh < 0 {
		wd = -(eh + 1)
	}
	large := wd >= (q2*bd.det)>>12
	var ih int32
	switch {
	case eh < 0 && large:
		ih = 0
	case eh < 0:
		ih = 1
	case large:
		ih = 2
	default:
		ih = 3
	}
	bd.adapt(bd.highUpdate(ih))
	return ih
}
