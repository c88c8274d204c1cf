package conference

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/pion/webrtc/v4"

	"civic/internal/events"
)

// TestServerWideLimit: the per-server participant limit counts every
// meeting, refuses one more with ErrServerFull, and frees a place when
// someone leaves.
func TestServerWideLimit(t *testing.T) {
	s := newTestService(t, Config{MaxParticipants: 2, MaxParticipantsTotal: 2})
	ctx := context.Background()
	a, _ := s.CreateMeeting(ctx, "host", MeetingOptions{Title: "A"})
	b, _ := s.CreateMeeting(ctx, "host", MeetingOptions{Title: "B"})
	join := func(room, name string) (*Participant, error) {
		p, _, _, err := s.Join(ctx, room, Identity{Name: name}, func(Signal) {})
		return p, err
	}
	p1, err := join(a.Room, "one")
	if err != nil {
		t.Fatal(err)
	}
	p2, err := join(b.Room, "two")
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Leave()
	if _, err := join(b.Room, "three"); !errors.Is(err, ErrServerFull) {
		t.Fatalf("third participant on a server for two: %v, want ErrServerFull", err)
	}
	p1.Leave()
	p3, err := join(b.Room, "three")
	if err != nil {
		t.Fatalf("after one left: %v", err)
	}
	p3.Leave()
	if n := s.joined.Load(); n != 1 {
		t.Fatalf("joined count %d after leaves, want 1", n)
	}
}

// TestCandidateFlood: a flood of trickled ICE candidates is cut off with
// a clear error after maxCandidates, and the participant still leaves
// cleanly.
func TestCandidateFlood(t *testing.T) {
	s := newTestService(t, Config{})
	m, _ := s.CreateMeeting(context.Background(), "host", MeetingOptions{Title: "Flood"})
	p, _, _, err := s.Join(context.Background(), m.Room, Identity{Name: "flooder"}, func(Signal) {})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Leave()
	var last error
	limited := 0
	for i := range maxCandidates + 10 {
		c := webrtc.ICECandidateInit{Candidate: fmt.Sprintf("candidate:%d 1 udp 2122260223 127.0.0.1 %d typ host", i, 40000+i)}
		if last = p.AddCandidate(PeerSubscribe, c); last != nil && strings.Contains(last.Error(), "ICE candidates") {
			limited++
		}
	}
	if limited != 10 {
		t.Fatalf("%d candidates refused as too many, want the 10 beyond %d", limited, maxCandidates)
	}
	if !errors.Is(last, ErrInvalid) {
		t.Fatalf("the flood's last candidate: %v, want ErrInvalid", last)
	}
	if err := p.AddCandidate("sideways", webrtc.ICECandidateInit{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an unknown connection name: %v", err)
	}
}

// TestOfferWithoutForwardableCodec: an offer whose video offers only a
// codec civicd does not forward is refused with an error naming it.
func TestOfferWithoutForwardableCodec(t *testing.T) {
	s := newTestService(t, Config{})
	m, _ := s.CreateMeeting(context.Background(), "host", MeetingOptions{Title: "Codecs"})
	p, _, _, err := s.Join(context.Background(), m.Room, Identity{Name: "av1 only"}, func(Signal) {})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Leave()
	offer := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 45\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtcp-mux\r\n" +
		"a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
		"a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n" +
		"a=setup:actpass\r\na=rtpmap:45 AV1/90000\r\n"
	_, err = p.PublishOffer(offer)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "video section 0 offers no codec") {
		t.Fatalf("an AV1-only offer: %v, want a no-codec error", err)
	}
}

// busRecorder keeps what the service publishes.
type busRecorder struct {
	mu  sync.Mutex
	evs []events.Payload
}

func (b *busRecorder) Publish(p events.Payload) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.evs = append(b.evs, p)
}

// TestLobbyToggleIsAnnounced: turning a meeting's lobby off is a
// meetings-topic event carrying the new setting, so lists update live.
func TestLobbyToggleIsAnnounced(t *testing.T) {
	s := newTestService(t, Config{})
	bus := &busRecorder{}
	s.bus = bus
	m, _ := s.CreateMeeting(context.Background(), "host", MeetingOptions{Title: "Lobby"})
	p, _, _, err := s.Join(context.Background(), m.Room, Identity{Name: "host", User: "host"}, func(Signal) {})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Leave()
	if err := p.SetLobby(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	bus.mu.Lock()
	defer bus.mu.Unlock()
	last := bus.evs[len(bus.evs)-1]
	ev, ok := last.(MeetingEvent)
	if !ok || ev.Kind != KindMeetingUpdated || ev.Meeting.Lobby || ev.Meeting.Participants != 1 {
		t.Fatalf("last event %#v; want conference.meeting_updated with the lobby off", last)
	}
}
