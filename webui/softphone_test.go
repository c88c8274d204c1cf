package webui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"civic/conference"
	"civic/internal/audit"
	"civic/internal/auth"
	"civic/voip/confbridge"
)

// The fakeBridge (dialin_test.go) also stands for the softphone side of
// the meeting bridge: calls to 1999 are busy, others ring and are
// answered; rings come when the test calls ring.

func (f *fakeBridge) RegisterConsole(user string, c confbridge.Console) (string, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.consoles == nil {
		f.consoles = map[string]fakeConsole{}
	}
	f.n++
	id := fmt.Sprintf("con-%d", f.n)
	f.consoles[id] = fakeConsole{user: user, c: c}
	return id, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.consoles, id)
		f.unregistered++
	}
}

type fakeConsole struct {
	user string
	c    confbridge.Console
}

// ring rings a call from 1001 to 2001 in user's consoles and returns its id.
func (f *fakeBridge) ring(user string) string {
	f.mu.Lock()
	f.n++
	id := fmt.Sprintf("ring-%d", f.n)
	f.rings = append(f.rings, user+" "+id)
	var cs []confbridge.Console
	for _, c := range f.consoles {
		if c.user == user {
			cs = append(cs, c.c)
		}
	}
	f.mu.Unlock()
	for _, c := range cs {
		c.Ringing(confbridge.Ring{ID: id, From: "1001", FromName: "Front desk", To: "2001"})
	}
	return id
}

func (f *fakeBridge) ringing(user, id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.rings {
		if r == user+" "+id {
			return true
		}
	}
	return false
}

func (f *fakeBridge) CallFromConsole(_ context.Context, user, console, number string, onState func(confbridge.WebState)) (confbridge.WebCall, error) {
	f.mu.Lock()
	f.calls = append(f.calls, "console "+user+" "+number)
	f.mu.Unlock()
	call := confbridge.WebCall{ID: "wc-" + number, Room: "call-" + number, Number: number, Name: "Desk " + number}
	onState(confbridge.WebState{CallID: call.ID, State: confbridge.DialRinging})
	if number == "1999" {
		onState(confbridge.WebState{CallID: call.ID, State: confbridge.DialBusy})
	} else {
		onState(confbridge.WebState{CallID: call.ID, State: confbridge.DialAnswered})
	}
	return call, nil
}

func (f *fakeBridge) AnswerInConsole(_ context.Context, user, console, id string, onState func(confbridge.WebState)) (confbridge.WebCall, error) {
	if !f.ringing(user, id) {
		return confbridge.WebCall{}, confbridge.ErrNoRing
	}
	call := confbridge.WebCall{ID: "wc-" + id, Room: "call-" + id, Number: "1001", Name: "Front desk"}
	onState(confbridge.WebState{CallID: call.ID, State: confbridge.DialAnswered})
	return call, nil
}

func (f *fakeBridge) DeclineInConsole(user, id string) error {
	if !f.ringing(user, id) {
		return confbridge.ErrNoRing
	}
	f.mu.Lock()
	var cs []confbridge.Console
	for _, c := range f.consoles {
		if c.user == user {
			cs = append(cs, c.c)
		}
	}
	f.mu.Unlock()
	for _, c := range cs {
		c.RingEnded(id, confbridge.RingDeclined)
	}
	return nil
}

func (f *fakeBridge) HangupInConsole(user, id string) error {
	if id != "wc-1002" || user != "u-official" {
		return confbridge.ErrNoCall
	}
	return nil
}

func (f *fakeBridge) SendKeysInConsole(user, id, keys string) error {
	if id != "wc-1002" || user != "u-official" {
		return confbridge.ErrNoCall
	}
	if keys == "" || strings.Trim(keys, "0123456789*#ABCD") != "" {
		return confbridge.ErrBadKeys
	}
	f.mu.Lock()
	f.keys += keys
	f.mu.Unlock()
	return nil
}

