package webui

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"civic/building/cameras"
	"civic/building/cameras/onvif/onviftest"
	"civic/building/cameras/rtsp/rtsptest"
	"civic/internal/auth"
	"civic/internal/cameratest"
	"civic/internal/rtc/rtctest"
)

// startClipCamera serves the H.264 test clip at /cam on a Go RTSP server.
func startClipCamera(t *testing.T) *rtsptest.Server {
	t.Helper()
	srv, err := rtsptest.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	m, err := cameratest.ClipMount()
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle("/cam", m)
	return srv
}

// waitCamera reads events until camera id is announced in state.
func (c *wsClient) waitCamera(id, state string) map[string]any {
	c.t.Helper()
	for {
		m := c.nextEvent("building.camera_changed")
		cam, _ := eventData(m)["camera"].(map[string]any)
		if cam["id"] == id && cam["state"] == state {
			return m
		}
	}
}

// answerOffer plays a browser: it answers civicd's offer for viewer and
// counts the video packets that arrive.
func answerOffer(t *testing.T, c *wsClient, res map[string]any) (map[string]any, *atomic.Int64) {
	t.Helper()
	r := res["result"].(map[string]any)
	pc, err := rtctest.LoopbackAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	var packets atomic.Int64
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			packets.Add(1)
		}
	})
	a := c.request(TypeCameraAnswer, map[string]any{"viewer": r["viewer"], "sdp": rtctest.Answer(t, pc, r["sdp"].(string))})
	if errCode(a) != "" {
		t.Fatalf("answer: %v", a)
	}
	return a, &packets
}

