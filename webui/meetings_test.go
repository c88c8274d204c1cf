package webui

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"civic/internal/auth"
	"civic/internal/rtc/rtctest"
)

// peerClient is a console client with real pion peer connections, on
// loopback: the stand-in for a browser in Go tests.
type peerClient struct {
	t      testing.TB
	c      *wsClient
	mu     sync.Mutex
	nextID int64
	wait   map[int64]chan map[string]any
	events chan map[string]any
	api    *webrtc.API
}

func newPeerClient(t testing.TB, ts *testServer, role auth.Role) *peerClient {
	t.Helper()
	p := &peerClient{
		t: t, c: ts.connect(ts.login(role)),
		wait:   map[int64]chan map[string]any{},
		events: make(chan map[string]any, 64),
		api:    testAPI(t),
	}
	go p.readLoop()
	return p
}

// testAPI is a pion API for test clients that stays on loopback.
func testAPI(t testing.TB) *webrtc.API { return rtctest.LoopbackAPI(t) }

// testOffer returns a real offer with one VP8 track, all candidates in.
func testOffer(t testing.TB) string {
	t.Helper()
	pc, err := testAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "cam")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return localSDP(t, pc, offer)
}

func (p *peerClient) readLoop() {
	for {
		b, err := p.c.readRaw()
		if err != nil {
			close(p.events)
			return
		}
		var m map[string]any
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		if m["type"] == TypeEvent {
			p.events <- m["event"].(map[string]any)
			continue
		}
		id, _ := m["id"].(float64)
		p.mu.Lock()
		ch := p.wait[int64(id)]
		p.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

// request sends a request and waits for its result.
func (p *peerClient) request(typ string, params map[string]any) map[string]any {
	p.t.Helper()
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	ch := make(chan map[string]any, 1)
	p.wait[id] = ch
	p.mu.Unlock()
	msg := map[string]any{"id": id, "type": typ}
	for k, v := range params {
		msg[k] = v
	}
	p.mu.Lock()
	p.c.writeJSON(msg)
	p.mu.Unlock()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		p.t.Fatalf("no result for %s", typ)
	}
	return nil
}

func (p *peerClient) newPC() *webrtc.PeerConnection {
	p.t.Helper()
	pc, err := p.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { pc.Close() })
	return pc
}

// localSDP sets the local description and returns it with all candidates.
func localSDP(t testing.TB, pc *webrtc.PeerConnection, desc webrtc.SessionDescription) string {
	t.Helper()
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(desc); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return pc.LocalDescription().SDP
}

// TestMeetingForwardsMedia has a Go publisher and a Go subscriber join one
// meeting over the console protocol; the subscriber must receive the
// publisher's VP8 track, tagged with the publisher's participant id.
func TestMeetingForwardsMedia(t *testing.T) {
	ts := newTestServer(t)
	host := newPeerClient(t, ts, auth.RoleOfficial)
	guest := newPeerClient(t, ts, auth.RoleAdmin)

	created := host.request(TypeConferenceCreate, map[string]any{"title": "Budget review"})
	if created["success"] != true {
		t.Fatalf("create: %v", created)
	}
	room := created["result"].(map[string]any)["meeting"].(map[string]any)["room"]

	// The guest joins first and waits to be offered tracks.
	gj := guest.request(TypeConferenceJoin, map[string]any{"room": room})
	if gj["success"] != true {
		t.Fatalf("guest join: %v", gj)
	}
	sub := guest.newPC()
	gotRTP := make(chan string, 1)
	sub.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for i := 0; ; i++ {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			if i == 10 {
				gotRTP <- tr.StreamID()
			}
		}
	})

	hj := host.request(TypeConferenceJoin, map[string]any{"room": room})
	if hj["success"] != true {
		t.Fatalf("host join: %v", hj)
	}
	hostID := hj["result"].(map[string]any)["participant_id"].(string)
	if others := hj["result"].(map[string]any)["participants"].([]any); len(others) != 1 {
		t.Fatalf("host sees %d others, want 1 (the guest)", len(others))
	}

	stop := publishVP8(t, host)
	defer close(stop)

	// The guest is told the host joined, then offered the host's track.
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-guest.events:
			if !ok {
				t.Fatal("guest socket closed")
			}
			if ev["kind"] != "webrtc.offer" {
				continue
			}
			sdp := ev["data"].(map[string]any)["sdp"].(string)
			if err := sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
				t.Fatal(err)
			}
			answer, err := sub.CreateAnswer(nil)
			if err != nil {
				t.Fatal(err)
			}
			if r := guest.request(TypeWebRTCAnswer, map[string]any{"sdp": localSDP(t, sub, answer)}); r["success"] != true {
				t.Fatalf("subscribe answer: %v", r)
			}
		case stream := <-gotRTP:
			if stream != hostID {
				t.Fatalf("forwarded track's stream id = %q, want the host's participant id %q", stream, hostID)
			}
			// Leaving tells the other participant.
			if r := host.request(TypeConferenceLeave, nil); r["success"] != true {
				t.Fatalf("leave: %v", r)
			}
			for ev := range guest.events {
				if ev["kind"] == "participant.left" {
					return
				}
			}
			t.Fatal("guest was not told that the host left")
		case <-deadline:
			t.Fatal("the guest received no forwarded RTP within 15 s")
		}
	}
}

