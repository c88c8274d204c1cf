package confbridge

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"civic/voip/dtmf"
)

// Browser calls (issue 7; ARCHITECTURE.md flow 5). A console user calls
// a desk phone from the browser, or answers in the browser a call to an
// extension linked to them. Either way the call is a private two-party
// room of the meetings module: the browser joins it as in any meeting
// (Opus over WebRTC, through the SFU), and the bridge puts the phone in
// it as it puts a phone in a meeting, without the prompts. So the phone
// hears the browser decoded and re-encoded in its codec, and the browser
// hears the phone as it is (G.711 or G.722, which it decodes). Both ways
// go through civicd's call engine, which keeps the call records.
//
// An open console registers (RegisterConsole). voip then rings it, beside
// the user's desk phones, for calls to their extensions: the engine sends
// an INVITE to ConsoleTarget's URI, which the bridge holds ringing until
// the user answers or declines in a console, or the caller gives up.

// Web call states: the dial-out states, and WebEnded for a call that was
// answered and is over.
const WebEnded = "ended"

// Reasons a ring in the consoles ends (Console.RingEnded).
const (
	RingAnswered          = "answered" // in this console
	RingAnsweredElsewhere = "answered_elsewhere"
	RingCancelled         = "cancelled" // the caller gave up, or a desk phone answered
	RingDeclined          = "declined"
	RingTimeout           = "timeout"
)

// Errors of browser calls.
var (
	ErrNoCall = errors.New("no such call")
	// ErrNoKeys: the phone agreed no RFC 4733 events, so no keys can be
	// sent to it.
	ErrNoKeys = errors.New("the phone takes no keys (no telephone-event in its SDP)")
	// ErrBadKeys: keys other than 0-9 * # A-D, or too many at once.
	ErrBadKeys = errors.New("keys must be 1-16 of 0-9 * # A-D")
	ErrNoRing  = errors.New("no such call ringing (it was answered elsewhere or the caller hung up)")
)

// consolePrefix starts the SIP user of a console target.
const consolePrefix = "console."

// Console is an open console that takes calls.
type Console interface {
	// Ringing: a call rings for its user.
	Ringing(r Ring)
	// RingEnded: ring id is over, for reason (Ring*).
	RingEnded(id, reason string)
}

// Ring is an incoming call ringing in a user's consoles.
type Ring struct {
	ID       string `json:"id"`
	From     string `json:"from"`      // the caller's number
	FromName string `json:"from_name"` // and name, when known
	To       string `json:"to"`        // the extension dialled
}

// WebCall is a browser call: the room the browser joins, and the phone's
// number and name.
type WebCall struct {
	ID     string `json:"call_id"`
	Room   string `json:"room"`
	Number string `json:"number"`
	Name   string `json:"name"`
}

