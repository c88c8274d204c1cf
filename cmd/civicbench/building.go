package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"civic/conference/confclient"
)

// The building bench (issue 5): civicd with its embedded MQTT broker,
// the door controllers simulated by civicsim (a separate process, one
// MQTT connection per controller), and the console's building.doors
// topic watched by Go websocket clients, all on 127.0.0.1. Each part runs
// on a fresh civicd whose model (site, building, floor, controllers,
// doors, and for the swipes cardholders and an access level) is created
// through the console websocket, as an admin would.

// buildingParts are the building bench's parts, in the order they run.
var buildingParts = []struct{ Name, Title string }{
	{"building-swipes", "card presented → decision at a fixed swipe rate"},
	{"building-fanout", "door changes fanned out to console websockets"},
}

// buildingConfig is what the building parts run with.
type buildingConfig struct {
	Civicd   string
	Civicsim string
	Dir      string
	Ticks    int64
	Log      *slog.Logger
	Timeout  time.Duration // per part
	// DaemonEnv is added to civicd's environment (GOGC, GOMEMLIMIT...).
	DaemonEnv []string

	Controllers int // simulated controllers
	DoorsPer    int // doors per controller
	Warmup      time.Duration
	Window      time.Duration

	Cardholders int     // each with one card
	NoAccess    int     // of them, with no access level (denied no_access)
	Unknown     int     // cards swiped that no cardholder has
	SwipeRate   float64 // swipes/s over every reader

	ChangeRate float64 // door changes/s
	Watchers   int     // console websockets on building.doors
}

// buildingEnv is civicd's configuration for the building parts: the
// embedded broker on a free loopback port, and the console's
// per-connection message rate raised so that creating the model is not
// throttled.
func buildingEnv() []string {
	return []string{
		"CIVIC_MQTT_LISTEN=127.0.0.1:0",
		"CIVIC_WS_RATE=100000",
		"CIVIC_WS_BURST=100000",
	}
}

// controllerPassword is simulated controller id's MQTT password (civicsim
// --password with {id}); civicd wants 12-72 bytes.
const controllerPasswordTemplate = "civicbench-pw-{id}"

func controllerPassword(id string) string {
	return strings.ReplaceAll(controllerPasswordTemplate, "{id}", id)
}

// benchCard is cardholder i's card number; unknown cards follow the
// cardholders' numbers.
func benchCard(i int) string { return strconv.Itoa(10_000_000 + i) }

// buildingResult is one building part's measurement.
type buildingResult struct {
	Part        string
	Controllers int
	Doors       int
	Offered     float64 // swipes/s or changes/s
	Window      time.Duration
	Setup       time.Duration // creating the model through the console

	// Latency samples: card → decision (swipes), or change → receipt at
	// each websocket (fanout).
	Lat []time.Duration

	// Swipes.
	Swipes, Granted, Denied, Timeouts, Late int
	Reasons                                 map[string]int

	// Fanout.
	Watchers            int
	Changes             int
	Expected, Delivered int
	Publish             []time.Duration // command written → civicsim's door line (after PUBACK)

	CPU      time.Duration // civicd's, over the window
	SimCPU   time.Duration // civicsim's, over the window
	BenchCPU time.Duration // this process's, over the window
	OtherCPU time.Duration // every other process's
	// OtherPerSecond is every other process's cores in each second of
	// the window.
	OtherPerSecond []float64
	RSSBefore      int64 // civicd's, before the load
	PeakRSS        int64 // civicd's VmHWM after the load
	Warnings       int   // civicd's WARN and ERROR log lines
	Notes          []string
}

// runBuilding runs the chosen parts and prints each table.
func runBuilding(ctx context.Context, cfg buildingConfig, parts []string, w io.Writer) ([]*buildingResult, error) {
	var results []*buildingResult
	for _, p := range parts {
		pctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		var r *buildingResult
		var err error
		switch p {
		case "building-swipes":
			r, err = buildingSwipes(pctx, cfg)
		case "building-fanout":
			r, err = buildingFanout(pctx, cfg)
		}
		cancel()
		if err != nil {
			return results, fmt.Errorf("%s: %w", p, err)
		}
		writeBuildingResult(w, r)
		results = append(results, r)
	}
	return results, nil
}

