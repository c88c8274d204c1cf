package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"civic/conference/confclient"
)

// The cameras bench (issue 6): building/cameras' live view and health
// checks against a fresh civicd per part, with the cameras served by
// rtsptest in this process and every viewer a pion peer (or, for the
// first-frame figure, Chromium too), all on 127.0.0.1. Cameras are added
// through the console websocket as an admin adds them, by RTSP URL.

// cameraParts are the cameras bench's parts, in the order they run.
var cameraParts = []struct{ Name, Title string }{
	{"cameras-viewers", "one 2 Mbit/s camera to 20 live viewers: CPU per viewer and added latency"},
	{"cameras-health", "200 monitored cameras with no viewers: CPU, memory and goroutines"},
	{"cameras-first-frame", "camera.watch to the first whole keyframe, cold and warm"},
}

// camerasOptions are the cameras bench's flags.
type camerasOptions struct {
	ffmpeg, chromium string
	viewers          int
	window, warmup   time.Duration
	healthCameras    int
	healthWindow     time.Duration
	firstRuns        int
	browserRuns      int
	partTimeout      time.Duration
}

// register adds the cameras bench's flags to fs.
func (o *camerasOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.ffmpeg, "ffmpeg", lookTool("ffmpeg"), "the ffmpeg binary, which makes cameras-viewers' 2 Mbit/s clip")
	fs.StringVar(&o.chromium, "chromium", lookTool("chromium", "chromium-browser"), "the Chromium binary for cameras-first-frame's browser runs; empty skips them")
	fs.IntVar(&o.viewers, "cameras-viewer-count", 20, "live viewers of the one camera in cameras-viewers (civicd's cameras.max_viewers is 20)")
	fs.DurationVar(&o.window, "cameras-window", 10*time.Second, "measurement window of each cameras-viewers phase (0, 1 and all viewers)")
	fs.DurationVar(&o.warmup, "cameras-warmup", 2*time.Second, "wait after the viewers have their first keyframe, before each window")
	fs.IntVar(&o.healthCameras, "cameras-health-cameras", 200, "monitored cameras in cameras-health")
	fs.DurationVar(&o.healthWindow, "cameras-health-window", 70*time.Second, "measurement window of cameras-health, once every camera is online (at least two 30 s check cycles)")
	fs.IntVar(&o.firstRuns, "cameras-first-runs", 20, "Go viewers started one after another in cameras-first-frame, cold and warm each")
	fs.IntVar(&o.browserRuns, "cameras-browser-runs", 10, "Chromium viewers in cameras-first-frame, cold and warm each; 0 skips the browser")
	fs.DurationVar(&o.partTimeout, "cameras-part-timeout", 8*time.Minute, "bound on each cameras part, start-up to tear-down")
}

// budget is about how long the parts take, for the whole run's bound
// when -timeout is not given.
func (o *camerasOptions) budget(parts []string) time.Duration {
	var d time.Duration
	for _, p := range parts {
		switch p {
		case "cameras-viewers":
			d += 3*(o.window+o.warmup) + time.Minute
		case "cameras-health":
			d += o.healthWindow + 90*time.Second
		case "cameras-first-frame":
			d += time.Duration(o.firstRuns+o.browserRuns)*7*time.Second + time.Minute
		}
	}
	return d
}

// pickCameras takes the cameras parts out of the -scenario list
// ("cameras" is all of them) and returns the rest of the list.
func pickCameras(names string) (rest string, parts []string) {
	return pickParts(names, "cameras", partNames(cameraParts))
}

// camConfig is what every cameras part runs with.
type camConfig struct {
	camerasOptions
	Civicd  string
	Dir     string
	Ticks   int64
	Verbose bool
	Log     *slog.Logger
}

