package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"civic/configs"
	"civic/internal/store"
)

// testEnv is the environment of a daemon under test: loopback only, free
// ports, a known admin password and no embedded MQTT broker.
func testEnv(dataDir string) []string {
	return []string{
		"CIVIC_DATA_DIR=" + dataDir,
		"CIVIC_ADMIN_PASSWORD=admin-test-password",
		"CIVIC_HTTP_LISTEN=127.0.0.1:0",
		"CIVIC_HTTP_TLS=off",
		"CIVIC_LOG_FORMAT=json",
		"CIVIC_MQTT_LISTEN=",
		"CIVIC_SIP_LISTEN=127.0.0.1:0",
		"CIVIC_SIP_TLS_LISTEN=127.0.0.1:0",
		"CIVIC_WEBRTC_UDP_PORT=0",
		"CIVIC_WEBRTC_TCP_PORT=0",
		"CIVIC_WEBRTC_INTERFACES=lo",
	}
}

// TestShutdownInProcess runs the daemon in this process with a live
// websocket, cancels it, and checks that the socket was closed with 1001,
// the daemon returned cleanly, and no goroutine was left behind.
func TestShutdownInProcess(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dir := t.TempDir()
	env := testEnv(dir)
	cfg, err := configs.LoadWithEnv("", env)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() { done <- runDaemon(ctx, cfg, env, io.Discard, &out, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("daemon stopped early: %v\n%s", err, out.String())
	}

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	resp, err := client.Post("http://"+addr+"/api/login", "application/json", strings.NewReader(`{"username":"admin","password":"admin-test-password"}`))
	if err != nil {
		t.Fatal(err)
	}
	var lr struct{ Token string }
	_ = json.NewDecoder(resp.Body).Decode(&lr)
	resp.Body.Close()
	if resp.StatusCode != 200 || lr.Token == "" {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/api/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_, _, _ = ws.ReadMessage() // auth_required
	_ = ws.WriteJSON(map[string]string{"type": "auth", "token": lr.Token})
	if _, msg, err := ws.ReadMessage(); err != nil || !bytes.Contains(msg, []byte("auth_ok")) {
		t.Fatalf("auth: %s %v", msg, err)
	}

	cancel()
	var ce *websocket.CloseError
	for {
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, _, err = ws.ReadMessage(); err != nil {
			break
		}
	}
	if !errors.As(err, &ce) || ce.Code != 1001 {
		t.Fatalf("websocket ended with %v, want close 1001", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("runDaemon: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not stop within 10 s")
	}
	ws.Close()
	tr.CloseIdleConnections()
}

// binDir holds the civicd binary the tests build once; TestMain removes it.
var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	binError error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildDaemon compiles civicd once per test run and returns its path.
func buildDaemon(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binError = os.MkdirTemp("", "civicd-test-")
		if binError != nil {
			return
		}
		binPath = filepath.Join(binDir, "civicd")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Stderr = os.Stderr
		binError = cmd.Run()
	})
	if binError != nil {
		t.Fatalf("go build: %v", binError)
	}
	return binPath
}

// TestSIGTERMExitsCleanly starts the real binary, sends SIGTERM and checks
// that it exits 0 within 5 s and leaves a consistent store.
func TestSIGTERMExitsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	cmd, url, dir, _ := startProcess(t)
	resp, err := http.Get(url + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Fatalf("civicd exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("civicd did not exit within 5 s of SIGTERM")
	}
	t.Logf("exit after SIGTERM took %v", time.Since(start))

	// The store is consistent and complete: the lock is free, the WAL was
	// checkpointed, and the first-run admin is there.
	if _, err := os.Stat(filepath.Join(dir, "civic.db-wal")); err == nil {
		if fi, _ := os.Stat(filepath.Join(dir, "civic.db-wal")); fi.Size() != 0 {
			t.Errorf("WAL not checkpointed at exit: %d bytes", fi.Size())
		}
	}
	st, err := store.Open(context.Background(), dir, discardLogger())
	if err != nil {
		t.Fatalf("reopen store: %v", err)
	}
	defer st.Close()
	var check string
	if err := st.DB().QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
	var n int
	if err := st.DB().QueryRow("SELECT count(*) FROM users WHERE username = 'admin'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("admin rows = %d, %v", n, err)
	}
}

// startProcess builds and starts the real binary on a fresh data dir
// (returned) and waits until its console listens. Its stderr lines keep
// coming on the returned channel (lines beyond its buffer are dropped, so
// the daemon never blocks on its log); the channel closes when it exits.
func startProcess(t *testing.T) (cmd *exec.Cmd, url, dir string, lines <-chan string) {
	t.Helper()
	dir = t.TempDir()
	cmd = exec.Command(buildDaemon(t))
	cmd.Env = append(os.Environ(), testEnv(dir)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	ch := make(chan string, 1000)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case ch <- sc.Text():
			default:
			}
		}
	}()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case line, ok := <-ch:
			if !ok {
				t.Fatal("civicd exited before its console listened")
			}
			var rec struct{ Msg, URL string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "console listening" {
				return cmd, strings.Replace(rec.URL, "localhost", "127.0.0.1", 1), dir, ch
			}
		case <-deadline:
			t.Fatal("civicd did not log \"console listening\" within 20 s")
		}
	}
}