// buildingDaemon starts a fresh civicd for one part and returns it with
// its broker's address.
func buildingDaemon(ctx context.Context, cfg buildingConfig, part string) (*daemon, string, error) {
	dir := filepath.Join(cfg.Dir, part)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", err
	}
	d, err := startDaemon(ctx, cfg.Civicd, dir, append(buildingEnv(), cfg.DaemonEnv...)...)
	if err != nil {
		return nil, "", err
	}
	addr, err := d.waitMQTT(ctx)
	if err != nil {
		d.stop()
		return nil, "", err
	}
	cfg.Log.Info("civicd up", "part", part, "mqtt", addr, "pid", d.PID())
	return d, addr, nil
}

// saveLog writes the last of civicd's log to the part's directory (kept
// with -keep).
func saveLog(cfg buildingConfig, part string, d *daemon) {
	_ = os.WriteFile(filepath.Join(cfg.Dir, part, "civicd.log"), []byte(d.logs.tail(1<<20)+"\n"), 0o600)
}

// simDoorIDs are the door ids civicsim generates for --controllers n
// --doors m: controller K is cK, its doors cK-dJ, readers cK-dJ-in and
// cK-dJ-out (K and J from 1).
func simDoorIDs(n, m int) (ctrls []string, doors []string) {
	for k := 1; k <= n; k++ {
		c := fmt.Sprintf("c%d", k)
		ctrls = append(ctrls, c)
		for j := 1; j <= m; j++ {
			doors = append(doors, fmt.Sprintf("%s-d%d", c, j))
		}
	}
	return ctrls, doors
}

// createBuildingModel makes, through the console websocket, one site,
// building and floor, the controllers and doors civicsim will simulate,
// and (cardholders > 0) an access level to every door and the
// cardholders, all but noAccess of them with that level.
func createBuildingModel(ctx context.Context, d *daemon, ctrls, doors []string, cardholders, noAccess int) error {
	opts := confclient.Options{TLS: d.TLS}
	token, err := confclient.Login(ctx, d.URL, "admin", d.Password, opts)
	if err != nil {
		return err
	}
	cl, err := confclient.Dial(ctx, d.URL, token, opts)
	if err != nil {
		return err
	}
	defer cl.Close()
	steps := []struct {
		typ    string
		params map[string]any
	}{
		{"building.sites.create", map[string]any{"site": map[string]any{"id": "bench-site", "name": "Bench site", "time_zone": "UTC"}}},
		{"building.buildings.create", map[string]any{"building": map[string]any{"id": "bench-building", "site": "bench-site", "name": "Bench building"}}},
		{"building.floors.create", map[string]any{"floor": map[string]any{"id": "bench-floor", "building": "bench-building", "name": "Ground", "level": 0}}},
	}
	for _, c := range ctrls {
		steps = append(steps, struct {
			typ    string
			params map[string]any
		}{"building.controllers.create", map[string]any{"controller": map[string]any{
			"id": c, "name": "Controller " + c, "heartbeat_seconds": 30, "fail_mode": "secure", "password": controllerPassword(c),
		}}})
	}
	for _, s := range steps {
		if err := cl.Call(ctx, s.typ, s.params, nil); err != nil {
			return err
		}
	}
	// Doors and cardholders over a few connections at once.
	err = parallelCalls(ctx, d, token, len(doors), func(i int) (string, map[string]any) {
		id := doors[i]
		return "building.doors.create", map[string]any{"door": map[string]any{
			"id": id, "name": "Door " + id, "floor": "bench-floor", "controller": id[:strings.Index(id, "-")],
			"reader_in": id + "-in", "reader_out": id + "-out", "unlock_seconds": 5, "held_open_seconds": 3600,
		}}
	})
	if err != nil || cardholders == 0 {
		return err
	}
	level := make([]map[string]any, len(doors))
	for i, id := range doors {
		level[i] = map[string]any{"door": id}
	}
	if err := cl.Call(ctx, "building.access_levels.create", map[string]any{"access_level": map[string]any{"id": "bench-all", "name": "Every door", "doors": level}}, nil); err != nil {
		return err
	}
	return parallelCalls(ctx, d, token, cardholders, func(i int) (string, map[string]any) {
		levels := []string{"bench-all"}
		if i < noAccess {
			levels = []string{}
		}
		return "building.cardholders.create", map[string]any{"cardholder": map[string]any{
			"id": fmt.Sprintf("ch-%d", i), "name": fmt.Sprintf("Cardholder %d", i), "department": "Bench",
			"cards": []string{benchCard(i)}, "status": "active", "access_levels": levels,
		}}
	})
}

