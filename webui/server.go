package webui

import (
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"civic/internal/audit"
	"civic/internal/auth"
	"civic/internal/events"
)

//go:embed static
var embeddedStatic embed.FS

// Options configure the console server.
type Options struct {
	// Listen is the TCP address of the console. Default: ":8443".
	Listen string
	// TLS is "auto" (self-signed certificate in DataDir), "files" or "off".
	TLS string
	// CertFile and KeyFile are used when TLS is "files".
	CertFile, KeyFile string
	// Hostnames are the DNS names and IPs of the auto certificate.
	Hostnames []string
	// AllowedOrigins are extra websocket origins besides the page's own.
	AllowedOrigins []string
	// StaticDir serves the UI from disk instead of the embedded copy.
	StaticDir string
	// DataDir holds the auto certificate.
	DataDir string
	// SessionTTL is how long a login lasts.
	SessionTTL time.Duration
	// MaxMessageBytes, Rate and Burst bound each websocket.
	MaxMessageBytes int64
	Rate            float64
	Burst           int
	// Version is reported by system.status and auth_ok.
	Version string
	// DiscoveryAddr is where camera discovery sends its WS-Discovery
	// probe. Default: "" (the standard multicast group); tests give a
	// loopback responder.
	DiscoveryAddr string
}

// Deps are the core services the console uses.
type Deps struct {
	Auth    *auth.Service
	Audit   *audit.Log
	Bus     *events.Bus
	Metrics *prometheus.Registry
	// Conference is the meetings module; nil when it is not running.
	Conference Conference
	// Phones is the SIP module; nil when it is not running.
	Phones Phones
	// Building is the doors and access-control module; nil when it is not
	// running.
	Building Building
	// Cameras is building/cameras; nil when it is not running.
	Cameras Cameras
	// Bridge is the meeting bridge for desk phones; nil when it is not
	// running.
	Bridge PhoneBridge
	// Softphone makes and takes desk-phone calls in the browser (the
	// meeting bridge); nil when it is not running.
	Softphone Softphone
	// ICEServers are the STUN/TURN servers for camera live view (the
	// meetings' own come from Conference).
	ICEServers func() []webrtc.ICEServer
	// Modules reports the state of each module for system.status.
	Modules func() []ModuleStatus
}

// Server is the console: HTTPS, login API, websocket API and static UI.
type Server struct {
	opts     Options
	deps     Deps
	log      *slog.Logger
	handlers map[string]handlerFunc
	metrics  serverMetrics
	events   eventCache
	started  time.Time

	httpSrv      *http.Server
	tlsConfig    *tls.Config
	ready        chan struct{}
	addr         atomic.Value // string: the bound address, once listening
	shuttingDown atomic.Bool

	connMu sync.Mutex
	conns  map[*conn]struct{}
	connWG sync.WaitGroup
}

type serverMetrics struct {
	wsConns       prometheus.Gauge
	wsMessages    *prometheus.CounterVec
	wsIn, wsOut   prometheus.Counter
	wsResyncs     prometheus.Counter
	loginFailures prometheus.Counter
}

