package confbridge

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeConsole is an open console: what rang in it and how each ring
// ended.
type fakeConsole struct {
	rings chan Ring
	ended chan [2]string // id, reason
}

func newConsole() *fakeConsole {
	return &fakeConsole{rings: make(chan Ring, 8), ended: make(chan [2]string, 8)}
}

func (c *fakeConsole) Ringing(r Ring)              { c.rings <- r }
func (c *fakeConsole) RingEnded(id, reason string) { c.ended <- [2]string{id, reason} }

func (c *fakeConsole) ring(t *testing.T) Ring {
	t.Helper()
	select {
	case r := <-c.rings:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("nothing rang in the console")
	}
	return Ring{}
}

func (c *fakeConsole) ringEnded(t *testing.T, id string) string {
	t.Helper()
	select {
	case e := <-c.ended:
		if e[0] != id {
			t.Fatalf("ring %s ended, want %s", e[0], id)
		}
		return e[1]
	case <-time.After(10 * time.Second):
		t.Fatalf("ring %s did not end in the console", id)
	}
	return ""
}

// states collects a browser call's states.
type states struct {
	mu  sync.Mutex
	got []string
}

func (s *states) add(w WebState) {
	s.mu.Lock()
	s.got = append(s.got, w.State+":"+w.Reason)
	s.mu.Unlock()
}

func (s *states) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// TestConsoleAnswers: a call to a user's extension rings in each of their
// open consoles (and in nobody else's); answered in one, the others hear
// it was answered elsewhere, the phone joins the call's private room with
// no prompts and its audio flows, and the console hanging up sends the
// phone a BYE and ends the room.
func TestConsoleAnswers(t *testing.T) {
	m := &fakeMeetings{}
	b := newBridge(t, m, nil)
	if _, ok := b.ConsoleTarget("alice"); ok {
		t.Fatal("a console target for a user with no console open")
	}
	desk, laptop := newConsole(), newConsole()
	deskID, unregDesk := b.RegisterConsole("alice", desk)
	_, unregLaptop := b.RegisterConsole("alice", laptop)
	defer unregLaptop()
	defer unregDesk()
	target, ok := b.ConsoleTarget("alice")
	if !ok {
		t.Fatal("no console target for alice")
	}
	e := startEngine(t, b)
	code := make(chan int, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		code <- e.invite(ctx, target, "2001")
	}()
	r := desk.ring(t)
	if r2 := laptop.ring(t); r2 != r {
		t.Fatalf("the consoles rang differently: %+v and %+v", r, r2)
	}
	if r.From != "1001" || r.FromName != "Desk 1001" || r.To != "2001" {
		t.Fatalf("ring %+v: want from 1001 (Desk 1001) to 2001", r)
	}
	if _, err := b.AnswerInConsole(context.Background(), "mallory", "x", r.ID, nil); !errors.Is(err, ErrNoRing) {
		t.Fatalf("another user answers alice's call: %v, want ErrNoRing", err)
	}
	var st states
	call, err := b.AnswerInConsole(context.Background(), "alice", deskID, r.ID, st.add)
	if err != nil {
		t.Fatal(err)
	}
	if c := <-code; c != 200 {
		t.Fatalf("the caller got %d, want 200", c)
	}
	if call.Room != "call-1-alice" || call.Number != "1001" || call.Name != "Desk 1001" {
		t.Fatalf("answered call %+v", call)
	}
	if got := desk.ringEnded(t, r.ID); got != RingAnswered {
		t.Errorf("the answering console heard %q", got)
	}
	if got := laptop.ringEnded(t, r.ID); got != RingAnsweredElsewhere {
		t.Errorf("the other console heard %q", got)
	}
	waitFor(t, 10*time.Second, "the phone in the call's room", func() bool { _, j, _ := m.state(); return len(j) == 1 })
	_, joined, legs := m.state()
	if joined[0] != "Desk 1001 PCMU" {
		t.Fatalf("joined %v", joined)
	}
	waitFor(t, 10*time.Second, "the phone's audio in the room", func() bool { return legs[0].loud.Load() > 25 })
	// 25 packets in, a prompt would have been heard by now.
	if n := e.heard.Load(); n != 0 {
		t.Errorf("the phone heard %d packets of sound in a browser call with an empty room: a prompt?", n)
	}
	// The keypad: keys go to the phone as RFC 4733 events, and the
	// engine's report of them (as the console side's keys) is not taken
	// for the phone's own: "*6" from the console does not mute it.
	if err := b.SendKeysInConsole("mallory", call.ID, "1"); !errors.Is(err, ErrNoCall) {
		t.Errorf("keys into another user's call: %v, want ErrNoCall", err)
	}
	if err := b.SendKeysInConsole("alice", call.ID, "1x"); !errors.Is(err, ErrBadKeys) {
		t.Errorf("bad keys: %v, want ErrBadKeys", err)
	}
	if err := b.SendKeysInConsole("alice", call.ID, "*6#"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the keys at the phone", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return len(e.keysHeard) >= 3
	})
	e.mu.Lock()
	heard := slices.Clone(e.keysHeard)
	e.mu.Unlock()
	if !slices.Equal(heard, []byte{10, 6, 11}) {
		t.Fatalf("the phone got events %v, want * 6 # (10 6 11)", heard)
	}
	for _, d := range "*6" {
		b.DTMF(e.callID, "2001", d) // as the engine reports the console side's keys
	}
	before := legs[0].loud.Load()
	waitFor(t, 10*time.Second, "the phone still heard in the room", func() bool { return legs[0].loud.Load() > before+25 })
	if err := b.HangupInConsole("mallory", call.ID); !errors.Is(err, ErrNoCall) {
		t.Fatalf("another user hangs up alice's call: %v, want ErrNoCall", err)
	}
	if err := b.HangupInConsole("alice", call.ID); err != nil {
		t.Fatal(err)
	}
	if !e.waitBye(10 * time.Second) {
		t.Fatal("the phone got no BYE when the console hung up")
	}
	waitFor(t, 5*time.Second, "the call gone", func() bool { return b.Calls() == 0 })
	m.mu.Lock()
	ended := slices.Clone(m.ended)
	m.mu.Unlock()
	if !slices.Equal(ended, []string{"call-1-alice"}) {
		t.Errorf("rooms ended %v, want the call's", ended)
	}
	if got := st.list(); !slices.Equal(got, []string{"answered:", "ended:hung up in the console"}) {
		t.Errorf("states %v", got)
	}
}

