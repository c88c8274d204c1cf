package webui

import (
	"context"
	"errors"
	"strings"
	"sync"

	"civic/voip/confbridge"
)

// The console's softphone (issue 7): an official calls a desk phone from
// the browser, and calls to the extensions linked to a console user ring
// in that user's open consoles, where they can be answered. The call
// itself is a private two-party meeting the page joins with
// conference.join; the meeting bridge puts the phone in it.

// Softphone requests.
const (
	TypeSoftphoneRegister = "softphone.register"
	TypeSoftphoneCall     = "softphone.call"
	TypeSoftphoneAnswer   = "softphone.answer"
	TypeSoftphoneDecline  = "softphone.decline"
	TypeSoftphoneHangup   = "softphone.hangup"
	TypeSoftphoneDTMF     = "softphone.dtmf"
)

// TopicSoftphone is the topic of the events that follow softphone
// requests on their ids. It is not subscribable.
const TopicSoftphone = "softphone"

// Softphone events.
const (
	// KindSoftphoneRinging follows softphone.register: {id, from,
	// from_name, to}, a call ringing for the user.
	KindSoftphoneRinging = "softphone.ringing"
	// KindSoftphoneRingEnded follows softphone.register: {id, reason}.
	KindSoftphoneRingEnded = "softphone.ring_ended"
	// KindSoftphoneState follows softphone.call and softphone.answer:
	// {call_id, state, reason}.
	KindSoftphoneState = "softphone.state"
)

// Softphone is what the console needs of the meeting bridge for calls
// in the browser (voip/confbridge).
type Softphone interface {
	RegisterConsole(user string, c confbridge.Console) (id string, unregister func())
	CallFromConsole(ctx context.Context, user, consoleID, number string, onState func(confbridge.WebState)) (confbridge.WebCall, error)
	AnswerInConsole(ctx context.Context, user, consoleID, id string, onState func(confbridge.WebState)) (confbridge.WebCall, error)
	DeclineInConsole(user, id string) error
	HangupInConsole(user, id string) error
	SendKeysInConsole(user, id, keys string) error
}

var _ Softphone = (*confbridge.Bridge)(nil)

// SoftphoneRegisterResult is the result of softphone.register: the
// extensions whose calls ring in this console.
type SoftphoneRegisterResult struct {
	Extensions []SoftphoneExtension `json:"extensions"`
}

// SoftphoneExtension is an extension linked to the user.
type SoftphoneExtension struct {
	Number string `json:"number"`
	Name   string `json:"name"`
}

// SoftphoneCallParams are the params of softphone.call.
type SoftphoneCallParams struct {
	// Number is an extension or ring group (2-5 digits).
	Number string `json:"number"`
}

// RingIDParams name a call ringing in the console (the id of its
// softphone.ringing event).
type RingIDParams struct {
	RingID string `json:"ring_id"`
}

// SoftphoneHangupParams name a browser call.
type SoftphoneHangupParams struct {
	CallID string `json:"call_id"`
}

// SoftphoneDTMFParams are keys to send to the phone of a browser call.
type SoftphoneDTMFParams struct {
	CallID string `json:"call_id"`
	// Digits are 1-16 of 0-9 * # A-D.
	Digits string `json:"digits"`
}

// softphoneConsole is this connection's registration: it sends the
// rings on the register request's id.
type softphoneConsole struct {
	c    *conn
	id   int64
	gate *eventGate
}

func (s softphoneConsole) Ringing(r confbridge.Ring) {
	s.gate.send(func() { s.c.sendRequestEvent(s.id, TopicSoftphone, KindSoftphoneRinging, r) })
}

func (s softphoneConsole) RingEnded(id, reason string) {
	s.gate.send(func() {
		s.c.sendRequestEvent(s.id, TopicSoftphone, KindSoftphoneRingEnded, map[string]string{"id": id, "reason": reason})
	})
}

// eventGate holds a request's events until its result is out.
type eventGate struct {
	mu      sync.Mutex
	open    bool
	pending []func()
}

func (g *eventGate) send(f func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.open {
		g.pending = append(g.pending, f)
		return
	}
	f()
}

// release sends what waited, and the rest as it comes.
func (g *eventGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = true
	for _, f := range g.pending {
		f()
	}
	g.pending = nil
}

func (c *conn) softphone() (Softphone, error) {
	if c.s.deps.Softphone == nil {
		return nil, apiErrorf(CodeUnavailable, "calls in the browser are not available on this server")
	}
	return c.s.deps.Softphone, nil
}

// handleSoftphoneRegister makes this console ring for its user's calls
// until the socket closes.
func (c *conn) handleSoftphoneRegister(ctx context.Context, req request) (reply, error) {
	sp, err := c.softphone()
	if err != nil {
		return reply{}, err
	}
	user := c.username()
	res := SoftphoneRegisterResult{Extensions: []SoftphoneExtension{}}
	if c.s.deps.Phones != nil {
		exts, err := c.s.deps.Phones.ListExtensions(ctx)
		if err != nil {
			return reply{}, err
		}
		for _, e := range exts {
			if e.User != "" && strings.EqualFold(e.User, user) {
				res.Extensions = append(res.Extensions, SoftphoneExtension{Number: e.Number, Name: e.Name})
			}
		}
	}
	gate := &eventGate{}
	id, unregister := sp.RegisterConsole(user, softphoneConsole{c: c, id: req.ID, gate: gate})
	c.mu.Lock()
	old := c.softphoneOff
	c.softphoneID, c.softphoneOff = id, unregister
	c.mu.Unlock()
	if old != nil {
		old() // registered again on this socket: the newer one takes over
	}
	return reply{result: res, after: gate.release}, nil
}

