// Command civicbench measures civicd's SFU as a separate process, the way
// it will be compared side by side with LiveKit: it starts a civicd
// binary on loopback in a scratch data directory, joins Go participants
// (conference/confclient, all in this process) through the console
// protocol, runs the performance scenarios of issue 3, and prints a
// Markdown table per scenario: the daemon's CPU (from /proc) per
// forwarded Mbit and per 1,000 forwarded packets, forwarding latency from
// the publisher's write to the subscriber's read, loss, and the daemon's
// RSS per participant. It also reports its own CPU and the machine's, so
// that a saturated client side is visible.
//
//	go run ./cmd/civicbench -scenario all
//	go run ./cmd/civicbench -civicd ./civicd -scenario a -window 20s
//
// With -scenario sip it measures civicd's SIP side instead (issue 4):
// sipp registering extensions with digest authentication at a fixed rate,
// placing authenticated calls through the B2BUA, and holding concurrent
// G.711 calls through the RTP relay, plus the same REGISTER load against
// Kamailio as a reference in the same run (see sip.go).
//
//	go run ./cmd/civicbench -scenario sip
//
// With -scenario building it measures the access-control side (issue 5):
// civicsim's simulated door controllers swiping cards over MQTT against
// civicd's embedded broker (card → decision latency), and door changes
// fanned out to console websockets on building.doors (see building.go).
//
//	go run ./cmd/civicbench -scenario building
//
// With -scenario cameras it measures live view and camera health (issue
// 6): one camera to 20 WebRTC viewers, 200 monitored cameras, and the
// time to a new viewer's first picture (see cameras.go).
//
//	go run ./cmd/civicbench -scenario cameras
//
// It is a developer tool: it needs Linux (/proc), the go command when
// -civicd is not given, and sipp (and kamailio) for the SIP parts; nothing
// imports it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command's flags.
type options struct {
	civicd   string
	scenario string
	window   time.Duration
	warmup   time.Duration
	timeout  time.Duration
	perScen  time.Duration
	limit    int
	workers  int
	verbose  bool
	pace     bool
	keep     bool

	daemonEnv                 string
	sipp, kamailio            string
	sipExtensions             int
	regRate, regCount         int
	callers, callees          int
	callRate, callCount       int
	callHold                  time.Duration
	relayCalls, relayRate     int
	relayHold, sipPartTimeout time.Duration

	civicsim                       string
	bControllers, bDoors           int
	bCardholders, bNoAccess, bUnkn int
	bSwipeRate, bChangeRate        float64
	bWatchers                      int
	bWindow, bWarmup, bPartTimeout time.Duration

	cams   camerasOptions
	phs    phonesOptions
	phones []string // the phones parts chosen
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("civicbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.civicd, "civicd", "", "a built civicd binary; default: go build ./cmd/civicd into a temporary directory")
	fs.StringVar(&o.scenario, "scenario", "all", "a, b, c1, c2 or all (the conference scenarios); sip (all of sip-register, sip-kamailio, sip-calls, sip-relay); building (building-swipes and building-fanout); cameras (cameras-viewers, cameras-health, cameras-first-frame); phones (phones-bridge, phones-latency); a comma-separated list also works")
	fs.DurationVar(&o.window, "window", 10*time.Second, "measurement window of each scenario")
	fs.DurationVar(&o.warmup, "warmup", 3*time.Second, "wait after every track delivers, before the window")
	fs.DurationVar(&o.timeout, "timeout", 6*time.Minute, "bound on the whole run, build included")
	fs.DurationVar(&o.perScen, "scenario-timeout", 90*time.Second, "bound on each scenario, start-up to tear-down")
	fs.IntVar(&o.limit, "meeting-limit", 0, "split scenarios into meetings of at most this many participants; 0: the scenario's own shape (the daemon is started with meetings.max_participants 1000)")
	fs.IntVar(&o.workers, "join-workers", 8, "participants joining at once")
	fs.BoolVar(&o.pace, "pace", false, "spread each video frame's packets at 2.5× the bitrate, as a browser's pacer does, instead of sending the frame as one burst")
	fs.BoolVar(&o.verbose, "v", false, "log progress to stderr, and pion's own log")
	fs.BoolVar(&o.keep, "keep", false, "keep the scratch directory (data directories, sipp's screens, statistics and scenarios) and print where it is")
	fs.StringVar(&o.daemonEnv, "daemon-env", "", "extra environment for civicd in the SIP parts, comma-separated KEY=VALUE (e.g. GOGC=50,GOMEMLIMIT=200MiB), for experiments")
	fs.StringVar(&o.sipp, "sipp", lookTool("sipp", "sip-tester"), "the sipp binary, for the SIP parts")
	fs.StringVar(&o.kamailio, "kamailio", lookTool("kamailio"), "the kamailio binary, for the reference in sip-kamailio; empty skips it")
	fs.IntVar(&o.sipExtensions, "sip-extensions", 1000, "extensions that register in sip-register and sip-kamailio")
	fs.IntVar(&o.regRate, "sip-register-rate", 3000, "REGISTER/s offered (each a challenge and an authenticated REGISTER)")
	fs.IntVar(&o.regCount, "sip-register-count", 30000, "registrations in all")
	fs.IntVar(&o.callers, "sip-callers", 100, "caller extensions in sip-calls and sip-relay")
	fs.IntVar(&o.callees, "sip-callees", 10, "answering extensions (all registered by the one answering sipp)")
	fs.IntVar(&o.callRate, "sip-call-rate", 200, "calls/s offered in sip-calls")
	fs.IntVar(&o.callCount, "sip-call-count", 4000, "calls in sip-calls")
	fs.DurationVar(&o.callHold, "sip-call-hold", time.Second, "length of each call in sip-calls")
	fs.IntVar(&o.relayCalls, "sip-relay-calls", 200, "concurrent calls with RTP in sip-relay")
	fs.IntVar(&o.relayRate, "sip-relay-rate", 50, "calls/s while sip-relay sets its calls up")
	fs.DurationVar(&o.relayHold, "sip-relay-hold", 30*time.Second, "length of each call in sip-relay")
	fs.DurationVar(&o.sipPartTimeout, "sip-part-timeout", 3*time.Minute, "bound on each SIP part, start-up to tear-down")
	fs.StringVar(&o.civicsim, "civicsim", "", "a built civicsim binary, for the building parts; default: go build ./cmd/civicsim into the scratch directory")
	fs.IntVar(&o.bControllers, "building-controllers", 10, "simulated door controllers in the building parts")
	fs.IntVar(&o.bDoors, "building-doors", 50, "doors per controller (each with an in and an out reader)")
	fs.IntVar(&o.bCardholders, "building-cardholders", 1000, "cardholders (one card each) in building-swipes")
	fs.IntVar(&o.bNoAccess, "building-no-access", 100, "of the cardholders, how many have no access level (denied no_access)")
	fs.IntVar(&o.bUnkn, "building-unknown-cards", 100, "cards swiped in building-swipes that no cardholder has (denied unknown_card)")
	fs.Float64Var(&o.bSwipeRate, "building-swipe-rate", 200, "card swipes/s over every reader in building-swipes")
	fs.Float64Var(&o.bChangeRate, "building-change-rate", 100, "door changes/s in building-fanout")
	fs.IntVar(&o.bWatchers, "building-watchers", 50, "console websockets subscribed to building.doors in building-fanout")
	fs.DurationVar(&o.bWindow, "building-window", 30*time.Second, "measurement window of each building part")
	fs.DurationVar(&o.bWarmup, "building-warmup", 3*time.Second, "wait after every controller connected (and the websockets subscribed), before the window")
	fs.DurationVar(&o.bPartTimeout, "building-part-timeout", 3*time.Minute, "bound on each building part, start-up to tear-down")
	o.cams.register(fs)
	o.phs.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "civicbench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	rest, bldChosen := pickBuilding(o.scenario)
	rest, camChosen := pickCameras(rest)
	rest, o.phones = pickPhones(rest)
	if len(o.phones) > 0 && !flagSet(fs, "timeout") {
		o.timeout += o.phs.budget(o.phones)
	}
	if len(camChosen) > 0 && !flagSet(fs, "timeout") {
		o.timeout += o.cams.budget(camChosen)
	}
	var chosen []scenario
	var sipChosen []string
	if rest != "" || len(bldChosen) == 0 && len(camChosen) == 0 && len(o.phones) == 0 {
		var err error
		if chosen, sipChosen, err = pick(rest); err != nil {
			fmt.Fprintln(stderr, "civicbench:", err)
			return 2
		}
	}
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := bench(ctx, o, chosen, sipChosen, bldChosen, camChosen, stdout, log); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (the -timeout is %s)", err, o.timeout)
		}
		fmt.Fprintln(stderr, "civicbench:", err)
		return 1
	}
	return 0
}

