package main

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"text/template"
	"time"
)

// sippFiles are the sipp scenarios the SIP bench runs. uac.xml and
// uas.xml are templates: {{.AudioPort}} is the SDP's audio port and, with
// {{.RTP}}, each call streams {{.Audio}} (raw G.711 µ-law) with sipp's
// rtp_stream.
//
//go:embed sipp/*.xml
var sippFiles embed.FS

// sippTemplate is what the scenario templates are filled in with.
type sippTemplate struct {
	RTP       bool
	Audio     string // the µ-law file rtp_stream plays, looped
	AudioPort string // a sipp keyword
}

// writeScenario renders the embedded scenario name into dir and returns
// its path.
func writeScenario(dir, name string, rtp bool, audio string) (string, error) {
	raw, err := sippFiles.ReadFile("sipp/" + name)
	if err != nil {
		return "", err
	}
	tmpl, err := template.New(name).Parse(string(raw))
	if err != nil {
		return "", fmt.Errorf("sipp scenario %s: %w", name, err)
	}
	v := sippTemplate{RTP: rtp, Audio: audio, AudioPort: "[media_port]"}
	if rtp {
		v.AudioPort = "[rtpstream_audio_port]"
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, v); err != nil {
		return "", fmt.Errorf("sipp scenario %s: %w", name, err)
	}
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, b.Bytes(), 0o600)
}

// sippBuffer is sipp's socket buffer size; Linux caps it at
// net.core.rmem_max (4 MiB on Debian 12).
const sippBuffer = 4 << 20

// sippProc is one sipp process, started by startSipp.
type sippProc struct {
	name   string
	dir    string
	args   []string
	cmd    *exec.Cmd
	out    *tailBuffer
	start  time.Time
	exited chan struct{}
	err    error
	// drops is the most receive-buffer drops seen on sipp's SIP socket
	// while it ran (the socket's counter goes away with sipp).
	drops atomic.Uint64
}

// startSipp starts sipp with args in dir; name prefixes its screen, stat
// and error files there. The standard options for a bounded,
// non-interactive run are added, and a 4 MiB socket buffer (sipp's
// default, 64 KiB, overflows at a few thousand messages a second, and
// the drops and retransmissions would be sipp's, not the server's).
func startSipp(ctx context.Context, sipp, dir, name string, args []string) (*sippProc, error) {
	all := append(append([]string(nil), args...),
		"-nostdin", "-buff_size", strconv.Itoa(sippBuffer),
		"-trace_screen", "-screen_file", filepath.Join(dir, name+"-screen.log"),
		"-trace_stat", "-stf", filepath.Join(dir, name+"-stat.csv"), "-fd", "1",
		"-trace_err", "-error_file", filepath.Join(dir, name+"-errors.log"),
	)
	p := &sippProc{name: name, dir: dir, args: all, out: &tailBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, sipp, all...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = childAttr()
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start sipp: %w", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	if port := argAfter(all, "-p"); port > 0 {
		go p.watchDrops(port)
	}
	return p, nil
}

// watchDrops polls the drop counter of sipp's SIP socket until sipp exits.
func (p *sippProc) watchDrops(port int) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		if n, ok := udpDrops(port); ok && n > p.drops.Load() {
			p.drops.Store(n)
		}
		select {
		case <-p.exited:
			return
		case <-t.C:
		}
	}
}

// argAfter returns the integer after flag in args, or 0.
func argAfter(args []string, flag string) int {
	for i, a := range args[:max(0, len(args)-1)] {
		if a == flag {
			n, _ := strconv.Atoi(args[i+1])
			return n
		}
	}
	return 0
}

