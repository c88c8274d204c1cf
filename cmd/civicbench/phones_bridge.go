package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"civic/conference/confclient"
	"civic/voip/audio/g711"
)

// benchBrowser is a pion participant that publishes an Opus tone and
// reads (and counts) every stream forwarded to it.
type benchBrowser struct {
	c       *confclient.Client
	s       *confclient.Session
	tracks  atomic.Int32
	pkts    atomic.Uint64 // received in the clock's window
	clk     *clock
	stopped chan struct{}
}

// joinBrowser joins the meeting; publish, if not nil, is the Opus
// packets it sends in a loop from offset.
func joinBrowser(ctx context.Context, d *daemon, token, room string, api *webrtc.API, clk *clock, onTrack func(*webrtc.TrackRemote)) (*benchBrowser, error) {
	b := &benchBrowser{clk: clk, stopped: make(chan struct{})}
	c, err := confclient.Dial(ctx, d.URL, token, confclient.Options{TLS: d.TLS})
	if err != nil {
		return nil, err
	}
	if onTrack == nil {
		onTrack = b.count
	}
	s, err := c.Join(ctx, api, room, onTrack)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("join %s: %w", room, err)
	}
	b.c, b.s = c, s
	go func() { // the meeting's events are not measured; keep them moving
		for range s.Events() {
		}
	}()
	return b, nil
}

func (b *benchBrowser) count(t *webrtc.TrackRemote) {
	b.tracks.Add(1)
	buf := make([]byte, 1500)
	for {
		if _, _, err := t.Read(buf); err != nil {
			return
		}
		if b.clk.in(b.clk.now()) {
			b.pkts.Add(1)
		}
	}
}

// publishLoop publishes pkts as Opus, from offset, in a loop.
func (b *benchBrowser) publishLoop(ctx context.Context, pkts [][]byte, offset int) error {
	var mu sync.Mutex
	i := offset
	return b.s.PublishSamples(ctx, webrtc.MimeTypeOpus, 20*time.Millisecond, func() []byte {
		mu.Lock()
		defer mu.Unlock()
		p := pkts[i%len(pkts)]
		i++
		return p
	})
}

func (b *benchBrowser) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if b.s != nil {
		_ = b.s.Leave(ctx)
	}
	_ = b.c.Close()
}

// usage is a process's CPU and RSS over a window.
type usage struct {
	Window           time.Duration
	CPU, BenchCPU    time.Duration
	RSS, PeakRSS     int64
	MachineBusy      float64 // share of all cores
	MachineBusyCores float64
	// Waiting is the time civicd's threads were runnable but waited for
	// a CPU (schedstat's run_delay, summed over threads): CPU starvation.
	Waiting, BenchWaiting time.Duration
}

func (u usage) waitingCores() float64      { return u.Waiting.Seconds() / u.Window.Seconds() }
func (u usage) benchWaitingCores() float64 { return u.BenchWaiting.Seconds() / u.Window.Seconds() }

// runDelay is the time a process's threads have waited on a run queue,
// from /proc/PID/task/*/schedstat (its second field, in ns); threads that
// ended in between are not counted.
func runDelay(pid int) time.Duration {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var sum time.Duration
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var run, wait int64
		if _, err := fmt.Sscan(string(b), &run, &wait); err == nil {
			sum += time.Duration(wait)
		}
	}
	return sum
}

func (u usage) cores() float64      { return u.CPU.Seconds() / u.Window.Seconds() }
func (u usage) benchCores() float64 { return u.BenchCPU.Seconds() / u.Window.Seconds() }

// measure waits window, reading pid's CPU and the machine's before and
// after, and clk's window is set to it.
func measure(ctx context.Context, pid int, ticks int64, clk *clock, window time.Duration) (usage, error) {
	c0, err := procCPU(pid)
	if err != nil {
		return usage{}, err
	}
	b0, _ := procCPU(os.Getpid())
	m0, t0, _ := machineCPU()
	w0, bw0 := runDelay(pid), runDelay(os.Getpid())
	start := time.Now()
	clk.t1.Store(1<<63 - 1)
	clk.t0.Store(clk.now())
	if err := sleep(ctx, window); err != nil {
		return usage{}, err
	}
	clk.t1.Store(clk.now())
	u := usage{Window: time.Since(start)}
	c1, err := procCPU(pid)
	if err != nil {
		return usage{}, err
	}
	b1, _ := procCPU(os.Getpid())
	m1, t1, _ := machineCPU()
	u.Waiting, u.BenchWaiting = runDelay(pid)-w0, runDelay(os.Getpid())-bw0
	u.CPU, u.BenchCPU = ticksToDuration(c1-c0, ticks), ticksToDuration(b1-b0, ticks)
	if t1 > t0 {
		u.MachineBusy = float64(m1-m0) / float64(t1-t0)
		u.MachineBusyCores = u.MachineBusy * float64(numCPU())
	}
	u.RSS, _ = procRSS(pid)
	u.PeakRSS, _ = procPeakRSS(pid)
	return u, nil
}

