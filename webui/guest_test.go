package webui

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"civic/conference"
	"civic/internal/audit"
	"civic/internal/auth"
)

// guestSession makes an invite to room and signs a guest in with it over
// POST /api/guest; it returns the session token and the guest's username.
func (ts *testServer) guestSession(room, name, passcode string) (string, string) {
	ts.t.Helper()
	inv, err := ts.conf.CreateInvite(context.Background(), room, "u-official", 0)
	if err != nil {
		ts.t.Fatal(err)
	}
	resp, body := ts.post("/api/guest", guestBody(inv.Token, name, passcode))
	if resp.StatusCode != http.StatusOK {
		ts.t.Fatalf("guest sign-in: %d %s", resp.StatusCode, body)
	}
	var gr GuestResponse
	if err := json.Unmarshal(body, &gr); err != nil {
		ts.t.Fatal(err)
	}
	return gr.Token, gr.User.Username
}

func guestBody(token, name, passcode string) string {
	b, _ := json.Marshal(GuestRequest{Token: token, Name: name, Passcode: passcode})
	return string(b)
}

// apiErr decodes an HTTP API error body.
func apiErr(t *testing.T, body []byte) WireError {
	t.Helper()
	var e struct {
		Error WireError `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return e.Error
}

// peerWithToken is a peerClient on an existing session token.
func peerWithToken(t *testing.T, ts *testServer, token string) *peerClient {
	t.Helper()
	p := &peerClient{t: t, c: ts.connect(token), wait: map[int64]chan map[string]any{}, events: make(chan map[string]any, 64), api: testAPI(t)}
	go p.readLoop()
	return p
}

// TestGuestSession: an invite link tells the guest page the meeting's
// title and that it has a passcode; a wrong passcode is refused and
// audited; the right one gives a guest session with a secure cookie that
// ends with the invite, and the websocket takes it with the guest role.
func TestGuestSession(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	m, err := ts.conf.CreateMeeting(ctx, "u-official", conference.MeetingOptions{Title: "Public hearing", Passcode: "8642"})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := ts.conf.CreateInvite(ctx, m.Room, "u-official", 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := ts.post("/api/guest/invite", `{"token":"`+inv.Token+`"}`)
	var info GuestInviteResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &info) != nil || info.Title != "Public hearing" || !info.Passcode || info.Room != m.Room {
		t.Fatalf("invite info: %d %s", resp.StatusCode, body)
	}

	resp, body = ts.post("/api/guest", guestBody(inv.Token, "Ms. Visitor", "1111"))
	if e := apiErr(t, body); resp.StatusCode != http.StatusUnauthorized || e.Code != CodeAuthFailed {
		t.Fatalf("wrong passcode: %d %s", resp.StatusCode, body)
	}
	assertAudited(t, ts, 0, "guest.session", "", audit.ResultFailed)
	resp, body = ts.post("/api/guest", guestBody(inv.Token, "   ", "8642"))
	if e := apiErr(t, body); resp.StatusCode != http.StatusBadRequest || e.Code != CodeInvalidParams {
		t.Fatalf("no name: %d %s", resp.StatusCode, body)
	}

	resp, body = ts.post("/api/guest", guestBody(inv.Token, "Ms. Visitor", "8642"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("guest sign-in: %d %s", resp.StatusCode, body)
	}
	var gr GuestResponse
	if err := json.Unmarshal(body, &gr); err != nil {
		t.Fatal(err)
	}
	if gr.Role != auth.RoleGuest || gr.Room != m.Room || gr.User.DisplayName != "Ms. Visitor" || !strings.HasPrefix(gr.User.Username, auth.GuestPrefix) {
		t.Fatalf("guest session: %+v", gr)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || !cookie.Secure || cookie.SameSite != http.SameSiteStrictMode || cookie.Value != gr.Token {
		t.Fatalf("session cookie: %+v", cookie)
	}
	// The session ends with the invite (2 h), not after the usual 12 h.
	exp, _ := time.Parse(time.RFC3339, gr.ExpiresAt)
	if d := exp.Sub(inv.ExpiresAt); d < -time.Second || d > time.Second {
		t.Fatalf("guest session expires %v, want with the invite at %v", exp, inv.ExpiresAt)
	}
	assertAudited(t, ts, 0, "guest.session", gr.User.Username, audit.ResultOK)

	// The websocket takes the cookie, with the guest role.
	c := ts.dial(http.Header{"Cookie": {sessionCookie + "=" + cookie.Value}})
	c.writeJSON(map[string]any{"type": TypeAuth})
	if m := c.readMsg(); m["type"] != TypeAuthOK || m["role"] != string(auth.RoleGuest) {
		t.Fatalf("auth with the guest cookie: %v", m)
	}
	if r := c.request(TypeWhoami, nil); r["success"] != true || r["result"].(map[string]any)["user"].(map[string]any)["display_name"] != "Ms. Visitor" {
		t.Fatalf("whoami: %v", r)
	}
	// Logging out ends the guest session.
	if r := c.request(TypeSessionLogout, nil); r["success"] != true {
		t.Fatalf("logout: %v", r)
	}
	if _, err := ts.auth.Authenticate(ctx, gr.Token); err == nil {
		t.Fatal("the guest session outlived its logout")
	}
}

// TestGuestInviteRefused: unknown and expired invite links, and links to
// a meeting that has ended, are refused with a sentence, and audited.
func TestGuestInviteRefused(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	m, err := ts.conf.CreateMeeting(ctx, "u-official", conference.MeetingOptions{Title: "Closing"})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := ts.conf.CreateInvite(ctx, m.Room, "u-official", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.db.Exec(`UPDATE meeting_invites SET expires_at = ?`, time.Now().Add(-time.Minute).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, token string
		status      int
		says        string
	}{
		{"unknown", strings.Repeat("x", 43), http.StatusNotFound, "not valid"},
		{"garbage", "../../etc", http.StatusNotFound, "not valid"},
		{"expired", expired.Token, http.StatusGone, "has expired"},
	}
	for _, tt := range tests {
		for _, path := range []string{"/api/guest/invite", "/api/guest"} {
			mark := lastAuditID(t, ts)
			resp, body := ts.post(path, guestBody(tt.token, "Late guest", ""))
			if e := apiErr(t, body); resp.StatusCode != tt.status || e.Code != CodeNotFound || !strings.Contains(e.Message, tt.says) {
				t.Errorf("%s link on %s: %d %s, want %d saying %q", tt.name, path, resp.StatusCode, body, tt.status, tt.says)
			}
			action := "guest.session"
			if path == "/api/guest/invite" {
				action = "guest.invite"
			}
			assertAudited(t, ts, mark, action, "", audit.ResultDenied)
		}
	}
	ended, err := ts.conf.CreateInvite(ctx, m.Room, "u-official", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.conf.End(ctx, m.Room); err != nil {
		t.Fatal(err)
	}
	resp, body := ts.post("/api/guest", guestBody(ended.Token, "Late guest", ""))
	if e := apiErr(t, body); resp.StatusCode != http.StatusNotFound || !strings.Contains(e.Message, "ended") {
		t.Errorf("link to an ended meeting: %d %s", resp.StatusCode, body)
	}
}

// TestGuestRBAC: a guest may join the one meeting of their invite and
// nothing else: no other room, no topic, no list, no invites.
func TestGuestRBAC(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	mine, _ := ts.conf.CreateMeeting(ctx, "u-official", conference.MeetingOptions{Title: "Mine", NoLobby: true})
	other, _ := ts.conf.CreateMeeting(ctx, "u-official", conference.MeetingOptions{Title: "Other", NoLobby: true})
	token, user := ts.guestSession(mine.Room, "Visitor", "")
	c := ts.connect(token)

	mark := lastAuditID(t, ts)
	if r := c.request(TypeConferenceJoin, map[string]any{"room": other.Room}); errCode(r) != CodeNotAllowed {
		t.Fatalf("a guest joining another meeting: %v, want not_allowed", r)
	}
	assertAudited(t, ts, mark, TypeConferenceJoin, user, audit.ResultFailed)
	for _, topic := range []string{TopicMeetings, TopicUsers, TopicAudit, TopicSystem} {
		if r := c.request(TypeSubscribe, map[string]any{"topics": []string{topic}}); errCode(r) != CodeNotAllowed {
			t.Errorf("a guest subscribing to %s: %v, want not_allowed", topic, r)
		}
	}
	for typ, params := range map[string]map[string]any{
		TypeConferenceList:   nil,
		TypeConferenceCreate: {"title": "Mine now"},
		TypeConferenceInvite: {"room": mine.Room},
		TypeConferenceEnd:    {"room": mine.Room},
		TypeUsersList:        nil,
		TypeSystemStatus:     nil,
	} {
		if r := c.request(typ, params); errCode(r) != CodeNotAllowed {
			t.Errorf("a guest sending %s: %v, want not_allowed", typ, r)
		}
	}
	j := c.request(TypeConferenceJoin, map[string]any{"room": mine.Room})
	if j["success"] != true || j["result"].(map[string]any)["host"] != false {
		t.Fatalf("a guest joining their meeting: %v", j)
	}
	if r := c.request(TypeConferenceLobby, map[string]any{"enabled": true}); errCode(r) != CodeNotAllowed {
		t.Fatalf("a guest in the meeting toggling the lobby: %v, want not_allowed", r)
	}
}

// TestGuestLobby runs the lobby over the websocket: the host makes an
// invite link; the guest, signed in with it and the passcode, waits
// without media; the host is told who waits and denies, then admits; the
// admitted guest joins; a guest who disconnects leaves the lobby; and
// every lobby decision is audited.
func TestGuestLobby(t *testing.T) {
	ts := newTestServer(t)
	host := newPeerClient(t, ts, auth.RoleOfficial)
	created := host.request(TypeConferenceCreate, map[string]any{"title": "Town hall", "passcode": "2580"})
	meeting := created["result"].(map[string]any)["meeting"].(map[string]any)
	room := meeting["room"].(string)
	if meeting["lobby"] != true {
		t.Fatalf("the lobby is not on by default: %v", meeting)
	}
	hj := host.request(TypeConferenceJoin, map[string]any{"room": room})
	if wr := hj["result"].(map[string]any)["waiting_room"].(map[string]any); wr["enabled"] != true || len(wr["waiting"].([]any)) != 0 {
		t.Fatalf("the host's join result's waiting room: %v", wr)
	}

	stop := publishVP8(t, host)
	defer close(stop)
	inv := host.request(TypeConferenceInvite, map[string]any{"room": room, "ttl_hours": 3})
	if inv["success"] != true {
		t.Fatalf("invite: %v", inv)
	}
	res := inv["result"].(map[string]any)
	link, token := res["url"].(string), res["token"].(string)
	if !strings.HasPrefix(link, ts.base+"/#/guest/") || !strings.HasSuffix(link, token) {
		t.Fatalf("invite url %q, want %s/#/guest/TOKEN", link, ts.base)
	}
	if exp, _ := time.Parse(time.RFC3339, res["expires_at"].(string)); time.Until(exp) < 179*time.Minute || time.Until(exp) > 3*time.Hour {
		t.Fatalf("invite expires %v, want in 3 h", exp)
	}
	assertAudited(t, ts, 0, TypeConferenceInvite, "u-official", audit.ResultOK)
	if auditMentions(t, ts, token) {
		t.Fatal("the invite token is in the audit log")
	}
	if r := host.request(TypeConferenceInvite, map[string]any{"room": room, "ttl_hours": 169}); errCode(r) != CodeInvalidParams {
		t.Fatalf("an invite for more than 7 days: %v", r)
	}
	resp, body := ts.post("/api/guest", guestBody(token, "访客 Visitor", "2580"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("guest sign-in: %d %s", resp.StatusCode, body)
	}
	var gr GuestResponse
	_ = json.Unmarshal(body, &gr)
	guest := peerWithToken(t, ts, gr.Token)

	knock := func() string {
		t.Helper()
		r := guest.request(TypeConferenceJoin, map[string]any{"room": room})
		out, _ := r["result"].(map[string]any)
		if r["success"] != true || out["lobby"] != true || out["participant_id"] != nil {
			t.Fatalf("guest join with the lobby on: %v, want {lobby:true} and no participant", r)
		}
		// The host is told who waits.
		for {
			st := host.nextEvent("lobby.changed")
			if w := st["waiting"].([]any); len(w) == 1 {
				if w[0].(map[string]any)["name"] != "访客 Visitor" || w[0].(map[string]any)["id"] != out["waiter_id"] {
					t.Fatalf("waiting: %v, want the guest", w)
				}
				return out["waiter_id"].(string)
			}
		}
	}
	id := knock()
	// Waiting, the guest has no media and cannot skip ahead.
	if code := errCode(guest.request(TypeWebRTCOffer, map[string]any{"sdp": "v=0"})); code != CodeConflict {
		t.Fatalf("an offer from the lobby: %q, want conflict", code)
	}
	if code := errCode(guest.request(TypeConferenceJoin, map[string]any{"room": room})); code != CodeConflict {
		t.Fatalf("a second join from the lobby: %q, want conflict", code)
	}
	if r := host.request(TypeConferenceDeny, map[string]any{"guest_id": id}); r["success"] != true {
		t.Fatalf("deny: %v", r)
	}
	if d := guest.nextEvent("lobby.denied"); !strings.Contains(d["reason"].(string), "host") {
		t.Fatalf("denied: %v", d)
	}
	// The socket stays usable: the guest knocks again and is admitted.
	id = knock()
	if r := host.request(TypeConferenceAdmit, map[string]any{"guest_id": id}); r["success"] != true {
		t.Fatalf("admit: %v", r)
	}
	guest.nextEvent("lobby.admitted")
	gj := guest.request(TypeConferenceJoin, map[string]any{"room": room})
	if gj["success"] != true || gj["result"].(map[string]any)["participant_id"] == "" || gj["result"].(map[string]any)["host"] != false {
		t.Fatalf("join after admission: %v", gj)
	}
	if p := host.nextEvent("participant.joined")["participant"].(map[string]any); p["name"] != "访客 Visitor" {
		t.Fatalf("the host saw %v join", p)
	}
	// Media starts: the guest is offered the host's track.
	if sdp, _ := guest.nextEvent("webrtc.offer")["sdp"].(string); !strings.Contains(sdp, "m=video") {
		t.Fatalf("the admitted guest's first offer has no video: %q", sdp)
	}

	// A second guest waits, then closes the page: out of the lobby.
	second, _ := ts.guestSession(room, "Passer-by", "2580")
	sc := ts.connect(second)
	if r := sc.request(TypeConferenceJoin, map[string]any{"room": room}); r["result"].(map[string]any)["lobby"] != true {
		t.Fatalf("second guest: %v", r)
	}
	host.nextEvent("lobby.changed") // Passer-by waits
	sc.ws.Close()
	if st := host.nextEvent("lobby.changed"); len(st["waiting"].([]any)) != 0 {
		t.Fatalf("lobby after the guest left: %v", st)
	}

	// Lobby off: the next guest walks in.
	if r := host.request(TypeConferenceLobby, map[string]any{"enabled": false}); r["success"] != true {
		t.Fatalf("lobby off: %v", r)
	}
	third, _ := ts.guestSession(room, "Walk-in", "2580")
	if r := ts.connect(third).request(TypeConferenceJoin, map[string]any{"room": room}); r["success"] != true || r["result"].(map[string]any)["participant_id"] == nil {
		t.Fatalf("a guest with the lobby off: %v, want in", r)
	}
	for _, action := range []string{TypeConferenceDeny, TypeConferenceAdmit, TypeConferenceLobby} {
		assertAudited(t, ts, 0, action, "u-official", audit.ResultOK)
	}
}

// auditMentions reports whether any audit entry's target or detail
// contains s.
func auditMentions(t *testing.T, ts *testServer, s string) bool {
	t.Helper()
	entries, _, err := ts.audit.List(context.Background(), audit.Filter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Target, s) || strings.Contains(e.Detail, s) {
			return true
		}
	}
	return false
}
