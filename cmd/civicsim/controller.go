package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"

	"civic/building/mqttlink/wire"
)

// Timing of a simulated controller.
const (
	keepAlive      = 30               // seconds
	publishTimeout = 10 * time.Second // for one QoS 1 publish
	commandMaxAge  = 30 * time.Second // older commands are refused as expired
	rememberAcks   = 256              // command ids remembered to re-ack repeats
	inboxSize      = 1024
)

// controller is one simulated door controller with its own MQTT
// connection.
type controller struct {
	sim  *sim
	cfg  ctrlConfig
	root string // civic/v1/controllers/ID/

	doors   map[string]*door
	order   []*door          // doors in config order, for snapshots
	readers map[string]*door // reader id -> its door

	cm     *autopaho.ConnectionManager
	connMu sync.Mutex
	conn   net.Conn // the current connection, for drop

	up     atomic.Bool
	hbOn   atomic.Bool
	connTS atomic.Pointer[time.Time] // when the current connection began
	holdMu sync.Mutex
	hold   chan struct{} // non-nil: dial waits until it is closed
	seq    atomic.Uint64
	boot   string
	inbox  chan *paho.Publish
	booted time.Time

	// pubMu orders publishes: a state is read and published under it, so
	// reports reach the broker in the order the states changed. Lock
	// order: pubMu, then mu.
	pubMu sync.Mutex
	mu    sync.Mutex
	// pending swipes by message id, waiting for a decision.
	pending map[string]*pendingSwipe
	// acks of recent commands, by command id.
	acked    map[string]ackResult
	ackOrder []string
}

type pendingSwipe struct {
	reader string
	card   string
	sent   time.Time
	timer  *time.Timer
}

type ackResult struct {
	ok  bool
	err string
}

// door is a simulated door: a lock and a contact sensor.
type door struct {
	cfg      doorConfig
	lock     string
	contact  string
	tamper   bool
	mode     string
	gen      uint64      // bumped on each lock change; a stale relock timer checks it
	relock   *time.Timer // pending relock, or nil
	failOpen bool        // released because civicd is unreachable (fail-safe)
}

func newController(s *sim, cfg ctrlConfig) *controller {
	c := &controller{
		sim:     s,
		cfg:     cfg,
		root:    wire.Prefix + cfg.ID + "/",
		doors:   make(map[string]*door),
		readers: make(map[string]*door),
		boot:    s.boot,
		inbox:   make(chan *paho.Publish, inboxSize),
		booted:  time.Now(),
		pending: make(map[string]*pendingSwipe),
		acked:   make(map[string]ackResult),
	}
	c.hbOn.Store(true)
	for _, dc := range cfg.Doors {
		d := &door{cfg: dc, lock: wire.LockLocked, contact: wire.ContactClosed, mode: wire.ModeControlled}
		c.doors[dc.ID] = d
		c.order = append(c.order, d)
		for _, r := range dc.Readers {
			c.readers[r.ID] = d
		}
	}
	return c
}

func (c *controller) nextID() string {
	return fmt.Sprintf("%s-%d", c.boot, c.seq.Add(1))
}

func (c *controller) emit(event string, kv ...any) {
	c.sim.out.emit(event, append([]any{"controller", c.cfg.ID}, kv...)...)
}

