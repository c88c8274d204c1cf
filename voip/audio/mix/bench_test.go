package mix

import (
	"fmt"
	"testing"

	"civic/voip/audio/internal/audiotest"
	"github.com/pion/opus"
)

// BenchmarkMix times one 20 ms tick of a meeting with 10 browser speakers
// sending Opus and 50 desk phones listening in PCMU, each phone also a
// source that its own mix excludes. It reports the CPU a phone costs as a
// fraction of one core (ns per tick per phone over the 20 ms a tick
// lasts) and how many such phones one core carries. The cases differ in
// how many phones talk at once: usually none or a few.
func BenchmarkMix(b *testing.B) {
	const speakers, nPhones = 10, 50
	for _, talking := range []int{0, 2, nPhones} {
		b.Run(fmt.Sprintf("phones-talking=%d", talking), func(b *testing.B) {
			packets := voicePackets(b)
			voice := audiotest.Voice(50*FrameSamples, Rate, 8000)
			m := New(Config{})
			browsers, phones := make([]string, speakers), make([]string, nPhones)
			for i := range browsers {
				browsers[i] = fmt.Sprintf("browser%d", i)
				if err := m.AddSource(browsers[i]); err != nil {
					b.Fatal(err)
				}
			}
			for i := range phones {
				phones[i] = fmt.Sprintf("phone%d", i)
				_ = m.AddSource(phones[i])
				if err := m.AddListener(phones[i], "PCMU", phones[i]); err != nil {
					b.Fatal(err)
				}
			}
			tick := 0
			for b.Loop() {
				for i, id := range browsers {
					_ = m.PushOpus(id, packets[(tick+7*i)%len(packets)])
				}
				f := tick % 50 * FrameSamples
				for _, id := range phones[:talking] {
					_ = m.PushPCM(id, voice[f:f+FrameSamples])
				}
				if out := m.Tick(); len(out) != nPhones {
					b.Fatalf("%d outputs", len(out))
				}
				tick++
			}
			perTick := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			perPhone := perTick / nPhones / 20e6
			b.ReportMetric(perPhone, "cores/phone")
			b.ReportMetric(1/perPhone, "phones/core")
			if st := m.Stats(); st.Corrupt != 0 {
				b.Fatalf("stats %+v", st)
			}
		})
	}
}

// BenchmarkOpusDecode times pion/opus decoding one 20 ms packet of a
// browser's voice (libopus, VoIP mode, 32 kbit/s) to 48 kHz.
func BenchmarkOpusDecode(b *testing.B) {
	packets := voicePackets(b)
	dec, err := opus.NewDecoderWithOutput(Rate, 1)
	if err != nil {
		b.Fatal(err)
	}
	out := make([]float32, maxOpusSamples)
	i := 0
	for b.Loop() {
		if _, err := dec.DecodeToFloat32(packets[i%len(packets)], out); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/20e6, "cores/stream")
}

// FuzzMixOpus feeds arbitrary bytes as a browser's Opus payloads. The
// mixer must play a corrupt payload as silence and count it, never panic,
// and keep every listener's output whole.
func FuzzMixOpus(f *testing.F) {
	good := voicePackets(f)
	f.Add(good[10])
	f.Add(good[11][:len(good[11])/2])
	f.Add([]byte{})
	f.Add([]byte{0xfc, 0xff, 0xfe})              // code 0, hybrid
	f.Add([]byte{0x7b, 0x03, 0x81, 0x01, 0x02})  // code 3, padding
	f.Add(append([]byte{0x0b}, good[12][1:]...)) // SILK NB TOC on other data
	f.Fuzz(func(t *testing.T, payload []byte) {
		m := New(Config{})
		_ = m.AddSource("browser")
		_ = m.AddSource("other")
		_ = m.AddListener("phone", "PCMU", "other")
		_ = m.AddListener("hd", "G722", "browser")
		for i := range 3 {
			if err := m.PushOpus("browser", payload); err != nil {
				t.Fatal(err)
			}
			_ = m.PushOpus("other", good[i])
			for _, o := range m.Tick() {
				if len(o.Payload) != 160 {
					t.Fatalf("%s: %d octets", o.Listener, len(o.Payload))
				}
			}
			if l, ok := m.Level("browser"); !ok || l > 127 {
				t.Fatalf("level %d", l)
			}
		}
		// A good packet after the bad ones decodes.
		_ = m.PushOpus("browser", good[20])
		m.Tick()
		if st := m.Stats(); st.Corrupt > 3 {
			t.Fatalf("stats %+v", st)
		}
	})
}