// New builds the console server. It binds nothing until Run.
func New(opts Options, deps Deps, logger *slog.Logger) (*Server, error) {
	if deps.Auth == nil || deps.Audit == nil || deps.Bus == nil || deps.Metrics == nil {
		return nil, errors.New("webui: Auth, Audit, Bus and Metrics are required")
	}
	if deps.Modules == nil {
		deps.Modules = func() []ModuleStatus { return nil }
	}
	s := &Server{
		opts:    opts,
		deps:    deps,
		log:     logger,
		started: time.Now(),
		ready:   make(chan struct{}),
		conns:   make(map[*conn]struct{}),
	}
	s.handlers = s.handlerTable()
	s.metrics = serverMetrics{
		wsConns:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "civic_console_ws_connections", Help: "Open console websockets."}),
		wsMessages:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "civic_console_ws_messages_total", Help: "Console websocket messages by direction."}, []string{"direction"}),
		wsResyncs:     prometheus.NewCounter(prometheus.CounterOpts{Name: "civic_console_ws_resyncs_total", Help: "Snapshots re-sent to console clients that fell behind."}),
		loginFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "civic_login_failures_total", Help: "Failed console logins."}),
	}
	s.metrics.wsIn = s.metrics.wsMessages.WithLabelValues("in")
	s.metrics.wsOut = s.metrics.wsMessages.WithLabelValues("out")
	for _, c := range []prometheus.Collector{s.metrics.wsConns, s.metrics.wsMessages, s.metrics.wsResyncs, s.metrics.loginFailures} {
		if err := deps.Metrics.Register(c); err != nil {
			return nil, fmt.Errorf("webui: register metrics: %w", err)
		}
	}
	if opts.TLS != "off" {
		cfg, err := s.loadTLS()
		if err != nil {
			return nil, err
		}
		s.tlsConfig = cfg
	}
	static, err := s.staticFS()
	if err != nil {
		return nil, err
	}
	s.httpSrv = &http.Server{
		Handler:           s.routes(static),
		TLSConfig:         s.tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	return s, nil
}

func (s *Server) staticFS() (fs.FS, error) {
	if s.opts.StaticDir != "" {
		if _, err := os.Stat(s.opts.StaticDir); err != nil {
			return nil, fmt.Errorf("webui: http.static_dir: %w", err)
		}
		return os.DirFS(s.opts.StaticDir), nil
	}
	return fs.Sub(embeddedStatic, "static")
}

func (s *Server) routes(static fs.FS) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/login", s.handleLogin)
	mux.HandleFunc("POST /api/logout", s.handleLogout)
	mux.HandleFunc("POST /api/guest", s.handleGuest)
	mux.HandleFunc("POST /api/guest/invite", s.handleGuestInvite)
	mux.HandleFunc("GET /api/ws", s.handleWS)
	mux.HandleFunc("GET /api/meetings/{room}/attendance.csv", s.handleAttendanceCSV)
	mux.HandleFunc("GET "+RecordsCSVPath, s.handleRecordsCSV)
	mux.HandleFunc("GET "+AccessCSVPath, s.handleAccessCSV)
	mux.HandleFunc("GET "+FloorPlanPath, s.handleFloorPlanGet)
	mux.HandleFunc("POST "+FloorPlanPath, s.handleFloorPlanPost)
	mux.HandleFunc("DELETE "+FloorPlanPath, s.handleFloorPlanDelete)
	mux.HandleFunc("GET "+CameraSnapshotPath, s.handleCameraSnapshot)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.deps.Metrics, promhttp.HandlerOpts{}))
	mux.Handle("GET /", http.FileServerFS(static))
	return s.secureHeaders(mux)
}

// secureHeaders sets the headers every response carries.
func (s *Server) secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if s.tlsConfig != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if strings.HasPrefix(r.URL.Path, "/api/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if s.shuttingDown.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"shutting_down"}`))
		return
	}
	_, _ = w.Write([]byte(`{"status":"ok"}`))
}

