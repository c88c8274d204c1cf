package conference

import (
	"context"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"civic/internal/rtc/rtctest"
)

func TestAudioLevel(t *testing.T) {
	oneByte := func(id, level byte) []byte {
		return []byte{0x90, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0xbe, 0xde, 0, 1, id<<4 | 0, level, 0, 0}
	}
	tests := []struct {
		name  string
		pkt   []byte
		id    uint8
		level uint8
		ok    bool
	}{
		{"one-byte form", oneByte(1, 0x80|30), 1, 30, true},
		{"other id", oneByte(2, 30), 1, 0, false},
		{"two-byte form", []byte{0x90, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0x10, 0x00, 0, 1, 5, 1, 42, 0}, 5, 42, true},
		{"no extension bit", []byte{0x80, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2}, 1, 0, false},
		{"extension longer than packet", []byte{0x90, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0xbe, 0xde, 0, 9, 0x10, 1}, 1, 0, false},
		{"element longer than block", []byte{0x90, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0xbe, 0xde, 0, 1, 0x1f, 1, 2, 3}, 1, 0, false},
		{"id 0 means none", oneByte(1, 30), 0, 0, false},
	}
	for _, tt := range tests {
		level, ok := audioLevel(tt.pkt, tt.id)
		if ok != tt.ok || level != tt.level {
			t.Errorf("%s: got %d, %v; want %d, %v", tt.name, level, ok, tt.level, tt.ok)
		}
	}
	// The parser agrees with pion's for what pion builds.
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111}, Payload: []byte{1}}
	if err := p.Header.SetExtension(3, []byte{0x80 | 17}); err != nil {
		t.Fatal(err)
	}
	raw, _ := p.Marshal()
	if level, ok := audioLevel(raw, 3); !ok || level != 17 {
		t.Errorf("pion-built packet: got %d, %v; want 17", level, ok)
	}
}

// FuzzAudioLevel feeds arbitrary packets (they come from the network).
func FuzzAudioLevel(f *testing.F) {
	f.Add([]byte{0x90, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0xbe, 0xde, 0, 1, 0x10, 30, 0, 0}, uint8(1))
	f.Add([]byte{0x90, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0x10, 0x00, 0, 1, 5, 1, 42, 0}, uint8(5))
	f.Fuzz(func(t *testing.T, pkt []byte, id uint8) {
		if level, ok := audioLevel(pkt, id); ok && level > 127 {
			t.Fatalf("level %d out of range", level)
		}
	})
}

// speaker publishes Opus RTP carrying a fixed audio level.
func speaker(t *testing.T, s *Service, api *webrtc.API, room, name string, level uint8, stop chan struct{}) *Participant {
	t.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", name)
	if err != nil {
		t.Fatal(err)
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		t.Fatal(err)
	}
	p, _, _, err := s.Join(context.Background(), room, Identity{Name: name}, func(Signal) {})
	if err != nil {
		t.Fatal(err)
	}
	offer, _ := pc.CreateOffer(nil)
	gathered := webrtc.GatheringCompletePromise(pc)
	_ = pc.SetLocalDescription(offer)
	<-gathered
	answer, err := p.PublishOffer(pc.LocalDescription().SDP)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	id := extensionID(sender.GetParameters().HeaderExtensions, rtctest.AudioLevelURI)
	if id == 0 {
		t.Fatal("the audio level extension was not negotiated")
	}
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(0); ; seq++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 960}, Payload: []byte{0xfc, 0xff, 0xfe}}
			_ = pkt.Header.SetExtension(id, []byte{level})
			_ = track.WriteRTP(pkt)
		}
	}()
	return p
}

// TestActiveSpeaker has a loud and a quiet publisher; everyone is told the
// loud one is speaking.
func TestActiveSpeaker(t *testing.T) {
	s := newTestService(t, Config{})
	m, _ := s.CreateMeeting(context.Background(), "host", MeetingOptions{Title: "Speakers"})
	api := testAPI(t)
	stop := make(chan struct{})
	defer close(stop)
	speakers := make(chan string, 16)
	watcher, _, _, err := s.Join(context.Background(), m.Room, Identity{Name: "watcher"}, func(sig Signal) {
		if sig.Kind == SignalSpeaker {
			speakers <- sig.Data.(map[string]any)["participant_id"].(string)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Leave()
	quiet := speaker(t, s, api, m.Room, "quiet", 110, stop) // -110 dBov: silence
	loud := speaker(t, s, api, m.Room, "loud", 20, stop)    // -20 dBov: speech
	defer quiet.Leave()
	defer loud.Leave()
	select {
	case id := <-speakers:
		if id != loud.ID() {
			t.Fatalf("active speaker %s, want the loud one %s (quiet is %s)", id, loud.ID(), quiet.ID())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no active speaker named within 10 s")
	}
}
