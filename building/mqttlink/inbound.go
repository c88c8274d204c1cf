package mqttlink

import (
	"bytes"
	"context"
	"errors"
	"time"

	"civic/building"
	"civic/building/mqttlink/wire"
)

// Drop reasons besides wire's (oversized, malformed, bad_version, bad_id,
// bad_ts, bad_field).
const (
	dropUnknownTopic   = "unknown_topic"
	dropWrongPublisher = "wrong_publisher"
	dropStale          = "stale"
	dropReplayed       = "replayed"
	dropOutOfOrder     = "out_of_order"
	dropBacklog        = "backlog_full"
)

// rememberIDs is how many recent message ids the link keeps per
// controller to drop replays.
const rememberIDs = 512

// maxStates bounds the controllers the link keeps ids for (with an
// external broker, topics name controllers nobody checked).
const maxStates = 8192

// inbound is one message from a controller, admitted and waiting.
type inbound struct {
	t       wire.Topic
	topic   string
	payload []byte
}

// queue holds one controller's waiting messages; one goroutine at a time
// drains it, so each controller's messages are handled in order.
type queue struct {
	pending []inbound
	running bool
}

// ctrlState is what the link remembers of a controller. Only the
// goroutine draining that controller's queue touches it.
type ctrlState struct {
	ring       [rememberIDs]string
	pos        int
	seen       map[string]struct{}
	lastStatus time.Time
}

func (s *ctrlState) has(id string) bool {
	_, ok := s.seen[id]
	return ok
}

func (s *ctrlState) remember(id string) {
	if old := s.ring[s.pos]; old != "" {
		delete(s.seen, old)
	}
	s.ring[s.pos] = id
	s.pos = (s.pos + 1) % rememberIDs
	s.seen[id] = struct{}{}
}

// receive takes a message from the broker (origin is the publishing
// client's id, or "" from an external broker, where the broker's access
// rules vouch for it). It never blocks: it checks the topic and size and
// queues the message for its controller.
func (l *Link) receive(topic string, payload []byte, origin string) {
	if m, ok := l.admit(topic, payload, origin); ok {
		l.enqueue(m)
	}
}

// admit does the cheap checks: a known upstream topic, published by its
// own controller, within the size limit.
func (l *Link) admit(topic string, payload []byte, origin string) (inbound, bool) {
	l.n.received.Add(1)
	t, err := wire.ParseTopic(topic)
	if err != nil || !t.Kind.Upstream() {
		who := origin
		if who == "" {
			who = "?"
		}
		l.drop(who, topic, dropUnknownTopic)
		return inbound{}, false
	}
	if origin != "" && origin != t.Controller {
		l.drop(origin, topic, dropWrongPublisher)
		return inbound{}, false
	}
	if len(payload) > wire.MaxPayload {
		l.drop(t.Controller, topic, wire.ReasonOversized, "bytes", len(payload), "limit", wire.MaxPayload)
		return inbound{}, false
	}
	return inbound{t: t, topic: topic, payload: bytes.Clone(payload)}, true
}

func (l *Link) enqueue(m inbound) {
	c := m.t.Controller
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	q := l.queues[c]
	if q == nil {
		q = &queue{}
		l.queues[c] = q
	}
	if len(q.pending) >= l.cfg.Backlog {
		l.mu.Unlock()
		l.drop(c, m.topic, dropBacklog, "backlog", l.cfg.Backlog)
		return
	}
	q.pending = append(q.pending, m)
	if !q.running {
		q.running = true
		l.wg.Add(1)
		go l.drain(c, q)
	}
	l.mu.Unlock()
}

// drain handles controller c's messages in order until none wait.
func (l *Link) drain(c string, q *queue) {
	defer l.wg.Done()
	for {
		l.mu.Lock()
		if len(q.pending) == 0 {
			q.running = false
			q.pending = nil
			if l.queues[c] == q {
				delete(l.queues, c)
			}
			l.mu.Unlock()
			return
		}
		m := q.pending[0]
		q.pending[0] = inbound{}
		q.pending = q.pending[1:]
		l.mu.Unlock()

		select {
		case l.sem <- struct{}{}:
		case <-l.ctx.Done():
			continue // stopping: the loop empties the queue
		}
		l.handle(m)
		<-l.sem
	}
}

// state returns what the link remembers of controller c.
func (l *Link) state(c string) *ctrlState {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.states[c]
	if s == nil {
		if len(l.states) >= maxStates {
			for k := range l.states { // forget one at random
				if l.queues[k] == nil {
					delete(l.states, k)
					break
				}
			}
		}
		s = &ctrlState{seen: make(map[string]struct{})}
		l.states[c] = s
	}
	return s
}