func TestMeetingJoinErrors(t *testing.T) {
	ts := newTestServer(t)
	c := ts.connect(ts.login(auth.RoleOfficial))
	tests := []struct {
		name   string
		typ    string
		params map[string]any
		code   string
	}{
		{"no such room", TypeConferenceJoin, map[string]any{"room": "000000"}, CodeNotFound},
		{"empty title", TypeConferenceCreate, map[string]any{"title": "  "}, CodeInvalidParams},
		{"offer before join", TypeWebRTCOffer, map[string]any{"sdp": "v=0"}, CodeConflict},
		{"leave before join", TypeConferenceLeave, nil, CodeConflict},
	}
	for _, tt := range tests {
		if got := errCode(c.request(tt.typ, tt.params)); got != tt.code {
			t.Errorf("%s: code %q, want %q", tt.name, got, tt.code)
		}
	}
	created := c.request(TypeConferenceCreate, map[string]any{"title": "x"})
	room := created["result"].(map[string]any)["meeting"].(map[string]any)["room"]
	if r := c.request(TypeConferenceJoin, map[string]any{"room": room}); r["success"] != true {
		t.Fatalf("join: %v", r)
	}
	if got := errCode(c.request(TypeWebRTCOffer, map[string]any{"sdp": "this is not SDP"})); got != CodeInvalidParams {
		t.Errorf("malformed SDP: code %q, want invalid_params", got)
	}
	if got := errCode(c.request(TypeConferenceJoin, map[string]any{"room": room})); got != CodeConflict {
		t.Errorf("second join on one socket: code %q, want conflict", got)
	}
}

