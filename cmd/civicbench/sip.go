package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"civic/conference/confclient"
	"civic/internal/store"
)

// The SIP bench (issue 4): sipp against civicd's registrar and B2BUA, and
// the same REGISTER load against Kamailio as a reference, all on
// 127.0.0.1. Each part runs on a fresh civicd.

// sipParts are the SIP bench's parts, in the order they run.
var sipParts = []struct{ Name, Title string }{
	{"sip-register", "digest-authenticated REGISTER at a fixed rate"},
	{"sip-kamailio", "the same REGISTER load against Kamailio"},
	{"sip-calls", "call set-up and tear-down through the B2BUA"},
	{"sip-relay", "concurrent G.711 calls held with RTP through the relay"},
}

// sipConfig is what the SIP parts run with.
type sipConfig struct {
	Civicd   string
	Sipp     string
	Kamailio string // empty: the Kamailio part is skipped
	Dir      string
	Ticks    int64
	Log      *slog.Logger
	Timeout  time.Duration // per part
	// DaemonEnv is added to civicd's environment (GOGC, GOMEMLIMIT...).
	DaemonEnv []string

	Extensions int // registering extensions
	RegRate    int // REGISTER/s offered
	RegCount   int

	Callers, Callees int
	CallRate         int // calls/s offered
	CallCount        int
	CallHold         time.Duration

	RelayCalls int
	RelayRate  int
	RelayHold  time.Duration
}

// Media ports of the call parts, below Linux's ephemeral range (32768
// and up, where the free ports for sipp's SIP come from): civicd's relay,
// and each sipp's media port (-mp; sipp binds it and the one two above).
const (
	civicdRTPPorts = "20000-21999"
	uacMediaPort   = 22000
	uasMediaPort   = 24000
)

// sipEnv is civicd's SIP configuration for the bench: loopback, MD5 only
// (sipp 3.6 knows no SHA-256 digest), the guessing limits and the
// per-source request rate limit (503 above 100 requests/s) out of the way
// of one busy source address, as for a proxy in front of civicd, and the
// relay's ports. The console's
// per-connection message rate is raised so that creating the extensions
// is not throttled (20 messages/s by default).
func sipEnv() []string {
	return []string{
		"CIVIC_WS_RATE=100000",
		"CIVIC_WS_BURST=100000",
		"CIVIC_SIP_LISTEN=127.0.0.1:0",
		"CIVIC_SIP_TLS_LISTEN=",
		"CIVIC_SIP_DIGEST_ALGORITHMS=MD5",
		"CIVIC_SIP_AUTH_MAX_FAILURES_PER_SOURCE=1000000",
		"CIVIC_SIP_AUTH_MAX_FAILURES_PER_EXTENSION=1000000",
		"CIVIC_SIP_AUTH_MAX_REQUESTS_PER_SOURCE=0",
		"CIVIC_SIP_RTP_PORTS=" + civicdRTPPorts,
	}
}

// sipPassword is extension n's SIP password; the Kamailio reference
// derives the same one from the user name.
func sipPassword(n int) string { return fmt.Sprintf("pw-%d-civicbench", n) }

// sipResult is one SIP measurement: one sipp load against one server.
type sipResult struct {
	Part    string
	Server  string // "civicd", "Kamailio (digest)", ...
	Offered float64
	Unit    string // "REGISTER/s", "calls/s", "calls"
	Count   int
	Hold    time.Duration // call length (-d)
	Sipp    *sippResult
	UAS     *sippResult

	// The server's CPU while the load ran (sipp's start to its exit),
	// and, for the relay, in the window with every call up.
	CPU                time.Duration
	Window             time.Duration
	WindowCPU          time.Duration
	WindowConcurrent   [2]int // least and most calls up in the window
	windowFrom         time.Time
	windowTo           time.Time
	PeakRSS, RSSBefore int64
	OtherCPU           time.Duration // used by other processes during the load
	// Datagrams the kernel dropped during the load because the receive
	// buffer was full: at the server's SIP socket, at the load sipp's.
	ServerDrops, SippDrops uint64

	Relay        bool // calls with RTP, measured in a window with all of them up
	Records      map[string]int
	RTPPackets   uint64    // relayed, both directions, from the call records
	RTPByLeg     [2]uint64 // from the callers, from the callees
	Warnings     int
	Notes        []string
	SippCommands []string
}

