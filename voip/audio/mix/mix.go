// Package mix is the audio mixer of one meeting's phone bridge. Sources
// are the meeting's speakers: browsers, whose Opus RTP payloads the mixer
// decodes (with pion/opus, no cgo), and phones, whose audio arrives as
// 48 kHz PCM already decoded by the caller. Listeners are phones: each
// hears every source but its own (an N-1 mix), limited so it never clips,
// resampled and encoded to its codec, as one 20 ms RTP payload per Tick.
//
// The work is shared wherever the result is the same. Each source is
// decoded once per tick, whoever listens. The mixer sums all sources once
// and resamples the sum once per output rate; a listener's own voice is
// taken out after resampling, by subtracting that source's separately
// resampled frame, which is exact because resampling is linear. That
// costs one resampler per talking phone, not one per listener. Listeners
// with the same codec and the same excluded source form a group, which is
// limited and encoded once and whose payload they all share; listeners
// that are not sources all get the full mix.
//
// Methods are safe for concurrent use: Push calls come from the RTP
// readers, Tick from the bridge's 20 ms clock, and only briefly contend.
// The package holds no global state; the voip media bridge imports it.
package mix

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"civic/voip/audio/g722"
	"civic/voip/audio/resample"
)

// Sample rate and frame of the mix.
const (
	Rate         = 48000
	FrameSamples = Rate / 50 // 20 ms
)

// Codec is a listener's RTP audio codec.
type Codec int

// The codecs a listener can take.
const (
	PCMU Codec = iota + 1 // G.711 μ-law, 8 kHz
	PCMA                  // G.711 A-law, 8 kHz
	G722                  // G.722, 16 kHz audio on an 8 kHz RTP clock
)

// ParseCodec maps an SDP encoding name ("PCMU", "PCMA", "G722", in any
// case) to a Codec.
func ParseCodec(name string) (Codec, error) {
	switch strings.ToUpper(name) {
	case "PCMU":
		return PCMU, nil
	case "PCMA":
		return PCMA, nil
	case "G722":
		return G722, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrCodec, name)
}

// String returns the codec's SDP encoding name.
func (c Codec) String() string {
	switch c {
	case PCMU:
		return "PCMU"
	case PCMA:
		return "PCMA"
	case G722:
		return "G722"
	}
	return fmt.Sprintf("Codec(%d)", int(c))
}

// rate is the codec's audio sample rate.
func (c Codec) rate() int {
	if c == G722 {
		return g722.SampleRate
	}
	return 8000
}

// Errors.
var (
	ErrCodec   = errors.New("mix: unsupported codec")
	ErrExists  = errors.New("mix: id already in use")
	ErrUnknown = errors.New("mix: unknown id")
)

// Config tunes a Mixer. The zero value is the default.
type Config struct {
	// Ceiling is the limiter's ceiling in dBFS: no output sample goes
	// above it. Default: -1.
	Ceiling float64
	// Release is how fast the limiter's gain recovers after a peak, in
	// seconds. Default: 0.05.
	Release float64
	// QueueFrames is how many 20 ms frames a source may queue ahead of
	// the mix; beyond that its oldest audio is dropped. Default: 5.
	QueueFrames int
}

func (c Config) withDefaults() Config {
	if c.Ceiling == 0 {
		c.Ceiling = -1
	}
	if c.Release <= 0 {
		c.Release = 0.05
	}
	if c.QueueFrames <= 0 {
		c.QueueFrames = 5
	}
	c.Ceiling = min(c.Ceiling, 0)
	return c
}

// Output is one listener's payload for a tick: 20 ms in the listener's
// codec, 160 octets for each codec here. Listeners of one group share the
// Payload; it is valid until the next Tick and must not be modified.
type Output struct {
	Listener string
	Payload  []byte
}

// Stats counts what went wrong on the way in.
type Stats struct {
	Ticks   uint64 // Tick calls
	Corrupt uint64 // Opus payloads that did not decode, played as silence
	Dropped uint64 // queued frames dropped because a source ran ahead
	Missing uint64 // source-ticks with no audio ready (silence, loss or late)
	Trimmed uint64 // frames dropped from a backlog that stood 0.5 s (latency kept low)
}