// consoleID is this socket's softphone registration, which calls need.
func (c *conn) consoleID() (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.softphoneID == "" {
		return "", apiErrorf(CodeConflict, "register the softphone (softphone.register) first")
	}
	return c.softphoneID, nil
}

// unregisterSoftphone ends this socket's registration, hanging up its
// calls; the socket is closing.
func (c *conn) unregisterSoftphone() {
	c.mu.Lock()
	off := c.softphoneOff
	c.softphoneID, c.softphoneOff = "", nil
	c.mu.Unlock()
	if off != nil {
		off()
	}
}

// stateSender sends a call's states on request id, once its result is
// out.
func (c *conn) stateSender(id int64) (func(confbridge.WebState), *eventGate) {
	gate := &eventGate{}
	return func(st confbridge.WebState) {
		gate.send(func() { c.sendRequestEvent(id, TopicSoftphone, KindSoftphoneState, st) })
	}, gate
}

func (c *conn) handleSoftphoneCall(ctx context.Context, req request) (reply, error) {
	var p SoftphoneCallParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	number := strings.TrimSpace(p.Number)
	rep := reply{target: "phone " + truncate(number, 16)}
	if len(number) < 2 || len(number) > 5 || strings.Trim(number, "0123456789") != "" {
		return rep, apiErrorf(CodeInvalidParams, "number must be an extension or ring group of 2-5 digits")
	}
	return c.startCall(req, rep, "called from the browser", func(sp Softphone, user, console string, onState func(confbridge.WebState)) (confbridge.WebCall, error) {
		return sp.CallFromConsole(ctx, user, console, number, onState)
	})
}

func (c *conn) handleSoftphoneAnswer(ctx context.Context, req request) (reply, error) {
	var p RingIDParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	rep := reply{target: "call " + truncate(p.RingID, 16)}
	return c.startCall(req, rep, "answered in the browser", func(sp Softphone, user, console string, onState func(confbridge.WebState)) (confbridge.WebCall, error) {
		return sp.AnswerInConsole(ctx, user, console, p.RingID, onState)
	})
}

// startCall makes or answers a browser call with start, on this socket's
// registration; the call's states follow its result on the request's id.
func (c *conn) startCall(req request, rep reply, detail string, start func(sp Softphone, user, console string, onState func(confbridge.WebState)) (confbridge.WebCall, error)) (reply, error) {
	sp, err := c.softphone()
	if err != nil {
		return rep, err
	}
	console, err := c.consoleID()
	if err != nil {
		return rep, err
	}
	onState, gate := c.stateSender(req.ID)
	call, err := start(sp, c.username(), console, onState)
	if err != nil {
		return rep, err
	}
	rep.target, rep.detail = "phone "+truncate(call.Number, 16), detail
	rep.result, rep.after = call, gate.release
	return rep, nil
}

func (c *conn) handleSoftphoneDecline(_ context.Context, req request) (reply, error) {
	var p RingIDParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	rep := reply{target: "call " + truncate(p.RingID, 16)}
	sp, err := c.softphone()
	if err != nil {
		return rep, err
	}
	return rep, sp.DeclineInConsole(c.username(), p.RingID)
}

func (c *conn) handleSoftphoneHangup(_ context.Context, req request) (reply, error) {
	var p SoftphoneHangupParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	rep := reply{target: "call " + truncate(p.CallID, 16)}
	sp, err := c.softphone()
	if err != nil {
		return rep, err
	}
	return rep, sp.HangupInConsole(c.username(), p.CallID)
}

// handleSoftphoneDTMF sends keys to the phone of a browser call. It is
// not audited: the keys can be a PIN, and what they do (a door station
// opening its door) is audited where it happens.
func (c *conn) handleSoftphoneDTMF(_ context.Context, req request) (reply, error) {
	var p SoftphoneDTMFParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	sp, err := c.softphone()
	if err != nil {
		return reply{}, err
	}
	return reply{}, sp.SendKeysInConsole(c.username(), p.CallID, p.Digits)
}

// softphoneError maps the bridge's errors to the console's.
func softphoneError(err error) *WireError {
	switch {
	case errors.Is(err, confbridge.ErrNoRing):
		return &WireError{Code: CodeNotFound, Message: "that call is no longer ringing: it was answered elsewhere or the caller hung up"}
	case errors.Is(err, confbridge.ErrNoCall):
		return &WireError{Code: CodeNotFound, Message: "no such call (or it is not answered yet)"}
	case errors.Is(err, confbridge.ErrBadKeys):
		return &WireError{Code: CodeInvalidParams, Message: "digits must be 1-16 of 0-9 * # A-D"}
	case errors.Is(err, confbridge.ErrNoKeys):
		return &WireError{Code: CodeConflict, Message: "the phone takes no keys in this call (it agreed no RFC 4733 telephone-event)"}
	}
	return nil
}
