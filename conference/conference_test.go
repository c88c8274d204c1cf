package conference

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"go.uber.org/goleak"

	"civic/internal/rtc"
	"civic/internal/rtc/rtctest"
	"civic/internal/store"
)

func newTestService(t testing.TB, cfg Config) *Service {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	st, err := store.Open(context.Background(), t.TempDir(), logger)
	if err != nil {
		t.Fatal(err)
	}
	engine, err := rtc.New(rtc.Config{Host: "127.0.0.1", TCPPort: -1, LoopbackOnly: true}, logger)
	if err != nil {
		t.Fatal(err)
	}
	s := New(cfg, st.DB(), engine, nil, logger)
	t.Cleanup(func() {
		_ = s.Shutdown(context.Background())
		engine.Close()
		st.Close()
	})
	return s
}

// client is a Go participant talking to the Service directly: a publish
// connection with one VP8 track and a subscribe connection.
type client struct {
	t        testing.TB
	p        *Participant
	pub, sub *webrtc.PeerConnection
	received chan string // stream ids of tracks that delivered RTP
	stop     chan struct{}
}

func testAPI(t testing.TB) *webrtc.API { return rtctest.LoopbackAPI(t) }

func joinClient(t testing.TB, s *Service, api *webrtc.API, room, name string) *client {
	return joinWith(t, s, api, room, name, clientOpts{publish: true})
}

// clientOpts shape a test client: whether it publishes (and what), and
// what it does with each RTP packet it receives.
type clientOpts struct {
	publish  bool
	audio    bool                  // publish Opus instead of VP8
	interval time.Duration         // between samples; default 20 ms
	sample   func() []byte         // default: a tiny VP8 keyframe
	onRTP    func(pkt *rtp.Packet) // default: nothing
}

func joinWith(t testing.TB, s *Service, api *webrtc.API, room, name string, o clientOpts) *client {
	t.Helper()
	c := &client{t: t, received: make(chan string, 16), stop: make(chan struct{})}
	var err error
	if c.sub, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		t.Fatal(err)
	}
	c.sub.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for i := 0; ; i++ {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if o.onRTP != nil {
				o.onRTP(pkt)
			}
			if i == 5 {
				select {
				case c.received <- tr.StreamID():
				default:
				}
			}
		}
	})
	offers := make(chan string, 8)
	p, _, _, err := s.Join(context.Background(), room, Identity{Name: name, User: name, Source: "127.0.0.1"}, func(sig Signal) {
		if sig.Kind == SignalOffer {
			offers <- sig.Data.(map[string]any)["sdp"].(string)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	c.p = p
	go func() { // answer every subscribe offer, in order
		for {
			select {
			case sdp := <-offers:
				if c.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}) != nil {
					return
				}
				answer, err := c.sub.CreateAnswer(nil)
				if err != nil {
					return
				}
				gathered := webrtc.GatheringCompletePromise(c.sub)
				_ = c.sub.SetLocalDescription(answer)
				<-gathered
				_ = p.SubscribeAnswer(c.sub.LocalDescription().SDP)
			case <-c.stop:
				return
			}
		}
	}()

	if !o.publish {
		return c
	}
	if c.pub, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		t.Fatal(err)
	}
	codec, kind := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video"
	if o.audio {
		codec, kind = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio"
	}
	track, err := webrtc.NewTrackLocalStaticSample(codec, kind, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.pub.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	offer, _ := c.pub.CreateOffer(nil)
	gathered := webrtc.GatheringCompletePromise(c.pub)
	_ = c.pub.SetLocalDescription(offer)
	<-gathered
	answer, err := p.PublishOffer(c.pub.LocalDescription().SDP)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	if o.interval == 0 {
		o.interval = 20 * time.Millisecond
	}
	if o.sample == nil {
		frame := []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a}
		o.sample = func() []byte { return frame }
	}
	go func() {
		tick := time.NewTicker(o.interval)
		defer tick.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-tick.C:
				_ = track.WriteSample(media.Sample{Data: o.sample(), Duration: o.interval})
			}
		}
	}()
	return c
}

// close leaves and closes the client's side.
func (c *client) close() {
	close(c.stop)
	c.p.Leave()
	if c.pub != nil {
		c.pub.Close()
	}
	c.sub.Close()
}

