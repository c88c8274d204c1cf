package webui

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"civic/building"
	"civic/building/cameras"
	"civic/conference"
	"civic/internal/audit"
	"civic/internal/auth"
	"civic/internal/events"
	"civic/internal/rtc"
	"civic/internal/store"
)

// testServer is a console on a loopback port with a fresh store and one
// user per role (password "password-<role>").
type testServer struct {
	t     testing.TB
	srv   *Server
	base  string // http://127.0.0.1:port
	auth  *auth.Service
	audit *audit.Log
	bus   *events.Bus
	conf  *conference.Service
	// phones stands in for the SIP module (phones_test.go).
	phones *fakePhones
	// bld is a real building module on the same store, with a clock the
	// test sets and a commander that records what it is asked to send
	// (building_test.go).
	bld *building.Service
	// cams is a real building/cameras on the same store, with live view
	// on loopback and discovery probes sent to a loopback port.
	cams  *cameras.Service
	clock *testClock
	cmds  *recordingCommander
	msgN  atomic.Int64 // controller message ids
	users map[auth.Role]auth.User
	db    *sql.DB // the store, for tests that reach past the API (expiring an invite)
}

type serverOpt func(*Options)

func newTestServer(t testing.TB, opts ...serverOpt) *testServer {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	st, err := store.Open(ctx, t.TempDir(), logger)
	if err != nil {
		t.Fatal(err)
	}
	bus := events.New(events.Options{})
	auditLog := audit.New(st.DB(), func(e audit.Entry) { bus.Publish(AuditEvent{Entry: e}) })
	accounts := auth.New(st.DB(), auth.Options{
		SessionTTL: time.Hour, MaxFailuresPerUser: 5, MaxFailuresPerSource: 1000,
		FailureWindow: time.Minute, Lockout: time.Minute, BcryptCost: bcrypt.MinCost,
	})
	o := Options{
		Listen: "127.0.0.1:0", TLS: "off", SessionTTL: time.Hour,
		MaxMessageBytes: 64 << 10, Rate: 1000, Burst: 1000, Version: "test",
		DiscoveryAddr: "127.0.0.1:9", // discard: nobody answers
	}
	for _, f := range opts {
		f(&o)
	}
	engine, err := rtc.New(rtc.Config{Host: "127.0.0.1", TCPPort: -1, LoopbackOnly: true}, logger)
	if err != nil {
		t.Fatal(err)
	}
	conf := conference.New(conference.Config{}, st.DB(), engine, bus, logger)
	phones := newFakePhones(bus)
	clk, cmds := &testClock{t: buildingEpoch}, &recordingCommander{}
	bld, err := building.New(building.Config{Now: clk.Now, Location: time.UTC, Commander: cmds, BcryptCost: bcrypt.MinCost},
		st.DB(), bus, auditLog, logger.With("module", "building"))
	if err != nil {
		t.Fatal(err)
	}
	cams, err := cameras.New(ctx, cameras.Config{NewPeerConnection: engine.NewViewerConnection, CheckInterval: time.Hour,
		Timeout: 2 * time.Second, OfflineAfter: 2 * time.Second}, st.DB(), bus, bld, logger.With("module", "cameras"))
	if err != nil {
		t.Fatal(err)
	}
	bridge := &fakeBridge{}
	srv, err := New(o, Deps{
		Auth: accounts, Audit: auditLog, Bus: bus, Metrics: prometheus.NewRegistry(), Conference: conf, Phones: phones, Building: bld,
		Cameras: cams, ICEServers: engine.ICEServers, Bridge: bridge, Softphone: bridge,
		Modules: func() []ModuleStatus { return []ModuleStatus{{Name: "store", State: "running"}} },
	}, logger)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	camsDone := make(chan struct{})
	go func() {
		defer close(camsDone)
		cams.Run(runCtx)
	}()
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("console did not start: %v", err)
	}
	ts := &testServer{t: t, srv: srv, base: "http://" + srv.Addr(), auth: accounts, audit: auditLog, bus: bus, conf: conf, phones: phones,
		bld: bld, cams: cams, clock: clk, cmds: cmds, users: map[auth.Role]auth.User{}, db: st.DB()}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		cancel()
		<-done
		<-camsDone
		_ = conf.Shutdown(sctx)
		_ = bld.Shutdown(sctx)
		engine.Close()
		bus.Close()
		st.Close()
	})
	for _, r := range auth.Roles() {
		u, err := accounts.CreateUser(ctx, auth.NewUser{Username: "u-" + string(r), Role: r, Password: "password-" + string(r)})
		if err != nil {
			t.Fatal(err)
		}
		ts.users[r] = u
	}
	return ts
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// login signs in a role's user over HTTP and returns the token.
func (ts *testServer) login(role auth.Role) string {
	ts.t.Helper()
	resp, body := ts.post("/api/login", `{"username":"u-`+string(role)+`","password":"password-`+string(role)+`"}`)
	if resp.StatusCode != http.StatusOK {
		ts.t.Fatalf("login %s: %d %s", role, resp.StatusCode, body)
	}
	var lr LoginResponse
	if err := json.Unmarshal(body, &lr); err != nil {
		ts.t.Fatal(err)
	}
	return lr.Token
}

