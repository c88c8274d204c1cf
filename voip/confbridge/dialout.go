package confbridge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"civic/voip/callsdp"
)

// Dial-out states, as DialOut reports them.
const (
	DialRinging     = "ringing"
	DialAnswered    = "answered"
	DialBusy        = "busy"
	DialDeclined    = "declined"
	DialNoAnswer    = "no_answer"
	DialUnavailable = "unavailable"
	DialUnknown     = "unknown_number"
	DialFailed      = "failed"
)

// DialOut calls number (an extension or a ring group) from a meeting's
// room, through civicd's own call engine; the phone that answers joins
// the meeting with no PIN. onState hears the call's progress: ringing,
// then answered or how it failed; it returns once the outcome is known.
func (b *Bridge) DialOut(ctx context.Context, room, number string, onState func(state string)) error {
	return b.dial(ctx, dialSpec{room: room, number: number, fromUser: "meeting-" + room, fromName: "Meeting " + room}, onState)
}

// dialSpec is a call the bridge places: to number, from fromUser (shown
// as fromName), into room; web is the console's call it is, if any.
type dialSpec struct {
	room, number       string
	fromUser, fromName string
	web                *webCall
}

// dial places a call (see DialOut) and, once answered, runs it in the
// background until either side hangs up.
func (b *Bridge) dial(ctx context.Context, spec dialSpec, onState func(state string)) error {
	room, number := spec.room, spec.number
	if b.cfg.SIPAddr == "" {
		return errors.New("confbridge: dial-out is not set up")
	}
	if onState == nil {
		onState = func(string) {}
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	codecs := make([]callsdp.Codec, 0, len(callsdp.Supported))
	for _, name := range callsdp.Supported {
		switch name {
		case "G722":
			codecs = append(codecs, callsdp.Codec{PT: 9, Name: name, Rate: 8000})
		case "PCMU":
			codecs = append(codecs, callsdp.Codec{PT: 0, Name: name, Rate: 8000})
		case "PCMA":
			codecs = append(codecs, callsdp.Codec{PT: 8, Name: name, Rate: 8000})
		}
	}
	offer := callsdp.Session{ID: uint64(time.Now().UnixNano()), Version: 1, Addr: localAddr(conn), Codecs: codecs, EventPT: 101,
		Direction: callsdp.SendRecv}.Marshal()
	req := sip.NewRequest(sip.INVITE, sip.Uri{User: number, Host: b.cfg.Domain})
	req.SetBody(offer)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	caller := &sip.FromHeader{DisplayName: spec.fromName, Address: sip.Uri{User: spec.fromUser, Host: b.cfg.Domain}, Params: sip.NewParams()}
	caller.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(caller)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{User: number, Host: b.cfg.Domain}, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader(TokenHeader, b.token))
	req.SetDestination(b.cfg.SIPAddr)

	rctx, cancel := context.WithTimeout(ctx, b.cfg.RingTimeout)
	defer cancel()
	sess, err := b.dc.WriteInvite(rctx, req)
	if err != nil {
		conn.Close()
		onState(DialFailed)
		return fmt.Errorf("dial %s: %w", number, err)
	}
	err = sess.WaitAnswer(rctx, sipgo.AnswerOptions{OnResponse: func(r *sip.Response) error {
		if r.StatusCode == 180 || r.StatusCode == 183 {
			onState(DialRinging)
		}
		return nil
	}})
	if err != nil {
		conn.Close()
		sess.Close()
		state := DialFailed
		var de *sipgo.ErrDialogResponse
		switch {
		case errors.As(err, &de):
			switch de.Res.StatusCode {
			case 486, 600:
				state = DialBusy
			case 603:
				state = DialDeclined
			case 404, 484:
				state = DialUnknown
			case 480, 408, 487:
				state = DialNoAnswer
			}
		case rctx.Err() != nil:
			state = DialNoAnswer
		}
		onState(state)
		b.log.Info("bridge: dial-out not answered", "room", room, "number", number, "state", state, "err", err)
		return nil
	}
	if err := sess.Ack(rctx); err != nil {
		conn.Close()
		onState(DialFailed)
		return err
	}
	answer, err := callsdp.Parse(sess.InviteResponse.Body())
	var codec callsdp.Codec
	if err == nil {
		codec, err = callsdp.Common(codecs, answer.Codecs)
	}
	if err != nil {
		bctx, bcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = sess.Bye(bctx)
		bcancel()
		conn.Close()
		sess.Close()
		onState(DialFailed)
		return fmt.Errorf("dial %s: the answer: %w", number, err)
	}
	c := newCall(b, conn, codec)
	c.dlg, c.id, c.caller, c.number = sess, sess.ID, number, number
	c.name = number
	if b.cfg.NameOf != nil {
		if n := b.cfg.NameOf(number); n != "" {
			c.name = n
		}
	}
	c.evPT = answer.EventPT
	if answer.Addr.IsValid() {
		peer := answer.Addr
		c.peer.Store(&peer)
	}
	b.mu.Lock()
	b.calls[c.id] = c
	b.mu.Unlock()
	if spec.web != nil && !spec.web.attach(c) {
		// Hung up in the console while it was being answered.
		c.hangup("hung up in the console")
		c.cleanup()
		return nil
	}
	onState(DialAnswered)
	b.log.Info("bridge: dial-out answered", "room", room, "number", number, "codec", codec.Name)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer c.cleanup()
		go c.readRTP()
		go c.sendRTP()
		c.join(room)
	}()
	return nil
}
