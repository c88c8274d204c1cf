package cameras

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"civic/building/cameras/h264"
	"civic/building/cameras/onvif/onviftest"
	"civic/building/cameras/rtsp/rtsptest"
	"civic/internal/cameratest"
	"civic/internal/events"
	"civic/internal/rtc"
	"civic/internal/rtc/rtctest"
	"civic/internal/store"
)

// recorder keeps what the service published.
type recorder struct {
	mu  sync.Mutex
	evs []Event
}

func (r *recorder) Publish(p events.Payload) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := p.(Event); ok {
		r.evs = append(r.evs, e)
	}
}

// states lists the states camera id was announced in, in order.
func (r *recorder) states(id string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.evs {
		if e.Kind == KindChanged && e.Camera != nil && e.Camera.ID == id && (len(out) == 0 || out[len(out)-1] != e.Camera.State) {
			out = append(out, e.Camera.State)
		}
	}
	return out
}

// alarmLog keeps the camera alarms raised and resolved.
type alarmLog struct {
	mu  sync.Mutex
	log []string // "on camera_offline c1" / "off camera_offline c1"
}

func (a *alarmLog) CameraAlarm(camera, kind string, on bool, _ string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	word := "off"
	if on {
		word = "on"
	}
	a.log = append(a.log, word+" "+kind+" "+camera)
	return nil
}

func (a *alarmLog) has(entry string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Contains(a.log, entry)
}

// resolvedAfterRaise reports whether "off kind id" came after the first
// "on kind id".
func (a *alarmLog) resolvedAfterRaise(kind, id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	on := slices.Index(a.log, "on "+kind+" "+id)
	return on >= 0 && slices.Contains(a.log[on+1:], "off "+kind+" "+id)
}

