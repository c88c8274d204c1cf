// Package voip is civicd's SIP side, for IP desk phones and door stations:
// extensions and ring groups kept in the store, and a registrar on
// emiago/sipgo with digest authentication (RFC 7616/8760, MD5 and
// SHA-256), an in-memory location service (several bindings per
// extension, rport/received, the phone's own TCP/TLS connection) and an
// OPTIONS keepalive that tells whether each phone is reachable. Calls
// (a B2BUA with the RTP relay in voip/relay) build on this.
//
// cmd/civicd builds the Service, runs it and shuts it down. The console
// manages extensions and ring groups through an interface of its own that
// the Service satisfies, and follows phones on the bus topic
// [TopicPhones]. voip imports no other module: it talks to the rest of
// civicd through the small interfaces below ([Publisher], [Auditor]).
package voip

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"civic/internal/audit"
	"civic/internal/events"
)

// Errors for callers to map to user-facing codes. Each is wrapped with a
// sentence meant for the person who made the request, for example
// "invalid: a password must be 8-64 characters".
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrInvalid  = errors.New("invalid")
)

// Config configures the SIP service. Zero values take the defaults.
type Config struct {
	// Listen is the host:port for SIP over UDP and TCP (the same port for
	// both); port 0 picks a free port. Required.
	Listen string
	// TLSListen is the host:port for SIP over TLS. TLS is served only when
	// TLSListen, CertFile and KeyFile are all set. Default: "" (off).
	TLSListen string
	// CertFile and KeyFile are the PEM certificate chain and key for TLS.
	CertFile, KeyFile string
	// Domain is the SIP domain and the digest realm. Default: the host of
	// Listen, or the machine's host name when that host is empty or a
	// wildcard address. The stored password hashes depend on it.
	Domain string
	// MinExpires and MaxExpires bound a registration's lifetime: a shorter
	// one is refused with 423 (Interval Too Brief), a longer one is cut to
	// MaxExpires. Default: 60 s and 3600 s.
	MinExpires, MaxExpires time.Duration
	// QualifyInterval is how often each binding is sent an OPTIONS
	// request. Default: 30 s.
	QualifyInterval time.Duration
	// QualifyMisses is how many OPTIONS in a row may go unanswered before
	// a binding counts as unreachable. Default: 3.
	QualifyMisses int
	// QualifyTimeout is how long one OPTIONS may wait for its answer.
	// Default: 5 s, at most QualifyInterval.
	QualifyTimeout time.Duration
	// MaxFailuresPerSource is how many failed authentications from one IP
	// address within BlockFor block that address for BlockFor. Default: 20.
	MaxFailuresPerSource int
	// MaxFailuresPerExtension is how many failed authentications as one
	// extension (from anywhere) within BlockFor block that extension for
	// BlockFor. Default: 5.
	MaxFailuresPerExtension int
	// BlockFor is how long a blocked address or extension waits, and the
	// period over which failures are counted. Default: 15 min.
	BlockFor time.Duration
	// MaxRequestsPerSource is how many requests per second one address
	// may send (twice that in a burst); more get 503 with Retry-After.
	// Negative turns the limit off. Default: 100.
	MaxRequestsPerSource int
	// NonceLifetime is how long a digest nonce stays fresh; a correct
	// answer to an older one gets a new challenge with stale=true.
	// Default: 5 min.
	NonceLifetime time.Duration
	// DigestAlgorithms are the digest algorithms offered, one challenge
	// each, most preferred first: "SHA-256" and "MD5". Phones that know
	// only MD5 should skip a SHA-256 challenge (RFC 8760), but some older
	// ones (and sipp 3.6) take the first; put "MD5" first for them.
	// Default: ["SHA-256", "MD5"].
	DigestAlgorithms []string
	// MaxBindings is how many contacts one extension may register at
	// once; one more replaces the least recently seen. Default: 10.
	MaxBindings int
	// RTPPortLow and RTPPortHigh bound the UDP ports of the RTP relay
	// (each call takes two pairs); RTPPortLow is even. Default:
	// 10000-10999.
	RTPPortLow, RTPPortHigh int
	// MediaAddress is the address phones are told to send RTP to, for a
	// host behind 1:1 NAT. Default: "" (the host of Listen, or the
	// address the route to each phone leaves from).
	MediaAddress string
	// RingTimeout is how long a call rings an extension that has no
	// forwarding on no answer. Default: 60 s.
	RingTimeout time.Duration
}

