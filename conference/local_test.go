package conference

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// phoneLeg is a server-side participant as voip makes one, with the
// signals it got.
type phoneLeg struct {
	p     *Participant
	track *LocalTrack
	mu    sync.Mutex
	kinds []string
	stop  chan struct{}
}

func (l *phoneLeg) saw(kind string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range l.kinds {
		if k == kind {
			return true
		}
	}
	return false
}

// joinPhone bridges a phone into the room: it publishes PCMU at level
// (dBov) every 20 ms until the test ends or it leaves.
func joinPhone(t *testing.T, s *Service, room, name string, level int) *phoneLeg {
	t.Helper()
	l := &phoneLeg{stop: make(chan struct{})}
	p, _, err := s.JoinLocal(context.Background(), room, Identity{Name: name, User: "sip:" + name}, func(sig Signal) {
		l.mu.Lock()
		l.kinds = append(l.kinds, sig.Kind)
		l.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	l.p = p
	if l.track, err = p.PublishAudio(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}); err != nil {
		t.Fatal(err)
	}
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		payload := make([]byte, 160)
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			case <-p.done:
				return
			case <-tick.C:
			}
			for j := range payload {
				payload[j] = byte(0x80 + i + j)
			}
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(i), Timestamp: uint32(i * 160), SSRC: 0x1001},
				Payload: payload}
			if err := l.track.WriteRTP(pkt, level); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { close(l.stop); p.Leave() })
	return l
}

// TestPhoneParticipant: a phone bridged in server-side joins only a live
// meeting, shows as a phone, is heard by browsers in PCMU, hears the room
// (every browser's audio, and itself, through one tap), takes the active
// speaker, and a host's mute and removal reach it.
func TestPhoneParticipant(t *testing.T) {
	s := newTestService(t, Config{})
	m, _ := s.CreateMeeting(context.Background(), "host", MeetingOptions{Title: "Phones"})
	if _, _, err := s.JoinLocal(context.Background(), m.Room, Identity{Name: "1001"}, func(Signal) {}); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("a phone into an empty meeting: %v, want ErrNotStarted", err)
	}
	api := testAPI(t)
	var pcmu atomic.Int64
	browser := joinWith(t, s, api, m.Room, "host", clientOpts{publish: true, audio: true, sample: func() []byte { return []byte{0xf8, 0xff, 0xfe} },
		onRTP: func(pkt *rtp.Packet) {
			if pkt.PayloadType == 0 && len(pkt.Payload) == 160 {
				pcmu.Add(1)
			}
		}})
	defer browser.close()

	type heard struct{ from, mime string }
	var tapMu sync.Mutex
	taps := map[heard]int{}
	stopTap, err := s.TapAudio(m.Room, func(from string, codec webrtc.RTPCodecCapability, pkt *rtp.Packet) {
		tapMu.Lock()
		taps[heard{from, strings.ToLower(codec.MimeType)}]++
		tapMu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stopTap()
	tapped := func(from, mime string) int {
		tapMu.Lock()
		defer tapMu.Unlock()
		return taps[heard{from, mime}]
	}

	phone := joinPhone(t, s, m.Room, "Desk 1001", 20) // -20 dBov: speaking
	infos := s.roomOf(t, m.Room).others(nil)
	found := false
	for _, p := range infos {
		if st := p.state(); st.ID == phone.p.ID() {
			found = st.Phone && st.Name == "Desk 1001" && p.IsLocal()
		}
	}
	if !found {
		t.Fatal("the phone is not listed as a phone participant")
	}

	waitUntil(t, 10*time.Second, "the browser hearing the phone in PCMU", func() bool { return pcmu.Load() > 20 })
	waitUntil(t, 10*time.Second, "the tap hearing the browser's Opus and the phone", func() bool {
		return tapped(browser.p.ID(), "audio/opus") > 20 && tapped(phone.p.ID(), "audio/pcmu") > 20
	})
	waitUntil(t, 10*time.Second, "the phone as active speaker", func() bool { return s.roomOf(t, m.Room).speakerID() == phone.p.ID() })

	// Muted by the host: nothing of it is forwarded or tapped.
	if err := browser.p.SetMuted(phone.p.ID(), true); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "the phone told it is muted", func() bool { return phone.saw(SignalUpdated) && phone.p.Muted() })
	before, tappedBefore := pcmu.Load(), tapped(phone.p.ID(), "audio/pcmu")
	waitUntil(t, 10*time.Second, "more of the browser's audio", func() bool { return tapped(browser.p.ID(), "audio/opus") > 100 })
	if got := pcmu.Load() - before; got > 3 {
		t.Errorf("%d PCMU packets reached the browser after the mute", got)
	}
	if got := tapped(phone.p.ID(), "audio/pcmu") - tappedBefore; got > 3 {
		t.Errorf("%d of the muted phone's packets were tapped", got)
	}

	if err := browser.p.Remove(phone.p.ID()); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "the phone removed", func() bool { return phone.saw(SignalRemoved) })
	if _, err := phone.p.PublishAudio(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}); err == nil {
		// Publishing after removal is harmless but must not resurrect it.
		if n := len(s.roomOf(t, m.Room).others(nil)); n != 1 {
			t.Errorf("%d members after the phone was removed, want 1", n)
		}
	}
	if _, err := browser.p.PublishOffer("v=0"); err != nil && errors.Is(err, ErrLocalOnly) {
		t.Error("a browser participant was taken for a local one")
	}
	if _, err := phone.p.PublishOffer("v=0"); !errors.Is(err, ErrLocalOnly) {
		t.Errorf("PublishOffer on a phone: %v", err)
	}
}