// TestMeetingsTopicIsLive subscribes to meetings and sees a meeting
// created and a participant join, with the live count.
func TestMeetingsTopicIsLive(t *testing.T) {
	ts := newTestServer(t)
	watcher := newPeerClient(t, ts, auth.RoleOfficial)
	if r := watcher.request(TypeSubscribe, map[string]any{"topics": []string{TopicMeetings}}); r["success"] != true {
		t.Fatalf("subscribe: %v", r)
	}
	if ev := <-watcher.events; ev["kind"] != "snapshot" {
		t.Fatalf("first event %v, want the snapshot", ev)
	}
	host := ts.connect(ts.login(auth.RoleAdmin))
	created := host.request(TypeConferenceCreate, map[string]any{"title": "Live"})
	room := created["result"].(map[string]any)["meeting"].(map[string]any)["room"]
	host.request(TypeConferenceJoin, map[string]any{"room": room})
	want := []string{"conference.meeting_created", "conference.participant_joined"}
	for _, kind := range want {
		select {
		case ev := <-watcher.events:
			m := ev["data"].(map[string]any)["meeting"].(map[string]any)
			if ev["kind"] != kind || m["room"] != room {
				t.Fatalf("event %v, want %s for room %v", ev, kind, room)
			}
			if kind == "conference.participant_joined" && m["participants"] != float64(1) {
				t.Fatalf("participant count %v, want 1", m["participants"])
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s event", kind)
		}
	}
	// Ending the meeting takes it off the list.
	host.request(TypeConferenceEnd, map[string]any{"room": room})
	for {
		ev := watcher.nextEvent("conference.meeting_ended")
		if ev["meeting"].(map[string]any)["room"] == room {
			break
		}
	}
	// Facilities staff may not watch meetings.
	fac := ts.connect(ts.login(auth.RoleFacilities))
	if code := errCode(fac.request(TypeSubscribe, map[string]any{"topics": []string{TopicMeetings}})); code != CodeNotAllowed {
		t.Fatalf("facilities subscribing to meetings: %q, want not_allowed", code)
	}
}

// nextEvent returns the next conference event of the given kind.
func (p *peerClient) nextEvent(kind string) map[string]any {
	p.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-p.events:
			if !ok {
				p.t.Fatalf("socket closed while waiting for %s", kind)
			}
			if ev["kind"] == kind {
				return ev["data"].(map[string]any)
			}
		case <-deadline:
			p.t.Fatalf("no %s event within 5 s", kind)
		}
	}
}

// TestModeration covers the host's controls, chat and hands over the
// console protocol, and that a non-host cannot moderate.
func TestModeration(t *testing.T) {
	ts := newTestServer(t)
	for _, name := range []string{"u-guest", "u-late", "u-locked"} {
		if _, err := ts.auth.CreateUser(context.Background(), auth.NewUser{Username: name, Role: auth.RoleOfficial, Password: "password-official"}); err != nil {
			t.Fatal(err)
		}
	}
	as := func(user string) *peerClient {
		resp, body := ts.post("/api/login", `{"username":"`+user+`","password":"password-official"}`)
		if resp.StatusCode != 200 {
			t.Fatalf("login %s: %s", user, body)
		}
		var lr LoginResponse
		_ = json.Unmarshal(body, &lr)
		p := &peerClient{t: t, c: ts.connect(lr.Token), wait: map[int64]chan map[string]any{}, events: make(chan map[string]any, 64)}
		go p.readLoop()
		return p
	}
	host := newPeerClient(t, ts, auth.RoleOfficial)
	room := host.request(TypeConferenceCreate, map[string]any{"title": "Moderated"})["result"].(map[string]any)["meeting"].(map[string]any)["room"]
	if r := host.request(TypeConferenceJoin, map[string]any{"room": room}); r["result"].(map[string]any)["host"] != true {
		t.Fatalf("the creator is not host: %v", r)
	}
	guest := as("u-guest")
	gj := guest.request(TypeConferenceJoin, map[string]any{"room": room})
	if gj["result"].(map[string]any)["host"] != false {
		t.Fatalf("a guest is host: %v", gj)
	}
	guestID := gj["result"].(map[string]any)["participant_id"]
	host.nextEvent("participant.joined")

	// A guest cannot moderate.
	if code := errCode(guest.request(TypeConferenceMuteAll, nil)); code != CodeNotAllowed {
		t.Fatalf("guest mute_all: %q, want not_allowed", code)
	}
	// Chat reaches everyone, and a late joiner gets the history.
	host.request(TypeConferenceChat, map[string]any{"text": "欢迎 welcome"})
	if msg := guest.nextEvent("chat.message"); msg["text"] != "欢迎 welcome" {
		t.Fatalf("chat: %v", msg)
	}
	late := as("u-late")
	lj := late.request(TypeConferenceJoin, map[string]any{"room": room})
	if chat := lj["result"].(map[string]any)["chat"].([]any); len(chat) != 1 {
		t.Fatalf("late joiner's chat history: %v", chat)
	}
	// Hands and mutes are announced to everyone.
	guest.request(TypeConferenceHand, map[string]any{"raised": true})
	if p := host.nextEvent("participant.updated")["participant"].(map[string]any); p["id"] != guestID || p["hand"] != true {
		t.Fatalf("hand: %v", p)
	}
	host.request(TypeConferenceMute, map[string]any{"participant_id": guestID, "muted": true})
	for {
		p := guest.nextEvent("participant.updated")["participant"].(map[string]any)
		if p["id"] == guestID && p["muted"] == true {
			break
		}
	}
	// Locked: a new official cannot join.
	host.request(TypeConferenceLock, map[string]any{"locked": true})
	if code := errCode(as("u-locked").request(TypeConferenceJoin, map[string]any{"room": room})); code != CodeNotAllowed {
		t.Fatalf("joining a locked meeting: %q, want not_allowed", code)
	}
	// Removed: told, out of the meeting, and cannot come back while locked.
	if r := host.request(TypeConferenceRemove, map[string]any{"participant_id": guestID}); r["success"] != true {
		t.Fatalf("remove: %v", r)
	}
	guest.nextEvent("removed")
	if code := errCode(guest.request(TypeWebRTCOffer, map[string]any{"sdp": "v=0"})); code != CodeConflict {
		t.Fatalf("removed participant still in the meeting: %q", code)
	}
	if code := errCode(guest.request(TypeConferenceJoin, map[string]any{"room": room})); code != CodeNotAllowed {
		t.Fatalf("removed participant rejoining a locked meeting: %q, want not_allowed", code)
	}
	// Ending tells everyone and closes the room for good.
	if r := host.request(TypeConferenceEnd, map[string]any{"room": room}); r["success"] != true {
		t.Fatalf("end: %v", r)
	}
	late.nextEvent("meeting.ended")
	if code := errCode(late.request(TypeConferenceJoin, map[string]any{"room": room})); code != CodeNotFound {
		t.Fatalf("joining an ended meeting: %q, want not_found", code)
	}
	assertAudited(t, ts, 0, TypeConferenceRemove, "u-official", "ok")
	assertAudited(t, ts, 0, TypeConferenceMuteAll, "u-guest", "failed")
}

