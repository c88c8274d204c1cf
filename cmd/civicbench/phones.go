package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"civic/conference/confclient"
	"civic/internal/ogg"
	"civic/internal/phonetest"
)

// The phones bench (issue 7): desk phones in a meeting through
// voip/confbridge, against a fresh civicd per part. Every phone is a Go
// SIP user agent in this process (sipgo, PCMU, RFC 4733 keys) that calls
// the meeting's dial-in number through civicd's call engine with its
// extension's digest credentials; every "browser" is a pion participant
// in this process. Everything is on 127.0.0.1.

// phoneParts are the phones bench's parts, in the order they run.
var phoneParts = []struct{ Name, Title string }{
	{"phones-bridge", "10 browser speakers and 50 dialled-in phones in one meeting: CPU and memory per phone leg, what each phone receives"},
	{"phones-latency", "added latency through the bridge by tone onset, phone → browser and browser → phone"},
}

// phonesOptions are the phones bench's flags.
type phonesOptions struct {
	browsers, phones int
	window, baseline time.Duration
	warmup           time.Duration
	onsets           int
	partTimeout      time.Duration
}

// register adds the phones bench's flags to fs.
func (o *phonesOptions) register(fs *flag.FlagSet) {
	fs.IntVar(&o.browsers, "phones-browsers", 10, "browser participants (pion, each publishing an Opus tone) in phones-bridge")
	fs.IntVar(&o.phones, "phones-phones", 50, "phone legs (Go SIP user agents dialling in) in phones-bridge")
	fs.DurationVar(&o.window, "phones-window", 20*time.Second, "measurement window of phones-bridge once every phone is in the meeting")
	fs.DurationVar(&o.baseline, "phones-baseline", 10*time.Second, "window of phones-bridge's reference phase: the browsers alone, before the phones dial in")
	fs.DurationVar(&o.warmup, "phones-warmup", 5*time.Second, "wait after the last phone joined (its joined prompt), before the window")
	fs.IntVar(&o.onsets, "phones-onsets", 20, "tone onsets measured each way in phones-latency")
	fs.DurationVar(&o.partTimeout, "phones-part-timeout", 4*time.Minute, "bound on each phones part, start-up to tear-down")
}

// budget is about how long the parts take, for the whole run's bound
// when -timeout is not given.
func (o *phonesOptions) budget(parts []string) time.Duration {
	var d time.Duration
	for _, p := range parts {
		switch p {
		case "phones-bridge":
			d += o.window + o.baseline + o.warmup + 90*time.Second
		case "phones-latency":
			d += 2*time.Duration(o.onsets)*time.Second + time.Minute
		}
	}
	return d
}

// pickPhones takes the phones parts out of the -scenario list ("phones"
// is all of them) and returns the rest of the list.
func pickPhones(names string) (rest string, parts []string) {
	return pickParts(names, "phones", partNames(phoneParts))
}

// phConfig is what every phones part runs with.
type phConfig struct {
	phonesOptions
	Civicd  string
	Dir     string
	FFmpeg  string
	Ticks   int64
	Verbose bool
	Log     *slog.Logger
}

// benchPhones runs the phones parts and prints their tables.
func benchPhones(ctx context.Context, o options, bin, dir string, ticks int64, parts []string, w io.Writer, log *slog.Logger) error {
	po := o.phs
	if po.browsers < 1 || po.phones < 1 || po.onsets < 1 || po.window <= 0 {
		return errors.New("the -phones-* counts and windows must be positive")
	}
	if o.cams.ffmpeg == "" {
		return errors.New("the phones parts need ffmpeg (for the browsers' Opus), or -ffmpeg PATH")
	}
	cfg := phConfig{phonesOptions: po, Civicd: bin, Dir: dir, FFmpeg: o.cams.ffmpeg, Ticks: ticks, Verbose: o.verbose, Log: log}
	busy, err := othersBusy(ctx, ticks, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "## civicbench phones\n\n")
	fmt.Fprintf(w, "`civicbench %s`: %d cores (%s), %s, %s; a fresh civicd (log level info) for each part; every phone a Go SIP user agent (sipgo, PCMU, RFC 4733 keys) and every browser a pion participant, all in this process, on 127.0.0.1. Other processes in the second before the run: %.2f cores.\n\n",
		strings.Join(os.Args[1:], " "), runtime.NumCPU(), cpuModel(), runtime.Version(), firstLine(o.cams.ffmpeg, "-version"), busy.Seconds())
	return runParts(ctx, parts, po.partTimeout, func(ctx context.Context, part string) error {
		switch part {
		case "phones-bridge":
			return phonesBridge(ctx, cfg, w)
		case "phones-latency":
			return phonesLatency(ctx, cfg, w)
		}
		return nil
	})
}

// phoneEnv is civicd's configuration for the phones parts: MD5 digest
// (what the Go phones answer), no per-source limits (every phone is
// 127.0.0.1), a wide relay port range, and the console's message rate
// raised for the set-up.
func phoneEnv() []string {
	return []string{
		"CIVIC_WS_RATE=100000",
		"CIVIC_WS_BURST=100000",
		"CIVIC_SIP_TLS_LISTEN=",
		"CIVIC_SIP_DIGEST_ALGORITHMS=MD5",
		"CIVIC_SIP_AUTH_MAX_FAILURES_PER_SOURCE=1000000",
		"CIVIC_SIP_AUTH_MAX_FAILURES_PER_EXTENSION=1000000",
		"CIVIC_SIP_AUTH_MAX_REQUESTS_PER_SOURCE=0",
		"CIVIC_SIP_RTP_PORTS=" + civicdRTPPorts,
	}
}