// handle decodes and checks one message and calls the Device.
func (l *Link) handle(m inbound) {
	c := m.t.Controller
	msg, err := wire.Decode(m.t.Kind, m.payload)
	if err != nil {
		reason := wire.ReasonMalformed
		var we *wire.Error
		if errors.As(err, &we) {
			reason = we.Reason
		}
		l.drop(c, m.topic, reason, "err", err.Error())
		return
	}
	h := msg.Head()
	if m.t.Kind != wire.KindStatus && l.cfg.ClockSkew > 0 {
		if d := l.cfg.Now().Sub(h.TS); d > l.cfg.ClockSkew || d < -l.cfg.ClockSkew {
			l.drop(c, m.topic, dropStale, "id", h.ID, "ts", h.TS, "skew", d.Round(time.Second).String())
			return
		}
	}
	st := l.state(c)
	if st.has(h.ID) {
		l.drop(c, m.topic, dropReplayed, "id", h.ID)
		return
	}
	if m.t.Kind == wire.KindStatus {
		if h.TS.Before(st.lastStatus) {
			l.drop(c, m.topic, dropOutOfOrder, "id", h.ID, "ts", h.TS)
			return
		}
		st.lastStatus = h.TS
	}
	st.remember(h.ID)

	ctx, cancel := context.WithTimeout(l.ctx, l.cfg.CallTimeout)
	defer cancel()
	l.n.handled.Add(1)
	switch v := msg.(type) {
	case *wire.Status:
		l.log.Info("controller status", "controller", c, "status", v.Status, "reason", v.Reason, "fail_mode", v.FailMode)
		if sd, ok := l.dev.(StatusDevice); ok {
			l.refused(c, m.topic, h.ID, sd.ControllerOnline(ctx, c, v.Status == wire.StatusOnline, h.ID, h.TS))
		}
	case *wire.Heartbeat:
		l.refused(c, m.topic, h.ID, l.dev.Heartbeat(ctx, c, h.ID, h.TS))
	case *wire.DoorState:
		l.refused(c, m.topic, h.ID, l.dev.DoorState(ctx, building.DoorReport{
			Controller:    c,
			Door:          m.t.Door,
			Lock:          v.Lock,
			Contact:       v.Contact,
			Tamper:        v.Tamper,
			RequestToExit: v.RequestToExit,
			MsgID:         h.ID,
			At:            h.TS,
		}))
	case *wire.Card:
		d, err := l.dev.Swipe(ctx, building.Swipe{
			Controller: c,
			Reader:     m.t.Reader,
			Card:       v.Card,
			PIN:        v.PIN,
			MsgID:      h.ID,
			At:         h.TS,
		})
		l.refused(c, m.topic, h.ID, err)
		l.answer(ctx, c, m.t.Reader, h.ID, d, err)
	case *wire.Ack:
		l.refused(c, m.topic, h.ID, l.dev.CommandAcked(ctx, building.Ack{
			Controller: c,
			CommandID:  v.Re,
			OK:         *v.OK,
			Error:      v.Error,
		}))
	}
}

// answer publishes the decision on a card. When the Device failed, the
// answer is a denial: its reason if it gave one, else "error".
func (l *Link) answer(ctx context.Context, c, reader, re string, d building.Decision, err error) {
	if err != nil {
		d.Granted = false
		if d.Reason == "" || d.Reason == "granted" {
			d.Reason = "error"
		}
	}
	secs := d.UnlockSeconds
	if secs == 0 && d.UnlockFor > 0 {
		secs = int((d.UnlockFor + time.Second - 1) / time.Second)
	}
	if !d.Granted {
		secs = 0
	}
	if d.Reason == "" {
		d.Reason = "error"
		if d.Granted {
			d.Reason = "granted"
		}
	}
	m := &wire.Decision{
		Header:     wire.NewHeader(l.nextID(), l.cfg.Now()),
		Re:         re,
		Granted:    d.Granted,
		Reason:     d.Reason,
		Door:       d.Door,
		UnlockS:    secs,
		Cardholder: d.Cardholder,
	}
	payload, encErr := wire.Encode(m)
	if encErr != nil { // the Device gave something unsendable: deny
		l.log.Error("mqtt decision not encodable; denying", "controller", c, "reader", reader, "re", re, "err", encErr)
		m = &wire.Decision{Header: m.Header, Re: re, Reason: "error"}
		if payload, encErr = wire.Encode(m); encErr != nil {
			return
		}
	}
	if err := l.publish(ctx, wire.DecisionTopic(c, reader), payload); err != nil {
		l.warn.Warn("decision:"+c, "mqtt decision not published", "controller", c, "reader", reader, "re", re, "err", err)
		return
	}
	l.n.decisions.Add(1)
}

// refused logs a Device error (unknown ids, replays the engine caught).
func (l *Link) refused(c, topic, id string, err error) {
	if err == nil {
		return
	}
	l.n.refused.Add(1)
	l.warn.Warn("refused:"+c, "mqtt message refused by building", "controller", c, "topic", clip(topic), "id", id, "err", err)
}

// drop counts and logs a message the link will not handle.
func (l *Link) drop(c, topic, reason string, args ...any) {
	l.n.dropped.Add(1)
	attrs := append([]any{"controller", clip(c), "topic", clip(topic), "reason", reason}, args...)
	l.warn.Warn("drop:"+clip(c)+":"+reason, "mqtt message dropped", attrs...)
}