// Achieved is the completed rate: successful calls over sipp's run time,
// less one call's hold (the first completes only after it).
func (r *sipResult) Achieved() float64 {
	if r.Sipp == nil {
		return 0
	}
	t := r.Sipp.Screen.TotalTime
	if t <= 0 {
		t = r.Sipp.Wall
	}
	t -= r.Hold
	if t <= 0 {
		return 0
	}
	return float64(r.Sipp.Screen.Successful) / t.Seconds()
}

// CPUPerOp is the server's CPU per successful call (or registration).
func (r *sipResult) CPUPerOp() time.Duration {
	if r.Sipp == nil || r.Sipp.Screen.Successful == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Sipp.Screen.Successful)
}

// RelayedPerSecond is the relay's packet rate with every call up: the
// packets of the call records over one call's length.
func (r *sipResult) RelayedPerSecond() float64 {
	if r.Hold <= 0 {
		return 0
	}
	return float64(r.RTPPackets) / r.Hold.Seconds()
}

// WindowCores is the server's CPU in the window with every call up.
func (r *sipResult) WindowCores() float64 {
	if r.Window <= 0 {
		return 0
	}
	return r.WindowCPU.Seconds() / r.Window.Seconds()
}

// CPUPerPacket is the server's CPU per relayed RTP packet in the window.
func (r *sipResult) CPUPerPacket() time.Duration {
	pps := r.RelayedPerSecond()
	if pps == 0 || r.Window <= 0 {
		return 0
	}
	return time.Duration(float64(r.WindowCPU) / (pps * r.Window.Seconds()))
}

// OtherLoad is the cores other processes (not the server, sipp or this
// bench) used during the load: other work on a shared machine.
func (r *sipResult) OtherLoad() float64 {
	if r.Sipp == nil || r.Sipp.Wall <= 0 {
		return 0
	}
	return r.OtherCPU.Seconds() / r.Sipp.Wall.Seconds()
}

// dropCounter reads the receive-buffer drops of the server's SIP socket
// since it was made. (sipp's own are watched while it runs: sippProc.)
type dropCounter struct {
	port   int
	before uint64
}

func newDropCounter(serverAddr string) *dropCounter {
	c := &dropCounter{}
	if _, p, err := net.SplitHostPort(serverAddr); err == nil {
		c.port, _ = strconv.Atoi(p)
	}
	c.before, _ = udpDrops(c.port)
	return c
}

// read returns the server socket's drops since the counter was made.
func (c *dropCounter) read() uint64 {
	if n, ok := udpDrops(c.port); ok && n >= c.before {
		return n - c.before
	}
	return 0
}

// ticksToDuration converts clock ticks (USER_HZ) to time.
func ticksToDuration(t, ticks int64) time.Duration {
	return time.Duration(t) * time.Second / time.Duration(ticks)
}

// Cores is the server's CPU over sipp's run.
func (r *sipResult) Cores() float64 {
	if r.Sipp == nil || r.Sipp.Wall <= 0 {
		return 0
	}
	return r.CPU.Seconds() / r.Sipp.Wall.Seconds()
}

// runSIP runs the chosen SIP parts and prints their tables.
func runSIP(ctx context.Context, cfg sipConfig, parts []string, w io.Writer) ([]*sipResult, error) {
	var results []*sipResult
	for _, part := range parts {
		pctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		var rs []*sipResult
		var err error
		switch part {
		case "sip-register":
			rs, err = sipRegister(pctx, cfg)
		case "sip-kamailio":
			if cfg.Kamailio == "" {
				cfg.Log.Warn("kamailio not found; skipping the reference")
				cancel()
				continue
			}
			rs, err = sipKamailio(pctx, cfg)
		case "sip-calls":
			rs, err = sipCalls(pctx, cfg, false)
		case "sip-relay":
			rs, err = sipCalls(pctx, cfg, true)
		}
		cancel()
		if err != nil {
			return results, fmt.Errorf("%s: %w", part, err)
		}
		for _, r := range rs {
			writeSIPResult(w, r, runtime.NumCPU())
		}
		results = append(results, rs...)
	}
	return results, nil
}

