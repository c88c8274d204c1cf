package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"

	"civic/building/cameras/rtsp/rtsptest"
	"civic/conference/confclient"
)

// cameras-first-frame: the time from sending camera.watch to the first
// whole keyframe a new viewer gets, one viewer after another, cold (no
// RTSP session: civicd must open one, and the camera's next keyframe
// comes within a keyframe interval) and warm (another viewer already
// watches). civicd runs with a viewer grace of 1 s so that the session
// ends between cold runs, and a check interval of 1 h so that no health
// check opens one.

// ffRun is one viewer's start, each time measured from camera.watch sent.
type ffRun struct {
	Total       time.Duration // the first whole keyframe (Go) or the first decoded frame (Chromium)
	Offer       time.Duration // civicd's offer back
	Connected   time.Duration // the peer connection up (Go only)
	FirstPacket time.Duration // the first RTP packet
	// Chromium's packets received and PLIs sent by the first decoded
	// frame (a PLI says it got packets it could not decode).
	Packets, PLIs int
}

// secondKeyframe says whether the viewer's first picture was not the
// first keyframe civicd started it with: it got packets it could not
// use (Chromium asked for a keyframe; the Go viewer's first whole
// keyframe came over half a keyframe interval after its first packet).
func (r ffRun) secondKeyframe(gop time.Duration) bool {
	return r.PLIs > 0 || r.Total-r.FirstPacket > gop/2
}

// ffSet is the runs of one kind of viewer in one mode.
type ffSet struct {
	Who    string // "Go pion viewer" or "Chromium"
	Cold   bool
	Runs   []ffRun
	Failed []string
}