// Mixer mixes one meeting for its phone listeners.
type Mixer struct {
	cfg Config

	// in guards the inboxes, which Push calls fill; mu guards all else.
	// Lock order: mu, then in.
	in sync.Mutex
	mu sync.Mutex

	sources      map[string]*source
	order        []*source // sources in a stable order for the sum
	listeners    map[string]*listener
	listenerList []*listener // in the order they were added
	groups       map[groupKey]*group
	groupList    []*group
	totals       map[int]*resample.Resampler // the sum, resampled per rate
	totalOut     map[int][]float32

	sum   [FrameSamples]float32
	out   []Output
	stats Stats
	ceil  float32
	relCo map[int]float32 // limiter release coefficient per rate
}

// New returns an empty Mixer.
func New(cfg Config) *Mixer {
	cfg = cfg.withDefaults()
	return &Mixer{
		cfg:       cfg,
		sources:   map[string]*source{},
		listeners: map[string]*listener{},
		groups:    map[groupKey]*group{},
		totals:    map[int]*resample.Resampler{},
		totalOut:  map[int][]float32{},
		ceil:      float32(math.Pow(10, cfg.Ceiling/20)),
		relCo:     map[int]float32{},
	}
}

// AddSource adds a speaker. Its audio joins the mix from the next Tick.
func (m *Mixer) AddSource(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.in.Lock()
	defer m.in.Unlock()
	if _, ok := m.sources[id]; ok {
		return fmt.Errorf("%w: source %q", ErrExists, id)
	}
	s := newSource(id, m.cfg.QueueFrames)
	m.sources[id] = s
	m.order = append(m.order, s)
	return nil
}

// RemoveSource removes a speaker; listeners that excluded it then hear the
// full mix.
func (m *Mixer) RemoveSource(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.in.Lock()
	defer m.in.Unlock()
	s, ok := m.sources[id]
	if !ok {
		return fmt.Errorf("%w: source %q", ErrUnknown, id)
	}
	delete(m.sources, id)
	m.order = slices.DeleteFunc(m.order, func(o *source) bool { return o == s })
	return nil
}

// PushOpus queues one Opus RTP payload from source id. The payload is
// copied. A payload that does not decode is played as silence and
// counted in Stats.Corrupt.
func (m *Mixer) PushOpus(id string, payload []byte) error {
	m.in.Lock()
	defer m.in.Unlock()
	s, ok := m.sources[id]
	if !ok {
		return fmt.Errorf("%w: source %q", ErrUnknown, id)
	}
	if s.pushOpus(payload) {
		m.stats.Dropped++
	}
	return nil
}

// PushPCM queues 48 kHz mono samples from source id, normally one 20 ms
// frame (960 samples) per tick. The samples are copied.
func (m *Mixer) PushPCM(id string, pcm48 []int16) error {
	m.in.Lock()
	defer m.in.Unlock()
	s, ok := m.sources[id]
	if !ok {
		return fmt.Errorf("%w: source %q", ErrUnknown, id)
	}
	if n := s.pushPCM(pcm48); n > 0 {
		m.stats.Dropped += uint64(n)
	}
	return nil
}

// Level is source id's audio level in the last tick, RFC 6464 style:
// 0 is 0 dBov (a full-scale square wave), 127 is -127 dBov or silence.
func (m *Mixer) Level(id string) (level uint8, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sources[id]
	if !ok {
		return 127, false
	}
	return s.level, true
}

// SourceLevel is a source's audio level in the last tick; see Level.
type SourceLevel struct {
	ID    string
	Level uint8
}

// Levels appends every source's level in the last tick to dst, for an
// active-speaker display that polls once per tick.
func (m *Mixer) Levels(dst []SourceLevel) []SourceLevel {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.order {
		dst = append(dst, SourceLevel{ID: s.id, Level: s.level})
	}
	return dst
}

// Stats returns the counters.
func (m *Mixer) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.in.Lock()
	defer m.in.Unlock()
	return m.stats
}