// start connects (and keeps reconnecting) until ctx ends.
func (c *controller) start(ctx context.Context) error {
	cc := autopaho.ClientConfig{
		ServerUrls:        []*url.URL{c.sim.broker},
		KeepAlive:         keepAlive,
		ReconnectBackoff:  autopaho.NewExponentialBackoff(100*time.Millisecond, 30*time.Second, 200*time.Millisecond, 2),
		ConnectTimeout:    10 * time.Second,
		ConnectUsername:   c.cfg.ID,
		ConnectPassword:   []byte(c.cfg.Password),
		AttemptConnection: c.dial,
		ConnectPacketBuilder: func(cp *paho.Connect, _ *url.URL) (*paho.Connect, error) {
			cp.CleanStart = true
			cp.Properties = nil // session expiry 0: the session ends with the connection
			// The will and the online status carry the connection's
			// start as ts, so civicd can tell a stale will (of a
			// connection a newer one replaced) from the current one.
			now := time.Now()
			c.connTS.Store(&now)
			will, err := wire.Encode(&wire.Status{
				Header: wire.NewHeader(c.boot+"-w"+fmt.Sprint(c.seq.Add(1)), now),
				Status: wire.StatusOffline, Reason: "will", FailMode: c.cfg.FailMode,
			})
			if err != nil {
				return nil, err
			}
			cp.WillMessage = &paho.WillMessage{Topic: wire.StatusTopic(c.cfg.ID), Payload: will, QoS: 1, Retain: true}
			cp.WillProperties = &paho.WillProperties{}
			return cp, nil
		},
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			c.up.Store(true)
			go c.connected(ctx)
		},
		OnConnectionDown: func() bool {
			c.up.Store(false)
			c.emit("disconnected")
			go c.failSafe(true)
			return true
		},
		OnConnectError: func(err error) {
			var ce *autopaho.ConnackError
			if errors.As(err, &ce) {
				c.emit("connect_failed", "error", err, "code", ce.ReasonCode)
				return
			}
			c.emit("connect_failed", "error", err)
		},
		ClientConfig: paho.ClientConfig{
			ClientID: c.cfg.ID,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){
				func(pr paho.PublishReceived) (bool, error) {
					select {
					case c.inbox <- pr.Packet:
					default:
						c.emit("error", "error", "inbox full; message dropped", "topic", pr.Packet.Topic)
					}
					return true, nil
				},
			},
		},
	}
	cm, err := autopaho.NewConnection(ctx, cc)
	if err != nil {
		return err
	}
	c.cm = cm
	go c.handleInbox(ctx)
	go c.heartbeats(ctx)
	return nil
}

// dial opens the network connection and keeps it, so drop can cut it.
func (c *controller) dial(ctx context.Context, _ autopaho.ClientConfig, u *url.URL) (net.Conn, error) {
	c.holdMu.Lock()
	hold := c.hold
	c.holdMu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	var conn net.Conn
	var err error
	switch u.Scheme {
	case "mqtt", "tcp", "":
		conn, err = d.DialContext(ctx, "tcp", u.Host)
	case "mqtts", "ssl", "tls":
		td := &tls.Dialer{NetDialer: d, Config: c.sim.tls}
		conn, err = td.DialContext(ctx, "tcp", u.Host)
	default:
		return nil, fmt.Errorf("broker scheme %q not supported (mqtt or mqtts)", u.Scheme)
	}
	if err != nil {
		return nil, err
	}
	conn = packets.NewThreadSafeConn(conn)
	c.connMu.Lock()
	c.conn = conn
	c.connMu.Unlock()
	return conn, nil
}

// drop cuts the connection without a DISCONNECT, so the broker publishes
// the will; autopaho then reconnects, at once or (hold) once reconnect is
// called.
func (c *controller) drop(hold bool) error {
	if hold {
		c.holdMu.Lock()
		if c.hold == nil {
			c.hold = make(chan struct{})
		}
		c.holdMu.Unlock()
	}
	c.connMu.Lock()
	conn := c.conn
	c.conn = nil
	c.connMu.Unlock()
	if conn == nil {
		return errors.New("not connected")
	}
	return conn.Close()
}

// reconnect lets a controller held down by drop connect again.
func (c *controller) reconnect() error {
	c.holdMu.Lock()
	defer c.holdMu.Unlock()
	if c.hold == nil {
		return errors.New("not held down (drop CTRL hold)")
	}
	close(c.hold)
	c.hold = nil
	return nil
}

// connected runs after each connect: subscribe, say online, relock what
// fail-safe released, send a snapshot and a heartbeat.
func (c *controller) connected(ctx context.Context) {
	subs := []paho.SubscribeOptions{
		{Topic: wire.CommandTopic(c.cfg.ID), QoS: 1},
		{Topic: c.root + "readers/+/decision", QoS: 1},
	}
	sctx, cancel := context.WithTimeout(ctx, publishTimeout)
	ack, err := c.cm.Subscribe(sctx, &paho.Subscribe{Subscriptions: subs})
	cancel()
	if err != nil {
		c.emit("error", "error", fmt.Errorf("subscribe: %w", err))
		return
	}
	for i, code := range ack.Reasons {
		if code >= 0x80 && i < len(subs) {
			c.emit("subscribe_refused", "filter", subs[i].Topic, "code", code)
		}
	}
	began := time.Now()
	if p := c.connTS.Load(); p != nil {
		began = *p
	}
	err = c.publish(ctx, wire.StatusTopic(c.cfg.ID), &wire.Status{
		Header: wire.NewHeader(c.nextID(), began),
		Status: wire.StatusOnline, FailMode: c.cfg.FailMode, Firmware: "civicsim 1",
	}, 1, true)
	if err != nil {
		c.emit("error", "error", fmt.Errorf("status: %w", err))
	}
	c.failSafe(false)
	c.snapshot()
	c.sendHeartbeat(ctx)
	c.emit("connected")
	c.sim.firstConnect(c)
}

