// Package mqttlink is the MQTT transport between door controllers and
// civicd's building service: it runs the embedded broker (mochi-mqtt) with
// a login and access rule per controller, or connects to an external
// broker (paho), turns each controller message (protocol v1, see
// docs/devices-mqtt.md and package wire) into a call of building.Device,
// publishes the decisions, and carries commands to controllers as a
// building.Commander.
//
// It holds no application state beyond what the transport needs (the
// recent message ids of each controller, to drop replays). Only the
// daemon's wiring (cmd/civicd) and tests import it.
package mqttlink

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	mqtt "github.com/mochi-mqtt/server/v2"

	"civic/building"
	"civic/building/mqttlink/wire"
)

// Errors. Each is wrapped with context; test with errors.Is.
var (
	// ErrInvalid: a config value, controller id or command is not valid.
	ErrInvalid = errors.New("mqtt: invalid")
	// ErrOffline: the controller is not connected and subscribed to its
	// commands (embedded broker only; at an external broker a command to
	// an offline controller is published and lost).
	ErrOffline = errors.New("mqtt: controller not connected")
	// ErrNotRunning: Send was called before Run or after Shutdown, or the
	// external broker is unreachable.
	ErrNotRunning = errors.New("mqtt: link not running")
	// ErrNoDevice: Run was called with no Device (see SetDevice).
	ErrNoDevice = errors.New("mqtt: no device")
)