// commandLine is the sipp command as run, with the scratch directory's
// files shown by name.
func (p *sippProc) commandLine() string {
	var parts []string
	for _, a := range append([]string{"sipp"}, p.args...) {
		a = strings.ReplaceAll(a, p.dir+"/", "")
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// stop asks sipp to finish (SIGUSR1: stop placing calls and exit once the
// calls in progress end), then kills it after grace.
func (p *sippProc) stop(grace time.Duration) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGUSR1)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// wait waits for sipp to exit and reads what it wrote.
func (p *sippProc) wait(ctx context.Context) (*sippResult, error) {
	select {
	case <-p.exited:
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		<-p.exited
		return nil, ctx.Err()
	}
	return p.result()
}

// result reads a finished sipp's screen, statistics and CPU time. sipp
// exits 1 when some call failed, which the result reports; other codes
// are errors.
func (p *sippProc) result() (*sippResult, error) {
	r := &sippResult{Wall: time.Since(p.start), Command: p.commandLine(), Drops: p.drops.Load()}
	if st := p.cmd.ProcessState; st != nil {
		r.Exit = st.ExitCode()
		r.CPU = st.UserTime() + st.SystemTime()
	}
	screen, err := os.ReadFile(filepath.Join(p.dir, p.name+"-screen.log"))
	if err != nil {
		return nil, fmt.Errorf("sipp %s (exit %d): no screen file: %w\n%s", p.name, r.Exit, err, p.out.tail(20))
	}
	r.Screen = parseSippScreen(string(screen))
	if stat, err := os.ReadFile(filepath.Join(p.dir, p.name+"-stat.csv")); err == nil {
		r.Stats = parseSippStats(string(stat))
	}
	if errs, err := os.ReadFile(filepath.Join(p.dir, p.name+"-errors.log")); err == nil {
		r.Errors = lastLines(string(errs), 5)
	}
	if r.Exit != 0 && r.Exit != 1 && r.Exit != 97 && r.Exit != 99 {
		return r, fmt.Errorf("sipp %s exited %d: %v\n%s\n%s", p.name, r.Exit, p.err, p.out.tail(20), r.Errors)
	}
	return r, nil
}

// sippResult is what one sipp run reports.
type sippResult struct {
	Command string
	Wall    time.Duration // from start to exit, measured here
	CPU     time.Duration // sipp's own user and system time
	Exit    int
	Screen  sippScreen
	Stats   []sippStatRow
	Errors  string // the last lines of sipp's error file
	Drops   uint64 // datagrams dropped at sipp's SIP socket, its buffer full
}

// sippScreen is what sipp's final screen dump (-trace_screen) says.
type sippScreen struct {
	TotalTime  time.Duration // "Total-time" of the scenario screen
	TotalCalls int           // "Total-calls"
	Messages   []sippMessage
	Successful int     // "Successful call", cumulative
	Failed     int     // "Failed call", cumulative
	CallRate   float64 // "Call Rate", cumulative, calls created per second
	// Repartitions are the distributions of the scenario's response
	// time (rtd) timers, from the repartition screen. (sipp's means are
	// whole milliseconds, mostly 0 on loopback, so they are not used.)
	Repartitions map[string][]sippBucket
}

// sippBucket is one row of a response time repartition: Count timings
// below Below, or at least the last bound when Below is 0.
type sippBucket struct {
	Below time.Duration
	Count int
}

// sippQuantile returns the bucket bound that quantile q of the timings
// fall under, and whether it is the open-ended last bucket.
func sippQuantile(buckets []sippBucket, q float64) (time.Duration, bool) {
	total := 0
	for _, b := range buckets {
		total += b.Count
	}
	if total == 0 {
		return 0, false
	}
	want := int(q*float64(total) + 0.999999)
	seen := 0
	var last time.Duration
	for _, b := range buckets {
		seen += b.Count
		if b.Below == 0 {
			return last, true
		}
		last = b.Below
		if seen >= want {
			return b.Below, false
		}
	}
	return last, true
}

// sippMessage is one line of the scenario screen's message table.
type sippMessage struct {
	Name       string // a method, a status code, or "Pause"
	Sent       bool   // sent by sipp (an arrow to the right)
	Count      int
	Retrans    int // sent: sipp's retransmissions; received: the peer's
	Timeout    int
	Unexpected int
}

// RetransSent is how many times sipp retransmitted a request or response
// because the peer's answer was late.
func (s sippScreen) RetransSent() int {
	n := 0
	for _, m := range s.Messages {
		if m.Sent {
			n += m.Retrans
		}
	}
	return n
}

// RetransReceived is how many retransmissions of the peer's messages sipp
// received: the peer re-sent because sipp's answer (an ACK, a 200) was
// late or lost.
func (s sippScreen) RetransReceived() int {
	n := 0
	for _, m := range s.Messages {
		if !m.Sent {
			n += m.Retrans
		}
	}
	return n
}

// Unexpected is the total of the Unexpected-Msg and Timeout columns.
func (s sippScreen) Unexpected() int {
	n := 0
	for _, m := range s.Messages {
		n += m.Unexpected + m.Timeout
	}
	return n
}

var (
	// The line under "Total-time  Total-calls", from a client and a server:
	// "  3000.0(0 ms)/1.000s   5060       6.68 s        20000  127.0.0.1:35060(UDP)"
	// "  33859      6.52 s         1000  UDP"
	sippTotalsRe = regexp.MustCompile(`\s(\d+(?:\.\d+)?) s\s+(\d+)\s+\S`)
	// "    REGISTER ---------->  B-RTD1 20000     0         0"
	// "         401 <----------         20000     0         0         0"
	sippMessageRe = regexp.MustCompile(`^\s*(\S+)\s+(-+>|<-+)\s+(?:[A-Z]-RTD\d+\s+)*(\d+)\s+(\d+)(?:\s+(\d+))?(?:\s+(\d+))?\s*$`)
	// A server's screen puts the arrow first:
	// "  ----------> INVITE             1000      0         0         0"
	// "  <---------- 180                1000      0"
	sippServerMessageRe = regexp.MustCompile(`^\s*(-+>|<-+)\s+(\S+)\s+(?:[A-Z]-RTD\d+\s+)*(\d+)\s+(\d+)(?:\s+(\d+))?(?:\s+(\d+))?\s*$`)
	// "             2 ms <= n <          5 ms :        181"
	sippBucketRe = regexp.MustCompile(`^\s*\d+ ms <= n <\s*(\d+) ms :\s*(\d+)\s*$`)
	// "                   n >=       1000 ms :          0"
	sippOverflowRe = regexp.MustCompile(`^\s*n >=\s*\d+ ms :\s*(\d+)\s*$`)
)

// parseSippScreen reads sipp's screen dump. The file holds the scenario,
// statistics and repartition screens, and sometimes more than one dump of
// each; later values replace earlier ones.
func parseSippScreen(text string) sippScreen {
	var s sippScreen
	s.Repartitions = map[string][]sippBucket{}
	inMessages, totalsNext := false, false
	var msgs []sippMessage
	repartition := "" // the response time repartition being read
	var buckets []sippBucket
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\r\n")
		if repartition != "" {
			if m := sippBucketRe.FindStringSubmatch(line); m != nil {
				ms, _ := strconv.Atoi(m[1])
				n, _ := strconv.Atoi(m[2])
				buckets = append(buckets, sippBucket{Below: time.Duration(ms) * time.Millisecond, Count: n})
				continue
			}
			if m := sippOverflowRe.FindStringSubmatch(line); m != nil {
				n, _ := strconv.Atoi(m[1])
				buckets = append(buckets, sippBucket{Count: n})
				continue
			}
			s.Repartitions[repartition], repartition = buckets, ""
		}
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "Average Response Time Repartition "); ok {
			repartition, buckets = strings.TrimSpace(name), nil
			continue
		}
		switch {
		case strings.Contains(line, "Total-time") && strings.Contains(line, "Total-calls"):
			inMessages, totalsNext = false, true
			continue
		case strings.Contains(line, "Messages") && strings.Contains(line, "Retrans"):
			inMessages, msgs = true, nil
			continue
		case strings.HasPrefix(line, "---"):
			if inMessages && len(msgs) > 0 {
				s.Messages = msgs
			}
			inMessages = false
			continue
		}
		if totalsNext {
			totalsNext = false
			if m := sippTotalsRe.FindStringSubmatch(line); m != nil {
				if v, err := strconv.ParseFloat(m[1], 64); err == nil {
					s.TotalTime = time.Duration(v*1000+0.5) * time.Millisecond
				}
				s.TotalCalls, _ = strconv.Atoi(m[2])
			}
			continue
		}
		if inMessages {
			m := sippMessageRe.FindStringSubmatch(line)
			if sm := sippServerMessageRe.FindStringSubmatch(line); sm != nil {
				// The arrow points at sipp's side for what it received:
				// "<---" is sent.
				m = []string{sm[0], sm[2], strings.Replace(sm[1], "<", "-", 1) + ">", sm[3], sm[4], sm[5], sm[6]}
				if strings.HasPrefix(sm[1], "-") {
					m[2] = "<-"
				}
			}
			if m != nil {
				msg := sippMessage{Name: m[1], Sent: strings.HasSuffix(m[2], ">")}
				msg.Count, _ = strconv.Atoi(m[3])
				msg.Retrans, _ = strconv.Atoi(m[4])
				msg.Timeout, _ = strconv.Atoi(m[5])
				msg.Unexpected, _ = strconv.Atoi(m[6])
				msgs = append(msgs, msg)
			} else if f := strings.Fields(line); len(f) >= 3 && strings.Contains(line, "Pause") {
				n, _ := strconv.Atoi(f[len(f)-1])
				if len(f) >= 4 {
					n, _ = strconv.Atoi(f[len(f)-2]) // "[   1000ms] Pause   200   0"
				}
				msgs = append(msgs, sippMessage{Name: "Pause", Count: n})
			}
			continue
		}
		name, periodic, cumulative, ok := statLine(line)
		if !ok {
			continue
		}
		_ = periodic
		switch {
		case name == "Successful call":
			s.Successful, _ = strconv.Atoi(cumulative)
		case name == "Failed call":
			s.Failed, _ = strconv.Atoi(cumulative)
		case name == "Call Rate":
			s.CallRate, _ = strconv.ParseFloat(strings.TrimSuffix(cumulative, " cps"), 64)
		}
	}
	if inMessages && len(msgs) > 0 {
		s.Messages = msgs
	}
	if repartition != "" {
		s.Repartitions[repartition] = buckets
	}
	return s
}

