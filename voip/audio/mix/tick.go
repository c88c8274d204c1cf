package mix

import (
	"fmt"
	"slices"

	"civic/voip/audio/g711"
	"civic/voip/audio/g722"
	"civic/voip/audio/resample"
)

// groupKey identifies listeners who hear the same thing.
type groupKey struct {
	codec   Codec
	exclude string // the source they must not hear, or ""
}

// group is the listeners with one codec and one excluded source: their
// mix is limited and encoded once and the payload shared.
type group struct {
	key     groupKey
	members int
	gain    float32       // limiter gain
	enc     *g722.Encoder // G.722's ADPCM state, for that codec
	sig     []float32     // this tick's mix at the codec's rate
	pcm     []int16
	payload []byte
}

type listener struct {
	id string
	g  *group
}

// AddListener adds a phone that hears the meeting in codec ("PCMU",
// "PCMA" or "G722") without excludeSource, normally its own source id;
// "" hears everyone. Its first payload comes with the next Tick. A G.722
// listener that joins a group already running gets that group's stream
// mid-way, as any G.722 stream joined late: the phone's ADPCM decoder
// adapts to it within some tens of milliseconds.
func (m *Mixer) AddListener(id, codec, excludeSource string) error {
	c, err := ParseCodec(codec)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.listeners[id]; ok {
		return fmt.Errorf("%w: listener %q", ErrExists, id)
	}
	key := groupKey{c, excludeSource}
	g := m.groups[key]
	if g == nil {
		g = &group{key: key, gain: 1}
		if c == G722 {
			g.enc = g722.NewEncoder()
		}
		m.groups[key] = g
		m.groupList = append(m.groupList, g)
		m.needRate(c.rate())
	}
	g.members++
	l := &listener{id: id, g: g}
	m.listeners[id] = l
	m.listenerList = append(m.listenerList, l)
	return nil
}

// RemoveListener removes a phone.
func (m *Mixer) RemoveListener(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.listeners[id]
	if !ok {
		return fmt.Errorf("%w: listener %q", ErrUnknown, id)
	}
	delete(m.listeners, id)
	m.listenerList = slices.DeleteFunc(m.listenerList, func(o *listener) bool { return o == l })
	if l.g.members--; l.g.members == 0 {
		delete(m.groups, l.g.key)
		for i, g := range m.groupList {
			if g == l.g {
				m.groupList = append(m.groupList[:i], m.groupList[i+1:]...)
				break
			}
		}
	}
	return nil
}

// needRate makes sure the sum is resampled to rate.
func (m *Mixer) needRate(rate int) {
	if m.totals[rate] != nil {
		return
	}
	m.totals[rate] = mustResampler(rate)
	m.relCo[rate] = releaseCoefficient(m.cfg.Release, rate)
}

func mustResampler(rate int) *resample.Resampler {
	r, err := resample.New(Rate, rate)
	if err != nil {
		panic(err) // rates come from this package's codecs, all supported
	}
	return r
}

// Tick mixes one 20 ms frame: it takes a frame from every source (silence
// for a source with nothing queued), and returns each listener's payload.
// The returned slice and payloads are valid until the next Tick.
func (m *Mixer) Tick() []Output {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stats.Ticks++

	m.in.Lock()
	for _, s := range m.order {
		m.stats.Dropped += uint64(s.take())
	}
	m.in.Unlock()

	// Decode every source once and sum.
	clear(m.sum[:])
	for _, s := range m.order {
		if s.trim() {
			m.stats.Trimmed++
		}
		corrupt, missing := s.next()
		m.stats.Corrupt += uint64(corrupt)
		if missing {
			m.stats.Missing++
		}
		if s.active {
			for i, v := range s.frame {
				m.sum[i] += v
			}
		}
		for _, p := range s.own {
			p.done, p.used = false, false
		}
	}

	// Resample the sum once per rate in use.
	for rate, r := range m.totals {
		m.totalOut[rate] = r.Process(m.totalOut[rate][:0], m.sum[:])
	}

	for _, g := range m.groupList {
		m.mixGroup(g)
	}

	// Forget own-voice paths no group used: their listeners left.
	for _, s := range m.order {
		for rate, p := range s.own {
			if !p.used {
				delete(s.own, rate)
			}
		}
	}
	for rate := range m.totals {
		if !m.rateUsed(rate) {
			delete(m.totals, rate)
			delete(m.totalOut, rate)
		}
	}

	m.out = m.out[:0]
	for _, l := range m.listenerList {
		m.out = append(m.out, Output{Listener: l.id, Payload: l.g.payload})
	}
	return m.out
}

func (m *Mixer) rateUsed(rate int) bool {
	for _, g := range m.groupList {
		if g.key.codec.rate() == rate {
			return true
		}
	}
	return false
}

// mixGroup makes a group's payload: the resampled sum, minus the excluded
// source's own resampled frame, limited, quantized and encoded.
func (m *Mixer) mixGroup(g *group) {
	rate := g.key.codec.rate()
	total := m.totalOut[rate]
	g.sig = append(g.sig[:0], total...)
	if own := m.own(g.key.exclude, rate); own != nil {
		for i, v := range own {
			g.sig[i] -= v
		}
	}
	limit(g.sig, &g.gain, m.ceil, m.relCo[rate])
	g.pcm = g.pcm[:0]
	for _, v := range g.sig {
		g.pcm = append(g.pcm, resample.ToInt16(v*32768))
	}
	switch g.key.codec {
	case PCMU:
		g.payload = g711.EncodeUlaw(g.payload[:0], g.pcm)
	case PCMA:
		g.payload = g711.EncodeAlaw(g.payload[:0], g.pcm)
	case G722:
		g.payload = g.enc.Encode(g.payload[:0], g.pcm)
	}
}

// own returns source id's frame resampled to rate, or nil when there is
// no such source or it contributes nothing this tick. Each is computed
// once per tick, however many groups ask.
func (m *Mixer) own(id string, rate int) []float32 {
	if id == "" {
		return nil
	}
	s := m.sources[id]
	if s == nil {
		return nil
	}
	p := s.own[rate]
	if p == nil {
		p = &ownPath{res: mustResampler(rate)}
		s.own[rate] = p
	}
	p.used = true
	if !p.done {
		p.done = true
		// A silent source whose filter has run dry adds nothing; a
		// 20 ms frame is a whole number of periods of every ratio, so
		// skipping it leaves the resampler as processing it would.
		p.zero = !s.active && p.res.Idle()
		if !p.zero {
			p.out = p.res.Process(p.out[:0], s.frame[:])
		}
	}
	if p.zero {
		return nil
	}
	return p.out
}