// Config configures the link. Exactly one of Listen and URL is used; the
// zero values of the others take the defaults.
type Config struct {
	// Listen is the embedded broker's address, host:port; port 0 picks a
	// free one (see Addr). Ignored when URL is set. Default: "" (no
	// embedded broker).
	Listen string
	// URL is an external broker (mqtt://, mqtts://, tcp://, ssl://, ws://
	// or wss://, optionally with user:password@). When set, the embedded
	// broker stays off. Default: "".
	URL string
	// ClientID is civicd's client id at an external broker.
	// Default: "civicd".
	ClientID string
	// TLS configures mqtts, ssl and wss connections to an external broker.
	// Default: the system's roots, TLS 1.2 or later.
	TLS *tls.Config
	// ClockSkew is how far a message's ts may be from civicd's clock,
	// either way, before the message is dropped as stale (status messages
	// are exempt). Negative turns the check off. Default: 5m.
	ClockSkew time.Duration
	// Backlog is how many messages from one controller may wait to be
	// handled; more are dropped. Default: 64.
	Backlog int
	// Workers is how many messages are handled at once, across
	// controllers (each controller's messages are handled in order, one
	// at a time). Default: 64.
	Workers int
	// CallTimeout bounds each Device call and each publish.
	// Default: 5s.
	CallTimeout time.Duration
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// Enabled reports whether c asks for a broker at all; the daemon builds
// no link when it does not.
func (c Config) Enabled() bool { return c.Listen != "" || c.URL != "" }

func (c Config) withDefaults() (Config, error) {
	if !c.Enabled() {
		return c, fmt.Errorf("%w: neither mqtt.listen nor mqtt.url is set", ErrInvalid)
	}
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		if err != nil || u.Host == "" {
			return c, fmt.Errorf("%w: mqtt.url is not a broker URL", ErrInvalid)
		}
		switch u.Scheme {
		case "mqtt", "mqtts", "tcp", "ssl", "ws", "wss":
		default:
			return c, fmt.Errorf("%w: mqtt.url scheme %q (want mqtt, mqtts, tcp, ssl, ws or wss)", ErrInvalid, u.Scheme)
		}
	} else if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return c, fmt.Errorf("%w: mqtt.listen %q is not host:port", ErrInvalid, c.Listen)
	}
	if c.ClientID == "" {
		c.ClientID = "civicd"
	}
	if c.TLS == nil {
		c.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if c.ClockSkew == 0 {
		c.ClockSkew = 5 * time.Minute
	}
	if c.Backlog <= 0 {
		c.Backlog = 64
	}
	if c.Workers <= 0 {
		c.Workers = 64
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 5 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// StatusDevice is a Device that also takes controllers' online and
// offline status messages (building.Device has no method for them yet).
// When the Device given to the link implements it, the link calls it:
// online is false for an "offline" status, which is the will the broker
// publishes when a controller's connection dies. at is when the
// connection the status describes began (see docs/devices-mqtt.md), so
// it may be long ago; the link has already dropped statuses older than
// the last one it passed on.
type StatusDevice interface {
	ControllerOnline(ctx context.Context, controller string, online bool, msgID string, at time.Time) error
}

// Stats counts what the link did since New. Tests poll it.
type Stats struct {
	Received      uint64 // messages that reached the link from controllers
	Handled       uint64 // messages passed to the Device
	Dropped       uint64 // messages the link dropped (bad input, replays, floods)
	Refused       uint64 // messages the Device returned an error for
	Decisions     uint64 // decisions published
	Commands      uint64 // commands published
	LoginsRefused uint64 // embedded broker: logins refused
	ACLRefused    uint64 // embedded broker: publishes and subscriptions refused
}

type counters struct {
	received, handled, dropped, refused, decisions, commands, logins, acl atomic.Uint64
}

// Link is the MQTT transport. It implements building.Commander.
type Link struct {
	cfg    Config
	log    *slog.Logger
	warn   *limitedLog
	logins *loginGuard
	dev    building.Device

	srv  *mqtt.Server // embedded broker, or nil
	addr string       // embedded broker's bound address

	cmMu sync.Mutex
	cm   *autopaho.ConnectionManager // external broker connection, or nil

	ctx    context.Context // ends at stop; bounds Device calls
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	queues map[string]*queue
	states map[string]*ctrlState
	sem    chan struct{}
	wg     sync.WaitGroup

	boot string // prefix of civicd's message ids, fresh per start
	seq  atomic.Uint64
	n    counters

	running  atomic.Bool
	done     chan struct{}
	stopOnce sync.Once
}

// Interface guard.
var _ building.Commander = (*Link)(nil)

// New checks cfg and, for the embedded broker, binds its listener (so Addr
// is known before Run). dev may be nil here and set with SetDevice before
// Run, since the building service usually needs the link (its Commander)
// to be built. logger may be nil.
func New(cfg Config, dev building.Device, logger *slog.Logger) (*Link, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("mqtt: random: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Link{
		cfg:    cfg,
		log:    logger,
		warn:   newLimitedLog(logger, cfg.Now),
		logins: newLoginGuard(cfg.Now),
		dev:    dev,
		ctx:    ctx,
		cancel: cancel,
		queues: make(map[string]*queue),
		states: make(map[string]*ctrlState),
		sem:    make(chan struct{}, cfg.Workers),
		boot:   hex.EncodeToString(b[:]),
		done:   make(chan struct{}),
	}
	if cfg.URL == "" {
		if err := l.newBroker(); err != nil {
			cancel()
			return nil, err
		}
	} else if cfg.Listen != "" {
		logger.Info("mqtt.url is set: the embedded broker stays off", "listen", cfg.Listen)
	}
	return l, nil
}

// SetDevice sets the Device the link calls. Call it before Run.
func (l *Link) SetDevice(dev building.Device) { l.dev = dev }

// Addr returns the embedded broker's bound address, host:port, or "" when
// the link uses an external broker.
func (l *Link) Addr() string { return l.addr }

// Stats returns the counters so far.
func (l *Link) Stats() Stats {
	return Stats{
		Received:      l.n.received.Load(),
		Handled:       l.n.handled.Load(),
		Dropped:       l.n.dropped.Load(),
		Refused:       l.n.refused.Load(),
		Decisions:     l.n.decisions.Load(),
		Commands:      l.n.commands.Load(),
		LoginsRefused: l.n.logins.Load(),
		ACLRefused:    l.n.acl.Load(),
	}
}

// Run serves controllers until ctx ends or Shutdown is called: it starts
// the embedded broker, or connects to the external one (and keeps
// reconnecting).
func (l *Link) Run(ctx context.Context) error {
	if l.dev == nil {
		return ErrNoDevice
	}
	if !l.running.CompareAndSwap(false, true) {
		return errors.New("mqtt: Run called twice")
	}
	select {
	case <-l.done:
		return nil
	default:
	}
	if l.srv != nil {
		if err := l.serveBroker(); err != nil {
			l.stop()
			return err
		}
	} else if err := l.connectExternal(); err != nil {
		l.stop()
		return err
	}
	select {
	case <-ctx.Done():
	case <-l.done:
	}
	l.stop()
	return nil
}

// Shutdown stops the broker or the connection, drops what is still
// waiting, and waits for the messages being handled, at most until ctx
// ends.
func (l *Link) Shutdown(ctx context.Context) error {
	l.stop()
	finished := make(chan struct{})
	go func() {
		l.wg.Wait()
		l.cmMu.Lock()
		cm := l.cm
		l.cmMu.Unlock()
		if cm != nil {
			<-cm.Done()
		}
		close(finished)
	}()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mqtt shutdown: %w", ctx.Err())
	}
}

func (l *Link) stop() {
	l.stopOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		for c, q := range l.queues {
			l.n.dropped.Add(uint64(len(q.pending)))
			q.pending = nil
			if !q.running {
				delete(l.queues, c)
			}
		}
		l.mu.Unlock()
		close(l.done)
		l.cmMu.Lock()
		cm := l.cm
		l.cmMu.Unlock()
		if cm != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = cm.Disconnect(ctx)
			cancel()
		}
		l.cancel()
		if l.srv != nil {
			_ = l.srv.Close()
		}
	})
}