// pick returns the conference scenarios and the SIP parts named by the
// -scenario flag.
func pick(names string) ([]scenario, []string, error) {
	var conf []scenario
	var sip []string
	for name := range strings.SplitSeq(names, ",") {
		name = strings.TrimSpace(name)
		switch name {
		case "all":
			conf = append(conf, scenarios...)
			continue
		case "sip":
			for _, p := range sipParts {
				sip = append(sip, p.Name)
			}
			continue
		}
		found := false
		for _, sc := range scenarios {
			if sc.Name == name {
				conf, found = append(conf, sc), true
			}
		}
		for _, p := range sipParts {
			if p.Name == name {
				sip, found = append(sip, p.Name), true
			}
		}
		if !found {
			return nil, nil, fmt.Errorf("unknown scenario %q; want a, b, c1, c2, all, sip, building, cameras or one of sip-register, sip-kamailio, sip-calls, sip-relay, building-swipes, building-fanout, cameras-viewers, cameras-health, cameras-first-frame, phones, phones-bridge, phones-latency", name)
		}
	}
	return conf, sip, nil
}

// pickParts takes the parts of one group out of the -scenario list
// (the group's own name is all of them), in the order given and without
// repeats, and returns the rest of the list.
func pickParts(names, group string, all []string) (rest string, parts []string) {
	var others []string
	for name := range strings.SplitSeq(names, ",") {
		name = strings.TrimSpace(name)
		found := false
		for _, p := range all {
			if name == group || name == p {
				found = true
				if !slices.Contains(parts, p) {
					parts = append(parts, p)
				}
			}
		}
		if !found && name != "" {
			others = append(others, name)
		}
	}
	return strings.Join(others, ","), parts
}

