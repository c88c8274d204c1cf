package b2bua

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"civic/voip/callsdp"
	"civic/voip/relay"
)

// call is one call: the caller's leg (in), the answered callee leg (out),
// and the relay between them.
type call struct {
	e       *Engine
	id      string
	caller  string
	callee  string
	in      *sipgo.DialogServerSession
	media   *relay.Session
	offer   callsdp.Media
	codecs  []callsdp.Codec // the caller's codecs civicd can relay
	started time.Time
	done    chan struct{} // closed when the call ends

	callerTransport string
	peers           [2]netip.Addr // each leg's phone, as its signalling came from

	mu              sync.Mutex
	state           string
	target          string // the extension ringing or answering
	out             *sipgo.DialogClientSession
	outCancel       context.CancelFunc
	answered        time.Time
	codec           callsdp.Codec
	calleeTransport string
	sdpVersion      uint64
	ended           bool
	rang            bool // the caller has had its 180
	// aOut replaces the caller's dialog once the caller transferred the
	// call: the new phone on leg A, reached by civicd's own INVITE.
	aOut *sipgo.DialogClientSession
	// transferring is the leg being transferred away (its dialog and
	// which side), while the new target rings; transferGone says it hung
	// up meanwhile.
	transferring    dialogLeg
	transferringID  string
	transferringLeg relay.Leg
	transferGone    bool
	// ringLeg is the relay side a ringing phone is offered: B, or A while
	// a caller's transfer rings its target.
	ringLeg relay.Leg
	// stopRinging ends the ringing early (an admin's hang-up, hangupWhy).
	stopRinging context.CancelFunc
	hangupWhy   string
}

func (c *call) snapshot() Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Call{ID: c.id, Caller: c.caller, Callee: c.callee, Target: c.target, State: c.state,
		Started: c.started, Answered: c.answered, Codec: c.codec.Name,
		RTPFromCaller: c.media.Stats(relay.A).Packets, RTPFromCallee: c.media.Stats(relay.B).Packets}
}

// outcome is how ringing a route ended.
type outcome struct {
	result string // ResultAnswered, ResultBusy, ResultNoAnswer, ...
	code   int    // the SIP response for the caller when not answered
	reason string
}

// connect rings the dialled number, following forwarding, and bridges
// the call when someone answers. It reports whether the call was answered;
// otherwise the caller has had its final response and the call is over.
func (c *call) connect() bool {
	// The ringing ends when the caller cancels (its INVITE's context) or
	// an admin hangs up (stopRinging).
	ctx, cancel := context.WithCancel(c.in.Context())
	defer cancel()
	c.mu.Lock()
	c.stopRinging = cancel
	c.mu.Unlock()
	res := c.dial(ctx, c.callee, c.codecs, c.bridge)
	if ctx.Err() != nil && res.result != ResultAnswered {
		if c.in.Context().Err() != nil {
			c.end(ResultCancelled, "the caller cancelled", false, false)
			return false
		}
		c.mu.Lock()
		why := c.hangupWhy
		c.mu.Unlock()
		c.end(ResultCancelled, why, false, false)
		_ = c.in.Respond(480, "Temporarily Unavailable", nil)
		return false
	}
	if res.result != ResultAnswered {
		// The call is over before the answer goes out: sipgo holds Respond
		// until the caller's ACK comes, which may be never.
		c.end(res.result, "not answered: "+res.reason, false, false)
		_ = c.in.Respond(res.code, res.reason, nil)
		return false
	}
	return true
}

// answerer takes the fork that answered: it reports an error when the
// answer cannot be used, and the next fork's answer is tried.
type answerer func(f *fork) error

