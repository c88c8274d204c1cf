package b2bua

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"civic/voip/callsdp"
	"civic/voip/relay"
)

// HandleRefer takes a REFER within a call: a blind transfer (RFC 3515)
// by either phone. The other phone is handed on to number (voip has
// checked that it is inside the domain): civicd rings number, and when it
// answers, that side of the relay goes to the new phone and the
// transferring phone is told (NOTIFY) and hung up. A transfer that fails
// leaves the call as it was, if the transferring phone is still on it.
func (e *Engine) HandleRefer(req *sip.Request, tx sip.ServerTransaction, number string) {
	c, l := e.find(req)
	if c == nil {
		e.respond(req, tx, 481, "Call/Transaction Does Not Exist", "a REFER for no call")
		return
	}
	old, _, oldID := c.leg(l)
	c.mu.Lock()
	ok := !c.answered.IsZero() && !c.ended && c.transferring == nil && old != nil
	by := c.target
	if l == relay.A {
		by = c.caller
	}
	if ok {
		c.transferring, c.transferringID, c.transferringLeg = old, oldID, l
	}
	c.mu.Unlock()
	if !ok {
		e.respond(req, tx, 491, "Request Pending", "refused a transfer while another change is under way")
		return
	}
	if !e.track() {
		c.mu.Lock()
		c.transferring = nil
		c.mu.Unlock()
		e.respond(req, tx, 503, "Service Unavailable", "refused a transfer: civicd is shutting down")
		return
	}
	res := sip.NewResponseFromRequest(req, 202, "Accepted", nil)
	res.AppendHeader(sip.HeaderClone(&e.cfg.Contact))
	_ = tx.Respond(res)
	contact := req.Contact()
	e.log.Info("call transfer", "call", c.id, "by", by, "to", number)
	go func() {
		defer e.wg.Done()
		c.transfer(l, old, oldID, contact, number)
	}()
}

// transfer rings number and moves side l of the call there. old is the
// transferring phone's dialog; contact is where its REFER said it is.
func (c *call) transfer(l relay.Leg, old dialogLeg, oldID string, contact *sip.ContactHeader, number string) {
	ctx, cancel := context.WithCancel(c.e.ctx)
	defer cancel()
	go func() {
		select {
		case <-c.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	c.mu.Lock()
	codec, beforeTarget, beforeCaller := c.codec, c.target, c.caller
	c.ringLeg = l
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.ringLeg = relay.B
		c.mu.Unlock()
	}()
	c.notifyRefer(old, contact, "SIP/2.0 100 Trying", "active;expires=60")

	res := c.dial(ctx, number, []callsdp.Codec{codec}, func(f *fork) error { return c.bridgeTransfer(l, f) })

	_, _, nowID := c.leg(l)
	c.mu.Lock()
	gone := c.transferGone
	moved := nowID != oldID
	if !moved {
		c.target, c.caller = beforeTarget, beforeCaller
	}
	c.mu.Unlock()
	// The old dialog stays known (its BYE is taken) until it is forgotten.
	defer func() {
		c.mu.Lock()
		c.transferring, c.transferringID, c.transferGone = nil, "", false
		c.mu.Unlock()
	}()
	forget := func() {
		c.e.mu.Lock()
		if l == relay.B {
			delete(c.e.byCallee, oldID)
		} else if oldID != c.in.ID {
			delete(c.e.byCallee, oldID) // an earlier transfer's phone; the caller's own dialog stays keyed until the end
		}
		c.e.mu.Unlock()
	}
	if moved {
		if !gone {
			c.notifyRefer(old, contact, "SIP/2.0 200 OK", "terminated;reason=noresource")
			bctx, bcancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = old.Bye(bctx)
			bcancel()
		}
		forget()
		c.e.log.Info("call transferred", "call", c.id, "to", number)
		return
	}
	c.e.log.Info("call transfer failed", "call", c.id, "to", number, "result", res.result)
	if gone {
		forget()
		// The transferring phone has left: BYE the one that stayed.
		c.end(ResultAnswered, "the transfer failed after the transferring phone hung up", l == relay.B, l == relay.A)
		return
	}
	c.notifyRefer(old, contact, fmt.Sprintf("SIP/2.0 %d %s", res.code, res.reason), "terminated;reason=noresource")
	c.e.changed(c)
}

// bridgeTransfer takes the transfer target's answer: side l of the relay
// now belongs to it.
func (c *call) bridgeTransfer(l relay.Leg, f *fork) error {
	answer, err := callsdp.Parse(f.sess.InviteResponse.Body())
	if err == nil && len(answer.Codecs) == 0 {
		err = callsdp.ErrNoCodec
	}
	c.mu.Lock()
	codec, ended := c.codec, c.ended
	c.mu.Unlock()
	if err == nil {
		_, err = callsdp.Common([]callsdp.Codec{codec}, answer.Codecs)
	}
	if err == nil && ended {
		err = errors.New("the call ended")
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
	c.media.Repoint(l, answer.Addr, signalled, answer.EventPT)
	transport := strings.ToLower(f.t.Transport)
	if transport == "" {
		transport = "udp"
	}
	c.mu.Lock()
	c.peers[l] = signalled
	if l == relay.B {
		c.out, c.outCancel = f.sess, f.cancel
		c.target, c.calleeTransport = f.t.Ext, transport
	} else {
		c.aOut = f.sess
		c.caller, c.callerTransport = f.t.Ext, transport
	}
	c.mu.Unlock()
	c.e.mu.Lock()
	c.e.byCallee[f.sess.ID] = c
	c.e.mu.Unlock()
	c.e.changed(c)
	return nil
}

// notifyRefer tells the transferring phone how the transfer goes, in the
// implicit subscription its REFER made (RFC 3515 §2.4.4).
func (c *call) notifyRefer(leg dialogLeg, contact *sip.ContactHeader, frag, state string) {
	if contact == nil {
		return
	}
	req := sip.NewRequest(sip.NOTIFY, contact.Address)
	req.AppendHeader(sip.HeaderClone(&c.e.cfg.Contact))
	req.AppendHeader(sip.NewHeader("Event", "refer"))
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	req.AppendHeader(sip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
	req.SetBody([]byte(frag + "\r\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := leg.Do(ctx, req); err != nil {
		c.e.log.Debug("call transfer: NOTIFY not answered", "call", c.id, "err", err)
	}
}

var _ dialogLeg = (*sipgo.DialogServerSession)(nil)
