package onvif_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"civic/building/cameras/onvif"
	"civic/building/cameras/onvif/onviftest"
)

const (
	user     = "admin"
	password = "Pa55-word-not-in-logs"
)

// startCamera starts a test camera with the test account.
func startCamera(t *testing.T, c onviftest.Camera) *onviftest.Server {
	t.Helper()
	if c.User == "" {
		c.User, c.Password = user, password
	}
	srv, err := onviftest.Start(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// newClient returns a client of srv with its own transport, closed at the
// end of the test so no connection outlives it.
func newClient(t *testing.T, srv *onviftest.Server, pass string, o onvif.Options) *onvif.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	o.HTTPClient = &http.Client{Transport: tr}
	return onvif.NewClient(srv.URL(), user, pass, o)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestProbe(t *testing.T) {
	srv := startCamera(t, onviftest.Camera{})
	c := newClient(t, srv, password, onvif.Options{})
	p, err := c.Probe(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	wantInfo := onvif.DeviceInfo{Manufacturer: "Civic Test Cameras", Model: "OT-2146", FirmwareVersion: "V5.7.3 build 240101",
		SerialNumber: "OT2146-20260101-0001", HardwareID: "88"}
	if p.Info != wantInfo {
		t.Errorf("info %+v, want %+v", p.Info, wantInfo)
	}
	base := "http://" + srv.Addr()
	wantSvc := onvif.Services{Device: base + "/onvif/device_service", Media: base + "/onvif/media_service",
		Media2: base + "/onvif/media2_service", Events: base + "/onvif/event_service", PTZ: base + "/onvif/ptz_service",
		Imaging: base + "/onvif/imaging_service", PullPoint: true, WSPullPoint: false, Source: "GetServices"}
	if p.Services != wantSvc {
		t.Errorf("services\n got %+v\nwant %+v", p.Services, wantSvc)
	}
	wantProfiles := []onvif.ProfileWithURIs{
		{Profile: onvif.Profile{Token: "Profile_1", Name: "mainStream", Encoding: "H265", Width: 1920, Height: 1080, FPS: 25, BitrateKbps: 4096},
			StreamURI: "rtsp://127.0.0.1:554/Streaming/Channels/Profile_1", SnapshotURI: base + "/onvif/snapshot?profile=Profile_1"},
		{Profile: onvif.Profile{Token: "Profile_2", Name: "subStream", Encoding: "H264", Width: 640, Height: 360, FPS: 15, BitrateKbps: 512},
			StreamURI: "rtsp://127.0.0.1:554/Streaming/Channels/Profile_2", SnapshotURI: base + "/onvif/snapshot?profile=Profile_2"},
	}
	if !reflect.DeepEqual(p.Profiles, wantProfiles) {
		t.Errorf("profiles\n got %+v\nwant %+v", p.Profiles, wantProfiles)
	}
	if p.ClockOffset < -2*time.Second || p.ClockOffset > 2*time.Second {
		t.Errorf("clock offset %v with a camera on our clock, want about 0", p.ClockOffset)
	}
	if len(p.Warnings) != 0 {
		t.Errorf("warnings: %q", p.Warnings)
	}
	wantCalls := []string{"GetSystemDateAndTime", "GetDeviceInformation", "GetServices", "GetProfiles",
		"GetStreamUri", "GetSnapshotUri", "GetStreamUri", "GetSnapshotUri"}
	if got := srv.Calls(); !reflect.DeepEqual(got, wantCalls) {
		t.Errorf("camera saw %q, want %q", got, wantCalls)
	}
}

// An old camera: no GetServices, no Media2. The client falls back to
// GetCapabilities and Media ver10.
func TestProbeOldCamera(t *testing.T) {
	srv := startCamera(t, onviftest.Camera{NoGetServices: true, NoMedia2: true})
	c := newClient(t, srv, password, onvif.Options{})
	p, err := c.Probe(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if p.Services.Source != "GetCapabilities" || p.Services.Media2 != "" || p.Services.Media == "" || !p.Services.PullPoint {
		t.Errorf("services %+v, want them from GetCapabilities without Media2", p.Services)
	}
	if len(p.Profiles) != 2 || p.Profiles[0].Width != 1920 || p.Profiles[1].StreamURI == "" || p.Profiles[1].SnapshotURI == "" {
		t.Errorf("profiles %+v", p.Profiles)
	}
	calls := strings.Join(srv.Calls(), " ")
	if !strings.Contains(calls, "GetServices GetCapabilities") {
		t.Errorf("camera saw %s, want GetServices then GetCapabilities", calls)
	}
}

// A camera that lists Media2 but doesn't serve it: the client uses
// Media ver10 from then on.
func TestProbeBrokenMedia2(t *testing.T) {
	srv := startCamera(t, onviftest.Camera{BrokenMedia2: true})
	c := newClient(t, srv, password, onvif.Options{})
	p, err := c.Probe(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if p.Services.Media2 == "" || len(p.Profiles) != 2 || p.Profiles[0].StreamURI == "" || len(p.Warnings) != 0 {
		t.Errorf("probe %+v", p)
	}
	// The camera logs only requests that reached a service: the Media2
	// GetProfiles got a 404 and every later media call went to ver10.
	want := []string{"GetSystemDateAndTime", "GetDeviceInformation", "GetServices", "GetProfiles",
		"GetStreamUri", "GetSnapshotUri", "GetStreamUri", "GetSnapshotUri"}
	if got := srv.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("camera saw %q, want %q", got, want)
	}
}

// A camera behind NAT reports addresses the caller can't reach (here
// 127.0.0.2, where nothing listens): the client keeps to the device URL's
// host.
func TestProbeRebasesAddresses(t *testing.T) {
	srv := startCamera(t, onviftest.Camera{AdvertiseHost: "127.0.0.2:1", RefParams: true, Events: []onviftest.Event{motion(true)}})
	c := newClient(t, srv, password, onvif.Options{})
	ctx := ctxT(t)
	p, err := c.Probe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.Services.Media2, "http://"+srv.Addr()+"/") {
		t.Errorf("media2 %q not rebased onto %s", p.Services.Media2, srv.Addr())
	}
	pp, err := c.CreatePullPoint(ctx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := pp.Pull(ctx, time.Second, 10)
	if err != nil || len(evs) != 1 {
		t.Fatalf("pull: %v, %v; want one event through the rebased, reference-parameter subscription", evs, err)
	}
	if err := pp.Unsubscribe(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestWrongPassword(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			srv := startCamera(t, onviftest.Camera{AuthFailStatus: status})
			c := newClient(t, srv, "wrong-"+password, onvif.Options{})
			_, err := c.Probe(ctxT(t))
			if !errors.Is(err, onvif.ErrAuth) {
				t.Fatalf("error %v, want ErrAuth", err)
			}
			var f *onvif.Fault
			if !errors.As(err, &f) || f.Subcode != "NotAuthorized" {
				t.Errorf("error %v does not carry the camera's NotAuthorized fault", err)
			}
			msg := err.Error()
			for _, want := range []string{"auth failed", `refused user "admin"`, "Sender not Authorized"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
			if strings.Contains(msg, password) {
				t.Errorf("error %q shows the password", msg)
			}
			if got := srv.AuthFailures(); len(got) == 0 || !strings.Contains(got[0], "wrong digest") {
				t.Errorf("camera refusals %q, want a wrong digest", got)
			}
		})
	}
}

func TestClockSkew(t *testing.T) {
	for _, skew := range []time.Duration{3 * time.Hour, -3 * time.Hour, 10 * time.Minute} {
		t.Run(skew.String(), func(t *testing.T) {
			srv := startCamera(t, onviftest.Camera{ClockSkew: skew})
			ctx := ctxT(t)

			// Without correction the digest is refused, for its time.
			raw := newClient(t, srv, password, onvif.Options{NoClockSync: true})
			if _, err := raw.DeviceInformation(ctx); !errors.Is(err, onvif.ErrAuth) {
				t.Fatalf("uncorrected client: error %v, want ErrAuth", err)
			}
			if got := srv.AuthFailures(); len(got) != 1 || !strings.Contains(got[0], "from the camera's clock") {
				t.Fatalf("camera refusals %q, want one for the clock", got)
			}

			c := newClient(t, srv, password, onvif.Options{})
			info, err := c.DeviceInformation(ctx) // syncs on first use
			if err != nil || info.Model == "" {
				t.Fatalf("corrected client: %+v, %v", info, err)
			}
			off, ok := c.ClockOffset()
			if !ok || off < skew-2*time.Second || off > skew+2*time.Second {
				t.Errorf("measured offset %v (%v), want %v ± 2 s", off, ok, skew)
			}
			p, err := c.Probe(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if d := p.ClockOffset - skew; d < -2*time.Second || d > 2*time.Second {
				t.Errorf("Probe offset %v, want %v", p.ClockOffset, skew)
			}
		})
	}
}

// Calls racing on a fresh client measure the clock once.
func TestConcurrentFirstUse(t *testing.T) {
	srv := startCamera(t, onviftest.Camera{ClockSkew: time.Hour})
	c := newClient(t, srv, password, onvif.Options{})
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := c.DeviceInformation(ctx)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	n := 0
	for _, call := range srv.Calls() {
		if call == "GetSystemDateAndTime" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("GetSystemDateAndTime sent %d times, want once", n)
	}
}

// A camera that wants HTTP Digest on its SOAP endpoints as well.
func TestHTTPDigestSOAP(t *testing.T) {
	srv := startCamera(t, onviftest.Camera{HTTPDigest: true})
	ctx := ctxT(t)
	if _, err := newClient(t, srv, password, onvif.Options{}).Probe(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := newClient(t, srv, "wrong", onvif.Options{}).DeviceInformation(ctx)
	if !errors.Is(err, onvif.ErrAuth) || !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("wrong password: %v, want ErrAuth for HTTP 401", err)
	}
}

func TestFaultReason(t *testing.T) {
	srv := startCamera(t, onviftest.Camera{})
	c := newClient(t, srv, password, onvif.Options{})
	_, err := c.StreamURI(ctxT(t), "NoSuchProfile")
	var f *onvif.Fault
	if !errors.As(err, &f) || errors.Is(err, onvif.ErrAuth) {
		t.Fatalf("error %v, want a *Fault that is not ErrAuth", err)
	}
	if f.Subcode != "InvalidArgVal/NoProfile" {
		t.Errorf("subcode %q", f.Subcode)
	}
	want := "onvif GetStreamUri: SOAP fault Sender/InvalidArgVal/NoProfile: The requested profile token ProfileToken does not exist"
	if err.Error() != want {
		t.Errorf("error\n got %q\nwant %q", err, want)
	}
}

func TestSnapshot(t *testing.T) {
	for _, auth := range []string{"digest", "basic", "none"} {
		t.Run(auth, func(t *testing.T) {
			srv := startCamera(t, onviftest.Camera{SnapshotAuth: auth})
			c := newClient(t, srv, password, onvif.Options{})
			ctx := ctxT(t)
			uri, err := c.SnapshotURI(ctx, "Profile_1")
			if err != nil {
				t.Fatal(err)
			}
			img, ct, err := c.Snapshot(ctx, uri)
			if err != nil {
				t.Fatal(err)
			}
			if ct != "image/jpeg" || len(img) < 100 || !bytes.HasPrefix(img, []byte{0xff, 0xd8, 0xff}) {
				t.Errorf("got %d bytes of %s, want the JPEG", len(img), ct)
			}
			if auth == "none" {
				return
			}
			bad := newClient(t, srv, "wrong", onvif.Options{})
			if _, _, err := bad.Snapshot(ctx, uri); !errors.Is(err, onvif.ErrAuth) || strings.Contains(err.Error(), "wrong") {
				t.Errorf("wrong password: error %v, want ErrAuth without the password", err)
			}
		})
	}
}

// A snapshot URI on another host gets no credentials.
func TestSnapshotOtherHost(t *testing.T) {
	srv := startCamera(t, onviftest.Camera{})
	c := newClient(t, srv, password, onvif.Options{})
	uri := "http://localhost:" + srv.Addr()[strings.LastIndexByte(srv.Addr(), ':')+1:] + "/onvif/snapshot"
	_, _, err := c.Snapshot(ctxT(t), uri)
	if !errors.Is(err, onvif.ErrAuth) || !strings.Contains(err.Error(), "not the camera's host") {
		t.Errorf("error %v, want a refusal to send credentials to another host", err)
	}
}

func motion(on bool) onviftest.Event {
	v := "false"
	if on {
		v = "true"
	}
	return onviftest.Event{Topic: "tns1:RuleEngine/CellMotionDetector/Motion",
		Source: []onviftest.Item{{Name: "VideoSourceConfigurationToken", Value: "VideoSourceToken"}, {Name: "Rule", Value: "MyMotionDetectorRule"}},
		Data:   []onviftest.Item{{Name: "IsMotion", Value: v}}}
}

func TestPullPoint(t *testing.T) {
	canned := []onviftest.Event{
		motion(true),
		{Topic: "tns1:RuleEngine/TamperDetector/Tamper", Operation: "Initialized",
			Source: []onviftest.Item{{Name: "VideoSourceConfigurationToken", Value: "VideoSourceToken"}},
			Data:   []onviftest.Item{{Name: "IsTamper", Value: "true"}}},
		{Topic: "tns1:Device/Trigger/DigitalInput", Source: []onviftest.Item{{Name: "InputToken", Value: "DI_1"}},
			Data: []onviftest.Item{{Name: "LogicalState", Value: "false"}}},
	}
	for _, tc := range []struct {
		name string
		cam  onviftest.Camera
	}{
		{"by path", onviftest.Camera{Events: canned}},
		{"by reference parameter, skewed clock", onviftest.Camera{Events: canned, RefParams: true, ClockSkew: 3 * time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startCamera(t, tc.cam)
			c := newClient(t, srv, password, onvif.Options{})
			ctx := ctxT(t)
			start := time.Now()
			pp, err := c.CreatePullPoint(ctx, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if exp := time.Until(pp.Expires()); exp < 50*time.Second || exp > 70*time.Second {
				t.Errorf("expires in %v, want about a minute on our clock", exp)
			}
			evs, err := pp.Pull(ctx, 5*time.Second, 10)
			if err != nil {
				t.Fatal(err)
			}
			type brief struct {
				Topic, Kind, Op string
				Active          bool
			}
			var got []brief
			for _, e := range evs {
				got = append(got, brief{e.Topic, e.Kind, e.Operation, e.Active})
				// Times come back on our clock, whatever the camera's.
				if e.Time.Before(start.Add(-2*time.Second)) || e.Time.After(time.Now().Add(2*time.Second)) {
					t.Errorf("event time %v, want about now (%v)", e.Time, start)
				}
			}
			want := []brief{
				{"RuleEngine/CellMotionDetector/Motion", onvif.KindMotion, "Changed", true},
				{"RuleEngine/TamperDetector/Tamper", onvif.KindTamper, "Initialized", true},
				{"Device/Trigger/DigitalInput", onvif.KindOther, "Changed", false},
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("events\n got %+v\nwant %+v", got, want)
			}
			if evs[0].Source["Rule"] != "MyMotionDetectorRule" || evs[0].Data["IsMotion"] != "true" {
				t.Errorf("motion event source %v data %v", evs[0].Source, evs[0].Data)
			}

			// A published event reaches the next pull.
			srv.Publish(motion(false))
			evs, err = pp.Pull(ctx, 5*time.Second, 10)
			if err != nil || len(evs) != 1 || evs[0].Kind != onvif.KindMotion || evs[0].Active {
				t.Fatalf("after publish: %+v, %v; want one inactive motion event", evs, err)
			}
			// Nothing queued: the pull waits out its timeout and is empty.
			if evs, err = pp.Pull(ctx, time.Second, 10); err != nil || len(evs) != 0 {
				t.Fatalf("idle pull: %+v, %v; want nothing", evs, err)
			}

			if err := pp.Renew(ctx, 10*time.Minute); err != nil {
				t.Fatal(err)
			}
			if exp := time.Until(pp.Expires()); exp < 9*time.Minute || exp > 11*time.Minute {
				t.Errorf("after renew, expires in %v, want about 10 minutes", exp)
			}
			if err := pp.Unsubscribe(ctx); err != nil {
				t.Fatal(err)
			}
			if n := srv.Subscriptions(); n != 0 {
				t.Errorf("%d subscriptions left after Unsubscribe", n)
			}
			var f *onvif.Fault
			if _, err := pp.Pull(ctx, time.Second, 1); !errors.As(err, &f) {
				t.Errorf("pull after unsubscribe: %v, want a fault", err)
			}
		})
	}
}

func TestNoEventService(t *testing.T) {
	srv := startCamera(t, onviftest.Camera{NoEvents: true})
	c := newClient(t, srv, password, onvif.Options{})
	if _, err := c.CreatePullPoint(ctxT(t), time.Minute); err == nil || !strings.Contains(err.Error(), "no event service") {
		t.Errorf("error %v, want no event service", err)
	}
}

// Nothing secret reaches the logs or the errors, whether the password is
// right or wrong.
func TestNoSecretsInLogs(t *testing.T) {
	srv := startCamera(t, onviftest.Camera{ClockSkew: time.Hour})
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := ctxT(t)
	var errs []string
	for _, pass := range []string{password, "wrong-" + password} {
		c := newClient(t, srv, pass, onvif.Options{Logger: logger})
		if _, err := c.Probe(ctx); err != nil {
			errs = append(errs, err.Error())
		}
		if _, _, err := c.Snapshot(ctx, "http://"+srv.Addr()+"/onvif/snapshot?profile=Profile_1"); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) != 2 {
		t.Fatalf("errors %q, want the wrong password's two", errs)
	}
	if !strings.Contains(logs.String(), "GetProfiles") {
		t.Fatalf("the debug log shows no calls:\n%s", logs.String())
	}
	all := logs.String() + strings.Join(errs, "\n")
	for _, secret := range []string{password, "PasswordDigest", "Nonce", "Digest username", "Authorization"} {
		if strings.Contains(all, secret) {
			t.Errorf("logs or errors contain %q:\n%s", secret, all)
		}
	}
}

func TestBadDeviceURL(t *testing.T) {
	for _, u := range []string{"://x", "rtsp://cam/onvif", "http:///onvif/device_service", "http://user:hunter2@[::1"} {
		c := onvif.NewClient(u, user, password, onvif.Options{})
		_, err := c.DeviceInformation(context.Background())
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: error %v, want one without the password", u, err)
		}
	}
}