// failSafe releases (down) or relocks (up) the doors whose fail mode is
// safe. Relocking reports nothing: a snapshot follows.
func (c *controller) failSafe(down bool) {
	c.pubMu.Lock()
	defer c.pubMu.Unlock()
	if down == c.up.Load() {
		return // the connection changed again since; its own call follows
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.order {
		if d.cfg.FailMode != wire.FailSafe {
			continue
		}
		switch {
		case down && !d.failOpen: // held open, whatever its timers say
			d.failOpen = true
			c.setLockLocked(d, wire.LockUnlocked, 0)
			c.emit("fail_mode", "door", d.cfg.ID, "fail_mode", wire.FailSafe, "lock", d.lock, "why", "disconnected")
		case !down && d.failOpen:
			d.failOpen = false
			c.setLockLocked(d, wire.LockLocked, 0)
			c.emit("fail_mode", "door", d.cfg.ID, "fail_mode", wire.FailSafe, "lock", d.lock, "why", "reconnected")
		}
	}
}

// setLockLocked changes d's lock; for an unlock with dur > 0 it arms the
// relock timer. c.mu is held.
func (c *controller) setLockLocked(d *door, lock string, dur time.Duration) {
	d.gen++
	if d.relock != nil {
		d.relock.Stop()
		d.relock = nil
	}
	d.lock = lock
	if lock == wire.LockUnlocked && dur > 0 {
		gen := d.gen
		d.relock = time.AfterFunc(dur, func() { c.relock(d, gen) })
	}
}

// relock locks d when its unlock time is up, unless the lock changed since.
func (c *controller) relock(d *door, gen uint64) {
	c.pubMu.Lock()
	defer c.pubMu.Unlock()
	c.mu.Lock()
	if d.gen != gen {
		c.mu.Unlock()
		return
	}
	c.setLockLocked(d, wire.LockLocked, 0)
	st := c.stateOf(d, false)
	c.mu.Unlock()
	c.report(d, st, "relock")
}

// change applies f to d under the locks and reports the new state.
func (c *controller) change(d *door, why string, rte bool, f func(d *door)) {
	c.pubMu.Lock()
	defer c.pubMu.Unlock()
	c.mu.Lock()
	f(d)
	st := c.stateOf(d, rte)
	c.mu.Unlock()
	c.report(d, st, why)
}

// unlockFor releases d's lock for dur (0: until locked).
func (c *controller) unlockFor(d *door, dur time.Duration, why string) {
	c.change(d, why, false, func(d *door) { c.setLockLocked(d, wire.LockUnlocked, dur) })
}

// stateOf is d's full state as a report. c.mu is held.
func (c *controller) stateOf(d *door, rte bool) *wire.DoorState {
	tamper := d.tamper
	return &wire.DoorState{
		Header:        wire.NewHeader(c.nextID(), time.Now()),
		Lock:          d.lock,
		Contact:       d.contact,
		Tamper:        &tamper,
		RequestToExit: rte,
	}
}

// report publishes a door state (c.pubMu is held) and prints it.
func (c *controller) report(d *door, st *wire.DoorState, why string) {
	err := c.publish(context.Background(), wire.DoorStateTopic(c.cfg.ID, d.cfg.ID), st, 1, false)
	kv := []any{"door", d.cfg.ID, "id", st.ID, "lock", st.Lock, "contact", st.Contact, "tamper", *st.Tamper,
		"request_to_exit", st.RequestToExit, "why", why, "sent", err == nil}
	if err != nil {
		kv = append(kv, "error", err)
	}
	c.emit("door", kv...)
}

// snapshot reports every door.
func (c *controller) snapshot() {
	for _, d := range c.order {
		c.change(d, "snapshot", false, func(*door) {})
	}
}

// publish encodes m and publishes it.
func (c *controller) publish(ctx context.Context, topic string, m wire.Message, qos byte, retain bool) error {
	payload, err := wire.Encode(m)
	if err != nil {
		return err
	}
	return c.publishRaw(ctx, topic, payload, qos, retain)
}

func (c *controller) publishRaw(ctx context.Context, topic string, payload []byte, qos byte, retain bool) error {
	if !c.up.Load() {
		return errors.New("not connected")
	}
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	_, err := c.cm.Publish(ctx, &paho.Publish{QoS: qos, Retain: retain, Topic: topic, Payload: payload})
	return err
}

// heartbeats sends a heartbeat every interval while connected and on.
func (c *controller) heartbeats(ctx context.Context) {
	t := time.NewTicker(c.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.sendHeartbeat(ctx)
		}
	}
}

