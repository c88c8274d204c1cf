package mqttlink

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"civic/building/mqttlink/wire"
)

// maxPacket is the largest MQTT packet the embedded broker reads; a
// client sending a bigger one is disconnected. Payloads over
// wire.MaxPayload but under this are dropped by the link with a log line.
const maxPacket = 16 << 10

// reserved are ids no controller may log in as: the broker's in-process
// client and civicd's own client id.
var reserved = map[string]bool{mqtt.InlineClientId: true, "civicd": true}

// newBroker builds the embedded broker and binds its listener.
func (l *Link) newBroker() error {
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = maxPacket
	caps.TopicAliasMaximum = 0              // aliases would hide topics from the access rules
	caps.MaximumSessionExpiryInterval = 300 // sessions are clean; cap what a client may ask for
	caps.MaximumMessageExpiryInterval = 3600
	srv := mqtt.New(&mqtt.Options{
		InlineClient: true,
		Capabilities: caps,
		Logger:       slog.New(demote{l.log.Handler()}).With("component", "broker"),
	})
	if err := srv.AddHook(&hook{l: l}, nil); err != nil {
		return fmt.Errorf("mqtt broker: %w", err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "controllers", Address: l.cfg.Listen})
	if err := srv.AddListener(tcp); err != nil {
		_ = srv.Close()
		return fmt.Errorf("mqtt listen %s: %w", l.cfg.Listen, err)
	}
	l.srv, l.addr = srv, tcp.Address()
	return nil
}

// serveBroker subscribes civicd's in-process client and starts serving.
func (l *Link) serveBroker() error {
	for i, filter := range wire.Subscriptions {
		if err := l.srv.Subscribe(filter, i+1, l.inline); err != nil {
			return fmt.Errorf("mqtt subscribe %s: %w", filter, err)
		}
	}
	if err := l.srv.Serve(); err != nil {
		return fmt.Errorf("mqtt broker: %w", err)
	}
	l.log.Info("mqtt broker listening", "addr", l.addr)
	return nil
}

// inline takes the messages civicd's in-process client receives. It runs
// on the publishing client's goroutine, so it only queues.
func (l *Link) inline(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
	origin := pk.Origin
	if origin == "" {
		origin = "?" // never trust a message with no known publisher
	}
	l.receive(pk.TopicName, pk.Payload, origin)
}

// subscribed reports whether controller is connected and subscribed to
// topic.
func (l *Link) subscribed(controller, topic string) bool {
	cl, ok := l.srv.Clients.Get(controller)
	if !ok || cl.Closed() {
		return false
	}
	_, ok = l.srv.Topics.Subscribers(topic).Subscriptions[controller]
	return ok
}

// hook is the embedded broker's login and access rules.
type hook struct {
	mqtt.HookBase
	l *Link
}

func (h *hook) ID() string { return "civic-controllers" }

func (h *hook) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPublish, mqtt.OnSessionEstablished, mqtt.OnDisconnect:
		return true
	}
	return false
}

// OnConnectAuthenticate lets a controller in when its user name is its
// client id, its will (if any) goes to its own status topic, and the
// building service accepts its password.
func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user := string(pk.Connect.Username)
	remote := cl.Net.Remote
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	why := ""
	switch {
	case h.l.logins.blocked(host):
		why = "too many failed logins from this address; try again later"
	case !wire.ValidID(user):
		why = "user name is not a controller id"
	case reserved[user]:
		why = "reserved user name"
	case cl.ID != user:
		why = "client id differs from the user name"
	case !pk.Connect.PasswordFlag:
		why = "no password"
	case pk.Connect.WillFlag && pk.Connect.WillTopic != wire.StatusTopic(user):
		why = "will topic is not the controller's status topic"
	case !h.l.dev.Authenticate(user, string(pk.Connect.Password)):
		why = "wrong password or unknown controller"
	}
	if why != "" {
		h.l.n.logins.Add(1)
		h.l.logins.failed(host)
		h.l.warn.Warn("login:"+host, "mqtt login refused", "controller", clip(user), "remote", remote, "reason", why)
		return false
	}
	return true
}

