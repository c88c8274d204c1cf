// Package simtest builds the building simulator (cmd/civicsim) and runs
// it as a separate process in tests: it writes control commands to the
// simulator's standard input and waits, with deadlines, for the JSON
// events it prints. Only tests import it (it imports testing).
package simtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Timeout is how long Wait waits for an event by default.
const Timeout = 15 * time.Second

// Build compiles cmd/civicsim into dir and returns the binary's path.
// Call it once per test binary (from TestMain) and pass the path to
// Start.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "civicsim")
	cmd := exec.Command("go", "build", "-o", bin, "civic/cmd/civicsim")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build civicsim: %v\n%s", err, out.String())
	}
	return bin, nil
}

// Event is one line the simulator printed.
type Event map[string]any

// Str returns the string value of key, or "".
func (e Event) Str(key string) string {
	s, _ := e[key].(string)
	return s
}

// Bool returns the bool value of key, or false.
func (e Event) Bool(key string) bool {
	b, _ := e[key].(bool)
	return b
}

// Int returns the numeric value of key, or 0.
func (e Event) Int(key string) int {
	f, _ := e[key].(float64)
	return int(f)
}

// Name returns the event's kind ("decision", "ack", ...).
func (e Event) Name() string { return e.Str("event") }

// Match returns a matcher for events of kind name whose values equal the
// given key-value pairs (compared as printed: strings, bools, numbers).
func Match(name string, kv ...any) func(Event) bool {
	return func(e Event) bool {
		if e.Name() != name {
			return false
		}
		for i := 0; i+1 < len(kv); i += 2 {
			k, _ := kv[i].(string)
			if fmt.Sprint(e[k]) != fmt.Sprint(kv[i+1]) {
				return false
			}
		}
		return true
	}
}

// Sim is a running simulator process.
type Sim struct {
	t     testing.TB
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu      sync.Mutex
	events  []Event
	changed chan struct{} // closed and replaced on each new event
	stderr  bytes.Buffer
	exited  chan struct{}
	once    sync.Once
}

// Start runs bin with args ("building" is added first) and stops it when
// the test ends: it sends quit, waits 5 s, then kills it.
func Start(t testing.TB, bin string, args ...string) *Sim {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"building"}, args...)...)
	s := &Sim{t: t, cmd: cmd, changed: make(chan struct{}), exited: make(chan struct{})}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &lockedWriter{mu: &s.mu, w: &s.stderr}
	s.stdin = stdin
	if err := cmd.Start(); err != nil {
		t.Fatalf("start civicsim: %v", err)
	}
	go s.read(stdout)
	t.Cleanup(s.Stop)
	return s
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (s *Sim) read(r io.Reader) {
	defer close(s.exited)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			e = Event{"event": "unparsed", "line": sc.Text()}
		}
		s.mu.Lock()
		s.events = append(s.events, e)
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
	}
	_ = s.cmd.Wait()
}

// Stop asks the simulator to quit (it says offline and disconnects),
// kills it if it has not exited within 5 s, and waits for it. The test's
// cleanup calls it too; later calls do nothing.
func (s *Sim) Stop() { s.once.Do(s.stop) }

func (s *Sim) stop() {
	_, _ = io.WriteString(s.stdin, "quit\n")
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	if s.t.Failed() {
		s.mu.Lock()
		var shown []Event // the last 60, heartbeats left out
		beats := 0
		for i := len(s.events) - 1; i >= 0 && len(shown) < 60; i-- {
			if s.events[i].Name() == "heartbeat" {
				beats++
				continue
			}
			shown = append(shown, s.events[i])
		}
		var b strings.Builder
		for i := len(shown) - 1; i >= 0; i-- {
			j, _ := json.Marshal(shown[i])
			b.Write(j)
			b.WriteByte('\n')
		}
		s.t.Logf("civicsim: last %d events (and %d heartbeats among them):\n%sstderr:\n%s", len(shown), beats, b.String(), s.stderr.String())
		s.mu.Unlock()
	}
}

// Do writes one control command line to the simulator.
func (s *Sim) Do(t testing.TB, line string) {
	t.Helper()
	if _, err := io.WriteString(s.stdin, line+"\n"); err != nil {
		t.Fatalf("civicsim stdin: %v", err)
	}
}

// Mark returns how many events have been printed so far, for WaitAfter.
func (s *Sim) Mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.events)
}

// Events returns a copy of the events printed so far.
func (s *Sim) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Wait returns the first event since the start that matches, waiting up
// to Timeout; it fails t if none comes.
func (s *Sim) Wait(t testing.TB, what string, match func(Event) bool) Event {
	t.Helper()
	return s.WaitAfter(t, 0, what, match)
}

// WaitAfter is Wait for events printed after mark (see Mark).
func (s *Sim) WaitAfter(t testing.TB, mark int, what string, match func(Event) bool) Event {
	t.Helper()
	deadline := time.NewTimer(Timeout)
	defer deadline.Stop()
	i := mark
	exited := false
	for {
		s.mu.Lock()
		for ; i < len(s.events); i++ {
			if match(s.events[i]) {
				e := s.events[i]
				s.mu.Unlock()
				return e
			}
		}
		changed := s.changed
		s.mu.Unlock()
		if exited {
			t.Fatalf("civicsim exited while waiting for %s", what)
		}
		select {
		case <-changed:
		case <-s.exited:
			exited = true // look once more at what it printed last
		case <-deadline.C:
			t.Fatalf("civicsim: no %s within %v", what, Timeout)
		}
	}
}

// WriteFile writes a config file into a temporary directory and returns
// its path.
func WriteFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
