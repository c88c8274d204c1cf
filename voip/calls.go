package voip

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"civic/internal/events"
	"civic/voip/b2bua"
	"civic/voip/blf"
	"civic/voip/dialoginfo"
	"civic/voip/dtmf"
	"civic/voip/relay"
)

// Bus topics of calls.
const (
	// TopicCalls carries live call changes and ends.
	TopicCalls events.Topic = "voip.calls"
	// TopicDTMF carries the keys pressed in calls, whichever way the phone
	// sent them (RFC 4733 or SIP INFO): door stations and the meeting PIN
	// prompt act on them.
	TopicDTMF events.Topic = "voip.dtmf"
)

// Event kinds on TopicCalls and TopicDTMF.
const (
	KindCallChanged = "voip.call_changed" // a call began, rings, was answered, held or resumed
	KindCallEnded   = "voip.call_ended"   // a call ended; the event carries its record
	KindDTMF        = "voip.dtmf"         // a key was pressed in a call
)

// Call is a live call as the console shows it.
type Call = b2bua.Call

// CallResults lists every result a call record can have.
func CallResults() []string { return b2bua.Results() }

// CallEvent says a call changed. Call is its full new state; Record is
// set when it ended.
type CallEvent struct {
	Kind   string      `json:"-"`
	Call   Call        `json:"call"`
	Record *CallRecord `json:"record,omitempty"`
}

// EventTopic implements events.Payload.
func (CallEvent) EventTopic() events.Topic { return TopicCalls }

// EventKind implements events.Payload.
func (e CallEvent) EventKind() string { return e.Kind }

// DTMFEvent is one key pressed in a call, by the phone of Extension.
type DTMFEvent struct {
	CallID    string `json:"call_id"`
	Extension string `json:"extension"`
	Digit     string `json:"digit"`
}

// EventTopic implements events.Payload.
func (DTMFEvent) EventTopic() events.Topic { return TopicDTMF }

// EventKind implements events.Payload.
func (DTMFEvent) EventKind() string { return KindDTMF }

// Interface guards.
var (
	_ events.Payload  = CallEvent{}
	_ events.Payload  = DTMFEvent{}
	_ b2bua.Directory = directory{}
	_ b2bua.Observer  = (*callSide)(nil)
)

// callSide is the calling half of the Service: the B2BUA, the RTP relay's
// ports, the BLF notifier, and the live calls by id for BLF.
type callSide struct {
	s      *Service
	client *sipgo.Client
	ports  *relay.Ports
	engine *b2bua.Engine
	blf    *blf.Notifier

	mu   sync.Mutex
	live map[string]Call
}

// startCalls builds the call engine on the service's user agent.
func (s *Service) startCalls() error {
	host := hostOf(s.cfg.Listen)
	bind := netip.IPv4Unspecified()
	if ip, err := netip.ParseAddr(host); err == nil {
		bind = ip
	}
	ports, err := relay.NewPorts(bind, s.cfg.RTPPortLow, s.cfg.RTPPortHigh)
	if err != nil {
		return fmt.Errorf("%w: sip rtp ports: %v", ErrInvalid, err)
	}
	clientHost := s.viaHost
	if clientHost == "" {
		clientHost = s.cfg.Domain
	}
	client, err := sipgo.NewClient(s.ua, sipgo.WithClientHostname(clientHost), sipgo.WithClientPort(s.udpPort),
		sipgo.WithClientLogger(s.log.With("sip", "client")))
	if err != nil {
		return fmt.Errorf("sip client: %w", err)
	}
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: clientHost, Port: s.udpPort}}
	c := &callSide{s: s, client: client, ports: ports, live: make(map[string]Call)}
	c.engine = b2bua.New(b2bua.Config{
		Client: client, Contact: contact, Ports: ports, Domain: s.cfg.Domain,
		RingTimeout: s.cfg.RingTimeout, MediaAddr: s.mediaAddr,
	}, directory{s}, callAuth{s}, c, s.log.With("sip", "calls"))
	c.blf = blf.New(blf.Config{Client: client, Contact: contact, Domain: s.cfg.Domain, Current: c.dialogs}, s.log.With("sip", "blf"))
	s.calls = c

	s.handle(sip.INVITE, c.engine.HandleInvite)
	s.handle(sip.ACK, c.engine.HandleAck)
	s.handle(sip.BYE, c.engine.HandleBye)
	s.handle(sip.CANCEL, func(req *sip.Request, tx sip.ServerTransaction) {
		// sipgo matches a CANCEL to its INVITE transaction itself; one
		// that matches none gets here (RFC 3261 9.2).
		s.respond(tx, req, 481, "Call/Transaction Does Not Exist")
	})
	s.handle(sip.INFO, s.handleInfo)
	s.handle(sip.SUBSCRIBE, s.handleSubscribe)
	s.handle(sip.REFER, s.handleRefer)
	return nil
}

