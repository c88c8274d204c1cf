// Package b2bua connects phone calls in civicd: a back-to-back user agent
// that answers the caller's INVITE itself and places a second call to
// the callee, so the two phones never see each other's signalling or
// addresses. Media is anchored in the RTP relay (voip/relay): each phone
// is given the relay's address in the SDP it receives.
//
// Routing follows the callee's settings from the Directory: do not
// disturb, forwarding (always, on busy, on no answer after N seconds) and
// ring groups (all at once, or in order). The first phone to answer wins;
// the others are cancelled.
//
// voip builds an Engine on its SIP server and client and passes it the
// in-dialog requests; the Engine knows nothing of registrations or
// passwords, which come through the Directory and Authenticator.
package b2bua

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"civic/voip/callsdp"
	"civic/voip/relay"
)

// Errors from a Directory.
var (
	// ErrUnknown: no extension or ring group has the number (404).
	ErrUnknown = errors.New("no such number")
)

// Target is one registered contact of an extension: where to send an
// INVITE for it.
type Target struct {
	Ext       string
	URI       sip.Uri // the contact the phone registered
	Dest      string  // host:port to send to: the address its REGISTER came from (NAT)
	Transport string  // udp, tcp, tls
	// Internal marks civicd's own endpoint (the meeting bridge): its
	// INVITE carries the call's id in CallIDHeader.
	Internal bool
}

// CallIDHeader names the header that gives an internal target the call's
// id (the id Observer.DTMF reports keys with).
const CallIDHeader = "X-Civic-Call"

// Route is where a dialled number leads.
type Route struct {
	Number string
	// Targets ring for this route: an extension's contacts, or a ring
	// group's members' contacts. Empty: nobody is registered.
	Targets []Target
	// Sequential rings the targets one extension at a time (a ring group
	// "in order"), each for RingTimeout.
	Sequential bool
	// RingTimeout is how long to ring before giving up (no answer).
	RingTimeout time.Duration
	// DND: the extension takes no calls now.
	DND bool
	// Forwarding numbers; empty for none.
	ForwardAlways, ForwardBusy, ForwardNoAnswer string
}

// Directory tells where numbers lead.
type Directory interface {
	Route(number string) (Route, error)
}

// Authenticator decides who places a call. It answers the INVITE itself
// (a challenge, a refusal) when it returns ok false.
type Authenticator interface {
	Caller(req *sip.Request, tx sip.ServerTransaction) (ext string, ok bool)
}

// Observer hears about calls: each state change, key presses, and the
// record when a call ends. Its methods must not block.
type Observer interface {
	CallChanged(c Call)
	DTMF(callID, ext string, digit rune)
	Ended(r Record)
}

// Call states.
const (
	StateRinging  = "ringing"
	StateAnswered = "answered"
	StateHeld     = "held"
	StateEnded    = "ended"
)

// Call is a live call as the console shows it.
type Call struct {
	ID       string    `json:"id"`
	Caller   string    `json:"caller"`
	Callee   string    `json:"callee"` // the number dialled
	Target   string    `json:"target"` // the extension ringing or answering, after forwarding
	State    string    `json:"state"`
	Started  time.Time `json:"started"`
	Answered time.Time `json:"answered,omitzero"`
	Codec    string    `json:"codec,omitempty"`
	// RTPFromCaller and RTPFromCallee count the RTP packets the relay
	// passed on from each phone.
	RTPFromCaller uint64 `json:"rtp_from_caller"`
	RTPFromCallee uint64 `json:"rtp_from_callee"`
}

// Call results, for the record.
const (
	ResultAnswered    = "answered"
	ResultBusy        = "busy"
	ResultNoAnswer    = "no_answer"
	ResultUnavailable = "unavailable" // not registered, or unreachable
	ResultUnknown     = "unknown_number"
	ResultCancelled   = "cancelled"
	ResultRefused     = "refused" // no common codec, bad SDP
	ResultFailed      = "failed"
)

// Results lists every call result, for consumers that validate filters.
func Results() []string {
	return []string{ResultAnswered, ResultBusy, ResultNoAnswer, ResultUnavailable, ResultUnknown,
		ResultCancelled, ResultRefused, ResultFailed}
}

// Record is the call record written when a call ends.
type Record struct {
	CallID          string
	Caller, Callee  string
	FinalTarget     string
	Started         time.Time
	Answered, Ended time.Time // Answered is zero when nobody answered
	Result          string
	Codec           string
	CallerTransport string
	CalleeTransport string
	// RTPFromCaller and RTPFromCallee count the RTP packets relayed.
	RTPFromCaller, RTPFromCallee uint64
}

