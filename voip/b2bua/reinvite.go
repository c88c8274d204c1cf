package b2bua

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/emiago/sipgo/sip"

	"civic/voip/callsdp"
	"civic/voip/relay"
)

// handleReinvite takes a re-INVITE from either phone of an answered call
// (hold, resume, a new address) and passes the change to the other phone
// as a re-INVITE of civicd's own, then answers.
func (e *Engine) handleReinvite(req *sip.Request, tx sip.ServerTransaction) {
	c, from := e.find(req)
	if c == nil {
		e.respond(req, tx, 481, "Call/Transaction Does Not Exist", "a re-INVITE for no call")
		return
	}
	offer, err := callsdp.Parse(req.Body())
	if err != nil {
		e.respond(req, tx, 488, "Not Acceptable Here", "a re-INVITE with unusable SDP: "+err.Error())
		return
	}
	c.mu.Lock()
	codec, answered := c.codec, !c.answered.IsZero()
	c.mu.Unlock()
	if !answered {
		e.respond(req, tx, 491, "Request Pending", "a re-INVITE before the call was answered")
		return
	}
	if _, err := callsdp.Common([]callsdp.Codec{codec}, offer.Codecs); err != nil {
		e.respond(req, tx, 488, "Not Acceptable Here", "a re-INVITE without the call's codec")
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, 100, "Trying", nil))
	signalled := netip.Addr{}
	if src, err := netip.ParseAddrPort(req.Source()); err == nil {
		signalled = src.Addr()
	}
	if !offer.Addr.Addr().IsUnspecified() {
		c.media.SetRemote(from, offer.Addr, signalled, offer.EventPT)
	}
	// The other phone hears what this one offers: sendonly (holding)
	// stays sendonly from civicd towards it.
	dir := offer.Direction
	if offer.Addr.Addr().IsUnspecified() {
		dir = callsdp.SendOnly
	}
	other := relay.B
	if from == relay.B {
		other = relay.A
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	answerDir, err := c.reinvite(ctx, other, dir)
	if err != nil {
		e.log.Warn("call: re-INVITE to the other phone failed", "call", c.id, "err", err)
		_ = tx.Respond(sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
		return
	}
	c.mu.Lock()
	if dir == callsdp.SendRecv && answerDir == callsdp.SendRecv {
		c.state = StateAnswered
	} else {
		c.state = StateHeld
	}
	c.sdpVersion++
	sdp := callsdp.Session{ID: uint64(c.started.UnixNano()), Version: c.sdpVersion, Addr: c.local(from, ""),
		Codecs: []callsdp.Codec{codec}, EventPT: offer.EventPT, Direction: callsdp.Answer(dir)}.Marshal()
	c.mu.Unlock()
	res := sip.NewSDPResponseFromRequest(req, sdp)
	res.AppendHeader(sip.HeaderClone(&e.cfg.Contact))
	_ = tx.Respond(res)
	e.changed(c)
}

// reinvite sends the phone on leg l a re-INVITE with direction dir and
// returns the direction it answered.
func (c *call) reinvite(ctx context.Context, l relay.Leg, dir string) (string, error) {
	c.mu.Lock()
	c.sdpVersion++
	sdp := callsdp.Session{ID: uint64(c.started.UnixNano()), Version: c.sdpVersion, Addr: c.local(l, ""),
		Codecs: []callsdp.Codec{c.codec}, EventPT: c.offer.EventPT, Direction: dir}.Marshal()
	c.mu.Unlock()

	dl, contact, _ := c.leg(l)
	if dl == nil || contact == nil {
		return "", fmt.Errorf("the phone gave no contact")
	}
	req := sip.NewRequest(sip.INVITE, contact.Address)
	req.SetBody(sdp)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res, err := dl.Do(ctx, req)
	if err != nil {
		return "", err
	}
	if !res.IsSuccess() {
		return "", fmt.Errorf("the phone answered %d %s", res.StatusCode, res.Reason)
	}
	if err := dl.WriteRequest(sip.NewRequest(sip.ACK, contact.Address)); err != nil {
		return "", fmt.Errorf("ack: %w", err)
	}
	answer, err := callsdp.Parse(res.Body())
	if err != nil {
		return "", err
	}
	return answer.Direction, nil
}