// stopCalls ends every call and subscription.
func (c *callSide) stop(ctx context.Context) {
	if err := c.engine.Shutdown(ctx); err != nil {
		c.s.log.Warn("sip calls did not end in time", "err", err)
	}
	c.blf.Shutdown()
	c.client.Close()
}

// mediaAddr is the relay address a phone at peer sends RTP to: the
// configured media address, else the listen host, else the address the
// route to the phone leaves from.
func (s *Service) mediaAddr(peer netip.Addr) netip.Addr {
	if s.cfg.MediaAddress != "" {
		a, _ := netip.ParseAddr(s.cfg.MediaAddress)
		return a
	}
	if s.viaHost != "" {
		a, _ := netip.ParseAddr(s.viaHost)
		return a
	}
	if !peer.IsValid() {
		return netip.Addr{}
	}
	a, _ := netip.ParseAddr(s.localHostFor(peer.String()))
	return a
}

// Calls returns the live calls, oldest first.
func (s *Service) Calls() []Call {
	calls := s.calls.engine.Calls()
	slices.SortFunc(calls, func(a, b Call) int { return a.Started.Compare(b.Started) })
	return calls
}

// Hangup ends a live call (an admin's request from the console).
func (s *Service) Hangup(ctx context.Context, id string) error {
	if err := s.calls.engine.Hangup(id); err != nil {
		return fmt.Errorf("%w: no live call %q", ErrNotFound, id)
	}
	return nil
}

// CallChanged implements b2bua.Observer.
func (c *callSide) CallChanged(call Call) {
	c.mu.Lock()
	old, had := c.live[call.ID]
	if call.State == b2bua.StateEnded {
		delete(c.live, call.ID) // Ended follows with the record
	} else {
		c.live[call.ID] = call
	}
	c.mu.Unlock()
	if c.s.bus != nil && call.State != b2bua.StateEnded { // Ended announces the end
		c.s.bus.Publish(CallEvent{Kind: KindCallChanged, Call: call})
	}
	exts := []string{call.Caller, call.Target}
	if had && old.Target != call.Target {
		exts = append(exts, old.Target)
	}
	c.updateBLF(exts...)
}

// Ended implements b2bua.Observer: the record is stored and announced.
func (c *callSide) Ended(r b2bua.Record) {
	c.mu.Lock()
	call, had := c.live[r.CallID]
	delete(c.live, r.CallID)
	c.mu.Unlock()
	rec := recordFrom(r)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.s.saveRecord(ctx, &rec); err != nil {
		c.s.log.Error("sip call record not saved", "call", r.CallID, "err", err)
	}
	if !had {
		call = Call{ID: r.CallID, Caller: r.Caller, Callee: r.Callee, Target: r.FinalTarget, Started: r.Started}
	}
	call.State = b2bua.StateEnded
	if c.s.bus != nil {
		c.s.bus.Publish(CallEvent{Kind: KindCallEnded, Call: call, Record: &rec})
	}
	c.updateBLF(call.Caller, call.Target, r.FinalTarget)
}

// DTMF implements b2bua.Observer.
func (c *callSide) DTMF(callID, ext string, digit rune) {
	c.s.log.Debug("sip dtmf", "call", callID, "extension", ext)
	if b := c.s.bridge.Load(); b != nil {
		(*b).DTMF(callID, ext, digit)
	}
	if c.s.bus != nil {
		c.s.bus.Publish(DTMFEvent{CallID: callID, Extension: ext, Digit: string(digit)})
	}
}

