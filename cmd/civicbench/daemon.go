package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// buildDaemon runs `go build` of civicd into dir and returns the binary.
func buildDaemon(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "civicd")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "civic/cmd/civicd")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build civic/cmd/civicd: %w\n%s", err, out.Bytes())
	}
	return bin, nil
}

// daemon is one civicd process, started in its own data directory with
// every port on loopback.
type daemon struct {
	// URL is the console's base URL, https://127.0.0.1:PORT.
	URL string
	// Password is the first-run admin's password.
	Password string
	// TLS trusts the daemon's self-signed certificate.
	TLS *tls.Config
	// DataDir is the daemon's data directory (the store is there).
	DataDir string

	sipAddrs  chan string // the SIP listener's host:port, once logged
	mqttAddrs chan string // the embedded MQTT broker's host:port, once logged
	cmd       *exec.Cmd
	logs      *tailBuffer
	exited    chan struct{}
	waitErr   error
	once      sync.Once
}

// startDaemon starts bin with a fresh data directory under dir and waits
// until /healthz answers 200. The admin account is civicd's first-run
// admin, with a random password given in CIVIC_ADMIN_PASSWORD. extraEnv
// (CIVIC_*=value) is added last, so it overrides the defaults below.
func startDaemon(ctx context.Context, bin, dir string, extraEnv ...string) (*daemon, error) {
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	d := &daemon{
		Password:  rand.Text(),
		TLS:       &tls.Config{InsecureSkipVerify: true}, // the daemon's self-signed certificate, on loopback
		DataDir:   data,
		sipAddrs:  make(chan string, 1),
		mqttAddrs: make(chan string, 1),
		logs:      &tailBuffer{},
		exited:    make(chan struct{}),
	}
	cmd := exec.Command(bin, "--data-dir", data)
	cmd.Dir = dir // no configs/civicd.yaml here: only defaults and the environment apply
	cmd.Env = append(environWithoutCivic(),
		"CIVIC_ADMIN_PASSWORD="+d.Password,
		"CIVIC_HTTP_LISTEN=127.0.0.1:0",
		"CIVIC_LOG_FORMAT=json",
		"CIVIC_LOG_LEVEL=info",
		"CIVIC_MQTT_LISTEN=",
		"CIVIC_MEETINGS_MAX_PARTICIPANTS=1000",
		"CIVIC_MEETINGS_MAX_PARTICIPANTS_TOTAL=2000",
		"CIVIC_SIP_LISTEN=127.0.0.1:0",
		"CIVIC_SIP_TLS_LISTEN=127.0.0.1:0",
		"CIVIC_WEBRTC_UDP_PORT=0",
		"CIVIC_WEBRTC_TCP_PORT=0",
		"CIVIC_WEBRTC_INTERFACES=lo",
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stdout = d.logs
	cmd.SysProcAttr = childAttr()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start civicd: %w", err)
	}
	d.cmd = cmd
	urls := make(chan string, 1)
	go func() {
		d.scan(stderr, urls)
		d.waitErr = cmd.Wait()
		close(d.exited)
	}()
	select {
	case d.URL = <-urls:
	case <-d.exited:
		return nil, fmt.Errorf("civicd exited before its console listened (%v); log:\n%s", d.waitErr, d.logs.tail(30))
	case <-time.After(20 * time.Second):
		d.stop()
		return nil, fmt.Errorf("civicd did not log \"console listening\" within 20 s; log:\n%s", d.logs.tail(30))
	case <-ctx.Done():
		d.stop()
		return nil, ctx.Err()
	}
	if err := d.waitHealthy(ctx); err != nil {
		d.stop()
		return nil, err
	}
	return d, nil
}

// waitHealthy polls /healthz until it answers 200.
func (d *daemon) waitHealthy(ctx context.Context) error {
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: d.TLS}, Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.URL+"/healthz", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("civicd /healthz: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond): // polling the daemon's start-up
		}
	}
}

