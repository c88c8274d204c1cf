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
// It is a developer tool: it needs Linux (/proc) and the go command when
// -civicd is not given, and nothing imports it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
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
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("civicbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.civicd, "civicd", "", "a built civicd binary; default: go build ./cmd/civicd into a temporary directory")
	fs.StringVar(&o.scenario, "scenario", "all", "a, b, c1, c2 or all (a comma-separated list also works)")
	fs.DurationVar(&o.window, "window", 10*time.Second, "measurement window of each scenario")
	fs.DurationVar(&o.warmup, "warmup", 3*time.Second, "wait after every track delivers, before the window")
	fs.DurationVar(&o.timeout, "timeout", 3*time.Minute, "bound on the whole run, build included")
	fs.DurationVar(&o.perScen, "scenario-timeout", 90*time.Second, "bound on each scenario, start-up to tear-down")
	fs.IntVar(&o.limit, "meeting-limit", 0, "split scenarios into meetings of at most this many participants; 0: the scenario's own shape (the daemon is started with meetings.max_participants 1000)")
	fs.IntVar(&o.workers, "join-workers", 8, "participants joining at once")
	fs.BoolVar(&o.pace, "pace", false, "spread each video frame's packets at 2.5× the bitrate, as a browser's pacer does, instead of sending the frame as one burst")
	fs.BoolVar(&o.verbose, "v", false, "log progress to stderr, and pion's own log")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "civicbench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	chosen, err := pick(o.scenario)
	if err != nil {
		fmt.Fprintln(stderr, "civicbench:", err)
		return 2
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
	if err := bench(ctx, o, chosen, stdout, log); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (the -timeout is %s)", err, o.timeout)
		}
		fmt.Fprintln(stderr, "civicbench:", err)
		return 1
	}
	return 0
}

// pick returns the scenarios named by the -scenario flag.
func pick(names string) ([]scenario, error) {
	if names == "all" {
		return scenarios, nil
	}
	var out []scenario
	for name := range strings.SplitSeq(names, ",") {
		found := false
		for _, sc := range scenarios {
			if sc.Name == strings.TrimSpace(name) {
				out, found = append(out, sc), true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown scenario %q; want a, b, c1, c2 or all", name)
		}
	}
	return out, nil
}

// bench builds civicd if needed and runs each scenario on a fresh daemon,
// printing its table as soon as it is done.
func bench(ctx context.Context, o options, chosen []scenario, w io.Writer, log *slog.Logger) error {
	dir, err := os.MkdirTemp("", "civicbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := o.civicd
	if bin == "" {
		log.Info("building civicd")
		if bin, err = buildDaemon(ctx, dir); err != nil {
			return err
		}
	}
	ticks, exact := clockTicks()
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
	return nil
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