// TestPhoneHearsMeetingEnd: ending the meeting tells its phones.
func TestPhoneHearsMeetingEnd(t *testing.T) {
	s := newTestService(t, Config{})
	m, _ := s.CreateMeeting(context.Background(), "host", MeetingOptions{Title: "End"})
	browser := joinWith(t, s, testAPI(t), m.Room, "host", clientOpts{})
	defer browser.close()
	phone := joinPhone(t, s, m.Room, "Desk 1002", 100)
	if err := s.End(context.Background(), m.Room); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "the phone told the meeting ended", func() bool { return phone.saw(SignalEnded) })
}

// waitUntil polls cond until it holds or the time is up.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// roomOf is the live room of a meeting.
func (s *Service) roomOf(t *testing.T, no string) *room {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[no]
	if r == nil {
		t.Fatalf("no live room %s", no)
	}
	return r
}

// speakerID is the room's active speaker.
func (r *room) speakerID() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.speaker
}

// TestDialIn: every meeting has a dial-in number (the prefix and its
// room) and a 6-digit PIN, made once; a PIN is checked in constant time
// and an ended meeting takes no dial-in.
func TestDialIn(t *testing.T) {
	s := newTestService(t, Config{DialInPrefix: "7"})
	ctx := context.Background()
	m, _ := s.CreateMeeting(ctx, "host", MeetingOptions{Title: "Dial-in"})
	d, err := s.DialIn(ctx, m.Room)
	if err != nil {
		t.Fatal(err)
	}
	if d.Number != "7"+m.Room || len(d.PIN) != 6 || strings.Trim(d.PIN, "0123456789") != "" {
		t.Fatalf("dial-in %+v", d)
	}
	if again, _ := s.DialIn(ctx, m.Room); again != d {
		t.Fatalf("the PIN changed: %+v then %+v", d, again)
	}
	if got := s.RoomOfNumber(d.Number); got != m.Room {
		t.Fatalf("RoomOfNumber(%s) = %q", d.Number, got)
	}
	for _, n := range []string{m.Room, "8" + m.Room, "7" + m.Room + "1", "7abcdef", ""} {
		if got := s.RoomOfNumber(n); got != "" {
			t.Errorf("RoomOfNumber(%q) = %q, want none", n, got)
		}
	}
	if _, err := s.CheckDialIn(ctx, m.Room, d.PIN); err != nil {
		t.Fatal(err)
	}
	wrong := "000000"
	if d.PIN == wrong {
		wrong = "111111"
	}
	if _, err := s.CheckDialIn(ctx, m.Room, wrong); !errors.Is(err, ErrBadPIN) {
		t.Fatalf("wrong PIN: %v", err)
	}
	if _, err := s.CheckDialIn(ctx, "999999", d.PIN); !errors.Is(err, ErrNoMeeting) {
		t.Fatalf("no meeting: %v", err)
	}
	if err := s.End(ctx, m.Room); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CheckDialIn(ctx, m.Room, d.PIN); err == nil {
		t.Fatal("an ended meeting took a dial-in")
	}
}