// Config sets up an Engine.
type Config struct {
	// Client sends civicd's requests (the callee legs, BYEs).
	Client *sipgo.Client
	// Contact is civicd's contact for dialogs: its listen address.
	Contact sip.ContactHeader
	// Ports is the RTP relay's port pool.
	Ports *relay.Ports
	// Domain is civicd's SIP domain, for From headers of callee legs.
	Domain string
	// RingTimeout is the default time to ring. Default: 30 s.
	RingTimeout time.Duration
	// MaxForwards bounds forwarding hops. Default: 5.
	MaxForwards int
	// MediaAddr returns the address to put in the SDP sent to a phone at
	// peer, when the relay listens on every interface (or behind 1:1 NAT).
	// Nil, or an invalid result: the relay's bound address.
	MediaAddr func(peer netip.Addr) netip.Addr
}

// Engine runs the calls.
type Engine struct {
	cfg  Config
	dir  Directory
	auth Authenticator
	obs  Observer
	log  *slog.Logger
	ua   sipgo.DialogUA

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	closed   bool             // Shutdown began: no new goroutines
	calls    map[string]*call // by our call id
	byCaller map[string]*call // by the caller leg's dialog id
	byCallee map[string]*call // by the answered callee leg's dialog id
}

// New returns an Engine. obs may be nil.
func New(cfg Config, dir Directory, auth Authenticator, obs Observer, logger *slog.Logger) *Engine {
	if cfg.RingTimeout <= 0 {
		cfg.RingTimeout = 30 * time.Second
	}
	if cfg.MaxForwards <= 0 {
		cfg.MaxForwards = 5
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Engine{
		cfg: cfg, dir: dir, auth: auth, obs: obs, log: logger,
		ua:  sipgo.DialogUA{Client: cfg.Client, ContactHDR: cfg.Contact, RewriteContact: true},
		ctx: ctx, cancel: cancel,
		calls:    make(map[string]*call),
		byCaller: make(map[string]*call),
		byCallee: make(map[string]*call),
	}
}

// Calls returns the live calls.
func (e *Engine) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Call, 0, len(e.calls))
	for _, c := range e.calls {
		out = append(out, c.snapshot())
	}
	return out
}

// Hangup ends a live call (an admin's request).
func (e *Engine) Hangup(id string) error {
	e.mu.Lock()
	c := e.calls[id]
	e.mu.Unlock()
	if c == nil {
		return fmt.Errorf("%w: call %s", ErrUnknown, id)
	}
	c.hangup("hung up from the console")
	return nil
}

// Shutdown ends every call and waits for their goroutines.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.cancel()
	e.mu.Lock()
	e.closed = true
	calls := make([]*call, 0, len(e.calls))
	for _, c := range e.calls {
		calls = append(calls, c)
	}
	e.mu.Unlock()
	for _, c := range calls {
		c.hangup("civicd is shutting down")
	}
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// HandleInvite takes an INVITE: a new call, or a re-INVITE in a call.
func (e *Engine) HandleInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params != nil {
		if tag, _ := to.Params.Get("tag"); tag != "" {
			e.handleReinvite(req, tx)
			return
		}
	}
	ext, ok := e.auth.Caller(req, tx)
	if !ok {
		return
	}
	offer, err := callsdp.Parse(req.Body())
	if err != nil {
		e.respond(req, tx, 400, "Bad SDP", "refused a call: "+err.Error())
		return
	}
	codecs := callsdp.Relayable(offer.Codecs)
	if len(codecs) == 0 {
		e.respond(req, tx, 488, "Not Acceptable Here", "refused a call: the caller offers none of PCMU, PCMA and G.722")
		return
	}
	in, err := e.ua.ReadInvite(req, tx)
	if err != nil {
		e.respond(req, tx, 400, "Bad Request", "refused a call: "+err.Error())
		return
	}
	media, err := e.cfg.Ports.NewSession(nil)
	if err != nil {
		_ = in.Respond(503, "Service Unavailable", nil)
		e.log.Warn("call refused: no RTP ports", "caller", ext)
		return
	}
	c := &call{
		e: e, id: sip.GenerateTagN(16), caller: ext, callee: req.Recipient.User,
		in: in, media: media, offer: offer, codecs: codecs,
		started: time.Now(), state: StateRinging, done: make(chan struct{}), ringLeg: relay.B,
		callerTransport: strings.ToLower(req.Transport()),
	}
	media.SetDTMF(func(d relay.DTMF) { c.dtmf(d.Leg, d.Digit) })
	if src, err := netip.ParseAddrPort(req.Source()); err == nil {
		c.peers[relay.A] = src.Addr()
	}
	media.SetRemote(relay.A, offer.Addr, c.peers[relay.A], offer.EventPT)
	e.mu.Lock()
	e.calls[c.id] = c
	e.byCaller[in.ID] = c
	e.mu.Unlock()
	_ = in.Respond(100, "Trying", nil)
	e.changed(c)
	// sipgo ends the INVITE transaction when this handler returns, so the
	// ringing happens here, until the caller has a final answer.
	if !c.connect() {
		return
	}
	if !e.track() {
		c.hangup("civicd is shutting down")
		return
	}
	go func() {
		defer e.wg.Done()
		select {
		case <-c.done:
		case <-e.ctx.Done():
			c.hangup("civicd is shutting down")
		}
	}()
}

