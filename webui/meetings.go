package webui

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/pion/webrtc/v4"

	"civic/conference"
)

// Conference is what the console needs from the meetings module.
type Conference interface {
	CreateMeeting(ctx context.Context, host, title string) (conference.Meeting, error)
	ListMeetings(ctx context.Context) ([]conference.Meeting, error)
	Join(ctx context.Context, room string, who conference.Identity, signal func(conference.Signal)) (*conference.Participant, conference.Meeting, []conference.PeerInfo, error)
	ICEServers() []webrtc.ICEServer
}

// conferenceOf returns the conference module, or an unavailable error.
func (c *conn) conference() (Conference, error) {
	if c.s.deps.Conference == nil {
		return nil, apiErrorf(CodeUnavailable, "meetings are not running on this server")
	}
	return c.s.deps.Conference, nil
}

func (c *conn) handleConferenceCreate(ctx context.Context, req request) (reply, error) {
	var p ConferenceCreateParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	conf, err := c.conference()
	if err != nil {
		return reply{}, err
	}
	m, err := conf.CreateMeeting(ctx, c.username(), p.Title)
	if err != nil {
		return reply{target: truncate(p.Title, 64)}, err
	}
	return reply{result: MeetingResult{Meeting: m}, target: "meeting " + m.Room, detail: truncate(m.Title, 120)}, nil
}

func (c *conn) handleConferenceList(ctx context.Context, _ request) (reply, error) {
	conf, err := c.conference()
	if err != nil {
		return reply{}, err
	}
	ms, err := conf.ListMeetings(ctx)
	if err != nil {
		return reply{}, err
	}
	return reply{result: MeetingsResult{Meetings: ms}}, nil
}

// handleConferenceJoin joins a meeting. The room's signals (subscribe
// offers, people joining and leaving) then flow as events on the join
// request's id; they wait until the result has been sent.
func (c *conn) handleConferenceJoin(ctx context.Context, req request) (reply, error) {
	var p ConferenceJoinParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	rep := reply{target: "meeting " + truncate(p.Room, 16)}
	conf, err := c.conference()
	if err != nil {
		return rep, err
	}
	c.mu.Lock()
	busy := c.part != nil
	c.mu.Unlock()
	if busy {
		return rep, apiErrorf(CodeConflict, "this connection is already in a meeting; leave it first")
	}
	sess := c.session()
	name := sess.User.DisplayName
	if name == "" {
		name = sess.User.Username
	}
	ready := make(chan struct{})
	joinID := req.ID
	signal := func(s conference.Signal) {
		select {
		case <-ready:
		case <-c.ctx.Done():
			return
		}
		c.sendConferenceEvent(joinID, s)
	}
	part, m, others, err := conf.Join(ctx, p.Room, conference.Identity{Name: name, User: sess.User.Username, Source: c.source}, signal)
	if err != nil {
		return rep, err
	}
	c.mu.Lock()
	c.part = part
	c.mu.Unlock()
	ice := conf.ICEServers()
	if ice == nil {
		ice = []webrtc.ICEServer{}
	}
	rep.result = ConferenceJoinResult{ParticipantID: part.ID(), Meeting: m, ICEServers: ice, Participants: others}
	rep.after = func() { close(ready) }
	return rep, nil
}

// sendConferenceEvent sends one room signal on the join request's id.
func (c *conn) sendConferenceEvent(joinID int64, s conference.Signal) {
	data, err := json.Marshal(s.Data)
	if err != nil {
		c.log.Error("encode conference signal", "kind", s.Kind, "err", err)
		return
	}
	body, err := json.Marshal(EventDetail{Topic: TopicConference, Kind: s.Kind, At: time.Now().UTC().Format(time.RFC3339Nano), Data: data})
	if err != nil {
		return
	}
	c.sendRaw(eventMessage(joinID, body))
}

// participant returns the connection's meeting participant.
func (c *conn) participant() (*conference.Participant, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.part == nil {
		return nil, apiErrorf(CodeConflict, "join a meeting first")
	}
	return c.part, nil
}

func (c *conn) handleConferenceLeave(_ context.Context, _ request) (reply, error) {
	c.mu.Lock()
	part := c.part
	c.part = nil
	c.mu.Unlock()
	if part == nil {
		return reply{}, apiErrorf(CodeConflict, "this connection is not in a meeting")
	}
	part.Leave()
	return reply{target: "participant " + part.ID()}, nil
}

// leaveMeeting is called when the socket ends.
func (c *conn) leaveMeeting() {
	c.mu.Lock()
	part := c.part
	c.part = nil
	c.mu.Unlock()
	if part != nil {
		part.Leave()
	}
}

// signalling decodes a signalling request's params and runs f with the
// connection's participant.
func signalling[P any](c *conn, req request, f func(*conference.Participant, P) (any, error)) (reply, error) {
	var p P
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	part, err := c.participant()
	if err != nil {
		return reply{}, err
	}
	res, err := f(part, p)
	return reply{result: res}, err
}

func (c *conn) handleWebRTCOffer(_ context.Context, req request) (reply, error) {
	return signalling(c, req, func(part *conference.Participant, p SDPParams) (any, error) {
		answer, err := part.PublishOffer(p.SDP)
		return SDPParams{SDP: answer}, err
	})
}

func (c *conn) handleWebRTCAnswer(_ context.Context, req request) (reply, error) {
	return signalling(c, req, func(part *conference.Participant, p SDPParams) (any, error) {
		return nil, part.SubscribeAnswer(p.SDP)
	})
}

func (c *conn) handleWebRTCCandidate(_ context.Context, req request) (reply, error) {
	return signalling(c, req, func(part *conference.Participant, p CandidateParams) (any, error) {
		return nil, part.AddCandidate(p.PC, p.Candidate)
	})
}

// conferenceError maps the module's errors to console errors.
func conferenceError(err error) *WireError {
	switch {
	case errors.Is(err, conference.ErrNoMeeting):
		return &WireError{Code: CodeNotFound, Message: "there is no meeting with that room number"}
	case errors.Is(err, conference.ErrEnded):
		return &WireError{Code: CodeNotFound, Message: "that meeting has ended"}
	case errors.Is(err, conference.ErrTooManyJoin):
		return &WireError{Code: CodeConflict, Message: "the meeting is full"}
	case errors.Is(err, conference.ErrBadSDP), errors.Is(err, conference.ErrInvalid):
		return &WireError{Code: CodeInvalidParams, Message: err.Error()}
	}
	return nil
}
