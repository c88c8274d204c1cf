package cameras

import (
	"math"
	"testing"
	"time"
)

// feed gives m frames at fps for d, each of size bytes (in one packet),
// starting at t0; it returns the time after the last frame.
func feed(m *meter, t0 time.Time, fps float64, d time.Duration, size int, ts0 uint32) (time.Time, uint32) {
	step := time.Duration(float64(time.Second) / fps)
	ts := ts0
	t := t0
	for ; t.Sub(t0) < d; t = t.Add(step) {
		m.packet(t, ts, size)
		ts += uint32(90000 / fps)
	}
	return t, ts
}

func TestMeterRates(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	m := newMeter(5 * time.Second)
	end, ts := feed(m, t0, 15, 10*time.Second, 2500, 0) // 15 fps, 300 kbit/s
	fps, kbps := m.rates(end)
	if math.Abs(fps-15) > 0.5 || kbps < 280 || kbps > 320 {
		t.Fatalf("steady: %.2f fps, %d kbit/s; want 15 and 300", fps, kbps)
	}
	// Several packets of one picture are one frame.
	m2 := newMeter(5 * time.Second)
	for i := range 30 {
		at := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		for range 4 {
			m2.packet(at, uint32(i*9000), 100)
		}
	}
	if fps, _ := m2.rates(t0.Add(2900 * time.Millisecond)); math.Abs(fps-10) > 0.5 {
		t.Fatalf("4 packets a frame at 10 fps: %.2f fps", fps)
	}
	// A young stream is measured over its own span.
	m3 := newMeter(5 * time.Second)
	e3, _ := feed(m3, t0, 25, 2*time.Second, 100, 0)
	if fps, _ := m3.rates(e3); math.Abs(fps-25) > 1 {
		t.Fatalf("2 s of 25 fps: %.2f fps", fps)
	}
	// A stalled stream drops to nothing once its frames leave the window.
	if fps, kbps := m.rates(end.Add(6 * time.Second)); fps != 0 || kbps != 0 {
		t.Fatalf("after 6 s of silence: %.2f fps, %d kbit/s", fps, kbps)
	}
	// And a slower one reads slower.
	end2, _ := feed(m, end.Add(6*time.Second), 3, 10*time.Second, 2500, ts)
	if fps, _ := m.rates(end2); math.Abs(fps-3) > 0.3 {
		t.Fatalf("3 fps: %.2f", fps)
	}
}

func TestJudge(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	j := judge{offlineAfter: 10 * time.Second, minFPS: 5, keyframeTimeout: 10 * time.Second, checkKeyframes: true}
	healthy := func() (*meter, time.Time) {
		m := newMeter(5 * time.Second)
		end, _ := feed(m, t0, 15, 12*time.Second, 1000, 0)
		m.keyframe(end.Add(-time.Second))
		return m, end
	}
	m, now := healthy()
	tests := []struct {
		name       string
		m          *meter
		now        time.Time
		streaming  bool
		downSince  time.Time
		want, why  string
		whyFailing string
	}{
		{"flowing", m, now, true, time.Time{}, StateOnline, "", ""},
		{"failing briefly", m, now, true, now.Add(-3 * time.Second), "", "", ReasonUnreachable},
		{"failing long", m, now, false, now.Add(-10 * time.Second), StateOffline, ReasonUnreachable, ReasonUnreachable},
		{"between checks", m, now.Add(time.Minute), false, time.Time{}, "", "", ""},
		{"never seen", newMeter(5 * time.Second), now, true, time.Time{}, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := j.state(tt.now, tt.m, tt.streaming, tt.downSince, tt.whyFailing)
			if got != tt.want || why != tt.why {
				t.Fatalf("state %q (%q), want %q (%q)", got, why, tt.want, tt.why)
			}
		})
	}
	slow := newMeter(5 * time.Second)
	end, _ := feed(slow, t0, 2, 12*time.Second, 1000, 0)
	slow.keyframe(end)
	if got, why := j.state(end, slow, true, time.Time{}, ""); got != StateDegraded || why != ReasonLowFPS {
		t.Fatalf("2 fps: %q %q, want degraded, low fps", got, why)
	}
	nokey, _ := healthy()
	nokey.lastKeyframe = t0
	if got, why := j.state(now, nokey, true, time.Time{}, ""); got != StateDegraded || why != ReasonNoKeyframe {
		t.Fatalf("no keyframe for 12 s: %q %q", got, why)
	}
	j.checkKeyframes = false // H.265: keyframes unknown
	if got, _ := j.state(now, nokey, true, time.Time{}, ""); got != StateOnline {
		t.Fatalf("keyframes unknown: %q, want online", got)
	}
}

