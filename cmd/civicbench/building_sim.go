package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// buildSim runs `go build` of civicsim into dir and returns the binary.
func buildSim(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "civicsim")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "civic/cmd/civicsim")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build civic/cmd/civicsim: %w\n%s", err, out.Bytes())
	}
	return bin, nil
}

// simEvent is one of civicsim's JSON lines (the fields the bench reads).
type simEvent struct {
	TS         time.Time
	Event      string
	Controller string
	Reader     string
	Door       string
	ID         string
	Re         string
	Granted    *bool
	Reason     string
	LatencyUS  *int64
	Late       bool
	Sent       *bool
	Contact    string
	Lock       string
	Why        string
	OK         *bool
	Line       string
	Error      string
}

// Latency is a decision's card → decision time as civicsim measured it
// (latency_us), or 0.
func (e simEvent) Latency() time.Duration {
	if e.LatencyUS == nil {
		return 0
	}
	return time.Duration(*e.LatencyUS) * time.Microsecond
}

// parseSimLine decodes one line of civicsim's standard output.
func parseSimLine(b []byte) (simEvent, error) {
	var raw struct {
		TS         string `json:"ts"`
		Event      string `json:"event"`
		Controller string `json:"controller"`
		Reader     string `json:"reader"`
		Door       string `json:"door"`
		ID         string `json:"id"`
		Re         string `json:"re"`
		Granted    *bool  `json:"granted"`
		Reason     string `json:"reason"`
		LatencyUS  *int64 `json:"latency_us"`
		Late       bool   `json:"late"`
		Sent       *bool  `json:"sent"`
		Contact    string `json:"contact"`
		Lock       string `json:"lock"`
		Why        string `json:"why"`
		OK         *bool  `json:"ok"`
		Line       string `json:"line"`
		Error      any    `json:"error"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return simEvent{}, fmt.Errorf("civicsim line %q: %w", b, err)
	}
	if raw.Event == "" {
		return simEvent{}, fmt.Errorf("civicsim line %q: no event", b)
	}
	ts, err := time.Parse(time.RFC3339Nano, raw.TS)
	if err != nil {
		return simEvent{}, fmt.Errorf("civicsim line %q: ts: %w", b, err)
	}
	ev := simEvent{
		TS: ts, Event: raw.Event, Controller: raw.Controller, Reader: raw.Reader, Door: raw.Door, ID: raw.ID, Re: raw.Re,
		Granted: raw.Granted, Reason: raw.Reason, LatencyUS: raw.LatencyUS, Late: raw.Late, Sent: raw.Sent,
		Contact: raw.Contact, Lock: raw.Lock, Why: raw.Why, OK: raw.OK, Line: raw.Line,
	}
	if raw.Error != nil {
		ev.Error = fmt.Sprint(raw.Error)
	}
	return ev, nil
}

// simProc is a running civicsim building process.
type simProc struct {
	cmd     *exec.Cmd
	args    []string
	stdin   io.WriteCloser
	inMu    sync.Mutex
	stderr  *tailBuffer
	allUp   chan struct{}
	exited  chan struct{}
	waitErr error
	once    sync.Once
	errMu   sync.Mutex
	errs    []string // its "error" lines, the first few
	nErrs   int
	bad     int // lines that did not parse
}

// startSim starts civicsim building with args; handle gets every event
// (on one goroutine, in order).
func startSim(ctx context.Context, cfg buildingConfig, part string, handle func(simEvent), args ...string) (*simProc, error) {
	s := &simProc{args: append([]string{"building"}, args...), stderr: &tailBuffer{}, allUp: make(chan struct{}), exited: make(chan struct{})}
	s.cmd = exec.Command(cfg.Civicsim, s.args...)
	s.cmd.Stderr = s.stderr
	s.cmd.SysProcAttr = childAttr()
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start civicsim: %w", err)
	}
	cfg.Log.Info("civicsim up", "part", part, "pid", s.cmd.Process.Pid)
	go func() {
		s.read(stdout, handle)
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	return s, nil
}

func (s *simProc) read(r io.Reader, handle func(simEvent)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	up := false
	for sc.Scan() {
		ev, err := parseSimLine(sc.Bytes())
		if err != nil {
			s.errMu.Lock()
			s.bad++
			s.errMu.Unlock()
			continue
		}
		switch ev.Event {
		case "all_connected":
			if !up {
				up = true
				close(s.allUp)
			}
		case "error", "connect_failed", "publish_refused", "subscribe_refused":
			s.errMu.Lock()
			s.nErrs++
			if len(s.errs) < 5 {
				s.errs = append(s.errs, sc.Text())
			}
			s.errMu.Unlock()
		}
		handle(ev)
	}
	_, _ = io.Copy(io.Discard, r)
}

// PID is civicsim's process id.
func (s *simProc) PID() int { return s.cmd.Process.Pid }

// CommandLine is how civicsim was started, with a long card list
// shortened.
func (s *simProc) CommandLine() string {
	parts := []string{"civicsim"}
	for _, a := range s.args {
		if n := strings.Count(a, ","); n > 8 {
			a = fmt.Sprintf("%s,...(%d cards)", strings.Join(strings.SplitN(a, ",", 3)[:2], ","), n+1)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// waitConnected waits for civicsim's all_connected line.
func (s *simProc) waitConnected(ctx context.Context, limit time.Duration) error {
	select {
	case <-s.allUp:
		return nil
	case <-s.exited:
		return fmt.Errorf("civicsim exited before every controller connected (%v): %s %s", s.waitErr, s.firstErrors(), s.stderr.tail(10))
	case <-time.After(limit):
		return fmt.Errorf("civicsim's controllers did not all connect within %s: %s", limit, s.firstErrors())
	case <-ctx.Done():
		return ctx.Err()
	}
}

// send writes one control command to civicsim's standard input.
func (s *simProc) send(line string) error {
	s.inMu.Lock()
	defer s.inMu.Unlock()
	_, err := io.WriteString(s.stdin, line+"\n")
	return err
}

// firstErrors is civicsim's error count and first error lines.
func (s *simProc) firstErrors() string {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if s.nErrs == 0 {
		return "no error lines"
	}
	return fmt.Sprintf("%d error lines, first: %s", s.nErrs, strings.Join(s.errs, " | "))
}

// stop asks civicsim to quit (offline status, DISCONNECT), waits up to
// 10 s, then kills it. It is safe to call more than once.
func (s *simProc) stop() {
	s.once.Do(func() {
		select {
		case <-s.exited:
			return
		default:
		}
		_ = s.send("quit")
		select {
		case <-s.exited:
			return
		case <-time.After(8 * time.Second):
		}
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(2 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	})
}