func (h *hook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	if !cl.Net.Inline {
		h.l.log.Info("controller connected", "controller", cl.ID, "remote", cl.Net.Remote)
	}
}

func (h *hook) OnDisconnect(cl *mqtt.Client, err error, _ bool) {
	if cl.Net.Inline || string(cl.Properties.Username) != cl.ID {
		return // never logged in
	}
	if err != nil {
		h.l.log.Info("controller disconnected", "controller", cl.ID, "remote", cl.Net.Remote, "err", err)
	} else {
		h.l.log.Info("controller disconnected", "controller", cl.ID, "remote", cl.Net.Remote)
	}
}

// OnACLCheck lets controller C publish only to its own upstream topics
// and subscribe only to its commands and decisions.
func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if cl.Net.Inline {
		return true
	}
	c := cl.ID
	if write {
		if t, err := wire.ParseTopic(topic); err == nil && t.Controller == c && t.Kind.Upstream() {
			return true
		}
	} else if mayRead(c, topic) {
		return true
	}
	h.l.n.acl.Add(1)
	what, key := "mqtt subscribe refused", "acl-sub:"
	if write {
		what, key = "mqtt publish refused", "acl-pub:"
	}
	h.l.warn.Warn(key+c, what, "controller", c, "topic", clip(topic))
	return false
}

// OnPublish keeps the retain flag only on status messages: anything else
// retained would be handed to civicd again as new.
func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || !pk.FixedHeader.Retain {
		return pk, nil
	}
	if t, err := wire.ParseTopic(pk.TopicName); err != nil || t.Kind != wire.KindStatus {
		pk.FixedHeader.Retain = false
	}
	return pk, nil
}

// mayRead reports whether controller c may subscribe to filter (or
// receive a message on the topic of that name).
func mayRead(c, filter string) bool {
	if filter == wire.CommandTopic(c) {
		return true
	}
	rest, ok := strings.CutPrefix(filter, wire.Prefix+c+"/readers/")
	if !ok {
		return false
	}
	reader, ok := strings.CutSuffix(rest, "/decision")
	return ok && (reader == "+" || wire.ValidID(reader))
}

// demote passes the broker library's own log lines on at debug level,
// except errors: the link logs what operators need (logins, refusals).
type demote struct{ slog.Handler }

func (d demote) Enabled(ctx context.Context, lv slog.Level) bool {
	if lv < slog.LevelError {
		lv = slog.LevelDebug
	}
	return d.Handler.Enabled(ctx, lv)
}

func (d demote) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelError {
		r.Level = slog.LevelDebug
	}
	return d.Handler.Handle(ctx, r)
}

func (d demote) WithAttrs(attrs []slog.Attr) slog.Handler {
	return demote{d.Handler.WithAttrs(attrs)}
}

func (d demote) WithGroup(name string) slog.Handler { return demote{d.Handler.WithGroup(name)} }

// Failed logins: after loginFailures from one address within
// loginWindow, its logins are refused without checking the password
// (which costs bcrypt work) until the window ends.
const (
	loginFailures = 20
	loginWindow   = time.Minute
	loginHosts    = 4096
)

// loginGuard counts failed logins per address.
type loginGuard struct {
	now func() time.Time

	mu sync.Mutex
	m  map[string]*loginFails
}

type loginFails struct {
	start time.Time
	n     int
}

func newLoginGuard(now func() time.Time) *loginGuard {
	return &loginGuard{now: now, m: make(map[string]*loginFails)}
}

func (g *loginGuard) blocked(host string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	f := g.m[host]
	if f == nil {
		return false
	}
	if g.now().Sub(f.start) >= loginWindow {
		delete(g.m, host)
		return false
	}
	return f.n >= loginFailures
}

func (g *loginGuard) failed(host string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	f := g.m[host]
	if f == nil || now.Sub(f.start) >= loginWindow {
		if len(g.m) >= loginHosts {
			clear(g.m)
		}
		f = &loginFails{start: now}
		g.m[host] = f
	}
	f.n++
}
