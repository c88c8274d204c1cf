package mqttlink

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"civic/building"
	"civic/building/mqttlink/simtest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func fakeClock() *clock { return &clock{t: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestLogRateLimit(t *testing.T) {
	logger, logs := newLogRec()
	clk := fakeClock()
	lim := newLimitedLog(logger, clk.now)
	for range 20 {
		lim.Warn("k", "mqtt message dropped", "controller", "c1")
	}
	lim.Warn("other", "mqtt message dropped", "controller", "c2")
	if n := len(logs.find("mqtt message dropped", "controller", "c1")); n != logBurst {
		t.Errorf("%d lines for c1, want %d", n, logBurst)
	}
	if n := len(logs.find("mqtt message dropped", "controller", "c2")); n != 1 {
		t.Errorf("%d lines for c2, want 1 (keys are limited apart)", n)
	}
	clk.add(logWindow)
	lim.Warn("k", "mqtt message dropped", "controller", "c1")
	got := logs.find("mqtt message dropped", "controller", "c1", "suppressed", "15")
	if len(got) != 1 {
		t.Errorf("after the window: want one line saying 15 were suppressed; log:\n%s", logs.dump())
	}
}

func TestMayRead(t *testing.T) {
	tests := []struct {
		filter string
		want   bool
	}{
		{"civic/v1/controllers/c1/commands", true},
		{"civic/v1/controllers/c1/readers/+/decision", true},
		{"civic/v1/controllers/c1/readers/r1/decision", true},
		{"civic/v1/controllers/c1/readers/#", false},
		{"civic/v1/controllers/c1/readers/+/+", false},
		{"civic/v1/controllers/c1/readers/r1/card", false},
		{"civic/v1/controllers/c1/readers/a/b/decision", false},
		{"civic/v1/controllers/c1/#", false},
		{"civic/v1/controllers/c2/commands", false},
		{"civic/v1/controllers/+/commands", false},
		{"civic/v1/controllers/c10/commands", false},
		{"civic/v1/controllers/c1/commands/#", false},
		{"$share/g/civic/v1/controllers/c1/commands", false},
		{"#", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := mayRead("c1", tt.filter); got != tt.want {
			t.Errorf("mayRead(c1, %q) = %v, want %v", tt.filter, got, tt.want)
		}
	}
}

// blockingDevice blocks each Heartbeat until release is closed.
type blockingDevice struct {
	*fakeDevice
	entered chan struct{}
	release chan struct{}
}

func (b *blockingDevice) Heartbeat(ctx context.Context, c, id string, at time.Time) error {
	b.entered <- struct{}{}
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return b.fakeDevice.Heartbeat(ctx, c, id, at)
}

// TestBacklog: a controller's messages wait in order, up to Backlog; the
// excess is dropped and logged.
func TestBacklog(t *testing.T) {
	clk := fakeClock()
	dev := &blockingDevice{fakeDevice: newFakeDevice(nil), entered: make(chan struct{}, 10), release: make(chan struct{})}
	logger, logs := newLogRec()
	l, err := New(Config{Listen: "127.0.0.1:0", Backlog: 2, Now: clk.now}, dev, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := l.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	hb := func(id string) []byte {
		return []byte(`{"v":1,"id":"` + id + `","ts":"` + clk.now().Format(time.RFC3339) + `"}`)
	}
	l.receive("civic/v1/controllers/c1/heartbeat", hb("h1"), "c1")
	<-dev.entered // h1 is being handled
	for _, id := range []string{"h2", "h3", "h4", "h5"} {
		l.receive("civic/v1/controllers/c1/heartbeat", hb(id), "c1")
	}
	if got := l.Stats().Dropped; got != 2 {
		t.Errorf("dropped %d, want 2 (h4, h5)", got)
	}
	waitLog(t, logs, "mqtt message dropped", "controller", "c1", "reason", "backlog_full")
	close(dev.release)
	waitFor(t, "h1-h3 handled", func() bool { return l.Stats().Handled == 3 })
	_, _, beats, _, _ := dev.snapshot()
	var ids []string
	for _, b := range beats {
		ids = append(ids, b.MsgID)
	}
	if len(ids) != 3 || ids[0] != "h1" || ids[1] != "h2" || ids[2] != "h3" {
		t.Errorf("handled %v, want [h1 h2 h3] in order", ids)
	}
}

// TestStatusOrder: a will older than the status already taken (the will
// of a connection a reconnect replaced) is dropped; statuses are not
// checked for age.
func TestStatusOrder(t *testing.T) {
	clk := fakeClock()
	dev := newFakeDevice(nil)
	logger, logs := newLogRec()
	l, err := New(Config{Listen: "127.0.0.1:0", Now: clk.now}, dev, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Shutdown(context.Background()) }()
	st := func(id, status string, at time.Time) []byte {
		return []byte(`{"v":1,"id":"` + id + `","ts":"` + at.Format(time.RFC3339) + `","status":"` + status + `"}`)
	}
	old := clk.now().Add(-48 * time.Hour)
	topic := "civic/v1/controllers/c1/status"
	l.receive(topic, st("s1", "online", old), "c1")                 // taken although old
	l.receive(topic, st("s2", "online", clk.now()), "c1")           // taken
	l.receive(topic, st("s3", "offline", old.Add(time.Hour)), "c1") // older than s2: dropped
	waitFor(t, "3 statuses processed", func() bool { s := l.Stats(); return s.Handled+s.Dropped == 3 })
	_, _, _, _, got := dev.snapshot()
	if len(got) != 2 || got[0].MsgID != "s1" || got[1].MsgID != "s2" {
		t.Errorf("statuses %v, want s1, s2", got)
	}
	waitLog(t, logs, "mqtt message dropped", "reason", "out_of_order", "id", "s3")
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"nothing", Config{}, false},
		{"listen", Config{Listen: "127.0.0.1:0"}, true},
		{"listen no port", Config{Listen: "127.0.0.1"}, false},
		{"url", Config{URL: "mqtts://u:p@broker.example:8883"}, true},
		{"url ws", Config{URL: "ws://broker.example:8080/mqtt"}, true},
		{"url http", Config{URL: "http://broker.example"}, false},
		{"url no host", Config{URL: "mqtt://"}, false},
	}
	for _, tt := range tests {
		_, err := tt.cfg.withDefaults()
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v is not ErrInvalid", tt.name, err)
		}
	}
	l, err := New(Config{Listen: "127.0.0.1:0"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Send(context.Background(), "c1", building.Command{ID: "k", Door: "d", Action: "lock"}); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Send before Run: %v, want ErrNotRunning", err)
	}
	if err := l.Run(context.Background()); !errors.Is(err, ErrNoDevice) {
		t.Errorf("Run without a Device: %v, want ErrNoDevice", err)
	}
	_ = l.Shutdown(context.Background())
	var _ building.Commander = l
}

