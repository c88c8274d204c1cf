package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"civic/conference/confclient"
)

// scenario is a set of meetings of the same shape: in each, the first
// Publishers participants publish (Opus, and VP8 when Video), the rest
// only listen, and everyone receives every other participant's tracks.
type scenario struct {
	Name       string
	Title      string
	Meetings   int
	Size       int // participants per meeting
	Publishers int // per meeting
	Video      bool
	// Split says what to do when Size is over the per-meeting limit:
	// split into more meetings of the same shape (true) or shrink the
	// meeting (false).
	Split bool
	// Note explains the scenario's shape in the output.
	Note string
}

// scenarios are the performance scenarios, in order.
var scenarios = []scenario{
	{Name: "a", Title: "10×10: one meeting, every participant publishes VP8 1.5 Mbit/s and Opus and receives the other nine",
		Meetings: 1, Size: 10, Publishers: 10, Video: true},
	{Name: "b", Title: "1→100: one publisher (VP8 1.5 Mbit/s and Opus), 100 subscribers that publish nothing",
		Meetings: 1, Size: 101, Publishers: 1, Video: true},
	{Name: "c1", Title: "200 audio-only participants as 20 meetings of 10, everyone talking (Opus, 50 packets/s) and hearing the other nine",
		Meetings: 20, Size: 10, Publishers: 10, Note: audioNote},
	{Name: "c2", Title: "200 audio-only participants as one all-hands: 1 speaker, 199 listeners",
		Meetings: 1, Size: 200, Publishers: 1, Split: true, Note: audioNote},
}

// audioNote says why scenario (c) has two forms.
const audioNote = "Scenario (c) is split in two because one meeting of 200 where everyone talks would have the SFU forward 200 × 199 × 50 ≈ 2 million packets/s; no SFU forwards every talker to every listener at that size (they forward the few loudest speakers, or mix). What 200 audio participants look like in practice is many small meetings (c1) or one large meeting with few speakers (c2)."

// fit returns the scenario as it can run with at most limit participants
// per meeting (0: no limit), and a note when it had to change.
func (sc scenario) fit(limit int) (scenario, string) {
	if limit <= 0 || sc.Size <= limit {
		return sc, ""
	}
	want := sc
	if sc.Split {
		per := (sc.Size*sc.Meetings + limit - 1) / limit
		sc.Meetings = per
		sc.Size = want.Size * want.Meetings / per
		return sc, fmt.Sprintf("civicd admits at most %d participants per meeting (conference.Config.MaxParticipants; not yet a config key), so the %d-person meeting runs as %d meetings of %d, each with %d publisher(s): %d participants in all.",
			limit, want.Size, sc.Meetings, sc.Size, sc.Publishers, sc.Meetings*sc.Size)
	}
	sc.Size = limit
	return sc, fmt.Sprintf("civicd admits at most %d participants per meeting (conference.Config.MaxParticipants; not yet a config key), so the meeting has %d participants instead of %d: %d publisher(s) and %d subscribers.",
		limit, limit, want.Size, sc.Publishers, limit-sc.Publishers)
}

// config is what every scenario runs with.
type config struct {
	Civicd       string        // the daemon binary
	Dir          string        // scratch space; each scenario gets a subdirectory
	Warmup       time.Duration // after every stream delivers, before the window
	Window       time.Duration // the measurement
	MeetingLimit int           // participants per meeting civicd admits
	Timeout      time.Duration // per scenario
	JoinWorkers  int           // participants joining at once
	Ticks        int64         // USER_HZ, the unit of /proc CPU times
	Paced        bool          // video frames are paced, not sent as a burst
	Verbose      bool          // pion's log on
	Log          *slog.Logger
}

// graceTime is how long after the window the bench waits for packets
// sent inside it before reading the counters.
const graceTime = time.Second

