package voip

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"civic/internal/audit"
	"civic/internal/events"
	"civic/internal/store"
)

// recorder is a Publisher that keeps every phone, call and key event.
type recorder struct {
	mu     sync.Mutex
	events []PhoneEvent
	calls  []CallEvent
	keys   []DTMFEvent
}

func (r *recorder) Publish(p events.Payload) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e := p.(type) {
	case PhoneEvent:
		r.events = append(r.events, e)
	case CallEvent:
		r.calls = append(r.calls, e)
	case DTMFEvent:
		r.keys = append(r.keys, e)
	}
}

// digits returns the keys pressed by extension ext, in order.
func (r *recorder) digits(ext string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := ""
	for _, k := range r.keys {
		if k.Extension == ext {
			out += k.Digit
		}
	}
	return out
}

// callEvents returns a copy of the call events so far.
func (r *recorder) callEvents() []CallEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// kinds returns the kinds published for extension n, in order.
func (r *recorder) kinds(n string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if e.Phone.Extension.Number == n {
			out = append(out, e.Kind)
		}
	}
	return out
}

// testEnv is a running Service on 127.0.0.1 with a fresh store.
type testEnv struct {
	s     *Service
	bus   *recorder
	audit *audit.Log
}

// newTestService starts a Service on 127.0.0.1:0 with its own store.
func newTestService(t testing.TB, cfg Config) *testEnv {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	st, err := store.Open(context.Background(), t.TempDir(), logger)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	env := &testEnv{bus: &recorder{}, audit: audit.New(st.DB(), nil)}
	env.s, err = New(cfg, st.DB(), env.bus, env.audit, logger.With("module", "voip"))
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- env.s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := env.s.Shutdown(sctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		st.Close()
	})
	return env
}

// addExtension creates extension n with password pw.
func (e *testEnv) addExtension(t testing.TB, n, pw string) Extension {
	t.Helper()
	ext, err := e.s.CreateExtension(context.Background(), ExtensionInput{Extension: Extension{Number: n, Name: "Desk " + n}, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	return ext
}

// phone returns extension n's state.
func (e *testEnv) phone(n string) Phone {
	for _, p := range e.s.Phones() {
		if p.Extension.Number == n {
			return p
		}
	}
	return Phone{}
}

// waitFor polls cond every 10 ms until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// needTool returns the path of an external test tool. When it is missing
// the test is skipped, or fails under CI=true.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (apt-get install sip-tester baresip ffmpeg); CI=true requires it", name)
	}
	t.Skipf("%s is not installed", name)
	return ""
}

// hasKind reports whether kinds contains k.
func hasKind(kinds []string, k string) bool { return slices.Contains(kinds, k) }