// Bridge is the meeting bridge (voip/confbridge): calls to meetings'
// dial-in numbers are routed to it, and keys pressed in them passed on.
type Bridge interface {
	// Target is where a dialled number's INVITE goes when the number is
	// a meeting's.
	Target(number string) (sip.Uri, bool)
	// DTMF takes a key pressed by extension ext in call callID.
	DTMF(callID, ext string, digit rune)
	// Token is the secret the bridge's own calls (dial-out) carry in
	// the X-Civic-Bridge header; they need no digest auth.
	Token() string
	// ConsoleTarget is where calls to an extension linked to console
	// user ring in that user's open consoles; false when none is open.
	ConsoleTarget(user string) (sip.Uri, bool)
}

// SetBridge routes meetings' dial-in numbers to b.
func (s *Service) SetBridge(b Bridge) { s.bridge.Store(&b) }

// Publisher is where the service announces changes (the event bus).
type Publisher interface {
	Publish(p events.Payload)
}

// Auditor records security decisions the SIP side makes by itself, such
// as blocking an address after failed authentications.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) error
}

// TopicPhones is the bus topic of phone registration changes.
const TopicPhones events.Topic = "voip.phones"

// Event kinds on TopicPhones.
const (
	KindPhoneOnline  = "voip.phone_online"  // the first reachable binding appeared
	KindPhoneOffline = "voip.phone_offline" // the last reachable binding went away
	KindPhoneChanged = "voip.phone_changed" // the extension was created or edited, or a binding changed
	KindPhoneRemoved = "voip.phone_removed" // the extension was deleted
)

// PhoneEvent says an extension's phone changed. Phone carries the full
// new state, so a consumer can apply it as is.
type PhoneEvent struct {
	Kind  string `json:"-"`
	Phone Phone  `json:"phone"`
}

// EventTopic implements events.Payload.
func (PhoneEvent) EventTopic() events.Topic { return TopicPhones }

// EventKind implements events.Payload.
func (e PhoneEvent) EventKind() string { return e.Kind }

// Interface guards.
var _ events.Payload = PhoneEvent{}

// Service is the SIP registrar and the extension directory.
type Service struct {
	cfg   Config
	db    *sql.DB
	bus   Publisher
	audit Auditor
	log   *slog.Logger
	// bridge answers meetings' dial-in numbers (SetBridge).
	bridge atomic.Pointer[Bridge]

	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	calls  *callSide
	routes map[sip.RequestMethod]sipgo.RequestHandler // what handle registered, for tests

	udp     *net.UDPConn
	tcp     *net.TCPListener
	tls     net.Listener
	udpPort int
	viaHost string // our address for Via when Listen has no host

	nonces   *nonceSource
	ncs      *ncTracker
	bySource *limiter
	byExt    *limiter
	flood    *flood
	dummyKey [32]byte // derives the stand-in HA1 of unknown extensions

	// dirMu serialises changes to extensions and ring groups, so the
	// cache is updated in the order the store was.
	dirMu sync.Mutex
	// mu guards the extension directory and the location service.
	mu     sync.Mutex
	exts   map[string]*extRecord
	aors   map[string][]*binding
	online map[string]bool // last announced online state per extension

	qualifySem chan struct{}
	done       chan struct{}
	stopOnce   sync.Once
	wg         sync.WaitGroup
	running    atomic.Bool
	lifeMu     sync.Mutex // orders Run's start against stop

	// droppedBlocked counts packets dropped because their source is
	// blocked (tests poll it).
	droppedBlocked atomic.Int64
	// qualifyAnswered counts OPTIONS keepalives a phone answered.
	qualifyAnswered atomic.Int64
}