type env struct {
	s      *Service
	bus    *recorder
	alarms *alarmLog
	cancel context.CancelFunc
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newEnv runs a Service on a fresh store, with live view on loopback.
func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	logger := testLogger()
	st, err := store.Open(context.Background(), t.TempDir(), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	engine, err := rtc.New(rtc.Config{Host: "127.0.0.1", TCPPort: -1, LoopbackOnly: true}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	cfg.NewPeerConnection = engine.NewViewerConnection
	e := &env{bus: &recorder{}, alarms: &alarmLog{}}
	e.s, err = New(context.Background(), cfg, st.DB(), e.bus, e.alarms, logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.s.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) status(t *testing.T, id string) Status {
	t.Helper()
	st, err := e.s.Status(id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// viewer is a Go WebRTC client watching a camera, like a browser would:
// it answers civicd's offer and reassembles the pictures it gets.
type viewer struct {
	v        *Viewer
	pc       *webrtc.PeerConnection
	pictures atomic.Int64
	keyFirst atomic.Bool // the first whole picture was a keyframe
	sizeOK   atomic.Bool // its SPS says 640x360
}

func watch(t *testing.T, e *env, id string) *viewer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, offer, err := e.s.Watch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	pc, err := rtctest.LoopbackAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	out := &viewer{v: v, pc: pc}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		asm := h264.NewAssembler(0)
		first := true
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			au, ok, err := asm.Push(pkt)
			if err != nil || !ok {
				continue
			}
			if first {
				out.keyFirst.Store(au.Keyframe)
				first = false
			}
			for _, n := range au.NALUs {
				if h264.NALType(n) == h264.NALSPS {
					if sps, err := h264.ParseSPS(n); err == nil && sps.Width == 640 && sps.Height == 360 {
						out.sizeOK.Store(true)
					}
				}
			}
			out.pictures.Add(1)
		}
	})
	if err := v.Answer(rtctest.Answer(t, pc, offer)); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLiveCamera: a real GStreamer camera added by RTSP URL goes online
// with its measured frame rate and size; three viewers share its one
// RTSP session and each starts at a keyframe; killed, it goes offline
// with an alarm, and back, it resolves the alarm and the viewers'
// pictures resume.
func TestLiveCamera(t *testing.T) {
	cam := cameratest.Start(t, cameratest.Options{})
	e := newEnv(t, Config{OfflineAfter: 3 * time.Second, Timeout: 2 * time.Second, CheckInterval: time.Minute,
		SampleFor: 3 * time.Second, ViewerGrace: 2 * time.Second})
	ctx := context.Background()
	if _, err := e.s.Create(ctx, Input{ID: "lobby", Name: "Lobby", RTSPURL: cam.URL("")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the camera online", func() bool { return e.status(t, "lobby").State == StateOnline })
	st := e.status(t, "lobby")
	if st.FPS < 13 || st.FPS > 17 || st.Width != 640 || st.Height != 360 || st.Codec != "H264" || !st.LiveView ||
		st.LastKeyframe.IsZero() || st.BitrateKbps <= 0 {
		t.Fatalf("status %+v; want about 15 fps, 640x360, H264", st)
	}

	var vs []*viewer
	for range 3 {
		vs = append(vs, watch(t, e, "lobby"))
	}
	waitFor(t, 15*time.Second, "every viewer decoding pictures", func() bool {
		for _, v := range vs {
			if v.pictures.Load() < 10 {
				return false
			}
		}
		return true
	})
	st = e.status(t, "lobby")
	if st.Viewers != 3 || !st.Streaming {
		t.Fatalf("status %+v; want 3 viewers on a stream", st)
	}
	// The check's session ended before the viewers came (CheckInterval is
	// long), so theirs is the second, and the only one.
	sessions := st.Sessions
	if sessions > 2 {
		t.Fatalf("%d RTSP sessions for 3 viewers; want them to share one", sessions)
	}
	for i, v := range vs {
		if !v.keyFirst.Load() || !v.sizeOK.Load() {
			t.Errorf("viewer %d: first picture a keyframe %v, SPS 640x360 %v", i, v.keyFirst.Load(), v.sizeOK.Load())
		}
	}

	cam.Stop()
	waitFor(t, 15*time.Second, "the camera offline", func() bool { return e.status(t, "lobby").State == StateOffline })
	if !e.alarms.has("on camera_offline lobby") {
		t.Fatalf("no offline alarm: %v", e.alarms.log)
	}
	before := vs[0].pictures.Load()
	cam.Restart()
	waitFor(t, 30*time.Second, "the camera back online", func() bool { return e.status(t, "lobby").State == StateOnline })
	if !e.alarms.resolvedAfterRaise("camera_offline", "lobby") {
		t.Fatalf("the offline alarm did not resolve: %v", e.alarms.log)
	}
	waitFor(t, 15*time.Second, "pictures again", func() bool { return vs[0].pictures.Load() > before+10 })
	if got := e.bus.states("lobby"); !slices.Equal(got, []string{StateUnknown, StateOnline, StateOffline, StateOnline}) {
		t.Errorf("announced states %v", got)
	}

	// The last viewer leaving ends the session after the grace period.
	for _, v := range vs {
		v.v.Close()
	}
	waitFor(t, 10*time.Second, "the session to end", func() bool {
		st := e.status(t, "lobby")
		return st.Viewers == 0 && !st.Streaming
	})
}

// TestONVIFCamera: a camera added by its ONVIF address is probed (its
// identity, profiles and the H.264 profile's stream), streams from the
// address the probe gave, serves snapshots with its credentials, and
// its tamper events raise and resolve an alarm while motion goes on the
// bus. A wrong password is refused with a clear reason.
func TestONVIFCamera(t *testing.T) {
	video, err := rtsptest.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { video.Close() })
	m, err := cameratest.ClipMount()
	if err != nil {
		t.Fatal(err)
	}
	m.User, m.Password, m.Digest = "admin", "cam-pass-1", true
	video.Handle("/Streaming/Channels/Profile_2", m)
	dev, err := onviftest.Start(onviftest.Camera{User: "admin", Password: "cam-pass-1", ClockSkew: -2 * time.Hour,
		StreamURI: video.URL("/Streaming/Channels")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })

	e := newEnv(t, Config{OfflineAfter: 3 * time.Second, Timeout: 2 * time.Second, CheckInterval: time.Minute})
	ctx := context.Background()
	wrong := "nope"
	if _, err := e.s.Create(ctx, Input{ID: "hall", Name: "Hall", ONVIFURL: dev.URL(), Username: "admin", Password: &wrong}); err == nil ||
		!errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), ReasonAuth) {
		t.Fatalf("wrong password: %v", err)
	}
	pw := "cam-pass-1"
	c, err := e.s.Create(ctx, Input{ID: "hall", Name: "Hall", ONVIFURL: dev.URL(), Username: "admin", Password: &pw})
	if err != nil {
		t.Fatal(err)
	}
	if c.Manufacturer == "" || c.Model == "" || c.Firmware == "" || c.Serial == "" || len(c.Profiles) != 2 || c.Profile != "Profile_2" ||
		c.RTSPURL != video.URL("/Streaming/Channels/Profile_2") || c.SnapshotURL == "" {
		t.Fatalf("camera %+v", c)
	}
	waitFor(t, 15*time.Second, "the ONVIF camera online", func() bool { return e.status(t, "hall").State == StateOnline })
	img, ct, err := e.s.Snapshot(ctx, "hall")
	if err != nil || ct != "image/jpeg" || len(img) < 100 || img[0] != 0xFF || img[1] != 0xD8 {
		t.Fatalf("snapshot: %d bytes of %q, %v", len(img), ct, err)
	}

	waitFor(t, 10*time.Second, "the event subscription", func() bool { return dev.Subscriptions() > 0 })
	dev.Publish(onviftest.Event{Topic: "tns1:VideoSource/GlobalSceneChange/ImagingService", Data: []onviftest.Item{{Name: "State", Value: "true"}}})
	waitFor(t, 15*time.Second, "the tamper alarm", func() bool { return e.alarms.has("on camera_tamper hall") })
	dev.Publish(onviftest.Event{Topic: "tns1:VideoSource/GlobalSceneChange/ImagingService", Data: []onviftest.Item{{Name: "State", Value: "false"}}})
	waitFor(t, 15*time.Second, "the tamper alarm resolved", func() bool { return e.alarms.resolvedAfterRaise("camera_tamper", "hall") })
	dev.Publish(onviftest.Event{Topic: "tns1:RuleEngine/CellMotionDetector/Motion", Data: []onviftest.Item{{Name: "IsMotion", Value: "true"}}})
	waitFor(t, 15*time.Second, "a motion event", func() bool {
		e.bus.mu.Lock()
		defer e.bus.mu.Unlock()
		return slices.ContainsFunc(e.bus.evs, func(ev Event) bool { return ev.Kind == KindMotion && ev.Active != nil && *ev.Active })
	})
}

// TestBadCameras: each kind of broken camera ends in a clear state and
// reason, and nothing else breaks: cameras that never work go offline
// with why, and an H.265 camera is online but cannot be watched.
func TestBadCameras(t *testing.T) {
	srv, err := rtsptest.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	clip, err := cameratest.ClipMount()
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(m *rtsptest.Mount)) rtsptest.Mount {
		m := clip
		f(&m)
		return m
	}
	srv.Handle("/auth", with(func(m *rtsptest.Mount) { m.User, m.Password, m.Digest = "admin", "right-pass", true }))
	srv.Handle("/garbage", with(func(m *rtsptest.Mount) { m.Fault = rtsptest.FaultGarbage }))
	srv.Handle("/stall", with(func(m *rtsptest.Mount) { m.Fault = rtsptest.FaultStall }))
	srv.Handle("/giant", with(func(m *rtsptest.Mount) { m.Fault = rtsptest.FaultGiant }))
	srv.Handle("/audio", rtsptest.Mount{SDP: "m=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"})
	srv.Handle("/h265", rtsptest.Mount{SDP: "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H265/90000\r\n",
		Source: func(ctx context.Context, write func(*rtp.Packet) error) error {
			tick := time.NewTicker(time.Second / 15)
			defer tick.Stop()
			for ts := uint32(0); ; ts += 6000 {
				p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, Timestamp: ts, Marker: true}, Payload: []byte{0x26, 0x01, 0xaf, 0x00}}
				if err := write(p); err != nil {
					return err
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-tick.C:
				}
			}
		}})
	dead := "rtsp://127.0.0.1:9/cam" // the discard port: refused

	e := newEnv(t, Config{OfflineAfter: 2 * time.Second, Timeout: time.Second, CheckInterval: time.Minute})
	ctx := context.Background()
	wrong := "wrong-pass"
	cases := []struct {
		id, url  string
		password *string
		state    string
		reasons  []string
	}{
		{"auth", srv.URL("/auth"), &wrong, StateOffline, []string{ReasonAuth}},
		{"dead", dead, nil, StateOffline, []string{ReasonUnreachable}},
		{"garbage", srv.URL("/garbage"), nil, StateOffline, []string{ReasonBadStream}},
		{"stall", srv.URL("/stall"), nil, StateOffline, []string{ReasonStalled}},
		{"giant", srv.URL("/giant"), nil, StateOffline, []string{ReasonBadStream, ReasonStalled}},
		{"audio", srv.URL("/audio"), nil, StateOffline, []string{ReasonNoVideo}},
		{"h265", srv.URL("/h265"), nil, StateOnline, []string{ReasonCodec}},
	}
	for _, c := range cases {
		in := Input{ID: c.id, Name: "Camera " + c.id, RTSPURL: c.url, Password: c.password}
		if c.password != nil {
			in.Username = "admin"
		}
		if _, err := e.s.Create(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cases {
		waitFor(t, 20*time.Second, c.id+" "+c.state, func() bool {
			st := e.status(t, c.id)
			return st.State == c.state && slices.Contains(c.reasons, st.Reason)
		})
	}
	if st := e.status(t, "h265"); st.LiveView || st.Codec != "H265" || st.FPS <= 0 {
		t.Fatalf("h265 status %+v", st)
	}
	if _, _, err := e.s.Watch(ctx, "h265"); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), ReasonCodec) {
		t.Fatalf("watching an H.265 camera: %v", err)
	}
	for _, id := range []string{"auth", "dead", "garbage", "stall", "giant", "audio"} {
		if !e.alarms.has("on camera_offline " + id) {
			t.Errorf("no offline alarm for %s: %v", id, e.alarms.log)
		}
	}
}

