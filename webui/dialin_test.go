package webui

import (
	"context"
	"sync"
	"testing"

	"civic/internal/auth"
)

// TestDialInShown: the host who creates a meeting and everyone who joins
// it get its dial-in number (the prefix and the room) and PIN; the
// meetings list, which every official sees, does not carry them.
func TestDialInShown(t *testing.T) {
	ts := newTestServer(t)
	host := ts.connect(ts.login(auth.RoleOfficial))
	created := host.request(TypeConferenceCreate, map[string]any{"title": "Dial-in"})
	r := created["result"].(map[string]any)
	room := r["meeting"].(map[string]any)["room"].(string)
	d, _ := r["dial_in"].(map[string]any)
	pin, _ := d["pin"].(string)
	if d["number"] != "8"+room || len(pin) != 6 {
		t.Fatalf("create: dial_in %v", r["dial_in"])
	}
	joined := host.request(TypeConferenceJoin, map[string]any{"room": room})
	jd, _ := joined["result"].(map[string]any)["dial_in"].(map[string]any)
	if jd["number"] != "8"+room || jd["pin"] != pin {
		t.Fatalf("join: dial_in %v, want the create's %v", jd, d)
	}
	list := ts.connect(ts.login(auth.RoleAdmin)).request(TypeConferenceList, nil)
	for _, m := range list["result"].(map[string]any)["meetings"].([]any) {
		if _, ok := m.(map[string]any)["dial_in"]; ok {
			t.Fatal("the meetings list carries a dial-in PIN")
		}
	}
}

// fakeBridge stands for the meeting bridge (voip/confbridge), as
// fakePhones stands for the SIP module: a call to 1999 is busy, any
// other rings and is answered.
type fakeBridge struct {
	mu    sync.Mutex
	calls []string // "room number", "console user number"
	// The softphone side (softphone_test.go).
	consoles     map[string]fakeConsole
	rings        []string // "user id"
	n            int
	unregistered int
	keys         string // sent with SendKeysInConsole
}

func (f *fakeBridge) DialOut(_ context.Context, room, number string, onState func(string)) error {
	f.mu.Lock()
	f.calls = append(f.calls, room+" "+number)
	f.mu.Unlock()
	onState("ringing")
	if number == "1999" {
		onState("busy")
		return nil
	}
	onState("answered")
	return nil
}

// TestDialOutRequest: a meeting's host calls a phone into it and sees
// the call ring and be answered (or busy); it is audited; a participant
// who is not a host, and a bad number, are refused.
func TestDialOutRequest(t *testing.T) {
	ts := newTestServer(t)
	host := ts.connect(ts.login(auth.RoleOfficial))
	room := host.request(TypeConferenceCreate, map[string]any{"title": "Dial-out"})["result"].(map[string]any)["meeting"].(map[string]any)["room"].(string)
	if code := errCode(host.request(TypeConferenceDialOut, map[string]any{"number": "1002"})); code != CodeConflict {
		t.Fatalf("dial-out outside the meeting: %q, want conflict", code)
	}
	host.request(TypeConferenceJoin, map[string]any{"room": room})
	if code := errCode(host.request(TypeConferenceDialOut, map[string]any{"number": "10a"})); code != CodeInvalidParams {
		t.Fatalf("bad number: %q", code)
	}
	for _, tc := range []struct{ number, last string }{{"1002", "answered"}, {"1999", "busy"}} {
		res := host.request(TypeConferenceDialOut, map[string]any{"number": tc.number})
		if errCode(res) != "" {
			t.Fatalf("dial-out: %v", res)
		}
		var states []string
		for len(states) < 2 {
			m := host.nextEvent(KindDialOutState)
			if m["id"] == res["id"] {
				states = append(states, eventData(m)["state"].(string))
			}
		}
		if states[0] != "ringing" || states[1] != tc.last {
			t.Fatalf("%s: states %v", tc.number, states)
		}
	}
	entries := ts.auditSince(0)
	found := false
	for _, e := range entries {
		found = found || e.Action == TypeConferenceDialOut && e.Target == "meeting "+room && e.Detail == "called 1002" && e.Result == "ok"
	}
	if !found {
		t.Fatalf("no audit entry for the dial-out: %+v", entries)
	}
	// An official in the meeting who is not its host may not.
	other := ts.connect(ts.login(auth.RoleAdmin))
	adminRoom := other.request(TypeConferenceCreate, map[string]any{"title": "Admin's"})["result"].(map[string]any)["meeting"].(map[string]any)["room"].(string)
	other.request(TypeConferenceJoin, map[string]any{"room": adminRoom})
	official := ts.connect(ts.login(auth.RoleOfficial))
	if j := official.request(TypeConferenceJoin, map[string]any{"room": adminRoom}); errCode(j) != "" {
		t.Fatalf("join: %v", j)
	}
	if code := errCode(official.request(TypeConferenceDialOut, map[string]any{"number": "1002"})); code != CodeNotAllowed {
		t.Fatalf("a participant who is not host: %q, want not_allowed", code)
	}
}