// TestBadStartsFailClearly checks that the daemon refuses to start, with
// one line naming the problem, on a busy port, a bad config, an unusable
// data dir and a store from a newer civicd.
func TestBadStartsFailClearly(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	fileAsDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(fileAsDir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	newer := t.TempDir()
	st, err := store.Open(context.Background(), newer, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().Exec("PRAGMA user_version = 9999"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	badCfg := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(badCfg, []byte("http:\n  lisen: \":1\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(t.TempDir(), "corrupt.yaml")
	if err := os.WriteFile(corrupt, []byte("http: [\n  : :\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
		env  func(dir string) []string
		want []string // substrings of the one error line
	}{
		{"port in use", nil, func(dir string) []string {
			return append(testEnv(dir), "CIVIC_HTTP_LISTEN="+busy.Addr().String())
		}, []string{busy.Addr().String(), "http.listen", "address already in use"}},
		{"unknown key", []string{"--config", badCfg}, testEnv, []string{"http.lisen"}},
		{"corrupt config", []string{"--config", corrupt}, testEnv, []string{"corrupt.yaml"}},
		{"data dir is a file", []string{"--data-dir", fileAsDir}, testEnv, []string{fileAsDir}},
		{"newer store", []string{"--data-dir", newer}, testEnv, []string{"9999"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, tt.env(t.TempDir()), strings.NewReader(""), &stdout, &stderr)
			if code == 0 {
				t.Fatalf("exit 0, want failure; stderr:\n%s", stderr.String())
			}
			last := lastLine(stderr.String())
			for _, w := range tt.want {
				if !strings.Contains(last, w) {
					t.Errorf("error line %q does not name %q", last, w)
				}
			}
		})
	}
}

// lastLine is the last non-empty line that is not a JSON log record.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasPrefix(l, "{") {
			return l
		}
	}
	return ""
}

// TestSecondSignalForcesExit holds the graceful shutdown open with a
// websocket client that never answers the close frame, sends a second
// SIGTERM, and checks that civicd exits at once with status 1.
func TestSecondSignalForcesExit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	cmd, url, _, lines := startProcess(t)
	resp, err := http.Post(url+"/api/login", "application/json", strings.NewReader(`{"username":"admin","password":"admin-test-password"}`))
	if err != nil {
		t.Fatal(err)
	}
	var lr struct{ Token string }
	_ = json.NewDecoder(resp.Body).Decode(&lr)
	resp.Body.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(url, "http")+"/api/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_, _, _ = ws.ReadMessage()
	_ = ws.WriteJSON(map[string]string{"type": "auth", "token": lr.Token})
	if _, msg, err := ws.ReadMessage(); err != nil || !bytes.Contains(msg, []byte("auth_ok")) {
		t.Fatalf("auth: %s %v", msg, err)
	}
	// From here on the client reads nothing, so it never answers a close.

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for line := range lines {
		if strings.Contains(line, "civicd shutting down") {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	forced := false
	for line := range lines {
		if strings.Contains(line, "second signal") {
			forced = true
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !forced {
		t.Fatalf("after a second SIGTERM: exit %v, forced message %v; want exit 1 and the message", err, forced)
	}
}