// WebState is a browser call's progress: State is a Dial* state or
// WebEnded.
type WebState struct {
	CallID string `json:"call_id"`
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

type console struct {
	id, user string
	c        Console
}

// webCall is one browser call.
type webCall struct {
	b                  *Bridge
	id, user, console  string
	room, number, name string
	onState            func(WebState)
	stopRinging        context.CancelFunc // an outgoing call's ringing
	mu                 sync.Mutex
	phone              *call
	over               bool
}

// ring is an incoming call held ringing in the consoles.
type ring struct {
	Ring
	user   string
	answer chan ringAnswer
	stop   chan string // a reason: RingDeclined, or no console left
	over   chan struct{}
}

// ringAnswer is a console's answer: the call it becomes, and where the
// outcome goes.
type ringAnswer struct {
	web  *webCall
	done chan error
}

func newID() string { return strings.ToLower(rand.Text()[:12]) }

// RegisterConsole takes an open console of user's: incoming calls to the
// extensions linked to user ring there until unregister, which also
// hangs up the calls made or answered in it.
func (b *Bridge) RegisterConsole(user string, c Console) (id string, unregister func()) {
	id = newID()
	b.mu.Lock()
	b.consoles[id] = &console{id: id, user: user, c: c}
	if b.tokens[user] == "" {
		b.tokens[user] = strings.ToLower(rand.Text())
	}
	b.mu.Unlock()
	var once sync.Once
	return id, func() { once.Do(func() { b.unregister(id) }) }
}

func (b *Bridge) unregister(id string) {
	b.mu.Lock()
	con := b.consoles[id]
	delete(b.consoles, id)
	var calls []*webCall
	for _, w := range b.webCalls {
		if w.console == id {
			calls = append(calls, w)
		}
	}
	var rings []*ring
	if con != nil && len(b.consolesOfLocked(con.user)) == 0 {
		delete(b.tokens, con.user)
		for _, r := range b.rings {
			if r.user == con.user {
				rings = append(rings, r)
			}
		}
	}
	b.mu.Unlock()
	for _, w := range calls {
		w.hangup("the console closed")
	}
	for _, r := range rings {
		select {
		case r.stop <- "no console left":
		default:
		}
	}
}

func (b *Bridge) consolesOfLocked(user string) []*console {
	var out []*console
	for _, c := range b.consoles {
		if c.user == user {
			out = append(out, c)
		}
	}
	return out
}

// ConsoleTarget is the SIP URI at which user's open consoles ring, for
// the call engine to fork a call to their extension to; false when no
// console of theirs is open.
func (b *Bridge) ConsoleTarget(user string) (sip.Uri, bool) {
	b.mu.Lock()
	token := b.tokens[user]
	b.mu.Unlock()
	if token == "" {
		return sip.Uri{}, false
	}
	a := b.conn.LocalAddr().(*net.UDPAddr)
	return sip.Uri{User: consolePrefix + token, Host: "127.0.0.1", Port: a.Port}, true
}

// CallFromConsole calls number (an extension or ring group) from user's
// browser, in console consoleID. It returns once the call's room is
// made, for the browser to join; the call's progress goes to onState,
// ending with a failure state or WebEnded.
func (b *Bridge) CallFromConsole(ctx context.Context, user, consoleID, number string, onState func(WebState)) (WebCall, error) {
	if b.cfg.SIPAddr == "" {
		return WebCall{}, errors.New("confbridge: calls from the console are not set up")
	}
	ext, shown := user, user
	if b.cfg.ConsoleCaller != nil {
		if e, n := b.cfg.ConsoleCaller(user); e != "" {
			ext, shown = e, n
		} else if n != "" {
			shown = n
		}
	}
	name := number
	if b.cfg.NameOf != nil {
		if n := strings.TrimSpace(b.cfg.NameOf(number)); n != "" {
			name = n
		}
	}
	room, err := b.cfg.Meetings.OpenCall(ctx, user, "☎ "+name)
	if err != nil {
		return WebCall{}, err
	}
	w := b.newWebCall(user, consoleID, room, number, name, onState)
	rctx, cancel := context.WithCancel(b.ctx)
	w.stopRinging = cancel
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer cancel()
		err := b.dial(rctx, dialSpec{room: room, number: number, fromUser: ext, fromName: shown, web: w}, func(state string) {
			switch state {
			case DialRinging:
				w.state(state, "")
			case DialAnswered:
				w.state(state, "")
			default:
				w.finish(state, "")
			}
		})
		if err != nil {
			b.log.Warn("bridge: call from the console", "user", user, "number", number, "err", err)
			w.finish(DialFailed, "")
		}
	}()
	return WebCall{ID: w.id, Room: room, Number: number, Name: name}, nil
}

func (b *Bridge) newWebCall(user, consoleID, room, number, name string, onState func(WebState)) *webCall {
	if onState == nil {
		onState = func(WebState) {}
	}
	w := &webCall{b: b, id: newID(), user: user, console: consoleID, room: room, number: number, name: name, onState: onState}
	b.mu.Lock()
	b.webCalls[w.id] = w
	b.mu.Unlock()
	return w
}

