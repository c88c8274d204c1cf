package mqttlink

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"civic/building"
	"civic/building/mqttlink/simtest"
)

// simBin is the civicsim binary TestMain built.
var simBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "civicsim")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	simBin, err = simtest.Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// waitFor polls cond until it holds, failing the test after 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(simtest.Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type beat struct {
	Controller, MsgID string
	At                time.Time
}

type statusCall struct {
	Controller, Status, MsgID string
}

// fakeDevice is a building.Device (and StatusDevice) that records every
// call and decides by a table of cards.
type fakeDevice struct {
	mu        sync.Mutex
	passwords map[string]string
	grant     map[string]bool // card -> granted
	swipes    []building.Swipe
	doors     []building.DoorReport
	beats     []beat
	acks      []building.Ack
	statuses  []statusCall
}

func newFakeDevice(passwords map[string]string) *fakeDevice {
	return &fakeDevice{passwords: passwords, grant: map[string]bool{"1001": true}}
}

var _ StatusDevice = (*fakeDevice)(nil)

func (f *fakeDevice) Authenticate(c, pw string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	want, ok := f.passwords[c]
	return ok && pw == want
}

func (f *fakeDevice) Swipe(_ context.Context, s building.Swipe) (building.Decision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.swipes = append(f.swipes, s)
	if s.Card == "boom" {
		return building.Decision{}, fmt.Errorf("store: disk on fire")
	}
	door := strings.TrimSuffix(strings.TrimSuffix(s.Reader, "-in"), "-out")
	if f.grant[s.Card] {
		return building.Decision{Granted: true, Reason: "granted", Door: door, UnlockFor: 3 * time.Second, Cardholder: "ch-" + s.Card}, nil
	}
	return building.Decision{Reason: "unknown_card", Door: door}, nil
}

func (f *fakeDevice) DoorState(_ context.Context, r building.DoorReport) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.doors = append(f.doors, r)
	return nil
}

func (f *fakeDevice) Heartbeat(_ context.Context, c, id string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.beats = append(f.beats, beat{c, id, at})
	return nil
}

func (f *fakeDevice) CommandAcked(_ context.Context, a building.Ack) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acks = append(f.acks, a)
	return nil
}

func (f *fakeDevice) ControllerOnline(_ context.Context, c string, online bool, id string, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	status := "offline"
	if online {
		status = "online"
	}
	f.statuses = append(f.statuses, statusCall{c, status, id})
	return nil
}

// snapshot returns copies of everything recorded.
func (f *fakeDevice) snapshot() (swipes []building.Swipe, doors []building.DoorReport, beats []beat, acks []building.Ack, statuses []statusCall) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.swipes), slices.Clone(f.doors), slices.Clone(f.beats), slices.Clone(f.acks), slices.Clone(f.statuses)
}

// msgIDs returns every message id the device was called with.
func (f *fakeDevice) msgIDs() map[string]bool {
	swipes, doors, beats, _, statuses := f.snapshot()
	ids := map[string]bool{}
	for _, s := range swipes {
		ids[s.MsgID] = true
	}
	for _, d := range doors {
		ids[d.MsgID] = true
	}
	for _, b := range beats {
		ids[b.MsgID] = true
	}
	for _, s := range statuses {
		ids[s.MsgID] = true
	}
	return ids
}

// logRec is an slog handler that keeps every record for tests.
type logRec struct {
	store *logStore
	attrs []slog.Attr
}

type logStore struct {
	mu   sync.Mutex
	recs []logLine
}

type logLine struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

func (l logLine) String() string { return fmt.Sprintf("%s %q %v", l.Level, l.Msg, l.Attrs) }

func newLogRec() (*slog.Logger, *logStore) {
	st := &logStore{}
	return slog.New(logRec{store: st}), st
}

func (h logRec) Enabled(context.Context, slog.Level) bool { return true }

func (h logRec) Handle(_ context.Context, r slog.Record) error {
	line := logLine{Level: r.Level, Msg: r.Message, Attrs: map[string]string{}}
	for _, a := range h.attrs {
		line.Attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		line.Attrs[a.Key] = a.Value.String()
		return true
	})
	h.store.mu.Lock()
	h.store.recs = append(h.store.recs, line)
	h.store.mu.Unlock()
	return nil
}

func (h logRec) WithAttrs(as []slog.Attr) slog.Handler {
	return logRec{store: h.store, attrs: append(slices.Clone(h.attrs), as...)}
}

func (h logRec) WithGroup(string) slog.Handler { return h }

// find returns the lines with message msg whose attributes include kv.
func (s *logStore) find(msg string, kv ...string) []logLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []logLine
next:
	for _, l := range s.recs {
		if l.Msg != msg {
			continue
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if l.Attrs[kv[i]] != kv[i+1] {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}

func (s *logStore) dump() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, l := range s.recs {
		b.WriteString(l.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// waitLog waits for a line with message msg and attributes kv.
func waitLog(t *testing.T, logs *logStore, msg string, kv ...string) logLine {
	t.Helper()
	var got []logLine
	deadline := time.Now().Add(simtest.Timeout)
	for {
		if got = logs.find(msg, kv...); len(got) > 0 {
			return got[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line %q %v; log:\n%s", msg, kv, logs.dump())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startLink runs an embedded-broker link on a free loopback port.
func startLink(t *testing.T, dev building.Device, mod func(*Config)) (*Link, *logStore) {
	t.Helper()
	logger, logs := newLogRec()
	cfg := Config{Listen: "127.0.0.1:0"}
	if mod != nil {
		mod(&cfg)
	}
	l, err := New(cfg, dev, logger)
	if err != nil {
		t.Fatal(err)
	}
	runLink(t, l)
	return l, logs
}

func runLink(t *testing.T, l *Link) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := l.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-errc; err != nil {
			t.Errorf("run: %v", err)
		}
	})
}

// simYAML is a simulator config: each controller "id:password" gets one
// door id-d1 with readers id-d1-in and id-d1-out.
func simYAML(heartbeat string, ctrls ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "heartbeat: %s\ndecision_timeout: 5s\ncontrollers:\n", heartbeat)
	for _, c := range ctrls {
		id, pw, _ := strings.Cut(c, ":")
		fmt.Fprintf(&b, "  - id: %s\n    password: %q\n    doors:\n      - id: %s-d1\n        unlock_s: 4\n        readers:\n          - {id: %s-d1-in, direction: in}\n          - {id: %s-d1-out, direction: out}\n", id, pw, id, id, id)
	}
	return b.String()
}

// startSim runs the simulator against addr with the given controllers.
func startSim(t *testing.T, broker, heartbeat string, ctrls ...string) *simtest.Sim {
	t.Helper()
	cfg := simtest.WriteFile(t, "sim.yaml", simYAML(heartbeat, ctrls...))
	return simtest.Start(t, simBin, "--broker", broker, "--config", cfg)
}