// TestRejoin drops a subscriber's websocket without leaving, reconnects
// with a new socket and conference.rejoin: the participant keeps its id,
// nobody is told it left, media keeps flowing, and an ICE restart of the
// subscribe side is offered on the new socket.
func TestRejoin(t *testing.T) {
	ts := newTestServer(t)
	host := newPeerClient(t, ts, auth.RoleOfficial)
	room := host.request(TypeConferenceCreate, map[string]any{"title": "Rejoin"})["result"].(map[string]any)["meeting"].(map[string]any)["room"]
	guest := newPeerClient(t, ts, auth.RoleAdmin)
	guestID := guest.request(TypeConferenceJoin, map[string]any{"room": room})["result"].(map[string]any)["participant_id"]
	sub := guest.newPC()
	var mu sync.Mutex
	packets := 0
	sub.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			mu.Lock()
			packets++
			mu.Unlock()
		}
	})
	count := func() int { mu.Lock(); defer mu.Unlock(); return packets }
	answer := func(p *peerClient) {
		sdp := p.nextEvent("webrtc.offer")["sdp"].(string)
		if err := sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
			t.Fatal(err)
		}
		a, err := sub.CreateAnswer(nil)
		if err != nil {
			t.Fatal(err)
		}
		if r := p.request(TypeWebRTCAnswer, map[string]any{"sdp": localSDP(t, sub, a)}); r["success"] != true {
			t.Fatalf("answer: %v", r)
		}
	}
	waitMore := func(than int) {
		deadline := time.Now().Add(10 * time.Second)
		for count() <= than+10 {
			if time.Now().After(deadline) {
				t.Fatalf("media stopped at %d packets", count())
			}
			time.Sleep(10 * time.Millisecond) // waiting on network delivery
		}
	}

	host.request(TypeConferenceJoin, map[string]any{"room": room})
	stop := publishVP8(t, host)
	defer close(stop)
	answer(guest)
	waitMore(0)

	// The guest's socket drops; it comes back on a new one.
	guest.c.ws.Close()
	back := newPeerClient(t, ts, auth.RoleAdmin)
	r := back.request(TypeConferenceRejoin, map[string]any{"participant_id": guestID})
	if r["success"] != true || r["result"].(map[string]any)["participant_id"] != guestID {
		t.Fatalf("rejoin: %v", r)
	}
	if others := r["result"].(map[string]any)["participants"].([]any); len(others) != 1 {
		t.Fatalf("after rejoin the guest sees %d others, want 1", len(others))
	}
	waitMore(count())
	// An ICE restart of the subscribe side comes as a new offer.
	if r := back.request(TypeWebRTCRestart, nil); r["success"] != true {
		t.Fatalf("restart: %v", r)
	}
	answer(back)
	waitMore(count())
	// The host was never told the guest left.
	for {
		select {
		case ev := <-host.events:
			if ev["kind"] == "participant.left" {
				t.Fatal("the host was told the guest left")
			}
		default:
			return
		}
	}
}