// dial rings number, following its forwarding, offering codecs, until a
// phone answers (and onAnswer took it), nobody does, or ctx ends.
func (c *call) dial(ctx context.Context, number string, codecs []callsdp.Codec, onAnswer answerer) outcome {
	var res outcome
	for hop := 0; ; hop++ {
		if hop > c.e.cfg.MaxForwards {
			return outcome{ResultFailed, 482, "Loop Detected"}
		}
		route, err := c.e.dir.Route(number)
		if errors.Is(err, ErrUnknown) {
			return outcome{ResultUnknown, 404, "Not Found"}
		}
		if err != nil {
			c.e.log.Error("call routing", "call", c.id, "number", number, "err", err)
			return outcome{ResultFailed, 500, "Server Internal Error"}
		}
		c.mu.Lock()
		if c.answered.IsZero() {
			c.target = number // until a phone of the route rings
		}
		c.mu.Unlock()
		var next string
		switch {
		case route.ForwardAlways != "":
			next = route.ForwardAlways
		case route.DND:
			res, next = outcome{ResultBusy, 486, "Busy Here"}, route.ForwardBusy
		case len(route.Targets) == 0:
			res, next = outcome{ResultUnavailable, 480, "Temporarily Unavailable"}, route.ForwardNoAnswer
		default:
			res = c.ring(ctx, route, codecs, onAnswer)
			switch res.result {
			case ResultBusy:
				next = route.ForwardBusy
			case ResultNoAnswer, ResultUnavailable:
				next = route.ForwardNoAnswer
			}
		}
		if res.result == ResultAnswered || next == "" || ctx.Err() != nil {
			return res
		}
		c.e.log.Info("call forwarded", "call", c.id, "from", number, "to", next, "because", res.result)
		number = next
	}
}

// ring rings a route's targets, all at once or one extension at a time,
// until one answers, all refuse, the time runs out or the caller cancels.
func (c *call) ring(ctx context.Context, route Route, codecs []callsdp.Codec, onAnswer answerer) outcome {
	timeout := route.RingTimeout
	if timeout <= 0 {
		timeout = c.e.cfg.RingTimeout
	}
	groups := [][]Target{route.Targets}
	if route.Sequential {
		groups = byExtension(route.Targets)
	}
	res := outcome{ResultNoAnswer, 480, "Temporarily Unavailable"}
	for _, g := range groups {
		res = c.ringAll(ctx, g, timeout, codecs, onAnswer)
		if res.result == ResultAnswered || ctx.Err() != nil {
			return res
		}
	}
	return res
}

// byExtension splits targets into one group per extension, in order.
func byExtension(ts []Target) [][]Target {
	var out [][]Target
	for _, t := range ts {
		if n := len(out); n > 0 && out[n-1][0].Ext == t.Ext {
			out[n-1] = append(out[n-1], t)
			continue
		}
		out = append(out, []Target{t})
	}
	return out
}

var errShuttingDown = errors.New("civicd is shutting down")

// dialogLeg is one phone's dialog with civicd, whichever side began it.
type dialogLeg interface {
	Do(ctx context.Context, req *sip.Request) (*sip.Response, error)
	WriteRequest(req *sip.Request) error
	Bye(ctx context.Context) error
	ReadBye(req *sip.Request, tx sip.ServerTransaction) error
}

// leg returns the dialog of side l now, its contact and its id.
func (c *call) leg(l relay.Leg) (dialogLeg, *sip.ContactHeader, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case l == relay.A && c.aOut != nil:
		return c.aOut, c.aOut.InviteResponse.Contact(), c.aOut.ID
	case l == relay.A:
		return c.in, c.in.InviteRequest.Contact(), c.in.ID
	case c.out != nil:
		return c.out, c.out.InviteResponse.Contact(), c.out.ID
	}
	return nil, nil, ""
}

// fork is one INVITE civicd sent for a call.
type fork struct {
	t      Target
	sess   *sipgo.DialogClientSession
	cancel context.CancelFunc
	err    error
}