func (c *controller) sendHeartbeat(ctx context.Context) {
	if !c.hbOn.Load() || !c.up.Load() {
		return
	}
	m := &wire.Heartbeat{Header: wire.NewHeader(c.nextID(), time.Now()), UptimeS: int64(time.Since(c.booted).Seconds())}
	if err := c.publish(ctx, wire.HeartbeatTopic(c.cfg.ID), m, 0, false); err != nil {
		c.emit("error", "error", fmt.Errorf("heartbeat: %w", err))
		return
	}
	c.emit("heartbeat", "id", m.ID)
}

// swipe presents card (and pin) at reader and waits, in the background,
// for the decision.
func (c *controller) swipe(ctx context.Context, reader, card, pin string) error {
	m := &wire.Card{Header: wire.NewHeader(c.nextID(), time.Now()), Card: card, PIN: pin}
	if _, err := wire.Encode(m); err != nil {
		return err
	}
	p := &pendingSwipe{reader: reader, card: card, sent: time.Now()}
	if !c.up.Load() {
		c.emit("swipe", "reader", reader, "card", card, "id", m.ID, "sent", false)
		c.failDecision(m.ID, p, "disconnected")
		return nil
	}
	c.mu.Lock()
	c.pending[m.ID] = p
	p.timer = time.AfterFunc(c.sim.cfg.DecisionTimeout, func() {
		if c.take(m.ID) != nil {
			c.failDecision(m.ID, p, "timeout")
		}
	})
	c.mu.Unlock()
	c.emit("swipe", "reader", reader, "card", card, "id", m.ID, "sent", true)
	if err := c.publish(ctx, wire.CardTopic(c.cfg.ID, reader), m, 1, false); err != nil {
		if c.take(m.ID) != nil {
			p.timer.Stop()
			c.emit("error", "error", fmt.Errorf("swipe %s: %w", m.ID, err))
			c.failDecision(m.ID, p, "publish failed")
		}
	}
	return nil
}

// take removes and returns the pending swipe id, or nil.
func (c *controller) take(id string) *pendingSwipe {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pending[id]
	delete(c.pending, id)
	return p
}

// failDecision applies the door's fail mode to a swipe civicd did not
// answer: secure denies, safe lets the card in.
func (c *controller) failDecision(id string, p *pendingSwipe, why string) {
	d := c.readers[p.reader]
	mode := c.cfg.FailMode
	if d != nil {
		mode = d.cfg.FailMode
	}
	granted := mode == wire.FailSafe
	c.emit("decision_timeout", "reader", p.reader, "re", id, "fail_mode", mode, "granted", granted, "why", why)
	if granted && d != nil {
		c.unlockFor(d, time.Duration(d.cfg.UnlockS)*time.Second, "fail_safe")
	}
}

// handleInbox handles decisions and commands in arrival order.
func (c *controller) handleInbox(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case pk := <-c.inbox:
			t, err := wire.ParseTopic(pk.Topic)
			switch {
			case err != nil || t.Controller != c.cfg.ID:
				c.emit("error", "error", "message on an unexpected topic", "topic", pk.Topic)
			case t.Kind == wire.KindDecision:
				c.onDecision(t.Reader, pk.Payload)
			case t.Kind == wire.KindCommand:
				c.onCommand(ctx, pk.Payload)
			default:
				c.emit("received", "topic", pk.Topic, "bytes", len(pk.Payload))
			}
		}
	}
}

