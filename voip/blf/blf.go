// Package blf serves the dialog event package (RFC 4235) to desk phones'
// busy lamp field keys: a phone SUBSCRIBEs to an extension's dialogs, and
// civicd NOTIFYs it with an application/dialog-info+xml document each
// time that extension's calls change (idle, ringing, busy), until the
// subscription expires or the phone ends it.
//
// voip authenticates the SUBSCRIBE and passes it in; the call engine
// reports each extension's dialogs through Update.
package blf

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"civic/voip/dialoginfo"
)

// Bounds of a subscription's lifetime (RFC 6665 §4.2.1.1).
const (
	DefaultExpires = 600 * time.Second
	MinExpires     = 60 * time.Second
	MaxExpires     = 3600 * time.Second
)

// Config sets up a Notifier.
type Config struct {
	Client  *sipgo.Client
	Contact sip.ContactHeader
	Domain  string
	// MaxPerExtension bounds how many subscriptions one extension may
	// hold (a phone with many BLF keys). Default: 100.
	MaxPerExtension int
	// Current returns an extension's dialogs now, for a new
	// subscription's first NOTIFY (Update is only told about watched
	// extensions). Nil: what Update last said.
	Current func(ext string) []dialoginfo.Dialog
}

// Notifier keeps the subscriptions and sends the NOTIFYs.
type Notifier struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	subs    map[string]*sub // by dialog id (UAS side)
	dialogs map[string][]dialoginfo.Dialog
	closed  bool
	wg      sync.WaitGroup
	ctx     context.Context // ends NOTIFYs still waiting at shutdown
	cancel  context.CancelFunc
}

// sub is one subscription: a watcher of one extension.
type sub struct {
	id         string
	watcher    string // the subscribing extension
	entity     string // the watched extension
	callID     string
	localTag   string // ours: the To tag of our 200
	remote     sip.FromHeader
	target     sip.Uri // the watcher's contact
	dest       string  // where its SUBSCRIBE came from
	transport  string
	expires    time.Time
	timer      *time.Timer
	cseq       uint32
	version    uint32
	sendMu     sync.Mutex // one NOTIFY at a time, in order
	terminated bool
	// queue holds the states still to NOTIFY, in the order they
	// happened; draining says a goroutine is sending them (or, before
	// the 200 to the SUBSCRIBE is out, holds them back). last is the
	// state last sent. Guarded by the Notifier's mu.
	queue    []queued
	draining bool
	last     []dialoginfo.Dialog
}

// queued is one state to NOTIFY. A forced one goes out even when the
// watcher already has that state (the first NOTIFY, a refresh's).
type queued struct {
	dialogs []dialoginfo.Dialog
	force   bool
}

