package confbridge

import (
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"

	"civic/voip/audio/g711"
	"civic/voip/audio/g722"
	"civic/voip/audio/jitter"
	"civic/voip/audio/mix"
	"civic/voip/audio/resample"
)

// roomBridge is one meeting's audio as its phones hear it: it taps every
// audio stream of the room once (browsers' Opus, phones' G.711/G.722),
// decodes each once, and mixes every 20 ms for each phone everyone but
// itself (N-1), encoded in the phone's codec. Phones that share a codec
// and are not sources share their frame.
type roomBridge struct {
	b    *Bridge
	room string
	m    *mix.Mixer
	stop func() // ends the tap
	done chan struct{}

	mu      sync.Mutex
	phones  map[*call]string // participant id (its listener id)
	sources map[string]*tapSource
}

// tapSource is one stream of the room, as the tap decodes it. A phone's
// stream (G.711, G.722) goes through a jitter buffer, played out on the
// mix's clock; a browser's Opus goes to the mixer as it comes (the
// mixer queues it).
type tapSource struct {
	heard time.Time
	jb    *jitter.Buffer
	dec   func(payload []byte) []int16 // the jitter buffer's frames to 48 kHz PCM
}

// sourceIdle is how long a stream may be silent before the mixer forgets
// it (its participant left, or stopped publishing).
const sourceIdle = 10 * time.Second

// roomFor returns the bridge of a meeting's audio, making it (and its
// tap) for the meeting's first phone.
func (b *Bridge) roomFor(room string) (*roomBridge, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if rb := b.rooms[room]; rb != nil {
		return rb, nil
	}
	rb := &roomBridge{b: b, room: room, m: mix.New(mix.Config{}), done: make(chan struct{}),
		phones: map[*call]string{}, sources: map[string]*tapSource{}}
	stop, err := b.cfg.Meetings.TapAudio(room, rb.onAudio)
	if err != nil {
		return nil, err
	}
	rb.stop = stop
	b.rooms[room] = rb
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		rb.run()
	}()
	return rb, nil
}

// onAudio takes one packet of the room (on the SFU's forwarding
// goroutine of its stream: quick, and copying what it keeps).
func (rb *roomBridge) onAudio(from, mime string, pkt *rtp.Packet) {
	now := time.Now()
	rb.mu.Lock()
	s := rb.sources[from]
	if s == nil {
		s = &tapSource{}
		if dec := decoderFor(mime); dec != nil {
			silence := byte(0xFF)
			if strings.EqualFold(mime, "audio/pcma") {
				silence = 0xD5
			}
			jb, err := jitter.New(jitter.Config{Silence: silence})
			if err != nil {
				rb.mu.Unlock()
				return
			}
			s.jb, s.dec = jb, dec
		}
		if err := rb.m.AddSource(from); err != nil {
			rb.mu.Unlock()
			return
		}
		rb.sources[from] = s
	}
	s.heard = now
	if s.jb != nil {
		s.jb.Push(pkt, now) // played out by run, every 20 ms
		rb.mu.Unlock()
		return
	}
	rb.mu.Unlock()
	if strings.EqualFold(mime, "audio/opus") {
		_ = rb.m.PushOpus(from, pkt.Payload)
	}
}

// decoderFor turns a phone's payloads into 48 kHz PCM; nil for Opus (the
// mixer decodes it) and for codecs the bridge does not read.
func decoderFor(mime string) func([]byte) []int16 {
	var decode func(dst []int16, b []byte) []int16
	rate := 8000
	switch strings.ToLower(mime) {
	case "audio/pcmu":
		decode = g711.DecodeUlaw
	case "audio/pcma":
		decode = g711.DecodeAlaw
	case "audio/g722":
		d := g722.NewDecoder()
		decode, rate = d.Decode, g722.SampleRate
	default:
		return nil
	}
	up, err := resample.New(rate, mix.Rate)
	if err != nil {
		return nil
	}
	var pcm, out []int16
	return func(payload []byte) []int16 {
		pcm = decode(pcm[:0], payload)
		out = up.ProcessInt16(out[:0], pcm)
		return out
	}
}

// add puts a phone in the room's audio: it hears the mix without its own
// voice.
func (rb *roomBridge) add(c *call) {
	c.mu.Lock()
	id := c.leg.ID()
	c.mu.Unlock()
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if err := rb.m.AddListener(id, c.codec.Name, id); err != nil {
		rb.b.log.Error("bridge: mixer listener", "room", rb.room, "err", err)
		return
	}
	rb.phones[c] = id
}

// remove takes a phone out; the last one out ends the room's audio.
func (rb *roomBridge) remove(c *call) {
	rb.b.mu.Lock()
	rb.mu.Lock()
	if id, ok := rb.phones[c]; ok {
		_ = rb.m.RemoveListener(id)
		delete(rb.phones, c)
	}
	empty := len(rb.phones) == 0
	if empty && rb.b.rooms[rb.room] == rb {
		delete(rb.b.rooms, rb.room)
		close(rb.done)
	}
	rb.mu.Unlock()
	rb.b.mu.Unlock()
}

// run mixes every 20 ms until the last phone leaves.
func (rb *roomBridge) run() {
	defer rb.stop()
	t := time.NewTicker(frame)
	defer t.Stop()
	byID := map[string]*call{}
	for {
		select {
		case <-rb.done:
			return
		case <-rb.b.ctx.Done():
			return
		case now := <-t.C:
			rb.mu.Lock()
			clear(byID)
			for c, id := range rb.phones {
				byID[id] = c
			}
			for id, s := range rb.sources {
				if now.Sub(s.heard) > sourceIdle {
					_ = rb.m.RemoveSource(id)
					delete(rb.sources, id)
					continue
				}
				if s.jb == nil {
					continue
				}
				if payload, ok := s.jb.Pop(now); ok {
					_ = rb.m.PushPCM(id, s.dec(payload))
				}
			}
			rb.mu.Unlock()
			for _, out := range rb.m.Tick() {
				c := byID[out.Listener]
				if c == nil {
					continue
				}
				frame := append([]byte(nil), out.Payload...)
				select {
				case c.audio <- frame:
				default: // the phone's sender is behind: drop, it catches up
				}
			}
		}
	}
}