func (c *controller) onDecision(reader string, payload []byte) {
	msg, err := wire.Decode(wire.KindDecision, payload)
	if err != nil {
		c.emit("error", "error", fmt.Errorf("bad decision: %w", err), "reader", reader)
		return
	}
	m := msg.(*wire.Decision)
	p := c.take(m.Re)
	kv := []any{"reader", reader, "re", m.Re, "id", m.ID, "granted", m.Granted, "reason", m.Reason,
		"door", m.Door, "unlock_s", m.UnlockS, "cardholder", m.Cardholder}
	if p == nil {
		c.emit("decision", append(kv, "late", true)...)
		return
	}
	p.timer.Stop()
	c.emit("decision", append(kv, "card", p.card, "latency_us", time.Since(p.sent).Microseconds())...)
	if d := c.readers[reader]; m.Granted && d != nil {
		secs := m.UnlockS
		if secs <= 0 {
			secs = d.cfg.UnlockS
		}
		c.unlockFor(d, time.Duration(secs)*time.Second, "grant")
	}
}

func (c *controller) onCommand(ctx context.Context, payload []byte) {
	msg, err := wire.Decode(wire.KindCommand, payload)
	if err != nil {
		c.emit("error", "error", fmt.Errorf("bad command: %w", err))
		return
	}
	m := msg.(*wire.Command)
	c.emit("command", "id", m.ID, "door", m.Door, "action", m.Action, "seconds", m.Seconds,
		"until", m.Until, "mode", m.Mode)
	c.mu.Lock()
	prev, repeated := c.acked[m.ID]
	c.mu.Unlock()
	if repeated {
		c.ack(ctx, m.ID, prev, true)
		return
	}
	res := c.apply(m)
	c.mu.Lock()
	c.acked[m.ID] = res
	c.ackOrder = append(c.ackOrder, m.ID)
	if len(c.ackOrder) > rememberAcks {
		delete(c.acked, c.ackOrder[0])
		c.ackOrder = c.ackOrder[1:]
	}
	c.mu.Unlock()
	c.ack(ctx, m.ID, res, false)
}

// apply carries out a command on its door.
func (c *controller) apply(m *wire.Command) ackResult {
	if age := time.Since(m.TS); age > commandMaxAge {
		return ackResult{err: "expired"}
	}
	d := c.doors[m.Door]
	if d == nil {
		return ackResult{err: "unknown door"}
	}
	switch m.Action {
	case wire.ActionUnlock:
		dur := time.Duration(m.Seconds) * time.Second
		if dur == 0 && !m.Until.IsZero() {
			if dur = time.Until(m.Until); dur <= 0 {
				return ackResult{err: "until is in the past"}
			}
		}
		c.unlockFor(d, dur, "command")
	case wire.ActionLock:
		c.change(d, "command", false, func(d *door) { c.setLockLocked(d, wire.LockLocked, 0) })
	case wire.ActionMode:
		c.change(d, "mode", false, func(d *door) {
			d.mode = m.Mode
			if m.Mode == wire.ModeUnlockedSchedule {
				c.setLockLocked(d, wire.LockUnlocked, 0)
			} else {
				c.setLockLocked(d, wire.LockLocked, 0)
			}
		})
	}
	return ackResult{ok: true}
}

func (c *controller) ack(ctx context.Context, re string, res ackResult, repeat bool) {
	ok := res.ok
	m := &wire.Ack{Header: wire.NewHeader(c.nextID(), time.Now()), Re: re, OK: &ok, Error: res.err}
	err := c.publish(ctx, wire.AckTopic(c.cfg.ID), m, 1, false)
	kv := []any{"re", re, "id", m.ID, "ok", ok, "error", res.err, "repeat", repeat, "sent", err == nil}
	if err != nil {
		kv = append(kv, "publish_error", err)
	}
	c.emit("ack", kv...)
}

// stop says offline (retained) and disconnects cleanly, so no will.
func (c *controller) stop(ctx context.Context) {
	if c.cm == nil {
		return
	}
	if c.up.Load() {
		_ = c.publish(ctx, wire.StatusTopic(c.cfg.ID), &wire.Status{
			Header: wire.NewHeader(c.nextID(), time.Now()),
			Status: wire.StatusOffline, Reason: "shutdown", FailMode: c.cfg.FailMode,
		}, 1, true)
	}
	_ = c.cm.Disconnect(ctx)
}

// resolveTopic expands a leading "~/" to the controller's topic root.
func (c *controller) resolveTopic(t string) string {
	if rest, ok := strings.CutPrefix(t, "~/"); ok {
		return c.root + rest
	}
	return t
}
