package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"civic/internal/cameratest"
)

// The Cameras page against the real daemon and a real RTSP camera (the
// GStreamer RTSP server of TESTING.md section 3), issue 6: a camera added
// by RTSP URL in the editor goes online with its measured figures, three
// browsers watch it live over one RTSP session, it goes offline with an
// alarm when the camera dies and back (the alarm resolved, live view
// resumed without a reload) when it returns; then the 4-camera grid and a
// door alarm with its camera, as screenshots.

// camStats makes the tab keep window.__camStats filled from
// civicCameraStats() (a Promise), so polls can read it synchronously.
const camStats = `(() => { if (!window.__camPoll) { window.__camPoll = setInterval(() =>
	window.civicCameraStats().then((s) => { window.__camStats = s; }), 200); } return true; })()`

// decoding is a poll expression: a viewer of camera has decoded more
// than n frames.
func decoding(camera string, n int) string {
	return fmt.Sprintf(`(window.__camStats || []).some((v) => v.camera === %q && v.framesDecoded > %d)`, camera, n)
}

// decodingAgain is a poll expression: camera's view (the same viewer as
// mark, or a new one) decoded 10 more frames since mark.
func decodingAgain(camera string, mark camMark) string {
	return fmt.Sprintf(`(window.__camStats || []).some((v) => v.camera === %q &&
		(v.viewer === %q ? v.framesDecoded > %d : v.framesDecoded > 10))`, camera, mark.Viewer, mark.Frames+10)
}

// camMark is a view's frame count at a moment.
type camMark struct {
	Viewer string
	Frames int
}

// camStatus is a camera's live state as building.cameras.list gives it.
type camStatus struct {
	ID, State, Reason, Codec string
	Width, Height, Viewers   int
	FPS                      float64
	Sessions                 int64
}