// recordCameraGoldens records the cameras' requests and events.
func recordCameraGoldens(t *testing.T, ts *testServer, record func(string, map[string]any)) {
	cam := startClipCamera(t)
	onvifCam, err := onviftest.Start(onviftest.Camera{User: "admin", Password: "cam-pass-1", StreamURI: "rtsp://127.0.0.1:554/Streaming/Channels"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { onvifCam.Close() })
	resp, err := onviftest.StartDiscovery("127.0.0.1:0", onviftest.Advert{EndpointRef: "urn:uuid:5f4dcc3b-aaaa-bbbb-cccc-000000000001",
		XAddrs: []string{onvifCam.URL()}, Scopes: []string{"onvif://www.onvif.org/name/Gate", "onvif://www.onvif.org/hardware/OT-2146",
			"onvif://www.onvif.org/location/Lobby"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Close() })
	ts.srv.opts.DiscoveryAddr = resp.Addr()

	admin := ts.connect(ts.login(auth.RoleAdmin))
	staff := ts.connect(ts.login(auth.RoleFacilities))
	ask := func(c *wsClient, typ string, params map[string]any) map[string]any {
		t.Helper()
		m := c.request(typ, params)
		if m["success"] != true {
			t.Fatalf("%s: %v", typ, m)
		}
		record(typ, m)
		return m
	}
	staff.request(TypeSubscribe, map[string]any{"topics": []string{TopicBuildingCameras}})
	record(TypeEvent+".building.cameras.snapshot", staff.readMsg())
	ask(admin, TypeCamerasCreate, map[string]any{"camera": map[string]any{"id": "gate", "name": "Main gate", "rtsp_url": cam.URL("/cam")}})
	record(TypeEvent+".building.camera_changed", staff.waitCamera("gate", cameras.StateOnline))
	record(TypeEvent+".building.camera_health", staff.nextEvent(cameras.KindHealth))
	ask(staff, TypeCamerasList, nil)
	watch := ask(staff, TypeCameraWatch, map[string]any{"camera": "gate"})
	viewer := watch["result"].(map[string]any)["viewer"]
	answered, packets := answerOffer(t, staff, watch)
	record(TypeCameraAnswer, answered)
	cand := map[string]any{"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}
	ask(staff, TypeCameraCandidate, map[string]any{"viewer": viewer, "candidate": cand})
	deadline := time.Now().Add(10 * time.Second)
	for packets.Load() < 30 {
		if time.Now().After(deadline) {
			t.Fatalf("the golden viewer got %d packets", packets.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	ask(staff, TypeCameraUnwatch, map[string]any{"viewer": viewer})
	ask(admin, TypeCamerasUpdate, map[string]any{"camera": map[string]any{"id": "gate", "name": "Main gate (north)", "rtsp_url": cam.URL("/cam"), "transport": "tcp", "enabled": false}})
	ask(admin, TypeCamerasProbe, map[string]any{"onvif_url": onvifCam.URL(), "username": "admin", "password": "cam-pass-1"})
	disc := ask(admin, TypeCamerasDiscover, map[string]any{"timeout_ms": 1000})
	id := int64(disc["id"].(float64))
	for done := false; !done; {
		m := admin.readMsg()
		if got, _ := m["id"].(float64); int64(got) != id {
			continue
		}
		kind := m["event"].(map[string]any)["kind"].(string)
		switch kind {
		case KindDiscoveryFound:
			record(TypeEvent+"."+kind, m)
		case KindDiscoveryDone:
			record(TypeEvent+"."+kind, m)
			done = true
		}
	}
	ask(admin, TypeCamerasDelete, map[string]any{"camera_id": "gate"})
	record(TypeEvent+".building.camera_removed", staff.nextEvent(cameras.KindRemoved))
}

// TestCameraWatch: facilities staff watch a camera over the websocket and
// get its video; when an admin removes the camera the view ends with
// camera.ended; requests naming another socket's viewer are refused.
func TestCameraWatch(t *testing.T) {
	ts := newTestServer(t)
	cam := startClipCamera(t)
	ctx := context.Background()
	if _, err := ts.cams.Create(ctx, cameras.Input{ID: "lobby", Name: "Lobby", RTSPURL: cam.URL("/cam")}); err != nil {
		t.Fatal(err)
	}
	staff := ts.connect(ts.login(auth.RoleFacilities))
	res := staff.request(TypeCameraWatch, map[string]any{"camera": "lobby"})
	if errCode(res) != "" {
		t.Fatalf("watch: %v", res)
	}
	watchID := int64(res["id"].(float64))
	viewer := res["result"].(map[string]any)["viewer"].(string)
	_, packets := answerOffer(t, staff, res)
	deadline := time.Now().Add(15 * time.Second)
	for packets.Load() < 30 {
		if time.Now().After(deadline) {
			t.Fatalf("the viewer got %d packets", packets.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st, _ := ts.cams.Status("lobby"); st.Viewers != 1 || cam.Sessions() != 1 {
		t.Fatalf("status %+v with %d RTSP sessions; want 1 viewer on 1 session", st, cam.Sessions())
	}
	other := ts.connect(ts.login(auth.RoleAdmin))
	if code := errCode(other.request(TypeCameraUnwatch, map[string]any{"viewer": viewer})); code != CodeNotFound {
		t.Fatalf("another socket's viewer: %q, want not_found", code)
	}
	if code := errCode(staff.request(TypeCameraWatch, map[string]any{"camera": "nope"})); code != CodeNotFound {
		t.Fatalf("unknown camera: %q", code)
	}
	if err := ts.cams.Delete(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	for {
		m := staff.nextEvent(KindCameraEnded)
		if got, _ := m["id"].(float64); int64(got) == watchID && eventData(m)["viewer"] == viewer {
			break
		}
	}
}

// TestCameraProbe: the editor's ONVIF probe fills in the camera's
// identity and profiles; a wrong password is a clear auth failure.
func TestCameraProbe(t *testing.T) {
	ts := newTestServer(t)
	onvifCam, err := onviftest.Start(onviftest.Camera{User: "admin", Password: "cam-pass-1", ClockSkew: 3 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { onvifCam.Close() })
	admin := ts.connect(ts.login(auth.RoleAdmin))
	res := admin.request(TypeCamerasProbe, map[string]any{"onvif_url": onvifCam.URL(), "username": "admin", "password": "cam-pass-1"})
	if errCode(res) != "" {
		t.Fatalf("probe: %v", res)
	}
	r := res["result"].(map[string]any)
	profiles, _ := r["profiles"].([]any)
	if r["manufacturer"] == "" || r["model"] == "" || r["firmware"] == "" || r["serial"] == "" || len(profiles) != 2 {
		t.Fatalf("probe result %v", r)
	}
	if off := r["clock_offset_ms"].(float64); off < 3*3600*1000-5000 || off > 3*3600*1000+5000 {
		t.Fatalf("clock offset %v ms, want about 3 h", off)
	}
	bad := admin.request(TypeCamerasProbe, map[string]any{"onvif_url": onvifCam.URL(), "username": "admin", "password": "wrong"})
	e, _ := bad["error"].(map[string]any)
	if errCode(bad) != CodeUnavailable || !strings.Contains(e["message"].(string), "auth failed") {
		t.Fatalf("wrong password: %v", bad)
	}
}

// TestCamerasUnavailable: without the cameras module every camera
// request is refused with unavailable.
func TestCamerasUnavailable(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	c := &conn{s: s, ctx: context.Background(), log: s.log}
	handlers := cameraHandlers()
	for _, m := range cameraMessages() {
		params, _ := sampleParams(m.Type, auth.RoleAdmin, auth.User{}, 1, "")
		raw, _ := json.Marshal(params)
		_, err := handlers[m.Type](c, context.Background(), request{Type: m.Type, raw: raw})
		want := CodeUnavailable
		if strings.HasPrefix(m.Type, "camera.") && m.Type != TypeCameraWatch {
			want = CodeNotFound // a viewer of this socket is looked up first
		}
		if we := s.wireError(err); we.Code != want {
			t.Errorf("%s: %v, want %s", m.Type, err, want)
		}
	}
}

// runVaries are fields that differ from run to run, beside those
// normalise knows: the cameras' live figures, ids and the test servers'
// ports, and a meeting's dial-in number and PIN.
var runVaries = map[string]bool{"viewer": true, "rtsp_url": true, "fps": true, "bitrate_kbps": true, "last_frame": true,
	"last_keyframe": true, "since": true, "sessions": true, "stream_uri": true, "snapshot_uri": true, "snapshot_url": true,
	"onvif_url": true, "address": true, "xaddrs": true, "clock_offset_ms": true, "percent": true, "streaming": true,
	"dial_in": true}