func (ts *testServer) post(path, body string) (*http.Response, []byte) {
	ts.t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.base+path, strings.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// wsClient is a raw console websocket client for tests.
type wsClient struct {
	t      testing.TB
	ws     *websocket.Conn
	nextID int64
	first  map[string]any // the server's first message
}

// dial opens /api/ws without authenticating.
func (ts *testServer) dial(header http.Header) *wsClient {
	ts.t.Helper()
	url := "ws" + strings.TrimPrefix(ts.base, "http") + "/api/ws"
	ws, resp, err := websocket.DefaultDialer.Dial(url, header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		ts.t.Fatalf("dial %s: %v (status %d)", url, err, status)
	}
	c := &wsClient{t: ts.t, ws: ws}
	ts.t.Cleanup(func() { ws.Close() })
	c.first = c.readMsg()
	if typ := c.first["type"]; typ != TypeAuthRequired {
		ts.t.Fatalf("first message type = %v, want auth_required", typ)
	}
	return c
}

// connect opens an authenticated websocket with a token.
func (ts *testServer) connect(token string) *wsClient {
	ts.t.Helper()
	c := ts.dial(nil)
	c.writeJSON(map[string]any{"type": TypeAuth, "token": token})
	if m := c.readMsg(); m["type"] != TypeAuthOK {
		ts.t.Fatalf("auth reply = %v, want auth_ok", m)
	}
	return c
}

func (c *wsClient) writeJSON(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.writeRaw(b)
}

func (c *wsClient) writeRaw(b []byte) {
	c.t.Helper()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// readRaw reads one message; it fails the test after 10 s.
func (c *wsClient) readRaw() ([]byte, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := c.ws.ReadMessage()
	return b, err
}

func (c *wsClient) readMsg() map[string]any {
	c.t.Helper()
	b, err := c.readRaw()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("server sent non-JSON %q: %v", b, err)
	}
	return m
}

// request sends a request with the next id and returns its result message,
// skipping events of earlier subscriptions.
func (c *wsClient) request(typ string, params map[string]any) map[string]any {
	c.t.Helper()
	c.nextID++
	id := c.nextID
	msg := map[string]any{"id": id, "type": typ}
	for k, v := range params {
		msg[k] = v
	}
	c.writeJSON(msg)
	return c.resultFor(id)
}

func (c *wsClient) resultFor(id int64) map[string]any {
	c.t.Helper()
	for {
		m := c.readMsg()
		if m["type"] == TypeEvent {
			continue
		}
		if got, _ := m["id"].(float64); int64(got) == id {
			return m
		}
		c.t.Fatalf("unexpected message while waiting for result %d: %v", id, m)
	}
}

// errCode is the error code of a failed result, or "" for success.
func errCode(m map[string]any) string {
	if m["success"] == true {
		return ""
	}
	e, _ := m["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// closeCode reads until the server closes and returns the close code.
func (c *wsClient) closeCode() int {
	c.t.Helper()
	for {
		_, err := c.readRaw()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		c.t.Fatalf("connection ended without a close frame: %v", err)
	}
}

func compactJSON(t testing.TB, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func jsonDecode(resp *http.Response, v any) error {
	return json.NewDecoder(resp.Body).Decode(v)
}
