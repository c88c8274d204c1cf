package webui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pion/webrtc/v4"

	"civic/conference"
	"civic/internal/auth"
)

// Conference is what the console needs from the meetings module.
type Conference interface {
	CreateMeeting(ctx context.Context, host string, o conference.MeetingOptions) (conference.Meeting, error)
	ListMeetings(ctx context.Context) ([]conference.Meeting, error)
	MyMeetings(ctx context.Context, user string) ([]conference.Meeting, error)
	CreateInvite(ctx context.Context, room, createdBy string, ttl time.Duration) (conference.Invite, error)
	Invitation(ctx context.Context, token string) (conference.Invitation, error)
	RedeemInvite(ctx context.Context, token, who, passcode string) (conference.Invitation, error)
	Knock(ctx context.Context, room string, who conference.Identity, signal func(conference.Signal)) (*conference.Waiter, conference.Meeting, error)
	Join(ctx context.Context, room string, who conference.Identity, signal func(conference.Signal)) (*conference.Participant, conference.Meeting, []conference.PeerInfo, error)
	ICEServers() []webrtc.ICEServer
	Rejoin(participantID, user string, signal func(conference.Signal)) (*conference.Participant, conference.Meeting, []conference.PeerInfo, error)
	End(ctx context.Context, room string) error
	Meeting(ctx context.Context, room string) (conference.Meeting, error)
	DialIn(ctx context.Context, room string) (conference.DialIn, error)
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
	opts := conference.MeetingOptions{Title: p.Title, Passcode: p.Passcode, NoLobby: p.Lobby != nil && !*p.Lobby}
	if p.ScheduledAt != "" {
		if opts.ScheduledAt, err = time.Parse(time.RFC3339, p.ScheduledAt); err != nil {
			return reply{target: truncate(p.Title, 64)}, apiErrorf(CodeInvalidParams, "scheduled_at must be an RFC 3339 time such as 2026-01-02T15:04:05+08:00")
		}
	}
	if opts.CoHosts, err = c.coHosts(ctx, p.CoHosts); err != nil {
		return reply{target: truncate(p.Title, 64)}, err
	}
	m, err := conf.CreateMeeting(ctx, c.username(), opts)
	if err != nil {
		return reply{target: truncate(p.Title, 64)}, err
	}
	res := MeetingResult{Meeting: m}
	if d, err := conf.DialIn(ctx, m.Room); err == nil {
		res.DialIn = &d
	}
	return reply{result: res, target: "meeting " + m.Room, detail: truncate(m.Title, 120)}, nil
}

func (c *conn) handleConferenceList(ctx context.Context, req request) (reply, error) {
	var p ConferenceListParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	conf, err := c.conference()
	if err != nil {
		return reply{}, err
	}
	var ms []conference.Meeting
	if p.Mine {
		ms, err = conf.MyMeetings(ctx, c.username())
	} else {
		ms, err = conf.ListMeetings(ctx)
	}
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
	sess := c.session()
	name := strings.TrimSpace(p.Name)
	if utf8.RuneCountInString(name) > 64 || !utf8.ValidString(name) {
		return reply{}, apiErrorf(CodeInvalidParams, "name must be at most 64 characters")
	}
	if name == "" {
		name = sess.User.DisplayName
	}
	if name == "" {
		name = sess.User.Username
	}
	who := conference.Identity{Name: name, User: sess.User.Username, Source: c.source, Host: sess.User.Role == auth.RoleAdmin, Passcode: p.Passcode}
	if sess.IsGuest() {
		return c.guestJoin(ctx, req, p.Room, who)
	}
	if sess.User.Role == auth.RoleFacilities {
		// Facilities staff take desk-phone calls in the console (a
		// browser call is a private room, its user's alone) but join no
		// meetings.
		conf, err := c.conference()
		if err != nil {
			return reply{}, err
		}
		if m, err := conf.Meeting(ctx, p.Room); err == nil && !m.Private {
			return reply{target: "meeting " + truncate(p.Room, 16)}, apiErrorf(CodeNotAllowed, "facilities staff join their own calls from the console, not meetings")
		}
	}
	return c.enterMeeting(req, "meeting "+truncate(p.Room, 16), func(conf Conference, signal func(conference.Signal)) (*conference.Participant, conference.Meeting, []conference.PeerInfo, error) {
		return conf.Join(ctx, p.Room, who, signal)
	})
}

// handleConferenceRejoin takes back a participant whose connection
// dropped (a network change, a reload of the socket) within the grace
// period: same identity, same tracks.
func (c *conn) handleConferenceRejoin(_ context.Context, req request) (reply, error) {
	var p ParticipantParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	user := c.username()
	return c.enterMeeting(req, "participant "+truncate(p.ParticipantID, 16), func(conf Conference, signal func(conference.Signal)) (*conference.Participant, conference.Meeting, []conference.PeerInfo, error) {
		return conf.Rejoin(p.ParticipantID, user, signal)
	})
}

