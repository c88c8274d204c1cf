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

// HandleRefer takes a REFER within a call: a blind transfer (RFC 3515).
// The answering phone hands the caller on to number (voip has checked
// that it is inside the domain): civicd rings number for the caller, and
// when it answers, the caller's audio goes there and the transferring
// phone is told (NOTIFY) and hung up. A transfer that fails leaves the
// call as it was, if the transferring phone is still on it.
func (e *Engine) HandleRefer(req *sip.Request, tx sip.ServerTransaction, number string) {
	if c := e.callerCall(req); c != nil {
		e.respond(req, tx, 501, "Not Implemented", "refused a transfer by the caller: only the answering phone can transfer")
		return
	}
	c := e.calleeCall(req)
	if c == nil {
		e.respond(req, tx, 481, "Call/Transaction Does Not Exist", "a REFER for no call")
		return
	}
	c.mu.Lock()
	ok := !c.answered.IsZero() && !c.ended && c.transferring == nil && c.out != nil
	old, by := c.out, c.target
	if ok {
		c.transferring = old
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
	e.log.Info("call transfer", "call", c.id, "by", by, "to", number)
	go func() {
		defer e.wg.Done()
		c.transfer(old, number)
	}()
}

// transfer rings number for the caller and moves the call there.
func (c *call) transfer(old *sipgo.DialogClientSession, number string) {
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
	codec, before := c.codec, c.target
	c.mu.Unlock()
	c.notifyRefer(old, "SIP/2.0 100 Trying", "active;expires=60")

	res := c.dial(ctx, number, []callsdp.Codec{codec}, c.bridgeTransfer)

	c.mu.Lock()
	gone := c.transferGone
	moved := c.out != old
	if !moved {
		c.target = before
	}
	c.mu.Unlock()
	// The old leg stays known (its BYE is taken) until it is forgotten.
	defer func() {
		c.mu.Lock()
		c.transferring, c.transferGone = nil, false
		c.mu.Unlock()
	}()
	if moved {
		if !gone {
			c.notifyRefer(old, "SIP/2.0 200 OK", "terminated;reason=noresource")
			bctx, bcancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = old.Bye(bctx)
			bcancel()
		}
		c.e.mu.Lock()
		delete(c.e.byCallee, old.ID)
		c.e.mu.Unlock()
		c.e.log.Info("call transferred", "call", c.id, "to", number)
		return
	}
	c.e.log.Info("call transfer failed", "call", c.id, "to", number, "result", res.result)
	if gone {
		c.e.mu.Lock()
		delete(c.e.byCallee, old.ID)
		c.e.mu.Unlock()
		c.end(ResultAnswered, "the transfer failed after the transferring phone hung up", true, false)
		return
	}
	c.notifyRefer(old, fmt.Sprintf("SIP/2.0 %d %s", res.code, res.reason), "terminated;reason=noresource")
	c.e.changed(c)
}

// bridgeTransfer takes the transfer target's answer: the relay's callee
// leg now belongs to it.
func (c *call) bridgeTransfer(f *fork) error {
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
	c.media.Repoint(relay.B, answer.Addr, signalled, answer.EventPT)
	c.mu.Lock()
	c.peers[relay.B] = signalled
	c.out, c.outCancel = f.sess, f.cancel
	c.target = f.t.Ext
	c.calleeTransport = strings.ToLower(f.t.Transport)
	if c.calleeTransport == "" {
		c.calleeTransport = "udp"
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
func (c *call) notifyRefer(leg *sipgo.DialogClientSession, frag, state string) {
	contact := leg.InviteResponse.Contact()
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