// New checks cfg, loads the extensions from db and binds the SIP ports
// (so Addr is known before Run). bus and auditor may be nil.
func New(cfg Config, db *sql.DB, bus Publisher, auditor Auditor, logger *slog.Logger) (*Service, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Service{
		cfg:        cfg,
		db:         db,
		bus:        bus,
		audit:      auditor,
		log:        logger,
		ncs:        newNCTracker(cfg.NonceLifetime),
		bySource:   newLimiter(cfg.BlockFor),
		byExt:      newLimiter(cfg.BlockFor),
		flood:      newFlood(cfg.MaxRequestsPerSource),
		aors:       make(map[string][]*binding),
		online:     make(map[string]bool),
		qualifySem: make(chan struct{}, 64),
		done:       make(chan struct{}),
	}
	if s.nonces, err = newNonceSource(cfg.NonceLifetime); err != nil {
		return nil, err
	}
	if _, err := rand.Read(s.dummyKey[:]); err != nil {
		return nil, fmt.Errorf("sip: random key: %w", err)
	}
	if err := s.loadExtensions(context.Background()); err != nil {
		return nil, err
	}

	var tlsConf *tls.Config
	if cfg.TLSListen != "" && cfg.CertFile != "" && cfg.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("sip tls: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	sipLog := slog.New(quietHandler{logger.Handler()}).With("sip", "sipgo")
	// The TCP and TLS transports set up below log through sipgo's
	// default logger; make it one that drops raw messages too.
	quietDefault.Do(func() {
		sip.SetDefaultLogger(slog.New(quietHandler{defaultHandler{}}).With("sip", "sipgo"))
		sip.Timer_J = transactionLinger
	})
	s.ua, err = sipgo.NewUA(
		sipgo.WithUserAgent("civicd"),
		sipgo.WithUserAgentHostname(cfg.Domain),
		sipgo.WithUserAgenTLSConfig(tlsConf),
		sipgo.WithUserAgentDNSResolver(noDNS),
		sipgo.WithUserAgentTransportLayerOptions(
			sip.WithTransportLayerLogger(sipLog),
			sip.WithTransportLayerReadFilter(s.readFilter),
			sip.WithTransportLayerTransports(sip.TransportsConfig{
				TCP: &sip.TransportTCP{DialerCreate: s.dialer},
				TLS: &sip.TransportTLS{TransportTCP: &sip.TransportTCP{DialerCreate: s.dialer}},
			}),
		),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(sipLog),
			sip.WithTransactionLayerUnhandledResponseHandler(func(*sip.Response) {}),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("sip: %w", err)
	}
	s.srv, err = sipgo.NewServer(s.ua, sipgo.WithServerLogger(sipLog))
	if err != nil {
		_ = s.ua.Close()
		return nil, fmt.Errorf("sip: %w", err)
	}
	s.routes = make(map[sip.RequestMethod]sipgo.RequestHandler)
	s.handle(sip.REGISTER, s.handleRegister)
	s.handle(sip.OPTIONS, s.handleOptions)
	s.srv.OnNoRoute(s.guard(s.limitRate(s.handleNoRoute)))

	if err := s.listen(tlsConf); err != nil {
		s.closeListeners()
		_ = s.ua.Close()
		return nil, err
	}
	if err := s.startCalls(); err != nil {
		s.closeListeners()
		_ = s.ua.Close()
		return nil, err
	}
	return s, nil
}

// withDefaults fills in the defaults and checks what cannot work.
func (c Config) withDefaults() (Config, error) {
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return c, fmt.Errorf("%w: sip listen address %q is not host:port", ErrInvalid, c.Listen)
	}
	if c.Domain == "" {
		c.Domain = host
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			c.Domain, _ = os.Hostname()
		}
		if c.Domain == "" {
			c.Domain = "civic"
		}
	}
	if c.MinExpires <= 0 {
		c.MinExpires = 60 * time.Second
	}
	if c.MaxExpires <= 0 {
		c.MaxExpires = time.Hour
	}
	if c.MaxExpires < c.MinExpires {
		return c, fmt.Errorf("%w: sip register max expires %v is below the minimum %v", ErrInvalid, c.MaxExpires, c.MinExpires)
	}
	if c.QualifyInterval <= 0 {
		c.QualifyInterval = 30 * time.Second
	}
	if c.QualifyMisses <= 0 {
		c.QualifyMisses = 3
	}
	if c.QualifyTimeout <= 0 {
		c.QualifyTimeout = 5 * time.Second
	}
	c.QualifyTimeout = min(c.QualifyTimeout, c.QualifyInterval)
	if c.MaxFailuresPerSource <= 0 {
		c.MaxFailuresPerSource = 20
	}
	if c.MaxFailuresPerExtension <= 0 {
		c.MaxFailuresPerExtension = 5
	}
	if c.BlockFor <= 0 {
		c.BlockFor = 15 * time.Minute
	}
	if c.MaxRequestsPerSource == 0 {
		c.MaxRequestsPerSource = 100
	}
	if c.NonceLifetime <= 0 {
		c.NonceLifetime = 5 * time.Minute
	}
	if len(c.DigestAlgorithms) == 0 {
		c.DigestAlgorithms = []string{algSHA256, algMD5}
	}
	c.DigestAlgorithms = slices.Clone(c.DigestAlgorithms)
	seen := map[string]bool{}
	for i, a := range c.DigestAlgorithms {
		canon := credentials{Algorithm: a}.algorithm()
		if a == "" || canon == "" || seen[canon] {
			return c, fmt.Errorf("%w: sip digest algorithms %v: each must be SHA-256 or MD5, once", ErrInvalid, c.DigestAlgorithms)
		}
		seen[canon] = true
		c.DigestAlgorithms[i] = canon
	}
	if c.MaxBindings <= 0 {
		c.MaxBindings = 10
	}
	if c.RTPPortLow == 0 && c.RTPPortHigh == 0 {
		c.RTPPortLow, c.RTPPortHigh = 10000, 10999
	}
	if c.RTPPortLow%2 != 0 || c.RTPPortLow < 1024 || c.RTPPortHigh > 65535 || c.RTPPortHigh < c.RTPPortLow+3 {
		return c, fmt.Errorf("%w: sip rtp ports %d-%d: want an even low port, at least two pairs, within 1024-65535", ErrInvalid, c.RTPPortLow, c.RTPPortHigh)
	}
	if c.MediaAddress != "" {
		if ip := net.ParseIP(c.MediaAddress); ip == nil || ip.IsUnspecified() {
			return c, fmt.Errorf("%w: sip media address %q is not an IP address", ErrInvalid, c.MediaAddress)
		}
	}
	if c.RingTimeout <= 0 {
		c.RingTimeout = time.Minute
	}
	return c, nil
}