// New returns a Notifier.
func New(cfg Config, logger *slog.Logger) *Notifier {
	if cfg.MaxPerExtension <= 0 {
		cfg.MaxPerExtension = 100
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Notifier{cfg: cfg, log: logger, subs: make(map[string]*sub), dialogs: make(map[string][]dialoginfo.Dialog),
		ctx: ctx, cancel: cancel}
}

// HandleSubscribe takes a SUBSCRIBE from watcher (already authenticated)
// to the extension in its Request-URI: a new subscription, a refresh, or
// (Expires: 0) the end of one. exists reports whether an extension has
// the number.
func (n *Notifier) HandleSubscribe(req *sip.Request, tx sip.ServerTransaction, watcher string, exists func(string) bool) {
	respond := func(code int, reason string, hdrs ...sip.Header) {
		res := sip.NewResponseFromRequest(req, code, reason, nil)
		for _, h := range hdrs {
			res.AppendHeader(h)
		}
		_ = tx.Respond(res)
	}
	if ev := req.GetHeader("Event"); ev == nil || !strings.EqualFold(strings.TrimSpace(strings.SplitN(ev.Value(), ";", 2)[0]), "dialog") {
		respond(489, "Bad Event", sip.NewHeader("Allow-Events", "dialog"))
		return
	}
	if acc := req.GetHeader("Accept"); acc != nil && !strings.Contains(strings.ToLower(acc.Value()), dialoginfo.ContentType) {
		respond(406, "Not Acceptable")
		return
	}
	expires := DefaultExpires
	if h := req.GetHeader("Expires"); h != nil {
		secs, err := strconv.Atoi(strings.TrimSpace(h.Value()))
		if err != nil || secs < 0 {
			respond(400, "Bad Expires")
			return
		}
		expires = time.Duration(secs) * time.Second
	}
	if expires > 0 && expires < MinExpires {
		respond(423, "Interval Too Brief", sip.NewHeader("Min-Expires", strconv.Itoa(int(MinExpires.Seconds()))))
		return
	}
	expires = min(expires, MaxExpires)

	toTag := ""
	if to := req.To(); to != nil && to.Params != nil {
		toTag, _ = to.Params.Get("tag")
	}
	if toTag != "" { // a refresh or an unsubscribe, within the subscription
		id, err := sip.DialogIDFromRequestUAS(req)
		n.mu.Lock()
		s := n.subs[id]
		n.mu.Unlock()
		if err != nil || s == nil {
			respond(481, "Subscription Does Not Exist")
			return
		}
		n.renew(s, req, expires, respond)
		return
	}

	entity := req.Recipient.User
	if entity == "" || !exists(entity) {
		respond(404, "Not Found")
		return
	}
	contact := req.Contact()
	if contact == nil || req.CallID() == nil || req.From() == nil {
		respond(400, "Missing Contact, Call-ID or From")
		return
	}
	s := &sub{
		watcher: watcher, entity: entity, callID: req.CallID().Value(), localTag: sip.GenerateTagN(16),
		remote: *req.From(), target: contact.Address, dest: req.Source(), transport: req.Transport(),
		expires: time.Now().Add(expires), cseq: 1,
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		respond(503, "Service Unavailable")
		return
	}
	count := 0
	for _, o := range n.subs {
		if o.watcher == watcher {
			count++
		}
	}
	if count >= n.cfg.MaxPerExtension {
		n.mu.Unlock()
		respond(403, "Too Many Subscriptions")
		return
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.To().Params.Add("tag", s.localTag)
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires.Seconds()))))
	res.AppendHeader(sip.HeaderClone(&n.cfg.Contact))
	id, err := sip.DialogIDFromResponse(res)
	if err != nil {
		n.mu.Unlock()
		respond(400, "Bad Request")
		return
	}
	s.id = id
	// Changes from now on queue up behind the first NOTIFY, which must
	// follow the 200: hold the sender until both are out.
	s.draining = true
	n.subs[id] = s
	if n.cfg.Current != nil {
		n.mu.Unlock()
		cur := n.cfg.Current(entity)
		n.mu.Lock()
		if len(cur) > 0 {
			n.dialogs[entity] = cur
		} else {
			delete(n.dialogs, entity)
		}
	}
	first := queued{dialogs: slices.Clone(n.dialogs[entity]), force: true}
	s.timer = time.AfterFunc(expires, func() { n.expire(s) })
	n.mu.Unlock()
	_ = tx.Respond(res)
	if expires == 0 { // a one-time fetch
		n.remove(s) // first, so Count is right once the watcher has the last NOTIFY
		n.send(s, "terminated;reason=timeout", 0)
		return
	}
	n.mu.Lock()
	s.queue = append([]queued{first}, s.queue...)
	n.drainLocked(s)
	n.mu.Unlock()
}

// renew refreshes a subscription, or ends it with Expires: 0.
func (n *Notifier) renew(s *sub, req *sip.Request, expires time.Duration, respond func(int, string, ...sip.Header)) {
	n.mu.Lock()
	s.expires = time.Now().Add(expires)
	if s.timer != nil {
		s.timer.Reset(expires)
	}
	n.mu.Unlock()
	respond(200, "OK", sip.NewHeader("Expires", strconv.Itoa(int(expires.Seconds()))), sip.HeaderClone(&n.cfg.Contact))
	if expires == 0 {
		n.remove(s) // first, so Count is right once the watcher has the last NOTIFY
		n.send(s, "terminated;reason=timeout", 0)
		return
	}
	n.enqueue(s)
}

// Update sets an extension's dialogs and notifies its watchers.
func (n *Notifier) Update(ext string, dialogs []dialoginfo.Dialog) {
	n.mu.Lock()
	if slices.EqualFunc(n.dialogs[ext], dialogs, sameDialog) {
		n.mu.Unlock()
		return // nothing a watcher would see changed
	}
	if len(dialogs) == 0 {
		delete(n.dialogs, ext)
	} else {
		n.dialogs[ext] = dialogs
	}
	for _, s := range n.subs {
		if s.entity == ext {
			n.enqueueLocked(s, false)
		}
	}
	n.mu.Unlock()
}

// enqueue queues a NOTIFY of s's entity's dialogs as they are now, sent
// even if the watcher has that state already (a refresh).
func (n *Notifier) enqueue(s *sub) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.enqueueLocked(s, true)
}

// enqueueLocked queues the current state for s and starts its sender if
// it is idle, so every change reaches the watcher once, in order; n.mu
// is held.
func (n *Notifier) enqueueLocked(s *sub, force bool) {
	if n.closed {
		return
	}
	s.queue = append(s.queue, queued{dialogs: slices.Clone(n.dialogs[s.entity]), force: force})
	if !s.draining {
		s.draining = true
		n.drainLocked(s)
	}
}