// phoneDaemon starts a fresh civicd for one part.
func phoneDaemon(ctx context.Context, cfg phConfig, part string) (*daemon, string, error) {
	dir := filepath.Join(cfg.Dir, part)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", err
	}
	d, err := startDaemon(ctx, cfg.Civicd, dir, phoneEnv()...)
	if err != nil {
		return nil, "", err
	}
	sipAddr, err := d.waitSIP(ctx)
	if err != nil {
		d.stop()
		return nil, "", err
	}
	cfg.Log.Info("civicd up", "part", part, "url", d.URL, "sip", sipAddr, "pid", d.PID())
	return d, sipAddr, nil
}

// phoneMeeting is a meeting made for a part, with its admin's session.
type phoneMeeting struct {
	Token  string
	Admin  *confclient.Client
	Room   string
	Number string
	PIN    string
}

// setupMeeting logs in as the admin, creates extensions 2001.. (n of
// them, password phonePassword) and a meeting with no lobby.
func setupMeeting(ctx context.Context, d *daemon, n int) (*phoneMeeting, error) {
	opts := confclient.Options{TLS: d.TLS}
	token, err := confclient.Login(ctx, d.URL, "admin", d.Password, opts)
	if err != nil {
		return nil, err
	}
	if err := parallelCalls(ctx, d, token, n, func(i int) (string, map[string]any) {
		return "voip.extensions.create", map[string]any{"number": phoneExt(i), "name": "Bench phone " + phoneExt(i), "password": phonePassword(i)}
	}); err != nil {
		return nil, err
	}
	admin, err := confclient.Dial(ctx, d.URL, token, opts)
	if err != nil {
		return nil, err
	}
	var created struct {
		Meeting struct{ Room string }
		DialIn  struct{ Number, PIN string } `json:"dial_in"`
	}
	if err := admin.Call(ctx, "conference.create", map[string]any{"title": "civicbench phones", "lobby": false}, &created); err != nil {
		admin.Close()
		return nil, err
	}
	if created.DialIn.Number == "" || created.DialIn.PIN == "" {
		admin.Close()
		return nil, fmt.Errorf("conference.create gave no dial-in: %+v", created)
	}
	return &phoneMeeting{Token: token, Admin: admin, Room: created.Meeting.Room, Number: created.DialIn.Number, PIN: created.DialIn.PIN}, nil
}

func phoneExt(i int) string      { return fmt.Sprintf("%d", 2001+i) }
func phonePassword(i int) string { return fmt.Sprintf("pw-%d-civicbench-phone", 2001+i) }

// waitPhonesIn waits until civicd has logged n phones in a meeting.
func waitPhonesIn(ctx context.Context, d *daemon, n int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		got := d.logs.count(`"msg":"bridge: phone in meeting"`)
		if got >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d phones in the meeting after %s; civicd's log:\n%s", got, n, within, d.logs.tail(20))
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// opusPackets runs ffmpeg's libopus on a lavfi source (48 kHz mono, VoIP
// mode, 32 kbit/s, 20 ms frames, as a browser sends voice) and returns
// its packets: what phonetest.OpusTone makes, for a command.
func opusPackets(ffmpeg, lavfi string) ([][]byte, error) {
	cmd := exec.Command(ffmpeg, "-loglevel", "error", "-f", "lavfi", "-i", lavfi,
		"-ac", "1", "-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20", "-application", "voip", "-f", "ogg", "-")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ffmpeg: %v: %s", err, stderr.String())
	}
	pkts, err := ogg.Packets(out.Bytes())
	if err != nil {
		return nil, err
	}
	if len(pkts) < 3 {
		return nil, fmt.Errorf("ffmpeg gave %d Ogg packets", len(pkts))
	}
	return pkts[2:], nil // after OpusHead and OpusTags
}

// Tone onsets. A receiver cuts what it hears into 20 ms frames and asks
// of each whether it holds the test tone (toneFrame); an onsetTracker
// turns that into onset instants, and matchOnsets pairs them with the
// instants the tone was sent.

// Detection thresholds: the tone's Goertzel share of the frame's power
// (0.5 for a pure sine) and the frame's RMS (of 16-bit samples).
const (
	toneShare = 0.25
	toneRMS   = 500
)

// toneFrame reports whether a frame of samples at rate Hz holds a tone of
// freq loud enough.
func toneFrame(samples []int16, rate int, freq float64) bool {
	share, rms := phonetest.ToneLevel(samples, rate, freq)
	return share >= toneShare && rms >= toneRMS
}

// onsetTracker finds the onsets in a sequence of frames: a frame with the
// tone after at least quiet frames without it.
type onsetTracker struct {
	quiet  int     // frames without the tone that end a tone
	off    int     // frames without the tone in a row
	on     bool    // in a tone
	Onsets []int64 // when each onset's frame arrived
}

func newOnsetTracker(quiet int) *onsetTracker { return &onsetTracker{quiet: quiet, off: quiet} }

// frame takes one frame, received at at, with or without the tone.
func (t *onsetTracker) frame(at int64, tone bool) {
	if tone {
		if !t.on && t.off >= t.quiet {
			t.Onsets = append(t.Onsets, at)
		}
		t.on, t.off = true, 0
		return
	}
	t.off++
	if t.off >= t.quiet {
		t.on = false
	}
}

// matchOnsets pairs each sent onset with the first received one at or
// after it and before sent+limit, and returns the delays of those that
// matched and how many did not. Both lists are in time order.
func matchOnsets(sent, got []int64, limit time.Duration) (lat []time.Duration, missed int) {
	j := 0
	for _, s := range sent {
		for j < len(got) && got[j] < s {
			j++
		}
		if j < len(got) && got[j]-s < int64(limit) {
			lat = append(lat, time.Duration(got[j]-s))
			j++
			continue
		}
		missed++
	}
	return lat, missed
}
