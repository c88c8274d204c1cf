package webui

import (
	"context"
	"strings"
)

// Dial-out from a meeting (issue 7): a host invites a desk phone, and
// the meeting bridge calls it.

// TypeConferenceDialOut is a host's request to call a phone into the
// meeting.
const TypeConferenceDialOut = "conference.dial_out"

// KindDialOutState is the event that follows on a dial-out request's id
// as the call goes: {number, state}, state ringing, then answered, busy,
// declined, no_answer, unavailable, unknown_number or failed.
const KindDialOutState = "dial_out.state"

// PhoneBridge is what the console needs of the meeting bridge.
type PhoneBridge interface {
	DialOut(ctx context.Context, room, number string, onState func(state string)) error
}

// DialOutParams are the params of conference.dial_out.
type DialOutParams struct {
	// Number is an extension or ring group (2-5 digits).
	Number string `json:"number"`
}

// DialOutResult is the result of conference.dial_out: the call has
// started; its states follow as events.
type DialOutResult struct {
	Number string `json:"number"`
}

func (c *conn) handleConferenceDialOut(_ context.Context, req request) (reply, error) {
	var p DialOutParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	number := strings.TrimSpace(p.Number)
	rep := reply{target: "phone " + truncate(number, 16)}
	if len(number) < 2 || len(number) > 5 || strings.Trim(number, "0123456789") != "" {
		return rep, apiErrorf(CodeInvalidParams, "number must be an extension or ring group of 2-5 digits")
	}
	part, err := c.participant()
	if err != nil {
		return rep, err
	}
	rep.target = "meeting " + part.Room()
	rep.detail = "called " + number
	if !part.IsHost() {
		return rep, apiErrorf(CodeNotAllowed, "only the meeting's hosts can call phones into it")
	}
	if c.s.deps.Bridge == nil {
		return rep, apiErrorf(CodeUnavailable, "desk phones are not bridged into meetings on this server")
	}
	id, room := req.ID, part.Room()
	rep.result = DialOutResult{Number: number}
	rep.after = func() {
		go func() {
			err := c.s.deps.Bridge.DialOut(c.ctx, room, number, func(state string) {
				c.sendRequestEvent(id, TopicConference, KindDialOutState, map[string]string{"number": number, "state": state})
			})
			if err != nil {
				c.log.Warn("dial-out", "room", room, "number", number, "err", err)
			}
		}()
	}
	return rep, nil
}