// waitFrom waits until the client has received RTP from every stream id.
func (c *client) waitFrom(ids ...string) {
	c.t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	deadline := time.After(20 * time.Second)
	for len(want) > 0 {
		select {
		case id := <-c.received:
			delete(want, id)
		case <-deadline:
			c.t.Fatalf("no media within 20 s from %v", want)
		}
	}
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestThreeParticipantsThenNoLeaks puts three Go participants in one
// meeting; each receives the other two. After all leave, the attendance
// is complete and goroutines and file descriptors are back to baseline.
func TestThreeParticipantsThenNoLeaks(t *testing.T) {
	s := newTestService(t, Config{})
	m, err := s.CreateMeeting(context.Background(), "host", MeetingOptions{Title: "Three"})
	if err != nil {
		t.Fatal(err)
	}
	api := testAPI(t)
	baseline := goleak.IgnoreCurrent()
	fds := openFDs(t)

	a := joinClient(t, s, api, m.Room, "a")
	b := joinClient(t, s, api, m.Room, "b")
	c := joinClient(t, s, api, m.Room, "c")
	a.waitFrom(b.p.ID(), c.p.ID())
	b.waitFrom(a.p.ID(), c.p.ID())
	c.waitFrom(a.p.ID(), b.p.ID())
	if n := s.count(m.Room); n != 3 {
		t.Fatalf("room has %d participants, want 3", n)
	}
	a.close()
	b.close()
	c.close()

	goleak.VerifyNone(t, baseline)
	if got := openFDs(t); got > fds {
		t.Errorf("open file descriptors: %d after, %d before", got, fds)
	}
	att, err := s.AttendanceOf(context.Background(), m.Room)
	if err != nil {
		t.Fatal(err)
	}
	if len(att) != 3 {
		t.Fatalf("attendance has %d rows, want 3", len(att))
	}
	for _, r := range att {
		if r.LeftAt.IsZero() || r.LeftAt.Before(r.JoinedAt) || r.Source != "127.0.0.1" {
			t.Errorf("attendance row %+v: want a leave time after the join time and the source", r)
		}
	}
}

// TestParticipantThatNeverConnectsIsRemoved joins without ever doing ICE.
func TestParticipantThatNeverConnectsIsRemoved(t *testing.T) {
	s := newTestService(t, Config{ICETimeout: 200 * time.Millisecond})
	m, err := s.CreateMeeting(context.Background(), "host", MeetingOptions{Title: "Timeout"})
	if err != nil {
		t.Fatal(err)
	}
	left := make(chan struct{})
	p, _, _, err := s.Join(context.Background(), m.Room, Identity{Name: "ghost"}, func(Signal) {})
	if err != nil {
		t.Fatal(err)
	}
	go func() { <-p.done; close(left) }()
	select {
	case <-left:
	case <-time.After(10 * time.Second):
		t.Fatal("a participant that never connected was not removed")
	}
	if n := s.count(m.Room); n != 0 {
		t.Fatalf("room still has %d participants", n)
	}
}

func TestJoinErrors(t *testing.T) {
	s := newTestService(t, Config{MaxParticipants: 1})
	if _, _, _, err := s.Join(context.Background(), "999999", Identity{}, func(Signal) {}); err != ErrNoMeeting {
		t.Errorf("unknown room: %v, want ErrNoMeeting", err)
	}
	m, _ := s.CreateMeeting(context.Background(), "host", MeetingOptions{Title: "Small"})
	p, _, _, err := s.Join(context.Background(), m.Room, Identity{Name: "one"}, func(Signal) {})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Leave()
	if _, _, _, err := s.Join(context.Background(), m.Room, Identity{Name: "two"}, func(Signal) {}); err != ErrTooManyJoin {
		t.Errorf("full room: %v, want ErrTooManyJoin", err)
	}
	if _, err := p.PublishOffer("garbage"); err == nil {
		t.Error("malformed SDP accepted")
	}
	if err := p.SubscribeAnswer("v=0"); err == nil {
		t.Error("an answer with no offer out was accepted")
	}
}

// TestHostMuteStopsAudio checks that muting drops a participant's audio in
// the SFU: the subscriber's packet count stops growing while the
// publisher keeps sending, and grows again after unmuting.
func TestHostMuteStopsAudio(t *testing.T) {
	s := newTestService(t, Config{})
	m, _ := s.CreateMeeting(context.Background(), "host", MeetingOptions{Title: "Mute"})
	api := testAPI(t)
	var mu sync.Mutex
	received := 0
	sub := joinWith(t, s, api, m.Room, "listener", clientOpts{onRTP: func(*rtp.Packet) { mu.Lock(); received++; mu.Unlock() }})
	defer sub.close()
	sent := make(chan struct{}, 1000)
	pub := joinWith(t, s, api, m.Room, "speaker", clientOpts{publish: true, audio: true, sample: func() []byte {
		select {
		case sent <- struct{}{}:
		default:
		}
		return []byte{0xfc, 0xff, 0xfe}
	}})
	defer pub.close()
	count := func() int { mu.Lock(); defer mu.Unlock(); return received }
	waitSent := func(n int) { // wait until the publisher sent n more packets
		for range n {
			<-sent
		}
	}
	sub.waitFrom(pub.p.ID())
	for len(sent) > 0 { // count only packets sent from here on
		<-sent
	}

	if err := sub.p.SetMuted(pub.p.ID(), true); err != nil {
		t.Fatal(err)
	}
	waitSent(5) // packets already in flight land
	before := count()
	waitSent(25) // half a second of speech
	if after := count(); after != before {
		t.Fatalf("muted audio still forwarded: %d packets arrived", after-before)
	}
	if err := sub.p.SetMuted(pub.p.ID(), false); err != nil {
		t.Fatal(err)
	}
	waitSent(25)
	if after := count(); after <= before {
		t.Fatal("audio did not resume after unmuting")
	}
}

// TestDetachedParticipantLeavesAfterGrace: a participant whose client went
// away and did not rejoin leaves when the grace period ends, and can then
// not be rejoined; one that rejoins in time stays.
func TestDetachedParticipantLeavesAfterGrace(t *testing.T) {
	s := newTestService(t, Config{})
	m, _ := s.CreateMeeting(context.Background(), "host", MeetingOptions{Title: "Grace"})
	left := make(chan string, 4)
	watcher, _, _, err := s.Join(context.Background(), m.Room, Identity{Name: "w", User: "w"}, func(sig Signal) {
		if sig.Kind == SignalLeft {
			left <- sig.Data.(map[string]any)["participant_id"].(string)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Leave()
	stays, _, _, _ := s.Join(context.Background(), m.Room, Identity{Name: "a", User: "a"}, func(Signal) {})
	goes, _, _, _ := s.Join(context.Background(), m.Room, Identity{Name: "b", User: "b"}, func(Signal) {})
	defer stays.Leave()

	stays.Detach(stays.Attachment(), 300*time.Millisecond)
	goes.Detach(goes.Attachment(), 300*time.Millisecond)
	if _, _, _, err := s.Rejoin(stays.ID(), "someone-else", func(Signal) {}); err != ErrGone {
		t.Fatalf("rejoin by another user: %v, want ErrGone", err)
	}
	if _, _, _, err := s.Rejoin(stays.ID(), "a", func(Signal) {}); err != nil {
		t.Fatalf("rejoin in time: %v", err)
	}
	select {
	case id := <-left:
		if id != goes.ID() {
			t.Fatalf("%s left, want %s (the one that did not come back)", id, goes.ID())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the participant that did not come back never left")
	}
	if _, _, _, err := s.Rejoin(goes.ID(), "b", func(Signal) {}); err != ErrGone {
		t.Fatalf("rejoin after the grace period: %v, want ErrGone", err)
	}
	if n := s.count(m.Room); n != 2 {
		t.Fatalf("room has %d participants, want 2 (watcher and the one that came back)", n)
	}
}

// TestTooManyTracks refuses a publish offer with more media sections than
// allowed, before pion sees it.
func TestTooManyTracks(t *testing.T) {
	s := newTestService(t, Config{MaxTracks: 2})
	m, _ := s.CreateMeeting(context.Background(), "host", MeetingOptions{Title: "Tracks"})
	p, _, _, err := s.Join(context.Background(), m.Room, Identity{Name: "x"}, func(Signal) {})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Leave()
	pc, err := testAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for range 3 {
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	offer, _ := pc.CreateOffer(nil)
	if _, err := p.PublishOffer(offer.SDP); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "3 media sections") {
		t.Fatalf("offer with 3 tracks: %v, want ErrInvalid naming the count", err)
	}
}

// TestPasscode: a meeting with a passcode asks everyone but its host for
// it, and locks out a person after five wrong ones.
func TestPasscode(t *testing.T) {
	s := newTestService(t, Config{})
	if _, err := s.CreateMeeting(context.Background(), "chair", MeetingOptions{Title: "Bad", Passcode: "12"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("2-character passcode: %v, want ErrInvalid", err)
	}
	m, err := s.CreateMeeting(context.Background(), "chair", MeetingOptions{Title: "Closed", Passcode: "4321"})
	if err != nil || !m.Passcode {
		t.Fatalf("create: %+v %v", m, err)
	}
	join := func(user, passcode string) error {
		p, _, _, err := s.Join(context.Background(), m.Room, Identity{Name: user, User: user, Passcode: passcode}, func(Signal) {})
		if err == nil {
			p.Leave()
		}
		return err
	}
	if err := join("chair", ""); err != nil {
		t.Fatalf("the host without a passcode: %v", err)
	}
	if err := join("clerk", ""); !errors.Is(err, ErrPasscode) {
		t.Fatalf("no passcode: %v, want ErrPasscode", err)
	}
	if err := join("clerk", "4321"); err != nil {
		t.Fatalf("right passcode: %v", err)
	}
	for i := 0; i < passcodeTries; i++ {
		if err := join("guesser", fmt.Sprint(1000+i)); !errors.Is(err, ErrPasscode) {
			t.Fatalf("wrong passcode %d: %v", i, err)
		}
	}
	if err := join("guesser", "4321"); !errors.Is(err, ErrPasscode) || !strings.Contains(err.Error(), "too many") {
		t.Fatalf("right passcode after five wrong ones: %v, want a lockout", err)
	}
	if err := join("clerk", "4321"); err != nil {
		t.Fatalf("someone else is not locked out: %v", err)
	}
}