// result is one scenario's measurements.
type result struct {
	sc         scenario
	fitNote    string
	total      int // participants
	publishers int
	streams    int // forwarded tracks, publisher track × subscriber
	videoStr   int
	silent     int // of those, tracks that delivered nothing before the window
	setup      time.Duration

	window     time.Duration // as measured between the CPU samples
	daemonCPU  time.Duration
	benchCPU   time.Duration
	machineUse float64 // share of all cores busy, 0 to 1

	pkts, bytes [2]uint64 // received in the window, [0] audio, [1] video
	expected    [2]uint64 // sent in the window × subscribers
	lat         [2]histSnapshot
	stale       uint64
	malformed   uint64

	rssBefore, rssStart, rssWith int64 // before joining, at the window's start and end
	daemonWarnings               int
}

// runScenario starts a fresh civicd, joins the scenario's clients,
// measures, and tears everything down.
func runScenario(ctx context.Context, cfg config, sc scenario) (*result, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	sc, fitNote := sc.fit(cfg.MeetingLimit)
	res := &result{sc: sc, fitNote: fitNote}
	log := cfg.Log.With("scenario", sc.Name)

	d, err := startDaemon(ctx, cfg.Civicd, filepath.Join(cfg.Dir, "scenario-"+sc.Name))
	if err != nil {
		return nil, err
	}
	defer d.stop()
	pid := d.PID()
	log.Info("civicd up", "url", d.URL, "pid", pid)
	opts := confclient.Options{TLS: d.TLS}
	token, err := confclient.Login(ctx, d.URL, "admin", d.Password, opts)
	if err != nil {
		return nil, err
	}
	ctl, err := confclient.Dial(ctx, d.URL, token, opts)
	if err != nil {
		return nil, err
	}
	defer ctl.Close()
	rooms := make([]string, sc.Meetings)
	for i := range rooms {
		var created struct{ Meeting struct{ Room string } }
		if err := ctl.Call(ctx, "conference.create", map[string]any{"title": fmt.Sprintf("civicbench %s %d", sc.Name, i+1)}, &created); err != nil {
			return nil, err
		}
		rooms[i] = created.Meeting.Room
	}
	if err := sleep(ctx, 300*time.Millisecond); err != nil { // let the start-up garbage settle
		return nil, err
	}
	if res.rssBefore, err = procRSS(pid); err != nil {
		return nil, err
	}
	api, err := loopbackAPI(cfg.Verbose)
	if err != nil {
		return nil, err
	}

	clk := newClock()
	var pubs, subs []*participant
	for m := range sc.Meetings {
		for j := range sc.Size {
			p := &participant{idx: len(pubs) + len(subs), meeting: m, clk: clk, paced: cfg.Paced}
			if j < sc.Publishers {
				p.audio, p.video = true, sc.Video
				pubs = append(pubs, p)
			} else {
				subs = append(subs, p)
			}
		}
	}
	all := append(append([]*participant(nil), pubs...), subs...)
	res.total, res.publishers = len(all), len(pubs)
	defer leaveAll(all, log)

	// Publishers first, so that listeners, who never connect their
	// publish connection, get their subscribe offer when they join and
	// connect within civicd's ICE timeout.
	start := time.Now()
	join := func(p *participant) error {
		if err := p.join(ctx, d.URL, token, api, opts, rooms[p.meeting]); err != nil {
			return fmt.Errorf("participant %d: %w", p.idx, err)
		}
		if err := p.publish(ctx); err != nil {
			return fmt.Errorf("participant %d: %w", p.idx, err)
		}
		return nil
	}
	if err := parallel(pubs, cfg.JoinWorkers, join); err != nil {
		return nil, err
	}
	log.Info("publishers joined", "n", len(pubs), "after", time.Since(start).Round(time.Millisecond))
	if err := parallel(subs, cfg.JoinWorkers, join); err != nil {
		return nil, err
	}
	log.Info("everyone joined", "n", len(all), "after", time.Since(start).Round(time.Millisecond))

	// Wait until every forwarded track has delivered a packet.
	want := make([]int32, len(all))
	for _, p := range all {
		for _, q := range pubs {
			if q.meeting == p.meeting && q != p {
				want[p.idx] += int32(btoi(q.audio) + btoi(q.video))
				res.videoStr += btoi(q.video)
			}
		}
		res.streams += int(want[p.idx])
	}
	for {
		missing := 0
		for _, p := range all {
			missing += int(max(0, want[p.idx]-p.streams.Load()))
		}
		if missing == 0 {
			break
		}
		if time.Since(start) > cfg.Timeout/2 {
			res.silent = missing
			log.Warn("some forwarded tracks never delivered; measuring anyway", "silent", missing, "of", res.streams)
			break
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil { // polling the clients' counters
			return nil, err
		}
	}
	res.setup = time.Since(start)
	log.Info("media flowing", "streams", res.streams, "after", res.setup.Round(time.Millisecond))
	if err := sleep(ctx, cfg.Warmup); err != nil {
		return nil, err
	}

	// The window: from here, publishers count what they send and
	// subscribers what they receive of it.
	t0 := clk.now()
	clk.t1.Store(t0 + int64(cfg.Window))
	clk.t0.Store(t0)
	s0, err := sample(pid)
	if err != nil {
		return nil, err
	}
	if err := sleep(ctx, cfg.Window); err != nil {
		return nil, err
	}
	s1, err := sample(pid)
	if err != nil {
		return nil, err
	}
	res.rssStart, res.rssWith = s0.rss, s1.rss
	res.window = s1.wall.Sub(s0.wall)
	res.daemonCPU = time.Duration(s1.daemonTicks-s0.daemonTicks) * time.Second / time.Duration(cfg.Ticks)
	res.benchCPU = s1.self - s0.self
	if t := s1.machineTotal - s0.machineTotal; t > 0 {
		res.machineUse = float64(s1.machineBusy-s0.machineBusy) / float64(t)
	}
	if err := sleep(ctx, graceTime); err != nil {
		return nil, err
	}
	for _, p := range all {
		for k := range 2 {
			res.pkts[k] += p.rx.pkts[k].Load()
			res.bytes[k] += p.rx.bytes[k].Load()
			res.lat[k].merge(&p.rx.lat[k])
		}
		res.stale += p.rx.stale.Load()
		res.malformed += p.rx.malformed.Load()
	}
	for _, q := range pubs {
		listeners := uint64(sc.Size - 1)
		res.expected[0] += q.sentAudio.Load() * listeners
		res.expected[1] += q.sentVideo.Load() * listeners
	}
	res.daemonWarnings = d.logs.count(`"level":"WARN"`) + d.logs.count(`"level":"ERROR"`)
	if res.daemonWarnings > 0 {
		log.Warn("civicd logged warnings or errors", "n", res.daemonWarnings, "last", d.logs.tail(3))
	}
	return res, nil
}

// snapshot is one reading of the counters the window is measured with.
type snapshot struct {
	wall                      time.Time
	daemonTicks               int64
	rss                       int64
	self                      time.Duration // this process's CPU time
	machineBusy, machineTotal int64
}

func sample(pid int) (snapshot, error) {
	s := snapshot{wall: time.Now()}
	var err1, err2, err3 error
	s.daemonTicks, err1 = procCPU(pid)
	s.rss, err2 = procRSS(pid)
	s.machineBusy, s.machineTotal, err3 = machineCPU()
	var ru syscall.Rusage
	err4 := syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return s, fmt.Errorf("read CPU and memory counters: %w", err)
	}
	return s, nil
}

// parallel runs f on every item with at most n at once and returns the
// first error.
func parallel(items []*participant, n int, f func(*participant) error) error {
	sem := make(chan struct{}, max(1, n))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, p := range items {
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(p); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// leaveAll has every joined participant leave, 16 at a time.
func leaveAll(all []*participant, log *slog.Logger) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = parallel(all, 16, func(p *participant) error {
		p.leave(ctx)
		return nil
	})
	log.Info("clients closed", "after", time.Since(start).Round(time.Millisecond))
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
