package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// civicdBin is the daemon binary that TestMain builds once for every test.
var civicdBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "civic-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: make build dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	civicdBin = filepath.Join(dir, "civicd")
	args := []string{"build", "-o", civicdBin}
	if raceBuild {
		// The test runs with -race, so the daemon does too: a data race in
		// the server under a real browser is worth finding.
		args = append(args, "-race")
	}
	args = append(args, "civic/cmd/civicd")
	gobin, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: the go command is needed to build civicd:", err)
		return 1
	}
	build := exec.Command(gobin, args...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go %s: %v\n", strings.Join(args, " "), err)
		return 1
	}
	return m.Run()
}

// daemonConfig says how to start a daemon. Zero values pick fresh,
// test-local defaults.
type daemonConfig struct {
	// DataDir is the data directory. Default: a new t.TempDir().
	DataDir string
	// AdminPassword becomes CIVIC_ADMIN_PASSWORD. Default: random.
	AdminPassword string
	// Listen is the console address. Default: 127.0.0.1:0.
	Listen string
	// Env holds extra KEY=VALUE pairs; they win over the defaults.
	Env []string
}

// daemon is one civicd process started by a test.
type daemon struct {
	// URL is the console's base URL, e.g. https://127.0.0.1:41234.
	URL string
	// DataDir and AdminPassword are what the daemon was started with.
	DataDir       string
	AdminPassword string

	cmd      *exec.Cmd
	logs     *lockedBuffer
	exited   chan struct{}
	waitErr  error
	stopOnce sync.Once
}

// listenTimeout bounds the wait for "console listening".
const listenTimeout = timeScale * 20 * time.Second

// stopTimeout bounds a graceful shutdown after SIGTERM.
const stopTimeout = timeScale * 15 * time.Second

// startDaemon starts civicd and waits until its console accepts
// connections. The daemon is killed at the end of the test if the test did
// not stop it; its log is printed when the test failed.
func startDaemon(t *testing.T, cfg daemonConfig) *daemon {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.AdminPassword == "" {
		cfg.AdminPassword = rand.Text()
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	env := []string{
		"CIVIC_ADMIN_PASSWORD=" + cfg.AdminPassword,
		"CIVIC_HTTP_LISTEN=" + cfg.Listen,
		"CIVIC_LOG_FORMAT=json",
		"CIVIC_MQTT_LISTEN=",
		"CIVIC_SIP_LISTEN=127.0.0.1:0",
		"CIVIC_SIP_TLS_LISTEN=127.0.0.1:0",
		"CIVIC_WEBRTC_UDP_PORT=0",
		"CIVIC_WEBRTC_TCP_PORT=0",
		"CIVIC_WEBRTC_INTERFACES=lo",
	}
	env = append(env, cfg.Env...)

	cmd := exec.Command(civicdBin, "--data-dir", cfg.DataDir)
	// A directory without configs/civicd.yaml, so only built-in defaults
	// and the environment apply.
	cmd.Dir = t.TempDir()
	cmd.Env = append(environWithoutCivic(), env...)
	d := &daemon{
		DataDir:       cfg.DataDir,
		AdminPassword: cfg.AdminPassword,
		cmd:           cmd,
		logs:          &lockedBuffer{},
		exited:        make(chan struct{}),
	}
	cmd.Stdout = d.logs
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatalf("civicd stderr pipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start civicd: %v", err)
	}
	urls := make(chan string, 1)
	go func() {
		d.scan(stderr, urls)
		d.waitErr = cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		d.kill()
		if t.Failed() {
			t.Logf("civicd log (%s):\n%s", cfg.DataDir, d.logs.tail(80))
		}
	})

	select {
	case u := <-urls:
		d.URL = u
	case <-d.exited:
		t.Fatalf("civicd exited before its console listened (%v); log:\n%s", d.waitErr, d.logs.tail(80))
	case <-time.After(listenTimeout):
		t.Fatalf("civicd did not log \"console listening\" within %s; log:\n%s", listenTimeout, d.logs.tail(80))
	}
	t.Logf("civicd console at %s (data dir %s)", d.URL, d.DataDir)
	return d
}

// scan copies the daemon's stderr into the log and reports the console URL
// from the JSON line {"msg":"console listening","url":...}.
func (d *daemon) scan(r io.Reader, urls chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	found := false
	for sc.Scan() {
		line := sc.Bytes()
		_, _ = d.logs.Write(append(bytes.Clone(line), '\n'))
		if found {
			continue
		}
		var rec struct {
			Msg string `json:"msg"`
			URL string `json:"url"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "console listening" && rec.URL != "" {
			found = true
			urls <- rec.URL
		}
	}
	// Keep draining after a scanner error so the daemon never blocks on a
	// full pipe.
	_, _ = io.Copy(d.logs, r)
}

// stop sends SIGTERM and fails the test unless the daemon exits with
// status 0 within stopTimeout.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("SIGTERM civicd: %v", err)
	}
	select {
	case <-d.exited:
	case <-time.After(stopTimeout):
		d.kill()
		t.Fatalf("civicd did not exit within %s of SIGTERM; log:\n%s", stopTimeout, d.logs.tail(80))
	}
	if d.waitErr != nil {
		t.Fatalf("civicd exited with %v after SIGTERM, want status 0; log:\n%s", d.waitErr, d.logs.tail(80))
	}
}

// kill ends the process if it still runs and waits for it.
func (d *daemon) kill() {
	d.stopOnce.Do(func() {
		select {
		case <-d.exited:
			return
		default:
		}
		_ = d.cmd.Process.Kill()
		<-d.exited
	})
}

// environWithoutCivic is the test's environment minus every CIVIC_
// variable, so a developer's settings cannot leak into the daemon.
func environWithoutCivic() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CIVIC_") {
			env = append(env, kv)
		}
	}
	return env
}

// lockedBuffer collects a process's output from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// tail returns the last n lines.
func (b *lockedBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := strings.Split(strings.TrimRight(b.buf.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