// enterMeeting attaches this connection to a participant made or found by
// enter. The room's signals (subscribe offers, people joining and
// leaving) then flow as events on the request's id, after its result.
func (c *conn) enterMeeting(req request, target string, enter func(Conference, func(conference.Signal)) (*conference.Participant, conference.Meeting, []conference.PeerInfo, error)) (reply, error) {
	rep := reply{target: target}
	conf, err := c.conference()
	if err != nil {
		return rep, err
	}
	c.mu.Lock()
	busy := c.part != nil || c.waiter != nil
	c.mu.Unlock()
	if busy {
		return rep, apiErrorf(CodeConflict, "this connection is already in a meeting; leave it first")
	}
	ready := make(chan struct{})
	var part *conference.Participant
	signal := func(s conference.Signal) {
		select {
		case <-ready:
		case <-c.ctx.Done():
			return
		}
		c.sendConferenceEvent(req.ID, s)
		if s.Kind == conference.SignalRemoved || s.Kind == conference.SignalEnded {
			c.mu.Lock()
			if c.part == part {
				c.part = nil // out of the meeting; the socket stays
			}
			c.mu.Unlock()
		}
	}
	part, m, others, err := enter(conf, signal)
	if err != nil {
		return rep, err
	}
	c.mu.Lock()
	c.part, c.partGen = part, part.Attachment()
	c.mu.Unlock()
	ice := conf.ICEServers()
	if ice == nil {
		ice = []webrtc.ICEServer{}
	}
	res := ConferenceJoinResult{ParticipantID: part.ID(), Meeting: m, ICEServers: ice, Participants: others, Host: part.IsHost(), Chat: part.ChatHistory()}
	if m.Private {
		// A browser call: no dial-in.
	} else if d, err := conf.DialIn(c.ctx, m.Room); err == nil {
		res.DialIn = &d
	} else {
		c.log.Error("dial-in of a meeting", "room", m.Room, "err", err)
	}
	if part.IsHost() {
		st := part.LobbyState()
		res.WaitingRoom = &st
	}
	rep.result = res
	rep.after = func() { close(ready) }
	return rep, nil
}

func (c *conn) handleWebRTCRestart(_ context.Context, req request) (reply, error) {
	return signalling(c, req, func(part *conference.Participant, _ struct{}) (any, error) {
		part.RestartICE()
		return nil, nil
	})
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
	part, w := c.part, c.waiter
	c.part, c.waiter = nil, nil
	c.mu.Unlock()
	if w != nil {
		w.Leave()
		return reply{target: "lobby " + w.ID()}, nil
	}
	if part == nil {
		return reply{}, apiErrorf(CodeConflict, "this connection is not in a meeting")
	}
	part.Leave()
	return reply{target: "participant " + part.ID()}, nil
}

// rejoinGrace is how long a participant whose socket dropped stays in
// the meeting, waiting for conference.rejoin.
const rejoinGrace = 30 * time.Second

// leaveMeeting is called when the socket ends without conference.leave:
// the participant is kept for rejoinGrace in case the client comes back.
func (c *conn) leaveMeeting() {
	c.mu.Lock()
	part, gen, w := c.part, c.partGen, c.waiter
	c.part, c.waiter = nil, nil
	c.mu.Unlock()
	if w != nil {
		w.Leave() // a guest who goes away leaves the lobby at once
	}
	if part != nil {
		part.Detach(gen, rejoinGrace)
	}
}

// inMeeting decodes a request's params and returns the connection's
// participant, which must be a host when host is true.
func inMeeting[P any](c *conn, req request, host bool) (*conference.Participant, P, error) {
	var p P
	if err := req.decode(&p); err != nil {
		return nil, p, err
	}
	part, err := c.participant()
	if err == nil && host && !part.IsHost() {
		err = apiErrorf(CodeNotAllowed, "only the meeting's host can do this")
	}
	return part, p, err
}