// benchCameras runs the cameras parts and prints their tables.
func benchCameras(ctx context.Context, o camerasOptions, bin, dir string, ticks int64, verbose bool, parts []string, w io.Writer, log *slog.Logger) error {
	if o.viewers < 1 || o.healthCameras < 1 || o.firstRuns < 1 || o.browserRuns < 0 || o.window <= 0 {
		return errors.New("the -cameras-* counts and windows must be positive")
	}
	cfg := camConfig{camerasOptions: o, Civicd: bin, Dir: dir, Ticks: ticks, Verbose: verbose, Log: log}
	busy, err := othersBusy(ctx, ticks, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "## civicbench cameras\n\n")
	fmt.Fprintf(w, "`civicbench %s`: %d cores (%s), %s, %s; a fresh civicd (log level info) for each part, the cameras served by rtsptest in this process over RTSP/TCP, every viewer a pion peer in this process, everything on 127.0.0.1. Other processes in the second before the run: %.2f cores.\n\n",
		strings.Join(os.Args[1:], " "), runtime.NumCPU(), cpuModel(), runtime.Version(), firstLine(o.ffmpeg, "-version"), busy.Seconds())
	return runParts(ctx, parts, o.partTimeout, func(ctx context.Context, part string) error {
		switch part {
		case "cameras-viewers":
			return camerasViewers(ctx, cfg, w)
		case "cameras-health":
			return camerasHealth(ctx, cfg, w)
		case "cameras-first-frame":
			return camerasFirstFrame(ctx, cfg, w)
		}
		return nil
	})
}

// firstLine is the first line a tool prints on its standard output for
// arg (its version), or its name.
func firstLine(bin, arg string) string {
	if bin == "" {
		return "none"
	}
	out, _ := exec.Command(bin, arg).Output()
	line, _, _ := strings.Cut(string(out), "\n")
	if line = strings.TrimSpace(line); line != "" {
		if i := strings.Index(line, " Copyright"); i > 0 {
			line = line[:i]
		}
		return line
	}
	return filepath.Base(bin)
}

// camDaemon starts a fresh civicd for one part, with the console's
// per-connection message rate raised (hundreds of cameras are created
// over a few sockets) and env added.
func camDaemon(ctx context.Context, cfg camConfig, part string, env ...string) (*daemon, error) {
	dir := filepath.Join(cfg.Dir, part)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	env = append([]string{"CIVIC_WS_RATE=100000", "CIVIC_WS_BURST=100000"}, env...)
	d, err := startDaemon(ctx, cfg.Civicd, dir, env...)
	if err != nil {
		return nil, err
	}
	cfg.Log.Info("civicd up", "part", part, "url", d.URL, "pid", d.PID())
	return d, nil
}

// oneCamera is a part's civicd (started with env) with one camera, id,
// at url, online, and a facilities user to watch it (user, pw), signed
// in as admin. stop ends it all and keeps civicd's log.
type oneCamera struct {
	d        *daemon
	admin    *camAdmin
	user, pw string
}

func startOneCamera(ctx context.Context, cfg camConfig, part, id, url string, env ...string) (*oneCamera, error) {
	d, err := camDaemon(ctx, cfg, part, env...)
	if err != nil {
		return nil, err
	}
	o := &oneCamera{d: d}
	fail := func(err error) (*oneCamera, error) {
		o.stop(cfg, part)
		return nil, err
	}
	if o.admin, err = camLogin(ctx, d, "admin", d.Password); err != nil {
		return fail(err)
	}
	if err := o.admin.cl.Call(ctx, "building.cameras.create", cameraParams(id, url), nil); err != nil {
		return fail(err)
	}
	if _, err := o.admin.waitOnline(ctx, []string{id}, 30*time.Second); err != nil {
		return fail(err)
	}
	if o.user, o.pw, err = o.admin.addViewerUser(ctx); err != nil {
		return fail(err)
	}
	return o, nil
}

func (o *oneCamera) stop(cfg camConfig, part string) {
	if o.admin != nil {
		o.admin.close()
	}
	saveCamLog(cfg, part, o.d)
	o.d.stop()
}

// saveCamLog writes the last of civicd's log to the part's directory
// (kept with -keep).
func saveCamLog(cfg camConfig, part string, d *daemon) {
	_ = os.WriteFile(filepath.Join(cfg.Dir, part, "civicd.log"), []byte(d.logs.tail(1<<20)+"\n"), 0o600)
}

