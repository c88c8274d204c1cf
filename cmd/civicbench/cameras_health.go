package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"civic/building/cameras/rtsp/rtsptest"
)

// cameras-health: many cameras that nobody watches, each its own rtsptest
// mount playing the 640x360 clip only while a session plays it, added
// through the console; civicd samples each with its default
// check_interval (30 s) and sample_for (3 s). The window starts once
// every camera is online and lasts over two check cycles.

// healthTarget is issue 6's budget for a monitored camera with no
// viewers: under 0.5 % of one core.
const healthTarget = 0.005

// healthResult is part 2's measurement.
type healthResult struct {
	Cameras      int
	Clip         *camClip
	Create       time.Duration // creating them through the console
	Online       time.Duration // from the first create until all were online
	Window       time.Duration
	CPU          time.Duration
	Self, Others time.Duration
	PerSecond    []float64 // civicd's cores, each second of the window
	OthersSecond []float64 // other processes' cores, each second
	RSSIdle      int64     // before the cameras were added
	RSSBefore    int64
	RSSAfter     int64
	PeakRSS      int64
	Goroutines   [3]float64 // before the window, least and most during it
	PeakSessions int        // RTSP sessions playing at once, most seen
	States       map[string]int
	Samples      [2]int64 // sessions each camera opened in the window: fewest, most
	Warnings     int
	Notes        []string
}

// camerasHealth runs part 2 and prints its table.
func camerasHealth(ctx context.Context, cfg camConfig, w io.Writer) error {
	const part = "cameras-health"
	clip, err := loadClip(repoClip(), 15)
	if err != nil {
		return err
	}
	srv, err := rtsptest.Start("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer srv.Close()
	ids := make([]string, cfg.healthCameras)
	for i := range ids {
		ids[i] = fmt.Sprintf("cam%d", i+1)
		srv.Handle("/"+ids[i], newCamSource(clip, nil).mount())
	}
	d, err := camDaemon(ctx, cfg, part)
	if err != nil {
		return err
	}
	defer d.stop()
	defer saveCamLog(cfg, part, d)
	admin, err := camLogin(ctx, d, "admin", d.Password)
	if err != nil {
		return err
	}
	defer admin.close()
	r := &healthResult{Cameras: len(ids), Clip: clip}
	r.RSSIdle, _ = procRSS(d.PID())
	start := time.Now()
	if err := parallelCalls(ctx, d, admin.token, len(ids), func(i int) (string, map[string]any) {
		return "building.cameras.create", cameraParams(ids[i], srv.URL("/"+ids[i]))
	}); err != nil {
		return fmt.Errorf("create the cameras: %w", err)
	}
	r.Create = time.Since(start)
	if _, err := admin.waitOnline(ctx, ids, 2*time.Minute); err != nil {
		return err
	}
	r.Online = time.Since(start)
	cfg.Log.Info("cameras online", "n", len(ids), "after", r.Online.Round(time.Millisecond))

	before, err := admin.statuses(ctx)
	if err != nil {
		return err
	}
	if m, err := scrapeMetrics(ctx, d); err == nil {
		r.Goroutines = [3]float64{m["go_goroutines"], m["go_goroutines"], m["go_goroutines"]}
	} else {
		r.Notes = append(r.Notes, fmt.Sprintf("/metrics: %v", err))
	}
	r.RSSBefore, _ = procRSS(d.PID())
	if err := resetPeakRSS(d.PID()); err != nil {
		r.Notes = append(r.Notes, fmt.Sprintf("the peak RSS includes the set-up (resetting VmHWM failed: %v)", err))
	}

	// During the window: civicd's CPU each second, the RTSP sessions
	// playing at once (every 100 ms), and goroutines every 5 s.
	sctx, stopSampling := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wg.Go(func() {
		prev, _ := procCPU(d.PID())
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
			c, _ := procCPU(d.PID())
			mu.Lock()
			r.PerSecond = append(r.PerSecond, ticksToDuration(c-prev, cfg.Ticks).Seconds())
			mu.Unlock()
			prev = c
		}
	})
	wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
			mu.Lock()
			r.PeakSessions = max(r.PeakSessions, srv.Sessions())
			mu.Unlock()
		}
	})
	wg.Go(func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
			if m, err := scrapeMetrics(sctx, d); err == nil {
				g := m["go_goroutines"]
				mu.Lock()
				r.Goroutines[1], r.Goroutines[2] = min(r.Goroutines[1], g), max(r.Goroutines[2], g)
				mu.Unlock()
			}
		}
	})
	win := startWindow(cfg.Ticks, d.PID())
	err = sleep(ctx, cfg.healthWindow)
	cpu, self, others := win.end()
	stopSampling()
	wg.Wait()
	if err != nil {
		return err
	}
	r.Window = win.stopped.Sub(win.started)
	r.CPU, r.Self, r.Others, r.OthersSecond = cpu[0], self, others, win.perSecond
	r.RSSAfter, _ = procRSS(d.PID())
	r.PeakRSS, _ = procPeakRSS(d.PID())
	after, err := admin.statuses(ctx)
	if err != nil {
		return err
	}
	r.States = countStates(after)
	r.Samples = [2]int64{-1, 0}
	for _, id := range ids {
		n := after[id].Sessions - before[id].Sessions
		if r.Samples[0] < 0 || n < r.Samples[0] {
			r.Samples[0] = n
		}
		r.Samples[1] = max(r.Samples[1], n)
	}
	r.Warnings = camWarnings(d)
	writeHealthResult(w, r)
	return nil
}