// partNames lists the names of a group's parts.
func partNames(ps []struct{ Name, Title string }) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

// pickBuilding takes the building parts out of the -scenario list
// ("building" is both) and returns the rest of the list.
func pickBuilding(names string) (rest string, parts []string) {
	return pickParts(names, "building", partNames(buildingParts))
}

// bench builds civicd if needed and runs each scenario on a fresh daemon,
// printing its table as soon as it is done.
func bench(ctx context.Context, o options, chosen []scenario, sipChosen, bldChosen, camChosen []string, w io.Writer, log *slog.Logger) error {
	dir, err := os.MkdirTemp("", "civicbench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(os.Stderr, "civicbench: keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bin := o.civicd
	if bin == "" {
		log.Info("building civicd")
		if bin, err = buildDaemon(ctx, dir); err != nil {
			return err
		}
	}
	ticks, exact := clockTicks()
	if len(o.phones) > 0 {
		if err := benchPhones(ctx, o, bin, dir, ticks, o.phones, w, log); err != nil {
			return err
		}
	}
	if len(chosen) == 0 {
		if len(sipChosen) > 0 {
			if err := benchSIP(ctx, o, bin, dir, ticks, sipChosen, w, log); err != nil {
				return err
			}
		}
		if len(bldChosen) > 0 {
			if err := benchBuilding(ctx, o, bin, dir, ticks, bldChosen, w, log); err != nil {
				return err
			}
		}
		if len(camChosen) > 0 {
			return benchCameras(ctx, o.cams, bin, dir, ticks, o.verbose, camChosen, w, log)
		}
		return nil
	}
	cfg := config{
		Civicd: bin, Dir: dir, Warmup: o.warmup, Window: o.window, MeetingLimit: o.limit,
		Timeout: o.perScen, JoinWorkers: o.workers, Ticks: ticks, Paced: o.pace, Verbose: o.verbose, Log: log,
	}
	cores := runtime.NumCPU()
	idle, err := machineBusy(ctx, time.Second)
	if err != nil {
		return err
	}
	if idle > 0.2 {
		log.Warn("the machine is busy before the bench starts; the numbers will be noisy", "busy", fmt.Sprintf("%.0f%%", 100*idle))
	}
	fmt.Fprintf(w, "## civicbench\n\n")
	sending := "each video frame is sent as one burst of packets (no pacer)"
	if o.pace {
		sending = "each video frame's packets are paced at 2.5× the bitrate"
	}
	fmt.Fprintf(w, "`civicbench %s`: %d cores (%s), %s; window %s after a %s warm-up; a fresh civicd for each scenario; every client a pion peer in this process, on 127.0.0.1; %s. Machine busy in the second before the run: %.0f%%.\n\n",
		strings.Join(os.Args[1:], " "), cores, cpuModel(), runtime.Version(), o.window, o.warmup, sending, 100*idle)
	var results []*result
	for i, sc := range chosen {
		if sc.Note != "" && (i == 0 || chosen[i-1].Note != sc.Note) {
			fmt.Fprintf(w, "%s\n\n", sc.Note)
		}
		r, err := runScenario(ctx, cfg, sc)
		if err != nil {
			return fmt.Errorf("scenario %s: %w", sc.Name, err)
		}
		writeResult(w, r, cores, exact)
		results = append(results, r)
	}
	if len(results) > 1 {
		writeSummary(w, results, cores)
	}
	if len(sipChosen) > 0 {
		if err := benchSIP(ctx, o, bin, dir, ticks, sipChosen, w, log); err != nil {
			return err
		}
	}
	if len(bldChosen) > 0 {
		if err := benchBuilding(ctx, o, bin, dir, ticks, bldChosen, w, log); err != nil {
			return err
		}
	}
	if len(camChosen) > 0 {
		return benchCameras(ctx, o.cams, bin, dir, ticks, o.verbose, camChosen, w, log)
	}
	return nil
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// benchBuilding runs the building parts and prints their tables.
func benchBuilding(ctx context.Context, o options, bin, dir string, ticks int64, parts []string, w io.Writer, log *slog.Logger) error {
	cfg := buildingConfig{
		Civicd: bin, Civicsim: o.civicsim, Dir: dir, Ticks: ticks, Log: log, Timeout: o.bPartTimeout,
		Controllers: o.bControllers, DoorsPer: o.bDoors, Warmup: o.bWarmup, Window: o.bWindow,
		Cardholders: o.bCardholders, NoAccess: o.bNoAccess, Unknown: o.bUnkn, SwipeRate: o.bSwipeRate,
		ChangeRate: o.bChangeRate, Watchers: o.bWatchers,
	}
	for kv := range strings.SplitSeq(o.daemonEnv, ",") {
		if kv = strings.TrimSpace(kv); kv != "" {
			if !strings.Contains(kv, "=") {
				return fmt.Errorf("-daemon-env: %q is not KEY=VALUE", kv)
			}
			cfg.DaemonEnv = append(cfg.DaemonEnv, kv)
		}
	}
	if cfg.Controllers < 1 || cfg.DoorsPer < 1 || cfg.SwipeRate <= 0 || cfg.ChangeRate <= 0 || cfg.Watchers < 1 ||
		cfg.Cardholders < 0 || cfg.NoAccess < 0 || cfg.NoAccess > cfg.Cardholders || cfg.Unknown < 0 || cfg.Cardholders+cfg.Unknown < 1 {
		return errors.New("the -building-* counts and rates must be positive, with at most as many no-access cardholders as cardholders")
	}
	if cfg.Civicsim == "" {
		log.Info("building civicsim")
		var err error
		if cfg.Civicsim, err = buildSim(ctx, dir); err != nil {
			return err
		}
	}
	busy, err := othersBusy(ctx, ticks, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "## civicbench building\n\n")
	fmt.Fprintf(w, "`civicbench %s`: %d cores (%s), %s; a fresh civicd (log level info, embedded MQTT broker) for each part, civicsim as a separate process, everything on 127.0.0.1. Other processes in the second before the run: %.2f cores.\n\n",
		strings.Join(os.Args[1:], " "), runtime.NumCPU(), cpuModel(), runtime.Version(), busy.Seconds())
	_, err = runBuilding(ctx, cfg, parts, w)
	return err
}

// benchSIP runs the SIP parts and prints their tables and summary.
func benchSIP(ctx context.Context, o options, bin, dir string, ticks int64, parts []string, w io.Writer, log *slog.Logger) error {
	if o.sipp == "" {
		return errors.New("the SIP parts need sipp (Debian: apt-get install sip-tester), or -sipp PATH")
	}
	cfg := sipConfig{
		Civicd: bin, Sipp: o.sipp, Kamailio: o.kamailio, Dir: dir, Ticks: ticks, Log: log, Timeout: o.sipPartTimeout,
		Extensions: o.sipExtensions, RegRate: o.regRate, RegCount: o.regCount,
		Callers: o.callers, Callees: o.callees, CallRate: o.callRate, CallCount: o.callCount, CallHold: o.callHold,
		RelayCalls: o.relayCalls, RelayRate: o.relayRate, RelayHold: o.relayHold,
	}
	for kv := range strings.SplitSeq(o.daemonEnv, ",") {
		if kv = strings.TrimSpace(kv); kv != "" {
			if !strings.Contains(kv, "=") {
				return fmt.Errorf("-daemon-env: %q is not KEY=VALUE", kv)
			}
			cfg.DaemonEnv = append(cfg.DaemonEnv, kv)
		}
	}
	if cfg.Extensions < 1 || cfg.Callers < 1 || cfg.Callees < 1 || cfg.RegRate < 1 || cfg.CallRate < 1 || cfg.RelayRate < 1 {
		return errors.New("the -sip-* counts and rates must be at least 1")
	}
	busy, err := othersBusy(ctx, ticks, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "## civicbench SIP\n\n")
	fmt.Fprintf(w, "`civicbench %s`: %d cores (%s), %s, %s, %s; a fresh civicd (log level info) for each civicd part, everything on 127.0.0.1. Other processes in the second before the run: %.2f cores.\n\n",
		strings.Join(os.Args[1:], " "), runtime.NumCPU(), cpuModel(), runtime.Version(), toolVersion(o.sipp, "-v"), kamailioVersion(o.kamailio), busy.Seconds())
	results, err := runSIP(ctx, cfg, parts, w)
	if len(results) > 0 {
		writeSIPSummary(w, results)
	}
	return err
}

// kamailioVersion is "kamailio 5.6.3 (x86_64/linux)", or "no kamailio".
func kamailioVersion(bin string) string {
	if bin == "" {
		return "no kamailio"
	}
	return strings.TrimPrefix(toolVersion(bin, "-v"), "version: ")
}

// toolVersion is the first line of a tool's version output that names a
// version, e.g. "SIPp v3.6.1-SCTP-PCAP-RTPSTREAM".
func toolVersion(bin string, arg string) string {
	out, _ := exec.Command(bin, arg).CombinedOutput()
	for line := range strings.Lines(string(out)) {
		if l := strings.TrimSpace(line); l != "" {
			return l
		}
	}
	return bin
}

// machineBusy is the share of all cores busy over d.
func machineBusy(ctx context.Context, d time.Duration) (float64, error) {
	b0, t0, err := machineCPU()
	if err != nil {
		return 0, err
	}
	if err := sleep(ctx, d); err != nil {
		return 0, err
	}
	b1, t1, err := machineCPU()
	if err != nil || t1 == t0 {
		return 0, err
	}
	return float64(b1-b0) / float64(t1-t0), nil
}

// cpuModel is the first "model name" in /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// othersBusy measures for a second how much CPU the other processes of
// the machine use, and warns when it is enough to make the numbers
// noisy. The bench's header prints it.
func othersBusy(ctx context.Context, ticks int64, log *slog.Logger) (time.Duration, error) {
	before := allProcs()
	if err := sleep(ctx, time.Second); err != nil {
		return 0, err
	}
	busy := ticksToDuration(othersCPU(before, allProcs(), []int{os.Getpid()}), ticks)
	if busy > 200*time.Millisecond {
		log.Warn("other processes are busy before the bench starts; the numbers will be noisy", "cores", fmt.Sprintf("%.2f", busy.Seconds()))
	}
	return busy, nil
}

// runParts runs each named part with its own timeout, stopping at the
// first that fails.
func runParts(ctx context.Context, parts []string, timeout time.Duration, run func(ctx context.Context, part string) error) error {
	for _, p := range parts {
		pctx, cancel := context.WithTimeout(ctx, timeout)
		err := run(pctx, p)
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}