// scan copies the daemon's stderr into the log and reports the console URL
// from the JSON line {"msg":"console listening","url":...} and the SIP
// address from {"msg":"sip listening","addr":...} and the embedded MQTT
// broker's from {"msg":"mqtt broker listening","addr":...} (only when
// CIVIC_MQTT_LISTEN is set, e.g. to 127.0.0.1:0).
func (d *daemon) scan(r io.Reader, urls chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	foundURL, foundSIP, foundMQTT := false, false, false
	for sc.Scan() {
		line := sc.Bytes()
		_, _ = d.logs.Write(append(bytes.Clone(line), '\n'))
		if foundURL && foundSIP && foundMQTT || !bytes.Contains(line, []byte(" listening")) {
			continue
		}
		var rec struct {
			Msg  string `json:"msg"`
			URL  string `json:"url"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(line, &rec) != nil {
			continue
		}
		switch {
		case !foundURL && rec.Msg == "console listening" && rec.URL != "":
			foundURL = true
			urls <- rec.URL
		case !foundSIP && rec.Msg == "sip listening" && rec.Addr != "":
			foundSIP = true
			d.sipAddrs <- rec.Addr
		case !foundMQTT && rec.Msg == "mqtt broker listening" && rec.Addr != "":
			foundMQTT = true
			d.mqttAddrs <- rec.Addr
		}
	}
	_, _ = io.Copy(d.logs, r) // keep draining so the daemon never blocks on a full pipe
}

// waitSIP returns the address civicd's SIP service listens on (UDP and
// TCP), once it has logged it.
func (d *daemon) waitSIP(ctx context.Context) (string, error) {
	select {
	case addr := <-d.sipAddrs:
		return addr, nil
	case <-d.exited:
		return "", fmt.Errorf("civicd exited before SIP listened (%v); log:\n%s", d.waitErr, d.logs.tail(30))
	case <-time.After(20 * time.Second):
		return "", fmt.Errorf("civicd did not log \"sip listening\" within 20 s; log:\n%s", d.logs.tail(30))
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// waitMQTT returns the address civicd's embedded MQTT broker listens on,
// once it has logged it (the daemon must be started with
// CIVIC_MQTT_LISTEN set).
func (d *daemon) waitMQTT(ctx context.Context) (string, error) {
	select {
	case addr := <-d.mqttAddrs:
		return addr, nil
	case <-d.exited:
		return "", fmt.Errorf("civicd exited before its MQTT broker listened (%v); log:\n%s", d.waitErr, d.logs.tail(30))
	case <-time.After(20 * time.Second):
		return "", fmt.Errorf("civicd did not log \"mqtt broker listening\" within 20 s; log:\n%s", d.logs.tail(30))
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// PID is the daemon's process id.
func (d *daemon) PID() int { return d.cmd.Process.Pid }

// stop sends SIGTERM, waits up to 10 s, then kills. It is safe to call
// more than once.
func (d *daemon) stop() {
	d.once.Do(func() {
		if d.cmd == nil || d.cmd.Process == nil {
			return
		}
		select {
		case <-d.exited:
			return
		default:
		}
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(10 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.exited
		}
	})
}

// environWithoutCivic is the environment minus every CIVIC_ variable, so
// a developer's settings cannot leak into the daemon.
func environWithoutCivic() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CIVIC_") {
			env = append(env, kv)
		}
	}
	return env
}

// tailBuffer keeps the last 256 KiB a process wrote.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - 256<<10; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// tail returns the last n lines.
func (b *tailBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := strings.Split(strings.TrimRight(string(b.buf), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// count returns how many lines contain s.
func (b *tailBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Count(b.buf, []byte(s))
}

// procCPU is a process's CPU time (user and system, all threads) from
// /proc/PID/stat, in clock ticks.
func procCPU(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// fields are counted after its closing one.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14 and stime field 15.
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc stat: %w", err)
	}
	return u + s, nil
}

// procRSS is a process's resident memory (VmRSS) in bytes.
func procRSS(pid int) (int64, error) { return procStatus(pid, "VmRSS") }

// procPeakRSS is the most resident memory a process has had (VmHWM) in
// bytes.
func procPeakRSS(pid int) (int64, error) { return procStatus(pid, "VmHWM") }

// procStatus reads one "kB" field of /proc/PID/status, in bytes.
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest) // "12345 kB"
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("no %s in /proc status", field)
}

// machineCPU is the machine's busy and total time in clock ticks, from
// the first line of /proc/stat.
func machineCPU() (busy, total int64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, errors.New("malformed /proc/stat")
	}
	for i, s := range f[1:] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
		if i >= 8 { // guest time is already in user time
			break
		}
		total += v
		if i != 3 && i != 4 { // idle and iowait
			busy += v
		}
	}
	return busy, total, nil
}

// clockTicks is the kernel's USER_HZ from `getconf CLK_TCK`, or 100 (and
// false) when getconf is missing.
func clockTicks() (int64, bool) {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && v > 0 {
			return v, true
		}
	}
	return 100, false
}