// listen binds UDP and TCP on one port (port 0: a free one for both) and
// TLS when configured.
func (s *Service) listen(tlsConf *tls.Config) error {
	host, port, _ := net.SplitHostPort(s.cfg.Listen)
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		var uaddr *net.UDPAddr
		if uaddr, err = net.ResolveUDPAddr("udp", net.JoinHostPort(host, port)); err != nil {
			return fmt.Errorf("sip listen %s: %w", s.cfg.Listen, err)
		}
		if s.udp, err = net.ListenUDP("udp", uaddr); err != nil {
			return fmt.Errorf("sip listen udp %s: %w", s.cfg.Listen, err)
		}
		// A burst of phones (all re-registering after a power cut) must
		// not overflow the kernel's default buffer of a few hundred KB.
		_ = s.udp.SetReadBuffer(4 << 20)
		s.udpPort = s.udp.LocalAddr().(*net.UDPAddr).Port
		taddr := &net.TCPAddr{IP: uaddr.IP, Port: s.udpPort, Zone: uaddr.Zone}
		if s.tcp, err = net.ListenTCP("tcp", taddr); err == nil {
			break
		}
		_ = s.udp.Close()
		s.udp = nil
		if port != "0" {
			return fmt.Errorf("sip listen tcp %s: %w", s.cfg.Listen, err)
		}
	}
	if err != nil {
		return fmt.Errorf("sip listen tcp %s: %w", s.cfg.Listen, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		s.viaHost = "" // chosen per destination, see localHostFor
	} else {
		s.viaHost = host
	}
	if tlsConf != nil {
		if s.tls, err = tls.Listen("tcp", s.cfg.TLSListen, tlsConf); err != nil {
			return fmt.Errorf("sip listen tls %s: %w", s.cfg.TLSListen, err)
		}
	}
	return nil
}

// Addr returns the bound UDP and TCP address, host:port.
func (s *Service) Addr() string { return s.udp.LocalAddr().String() }

// TLSAddr returns the bound TLS address, or "" when TLS is off.
func (s *Service) TLSAddr() string {
	if s.tls == nil {
		return ""
	}
	return s.tls.Addr().String()
}

// Domain returns the SIP domain, which is also the digest realm.
func (s *Service) Domain() string { return s.cfg.Domain }