// writeHealthResult prints part 2.
func writeHealthResult(w io.Writer, r *healthResult) {
	c := cores(r.CPU, r.Window)
	per := c / float64(r.Cameras)
	met := "**met**"
	if per >= healthTarget || r.States["online"] != r.Cameras {
		met = "**missed**"
	}
	peakAt, peak := busiestSecond(r.PerSecond)
	_, othersPeak := busiestSecond(r.OthersSecond)
	fmt.Fprintf(w, "### cameras-health: %d monitored cameras, no viewers\n\n", r.Cameras)
	fmt.Fprintf(w, "Each camera is its own rtsptest mount (`/cam1`..`/cam%d`, one server) playing `%s` (%dx%d, %d fps, a keyframe every %s, %s kbit/s) only while a session plays it, added with `building.cameras.create` by RTSP URL over 4 console sockets; civicd has its defaults, `cameras.check_interval` 30 s and `cameras.sample_for` 3 s. The window starts once every camera is online.\n\n",
		r.Cameras, r.Clip.Name, r.Clip.Width, r.Clip.Height, r.Clip.FPS, r.Clip.GOP, num(r.Clip.Kbps))
	rows := [][2]string{
		{"cameras created (console) / all online", fmt.Sprintf("%.2f s / %.1f s after the first create", r.Create.Seconds(), r.Online.Seconds())},
		{"window", fmt.Sprintf("%.1f s", r.Window.Seconds())},
		{"checks per camera in the window (RTSP sessions opened)", fmt.Sprintf("%d to %d", r.Samples[0], r.Samples[1])},
		{"RTSP sessions playing at once, most seen", fmt.Sprint(r.PeakSessions)},
		{"civicd CPU", fmt.Sprintf("%.2f s: **%.3f cores**; busiest second %.2f cores (second %d)", r.CPU.Seconds(), c, peak, peakAt)},
		{"civicd CPU per camera", fmt.Sprintf("**%.3f%% of one core** (target < %.1f%%: %s)", 100*per, 100*healthTarget, met)},
		{"civicd RSS", fmt.Sprintf("%s before the cameras were added; %s at the window's start, %s at its end, peak %s in it (%s per camera at the end, above the first figure)",
			mb(float64(r.RSSIdle)), mb(float64(r.RSSBefore)), mb(float64(r.RSSAfter)), mb(float64(r.PeakRSS)), kb(float64(r.RSSAfter-r.RSSIdle)/float64(r.Cameras)))},
		{"civicd goroutines (/metrics go_goroutines)", fmt.Sprintf("%.0f at the window's start; %.0f to %.0f during it (every 5 s)", r.Goroutines[0], r.Goroutines[1], r.Goroutines[2])},
		{"cameras at the end", statesText(r.States, r.Cameras)},
		{"bench process (rtsptest and its sources)", fmt.Sprintf("%.2f cores", cores(r.Self, r.Window))},
		{"other processes", fmt.Sprintf("%.2f cores; busiest second %.2f", cores(r.Others, r.Window), othersPeak)},
		{"civicd warnings or errors", fmt.Sprint(r.Warnings)},
	}
	fmt.Fprintln(w, "| measure | value |")
	fmt.Fprintln(w, "|---|---|")
	for _, row := range rows {
		fmt.Fprintf(w, "| %s | %s |\n", row[0], row[1])
	}
	fmt.Fprintln(w)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w)
	}
}

// statesText is "200 online of 200", with the other states when any.
func statesText(states map[string]int, total int) string {
	s := fmt.Sprintf("**%d online** of %d", states["online"], total)
	var others []string
	for k, n := range states {
		if k != "online" {
			others = append(others, fmt.Sprintf("%d %s", n, k))
		}
	}
	sort.Strings(others)
	if len(others) > 0 {
		s += " (" + strings.Join(others, ", ") + ")"
	}
	return s
}

func kb(b float64) string { return fmt.Sprintf("%.0f KB", b/1e3) }