// publishVP8 publishes a VP8 track from p until stop is closed.
func publishVP8(t *testing.T, p *peerClient) chan struct{} {
	t.Helper()
	pub := p.newPC()
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "cam")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	offer, err := pub.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	res := p.request(TypeWebRTCOffer, map[string]any{"sdp": localSDP(t, pub, offer)})
	if res["success"] != true {
		t.Fatalf("publish offer: %v", res)
	}
	if err := pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: res["result"].(map[string]any)["sdp"].(string)}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	go func() {
		frame := []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = track.WriteSample(media.Sample{Data: frame, Duration: 20 * time.Millisecond})
			}
		}
	}()
	return stop
}

func TestAttendanceCSV(t *testing.T) {
	ts := newTestServer(t)
	if _, err := ts.auth.CreateUser(context.Background(), auth.NewUser{Username: "u-cohost", Role: auth.RoleOfficial, Password: "password-official"}); err != nil {
		t.Fatal(err)
	}
	hostToken := ts.login(auth.RoleOfficial)
	host := ts.connect(hostToken)
	room := host.request(TypeConferenceCreate, map[string]any{"title": "Record", "co_hosts": []string{"u-cohost"}})["result"].(map[string]any)["meeting"].(map[string]any)["room"].(string)
	host.request(TypeConferenceJoin, map[string]any{"room": room, "name": "=Chair 主持"})
	host.request(TypeConferenceLeave, nil)

	get := func(token, room string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, ts.base+"/api/meetings/"+room+"/attendance.csv", nil)
		if token != "" {
			req.AddCookie(&http.Cookie{Name: sessionCookie, Value: token})
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get(hostToken, room)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("host export: %d %s", resp.StatusCode, body)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[1][0] != "'=Chair 主持" || rows[1][1] != "u-official" || rows[1][4] == "" {
		t.Fatalf("csv rows %q: want a header and one closed stay, the name defused", rows)
	}
	if resp, _ := get(ts.login(auth.RoleAdmin), room); resp.StatusCode != 200 {
		t.Errorf("admin export: %d", resp.StatusCode)
	}
	_, loginBody := ts.post("/api/login", `{"username":"u-cohost","password":"password-official"}`)
	var login LoginResponse
	if err := json.Unmarshal(loginBody, &login); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(login.Token, room); resp.StatusCode != 200 {
		t.Errorf("co-host export: %d", resp.StatusCode)
	}
	if resp, _ := get(ts.login(auth.RoleFacilities), room); resp.StatusCode != http.StatusForbidden {
		t.Errorf("facilities export: %d, want 403", resp.StatusCode)
	}
	if resp, _ := get("", room); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no session: %d, want 401", resp.StatusCode)
	}
	if resp, _ := get(hostToken, "000000"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown room: %d, want 404", resp.StatusCode)
	}
}