// statLine splits a statistics screen row "  Name  | periodic | cumulative".
func statLine(line string) (name, periodic, cumulative string, ok bool) {
	parts := strings.Split(line, "|")
	if len(parts) != 3 {
		return "", "", "", false
	}
	return strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1]), strings.TrimSpace(parts[2]), true
}

// sippStatRow is one line of sipp's statistics file (-trace_stat),
// written every -fd seconds and at the end: column name to value.
type sippStatRow map[string]string

// parseSippStats reads sipp's ;-separated statistics file: a header line
// and one row per dump.
func parseSippStats(text string) []sippStatRow {
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var header []string
	var rows []sippStatRow
	for sc.Scan() {
		f := strings.Split(strings.TrimSuffix(sc.Text(), ";"), ";")
		if header == nil {
			header = f
			continue
		}
		if len(f) != len(header) {
			continue // a row cut short while sipp was writing it
		}
		row := make(sippStatRow, len(f))
		for i, v := range f {
			row[header[i]] = v
		}
		rows = append(rows, row)
	}
	return rows
}

// Int returns a counter column, 0 when missing.
func (r sippStatRow) Int(col string) int {
	v, _ := strconv.Atoi(r[col])
	return v
}

// Time is the row's CurrentTime: sipp writes "date<TAB>time<TAB>epoch".
func (r sippStatRow) Time() (time.Time, bool) {
	f := strings.Split(r["CurrentTime"], "\t")
	if len(f) != 3 {
		return time.Time{}, false
	}
	secs, frac, _ := strings.Cut(f[2], ".")
	sec, err1 := strconv.ParseInt(secs, 10, 64)
	frac = (frac + "000000000")[:9]
	ns, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, false
	}
	return time.Unix(sec, ns), true
}