func TestDebouncer(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	d := debouncer{hold: 5 * time.Second, state: StateUnknown}
	steps := []struct {
		after       time.Duration
		state, why  string
		changed     bool
		settled     string
		settledWhy  string
		description string
	}{
		{0, StateOnline, "", true, StateOnline, "", "the first verdict settles at once"},
		{time.Second, StateDegraded, ReasonLowFPS, false, StateOnline, "", "degraded must last"},
		{3 * time.Second, StateOnline, "", false, StateOnline, "", "a blip back resets it"},
		{4 * time.Second, StateDegraded, ReasonLowFPS, false, StateOnline, "", "degraded again"},
		{8 * time.Second, StateDegraded, ReasonLowFPS, false, StateOnline, "", "4 s in: not yet"},
		{10 * time.Second, StateDegraded, ReasonNoKeyframe, true, StateDegraded, ReasonNoKeyframe, "6 s in: settled"},
		{11 * time.Second, "", "", false, StateDegraded, ReasonNoKeyframe, "no verdict keeps it"},
		{12 * time.Second, StateOffline, ReasonUnreachable, true, StateOffline, ReasonUnreachable, "offline at once"},
		{13 * time.Second, StateOffline, ReasonAuth, true, StateOffline, ReasonAuth, "a new reason is news"},
		{14 * time.Second, StateOnline, "", true, StateOnline, "", "back at once"},
	}
	for _, s := range steps {
		if got := d.offer(t0.Add(s.after), s.state, s.why); got != s.changed || d.state != s.settled || d.reason != s.settledWhy {
			t.Fatalf("%s: changed %v, state %q (%q); want %v, %q (%q)", s.description, got, d.state, d.reason, s.changed, s.settled, s.settledWhy)
		}
	}
}

func TestInputCheck(t *testing.T) {
	pw := "pw"
	tests := []struct {
		name string
		in   Input
		ok   bool
		url  string
		user string
	}{
		{"rtsp", Input{ID: "lobby-1", Name: "Lobby", RTSPURL: "rtsp://10.0.0.5:554/live"}, true, "rtsp://10.0.0.5:554/live", ""},
		{"credentials move out of the URL", Input{ID: "c2", Name: "Gate", RTSPURL: "rtsp://admin:s3cret@cam.local/h264"}, true, "rtsp://cam.local/h264", "admin"},
		{"onvif only", Input{ID: "c3", Name: "Hall", ONVIFURL: "http://10.0.0.9", Username: "u", Password: &pw}, true, "", "u"},
		{"bad id", Input{ID: "Lobby 1", Name: "x", RTSPURL: "rtsp://h/"}, false, "", ""},
		{"no name", Input{ID: "a", RTSPURL: "rtsp://h/"}, false, "", ""},
		{"http stream", Input{ID: "a", Name: "x", RTSPURL: "http://h/"}, false, "", ""},
		{"no host", Input{ID: "a", Name: "x", RTSPURL: "rtsp:///path"}, false, "", ""},
		{"nothing to reach", Input{ID: "a", Name: "x"}, false, "", ""},
		{"bad transport", Input{ID: "a", Name: "x", RTSPURL: "rtsp://h/", Transport: "sctp"}, false, "", ""},
		{"onvif with userinfo", Input{ID: "a", Name: "x", ONVIFURL: "http://u:p@h/"}, false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.in.check(Camera{})
			if (err == nil) != tt.ok {
				t.Fatalf("err %v, want ok=%v", err, tt.ok)
			}
			if !tt.ok {
				return
			}
			if c.RTSPURL != tt.url || c.Username != tt.user || !c.Enabled || c.Transport != "tcp" {
				t.Fatalf("camera %+v", c)
			}
			if tt.name == "credentials move out of the URL" && (c.Password != "s3cret" || !c.HasPassword) {
				t.Fatalf("password not kept: %+v", c)
			}
		})
	}
	// An update with no password keeps the old one.
	old := Camera{ID: "c2", Name: "Gate", RTSPURL: "rtsp://cam.local/h264", Username: "admin", Password: "s3cret", Enabled: false}
	c, err := Input{ID: "c2", Name: "Gate 2", RTSPURL: "rtsp://cam.local/h264", Username: "admin"}.check(old)
	if err != nil || c.Password != "s3cret" || c.Enabled {
		t.Fatalf("update: %+v %v", c, err)
	}
}