// Run serves SIP until ctx ends or Shutdown is called.
func (s *Service) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("sip: Run called twice")
	}
	// The goroutines are counted before stop can run, so Shutdown's Wait
	// never races an Add.
	s.lifeMu.Lock()
	select {
	case <-s.done:
		s.lifeMu.Unlock()
		return nil
	default:
	}
	s.wg.Add(3)
	if s.tls != nil {
		s.wg.Add(1)
	}
	s.lifeMu.Unlock()
	errc := make(chan error, 3)
	serve := func(name string, f func() error) {
		go func() {
			defer s.wg.Done()
			err := f()
			select {
			case <-s.done:
			default:
				if err == nil {
					err = errors.New("stopped")
				}
				errc <- fmt.Errorf("sip %s: %w", name, err)
			}
		}()
	}
	serve("udp", func() error { return s.srv.ServeUDP(s.udp) })
	serve("tcp", func() error { return s.srv.ServeTCP(s.tcp) })
	if s.tls != nil {
		serve("tls", func() error { return s.srv.ServeTLS(s.tls) })
	}
	go func() {
		defer s.wg.Done()
		s.maintain()
	}()
	attrs := []any{"addr", s.Addr(), "domain", s.cfg.Domain}
	if s.tls != nil {
		attrs = append(attrs, "tls", s.TLSAddr())
	}
	s.log.Info("sip listening", attrs...)
	var err error
	select {
	case <-ctx.Done():
	case <-s.done:
	case err = <-errc:
	}
	s.stop()
	return err
}

// Shutdown stops serving, closes every connection and waits for the
// service's goroutines, at most until ctx ends.
func (s *Service) Shutdown(ctx context.Context) error {
	s.stop()
	finished := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sip shutdown: %w", ctx.Err())
	}
}

func (s *Service) stop() {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	s.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s.calls.stop(ctx)
		cancel()
		close(s.done)
		s.closeListeners()
		_ = s.ua.Close()
	})
}

func (s *Service) closeListeners() {
	if s.udp != nil {
		_ = s.udp.Close()
	}
	if s.tcp != nil {
		_ = s.tcp.Close()
	}
	if s.tls != nil {
		_ = s.tls.Close()
	}
}

// readFilter drops everything from a blocked source before it is parsed:
// UDP datagrams are ignored and TCP/TLS connections are closed, as
// Kamailio's pike/ipban recipe does. Answering would only tell an attacker
// that the guessing is noticed and cost us work.
func (s *Service) readFilter(p sip.TransportReadProps, data []byte) ([]byte, error) {
	ip := addrIP(p.RemoteAddr)
	if ip == "" {
		return data, nil
	}
	if _, blocked := s.bySource.locked(ip, time.Now()); !blocked {
		return data, nil
	}
	s.droppedBlocked.Add(1)
	if p.Transport == "UDP" {
		return nil, nil
	}
	return nil, errSourceBlocked
}

var errSourceBlocked = errors.New("source address is blocked after failed authentications")

// dialer is how sipgo opens a TCP or TLS connection of its own, which it
// does to answer a request whose connection has closed (to the host in
// its Via) and to reach a phone whose connection is gone. civicd connects
// only to addresses phones registered from: a stranger's Via must not
// make it connect anywhere.
func (s *Service) dialer(laddr net.Addr) net.Dialer {
	return net.Dialer{
		Timeout:   5 * time.Second,
		LocalAddr: laddr,
		Control: func(network, address string, _ syscall.RawConn) error {
			if s.registeredFrom(hostOf(address)) {
				return nil
			}
			s.log.Info("sip connection not opened: no phone registered from there", "to", address)
			return errNotAPhone
		},
	}
}

var errNotAPhone = errors.New("no phone registered from this address")

// registeredFrom reports whether a binding came from ip.
func (s *Service) registeredFrom(ip string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, list := range s.aors {
		for _, b := range list {
			if hostOf(b.Source) == ip {
				return true
			}
		}
	}
	return false
}

// noDNS fails every name lookup: phones send addresses, and names in a
// SIP message (a Via, a Contact) are not resolved, so no input makes
// civicd query DNS or connect to a host it names.
var noDNS = &net.Resolver{
	PreferGo: true,
	Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("sip: DNS lookups are off")
	},
}

// addrIP returns the IP of a net.Addr, or "".
func addrIP(a net.Addr) string {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.IP.String()
	case *net.TCPAddr:
		return a.IP.String()
	case nil:
		return ""
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return ""
	}
	return host
}

// hostOf returns the host of host:port, or s itself.
func hostOf(hostport string) string {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	return host
}

// handle serves method with h, behind guard.
func (s *Service) handle(method sip.RequestMethod, h sipgo.RequestHandler) {
	s.routes[method] = h
	s.srv.OnRequest(method, s.guard(s.limitRate(h)))
}