// concurrentBetween is the least and most "CurrentCall" of the rows
// written between from and to; ok is false when there were none.
func concurrentBetween(rows []sippStatRow, from, to time.Time) (lo, hi int, ok bool) {
	for _, r := range rows {
		t, good := r.Time()
		if !good || t.Before(from) || t.After(to) {
			continue
		}
		n := r.Int("CurrentCall")
		if !ok {
			lo, hi, ok = n, n, true
			continue
		}
		lo, hi = min(lo, n), max(hi, n)
	}
	return lo, hi, ok
}

// lastStat re-reads a running sipp's statistics file and returns its last
// complete row.
func (p *sippProc) lastStat() (sippStatRow, bool) {
	b, err := os.ReadFile(filepath.Join(p.dir, p.name+"-stat.csv"))
	if err != nil {
		return nil, false
	}
	rows := parseSippStats(string(b))
	if len(rows) == 0 {
		return nil, false
	}
	return rows[len(rows)-1], true
}

// lastLines returns the last n non-empty lines of s.
func lastLines(s string, n int) string {
	var lines []string
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freeUDPPair finds a port P on 127.0.0.1 where UDP P and P+1 are both
// free (sipp takes the port after its SIP port for media).
func freeUDPPair() (int, error) {
	for range 50 {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return 0, err
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		c2, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port + 1})
		c.Close()
		if err == nil {
			c2.Close()
			return port, nil
		}
	}
	return 0, errors.New("no two free UDP ports in a row on 127.0.0.1")
}

