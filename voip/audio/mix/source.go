package mix

import (
	"math"

	"github.com/pion/opus"

	"civic/voip/audio/resample"
)

// maxOpusSamples is the longest Opus packet, 120 ms, at 48 kHz.
const maxOpusSamples = 120 * Rate / 1000

// source is one speaker: its inbox, filled by Push calls under
// Mixer.in, and its decoding state, used by Tick under Mixer.mu.
type source struct {
	id   string
	maxQ int // frames

	// Inbox.
	opusQ [][]byte
	pcmQ  []float32
	spare [][]byte // payload buffers to reuse

	// Tick state.
	pending [][]byte  // Opus packets taken from the inbox, not yet decoded
	buf     []float32 // decoded audio not yet mixed
	dec     opus.Decoder
	decOK   bool
	decOut  []float32
	frame   [FrameSamples]float32
	active  bool // frame holds audio this tick
	was     bool // and had last tick
	level   uint8
	// The standing backlog: the least audio queued at a tick over the
	// last trimWindow ticks.
	minDepth int
	ticks    int
	own      map[int]*ownPath // own frame resampled per listener rate
	free     [][]byte         // decoded payload buffers to hand back to spare
}

// ownPath resamples a source's frames alone, to be subtracted from the
// resampled sum for the listeners that must not hear that source.
type ownPath struct {
	res  *resample.Resampler
	out  []float32
	done bool // out is this tick's
	zero bool // this tick's is silence
	used bool // some group asked for it this tick
}

func newSource(id string, maxQ int) *source {
	return &source{id: id, maxQ: maxQ, level: 127, own: map[int]*ownPath{}}
}

// pushOpus queues a copy of payload and reports whether the oldest
// packet was dropped to make room. Called under Mixer.in.
func (s *source) pushOpus(payload []byte) (dropped bool) {
	var b []byte
	if n := len(s.spare); n > 0 {
		b, s.spare = s.spare[n-1][:0], s.spare[:n-1]
	}
	s.opusQ = append(s.opusQ, append(b, payload...))
	if len(s.opusQ) > s.maxQ {
		s.spare = append(s.spare, s.opusQ[0])
		s.opusQ = append(s.opusQ[:0], s.opusQ[1:]...)
		return true
	}
	return false
}

// pushPCM queues pcm and returns how many frames' worth of the oldest
// audio were dropped to stay within the limit. Called under Mixer.in.
func (s *source) pushPCM(pcm []int16) int {
	for _, v := range pcm {
		s.pcmQ = append(s.pcmQ, float32(v)/32768)
	}
	over := len(s.pcmQ) - s.maxQ*FrameSamples
	if over <= 0 {
		return 0
	}
	s.pcmQ = append(s.pcmQ[:0], s.pcmQ[over:]...)
	return (over + FrameSamples - 1) / FrameSamples
}

// take moves the inbox to the tick side. Called under both locks.
func (s *source) take() (dropped int) {
	s.spare = append(s.spare, s.free...)
	s.free = s.free[:0]
	s.pending = append(s.pending, s.opusQ...)
	s.opusQ = s.opusQ[:0]
	if over := len(s.pending) - s.maxQ; over > 0 {
		s.spare = append(s.spare, s.pending[:over]...)
		s.pending = append(s.pending[:0], s.pending[over:]...)
		dropped += over
	}
	s.buf = append(s.buf, s.pcmQ...)
	s.pcmQ = s.pcmQ[:0]
	if over := len(s.buf) - s.maxQ*FrameSamples; over > 0 {
		s.buf = append(s.buf[:0], s.buf[over:]...)
		dropped += (over + FrameSamples - 1) / FrameSamples
	}
	return dropped
}

// trimWindow is how many ticks a backlog must stand before a frame of
// it is dropped: 0.5 s.
const trimWindow = 25

// trim drops 20 ms of the oldest audio when, for trimWindow ticks, there
// was always at least two frames queued at a tick: a backlog left by a
// burst or a stall, which would otherwise stay as added latency for the
// rest of the call (input and mix run at the same pace). It reports
// whether it dropped a frame.
func (s *source) trim() bool {
	depth := len(s.buf) + len(s.pending)*FrameSamples
	if s.ticks == 0 || depth < s.minDepth {
		s.minDepth = depth
	}
	s.ticks++
	if s.ticks < trimWindow {
		return false
	}
	s.ticks = 0
	if s.minDepth < 2*FrameSamples {
		return false
	}
	if len(s.buf) >= FrameSamples {
		s.buf = append(s.buf[:0], s.buf[FrameSamples:]...)
	} else {
		s.free = append(s.free, s.pending[0])
		s.pending = append(s.pending[:0], s.pending[1:]...)
	}
	return true
}

// next fills frame with this tick's audio, decoding Opus as needed, and
// measures its level. It returns how many payloads were corrupt and
// whether the source, sending until now, had nothing ready.
func (s *source) next() (corrupt int, missing bool) {
	used := 0
	for ; len(s.buf) < FrameSamples && used < len(s.pending); used++ {
		p := s.pending[used]
		n, ok := s.decode(p)
		s.free = append(s.free, p)
		if !ok {
			corrupt++
			n = FrameSamples // a lost 20 ms, as silence
			clear(s.decOut[:n])
		}
		s.buf = append(s.buf, s.decOut[:n]...)
	}
	s.pending = append(s.pending[:0], s.pending[used:]...)
	s.was = s.active
	switch n := len(s.buf); {
	case n == 0:
		s.active = false
		clear(s.frame[:])
	case n < FrameSamples: // what there is, then silence
		s.active = true
		copy(s.frame[:], s.buf)
		clear(s.frame[n:])
		s.buf = s.buf[:0]
	default:
		s.active = true
		copy(s.frame[:], s.buf)
		s.buf = append(s.buf[:0], s.buf[FrameSamples:]...)
	}
	s.level = 127
	if s.active {
		var e float64
		for _, v := range s.frame {
			e += float64(v) * float64(v)
		}
		if e > 0 {
			dbov := -10 * math.Log10(e/FrameSamples)
			s.level = uint8(min(max(math.Round(dbov), 0), 127))
		}
	}
	return corrupt, s.was && !s.active
}

// decode decodes one Opus packet into decOut. A packet that fails to
// decode, yields nothing, or yields non-finite samples is reported as not
// ok and the decoder is reset, since its state may be damaged. pion/opus
// is young code fed by the network, so a panic inside it is caught and
// treated the same way: one bad packet must not take down the meeting.
func (s *source) decode(p []byte) (n int, ok bool) {
	if s.decOut == nil {
		s.decOut = make([]float32, maxOpusSamples)
	}
	if !s.decOK {
		if err := s.dec.Init(Rate, 1); err != nil {
			return 0, false
		}
		s.decOK = true
	}
	defer func() {
		if r := recover(); r != nil {
			n, ok = 0, false
		}
		if !ok {
			s.decOK = false
		}
	}()
	if len(p) == 0 {
		return 0, false
	}
	n, err := s.dec.DecodeToFloat32(p, s.decOut)
	if err != nil || n <= 0 || n > maxOpusSamples {
		return 0, false
	}
	out := s.decOut[:n]
	for i, v := range out {
		if v != v { // NaN
			return 0, false
		}
		out[i] = min(max(v, -1), 1) // as a 16-bit decoder would clip
	}
	return n, true
}