// TestConsoleRingEnds: a ring in the console ends when the user declines
// (603), when the caller cancels, and when the user's last console
// closes (480); a phone hanging up ends the browser call and its room.
func TestConsoleRingEnds(t *testing.T) {
	m := &fakeMeetings{}
	b := newBridge(t, m, nil)
	con := newConsole()
	id, unregister := b.RegisterConsole("alice", con)
	target, _ := b.ConsoleTarget("alice")
	e := startEngine(t, b)
	ring := func(ctx context.Context) chan int {
		code := make(chan int, 1)
		go func() { code <- e.invite(ctx, target, "2001") }()
		return code
	}

	code := ring(context.Background())
	r := con.ring(t)
	if err := b.DeclineInConsole("alice", r.ID); err != nil {
		t.Fatal(err)
	}
	if c := <-code; c != 603 {
		t.Errorf("declined: the caller got %d, want 603", c)
	}
	if got := con.ringEnded(t, r.ID); got != RingDeclined {
		t.Errorf("declined: the console heard %q", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	code = ring(ctx)
	r = con.ring(t)
	cancel()
	<-code
	if got := con.ringEnded(t, r.ID); got != RingCancelled {
		t.Errorf("cancelled: the console heard %q", got)
	}
	if _, err := b.AnswerInConsole(context.Background(), "alice", id, r.ID, nil); !errors.Is(err, ErrNoRing) {
		t.Errorf("answering a cancelled ring: %v, want ErrNoRing", err)
	}

	// Answered, then the phone hangs up.
	code = ring(context.Background())
	r = con.ring(t)
	var st states
	call, err := b.AnswerInConsole(context.Background(), "alice", id, r.ID, st.add)
	if err != nil || <-code != 200 {
		t.Fatalf("answer: %v", err)
	}
	con.ringEnded(t, r.ID)
	waitFor(t, 10*time.Second, "the phone in the call's room", func() bool { _, j, _ := m.state(); return len(j) == 1 })
	bctx, bcancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := e.dlg.Bye(bctx); err != nil {
		t.Fatal(err)
	}
	bcancel()
	waitFor(t, 10*time.Second, "the browser call ended", func() bool { return len(st.list()) == 2 })
	if got := st.list(); got[1] != "ended:the phone hung up" {
		t.Errorf("states %v", got)
	}
	m.mu.Lock()
	ended := slices.Clone(m.ended)
	m.mu.Unlock()
	if !slices.Contains(ended, call.Room) {
		t.Errorf("the room %s was not ended: %v", call.Room, ended)
	}

	code = ring(context.Background())
	r = con.ring(t)
	unregister()
	if c := <-code; c != 480 {
		t.Errorf("last console closed: the caller got %d, want 480", c)
	}
	if _, ok := b.ConsoleTarget("alice"); ok {
		t.Error("a console target after alice's last console closed")
	}
}

// TestCallFromConsole: a browser calls a desk phone through civicd's SIP
// side as the user's linked extension; it rings, and on answer the phone
// joins the call's room; a busy phone ends the call as busy, and its
// room with it.
func TestCallFromConsole(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   []string
	}{
		{200, []string{"ringing:", "answered:"}},
		{486, []string{"ringing:", "busy:"}},
	} {
		pbx := startPBX(t, tc.status)
		m := &fakeMeetings{}
		b, err := Start(Config{Meetings: m, NameOf: func(ext string) string { return "Desk " + ext }, SIPAddr: pbx.addr, Domain: "civic.test",
			ConsoleCaller: func(user string) (string, string) { return "2001", "Alice" }}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		var st states
		rang := sync.OnceFunc(func() { close(pbx.rang) })
		call, err := b.CallFromConsole(context.Background(), "alice", "c1", "1002", func(w WebState) {
			st.add(w)
			if w.State == DialRinging {
				rang()
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if call.Room != "call-1-alice" || call.Name != "Desk 1002" {
			t.Fatalf("call %+v", call)
		}
		if tok := <-pbx.tokens; tok != b.Token() {
			t.Fatalf("token %q", tok)
		}
		if from := <-pbx.froms; from != "Alice <2001>" {
			t.Errorf("the call comes from %q, want alice's extension", from)
		}
		waitFor(t, 10*time.Second, "the outcome", func() bool { return len(st.list()) == 2 })
		if got := st.list(); !slices.Equal(got, tc.want) {
			t.Fatalf("%d: states %v, want %v", tc.status, got, tc.want)
		}
		m.mu.Lock()
		ended := slices.Clone(m.ended)
		m.mu.Unlock()
		if tc.status != 200 {
			if !slices.Equal(ended, []string{call.Room}) {
				t.Errorf("busy: rooms ended %v", ended)
			}
			continue
		}
		waitFor(t, 10*time.Second, "the phone in the call's room", func() bool { _, j, _ := m.state(); return len(j) == 1 })
		if err := b.HangupInConsole("alice", call.ID); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the call gone", func() bool { return b.Calls() == 0 })
	}
}