// parallelCalls makes n console requests, request(i) for each i, over
// four connections.
func parallelCalls(ctx context.Context, d *daemon, token string, n int, request func(i int) (string, map[string]any)) error {
	const conns = 4
	var wg sync.WaitGroup
	errs := make([]error, conns)
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := confclient.Dial(ctx, d.URL, token, confclient.Options{TLS: d.TLS})
			if err != nil {
				errs[c] = err
				return
			}
			defer cl.Close()
			for i := c; i < n; i += conns {
				typ, p := request(i)
				if err := cl.Call(ctx, typ, p, nil); err != nil {
					errs[c] = fmt.Errorf("%s #%d: %w", typ, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// resetPeakRSS resets a process's VmHWM to its current RSS (Linux 4.0
// and later: "5" to /proc/PID/clear_refs), so that the peak read after
// the load is the load's and not the model set-up's.
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// window measures civicd's, civicsim's, this process's and every other
// process's CPU between start and end.
type window struct {
	ticks            int64
	pids             []int // civicd, civicsim
	cpu0             []int64
	self0            int64
	procs0           map[int]procStat
	started, stopped time.Time

	// Each second's CPU of other processes, sampled while the window is
	// open, to tell a stall caused by the shared machine.
	stopSampling chan struct{}
	sampled      chan []float64
	perSecond    []float64
}

func startWindow(ticks int64, pids ...int) *window {
	w := &window{ticks: ticks, pids: pids, procs0: allProcs(), started: time.Now()}
	for _, pid := range pids {
		c, _ := procCPU(pid)
		w.cpu0 = append(w.cpu0, c)
	}
	w.self0, _ = procCPU(os.Getpid())
	w.stopSampling, w.sampled = make(chan struct{}), make(chan []float64, 1)
	go w.sample()
	return w
}

// sample records, every second, the cores other processes used in it.
func (w *window) sample() {
	var per []float64
	prev := w.procs0
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-w.stopSampling:
			w.sampled <- per
			return
		case <-t.C:
			cur := allProcs()
			per = append(per, ticksToDuration(othersCPU(prev, cur, append([]int{os.Getpid()}, w.pids...)), w.ticks).Seconds())
			prev = cur
		}
	}
}

// busiestSecond is when (seconds into the window) other processes used
// the most CPU, and how many cores.
func busiestSecond(per []float64) (at int, cores float64) {
	for i, c := range per {
		if c > cores {
			at, cores = i+1, c
		}
	}
	return at, cores
}

// end returns the CPU of each of the window's processes, of this one and
// of every other.
func (w *window) end() (cpu []time.Duration, self, others time.Duration) {
	w.stopped = time.Now()
	close(w.stopSampling)
	w.perSecond = <-w.sampled
	for i, pid := range w.pids {
		c, _ := procCPU(pid)
		cpu = append(cpu, ticksToDuration(c-w.cpu0[i], w.ticks))
	}
	s, _ := procCPU(os.Getpid())
	self = ticksToDuration(s-w.self0, w.ticks)
	others = ticksToDuration(othersCPU(w.procs0, allProcs(), append([]int{os.Getpid()}, w.pids...)), w.ticks)
	return cpu, self, others
}

// buildingSwipes is part 1: civicsim's random swipes at SwipeRate over
// every reader of every door; the latency is civicsim's own, from just
// before it publishes the card to when the decision arrives.
func buildingSwipes(ctx context.Context, cfg buildingConfig) (*buildingResult, error) {
	d, addr, err := buildingDaemon(ctx, cfg, "building-swipes")
	if err != nil {
		return nil, err
	}
	defer d.stop()
	defer saveLog(cfg, "building-swipes", d)
	ctrls, doors := simDoorIDs(cfg.Controllers, cfg.DoorsPer)
	start := time.Now()
	if err := createBuildingModel(ctx, d, ctrls, doors, cfg.Cardholders, cfg.NoAccess); err != nil {
		return nil, fmt.Errorf("create the model: %w", err)
	}
	r := &buildingResult{
		Part: "building-swipes", Controllers: len(ctrls), Doors: len(doors), Offered: cfg.SwipeRate,
		Window: cfg.Window, Setup: time.Since(start), Reasons: map[string]int{},
	}
	cfg.Log.Info("model created", "doors", len(doors), "cardholders", cfg.Cardholders, "after", r.Setup.Round(time.Millisecond))
	cards := make([]string, 0, cfg.Cardholders+cfg.Unknown)
	for i := range cfg.Cardholders + cfg.Unknown {
		cards = append(cards, benchCard(i))
	}

	// The window, in civicsim's clock (the same machine's): swipes whose
	// line falls in it are counted, with their decisions.
	var (
		mu       sync.Mutex
		t0, t1   time.Time
		inWindow = map[string]bool{} // controller/id of swipes sent in the window
	)
	handle := func(ev simEvent) {
		mu.Lock()
		defer mu.Unlock()
		if t0.IsZero() {
			return
		}
		key := ev.Controller + "/" + ev.ID
		switch ev.Event {
		case "swipe":
			if ev.Sent != nil && *ev.Sent && !ev.TS.Before(t0) && (t1.IsZero() || ev.TS.Before(t1)) {
				inWindow[key] = true
				r.Swipes++
			}
		case "decision", "decision_timeout":
			key = ev.Controller + "/" + ev.Re
			if !inWindow[key] {
				return
			}
			delete(inWindow, key)
			switch {
			case ev.Event == "decision_timeout":
				r.Timeouts++
			case ev.Late:
				r.Late++
			default:
				r.Lat = append(r.Lat, ev.Latency())
				if ev.Granted != nil && *ev.Granted {
					r.Granted++
				} else {
					r.Denied++
				}
				r.Reasons[ev.Reason]++
			}
		}
	}
	sim, err := startSim(ctx, cfg, "building-swipes", handle,
		"--broker", "mqtt://"+addr, "--controllers", strconv.Itoa(cfg.Controllers), "--doors", strconv.Itoa(cfg.DoorsPer),
		"--password", controllerPasswordTemplate, "--cards", strings.Join(cards, ","),
		"--swipes-per-sec", strconv.FormatFloat(cfg.SwipeRate, 'f', -1, 64), "--seed", "1")
	if err != nil {
		return nil, err
	}
	defer sim.stop()
	if err := sim.waitConnected(ctx, 30*time.Second); err != nil {
		return nil, err
	}
	if err := sleep(ctx, cfg.Warmup); err != nil {
		return nil, err
	}
	r.RSSBefore, _ = procRSS(d.PID())
	if err := resetPeakRSS(d.PID()); err != nil {
		r.Notes = append(r.Notes, fmt.Sprintf("the peak RSS includes the model's set-up (resetting VmHWM failed: %v)", err))
	}
	win := startWindow(cfg.Ticks, d.PID(), sim.PID())
	mu.Lock()
	t0 = win.started
	mu.Unlock()
	if err := sleep(ctx, cfg.Window); err != nil {
		return nil, err
	}
	cpu, self, others := win.end()
	mu.Lock()
	t1 = win.stopped
	mu.Unlock()
	r.CPU, r.SimCPU, r.BenchCPU, r.OtherCPU = cpu[0], cpu[1], self, others
	r.OtherPerSecond = win.perSecond
	r.PeakRSS, _ = procPeakRSS(d.PID())
	// Decisions of the window's last swipes arrive after it; civicsim
	// gives up on a decision after 2 s.
	if err := sleep(ctx, 2500*time.Millisecond); err != nil {
		return nil, err
	}
	sim.stop()
	mu.Lock()
	missing := len(inWindow)
	mu.Unlock()
	if missing > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d swipes of the window got neither a decision nor a timeout line before civicsim quit", missing))
	}
	r.Warnings = d.logs.count(`"level":"WARN"`) + d.logs.count(`"level":"ERROR"`)
	r.Notes = append(r.Notes, fmt.Sprintf("model created through the console websocket in %.1f s: %d controllers, %d doors (two readers each), one access level to every door, %d cardholders with one card each (%d of them with no access level); civicsim swipes %d cards at random readers (%d that no cardholder has)",
		r.Setup.Seconds(), len(ctrls), len(doors), cfg.Cardholders, cfg.NoAccess, len(cards), cfg.Unknown))
	r.Notes = append(r.Notes, "civicsim: `"+sim.CommandLine()+"`")
	return r, nil
}