// guard runs a request handler and turns a panic into one log line and a
// 500 answer: no input can take the daemon down.
func (s *Service) guard(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("sip request handler panicked", "method", string(req.Method), "source", req.Source(), "panic", fmt.Sprint(r))
				func() {
					defer func() { _ = recover() }()
					s.respond(tx, req, 500, "Server Internal Error")
				}()
			}
		}()
		h(req, tx)
	}
}

// respond answers req with a bodiless response.
func (s *Service) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		s.log.Debug("sip respond failed", "code", code, "err", err)
	}
}

// allowHeader lists the methods served.
func allowHeader() sip.Header {
	return sip.NewHeader("Allow", "REGISTER, OPTIONS, INVITE, ACK, CANCEL, BYE, INFO, SUBSCRIBE, REFER")
}

// handleOptions answers a phone's OPTIONS (its keepalive towards us).
func (s *Service) handleOptions(req *sip.Request, tx sip.ServerTransaction) {
	if !wellFormed(req) {
		s.badRequest(req, tx, "missing a required header")
		return
	}
	s.respond(tx, req, 200, "OK", allowHeader(), sip.NewHeader("Accept", "application/sdp"))
}

// handleNoRoute refuses the methods this service does not serve yet.
func (s *Service) handleNoRoute(req *sip.Request, tx sip.ServerTransaction) {
	if req.IsAck() {
		return // ACK of a non-2xx final answer is absorbed by the transaction
	}
	if !wellFormed(req) {
		s.badRequest(req, tx, "missing a required header")
		return
	}
	s.respond(tx, req, 405, "Method Not Allowed", allowHeader())
}

// wellFormed checks the headers every request needs (RFC 3261 8.1.1).
func wellFormed(req *sip.Request) bool {
	return req.From() != nil && req.To() != nil && req.CallID() != nil && req.CSeq() != nil && req.Via() != nil &&
		req.CSeq().MethodName == req.Method
}

// badRequest answers 400 and logs one line.
func (s *Service) badRequest(req *sip.Request, tx sip.ServerTransaction, why string) {
	s.log.Info("sip bad request", "method", string(req.Method), "source", req.Source(), "why", why)
	s.respond(tx, req, 400, "Bad Request")
}

// quietHandler passes sipgo's log records on without the raw message
// bytes it attaches to parse errors ("data"), which can be large and hold
// credentials (it keeps their length), and at most at warning level.
type quietHandler struct{ slog.Handler }

func (h quietHandler) Handle(ctx context.Context, r slog.Record) error {
	level := r.Level
	if level >= slog.LevelError {
		// sipgo reports a phone's malformed message as an error of its
		// own; for civicd it is bad input, worth a warning.
		level = slog.LevelWarn
	}
	out := slog.NewRecord(r.Time, level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "data" {
			out.AddAttrs(slog.Int("bytes", len(a.Value.String())))
			return true
		}
		out.AddAttrs(a)
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h quietHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietHandler{h.Handler.WithAttrs(attrs)}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.Handler.WithGroup(name)}
}

// quietDefault sets sipgo's process-wide settings once, before the first
// transaction: its default logger and transactionLinger.
var quietDefault sync.Once

// transactionLinger is how long a finished non-INVITE server transaction
// over UDP is kept to answer retransmissions of its request (sipgo's
// Timer J). RFC 3261 says 64*T1 = 32 s; each kept transaction holds
// about 5 KB, so at 3,000 REGISTER/s that is 1.6 GB. 4 s still absorbs a
// phone's first three retransmissions (at 0.5, 1.5 and 3.5 s); a later
// one is answered afresh: a REGISTER gets a new challenge (its nonce
// count was used), a BYE 481. docs/BENCHMARKS.md has the measurements.
const transactionLinger = 4 * time.Second

// defaultHandler passes records to whatever slog's default handler is
// when they are logged.
type defaultHandler struct{}

func (defaultHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return slog.Default().Handler().Enabled(ctx, l)
}
func (defaultHandler) Handle(ctx context.Context, r slog.Record) error {
	return slog.Default().Handler().Handle(ctx, r)
}
func (h defaultHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return slog.Default().Handler().WithAttrs(attrs)
}
func (h defaultHandler) WithGroup(name string) slog.Handler {
	return slog.Default().Handler().WithGroup(name)
}

// itoa is strconv.Itoa, short.
func itoa(n int) string { return strconv.Itoa(n) }
