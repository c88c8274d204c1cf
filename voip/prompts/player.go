package prompts

import (
	"fmt"
	"sync/atomic"
	"time"
)

// FrameDuration is the sound in one frame of Player.Next: 20 ms, the
// packetisation time of G.711 and G.722 telephone calls.
const FrameDuration = 20 * time.Millisecond

// MaxSilence is the longest gap Silence makes.
const MaxSilence = 10 * time.Second

// framesPerSecond is how many FrameDuration frames make a second.
const framesPerSecond = int(time.Second / FrameDuration)

// FrameSamples returns the samples in one FrameDuration frame at rate Hz:
// 160 at 8000 Hz, 320 at 16000 Hz.
func FrameSamples(rate int) int {
	return rate / framesPerSecond
}

// Silence returns d of silence at rate Hz, to put between prompts in a
// Player. A negative d or rate gives none; d is cut to MaxSilence.
func Silence(rate int, d time.Duration) []int16 {
	if rate <= 0 || rate > MaxWAVRate || d <= 0 {
		return nil
	}
	d = min(d, MaxSilence)
	return make([]int16, int64(rate)*int64(d)/int64(time.Second))
}

// Player plays a sequence of clips (prompts from Get and gaps from Silence)
// back to back, as FrameDuration frames: the caller calls Next once per
// 20 ms, encodes the frame and sends it as one RTP packet.
//
// Next must be called from one goroutine at a time; Interrupt may be called
// from any goroutine at any time, for example by the DTMF handler when the
// caller starts keying a PIN while a prompt plays.
type Player struct {
	clips   [][]int16
	clip    int // clips[clip] is the one playing
	off     int // samples of clips[clip] already played
	frame   []int16
	stopped atomic.Bool
}

// NewPlayer returns a Player of clips at rate Hz, which must be a positive
// multiple of 50 no larger than MaxWAVRate (8000 and 16000 are), or
// ErrRate. It does not copy the clips; the caller must not change them while
// the Player plays.
func NewPlayer(rate int, clips ...[]int16) (*Player, error) {
	if rate <= 0 || rate > MaxWAVRate || rate%framesPerSecond != 0 {
		return nil, fmt.Errorf("player: %w: %d Hz", ErrRate, rate)
	}
	p := &Player{frame: make([]int16, FrameSamples(rate))}
	for _, c := range clips {
		if len(c) > 0 {
			p.clips = append(p.clips, c)
		}
	}
	return p, nil
}

// Next returns the next frame, exactly FrameSamples(rate) samples long, and
// true; or nil and false once every clip has been played or the Player has
// been interrupted. Frames run on across clip boundaries without a gap, and
// the last one is padded with silence. The frame is the Player's own and is
// overwritten by the next call.
func (p *Player) Next() (frame []int16, ok bool) {
	if p.stopped.Load() || p.clip == len(p.clips) {
		return nil, false
	}
	n := 0
	for n < len(p.frame) && p.clip < len(p.clips) {
		c := p.clips[p.clip]
		k := copy(p.frame[n:], c[p.off:])
		n += k
		p.off += k
		if p.off == len(c) {
			p.clip++
			p.off = 0
		}
	}
	clear(p.frame[n:])
	return p.frame, true
}

// Interrupt stops the Player: every later Next returns false. It is safe to
// call from any goroutine, and more than once.
func (p *Player) Interrupt() {
	p.stopped.Store(true)
}

// Interrupted reports whether Interrupt has been called.
func (p *Player) Interrupted() bool {
	return p.stopped.Load()
}

// Remaining returns how much of the clips is still to play, rounded up to
// whole frames; 0 once the Player is done or interrupted.
func (p *Player) Remaining() time.Duration {
	if p.stopped.Load() {
		return 0
	}
	left := 0
	for i := p.clip; i < len(p.clips); i++ {
		left += len(p.clips[i])
	}
	left -= p.off
	frames := (left + len(p.frame) - 1) / len(p.frame)
	return time.Duration(frames) * FrameDuration
}