func (r *buildingRig) cameraStatus(t *testing.T, id string) camStatus {
	t.Helper()
	var res struct{ Status []camStatus }
	r.call(t, "building.cameras.list", nil, &res)
	for _, s := range res.Status {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no camera %q in %+v", id, res.Status)
	return camStatus{}
}

func TestCamerasInBrowser(t *testing.T) {
	cam := cameratest.Start(t, cameratest.Options{Mounts: 4})
	// Checks only at start (1h): during the test, sessions come only from
	// viewers, so their count shows that viewers share one.
	r := newBuildingRig(t, []rigDoor{{ID: "east", Name: "东门 East entrance", UnlockSeconds: 5, HeldOpenSeconds: 30}},
		"CIVIC_CAMERAS_OFFLINE_AFTER=3s", "CIVIC_CAMERAS_TIMEOUT=2s", "CIVIC_CAMERAS_CHECK_INTERVAL=1h", "CIVIC_CAMERAS_VIEWER_GRACE=2s")
	admin := newTab(t, r.browser, "admin")

	step(t, "the admin adds a camera by its RTSP URL, and it goes online", func(t *testing.T) {
		admin.login(t, r.d.URL+"/#/cameras", "admin", r.d.AdminPassword)
		admin.do(t, "fill in the editor",
			chromedp.Click(chromedp.CSS(`[data-testid=camera-new]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=camera-editor]`)),
			chromedp.Click(chromedp.CSS(`[data-testid=camera-mode-rtsp]`)),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=camera-id]`), "lobby"), // typed first: the name no longer suggests one
			chromedp.SendKeys(chromedp.CSS(`[data-testid=camera-name]`), "大厅 Lobby"),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=camera-rtsp]`), cam.URL("/cam")),
			chromedp.Click(chromedp.CSS(`[data-testid=camera-save]`)),
			chromedp.WaitNotPresent(chromedp.CSS(`[data-testid=camera-editor][open]`)),
		)
		admin.poll(t, "the camera online in the list", `!!document.querySelector('[data-testid=cameras-table] tr[data-camera=lobby][data-state=online]')`)
		st := r.cameraStatus(t, "lobby")
		if st.FPS < 13 || st.FPS > 17 || st.Width != 640 || st.Height != 360 || st.Codec != "H264" {
			t.Fatalf("status %+v; want about 15 fps at 640x360 H264", st)
		}
		t.Logf("camera online: %.1f fps, %dx%d %s", st.FPS, st.Width, st.Height, st.Codec)
	})

	// Tabs live as long as the test, not one step.
	viewers := []*tab{admin, newTab(t, r.browser, "guard1"), newTab(t, r.browser, "guard2")}
	alarms := newTab(t, r.browser, "alarms")
	step(t, "three browsers watch it live over one RTSP session", func(t *testing.T) {
		before := r.cameraStatus(t, "lobby").Sessions
		for _, v := range viewers[1:] {
			r.call(t, "users.create", map[string]any{"username": v.name, "role": "facilities", "password": "guard-password-" + v.name}, nil)
			v.login(t, r.d.URL+"/#/cameras/live", v.name, "guard-password-"+v.name)
		}
		admin.do(t, "open the live grid", chromedp.Navigate(r.d.URL+"/#/cameras/live"))
		for _, v := range viewers {
			evalAs[bool](t, v, camStats)
			v.poll(t, "frames decoded", decoding("lobby", 10))
		}
		st := r.cameraStatus(t, "lobby")
		if st.Viewers != 3 || st.Sessions-before > 1 {
			t.Fatalf("%d viewers and %d new RTSP sessions; want 3 viewers sharing at most one new session", st.Viewers, st.Sessions-before)
		}
	})

	alarmRow := `[data-testid=alarms-table] tr[data-kind=camera_offline]`
	marks := map[*tab]camMark{}
	step(t, "the camera dies: offline, with an alarm in the browser", func(t *testing.T) {
		alarms.login(t, r.d.URL+"/#/building/alarms", "admin", r.d.AdminPassword)
		for _, v := range viewers {
			marks[v] = evalAs[camMark](t, v, `(() => { const v = (window.__camStats || []).find((v) => v.camera === "lobby") || {};
				return {Viewer: v.viewer || "", Frames: v.framesDecoded || 0}; })()`)
		}
		start := time.Now()
		cam.Stop()
		alarms.poll(t, "the camera_offline alarm", fmt.Sprintf(`!!document.querySelector('%s')`, alarmRow))
		t.Logf("camera killed → alarm in the page: %s", time.Since(start).Round(time.Millisecond))
		admin.poll(t, "the tile offline", `!!document.querySelector('[data-testid=camera-tile][data-camera=lobby][data-state=offline]')`)
	})

	step(t, "it comes back: online, the alarm resolved, live view resumed without a reload", func(t *testing.T) {
		for _, v := range viewers {
			evalAs[bool](t, v, `(window.__e2eNoReload = true)`)
		}
		cam.Restart()
		alarms.poll(t, "the alarm resolved", fmt.Sprintf(`!document.querySelector('%s')`, alarmRow))
		for _, v := range viewers {
			v.poll(t, "frames again", decodingAgain("lobby", marks[v]))
			if !evalAs[bool](t, v, `window.__e2eNoReload === true`) {
				t.Fatalf("tab %s reloaded", v.name)
			}
		}
		if st := r.cameraStatus(t, "lobby"); st.State != "online" {
			t.Fatalf("status %+v", st)
		}
	})

	step(t, "screenshot: the 4-camera grid", func(t *testing.T) {
		names := []string{"东门 East gate", "车库 Garage ramp", "屋顶 Roof north"}
		for i, name := range names {
			r.call(t, "building.cameras.create", map[string]any{"camera": map[string]any{
				"id": fmt.Sprintf("cam%d", i+2), "name": name, "rtsp_url": cam.URL(fmt.Sprintf("/cam%d", i+2))}}, nil)
		}
		admin.do(t, "four tiles", chromedp.Click(chromedp.CSS(`[data-testid=grid-layout-4]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=camera-grid][data-layout="4"]`)))
		admin.poll(t, "four pickers with every camera", `document.querySelectorAll('[data-testid=tile-pick]').length === 4 &&
			[...document.querySelectorAll('[data-testid=tile-pick]')].every((s) => s.options.length >= 4)`)
		evalAs[bool](t, admin, `(() => { const ids = ["lobby", "cam2", "cam3", "cam4"];
			document.querySelectorAll('[data-testid=tile-pick]').forEach((s, i) => { s.value = ids[i]; s.dispatchEvent(new Event("change")); });
			return true; })()`)
		for _, id := range []string{"lobby", "cam2", "cam3", "cam4"} {
			admin.poll(t, id+" live in the grid", decoding(id, 5))
		}
		admin.shot(t, r.shots, "cameras-grid-4")
	})

	step(t, "screenshot: a door alarm with its camera live", func(t *testing.T) {
		var doors struct{ Doors []map[string]any }
		r.call(t, "building.doors.list", nil, &doors)
		for _, d := range doors.Doors {
			if d["id"] == "east" {
				d["cameras"] = []string{"lobby"}
				r.call(t, "building.doors.update", map[string]any{"door": d}, nil)
			}
		}
		r.sim.Do(t, "force east")
		alarms.poll(t, "the forced door's alarm", `!!document.querySelector('[data-testid=alarms-table] tr[data-kind=forced_open]')`)
		alarms.do(t, "select the alarm", chromedp.Click(chromedp.CSS(`[data-testid=alarms-table] tr[data-kind=forced_open]`)))
		evalAs[bool](t, alarms, camStats)
		alarms.poll(t, "the door's camera live beside the alarm", `!!document.querySelector('[data-testid=alarm-camera][data-camera=lobby]') && `+decoding("lobby", 5))
		alarms.shot(t, r.shots, "door-alarm-camera")
	})
	for _, v := range append(viewers, alarms) {
		v.checkProblems(t)
	}
}