// drainLocked starts the goroutine that sends s's queue in order, the
// one sender s has (draining is set); n.mu is held.
func (n *Notifier) drainLocked(s *sub) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for {
			n.mu.Lock()
			if len(s.queue) == 0 {
				s.draining = false
				n.mu.Unlock()
				return
			}
			q := s.queue[0]
			s.queue = s.queue[1:]
			if !q.force && slices.EqualFunc(q.dialogs, s.last, sameDialog) {
				n.mu.Unlock()
				continue // the watcher has this state already
			}
			s.last = q.dialogs
			left := time.Until(s.expires)
			n.mu.Unlock()
			n.sendDialogs(s, "active", left, q.dialogs, false)
		}
	}()
}

// Watched reports whether any subscription watches ext.
func (n *Notifier) Watched(ext string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, s := range n.subs {
		if s.entity == ext {
			return true
		}
	}
	return false
}

// HasDialogs reports whether ext has dialogs on record.
func (n *Notifier) HasDialogs(ext string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.dialogs[ext]) > 0
}

// sameDialog reports whether two dialogs would show the same.
func sameDialog(a, b dialoginfo.Dialog) bool {
	ra, rb := "", ""
	if a.Remote != nil {
		ra = a.Remote.Identity
	}
	if b.Remote != nil {
		rb = b.Remote.Identity
	}
	return a.ID == b.ID && a.State == b.State && a.Direction == b.Direction && ra == rb
}

// Count is how many subscriptions are active.
func (n *Notifier) Count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.subs)
}

func (n *Notifier) expire(s *sub) {
	n.remove(s)
	n.send(s, "terminated;reason=timeout", 0)
}

func (n *Notifier) remove(s *sub) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s.timer != nil {
		s.timer.Stop()
	}
	delete(n.subs, s.id)
}

// send NOTIFYs the watcher with the entity's current dialogs.
func (n *Notifier) send(s *sub, state string, left time.Duration) {
	n.sendDialogs(s, state, left, nil, true)
}

// sendDialogs NOTIFYs the watcher with ds, or with the entity's dialogs
// now when current is true.
func (n *Notifier) sendDialogs(s *sub, state string, left time.Duration, ds []dialoginfo.Dialog, current bool) {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	n.mu.Lock()
	if s.terminated {
		n.mu.Unlock()
		return
	}
	if strings.HasPrefix(state, "terminated") {
		s.terminated = true
	}
	s.cseq++
	s.version++
	info := dialoginfo.Info{Version: s.version, State: "full", Entity: fmt.Sprintf("sip:%s@%s", s.entity, n.cfg.Domain),
		Dialogs: ds}
	if current {
		info.Dialogs = append([]dialoginfo.Dialog(nil), n.dialogs[s.entity]...)
	}
	cseq := s.cseq
	n.mu.Unlock()
	body, err := info.Marshal()
	if err != nil {
		n.log.Error("blf: dialog-info", "entity", s.entity, "err", err)
		return
	}
	req := sip.NewRequest(sip.NOTIFY, s.target)
	from := &sip.FromHeader{Address: sip.Uri{User: s.entity, Host: n.cfg.Domain}, Params: sip.NewParams()}
	from.Params.Add("tag", s.localTag)
	to := &sip.ToHeader{DisplayName: s.remote.DisplayName, Address: s.remote.Address, Params: s.remote.Params.Clone()}
	callID := sip.CallIDHeader(s.callID)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.NOTIFY})
	req.AppendHeader(sip.HeaderClone(&n.cfg.Contact))
	req.AppendHeader(sip.NewHeader("Event", "dialog"))
	if !s.terminated {
		state = fmt.Sprintf("%s;expires=%d", state, max(int(left.Seconds()), 1))
	}
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	req.AppendHeader(sip.NewHeader("Content-Type", dialoginfo.ContentType))
	req.SetBody(body)
	req.SetTransport(s.transport)
	req.SetDestination(s.dest)
	ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
	defer cancel()
	res, err := n.cfg.Client.Do(ctx, req)
	switch {
	case err != nil:
		n.log.Info("blf: NOTIFY not answered", "watcher", s.watcher, "entity", s.entity, "err", err)
	case res.StatusCode == 481 || res.StatusCode >= 400 && res.StatusCode != 408:
		// The phone no longer has the subscription: forget it.
		n.log.Info("blf: subscription refused by the phone", "watcher", s.watcher, "entity", s.entity, "status", res.StatusCode)
		go n.remove(s)
	}
}

// Shutdown ends every subscription with a terminated NOTIFY, waiting at
// most two seconds for the watchers' answers.
func (n *Notifier) Shutdown() {
	n.mu.Lock()
	n.closed = true
	all := make([]*sub, 0, len(n.subs))
	for _, s := range n.subs {
		all = append(all, s)
	}
	n.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range all {
		n.remove(s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.send(s, "terminated;reason=noresource", 0)
		}()
	}
	t := time.AfterFunc(2*time.Second, n.cancel)
	wg.Wait()
	t.Stop()
	n.cancel()
	n.wg.Wait()
}