// camWarnings counts civicd's WARN and ERROR log lines, less the one
// every part logs because MQTT is off.
func camWarnings(d *daemon) int {
	return d.logs.count(`"level":"WARN"`) + d.logs.count(`"level":"ERROR"`) - d.logs.count(`"msg":"mqtt is off`)
}

// camAdmin is an admin's console websocket.
type camAdmin struct {
	d     *daemon
	token string
	cl    *confclient.Client
}

func camLogin(ctx context.Context, d *daemon, user, password string) (*camAdmin, error) {
	opts := confclient.Options{TLS: d.TLS}
	token, err := confclient.Login(ctx, d.URL, user, password, opts)
	if err != nil {
		return nil, err
	}
	cl, err := confclient.Dial(ctx, d.URL, token, opts)
	if err != nil {
		return nil, err
	}
	return &camAdmin{d: d, token: token, cl: cl}, nil
}

func (a *camAdmin) close() { _ = a.cl.Close() }

// cameraParams are building.cameras.create's params for a camera by RTSP
// URL over TCP.
func cameraParams(id, url string) map[string]any {
	return map[string]any{"camera": map[string]any{"id": id, "name": "Bench camera " + id, "rtsp_url": url, "transport": "tcp"}}
}

// addViewerUser creates a facilities user for the viewers and returns
// its name and password.
func (a *camAdmin) addViewerUser(ctx context.Context) (string, string, error) {
	name, pw := "bench-viewer", rand.Text()
	err := a.cl.Call(ctx, "users.create", map[string]any{"username": name, "display_name": "Bench viewer", "role": "facilities",
		"password": pw, "language": "en"}, nil)
	return name, pw, err
}

// camStatus is the part of a camera's live state the bench reads.
type camStatus struct {
	ID          string  `json:"id"`
	State       string  `json:"state"`
	Reason      string  `json:"reason"`
	FPS         float64 `json:"fps"`
	BitrateKbps int     `json:"bitrate_kbps"`
	Width       int     `json:"width"`
	Height      int     `json:"height"`
	Viewers     int     `json:"viewers"`
	Streaming   bool    `json:"streaming"`
	Sessions    int64   `json:"sessions"`
}

// statuses is building.cameras.list's live states, by camera id.
func (a *camAdmin) statuses(ctx context.Context) (map[string]camStatus, error) {
	var res struct {
		Status []camStatus `json:"status"`
	}
	if err := a.cl.Call(ctx, "building.cameras.list", nil, &res); err != nil {
		return nil, err
	}
	out := make(map[string]camStatus, len(res.Status))
	for _, s := range res.Status {
		out[s.ID] = s
	}
	return out, nil
}

// countStates counts cameras by state.
func countStates(st map[string]camStatus) map[string]int {
	n := map[string]int{}
	for _, s := range st {
		n[s.State]++
	}
	return n
}

// waitOnline polls the cameras' states until every one of ids is online,
// for at most limit, and returns the last states.
func (a *camAdmin) waitOnline(ctx context.Context, ids []string, limit time.Duration) (map[string]camStatus, error) {
	deadline := time.Now().Add(limit)
	for {
		st, err := a.statuses(ctx)
		if err != nil {
			return nil, err
		}
		online := 0
		for _, id := range ids {
			if st[id].State == "online" {
				online++
			}
		}
		if online == len(ids) {
			return st, nil
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("%d of %d cameras online after %s (%v)", online, len(ids), limit, countStates(st))
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil { // polling the cameras' state
			return nil, err
		}
	}
}

// scrapeMetrics reads civicd's /metrics and returns the samples without
// labels (go_goroutines, process_resident_memory_bytes, ...).
func scrapeMetrics(ctx context.Context, d *daemon) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.URL+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: d.TLS}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: status %d", resp.StatusCode)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads the Prometheus text format's unlabelled samples.
func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.ContainsRune(line, '{') {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			out[f[0]] = v
		}
	}
	return out, sc.Err()
}