// track counts a goroutine in e.wg unless Shutdown has begun, so Add never
// races Shutdown's Wait.
func (e *Engine) track() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.wg.Add(1)
	return true
}

// respond answers a request outside any call, logging why.
func (e *Engine) respond(req *sip.Request, tx sip.ServerTransaction, code int, reason, why string) {
	e.log.Info(why, "from", req.Source(), "call_id", callID(req))
	_ = tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil))
}

// HandleAck takes an ACK: for the caller's 2xx, or a stray one.
func (e *Engine) HandleAck(req *sip.Request, tx sip.ServerTransaction) {
	if c := e.callerCall(req); c != nil {
		_ = c.in.ReadAck(req, tx)
	}
}

// HandleBye ends the call a BYE belongs to, from either side; a BYE from
// a phone that transferred the call away only ends its own dialog.
func (e *Engine) HandleBye(req *sip.Request, tx sip.ServerTransaction) {
	c, l := e.find(req)
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	id := dialogIDOf(req, c)
	c.mu.Lock()
	old, oldID := c.transferring, c.transferringID
	if old != nil && oldID == id {
		c.transferGone = true
	}
	c.mu.Unlock()
	if old != nil && oldID == id {
		_ = old.ReadBye(req, tx) // the transferring phone leaves; the others stay
		return
	}
	dl, _, curID := c.leg(l)
	if dl == nil || curID != id {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	_ = dl.ReadBye(req, tx)
	if l == relay.A {
		c.end(ResultAnswered, "the caller hung up", false, true)
	} else {
		c.end(ResultAnswered, "the callee hung up", true, false)
	}
}

// find returns the call a request belongs to and the side it came from:
// the caller's own dialog, or one of civicd's dialogs (the callee's, or
// the phone a caller's transfer brought onto side A).
func (e *Engine) find(req *sip.Request) (*call, relay.Leg) {
	if c := e.callerCall(req); c != nil {
		return c, relay.A
	}
	c := e.calleeCall(req)
	if c == nil {
		return nil, relay.B
	}
	id, _ := sip.DialogIDFromRequestUAC(req)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.aOut != nil && c.aOut.ID == id || c.transferring != nil && c.transferringID == id && c.transferringLeg == relay.A {
		return c, relay.A
	}
	return c, relay.B
}

// dialogIDOf is the id of the dialog req arrived in, as civicd keys it.
func dialogIDOf(req *sip.Request, c *call) string {
	if id, err := sip.DialogIDFromRequestUAS(req); err == nil && id == c.in.ID {
		return id
	}
	id, _ := sip.DialogIDFromRequestUAC(req)
	return id
}

// HandleInfo reads SIP INFO key presses within a call.
func (e *Engine) HandleInfo(req *sip.Request, tx sip.ServerTransaction, digit rune, isDTMF bool) {
	c, leg := e.find(req)
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	if !isDTMF {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 415, "Unsupported Media Type", nil))
		return
	}
	// The key is reported before the 200: a phone sends its next INFO
	// only after this one's 200, and that one, handled on another
	// goroutine, must not be reported first (a PIN's keys in order).
	c.dtmf(leg, digit)
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
}

func (e *Engine) callerCall(req *sip.Request) *call {
	id, err := sip.DialogIDFromRequestUAS(req)
	if err != nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.byCaller[id]
}

func (e *Engine) calleeCall(req *sip.Request) *call {
	id, err := sip.DialogIDFromRequestUAC(req)
	if err != nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.byCallee[id]
}

func (e *Engine) changed(c *call) {
	if e.obs != nil {
		e.obs.CallChanged(c.snapshot())
	}
}

func callID(req *sip.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}
