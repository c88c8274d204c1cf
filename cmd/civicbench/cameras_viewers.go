package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"civic/building/cameras/rtsp/rtsptest"
	"civic/conference/confclient"
)

// cameras-viewers: one camera streaming a 2 Mbit/s 1280x720 clip, added
// by RTSP URL, watched by 0, 1 and then all the viewers, each on its own
// console session. civicd runs with a long viewer grace, so that its one
// RTSP session stays up when the first viewer leaves: the 0-viewer
// phase is the stream alone (RTSP in, pictures reassembled, no WebRTC).

// viewersGrace is civicd's cameras.viewer_grace in this part: longer
// than the part, so the stream never stops.
const viewersGrace = "10m"

// camPhase is one window of cameras-viewers.
type camPhase struct {
	Viewers    int
	Window     time.Duration
	CPU        time.Duration // civicd's
	Self       time.Duration // this process's (the camera and every viewer)
	Others     time.Duration // every other process's
	PerSecond  []float64     // other processes' cores, each second
	RSS        int64
	SourcePics int // pictures the camera sent in the window
	Counts     []viewerCounts
	Status     camStatus // civicd's view of the camera at the window's end
}

func (p camPhase) cores() float64 { return cores(p.CPU, p.Window) }

// camerasViewers runs part 1 and prints its tables.
func camerasViewers(ctx context.Context, cfg camConfig, w io.Writer) error {
	const part = "cameras-viewers"
	clip, err := makeHDClip(ctx, cfg.ffmpeg, cfg.Dir)
	if err != nil {
		return err
	}
	keep := clip.FPS * int(cfg.window/time.Second+60)
	log := newStampLog(keep)
	srv, err := rtsptest.Start("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer srv.Close()
	srv.Handle("/cam", newCamSource(clip, log).mount())

	cam, err := startOneCamera(ctx, cfg, part, "hd", srv.URL("/cam"), "CIVIC_CAMERAS_VIEWER_GRACE="+viewersGrace)
	if err != nil {
		return err
	}
	defer cam.stop(cfg, part)
	d, admin, user, pw := cam.d, cam.admin, cam.user, cam.pw
	// Every viewer signs in and opens its socket before the first
	// window, so that the windows differ only by the live views.
	clients := make([]*confclient.Client, cfg.viewers)
	for i := range clients {
		token, err := confclient.Login(ctx, d.URL, user, pw, confclient.Options{TLS: d.TLS})
		if err != nil {
			return err
		}
		if clients[i], err = confclient.Dial(ctx, d.URL, token, confclient.Options{TLS: d.TLS}); err != nil {
			return err
		}
		defer clients[i].Close()
	}
	api, err := camAPI(cfg.Verbose)
	if err != nil {
		return err
	}
	var viewers []*camViewer
	defer func() {
		for _, v := range viewers {
			v.close(context.Background())
		}
	}()
	join := func(from, to int) error {
		var mu sync.Mutex
		var first error
		var wg sync.WaitGroup
		sem := make(chan struct{}, 4)
		for i := from; i < to; i++ {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				v, err := watchCamera(ctx, api, clients[i], "hd", i, log)
				if err == nil {
					mu.Lock()
					viewers = append(viewers, v)
					mu.Unlock()
					err = v.waitKeyframe(ctx, 15*time.Second)
				}
				if err != nil {
					mu.Lock()
					first = cmpErr(first, fmt.Errorf("viewer %d: %w", i, err))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return first
	}

	// The first viewer starts the session and leaves; the grace keeps it.
	if err := join(0, 1); err != nil {
		return err
	}
	viewers[0].close(ctx)
	viewers = viewers[:0]
	var phases []camPhase
	for _, n := range []int{0, 1, cfg.viewers} {
		if n > len(viewers) {
			if err := join(len(viewers), n); err != nil {
				return err
			}
		}
		if err := sleep(ctx, cfg.warmup); err != nil {
			return err
		}
		p, err := measureViewers(ctx, cfg, d, admin, log, viewers)
		if err != nil {
			return err
		}
		if p.Status.Viewers != n || !p.Status.Streaming || srv.Sessions() != 1 {
			return fmt.Errorf("%d viewers: civicd shows %d viewers, streaming %v; rtsptest has %d sessions; want %d, true, 1",
				n, p.Status.Viewers, p.Status.Streaming, srv.Sessions(), n)
		}
		phases = append(phases, p)
		cfg.Log.Info("phase measured", "viewers", n, "civicd cores", fmt.Sprintf("%.3f", p.cores()))
	}
	warnings := camWarnings(d)
	writeViewersResult(w, clip, phases, warnings, srv.URL("/cam"))
	return nil
}

// cmpErr keeps the first error.
func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// measureViewers measures one window with the viewers there are.
func measureViewers(ctx context.Context, cfg camConfig, d *daemon, admin *camAdmin, log *stampLog, viewers []*camViewer) (camPhase, error) {
	p := camPhase{Viewers: len(viewers)}
	from := time.Now()
	for _, v := range viewers {
		v.measure(camWindow{From: from})
	}
	win := startWindow(cfg.Ticks, d.PID())
	if err := sleep(ctx, cfg.window); err != nil {
		return p, err
	}
	cpu, self, others := win.end()
	cw := camWindow{From: from, To: win.stopped}
	for _, v := range viewers {
		v.endWindow(cw.To)
	}
	p.Window = win.stopped.Sub(win.started)
	p.CPU, p.Self, p.Others, p.PerSecond = cpu[0], self, others, win.perSecond
	p.RSS, _ = procRSS(d.PID())
	// The window's last pictures are on their way.
	if err := sleep(ctx, time.Second); err != nil {
		return p, err
	}
	p.SourcePics = log.count(cw)
	for _, v := range viewers {
		p.Counts = append(p.Counts, v.counts())
	}
	st, err := admin.statuses(ctx)
	if err != nil {
		return p, err
	}
	p.Status = st["hd"]
	return p, nil
}

// writeViewersResult prints part 1.
func writeViewersResult(w io.Writer, clip *camClip, phases []camPhase, warnings int, url string) {
	last := phases[len(phases)-1]
	fmt.Fprintf(w, "### cameras-viewers: one %dx%d %d fps camera at %s kbit/s to %d live viewers\n\n", clip.Width, clip.Height, clip.FPS, num(clip.Kbps), last.Viewers)
	fmt.Fprintf(w, "The camera: `ffmpeg %s` (made at bench time; %d pictures, profile-level-id %s, a keyframe every %s, %s kbit/s over the loop), played in a loop from where a free-running encoder would be, packetised at 1,400 bytes, at %s over RTSP/TCP; added with `building.cameras.create` by that URL. Each viewer is a pion peer on its own console session (a facilities user), answering `camera.watch`'s offer. civicd runs with `CIVIC_CAMERAS_VIEWER_GRACE=%s`, so that its one RTSP session stays up after the first viewer leaves: the 0-viewer window is the stream alone.\n\n",
		strings.Join(hdClipArgs("out.h264"), " "), len(clip.AUs), clip.Profile, clip.GOP, num(clip.Kbps), url, viewersGrace)
	base := phases[0]
	fmt.Fprintln(w, "| viewers | window | civicd cores | civicd cores per viewer, above 0 viewers | civicd RSS | received by all viewers | bench process cores (camera and viewers) | other processes, cores (busiest second) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, p := range phases {
		per := "-"
		if p.Viewers > 0 {
			per = fmt.Sprintf("%.4f (%.2f%% of a core)", (p.cores()-base.cores())/float64(p.Viewers), 100*(p.cores()-base.cores())/float64(p.Viewers))
		}
		bytes := 0
		for _, c := range p.Counts {
			bytes += c.Bytes
		}
		_, busiest := busiestSecond(p.PerSecond)
		fmt.Fprintf(w, "| %d | %.1f s | %.3f | %s | %s | %.1f Mbit/s | %.2f | %.2f (%.2f) |\n",
			p.Viewers, p.Window.Seconds(), p.cores(), per, mb(float64(p.RSS)), float64(bytes)*8/1e6/p.Window.Seconds(),
			cores(p.Self, p.Window), cores(p.Others, p.Window), busiest)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| viewers | pictures the camera sent | per viewer: packets/s | pictures/s (min-max) | keyframes | packets lost | fell behind | added latency p50 / p95 / p99 / max | from the picture's last packet p50 / p99 |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, p := range phases {
		if p.Viewers == 0 {
			continue
		}
		secs := p.Window.Seconds()
		var lat, latLast []time.Duration
		pkts, keys, pics := 0, 0, 0
		minPics, maxPics := -1, 0
		var lost uint64
		var fell []string
		for i, c := range p.Counts {
			lat = append(lat, c.Lat...)
			latLast = append(latLast, c.LatLast...)
			pkts += c.Pkts
			keys += c.Keys
			pics += c.Pics
			lost += c.Lost + c.Broken
			if minPics < 0 || c.Pics < minPics {
				minPics = c.Pics
			}
			maxPics = max(maxPics, c.Pics)
			if behind(c.Pics, p.SourcePics, c.Lost+c.Broken) {
				fell = append(fell, fmt.Sprintf("#%d (%d pictures, %d lost)", i, c.Pics, c.Lost+c.Broken))
			}
		}
		n := float64(len(p.Counts))
		s, sl := summarize(lat), summarize(latLast)
		fellText := "none"
		if len(fell) > 0 {
			fellText = strings.Join(fell, ", ")
		}
		fmt.Fprintf(w, "| %d | %s (%.1f/s) | %.0f | %.1f (%.1f-%.1f) | %.1f | %d | %s | %s / %s / %s / %s (%s pictures) | %s / %s |\n",
			p.Viewers, num(p.SourcePics), float64(p.SourcePics)/secs, float64(pkts)/n/secs, float64(pics)/n/secs,
			float64(minPics)/secs, float64(maxPics)/secs, float64(keys)/n, lost, fellText,
			dur(s.P50), dur(s.P95), dur(s.P99), dur(s.Max), num(s.N), dur(sl.P50), dur(sl.P99))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Added latency is, for each picture and viewer, the arrival of the picture's first packet at the viewer (after pion's SRTP and interceptors, in this process) minus the moment the camera wrote the picture's first packet to its RTSP connection, matched by RTP timestamp (civicd keeps the camera's timestamps and rewrites SSRC and sequence numbers); pictures are counted when their first packet was sent in the window. civicd forwards a picture only once it has all of it, so the second figure, from the camera's last packet of the picture, is civicd's own delay. A viewer fell behind when it reassembled fewer than 95%% of the pictures sent, or lost packets. civicd logged %d warnings or errors.\n\n", warnings)
}