// updateBLF tells the watchers of each extension its dialogs now.
func (c *callSide) updateBLF(exts ...string) {
	seen := map[string]bool{}
	for _, ext := range exts {
		if ext == "" || seen[ext] {
			continue
		}
		seen[ext] = true
		if !c.blf.Watched(ext) && !c.blf.HasDialogs(ext) {
			continue // nobody's BLF key shows it, and it shows idle already
		}
		c.blf.Update(ext, c.dialogs(ext))
	}
}

// dialogs are extension ext's live calls as RFC 4235 dialogs.
func (c *callSide) dialogs(ext string) []dialoginfo.Dialog {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []dialoginfo.Dialog
	for _, call := range c.live {
		var d dialoginfo.Dialog
		switch ext {
		case call.Caller:
			d = dialoginfo.Dialog{ID: call.ID, CallID: call.ID, Direction: dialoginfo.Initiator, State: dialoginfo.Confirmed,
				Remote: &dialoginfo.Remote{Identity: "sip:" + call.Callee + "@" + c.s.cfg.Domain}}
			if call.State == b2bua.StateRinging {
				d.State = dialoginfo.Early
			}
		case call.Target:
			d = dialoginfo.Dialog{ID: call.ID, CallID: call.ID, Direction: dialoginfo.Recipient, State: dialoginfo.Confirmed,
				Remote: &dialoginfo.Remote{Identity: "sip:" + call.Caller + "@" + c.s.cfg.Domain}}
			if call.State == b2bua.StateRinging {
				d.State = dialoginfo.Early
			}
		default:
			continue
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b dialoginfo.Dialog) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// directory routes dialled numbers to registered phones.
type directory struct{ s *Service }

// Route implements b2bua.Directory.
func (d directory) Route(number string) (b2bua.Route, error) {
	s := d.s
	if b := s.bridge.Load(); b != nil {
		if uri, ok := (*b).Target(number); ok {
			// A meeting's dial-in number: the meeting bridge answers.
			return b2bua.Route{Number: number, RingTimeout: 30 * time.Second, Targets: []b2bua.Target{{Ext: number, URI: uri,
				Dest: fmt.Sprintf("%s:%d", uri.Host, uri.Port), Transport: "udp", Internal: true}}}, nil
		}
	}
	s.mu.Lock()
	rec := s.exts[number]
	if rec != nil {
		r := b2bua.Route{
			Number:          number,
			Targets:         s.targetsLocked(number),
			RingTimeout:     s.cfg.RingTimeout,
			DND:             rec.DND,
			ForwardAlways:   rec.ForwardAlways,
			ForwardBusy:     rec.ForwardBusy,
			ForwardNoAnswer: rec.ForwardNoAnswer,
		}
		if rec.ForwardNoAnswer != "" {
			r.RingTimeout = time.Duration(rec.NoAnswerSeconds) * time.Second
		}
		s.mu.Unlock()
		return r, nil
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g, err := s.ringGroup(ctx, number)
	if err != nil {
		return b2bua.Route{}, err
	}
	r := b2bua.Route{Number: number, Sequential: g.Strategy == StrategyOrder,
		RingTimeout: time.Duration(g.RingSeconds) * time.Second}
	s.mu.Lock()
	for _, m := range g.Members {
		if s.exts[m] != nil && !s.exts[m].DND {
			r.Targets = append(r.Targets, s.targetsLocked(m)...)
		}
	}
	s.mu.Unlock()
	return r, nil
}

// targetsLocked are extension n's reachable bindings as call targets,
// and the open consoles of the user it is linked to, which ring beside
// its phones (the meeting bridge answers there).
func (s *Service) targetsLocked(n string) []b2bua.Target {
	var out []b2bua.Target
	for _, b := range s.aors[n] {
		if !b.Reachable || time.Now().After(b.Expires) {
			continue
		}
		out = append(out, b2bua.Target{Ext: n, URI: *b.contact.Address.Clone(), Dest: b.Source, Transport: b.Transport})
	}
	if rec := s.exts[n]; rec != nil && rec.User != "" {
		if br := s.bridge.Load(); br != nil {
			if uri, ok := (*br).ConsoleTarget(rec.User); ok {
				out = append(out, b2bua.Target{Ext: n, URI: uri, Dest: fmt.Sprintf("%s:%d", uri.Host, uri.Port), Transport: "udp", Internal: true})
			}
		}
	}
	return out
}

// ringGroup reads ring group number from the store, or b2bua.ErrUnknown.
func (s *Service) ringGroup(ctx context.Context, number string) (RingGroup, error) {
	groups, err := s.ListRingGroups(ctx)
	if err != nil {
		return RingGroup{}, err
	}
	for _, g := range groups {
		if g.Number == number {
			return g, nil
		}
	}
	return RingGroup{}, b2bua.ErrUnknown
}

// bridgeTokenHeader carries the meeting bridge's token on its own calls.
const bridgeTokenHeader = "X-Civic-Bridge"

// callAuth authenticates the extension placing a call.
type callAuth struct{ s *Service }

// Caller implements b2bua.Authenticator: the caller proves it is the
// extension in its From header.
func (a callAuth) Caller(req *sip.Request, tx sip.ServerTransaction) (string, bool) {
	if !wellFormed(req) {
		a.s.badRequest(req, tx, "missing a required header")
		return "", false
	}
	user := req.From().Address.User
	if b := a.s.bridge.Load(); b != nil {
		// The meeting bridge's own call (dial-out), from loopback with its
		// secret.
		if h := req.GetHeader(bridgeTokenHeader); h != nil {
			if hostOf(req.Source()) == "127.0.0.1" && subtle.ConstantTimeCompare([]byte(h.Value()), []byte((*b).Token())) == 1 {
				return user, true
			}
			a.s.log.Warn("sip: a call with a wrong bridge token refused", "source", req.Source())
			_ = tx.Respond(sip.NewResponseFromRequest(req, 403, "Forbidden", nil))
			return "", false
		}
	}
	rec, ok := a.s.authenticate(req, tx, user, hostOf(req.Source()))
	if !ok {
		return "", false
	}
	return rec.Number, true
}

// handleInfo takes an INFO in a call: a key press (application/dtmf-relay
// or application/dtmf) or anything else, which is answered and ignored.
func (s *Service) handleInfo(req *sip.Request, tx sip.ServerTransaction) {
	if !wellFormed(req) {
		s.badRequest(req, tx, "missing a required header")
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	digit, err := dtmf.FromInfo(ct, req.Body())
	s.calls.engine.HandleInfo(req, tx, digit, err == nil)
}

// handleSubscribe authenticates a BLF subscription and hands it to the
// notifier.
func (s *Service) handleSubscribe(req *sip.Request, tx sip.ServerTransaction) {
	if !wellFormed(req) {
		s.badRequest(req, tx, "missing a required header")
		return
	}
	user := req.From().Address.User
	rec, ok := s.authenticate(req, tx, user, hostOf(req.Source()))
	if !ok {
		return
	}
	s.calls.blf.HandleSubscribe(req, tx, rec.Number, func(n string) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.exts[n] != nil
	})
}

// handleRefer takes a blind transfer (REFER) within a call; transfers out
// of the domain are refused.
func (s *Service) handleRefer(req *sip.Request, tx sip.ServerTransaction) {
	if !wellFormed(req) {
		s.badRequest(req, tx, "missing a required header")
		return
	}
	h := req.GetHeader("Refer-To")
	if h == nil {
		s.badRequest(req, tx, "REFER without Refer-To")
		return
	}
	var to sip.Uri
	v := strings.Trim(strings.TrimSpace(h.Value()), "<>")
	if i := strings.IndexByte(v, '>'); i >= 0 {
		v = v[:i]
	}
	if err := sip.ParseUri(v, &to); err != nil {
		s.badRequest(req, tx, "unreadable Refer-To")
		return
	}
	if !s.inDomain(to.Host) {
		s.log.Info("sip refer refused: outside the domain", "source", req.Source(), "to_host", printable(to.Host, 64))
		s.respond(tx, req, 403, "Forbidden")
		return
	}
	if !validNumber(to.User) {
		s.log.Info("sip refer refused: not a number of ours", "source", req.Source(), "to", printable(to.User, 32))
		s.respond(tx, req, 404, "Not Found")
		return
	}
	s.calls.engine.HandleRefer(req, tx, to.User)
}

// inDomain reports whether host names this server: the SIP domain or one
// of the addresses it listens on.
func (s *Service) inDomain(host string) bool {
	if strings.EqualFold(host, s.cfg.Domain) || host == s.viaHost {
		return true
	}
	return host == hostOf(s.Addr()) || s.TLSAddr() != "" && host == hostOf(s.TLSAddr())
}