// signalling runs f with the request's params and the participant.
func signalling[P any](c *conn, req request, f func(*conference.Participant, P) (any, error)) (reply, error) {
	part, p, err := inMeeting[P](c, req, false)
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

func (c *conn) handleConferenceView(_ context.Context, req request) (reply, error) {
	return signalling(c, req, func(part *conference.Participant, p ViewParams) (any, error) {
		if len(p.Views) > 64 {
			return nil, apiErrorf(CodeInvalidParams, "at most 64 views at a time")
		}
		for _, v := range p.Views {
			if v.Stream == "" || len(v.Stream) > 64 || v.Width < 0 || v.Height < 0 || v.Width > 16384 || v.Height > 16384 {
				return nil, apiErrorf(CodeInvalidParams, "a view needs a stream id and a size of 0-16384 pixels")
			}
		}
		if p.MaxBitrate != nil && (*p.MaxBitrate < 0 || *p.MaxBitrate > 1_000_000_000) {
			return nil, apiErrorf(CodeInvalidParams, "max_bitrate must be 0-1000000000 bits/s")
		}
		part.SetViews(p.Views, p.MaxBitrate)
		return nil, nil
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
	case errors.Is(err, conference.ErrServerFull):
		return &WireError{Code: CodeConflict, Message: "this server has as many people in meetings as it can take; try again later"}
	case errors.Is(err, conference.ErrLocked):
		return &WireError{Code: CodeNotAllowed, Message: "the meeting is locked; ask the host to unlock it"}
	case errors.Is(err, conference.ErrPasscodeLocked):
		return &WireError{Code: CodeLockedOut, Message: "too many wrong passcodes; try again in a few minutes"}
	case errors.Is(err, conference.ErrPasscode):
		return &WireError{Code: CodeAuthFailed, Message: "the meeting's passcode is missing or wrong"}
	case errors.Is(err, conference.ErrGone):
		return &WireError{Code: CodeNotFound, Message: "you are no longer in that meeting; join it again"}
	case errors.Is(err, conference.ErrNoParticipant):
		return &WireError{Code: CodeNotFound, Message: "that participant is not in the meeting"}
	case errors.Is(err, conference.ErrNoInvite):
		return &WireError{Code: CodeNotFound, Message: "this invite link is not valid; ask the host for a new one"}
	case errors.Is(err, conference.ErrInviteExpired):
		return &WireError{Code: CodeNotFound, Message: "this invite link has expired; ask the host for a new one"}
	case errors.Is(err, conference.ErrLobby):
		return &WireError{Code: CodeConflict, Message: "wait in the lobby until a host lets you in"}
	case errors.Is(err, conference.ErrNoWaiter):
		return &WireError{Code: CodeNotFound, Message: "that guest is no longer waiting in the lobby"}
	case errors.Is(err, conference.ErrBadSDP), errors.Is(err, conference.ErrInvalid):
		return &WireError{Code: CodeInvalidParams, Message: err.Error()}
	}
	return nil
}

// moderation runs f with the request's params and the caller's
// participant, which must be a host; the audit target is the meeting.
func moderation[P any](c *conn, req request, f func(*conference.Participant, P) (string, error)) (reply, error) {
	part, p, err := inMeeting[P](c, req, true)
	if err != nil {
		return reply{}, err
	}
	detail, err := f(part, p)
	return reply{target: "meeting " + part.Room(), detail: detail}, err
}

func (c *conn) handleConferenceMute(_ context.Context, req request) (reply, error) {
	return moderation(c, req, func(part *conference.Participant, p MuteParams) (string, error) {
		return fmt.Sprintf("participant %s muted=%v", p.ParticipantID, p.Muted), part.SetMuted(p.ParticipantID, p.Muted)
	})
}

func (c *conn) handleConferenceMuteAll(_ context.Context, req request) (reply, error) {
	return moderation(c, req, func(part *conference.Participant, _ struct{}) (string, error) {
		part.MuteAll()
		return "everyone else muted", nil
	})
}

func (c *conn) handleConferenceRemove(_ context.Context, req request) (reply, error) {
	return moderation(c, req, func(part *conference.Participant, p ParticipantParams) (string, error) {
		if p.ParticipantID == part.ID() {
			return "", apiErrorf(CodeInvalidParams, "use conference.leave to leave")
		}
		return "participant " + p.ParticipantID, part.Remove(p.ParticipantID)
	})
}

func (c *conn) handleConferenceLock(_ context.Context, req request) (reply, error) {
	return moderation(c, req, func(part *conference.Participant, p LockParams) (string, error) {
		part.SetLocked(p.Locked)
		return fmt.Sprintf("locked=%v", p.Locked), nil
	})
}

// handleConferenceEnd ends a meeting: its host may, from inside or not,
// and so may any admin.
func (c *conn) handleConferenceEnd(ctx context.Context, req request) (reply, error) {
	var p RoomParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	rep := reply{target: "meeting " + truncate(p.Room, 16)}
	conf, err := c.conference()
	if err != nil {
		return rep, err
	}
	m, err := conf.Meeting(ctx, p.Room)
	if err != nil {
		return rep, err
	}
	sess := c.session()
	if sess.User.Role != auth.RoleAdmin && !m.HostedBy(sess.User.Username) {
		return rep, apiErrorf(CodeNotAllowed, "only the meeting's hosts or an admin can end it")
	}
	return rep, conf.End(ctx, p.Room)
}

func (c *conn) handleConferenceChat(_ context.Context, req request) (reply, error) {
	return signalling(c, req, func(part *conference.Participant, p ChatParams) (any, error) {
		return nil, part.Chat(p.Text)
	})
}

func (c *conn) handleConferenceHand(_ context.Context, req request) (reply, error) {
	return signalling(c, req, func(part *conference.Participant, p HandParams) (any, error) {
		part.SetHand(p.Raised)
		return nil, nil
	})
}