// state reports a state of a call not over.
func (w *webCall) state(state, reason string) {
	w.mu.Lock()
	over := w.over
	w.mu.Unlock()
	if !over {
		w.onState(WebState{CallID: w.id, State: state, Reason: reason})
	}
}

// attach gives the call its phone, once answered; false when the call
// was hung up meanwhile.
func (w *webCall) attach(c *call) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.over {
		return false
	}
	w.phone = c
	c.mu.Lock()
	c.web = w
	c.mu.Unlock()
	return true
}

// finish ends the call once: its room ends, and the console hears state.
func (w *webCall) finish(state, reason string) {
	w.mu.Lock()
	if w.over {
		w.mu.Unlock()
		return
	}
	w.over = true
	w.mu.Unlock()
	b := w.b
	b.mu.Lock()
	delete(b.webCalls, w.id)
	b.mu.Unlock()
	if w.stopRinging != nil {
		w.stopRinging()
	}
	b.cfg.Meetings.EndCall(w.room)
	b.log.Info("bridge: browser call over", "user", w.user, "number", w.number, "state", state, "reason", reason)
	w.onState(WebState{CallID: w.id, State: state, Reason: reason})
}

// hangup ends the call from the console's side.
func (w *webCall) hangup(why string) {
	w.mu.Lock()
	phone := w.phone
	w.mu.Unlock()
	if phone != nil {
		phone.hangup(why)
	}
	w.finish(WebEnded, why)
}

// HangupInConsole hangs up user's browser call id (ringing or answered).
func (b *Bridge) HangupInConsole(user, id string) error {
	b.mu.Lock()
	w := b.webCalls[id]
	b.mu.Unlock()
	if w == nil || w.user != user {
		return ErrNoCall
	}
	w.hangup("hung up in the console")
	return nil
}

// ringConsoles holds an incoming call to a user's consoles ringing until
// one answers or declines, the caller gives up (the engine cancels: it
// was answered on a desk phone, or hung up), or the ringing times out.
// It runs in the INVITE's handler, which must give the final answer.
func (b *Bridge) ringConsoles(req *sip.Request, tx sip.ServerTransaction) {
	token := strings.TrimPrefix(req.Recipient.User, consolePrefix)
	b.mu.Lock()
	user := ""
	for u, t := range b.tokens {
		if t == token {
			user = u
		}
	}
	cons := b.consolesOfLocked(user)
	b.mu.Unlock()
	if user == "" || len(cons) == 0 {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 480, "Temporarily Unavailable", nil))
		return
	}
	offer, codec, dlg, ok := b.readInvite(req, tx)
	if !ok {
		return
	}
	from, fromName := b.callerOf(req)
	if fromName == from {
		fromName = ""
	}
	r := &ring{Ring: Ring{ID: newID(), From: from, FromName: fromName, To: req.To().Address.User}, user: user,
		answer: make(chan ringAnswer), stop: make(chan string, 1), over: make(chan struct{})}
	b.mu.Lock()
	b.rings[r.ID] = r
	b.mu.Unlock()
	_ = dlg.Respond(180, "Ringing", nil)
	for _, c := range cons {
		c.c.Ringing(r.Ring)
	}
	b.log.Info("bridge: call ringing in the console", "user", user, "from", from, "to", r.To)
	timer := time.NewTimer(b.cfg.RingTimeout)
	defer timer.Stop()
	reason, answeredIn := RingCancelled, ""
	select {
	case a := <-r.answer:
		answeredIn = a.web.console
		c, err := b.accept(req, dlg, offer, codec, a.web)
		a.done <- err
		if err == nil {
			reason = RingAnswered
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				defer c.cleanup()
				go c.readRTP()
				go c.sendRTP()
				c.join(a.web.room)
			}()
		}
	case why := <-r.stop:
		if why == RingDeclined {
			reason = RingDeclined
			_ = dlg.Respond(603, "Decline", nil)
		} else {
			_ = dlg.Respond(480, "Temporarily Unavailable", nil)
		}
	case <-dlg.Context().Done():
	case <-timer.C:
		reason = RingTimeout
		_ = dlg.Respond(480, "Temporarily Unavailable", nil)
	case <-b.ctx.Done():
		_ = dlg.Respond(503, "Service Unavailable", nil)
	}
	close(r.over)
	if reason != RingAnswered {
		dlg.Close() // an answered call's dialog is closed with the call
	}
	b.mu.Lock()
	delete(b.rings, r.ID)
	cons = b.consolesOfLocked(user)
	b.mu.Unlock()
	for _, c := range cons {
		why := reason
		if reason == RingAnswered && c.id != answeredIn {
			why = RingAnsweredElsewhere
		}
		c.c.RingEnded(r.ID, why)
	}
}

