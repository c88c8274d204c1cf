package mix

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"

	"civic/internal/ogg"
	"civic/voip/audio/g711"
	"civic/voip/audio/g722"
	"civic/voip/audio/internal/audiotest"
)

// Three speakers with known tones.
var tones = []struct {
	id   string
	freq float64
}{{"a", 440}, {"b", 660}, {"c", 880}}

// listenerSpec is a phone in the tests: its codec and whom it excludes.
type listenerSpec struct {
	id, codec, exclude string
}

var phones = []listenerSpec{
	{"phone-a", "PCMU", "a"},
	{"phone-b", "PCMA", "b"},
	{"phone-c", "G722", "c"},
	{"phone-a2", "G722", "a"},
	{"guest", "PCMU", ""},
	{"guest2", "PCMU", ""},
}

// newMeeting makes a mixer with the three tone sources and the phones.
func newMeeting(t testing.TB) *Mixer {
	t.Helper()
	m := New(Config{})
	for _, s := range tones {
		if err := m.AddSource(s.id); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range phones {
		if err := m.AddListener(p.id, p.codec, p.exclude); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// heard collects each listener's decoded audio, at its codec's rate.
type heard map[string][]int16

func (h heard) add(t testing.TB, m *Mixer, out []Output, dec map[string]*g722.Decoder) {
	t.Helper()
	for _, o := range out {
		if len(o.Payload) != 160 {
			t.Fatalf("%s: payload of %d octets, want 160", o.Listener, len(o.Payload))
		}
		switch m.listeners[o.Listener].g.key.codec {
		case PCMU:
			h[o.Listener] = g711.DecodeUlaw(h[o.Listener], o.Payload)
		case PCMA:
			h[o.Listener] = g711.DecodeAlaw(h[o.Listener], o.Payload)
		case G722:
			if dec[o.Listener] == nil {
				dec[o.Listener] = g722.NewDecoder()
			}
			h[o.Listener] = dec[o.Listener].Decode(h[o.Listener], o.Payload)
		}
	}
}

// checkNMinusOne checks by FFT that each listener hears exactly the tones
// of the sources it does not exclude, each at about amp, and its own at
// least 30 dB below them.
func checkNMinusOne(t *testing.T, h heard, amp float64) {
	t.Helper()
	for _, p := range phones {
		rate := 8000.0
		if p.codec == "G722" {
			rate = 16000
		}
		x := audiotest.Float64s(h[p.id])
		x = x[len(x)-int(rate):] // the last second
		s := audiotest.NewSpectrum(x, rate)
		loudest := 0.0
		for _, tn := range tones {
			loudest = max(loudest, s.Band(tn.freq, 6))
		}
		var levels []string
		for _, tn := range tones {
			levels = append(levels, fmt.Sprintf("%v Hz %+.1f dB", tn.freq, audiotest.DB(s.Band(tn.freq, 6)/loudest)))
		}
		t.Logf("%s (%s, without %q): %v", p.id, p.codec, p.exclude, levels)
		var own float64
		var rest []float64
		for _, tn := range tones {
			if tn.id == p.exclude {
				own = s.Band(tn.freq, 6)
			} else {
				rest = append(rest, s.Band(tn.freq, 6))
			}
		}
		if p.exclude == "" {
			if len(rest) != 3 {
				t.Fatalf("%s: %d tones", p.id, len(rest))
			}
		}
		for i, r := range rest {
			if own > 0 && audiotest.DB(r/own) < 30 {
				t.Errorf("%s: own tone only %.1f dB below tone %d", p.id, audiotest.DB(r/own), i)
			}
			// The tones the listener hears are equally loud (±1 dB).
			if d := audiotest.DB(r / rest[0]); math.Abs(d) > 1 {
				t.Errorf("%s: tone %d is %.1f dB off the others", p.id, i, d)
			}
		}
		// And they carry the level sent: an N-1 mix of two sines of
		// amplitude amp has an RMS of amp.
		if rms := audiotest.RMS(x); math.Abs(20*math.Log10(rms/(amp*math.Sqrt(float64(len(rest))/2)))) > 1 {
			t.Errorf("%s: RMS %.0f, want %.0f", p.id, rms, amp*math.Sqrt(float64(len(rest))/2))
		}
		// Nothing else: the three tones hold nearly all the power.
		var tonal float64
		for _, tn := range tones {
			tonal += s.Band(tn.freq, 6)
		}
		if rel := audiotest.DB(s.Total(0)/tonal - 1); rel > -25 {
			t.Errorf("%s: %.1f dB of noise and distortion", p.id, rel)
		}
	}
}

// TestNMinusOnePCM feeds the three tones as 48 kHz PCM, as phones'
// audio arrives.
func TestNMinusOnePCM(t *testing.T) {
	m := newMeeting(t)
	const amp = 6000.0
	src := map[string][]int16{}
	for _, tn := range tones {
		src[tn.id] = audiotest.Sine(tn.freq, Rate, 60*FrameSamples, amp)
	}
	h, dec := heard{}, map[string]*g722.Decoder{}
	for tick := range 60 {
		for _, tn := range tones {
			if err := m.PushPCM(tn.id, src[tn.id][tick*FrameSamples:(tick+1)*FrameSamples]); err != nil {
				t.Fatal(err)
			}
		}
		h.add(t, m, m.Tick(), dec)
	}
	checkNMinusOne(t, h, amp)
	if st := m.Stats(); st.Corrupt+st.Dropped+st.Missing != 0 || st.Ticks != 60 {
		t.Errorf("stats %+v", st)
	}
}

// TestNMinusOneOpus feeds the tones as Opus packets, as browsers send
// them, encoded by ffmpeg's libopus.
func TestNMinusOneOpus(t *testing.T) {
	m := newMeeting(t)
	const amp = 6000.0
	packets := map[string][][]byte{}
	for _, tn := range tones {
		packets[tn.id] = audiotest.OpusPackets(t, audiotest.Sine(tn.freq, Rate, 70*FrameSamples, amp), "48k")
	}
	h, dec := heard{}, map[string]*g722.Decoder{}
	for tick := range 65 {
		for _, tn := range tones {
			if err := m.PushOpus(tn.id, packets[tn.id][tick]); err != nil {
				t.Fatal(err)
			}
		}
		h.add(t, m, m.Tick(), dec)
	}
	checkNMinusOne(t, h, amp)
	if st := m.Stats(); st.Corrupt+st.Dropped+st.Missing != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestLongOpusPackets feeds 60 ms Opus packets, one every third tick:
// the mixer spreads each over three frames.
func TestLongOpusPackets(t *testing.T) {
	stream := audiotest.RunFFmpeg(t, audiotest.S16LE(audiotest.Sine(660, Rate, 60*FrameSamples, 8000)),
		"-f", "s16le", "-ar", "48000", "-ac", "1", "-i", "-", "-c:a", "libopus", "-b:a", "48k",
		"-frame_duration", "60", "-f", "ogg", "-")
	packets, err := ogg.Packets(stream)
	if err != nil {
		t.Fatal(err)
	}
	packets = packets[2:]
	m := New(Config{})
	_ = m.AddSource("a")
	_ = m.AddListener("p", "PCMU", "")
	var pcm []int16
	for tick := range 54 {
		if tick%3 == 0 {
			_ = m.PushOpus("a", packets[tick/3])
		}
		pcm = g711.DecodeUlaw(pcm, m.Tick()[0].Payload)
	}
	_, snr := audiotest.SineFit(audiotest.Float64s(pcm[1600:]), 660, 8000)
	if st := m.Stats(); snr < 25 || st.Missing != 0 {
		t.Errorf("60 ms packets: SNR %.1f dB, stats %+v", snr, st)
	}
}

// TestLoudNoClip sums three full-scale speakers: the limiter must keep
// every listener's samples inside the int16 range, below the ceiling,
// with no wrap-around.
func TestLoudNoClip(t *testing.T) {
	m := newMeeting(t)
	const amp = 32000.0
	src := map[string][]int16{}
	for _, tn := range tones {
		src[tn.id] = audiotest.Sine(tn.freq, Rate, 50*FrameSamples, amp)
	}
	ceil := 32768 * math.Pow(10, -1.0/20)
	h, dec := heard{}, map[string]*g722.Decoder{}
	for tick := range 50 {
		for _, tn := range tones {
			_ = m.PushPCM(tn.id, src[tn.id][tick*FrameSamples:(tick+1)*FrameSamples])
		}
		h.add(t, m, m.Tick(), dec)
		for _, g := range m.groupList {
			for i, v := range g.pcm {
				if math.Abs(float64(v)) > ceil+1 {
					t.Fatalf("group %v: sample %d is %d, over the %.0f ceiling", g.key, i, v, ceil)
				}
				// No wrap: the quantized sample has the sign of the
				// limited signal.
				if f := g.sig[i]; (f > 1e-3 && v < 0) || (f < -1e-3 && v > 0) {
					t.Fatalf("group %v: sample %d wrapped: %d for %f", g.key, i, v, f)
				}
			}
		}
	}
	for _, p := range phones {
		x := audiotest.Float64s(h[p.id])
		peak := audiotest.Peak(x)
		// The limiter holds the level near the ceiling: loud, not
		// squashed.
		t.Logf("%s: peak %.0f, RMS %.0f", p.id, peak, audiotest.RMS(x))
		if peak > 32767 || peak < 20000 {
			t.Errorf("%s: peak %.0f", p.id, peak)
		}
	}
}

// TestShared checks that listeners with the same codec and exclusion share
// one encoded payload, and that a listener that is not a source hears the
// full mix.
func TestShared(t *testing.T) {
	m := newMeeting(t)
	for i := range 20 {
		_ = m.AddListener(fmt.Sprintf("viewer%d", i), "PCMU", "")
	}
	_ = m.AddListener("phone-a3", "PCMU", "a")
	if len(m.groups) != 5 { // PCMU-a, PCMA-b, G722-c, G722-a, PCMU-""
		t.Errorf("%d groups, want 5", len(m.groups))
	}
	for _, tn := range tones {
		_ = m.PushPCM(tn.id, audiotest.Sine(tn.freq, Rate, FrameSamples, 3000))
	}
	out := m.Tick()
	by := map[string][]byte{}
	for _, o := range out {
		by[o.Listener] = o.Payload
	}
	if len(out) != len(phones)+21 {
		t.Fatalf("%d outputs", len(out))
	}
	if &by["guest"][0] != &by["viewer7"][0] || &by["phone-a"][0] != &by["phone-a3"][0] {
		t.Error("same group, different payloads")
	}
	if &by["guest"][0] == &by["phone-a"][0] {
		t.Error("different groups share a payload")
	}
	// Removing the last member frees the group; removing a source makes
	// its excluders hear everyone.
	_ = m.RemoveListener("phone-a3")
	_ = m.RemoveListener("phone-a")
	if len(m.groups) != 4 {
		t.Errorf("%d groups after removals, want 4", len(m.groups))
	}
	if err := m.RemoveSource("b"); err != nil {
		t.Fatal(err)
	}
	_ = m.PushPCM("a", audiotest.Sine(440, Rate, FrameSamples, 3000))
	for _, o := range m.Tick() {
		if o.Listener == "phone-b" {
			if audiotest.RMS(audiotest.Float64s(g711.DecodeAlaw(nil, o.Payload))) < 1000 {
				t.Error("phone-b does not hear a after b left")
			}
		}
	}
}

func TestLevels(t *testing.T) {
	m := New(Config{})
	_ = m.AddSource("loud")
	_ = m.AddSource("quiet")
	_ = m.AddSource("silent")
	_ = m.PushPCM("loud", audiotest.Sine(440, Rate, FrameSamples, 32767*math.Pow(10, -6.0/20)))
	_ = m.PushPCM("quiet", audiotest.Sine(440, Rate, FrameSamples, 32767*math.Pow(10, -40.0/20)))
	m.Tick()
	tests := []struct {
		id   string
		want uint8
	}{{"loud", 9}, {"quiet", 43}, {"silent", 127}}
	for _, tt := range tests {
		// A sine's RMS is 3 dB under its peak.
		if got, ok := m.Level(tt.id); !ok || got != tt.want {
			t.Errorf("Level(%s) = %d, %v, want %d", tt.id, got, ok, tt.want)
		}
	}
	if got := m.Levels(nil); len(got) != 3 || got[0] != (SourceLevel{"loud", 9}) || got[2].Level != 127 {
		t.Errorf("Levels = %v", got)
	}
	if _, ok := m.Level("nobody"); ok {
		t.Error("level of an unknown source")
	}
}

func TestErrors(t *testing.T) {
	m := New(Config{})
	_ = m.AddSource("a")
	if err := m.AddSource("a"); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate source: %v", err)
	}
	if err := m.AddListener("p", "G729", ""); !errors.Is(err, ErrCodec) {
		t.Errorf("G.729 listener: %v", err)
	}
	if err := m.AddListener("p", "pcmu", "a"); err != nil {
		t.Errorf("lower-case codec: %v", err)
	}
	if err := m.AddListener("p", "PCMU", ""); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate listener: %v", err)
	}
	for _, err := range []error{m.PushOpus("x", []byte{1}), m.PushPCM("x", nil), m.RemoveSource("x"), m.RemoveListener("x")} {
		if !errors.Is(err, ErrUnknown) {
			t.Errorf("unknown id: %v", err)
		}
	}
	// A listener may exclude a source that is not (yet) there.
	if err := m.AddListener("q", "PCMA", "later"); err != nil {
		t.Error(err)
	}
	if out := m.Tick(); len(out) != 2 || len(out[0].Payload) != 160 {
		t.Errorf("tick with no audio: %v", out)
	}
}

// TestCorrupt feeds garbage between good Opus packets: each bad one is a
// frame of silence, counted, and decoding recovers.
func TestCorrupt(t *testing.T) {
	good := voicePackets(t)
	m := New(Config{})
	_ = m.AddSource("a")
	_ = m.AddListener("p", "G722", "")
	bad := [][]byte{{}, {0xff}, {0xff, 0xff, 0xff, 0xff}, {0x03, 0xff}, make([]byte, 1500)}
	for i, b := range bad {
		_ = m.PushOpus("a", good[i])
		m.Tick()
		_ = m.PushOpus("a", b)
		if out := m.Tick(); len(out[0].Payload) != 160 {
			t.Fatal("no payload after a corrupt packet")
		}
	}
	lvl := 0
	for i := 10; i < 30; i++ {
		_ = m.PushOpus("a", good[i])
		m.Tick()
		if l, _ := m.Level("a"); l < 60 {
			lvl++
		}
	}
	st := m.Stats()
	if st.Corrupt != uint64(len(bad)) || lvl == 0 {
		t.Errorf("stats %+v, %d loud frames after recovery", st, lvl)
	}
}

// TestQueue checks the inbox limit and the missing count.
func TestQueue(t *testing.T) {
	m := New(Config{QueueFrames: 3})
	_ = m.AddSource("a")
	_ = m.AddListener("p", "PCMU", "")
	for range 5 {
		_ = m.PushPCM("a", make([]int16, FrameSamples))
	}
	for range 4 {
		m.Tick()
	}
	if st := m.Stats(); st.Dropped != 2 || st.Missing != 1 {
		t.Errorf("stats %+v, want 2 dropped and 1 missing", st)
	}
}

// TestBacklogTrimmed: a burst leaves a source 4 frames ahead of the mix,
// and input and mix then run at one pace. The backlog is trimmed a frame
// every 0.5 s, so a sound pushed later is heard within a tick instead of
// 80 ms late for the rest of the call.
func TestBacklogTrimmed(t *testing.T) {
	m := New(Config{})
	_ = m.AddSource("a")
	_ = m.AddListener("p", "PCMU", "")
	quiet, loud := make([]int16, FrameSamples), audiotest.Sine(440, Rate, FrameSamples, 8000)
	delay := func() int {
		t.Helper()
		_ = m.PushPCM("a", loud)
		for d := 0; d < 10; d++ {
			out := m.Tick()
			var e float64
			for _, b := range out[0].Payload {
				v := float64(g711.UlawToLinear(b))
				e += v * v
			}
			if e/160 > 1000*1000 {
				return d
			}
			_ = m.PushPCM("a", quiet)
		}
		t.Fatal("the loud frame never came out")
		return -1
	}
	for range 5 { // the burst
		_ = m.PushPCM("a", quiet)
	}
	m.Tick()
	if d := delay(); d != 4 {
		t.Fatalf("right after the burst the sound comes %d ticks late, want 4", d)
	}
	for range 4 * trimWindow {
		_ = m.PushPCM("a", quiet)
		m.Tick()
	}
	if d := delay(); d > 1 {
		t.Errorf("after 2 s the sound still comes %d ticks late (stats %+v)", d, m.Stats())
	}
	if st := m.Stats(); st.Trimmed < 3 {
		t.Errorf("stats %+v: want at least 3 frames trimmed", st)
	}
}

// TestConcurrent pushes from several goroutines while ticking; run with
// -race.
func TestConcurrent(t *testing.T) {
	m := newMeeting(t)
	frame := audiotest.Sine(440, Rate, FrameSamples, 1000)
	var wg sync.WaitGroup
	for _, tn := range tones {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				_ = m.PushPCM(tn.id, frame)
				m.Level(tn.id)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 100 {
			id := fmt.Sprintf("late%d", i)
			_ = m.AddListener(id, "G722", "a")
			_ = m.RemoveListener(id)
		}
	}()
	for range 100 {
		m.Tick()
	}
	wg.Wait()
	if st := m.Stats(); st.Ticks != 100 {
		t.Errorf("stats %+v", st)
	}
}