// TestSwitchOffCamera: switching a camera off shows at once and resolves
// its offline alarm; switching it on starts it over as unknown.
func TestSwitchOffCamera(t *testing.T) {
	removed := make(chan string, 1)
	e := newEnv(t, Config{OfflineAfter: time.Second, Timeout: time.Second, CheckInterval: time.Minute,
		OnRemoved: func(_ context.Context, id string) { removed <- id }})
	ctx := context.Background()
	if _, err := e.s.Create(ctx, Input{ID: "dead", Name: "Dead", RTSPURL: "rtsp://127.0.0.1:9/cam"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "offline", func() bool { return e.status(t, "dead").State == StateOffline })
	off := false
	if _, err := e.s.Update(ctx, Input{ID: "dead", Name: "Dead", RTSPURL: "rtsp://127.0.0.1:9/cam", Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	if st := e.status(t, "dead"); st.State != StateDisabled || !e.alarms.resolvedAfterRaise("camera_offline", "dead") {
		t.Fatalf("switched off: %+v, alarms %v", st, e.alarms.log)
	}
	on := true
	if _, err := e.s.Update(ctx, Input{ID: "dead", Name: "Dead", RTSPURL: "rtsp://127.0.0.1:9/cam", Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	if st := e.status(t, "dead"); st.State != StateUnknown {
		t.Fatalf("switched on: %+v", st)
	}
	waitFor(t, 15*time.Second, "offline again", func() bool { return e.status(t, "dead").State == StateOffline })

	// Removed: off the plan (OnRemoved), and its alarm resolved.
	if err := e.s.Delete(ctx, "dead"); err != nil {
		t.Fatal(err)
	}
	if got := <-removed; got != "dead" {
		t.Fatalf("OnRemoved(%q)", got)
	}
	if e.alarms.log[len(e.alarms.log)-1] != "off camera_tamper dead" || !e.alarms.resolvedAfterRaise("camera_offline", "dead") {
		t.Fatalf("alarms %v", e.alarms.log)
	}
	if _, err := e.s.Status("dead"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("status after delete: %v", err)
	}
}

// TestParameterSetsInjected: a camera that sends SPS and PPS only in its
// SDP (sprop-parameter-sets) is watched from a keyframe that carries
// them, so the viewer can decode its first picture.
func TestParameterSetsInjected(t *testing.T) {
	aus, _, _, err := cameratest.Clip()
	if err != nil {
		t.Fatal(err)
	}
	bare := make([]h264.AccessUnit, len(aus))
	for i, au := range aus {
		bare[i] = au
		bare[i].NALUs = slices.DeleteFunc(slices.Clone(au.NALUs), func(n []byte) bool {
			typ := h264.NALType(n)
			return typ == h264.NALSPS || typ == h264.NALPPS
		})
	}
	m, err := cameratest.ClipMount() // its SDP carries sprop-parameter-sets
	if err != nil {
		t.Fatal(err)
	}
	m.Source = func(ctx context.Context, write func(*rtp.Packet) error) error {
		return cameratest.PlayClip(ctx, bare, 15, write)
	}
	srv, err := rtsptest.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	srv.Handle("/cam", m)

	e := newEnv(t, Config{CheckInterval: time.Minute})
	if _, err := e.s.Create(context.Background(), Input{ID: "bare", Name: "Bare", RTSPURL: srv.URL("/cam")}); err != nil {
		t.Fatal(err)
	}
	v := watch(t, e, "bare")
	waitFor(t, 15*time.Second, "pictures", func() bool { return v.pictures.Load() >= 5 })
	if !v.keyFirst.Load() || !v.sizeOK.Load() {
		t.Fatalf("first picture a keyframe %v, with an SPS of 640x360 %v", v.keyFirst.Load(), v.sizeOK.Load())
	}
}