// camerasFirstFrame runs part 3 and prints its table.
func camerasFirstFrame(ctx context.Context, cfg camConfig, w io.Writer) error {
	const part = "cameras-first-frame"
	clip, err := loadClip(repoClip(), 15)
	if err != nil {
		return err
	}
	srv, err := rtsptest.Start("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer srv.Close()
	srv.Handle("/cam", newCamSource(clip, nil).mount())
	env := []string{"CIVIC_CAMERAS_VIEWER_GRACE=1s", "CIVIC_CAMERAS_CHECK_INTERVAL=1h"}
	var notes []string
	var page *watchPage
	if cfg.browserRuns > 0 {
		if cfg.chromium == "" {
			notes = append(notes, "no Chromium (-chromium), so no browser runs")
		} else {
			if page, err = startWatchPage(); err != nil {
				return err
			}
			defer page.close()
			env = append(env, "CIVIC_HTTP_ALLOWED_ORIGINS="+page.origin)
		}
	}
	cam, err := startOneCamera(ctx, cfg, part, "ff", srv.URL("/cam"), env...)
	if err != nil {
		return err
	}
	defer cam.stop(cfg, part)
	d, user, pw := cam.d, cam.user, cam.pw
	dial := func() (*confclient.Client, string, error) {
		token, err := confclient.Login(ctx, d.URL, user, pw, confclient.Options{TLS: d.TLS})
		if err != nil {
			return nil, "", err
		}
		cl, err := confclient.Dial(ctx, d.URL, token, confclient.Options{TLS: d.TLS})
		return cl, token, err
	}
	cl, _, err := dial()
	if err != nil {
		return err
	}
	defer cl.Close()
	api, err := camAPI(cfg.Verbose)
	if err != nil {
		return err
	}
	var browser *watchBrowser
	if page != nil {
		_, token, err := dial()
		if err != nil {
			return err
		}
		if browser, err = startWatchBrowser(ctx, cfg, page, d, token); err != nil {
			return err
		}
		defer browser.close()
	}

	var sets []*ffSet
	for _, cold := range []bool{true, false} {
		var holder *camViewer
		if !cold {
			// Another viewer keeps the session up.
			hc, _, err := dial()
			if err != nil {
				return err
			}
			defer hc.Close()
			if holder, err = watchCamera(ctx, api, hc, "ff", -1, nil); err != nil {
				return err
			}
			if err := holder.waitKeyframe(ctx, 15*time.Second); err != nil {
				return err
			}
		}
		set := &ffSet{Who: "Go pion viewer", Cold: cold}
		for i := range cfg.firstRuns {
			if err := settle(ctx, srv, cold, clip.GOP); err != nil {
				return err
			}
			run, err := goFirstFrame(ctx, api, cl, i)
			if err != nil {
				set.Failed = append(set.Failed, err.Error())
				continue
			}
			cfg.Log.Info("first frame", "viewer", set.Who, "cold", cold, "total", run.Total, "offer", run.Offer, "connected", run.Connected, "packet", run.FirstPacket)
			set.Runs = append(set.Runs, run)
		}
		sets = append(sets, set)
		if browser != nil {
			set := &ffSet{Who: "Chromium", Cold: cold}
			for range cfg.browserRuns {
				if err := settle(ctx, srv, cold, clip.GOP); err != nil {
					return err
				}
				run, err := browser.watchOnce(ctx, "ff")
				if err != nil {
					set.Failed = append(set.Failed, err.Error())
					continue
				}
				cfg.Log.Info("first frame", "viewer", set.Who, "cold", cold, "total", run.Total, "offer", run.Offer, "connected", run.Connected, "packet", run.FirstPacket, "packets", run.Packets, "plis", run.PLIs)
				set.Runs = append(set.Runs, run)
			}
			sets = append(sets, set)
		}
		if holder != nil {
			holder.close(ctx)
		}
		cfg.Log.Info("first-frame runs done", "cold", cold)
	}
	warnings := camWarnings(d)
	chromium := ""
	if browser != nil {
		chromium = firstLine(cfg.chromium, "--version")
	}
	writeFirstFrameResult(w, clip, sets, chromium, warnings, notes)
	return nil
}

// settle waits, before a cold run, until the camera's RTSP session has
// been closed for 300 ms; then, for any run, a random part of the
// keyframe interval gop, so that camera.watch falls anywhere in it (the
// last run ended at a keyframe).
func settle(ctx context.Context, srv *rtsptest.Server, cold bool, gop time.Duration) error {
	if !cold {
		return sleep(ctx, rand.N(gop))
	}
	deadline := time.Now().Add(20 * time.Second)
	var since time.Time
	for {
		if srv.Sessions() == 0 {
			if since.IsZero() {
				since = time.Now()
			} else if time.Since(since) >= 300*time.Millisecond {
				return sleep(ctx, rand.N(gop))
			}
		} else {
			since = time.Time{}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the camera's RTSP session was still up 20 s after the last viewer left (%d sessions)", srv.Sessions())
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil { // polling rtsptest's session count
			return err
		}
	}
}

// goFirstFrame starts one Go viewer and times it to its first whole
// keyframe.
func goFirstFrame(ctx context.Context, api *webrtc.API, cl *confclient.Client, i int) (ffRun, error) {
	v, err := watchCamera(ctx, api, cl, "ff", i, nil)
	if err != nil {
		return ffRun{}, err
	}
	defer v.close(ctx)
	if err := v.waitKeyframe(ctx, 10*time.Second); err != nil {
		return ffRun{}, err
	}
	t := v.times()
	since := func(at time.Time) time.Duration {
		if at.IsZero() {
			return 0
		}
		return at.Sub(t.Watch)
	}
	return ffRun{Total: since(t.FirstKey), Offer: since(t.Offer), Connected: since(t.Connected), FirstPacket: since(t.FirstPacket)}, nil
}

// writeFirstFrameResult prints part 3.
func writeFirstFrameResult(w io.Writer, clip *camClip, sets []*ffSet, chromium string, warnings int, notes []string) {
	target := clip.GOP + time.Second
	fmt.Fprintf(w, "### cameras-first-frame: camera.watch to the first picture\n\n")
	fmt.Fprintf(w, "One camera playing `%s` (%dx%d, %d fps, **a keyframe every %s**) from where a free-running encoder would be, so a new RTSP session starts mid-GOP; civicd runs with `CIVIC_CAMERAS_VIEWER_GRACE=1s` and `CIVIC_CAMERAS_CHECK_INTERVAL=1h` (no health check opens a session between runs). Viewers start one after another, each a new peer connection on a console socket that is already open, at a random point of the camera's keyframe interval: **cold**, when the camera's RTSP session has been closed for 300 ms (civicd must open it); **warm**, while another viewer watches. The time runs from sending `camera.watch` to the first whole keyframe the Go viewer reassembled, or to `framesDecoded > 0` in Chromium's `getStats()` (polled every 10 ms)",
		clip.Name, clip.Width, clip.Height, clip.FPS, clip.GOP)
	if chromium != "" {
		fmt.Fprintf(w, "; %s, headless, on a page served by the bench at its own 127.0.0.1 origin (allowed with `CIVIC_HTTP_ALLOWED_ORIGINS`), with the websocket opened and authenticated with a token before the runs; like the console's `camera-rtc.js` it answers at once and trickles its candidates with `camera.candidate`, but only 127.0.0.1 ones", chromium)
	}
	fmt.Fprintf(w, ". Target: under 1 s plus the keyframe interval, %s.\n\n", dur(target))
	fmt.Fprintln(w, "| viewer | RTSP session at camera.watch | runs | first picture p50 / p95 / max | offer back p50 | connected p50 / max | first packet p50 | first picture was a later keyframe | target p95 < "+dur(target)+" |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, s := range sets {
		var total, offer, conn, pkt []time.Duration
		later := 0
		for _, r := range s.Runs {
			if r.secondKeyframe(clip.GOP) {
				later++
			}
			total = append(total, r.Total)
			offer = append(offer, r.Offer)
			if r.Connected > 0 {
				conn = append(conn, r.Connected)
			}
			if r.FirstPacket > 0 {
				pkt = append(pkt, r.FirstPacket)
			}
		}
		st := summarize(total)
		mode := "warm (another viewer watches)"
		if s.Cold {
			mode = "cold (none)"
		}
		runs := fmt.Sprint(len(s.Runs))
		if len(s.Failed) > 0 {
			runs += fmt.Sprintf(" (**%d failed**)", len(s.Failed))
		}
		met := "met"
		if st.N == 0 || st.P95 >= target || len(s.Failed) > 0 {
			met = "**missed**"
		}
		connText := "-"
		if len(conn) > 0 {
			cs := summarize(conn)
			connText = dur(cs.P50) + " / " + dur(cs.Max)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s / %s / %s | %s | %s | %s | %d of %d | %s |\n", s.Who, mode, runs, dur(st.P50), dur(st.P95), dur(st.Max),
			dur(summarize(offer).P50), connText, durOrDash(pkt), later, len(s.Runs), met)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "\"First picture was a later keyframe\": the viewer got packets it could not use before its first picture (Chromium sent PLIs; the Go viewer's first whole keyframe came more than %s after its first packet), so it waited for the camera's next keyframe.\n\n", dur(clip.GOP/2))
	for _, s := range sets {
		for _, f := range s.Failed {
			notes = append(notes, fmt.Sprintf("%s failed: %s", s.Who, f))
		}
	}
	notes = append(notes, fmt.Sprintf("civicd logged %d warnings or errors", warnings))
	for _, n := range notes {
		fmt.Fprintf(w, "- %s\n", strings.TrimSpace(n))
	}
	fmt.Fprintln(w)
}

// durOrDash is the median of samples, or "-" when there are none.
func durOrDash(samples []time.Duration) string {
	if len(samples) == 0 {
		return "-"
	}
	return dur(summarize(samples).P50)
}