// Run binds the listen address and serves until ctx ends or serving fails.
// A busy port is reported with the address and the config key.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("console: cannot listen on %s (http.listen): %w", s.opts.Listen, err)
	}
	scheme := "https"
	if s.tlsConfig == nil {
		scheme = "http"
	} else {
		ln = tls.NewListener(ln, s.tlsConfig)
	}
	s.addr.Store(ln.Addr().String())
	close(s.ready)
	s.log.Info("console listening", "url", scheme+"://"+displayAddr(ln.Addr()), "tls", s.opts.TLS)
	errc := make(chan error, 1)
	go func() { errc <- s.httpSrv.Serve(ln) }()
	purge := time.NewTicker(sessionPurgeInterval)
	defer purge.Stop()
	for {
		select {
		case err := <-errc:
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return fmt.Errorf("console: serve: %w", err)
		case <-purge.C:
			if n, err := s.deps.Auth.PurgeExpired(ctx); err != nil {
				s.log.Error("purge expired sessions", "err", err)
			} else if n > 0 {
				s.log.Debug("purged expired sessions", "count", n)
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// sessionPurgeInterval is how often expired sessions are deleted.
const sessionPurgeInterval = 10 * time.Minute

// Ready is closed once Run has bound its address.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the bound address, valid after Ready.
func (s *Server) Addr() string {
	a, _ := s.addr.Load().(string)
	return a
}

// Shutdown stops accepting, closes every websocket with 1001 and waits for
// them and for in-flight HTTP requests, until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shuttingDown.Store(true)
	s.connMu.Lock()
	for c := range s.conns {
		c.close(CloseGoingAway, "server shutting down")
	}
	s.connMu.Unlock()
	err := s.httpSrv.Shutdown(ctx)
	done := make(chan struct{})
	go func() { s.connWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("console: websockets still open at shutdown deadline: %w", ctx.Err())
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("console: shutdown: %w", err)
	}
	return nil
}

// track registers a live websocket; false when the server is shutting down.
func (s *Server) track(c *conn) bool {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.shuttingDown.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	s.connWG.Add(1)
	s.metrics.wsConns.Inc()
	return true
}

func (s *Server) untrack(c *conn) {
	s.connMu.Lock()
	delete(s.conns, c)
	s.connMu.Unlock()
	s.metrics.wsConns.Dec()
	s.connWG.Done()
}

// closeUserConns ends every websocket of a user, e.g. after a role change.
func (s *Server) closeUserConns(userID int64, reason string) {
	s.closeConnsWhere(func(c *conn) bool { return c.session().User.ID == userID }, reason)
}

// closeUserConnsExcept ends a user's websockets but the one using keepToken.
func (s *Server) closeUserConnsExcept(userID int64, keepToken, reason string) {
	s.closeConnsWhere(func(c *conn) bool { return c.session().User.ID == userID && c.token != keepToken }, reason)
}

// closeTokenConns ends every websocket that uses a session token.
func (s *Server) closeTokenConns(token, reason string) {
	s.closeConnsWhere(func(c *conn) bool { return c.token == token }, reason)
}

func (s *Server) closeConnsWhere(match func(*conn) bool, reason string) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	for c := range s.conns {
		if match(c) {
			c.close(ClosePolicy, reason)
		}
	}
}

// audit records one entry; a failure to write is logged, never hidden.
func (s *Server) audit(ctx context.Context, user, role, action, target, result, detail, source string) {
	err := s.deps.Audit.Append(context.WithoutCancel(ctx), audit.Entry{
		User: user, Role: role, Action: action, Target: target, Result: result, Detail: detail, Source: source,
	})
	if err != nil {
		s.log.Error("write audit entry", "action", action, "user", user, "err", err)
	}
}

// PublishStatus announces the current system status on the bus; main
// calls it when a module changes state.
func (s *Server) PublishStatus() { s.deps.Bus.Publish(s.systemStatus()) }

func (s *Server) systemStatus() SystemStatus {
	mods := s.deps.Modules()
	if mods == nil {
		mods = []ModuleStatus{}
	}
	return SystemStatus{
		Version:   s.opts.Version,
		GoVersion: runtime.Version(),
		StartedAt: s.started.UTC().Format(time.RFC3339),
		UptimeS:   int64(time.Since(s.started).Seconds()),
		Modules:   mods,
	}
}

// checkOrigin accepts a websocket from the console's own origin, from a
// configured extra origin, or from a client that sends no Origin (not a
// browser; it still has to authenticate).
func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, o := range s.opts.AllowedOrigins {
		if strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	return false
}

// clientIP is the request's source address without the port.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// displayAddr turns ":8443" style addresses into something clickable.
func displayAddr(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok || !ta.IP.IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort("localhost", fmt.Sprint(ta.Port))
}