// sipDaemon starts a fresh civicd for one part with the bench's SIP
// settings and returns it with its SIP address.
func sipDaemon(ctx context.Context, cfg sipConfig, part string, extra ...string) (*daemon, string, error) {
	env := append(append(sipEnv(), cfg.DaemonEnv...), extra...)
	d, err := startDaemon(ctx, cfg.Civicd, filepath.Join(cfg.Dir, part), env...)
	if err != nil {
		return nil, "", err
	}
	addr, err := d.waitSIP(ctx)
	if err != nil {
		d.stop()
		return nil, "", err
	}
	cfg.Log.Info("civicd up", "part", part, "sip", addr, "pid", d.PID())
	return d, addr, nil
}

// createExtensions makes extensions first..first+n-1 with sipPassword
// through the console websocket (voip.extensions.create), as an admin
// would, over a few connections at once.
func createExtensions(ctx context.Context, d *daemon, first, n int) error {
	opts := confclient.Options{TLS: d.TLS}
	token, err := confclient.Login(ctx, d.URL, "admin", d.Password, opts)
	if err != nil {
		return err
	}
	const conns = 4
	var wg sync.WaitGroup
	errs := make([]error, conns)
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := confclient.Dial(ctx, d.URL, token, opts)
			if err != nil {
				errs[c] = err
				return
			}
			defer cl.Close()
			for i := c; i < n; i += conns {
				num := first + i
				p := map[string]any{"number": strconv.Itoa(num), "name": fmt.Sprintf("Bench %d", num), "password": sipPassword(num)}
				if err := cl.Call(ctx, "voip.extensions.create", p, nil); err != nil {
					errs[c] = fmt.Errorf("extension %d: %w", num, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// sipRegister is part 1: REGISTER with digest authentication, RegCount of
// them at RegRate, spread over Extensions extensions.
func sipRegister(ctx context.Context, cfg sipConfig) ([]*sipResult, error) {
	d, addr, err := sipDaemon(ctx, cfg, "sip-register")
	if err != nil {
		return nil, err
	}
	defer d.stop()
	dir := filepath.Join(cfg.Dir, "sip-register")
	start := time.Now()
	if err := createExtensions(ctx, d, firstRegistering, cfg.Extensions); err != nil {
		return nil, err
	}
	setup := time.Since(start)
	cfg.Log.Info("extensions created", "n", cfg.Extensions, "after", setup.Round(time.Millisecond))
	r, err := registerLoad(ctx, cfg, dir, addr, d.PID(), nil, "civicd", true)
	if err != nil {
		return nil, err
	}
	r.Notes = append(r.Notes, fmt.Sprintf("%d extensions created through the console websocket (`voip.extensions.create`) in %.1f s before the load", cfg.Extensions, setup.Seconds()))
	r.Warnings = d.logs.count(`"level":"WARN"`) + d.logs.count(`"level":"ERROR"`)
	return []*sipResult{r}, nil
}

// registerLoad runs the REGISTER scenario against addr and measures the
// server: pid, or the process tree of pid when tree is set (Kamailio's
// workers are child processes).
func registerLoad(ctx context.Context, cfg sipConfig, dir, addr string, pid int, tree *procTree, server string, auth bool) (*sipResult, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	rows := make([][]string, cfg.Extensions)
	for i := range rows {
		n := firstRegistering + i
		rows[i] = []string{strconv.Itoa(n), sippAuth(strconv.Itoa(n), sipPassword(n))}
	}
	inf := filepath.Join(dir, "extensions.csv")
	if err := writeInjection(inf, rows); err != nil {
		return nil, err
	}
	scenario := "register.xml"
	if !auth {
		scenario = "register_noauth.xml"
	}
	sf, err := writeScenario(dir, scenario, false, "")
	if err != nil {
		return nil, err
	}
	ooc, err := writeScenario(dir, "ooc.xml", false, "")
	if err != nil {
		return nil, err
	}
	port, err := freeUDPPair()
	if err != nil {
		return nil, err
	}
	cpu := func() (int64, error) {
		if tree != nil {
			return tree.cpu()
		}
		return procCPU(pid)
	}
	rss := func() (int64, error) {
		if tree != nil {
			return tree.peakRSS()
		}
		return procPeakRSS(pid)
	}
	r := &sipResult{Part: "sip-register", Server: server, Offered: float64(cfg.RegRate), Unit: "REGISTER/s", Count: cfg.RegCount}
	if r.RSSBefore, err = rss(); err != nil {
		return nil, err
	}
	c0, err := cpu()
	if err != nil {
		return nil, err
	}
	procs0 := allProcs()
	drops := newDropCounter(addr)
	args := []string{addr, "-sf", sf, "-oocsf", ooc, "-inf", inf, "-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"-r", strconv.Itoa(cfg.RegRate), "-m", strconv.Itoa(cfg.RegCount), "-timeout", strconv.Itoa(cfg.RegCount/max(1, cfg.RegRate)+60) + "s",
		"-max_recv_loops", "10000"}
	p, err := startSipp(ctx, cfg.Sipp, dir, "register", args)
	if err != nil {
		return nil, err
	}
	res, err := p.wait(ctx)
	if err != nil {
		return nil, err
	}
	c1, err := cpu()
	if err != nil {
		return nil, err
	}
	r.OtherCPU = ticksToDuration(othersCPU(procs0, allProcs(), []int{os.Getpid()}), cfg.Ticks)
	r.ServerDrops, r.SippDrops = drops.read(), res.Drops
	r.Sipp = res
	r.SippCommands = []string{res.Command}
	r.CPU = ticksToDuration(c1-c0, cfg.Ticks)
	if r.PeakRSS, err = rss(); err != nil {
		return nil, err
	}
	return r, nil
}

// The extension numbers: those that register in sip-register (and the
// user names sent to Kamailio), the callers and the answering phones.
const (
	firstRegistering = 10000
	firstCaller      = 10000
	firstCallee      = 20000
)

// sipCalls is part 2 (calls per second, no media) or, with rtp, part 3
// (RelayCalls concurrent calls held RelayHold with G.711 both ways).
// One sipp registers the callee extensions from the port a second sipp
// then answers on; a third sipp places the calls, authenticating each
// INVITE as one of the caller extensions.
func sipCalls(ctx context.Context, cfg sipConfig, rtp bool) ([]*sipResult, error) {
	part := "sip-calls"
	if rtp {
		part = "sip-relay"
	}
	d, addr, err := sipDaemon(ctx, cfg, part)
	if err != nil {
		return nil, err
	}
	defer d.stop()
	dir := filepath.Join(cfg.Dir, part)
	start := time.Now()
	if err := createExtensions(ctx, d, firstCaller, cfg.Callers); err != nil {
		return nil, err
	}
	if err := createExtensions(ctx, d, firstCallee, cfg.Callees); err != nil {
		return nil, err
	}
	audio := ""
	if rtp {
		audio = filepath.Join(dir, "tone.ulaw")
		if err := writeMuLaw(audio, 2*time.Second); err != nil {
			return nil, err
		}
	}

	// The answering sipp's port: the callees register from it, so civicd
	// sends their INVITEs there (it calls the address a REGISTER came
	// from, as for a phone behind NAT).
	uasPort, err := freeUDPPair()
	if err != nil {
		return nil, err
	}
	var calleeRows [][]string
	for i := range cfg.Callees {
		n := firstCallee + i
		calleeRows = append(calleeRows, []string{strconv.Itoa(n), sippAuth(strconv.Itoa(n), sipPassword(n))})
	}
	if err := writeInjection(filepath.Join(dir, "callees.csv"), calleeRows); err != nil {
		return nil, err
	}
	regSF, err := writeScenario(dir, "register.xml", false, "")
	if err != nil {
		return nil, err
	}
	reg, err := startSipp(ctx, cfg.Sipp, dir, "register-callees", []string{addr, "-sf", regSF, "-inf", filepath.Join(dir, "callees.csv"),
		"-i", "127.0.0.1", "-p", strconv.Itoa(uasPort), "-m", strconv.Itoa(cfg.Callees), "-r", "100", "-timeout", "20s"})
	if err != nil {
		return nil, err
	}
	regRes, err := reg.wait(ctx)
	if err != nil {
		return nil, err
	}
	if regRes.Screen.Successful != cfg.Callees {
		return nil, fmt.Errorf("registering the %d callees: %d succeeded, %d failed\n%s", cfg.Callees, regRes.Screen.Successful, regRes.Screen.Failed, regRes.Errors)
	}

	uasSF, err := writeScenario(dir, "uas.xml", rtp, audio)
	if err != nil {
		return nil, err
	}
	count, rate, hold := cfg.CallCount, cfg.CallRate, cfg.CallHold
	if rtp {
		count, rate, hold = cfg.RelayCalls, cfg.RelayRate, cfg.RelayHold
	}
	// A bound on each sipp: the calls, the longest hold, and a minute.
	bound := strconv.Itoa(int((hold + time.Duration(count/max(1, rate))*time.Second + time.Minute).Seconds())) + "s"
	uasArgs := []string{"-sf", uasSF, "-i", "127.0.0.1", "-p", strconv.Itoa(uasPort), "-timeout", bound}
	if rtp {
		uasArgs = append(uasArgs, "-mi", "127.0.0.1", "-mp", strconv.Itoa(uasMediaPort))
	}
	uas, err := startSipp(ctx, cfg.Sipp, dir, "uas", uasArgs)
	if err != nil {
		return nil, err
	}
	defer uas.stop(5 * time.Second)

	var callerRows [][]string
	for i := range cfg.Callers {
		n := firstCaller + i
		callerRows = append(callerRows, []string{strconv.Itoa(n), sippAuth(strconv.Itoa(n), sipPassword(n)), strconv.Itoa(firstCallee + i%cfg.Callees)})
	}
	if err := writeInjection(filepath.Join(dir, "callers.csv"), callerRows); err != nil {
		return nil, err
	}
	uacSF, err := writeScenario(dir, "uac.xml", rtp, audio)
	if err != nil {
		return nil, err
	}
	uacPort, err := freeUDPPair()
	if err != nil {
		return nil, err
	}
	setup := time.Since(start)
	if err := sleep(ctx, 500*time.Millisecond); err != nil { // the UAS binds its port
		return nil, err
	}

	r := &sipResult{Part: part, Server: "civicd", Offered: float64(rate), Unit: "calls/s", Count: count, Hold: hold, Relay: rtp}
	pid := d.PID()
	if r.RSSBefore, err = procPeakRSS(pid); err != nil {
		return nil, err
	}
	c0, err := procCPU(pid)
	if err != nil {
		return nil, err
	}
	procs0 := allProcs()
	drops := newDropCounter(addr)
	uacArgs := []string{addr, "-sf", uacSF, "-inf", filepath.Join(dir, "callers.csv"), "-i", "127.0.0.1", "-p", strconv.Itoa(uacPort),
		"-r", strconv.Itoa(rate), "-m", strconv.Itoa(count), "-d", strconv.Itoa(int(hold.Milliseconds())), "-timeout", bound}
	if rtp {
		uacArgs = append(uacArgs, "-l", strconv.Itoa(count), "-mi", "127.0.0.1", "-mp", strconv.Itoa(uacMediaPort))
	}
	uac, err := startSipp(ctx, cfg.Sipp, dir, "uac", uacArgs)
	if err != nil {
		return nil, err
	}
	if rtp {
		if err := relayWindow(ctx, cfg, r, uac, pid, count, rate, hold); err != nil {
			uac.stop(2 * time.Second)
			return nil, err
		}
	}
	res, err := uac.wait(ctx)
	if err != nil {
		return nil, err
	}
	c1, err := procCPU(pid)
	if err != nil {
		return nil, err
	}
	r.OtherCPU = ticksToDuration(othersCPU(procs0, allProcs(), []int{os.Getpid()}), cfg.Ticks)
	r.ServerDrops, r.SippDrops = drops.read(), res.Drops
	r.Sipp = res
	r.CPU = ticksToDuration(c1-c0, cfg.Ticks)
	if r.PeakRSS, err = procPeakRSS(pid); err != nil {
		return nil, err
	}
	if rtp && r.Window > 0 {
		if lo, hi, ok := concurrentBetween(res.Stats, r.windowFrom, r.windowTo); ok {
			r.WindowConcurrent = [2]int{lo, hi}
		}
	}
	uas.stop(5 * time.Second)
	if ur, err := uas.result(); err == nil {
		r.UAS = ur
	}
	r.SippCommands = []string{regRes.Command, uas.commandLine(), res.Command}
	if rtp {
		r.Notes = append(r.Notes, "sipp 3.6.1's rtp_stream sends and receives the RTP of all its calls on one socket per sipp process; civicd's relay still takes two port pairs of its own per call and latches each leg onto that source")
	}
	r.Notes = append(r.Notes, fmt.Sprintf("%d caller and %d answering extensions created through the console websocket, and the answering ones registered from the answering sipp's port, in %.1f s before the calls", cfg.Callers, cfg.Callees, setup.Seconds()))
	r.Warnings = d.logs.count(`"level":"WARN"`) + d.logs.count(`"level":"ERROR"`)
	d.stop()
	if r.Records, r.RTPByLeg, err = callRecords(ctx, d.DataDir); err != nil {
		r.Notes = append(r.Notes, "call records not read: "+err.Error())
	}
	r.RTPPackets = r.RTPByLeg[0] + r.RTPByLeg[1]
	return []*sipResult{r}, nil
}

// relayWindow waits until every call of the relay part is up, then
// measures civicd's CPU over the time they are all held.
func relayWindow(ctx context.Context, cfg sipConfig, r *sipResult, uac *sippProc, pid, count, rate int, hold time.Duration) error {
	ramp := time.Duration(float64(count)/float64(max(1, rate))*float64(time.Second)) + 10*time.Second
	deadline := time.Now().Add(ramp)
	for {
		if row, ok := uac.lastStat(); ok && row.Int("CurrentCall") >= count {
			break
		}
		if time.Now().After(deadline) {
			row, _ := uac.lastStat()
			return fmt.Errorf("only %d of %d calls up after %s", row.Int("CurrentCall"), count, ramp)
		}
		select {
		case <-uac.exited:
			return fmt.Errorf("sipp exited before all calls were up:\n%s", uac.out.tail(20))
		default:
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil { // polling sipp's statistics file
			return err
		}
	}
	// Every call is placed; the last ones are answered within a few ms.
	// The first call ends hold after it was answered, about
	// count/rate before now.
	if err := sleep(ctx, time.Second); err != nil {
		return err
	}
	up := time.Since(uac.start)
	window := hold - up - 2*time.Second
	if window < 5*time.Second {
		return fmt.Errorf("the calls are held %s but took %s to set up; no window left (raise -sip-relay-hold)", hold, up)
	}
	c0, err := procCPU(pid)
	if err != nil {
		return err
	}
	w0 := time.Now()
	if err := sleep(ctx, window); err != nil {
		return err
	}
	c1, err := procCPU(pid)
	if err != nil {
		return err
	}
	w1 := time.Now()
	r.Window = w1.Sub(w0)
	r.WindowCPU = ticksToDuration(c1-c0, cfg.Ticks)
	r.windowFrom, r.windowTo = w0, w1 // checked against sipp's per-second statistics once it is done
	return nil
}

// callRecords reads the call records of a stopped daemon: how many
// ended with each result, and the RTP packets relayed in all of them
// from the callers and from the callees.
func callRecords(ctx context.Context, dataDir string) (map[string]int, [2]uint64, error) {
	var pkts [2]uint64
	st, err := store.Open(ctx, dataDir, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, pkts, err
	}
	defer st.Close()
	rows, err := st.DB().QueryContext(ctx, `SELECT result, COUNT(*), COALESCE(SUM(rtp_from_caller), 0), COALESCE(SUM(rtp_from_callee), 0)
		FROM call_records GROUP BY result`)
	if err != nil {
		return nil, pkts, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var result string
		var n int
		var a, b int64
		if err := rows.Scan(&result, &n, &a, &b); err != nil {
			return nil, pkts, err
		}
		out[result] = n
		pkts[0] += uint64(a)
		pkts[1] += uint64(b)
	}
	return out, pkts, rows.Err()
}

// lookTool finds a program on PATH, or returns "".
func lookTool(names ...string) string {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// joinNotes joins sentences for a table cell.
func joinNotes(notes []string) string { return strings.Join(notes, "; ") }