func TestLoginGuard(t *testing.T) {
	clk := fakeClock()
	g := newLoginGuard(clk.now)
	for i := range loginFailures {
		if g.blocked("10.0.0.1") {
			t.Fatalf("blocked after %d failures", i)
		}
		g.failed("10.0.0.1")
	}
	if !g.blocked("10.0.0.1") {
		t.Errorf("not blocked after %d failures", loginFailures)
	}
	if g.blocked("10.0.0.2") {
		t.Error("another address is blocked too")
	}
	clk.add(loginWindow)
	if g.blocked("10.0.0.1") {
		t.Error("still blocked after the window")
	}
}

// TestNoLeak: after Shutdown, the link and its broker leave no goroutine
// behind, with a controller connected (its connection is closed under
// it) and messages handled.
func TestNoLeak(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dev := newFakeDevice(map[string]string{"c1": "pw-c1"})
	l, err := New(Config{Listen: "127.0.0.1:0"}, dev, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- l.Run(ctx) }()
	sim := startSim(t, "mqtt://"+l.Addr(), "1h", "c1:pw-c1")
	sim.Wait(t, "connected", simtest.Match("connected", "controller", "c1"))
	sim.Do(t, "swipe c1 c1-d1-in 1001")
	sim.Wait(t, "decision", simtest.Match("decision", "controller", "c1"))

	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := l.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	sim.Wait(t, "disconnected by the shutdown", simtest.Match("disconnected", "controller", "c1"))
	if err := l.Send(context.Background(), "c1", building.Command{ID: "late", Door: "c1-d1", Action: "lock"}); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Send after Shutdown: %v, want ErrNotRunning", err)
	}
	sim.Stop()
}