// Send publishes cmd to controller's commands topic (QoS 1). It returns
// once the broker has it; the acknowledgement comes later through
// Device.CommandAcked. With the embedded broker, a controller that is not
// connected gets ErrOffline at once.
func (l *Link) Send(ctx context.Context, controller string, cmd building.Command) error {
	if !wire.ValidID(controller) {
		return fmt.Errorf("send command: %w: controller id %q", ErrInvalid, clip(controller))
	}
	issued := cmd.At // the ts: controllers refuse commands delivered late
	if issued.IsZero() {
		issued = l.cfg.Now()
	}
	m := &wire.Command{
		Header:  wire.NewHeader(cmd.ID, issued),
		Door:    cmd.Door,
		Action:  cmd.Action,
		Seconds: cmd.Seconds,
		Until:   cmd.Until,
		Mode:    cmd.Mode,
	}
	payload, err := wire.Encode(m)
	if err != nil {
		return fmt.Errorf("send command %s to %s: %w: %v", clip(cmd.ID), controller, ErrInvalid, err)
	}
	select {
	case <-l.done:
		return fmt.Errorf("send command %s to %s: %w", cmd.ID, controller, ErrNotRunning)
	default:
	}
	if !l.running.Load() {
		return fmt.Errorf("send command %s to %s: %w", cmd.ID, controller, ErrNotRunning)
	}
	topic := wire.CommandTopic(controller)
	if l.srv != nil && !l.subscribed(controller, topic) {
		return fmt.Errorf("send command %s to %s: %w", cmd.ID, controller, ErrOffline)
	}
	if err := l.publish(ctx, topic, payload); err != nil {
		return fmt.Errorf("send command %s to %s: %w", cmd.ID, controller, err)
	}
	l.n.commands.Add(1)
	l.log.Debug("mqtt command sent", "controller", controller, "id", cmd.ID, "door", cmd.Door, "action", cmd.Action)
	return nil
}

// publish sends one QoS 1 message, not retained.
func (l *Link) publish(ctx context.Context, topic string, payload []byte) error {
	if l.srv != nil {
		if !l.running.Load() {
			return ErrNotRunning
		}
		if err := l.srv.Publish(topic, payload, false, 1); err != nil {
			return fmt.Errorf("%w: %v", ErrNotRunning, err)
		}
		return nil
	}
	return l.publishExternal(ctx, topic, payload)
}

// nextID returns a fresh message id for civicd's messages.
func (l *Link) nextID() string {
	return fmt.Sprintf("%s-%d", l.boot, l.seq.Add(1))
}

// clip shortens untrusted text for logs and errors.
func clip(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
