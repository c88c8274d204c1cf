package conference

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"

	"civic/internal/events"
)

// recordBus keeps what the service announces.
type recordBus struct {
	mu   sync.Mutex
	seen []events.Payload
}

func (b *recordBus) Publish(p events.Payload) {
	b.mu.Lock()
	b.seen = append(b.seen, p)
	b.mu.Unlock()
}

func (b *recordBus) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.seen)
}

// TestPrivateCall: a browser call's room is its host's alone. It is not
// listed or announced, has no dial-in or invites, nobody else (not an
// admin, not a guest) joins it, and the phone may be in it first.
func TestPrivateCall(t *testing.T) {
	s := newTestService(t, Config{})
	bus := &recordBus{}
	s.bus = bus
	ctx := context.Background()
	m, err := s.CreateCall(ctx, "alice", "Call with 1001")
	if err != nil {
		t.Fatal(err)
	}
	if !m.Private || m.Host != "alice" || s.RoomOfNumber(s.cfg.DialInPrefix+m.Room) != "" {
		t.Fatalf("call meeting %+v: want private, hosted by alice, with no dial-in number", m)
	}
	if list, err := s.ListMeetings(ctx); err != nil || len(list) != 0 {
		t.Fatalf("ListMeetings = %v, %v; a call must not be listed", list, err)
	}
	if _, err := s.CheckDialIn(ctx, m.Room, ""); !errors.Is(err, ErrNoMeeting) {
		t.Errorf("CheckDialIn on a call: %v, want ErrNoMeeting", err)
	}
	if _, err := s.CreateInvite(ctx, m.Room, "alice", 0); !errors.Is(err, ErrNoMeeting) {
		t.Errorf("CreateInvite on a call: %v, want ErrNoMeeting", err)
	}
	for _, who := range []Identity{{Name: "Admin", User: "admin", Host: true}, {Name: "Guest", User: "guest:x", Guest: true}} {
		if _, _, _, err := s.Join(ctx, m.Room, who, func(Signal) {}); !errors.Is(err, ErrNoMeeting) {
			t.Errorf("%s joins alice's call: %v, want ErrNoMeeting", who.User, err)
		}
	}

	// The phone first (a call answered in the console), then alice.
	phone := joinPhone(t, s, m.Room, "Desk 1001", 30)
	var pcmu atomic.Int64
	api := testAPI(t)
	alice := joinWith(t, s, api, m.Room, "alice", clientOpts{publish: true, audio: true, onRTP: func(pkt *rtp.Packet) {
		if pkt.PayloadType == 0 {
			pcmu.Add(1)
		}
	}})
	defer alice.close()
	if !alice.p.IsHost() {
		t.Error("alice is not the host of her own call")
	}
	waitUntil(t, 10*time.Second, "alice hearing the phone", func() bool { return pcmu.Load() > 10 })

	s.PhoneKey(m.Room, phone.p.ID(), '9') // a browser call's keys stay in it
	if err := s.End(ctx, m.Room); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "the phone told the call ended", func() bool { return phone.saw(SignalEnded) })
	if n := bus.count(); n != 0 {
		t.Errorf("%d events announced for a private call, want none", n)
	}
}

// TestPhoneKey: a key a phone presses in a live meeting goes on the bus,
// with the room and the phone's participant; none for a room not live.
func TestPhoneKey(t *testing.T) {
	s := newTestService(t, Config{})
	ctx := context.Background()
	m, err := s.CreateMeeting(ctx, "host", MeetingOptions{Title: "Keys"})
	if err != nil {
		t.Fatal(err)
	}
	bus := &recordBus{}
	s.bus = bus
	s.PhoneKey(m.Room, "p1", '9')
	if n := bus.count(); n != 0 {
		t.Fatalf("%d events for a meeting nobody is in", n)
	}
	host := joinClient(t, s, testAPI(t), m.Room, "host")
	defer host.close()
	phone := joinPhone(t, s, m.Room, "Desk 1001", 127)
	bus.mu.Lock()
	bus.seen = nil
	bus.mu.Unlock()
	s.PhoneKey(m.Room, phone.p.ID(), '*')
	s.PhoneKey(m.Room, phone.p.ID(), '9')
	bus.mu.Lock()
	defer bus.mu.Unlock()
	var got []PhoneKeyEvent
	for _, p := range bus.seen {
		if e, ok := p.(PhoneKeyEvent); ok {
			got = append(got, e)
		}
	}
	want := []PhoneKeyEvent{{m.Room, phone.p.ID(), "*"}, {m.Room, phone.p.ID(), "9"}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("keys on the bus %+v, want %+v", got, want)
	}
}