// phonesBridge: one meeting, the browsers publishing Opus tones, then the
// phones dialling in; civicd's CPU and memory with the browsers alone
// and with every phone in, and what the phones receive.
func phonesBridge(ctx context.Context, cfg phConfig, w io.Writer) error {
	const part = "phones-bridge"
	tone, err := opusPackets(cfg.FFmpeg, "sine=frequency=440:sample_rate=48000:duration=4")
	if err != nil {
		return err
	}
	d, sipAddr, err := phoneDaemon(ctx, cfg, part)
	if err != nil {
		return err
	}
	defer d.stop()
	defer os.WriteFile(filepath.Join(cfg.Dir, part, "civicd.log"), []byte(d.logs.tail(1<<20)+"\n"), 0o600)
	m, err := setupMeeting(ctx, d, cfg.phones)
	if err != nil {
		return err
	}
	defer m.Admin.Close()
	api, err := loopbackAPI(cfg.Verbose)
	if err != nil {
		return err
	}
	clk := newClock()

	var browsers []*benchBrowser
	defer func() {
		for _, b := range browsers {
			b.leave()
		}
	}()
	for i := range cfg.browsers {
		b, err := joinBrowser(ctx, d, m.Token, m.Room, api, clk, nil)
		if err != nil {
			return fmt.Errorf("browser %d: %w", i, err)
		}
		browsers = append(browsers, b)
		if err := b.publishLoop(ctx, tone, i*len(tone)/cfg.browsers); err != nil {
			return fmt.Errorf("browser %d: publish: %w", i, err)
		}
	}
	cfg.Log.Info("browsers in", "n", len(browsers))
	if err := sleep(ctx, 3*time.Second); err != nil {
		return err
	}
	_ = resetPeakRSS(d.PID())
	base, err := measure(ctx, d.PID(), cfg.Ticks, clk, cfg.baseline)
	if err != nil {
		return err
	}
	baseBrowserPkts := make([]uint64, len(browsers))
	for i, b := range browsers {
		baseBrowserPkts[i] = b.pkts.Swap(0)
	}

	// The phones: each a quiet tone (amplitude 300 of 32767, about
	// -40 dBov) at its own frequency.
	legs := make([]*phoneLeg, cfg.phones)
	defer func() {
		var wg sync.WaitGroup
		for _, l := range legs {
			if l != nil {
				wg.Add(1)
				go func() { defer wg.Done(); l.hangup() }()
			}
		}
		wg.Wait()
	}()
	setupStart := time.Now()
	sem := make(chan struct{}, 10)
	errs := make([]error, cfg.phones)
	var wg sync.WaitGroup
	for i := range legs {
		l := newPhoneLeg(i, clk)
		freq, n := 300+float64(i)*7, 0
		l.source = func(int64) []byte { p := pcmuTone(freq, 300, n); n += 160; return p }
		l.sink = func(at int64, pkt *rtp.Packet) { countSilent(l, at, pkt) }
		legs[i] = l
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := l.call(ctx, sipAddr, m.Number); err != nil {
				errs[i] = err
				return
			}
			time.Sleep(500 * time.Millisecond) // the prompt starts; a person's first key comes later
			l.keys(m.PIN + "#")
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	if err := waitPhonesIn(ctx, d, cfg.phones, 90*time.Second); err != nil {
		return err
	}
	setup := time.Since(setupStart)
	cfg.Log.Info("phones in", "n", cfg.phones, "after", setup)
	if err := sleep(ctx, cfg.warmup); err != nil {
		return err
	}
	full, err := measure(ctx, d.PID(), cfg.Ticks, clk, cfg.window)
	if err != nil {
		return err
	}
	if err := sleep(ctx, 300*time.Millisecond); err != nil { // packets in flight at the window's end
		return err
	}
	inMeeting := d.logs.count(`"msg":"bridge: phone in meeting"`)
	ended := d.logs.count(`"msg":"bridge: call ended"`)

	// What the phones received.
	var rates []float64
	var lost, gapsTotal uint64
	gapped, silent := 0, 0
	var maxIv time.Duration
	var silentFrames, mixFrames uint64
	silentPhones := 0
	for _, l := range legs {
		r := &l.rx
		silentFrames += r.silentFrames.Load()
		mixFrames += r.pkts.Load()
		if r.silentFrames.Load() > 0 {
			silentPhones++
		}
		rates = append(rates, float64(r.pkts.Load())/full.Window.Seconds())
		lost += r.lost.Load()
		g := r.gaps.Load()
		gapsTotal += g
		if g > 0 || r.lost.Load() > 0 {
			gapped++
		}
		if r.pkts.Load() == 0 {
			silent++
		}
		maxIv = max(maxIv, time.Duration(r.maxInterval.Load()))
	}
	slices.Sort(rates)
	minTracks := int32(1 << 30)
	var bRates []float64
	for _, b := range browsers {
		minTracks = min(minTracks, b.tracks.Load())
		bRates = append(bRates, float64(b.pkts.Load())/full.Window.Seconds())
	}
	slices.Sort(bRates)
	var baseRates []float64
	for _, p := range baseBrowserPkts {
		baseRates = append(baseRates, float64(p)/base.Window.Seconds())
	}
	slices.Sort(baseRates)

	n := float64(cfg.phones)
	perCPU := (full.cores() - base.cores()) / n
	perRSS := float64(full.RSS-base.RSS) / n
	fmt.Fprintf(w, "### phones-bridge: %d browsers and %d phones in one meeting\n\n", cfg.browsers, cfg.phones)
	fmt.Fprintf(w, "One meeting. %d browser participants (pion), each publishing a 440 Hz Opus tone (ffmpeg's libopus, 32 kbit/s, 20 ms) and reading every stream forwarded to it; then %d phones, each calling the meeting's dial-in number through civicd's call engine as its own extension (digest MD5 on the INVITE, no REGISTER), keying the PIN and # as RFC 4733 events, then sending PCMU every 20 ms (a quiet tone, about -40 dBov, 300-643 Hz). All %d phones were in the meeting %s after the first INVITE (civicd logged %d \"phone in meeting\"); window %s after a %s warm-up. The reference is the same daemon with the browsers alone (%s window, before the phones).\n\n",
		cfg.browsers, cfg.phones, cfg.phones, setup.Round(100*time.Millisecond), inMeeting, full.Window.Round(time.Millisecond), cfg.warmup, base.Window.Round(time.Millisecond))
	fmt.Fprintf(w, "| phase | civicd CPU (cores) | civicd RSS | browsers: forwarded packets/s each (min–max) | civicd waiting for a CPU (cores) | civicbench CPU (cores), waiting | machine busy (of %d cores) |\n|---|---|---|---|---|---|---|\n", numCPU())
	fmt.Fprintf(w, "| %d browsers | %.3f | %s | %.0f–%.0f | %.2f | %.2f, %.2f | %.2f |\n", cfg.browsers, base.cores(), mb(float64(base.RSS)), baseRates[0], baseRates[len(baseRates)-1], base.waitingCores(), base.benchCores(), base.benchWaitingCores(), base.MachineBusyCores)
	fmt.Fprintf(w, "| %d browsers + %d phones | %.3f | %s (peak %s) | %.0f–%.0f | %.2f | %.2f, %.2f | %.2f |\n", cfg.browsers, cfg.phones, full.cores(), mb(float64(full.RSS)), mb(float64(full.PeakRSS)), bRates[0], bRates[len(bRates)-1], full.waitingCores(), full.benchCores(), full.benchWaitingCores(), full.MachineBusyCores)
	fmt.Fprintf(w, "| **per phone leg** | **%.4f** (%.1f ms CPU/s) | **%s** | | | | |\n\n", perCPU, perCPU*1000, mb(perRSS))
	fmt.Fprintf(w, "What the phones received in the window (the mix, every 20 ms): packets/s per phone min %.1f, median %.1f, max %.1f; sequence numbers skipped %d in all; phones with a gap (a skipped packet or more than %s between two) %d of %d, %d gaps in all, longest interval %s; phones that received nothing %d. Every browser sends a continuous tone, so every frame a phone gets should have sound: frames of silence (RMS under %d) %d of %d (%.2f %%), at %d of %d phones. Every browser had at least %d forwarded streams (%d expected: %d×50 packets/s). Calls ended during the run: %d. civicd warnings and errors in its log: %d.\n\n",
		rates[0], rates[len(rates)/2], rates[len(rates)-1], lost, gapLimit, gapped, cfg.phones, gapsTotal, maxIv.Round(time.Millisecond), silent, silentRMS, silentFrames, mixFrames, 100*float64(silentFrames)/float64(max(mixFrames, 1)), silentPhones, cfg.phones, minTracks, cfg.browsers-1+cfg.phones, cfg.browsers-1+cfg.phones, ended, camWarnings(d))
	verdict := "under"
	if full.cores() >= 1 {
		verdict = "NOT under"
	}
	fmt.Fprintf(w, "civicd with %d phones and %d browsers: %.2f cores, %s the target of one core.\n\n", cfg.phones, cfg.browsers, full.cores(), verdict)
	return nil
}

// numCPU is the machine's logical CPUs.
func numCPU() int { return max(1, runtime.NumCPU()) }

// silentRMS is the RMS under which a frame of the mix counts as silence.
const silentRMS = 50

// countSilent counts the PCMU frames of silence a phone receives in the
// window.
func countSilent(l *phoneLeg, at int64, pkt *rtp.Packet) {
	if pkt.PayloadType != 0 || !l.clk.in(at) || len(pkt.Payload) == 0 {
		return
	}
	var sum float64
	for _, c := range pkt.Payload {
		v := float64(g711.UlawToLinear(c))
		sum += v * v
	}
	if math.Sqrt(sum/float64(len(pkt.Payload))) < silentRMS {
		l.rx.silentFrames.Add(1)
	}
}