// ringAll sends an INVITE to each target at once. The first to answer
// is bridged; the others are cancelled.
func (c *call) ringAll(ctx context.Context, targets []Target, timeout time.Duration, codecs []callsdp.Codec, onAnswer answerer) outcome {
	ringCtx, stopRinging := context.WithTimeout(ctx, timeout)
	defer stopRinging()
	c.mu.Lock()
	c.sdpVersion++
	offer := callsdp.Session{ID: uint64(c.started.UnixNano()), Version: c.sdpVersion, Addr: c.local(c.ringLeg, targets[0].Dest),
		Codecs: codecs, EventPT: c.offer.EventPT, Direction: callsdp.SendRecv}.Marshal()
	c.mu.Unlock()

	answered := make(chan *fork, len(targets))
	failed := make(chan *fork, len(targets))
	var forks []*fork
	for _, t := range targets {
		fctx, cancel := context.WithCancel(ringCtx)
		f := &fork{t: t, cancel: cancel}
		forks = append(forks, f)
		req := c.inviteFor(t, offer)
		if !c.e.track() {
			f.err = errShuttingDown
			failed <- f
			continue
		}
		go func() {
			defer c.e.wg.Done()
			sess, err := c.e.ua.WriteInvite(fctx, req)
			if err != nil {
				f.err = err
				failed <- f
				return
			}
			f.sess = sess
			err = sess.WaitAnswer(fctx, sipgo.AnswerOptions{OnResponse: func(r *sip.Response) error {
				if r.StatusCode == 180 || r.StatusCode == 183 {
					c.ringing(t.Ext)
				}
				return nil
			}})
			if err != nil {
				f.err = err
				failed <- f
				return
			}
			answered <- f
		}()
	}
	busy, pending := 0, len(forks)
	for pending > 0 {
		select {
		case f := <-answered:
			pending--
			for _, o := range forks {
				if o != f {
					o.cancel() // CANCEL the others' INVITEs
				}
			}
			if err := onAnswer(f); err != nil {
				c.e.log.Warn("call: answer not usable", "call", c.id, "target", f.t.Ext, "err", err)
				continue
			}
			// Late answers from the cancelled forks get a BYE.
			go c.dropLate(answered, failed, pending)
			return outcome{result: ResultAnswered}
		case f := <-failed:
			pending--
			var dr *sipgo.ErrDialogResponse
			if errors.As(f.err, &dr) && (dr.Res.StatusCode == 486 || dr.Res.StatusCode == 600) {
				busy++
			}
		}
	}
	switch {
	case ctx.Err() != nil:
		return outcome{ResultCancelled, 487, "Request Terminated"}
	case ringCtx.Err() != nil:
		return outcome{ResultNoAnswer, 480, "Temporarily Unavailable"}
	case busy > 0 && busy == len(forks):
		return outcome{ResultBusy, 486, "Busy Here"}
	}
	return outcome{ResultUnavailable, 480, "Temporarily Unavailable"}
}

// dropLate hangs up forks that answered after another one won.
func (c *call) dropLate(answered, failed <-chan *fork, pending int) {
	for ; pending > 0; pending-- {
		select {
		case f := <-answered:
			_ = f.sess.Ack(context.Background())
			bctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = f.sess.Bye(bctx)
			cancel()
		case <-failed:
		}
	}
}

// inviteFor builds the INVITE for one target.
func (c *call) inviteFor(t Target, sdp []byte) *sip.Request {
	req := sip.NewRequest(sip.INVITE, t.URI)
	req.SetBody(sdp)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	from := &sip.FromHeader{
		DisplayName: c.caller,
		Address:     sip.Uri{User: c.caller, Host: c.e.cfg.Domain},
		Params:      sip.NewParams(),
	}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{User: t.Ext, Host: c.e.cfg.Domain}, Params: sip.NewParams()})
	if t.Transport != "" {
		req.SetTransport(strings.ToUpper(t.Transport))
	}
	if t.Dest != "" {
		req.SetDestination(t.Dest)
	}
	if t.Internal {
		// civicd's own endpoint (the meeting bridge) learns which call
		// this is, to match the keys the caller presses.
		req.AppendHeader(sip.NewHeader(CallIDHeader, c.id))
	}
	return req
}

// ringing tells the caller the callee's phone rings (once).
func (c *call) ringing(ext string) {
	c.mu.Lock()
	if !c.answered.IsZero() {
		c.mu.Unlock()
		return // a losing phone's late 180, or a transfer's target ringing
	}
	first := !c.rang && c.answered.IsZero()
	c.rang = true
	c.target = ext
	c.mu.Unlock()
	if first {
		_ = c.in.Respond(180, "Ringing", nil)
	}
	c.e.changed(c)
}