// TestSoftphone: a console registers as a softphone; calls ring in it
// (on the register request's id) and are answered there; calls from it
// ring and are answered, each state after the result; nobody answers
// or hangs up another user's call; the calls are audited; the
// registration ends with the socket.
func TestSoftphone(t *testing.T) {
	ts := newTestServer(t)
	fb := ts.srv.deps.Softphone.(*fakeBridge)
	official := ts.connect(ts.login(auth.RoleOfficial))
	if code := errCode(official.request(TypeSoftphoneCall, map[string]any{"number": "1002"})); code != CodeConflict {
		t.Fatalf("a call before registering: %q, want conflict", code)
	}
	reg := official.request(TypeSoftphoneRegister, nil)
	if errCode(reg) != "" {
		t.Fatalf("register: %v", reg)
	}
	regID := reg["id"].(float64)

	ringID := fb.ring("u-official")
	ev := official.nextEvent(KindSoftphoneRinging)
	if ev["id"].(float64) != regID || eventData(ev)["id"] != ringID || eventData(ev)["from"] != "1001" || eventData(ev)["to"] != "2001" {
		t.Fatalf("ringing event %v", ev)
	}
	other := ts.connect(ts.login(auth.RoleFacilities))
	other.request(TypeSoftphoneRegister, nil)
	if code := errCode(other.request(TypeSoftphoneAnswer, map[string]any{"ring_id": ringID})); code != CodeNotFound {
		t.Fatalf("another user answers: %q, want not_found", code)
	}
	ans := official.request(TypeSoftphoneAnswer, map[string]any{"ring_id": ringID})
	if errCode(ans) != "" || ans["result"].(map[string]any)["room"] != "call-"+ringID {
		t.Fatalf("answer: %v", ans)
	}
	st := official.nextEvent(KindSoftphoneState)
	if st["id"].(float64) != ans["id"].(float64) || eventData(st)["state"] != "answered" {
		t.Fatalf("state after answer: %v", st)
	}

	// A call out: the result first, then its states on its id.
	call := official.request(TypeSoftphoneCall, map[string]any{"number": "1002"})
	if errCode(call) != "" || call["result"].(map[string]any)["room"] != "call-1002" {
		t.Fatalf("call: %v", call)
	}
	for _, want := range []string{"ringing", "answered"} {
		st := official.nextEvent(KindSoftphoneState)
		if st["id"].(float64) != call["id"].(float64) || eventData(st)["state"] != want {
			t.Fatalf("state %v, want %s on the call's id", st, want)
		}
	}
	if code := errCode(official.request(TypeSoftphoneCall, map[string]any{"number": "10x"})); code != CodeInvalidParams {
		t.Errorf("a bad number: %q", code)
	}
	if code := errCode(other.request(TypeSoftphoneHangup, map[string]any{"call_id": "wc-1002"})); code != CodeNotFound {
		t.Errorf("another user hangs up: %q, want not_found", code)
	}
	if code := errCode(official.request(TypeSoftphoneDTMF, map[string]any{"call_id": "wc-1002", "digits": "#"})); code != "" {
		t.Errorf("keys: %q", code)
	}
	if code := errCode(official.request(TypeSoftphoneDTMF, map[string]any{"call_id": "wc-1002", "digits": "9x"})); code != CodeInvalidParams {
		t.Errorf("bad keys: %q, want invalid_params", code)
	}
	if code := errCode(other.request(TypeSoftphoneDTMF, map[string]any{"call_id": "wc-1002", "digits": "1"})); code != CodeNotFound {
		t.Errorf("keys into another user's call: %q, want not_found", code)
	}
	fb.mu.Lock()
	keys := fb.keys
	fb.mu.Unlock()
	if keys != "#" {
		t.Errorf("keys sent %q, want #", keys)
	}
	if code := errCode(official.request(TypeSoftphoneHangup, map[string]any{"call_id": "wc-1002"})); code != "" {
		t.Errorf("hang up: %q", code)
	}
	if code := errCode(official.request(TypeSoftphoneDecline, map[string]any{"ring_id": "ring-nope"})); code != CodeNotFound {
		t.Errorf("decline of no ring: %q", code)
	}

	entries, _, err := ts.audit.List(context.Background(), audit.Filter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if e.User == "u-official" && e.Result == "ok" {
			seen[e.Action+" "+e.Target] = true
		}
	}
	for _, want := range []string{"softphone.answer phone 1001", "softphone.call phone 1002", "softphone.hangup call wc-1002"} {
		if !seen[want] {
			t.Errorf("no audit entry %q in %v", want, seen)
		}
	}

	official.ws.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		fb.mu.Lock()
		n := fb.unregistered
		fb.mu.Unlock()
		if n >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the console was not unregistered when its socket closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recordSoftphoneGoldens records the softphone's messages, as an
// official's console.
func recordSoftphoneGoldens(t *testing.T, ts *testServer, record func(string, map[string]any)) {
	t.Helper()
	fb := ts.srv.deps.Softphone.(*fakeBridge)
	c := ts.connect(ts.login(auth.RoleOfficial))
	record(TypeSoftphoneRegister, c.request(TypeSoftphoneRegister, nil))
	ring := fb.ring("u-official")
	record(TypeEvent+"."+KindSoftphoneRinging, c.nextEvent(KindSoftphoneRinging))
	record(TypeSoftphoneAnswer, c.request(TypeSoftphoneAnswer, map[string]any{"ring_id": ring}))
	record(TypeEvent+"."+KindSoftphoneState, c.nextEvent(KindSoftphoneState))
	record(TypeSoftphoneCall, c.request(TypeSoftphoneCall, map[string]any{"number": "1002"}))
	record(TypeSoftphoneDTMF, c.request(TypeSoftphoneDTMF, map[string]any{"call_id": "wc-1002", "digits": "#"}))
	record(TypeSoftphoneHangup, c.request(TypeSoftphoneHangup, map[string]any{"call_id": "wc-1002"}))
	ring = fb.ring("u-official")
	c.nextEvent(KindSoftphoneRinging)
	// The ring's end may come before or after the decline's result.
	c.nextID++
	c.writeJSON(map[string]any{"id": c.nextID, "type": TypeSoftphoneDecline, "ring_id": ring})
	for got := 0; got < 2; got++ {
		m := c.readMsg()
		if e, _ := m["event"].(map[string]any); e != nil && e["kind"] == KindSoftphoneRingEnded {
			record(TypeEvent+"."+KindSoftphoneRingEnded, m)
		} else if m["type"] == TypeResult {
			record(TypeSoftphoneDecline, m)
		} else {
			got--
		}
	}
	c.ws.Close()
}

// TestFacilitiesJoinOnlyCalls: facilities staff take desk-phone calls in
// the console, so they may be in the room of their own browser call, but
// not in a meeting, nor in someone else's call.
func TestFacilitiesJoinOnlyCalls(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	desk := ts.users[auth.RoleFacilities].Username
	meeting, err := ts.conf.CreateMeeting(ctx, desk, conference.MeetingOptions{Title: "Not for the desk"})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := ts.conf.CreateCall(ctx, ts.users[auth.RoleOfficial].Username, "Someone else's call")
	if err != nil {
		t.Fatal(err)
	}
	own, err := ts.conf.CreateCall(ctx, desk, "The gate's call")
	if err != nil {
		t.Fatal(err)
	}
	c := ts.connect(ts.login(auth.RoleFacilities))
	if code := errCode(c.request(TypeConferenceJoin, map[string]any{"room": meeting.Room})); code != CodeNotAllowed {
		t.Errorf("facilities into a meeting (even their own): %q, want not_allowed", code)
	}
	if code := errCode(c.request(TypeConferenceJoin, map[string]any{"room": theirs.Room})); code != CodeNotFound {
		t.Errorf("facilities into another user's call: %q, want not_found", code)
	}
	if res := c.request(TypeConferenceJoin, map[string]any{"room": own.Room}); errCode(res) != "" {
		t.Fatalf("facilities into their own call: %v", res)
	}
}