// writeInjection writes a sipp injection file: SEQUENTIAL, then one line
// of ;-separated fields per row.
func writeInjection(path string, rows [][]string) error {
	var b strings.Builder
	b.WriteString("SEQUENTIAL\n")
	for _, r := range rows {
		b.WriteString(strings.Join(r, ";"))
		b.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// sippAuth is sipp's keyword for digest credentials, as an injection
// field.
func sippAuth(user, password string) string {
	return fmt.Sprintf("[authentication username=%s password=%s]", user, password)
}

// writeMuLaw writes d of a 440 Hz triangle wave at a quarter of full
// scale as raw G.711 µ-law (8 kHz, one byte a sample): what sipp's
// rtp_stream sends with payload type 0, 160 bytes every 20 ms.
func writeMuLaw(path string, d time.Duration) error {
	n := int(d.Seconds() * 8000)
	b := make([]byte, n)
	for i := range b {
		// A triangle wave is enough for a relay that never decodes it.
		ph := (i * 440 * 4 / 8000) % 4
		frac := float64(i*440*4%8000) / 8000
		var v float64
		switch ph {
		case 0:
			v = frac
		case 1:
			v = 1 - frac
		case 2:
			v = -frac
		default:
			v = frac - 1
		}
		b[i] = linearToMuLaw(int16(v * 8192))
	}
	return os.WriteFile(path, b, 0o600)
}

// linearToMuLaw encodes one 16-bit sample as G.711 µ-law.
func linearToMuLaw(s int16) byte {
	const bias, clip = 0x84, 32635
	x := int(s)
	sign := 0
	if x < 0 {
		x, sign = -x, 0x80
	}
	x = min(x, clip) + bias
	exp := 7
	for mask := 0x4000; x&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := (x >> (exp + 3)) & 0x0f
	return ^byte(sign | exp<<4 | mant)
}