// bridge answers the caller with the relay's address and the codec the
// callee chose, ACKs the callee, and starts relaying.
func (c *call) bridge(f *fork) error {
	answer, err := callsdp.Parse(f.sess.InviteResponse.Body())
	if err == nil && len(answer.Codecs) == 0 {
		err = callsdp.ErrNoCodec
	}
	var codec callsdp.Codec
	if err == nil {
		codec, err = callsdp.Common(c.codecs, answer.Codecs)
	}
	if err != nil {
		_ = f.sess.Ack(context.Background())
		bctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = f.sess.Bye(bctx)
		cancel()
		return err
	}
	if err := f.sess.Ack(context.Background()); err != nil {
		return fmt.Errorf("ack: %w", err)
	}
	signalled := netip.Addr{}
	if src, err := netip.ParseAddrPort(f.sess.InviteResponse.Source()); err == nil {
		signalled = src.Addr()
	}
	c.media.SetRemote(relay.B, answer.Addr, signalled, answer.EventPT)
	c.mu.Lock()
	c.peers[relay.B] = signalled
	c.out, c.outCancel = f.sess, f.cancel
	c.target, c.codec, c.state, c.answered = f.t.Ext, codec, StateAnswered, time.Now()
	c.calleeTransport = strings.ToLower(f.t.Transport)
	if c.calleeTransport == "" {
		c.calleeTransport = "udp"
	}
	c.sdpVersion++
	sdp := callsdp.Session{ID: uint64(c.started.UnixNano()), Version: c.sdpVersion, Addr: c.local(relay.A, ""),
		Codecs: []callsdp.Codec{codec}, EventPT: c.offer.EventPT, Direction: callsdp.SendRecv}.Marshal()
	c.mu.Unlock()
	c.e.mu.Lock()
	c.e.byCallee[f.sess.ID] = c
	c.e.mu.Unlock()
	c.media.Start()
	if err := c.in.RespondSDP(sdp); err != nil {
		c.end(ResultFailed, "could not answer the caller: "+err.Error(), true, false)
		return nil
	}
	c.e.changed(c)
	c.e.log.Info("call answered", "call", c.id, "caller", c.caller, "callee", c.callee, "target", f.t.Ext, "codec", codec.Name)
	return nil
}

// hangup ends an answered call from civicd's side: BYE to both phones.
func (c *call) hangup(why string) {
	c.mu.Lock()
	stop := c.stopRinging
	ringing := c.answered.IsZero() && !c.ended && stop != nil
	if ringing {
		c.hangupWhy = why
	}
	c.mu.Unlock()
	if ringing {
		stop() // connect cancels the phones ringing and answers the caller
		return
	}
	c.end(ResultCancelled, why, true, true) // recorded as answered when it was
}

// end finishes the call once: BYE the legs asked for, stop the relay,
// forget the dialogs and write the record.
func (c *call) end(result, why string, byeCaller, byeCallee bool) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	c.state = StateEnded
	out, answered, aOut := c.out, c.answered, c.aOut
	if !answered.IsZero() {
		result = ResultAnswered
	}
	c.mu.Unlock()
	bctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	switch {
	case byeCaller && aOut != nil:
		_ = aOut.Bye(bctx)
	case byeCaller && !answered.IsZero():
		_ = c.in.Bye(bctx)
	}
	if byeCallee && out != nil {
		_ = out.Bye(bctx)
	}
	c.media.Close()
	c.e.mu.Lock()
	delete(c.e.calls, c.id)
	delete(c.e.byCaller, c.in.ID)
	if out != nil {
		delete(c.e.byCallee, out.ID)
	}
	if aOut != nil {
		delete(c.e.byCallee, aOut.ID)
	}
	c.e.mu.Unlock()
	close(c.done)
	c.e.log.Info("call ended", "call", c.id, "caller", c.caller, "callee", c.callee, "result", result, "why", why)
	c.e.changed(c)
	if c.e.obs != nil {
		c.mu.Lock()
		rec := Record{CallID: c.id, Caller: c.caller, Callee: c.callee, FinalTarget: c.target, Started: c.started,
			Answered: c.answered, Ended: time.Now(), Result: result, Codec: c.codec.Name,
			CallerTransport: c.callerTransport, CalleeTransport: c.calleeTransport,
			RTPFromCaller: c.media.Stats(relay.A).Packets, RTPFromCallee: c.media.Stats(relay.B).Packets}
		c.mu.Unlock()
		c.e.obs.Ended(rec)
	}
}

// dtmf reports a key pressed on one leg's phone.
func (c *call) dtmf(leg relay.Leg, digit rune) {
	if c.e.obs == nil {
		return
	}
	c.mu.Lock()
	ext := c.caller
	if leg == relay.B {
		ext = c.target
	}
	c.mu.Unlock()
	c.e.obs.DTMF(c.id, ext, digit)
}

// local is the relay's address for leg l as the phone there should see
// it. dest is where that phone is sent signalling (host:port), used when
// the leg's peer is not known yet.
func (c *call) local(l relay.Leg, dest string) netip.AddrPort {
	a := c.media.Local(l)
	if c.e.cfg.MediaAddr == nil {
		return a
	}
	peer := c.peers[l]
	if !peer.IsValid() {
		if ap, err := netip.ParseAddrPort(dest); err == nil {
			peer = ap.Addr()
		}
	}
	if m := c.e.cfg.MediaAddr(peer); m.IsValid() {
		return netip.AddrPortFrom(m, a.Port())
	}
	return a
}