// ringOf is user's ringing call id.
func (b *Bridge) ringOf(user, id string) *ring {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.rings[id]
	if r == nil || r.user != user {
		return nil
	}
	return r
}

// AnswerInConsole answers, in console consoleID, the call ringing as id
// for user. It returns once the phone is answered, with the room for the
// browser to join; onState hears WebEnded when the call is over.
func (b *Bridge) AnswerInConsole(ctx context.Context, user, consoleID, id string, onState func(WebState)) (WebCall, error) {
	r := b.ringOf(user, id)
	if r == nil {
		return WebCall{}, ErrNoRing
	}
	name := r.FromName
	if name == "" {
		name = r.From
	}
	room, err := b.cfg.Meetings.OpenCall(ctx, user, "☎ "+name)
	if err != nil {
		return WebCall{}, err
	}
	w := b.newWebCall(user, consoleID, room, r.From, name, onState)
	a := ringAnswer{web: w, done: make(chan error, 1)}
	select {
	case r.answer <- a:
	case <-r.over:
		w.finish(WebEnded, "the caller hung up")
		return WebCall{}, ErrNoRing
	case <-ctx.Done():
		w.finish(WebEnded, "not answered in time")
		return WebCall{}, ctx.Err()
	}
	if err := <-a.done; err != nil {
		w.finish(WebEnded, "the caller hung up")
		return WebCall{}, ErrNoRing
	}
	w.state(DialAnswered, "")
	return WebCall{ID: w.id, Room: room, Number: r.From, Name: name}, nil
}

// DeclineInConsole turns down user's ringing call id: the caller hears
// that the call was declined (unless a desk phone answers it).
func (b *Bridge) DeclineInConsole(user, id string) error {
	r := b.ringOf(user, id)
	if r == nil {
		return ErrNoRing
	}
	select {
	case r.stop <- RingDeclined:
	default:
	}
	return nil
}

// SendKeysInConsole sends keys (0-9 * # A-D, 1-16 of them) to the phone
// of user's answered browser call id, as RFC 4733 events of 100 ms, one
// after another: a door station opens its door this way.
func (b *Bridge) SendKeysInConsole(user, id, keys string) error {
	if n := len(keys); n == 0 || n > 16 {
		return ErrBadKeys
	}
	for _, k := range keys {
		if _, ok := dtmf.ToEvent(k); !ok {
			return ErrBadKeys
		}
	}
	b.mu.Lock()
	w := b.webCalls[id]
	b.mu.Unlock()
	if w == nil || w.user != user {
		return ErrNoCall
	}
	w.mu.Lock()
	phone := w.phone
	w.mu.Unlock()
	if phone == nil {
		return ErrNoCall // not answered yet
	}
	if phone.evPT < 0 {
		return ErrNoKeys
	}
	for _, k := range keys {
		select {
		case phone.keys <- k:
		default:
			return ErrBadKeys // more than 32 waiting
		}
	}
	return nil
}
