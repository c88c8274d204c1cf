// Package conference is civicd's video meetings: meetings kept in the
// store, and a selective forwarding unit (SFU) on pion/webrtc v4 that
// officials join from the browser.
//
// Each participant has two peer connections: a publish connection, where
// the browser offers and civicd answers, and a subscribe connection, where
// civicd is always the offerer. Each published track is forwarded as is
// (no transcoding) to every other participant's subscribe connection.
// Negotiation of the subscribe side is serialised per participant: changes
// made while an offer is outstanding are folded into the next offer.
//
// cmd/civicd builds the Service; the console reaches it through an
// interface of its own, and signalling to a participant goes through the
// Signal callback given at Join. conference imports no other module.
package conference

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/pion/webrtc/v4"
	"golang.org/x/crypto/bcrypt"

	"civic/internal/events"
	"civic/internal/rtc"
)

// Errors for callers to map to user-facing codes.
var (
	ErrNoMeeting   = errors.New("no such meeting")
	ErrEnded       = errors.New("the meeting has ended")
	ErrInvalid     = errors.New("invalid")
	ErrNotJoined   = errors.New("not in a meeting")
	ErrBadSDP      = errors.New("the session description is not valid")
	ErrTooManyJoin = errors.New("the meeting is full")
	ErrServerFull  = errors.New("this server has as many people in meetings as it can take")
)

// Meeting is a meeting as stored.
type Meeting struct {
	ID           int64     `json:"id"`
	Room         string    `json:"room"`
	Title        string    `json:"title"`
	Host         string    `json:"host"`
	CreatedAt    time.Time `json:"created_at"`
	Participants int       `json:"participants"`
	// Passcode is true when joining asks for the meeting's passcode.
	Passcode bool `json:"passcode"`
	// ScheduledAt is when the meeting is planned; absent for one held ad hoc.
	ScheduledAt time.Time `json:"scheduled_at,omitzero"`
	// CoHosts host the meeting beside Host.
	CoHosts []string `json:"co_hosts"`
	// Lobby is true when guests wait for a host to admit them.
	Lobby bool `json:"lobby"`
	// Private marks a browser call (CreateCall): a two-party room that
	// only its host joins from a browser; it is never listed or
	// announced.
	Private bool `json:"private,omitempty"`
}

// Config bounds a meeting.
type Config struct {
	// MaxParticipants per meeting. Default: 100.
	MaxParticipants int
	// MaxParticipantsTotal in all meetings at once. Default: 500.
	MaxParticipantsTotal int
	// ICETimeout is how long a participant may take to connect.
	// Default: 30 s.
	ICETimeout time.Duration
	// DialInPrefix goes before a meeting's room number to make its
	// dial-in number (voip routes such numbers to the meeting bridge).
	// Default: "8".
	DialInPrefix string
	// MaxTracks is how many media sections a publish offer may have
	// (microphone, camera, screen and its audio, ...). Default: 6.
	MaxTracks int
}

// Publisher is where the service announces changes (the event bus).
type Publisher interface {
	Publish(p events.Payload)
}

// TopicMeetings is the bus topic of meeting and participant changes.
const TopicMeetings events.Topic = "meetings"

// Event kinds on TopicMeetings.
const (
	KindMeetingCreated    = "conference.meeting_created"
	KindParticipantJoined = "conference.participant_joined"
	KindParticipantLeft   = "conference.participant_left"
	KindMeetingEnded      = "conference.meeting_ended"
	KindMeetingUpdated    = "conference.meeting_updated"   // its settings changed (the lobby)
	KindParticipantMuted  = "conference.participant_muted" // a host muted or unmuted them
	KindSpeakerChanged    = "conference.speaker_changed"   // Participant is speaking now
)

// MeetingEvent says a meeting changed: it was created, or someone joined
// or left (Participant says who). Meeting carries the new state, with the
// live participant count, so a consumer can apply it as is.
type MeetingEvent struct {
	Kind        string    `json:"-"`
	Meeting     Meeting   `json:"meeting"`
	Participant *PeerInfo `json:"participant,omitempty"`
}

// EventTopic implements events.Payload.
func (MeetingEvent) EventTopic() events.Topic { return TopicMeetings }

// EventKind implements events.Payload.
func (e MeetingEvent) EventKind() string { return e.Kind }

// Service holds the meetings and the live rooms.
type Service struct {
	bus    Publisher
	db     *sql.DB
	rtc    *rtc.Engine
	cfg    Config
	log    *slog.Logger
	mu     sync.Mutex
	rooms  map[string]*room
	closed bool

	passcodes passcodeGuard
	joined    atomic.Int64 // participants in all rooms
	lobbies   lobbies
}

// New returns the conference service. bus may be nil.
func New(cfg Config, db *sql.DB, engine *rtc.Engine, bus Publisher, logger *slog.Logger) *Service {
	if cfg.MaxParticipants <= 0 {
		cfg.MaxParticipants = 100
	}
	if cfg.DialInPrefix == "" {
		cfg.DialInPrefix = "8"
	}
	if cfg.ICETimeout <= 0 {
		cfg.ICETimeout = 30 * time.Second
	}
	if cfg.MaxTracks <= 0 {
		cfg.MaxTracks = 6
	}
	if cfg.MaxParticipantsTotal <= 0 {
		cfg.MaxParticipantsTotal = max(500, cfg.MaxParticipants)
	}
	return &Service{bus: bus, db: db, rtc: engine, cfg: cfg, log: logger, rooms: make(map[string]*room)}
}

// Run waits for ctx; the rooms live in the callers' goroutines and pion's.
func (s *Service) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Shutdown closes every participant's connections.
func (s *Service) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	rooms := make([]*room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	for _, r := range rooms {
		r.closeAll()
	}
	s.endLobbies()
	return nil
}

// CreateMeeting stores a new meeting with a fresh 6-digit room number;
// host is its creator. See MeetingOptions for what may be set.
func (s *Service) CreateMeeting(ctx context.Context, host string, o MeetingOptions) (Meeting, error) {
	now := time.Now()
	o, err := o.validate(host, now)
	if err != nil {
		return Meeting{}, err
	}
	title, passcode := o.Title, o.Passcode
	hash := ""
	if passcode != "" {
		if n := utf8.RuneCountInString(passcode); n < 4 || n > 16 {
			return Meeting{}, fmt.Errorf("%w: a passcode must be 4-16 characters", ErrInvalid)
		}
		h, err := bcrypt.GenerateFromPassword([]byte(passcode), bcrypt.DefaultCost)
		if err != nil {
			return Meeting{}, fmt.Errorf("passcode: %w", err)
		}
		hash = string(h)
	}
	if !o.ScheduledAt.IsZero() {
		o.ScheduledAt = time.UnixMilli(o.ScheduledAt.UnixMilli())
	}
	for range 10 {
		n, err := rand.Int(rand.Reader, big.NewInt(900000))
		if err != nil {
			return Meeting{}, fmt.Errorf("room number: %w", err)
		}
		room := fmt.Sprintf("%06d", 100000+n.Int64())
		m, err := s.insertMeeting(ctx, Meeting{Room: room, Title: title, Host: host, CreatedAt: time.UnixMilli(now.UnixMilli()),
			Passcode: hash != "", ScheduledAt: o.ScheduledAt, CoHosts: o.CoHosts, Lobby: !o.NoLobby}, hash)
		if err != nil {
			if strings.Contains(err.Error(), "UNIQUE") {
				continue
			}
			return Meeting{}, fmt.Errorf("create meeting: %w", err)
		}
		s.publish(MeetingEvent{Kind: KindMeetingCreated, Meeting: m})
		return m, nil
	}
	return Meeting{}, errors.New("create meeting: no free room number")
}

// ListMeetings returns the meetings that have not ended, newest first.
func (s *Service) ListMeetings(ctx context.Context) ([]Meeting, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, room, title, host, created_at, passcode_hash != '', scheduled_at, lobby FROM meetings WHERE ended_at IS NULL AND private = 0 ORDER BY created_at DESC LIMIT 200`)
	if err != nil {
		return nil, fmt.Errorf("list meetings: %w", err)
	}
	defer rows.Close()
	out := []Meeting{}
	var ids []int64
	for rows.Next() {
		var m Meeting
		var created int64
		var scheduled sql.NullInt64
		if err := rows.Scan(&m.ID, &m.Room, &m.Title, &m.Host, &created, &m.Passcode, &scheduled, &m.Lobby); err != nil {
			return nil, fmt.Errorf("list meetings: %w", err)
		}
		m.CreatedAt = time.UnixMilli(created)
		m.ScheduledAt = scanSchedule(scheduled)
		m.Participants = s.count(m.Room)
		out = append(out, m)
		ids = append(ids, m.ID)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list meetings: %w", err)
	}
	hosts, err := s.coHosts(ctx, ids...)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].CoHosts = orEmpty(hosts[out[i].ID])
	}
	return out, nil
}

func (s *Service) meeting(ctx context.Context, roomNo string) (Meeting, error) {
	m, _, err := s.meetingWithPasscode(ctx, roomNo)
	return m, err
}

// meetingWithPasscode returns a meeting that has not ended and its
// passcode hash ("" when it has none).
func (s *Service) meetingWithPasscode(ctx context.Context, roomNo string) (Meeting, string, error) {
	var m Meeting
	var created int64
	var ended sql.NullInt64
	var hash string
	var scheduled sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT id, room, title, host, created_at, ended_at, passcode_hash, scheduled_at, lobby, private FROM meetings WHERE room = ?`, roomNo).
		Scan(&m.ID, &m.Room, &m.Title, &m.Host, &created, &ended, &hash, &scheduled, &m.Lobby, &m.Private)
	if errors.Is(err, sql.ErrNoRows) {
		return Meeting{}, "", ErrNoMeeting
	}
	if err != nil {
		return Meeting{}, "", fmt.Errorf("meeting %s: %w", roomNo, err)
	}
	if ended.Valid {
		return Meeting{}, "", ErrEnded
	}
	m.CreatedAt = time.UnixMilli(created)
	m.Passcode = hash != ""
	m.ScheduledAt = scanSchedule(scheduled)
	hosts, err := s.coHosts(ctx, m.ID)
	if err != nil {
		return Meeting{}, "", err
	}
	m.CoHosts = orEmpty(hosts[m.ID])
	return m, hash, nil
}

func (s *Service) count(roomNo string) int {
	s.mu.Lock()
	r := s.rooms[roomNo]
	s.mu.Unlock()
	if r == nil {
		return 0
	}
	return r.size()
}

// Identity is who joins.
type Identity struct {
	Name   string // shown on the tile
	User   string // console username, for the record
	Source string // the client's address, for the record
	Host   bool   // may moderate, and may join a locked meeting
	// Passcode is what the joiner typed, for a meeting that has one.
	Passcode string
	// Guest is true for someone who came through an invite link: their
	// passcode was checked when the invite was redeemed, they are never a
	// host, and they wait in the lobby when the meeting has one.
	Guest bool
	// Phone is true for a desk phone bridged in (JoinLocal sets it).
	Phone bool
}

// Signal is a message from the SFU to one participant's client: an offer
// for the subscribe connection, or a change in the room.
type Signal struct {
	Kind string
	Data any
}

// Signal kinds.
const (
	SignalOffer    = "webrtc.offer"
	SignalJoined   = "participant.joined"
	SignalLeft     = "participant.left"
	SignalEnded    = "meeting.ended"
	PeerPublish    = "publish"
	PeerSubscribe  = "subscribe"
	signalQueueLen = 64
)

// PeerInfo names a participant to the others.
type PeerInfo struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Muted bool   `json:"muted"`           // the host muted them: their audio is not forwarded
	Hand  bool   `json:"hand"`            // their hand is raised
	Phone bool   `json:"phone,omitempty"` // a desk phone, bridged in
}

// Join adds a participant to the live room of a meeting. signal is called
// from one goroutine per participant, in order.
func (s *Service) Join(ctx context.Context, roomNo string, who Identity, signal func(Signal)) (*Participant, Meeting, []PeerInfo, error) {
	m, hash, err := s.meetingWithPasscode(ctx, roomNo)
	if err != nil {
		return nil, Meeting{}, nil, err
	}
	if m.Private && (who.Guest || !m.HostedBy(who.User)) {
		return nil, Meeting{}, nil, ErrNoMeeting // a call is its host's alone
	}
	if who.Guest {
		who.Host = false
		if m.Lobby && !s.lobbies.admit(roomNo, who.User) {
			return nil, Meeting{}, nil, ErrLobby
		}
	} else if m.HostedBy(who.User) {
		who.Host = true
	}
	if hash != "" && !who.Host && !who.Guest {
		if err := s.checkPasscode(roomNo, who.User, hash, who.Passcode); err != nil {
			return nil, Meeting{}, nil, err
		}
	}
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, Meeting{}, nil, errors.New("conference is shutting down")
		}
		r := s.rooms[roomNo]
		if r == nil {
			r = newRoom(s, m)
			s.rooms[roomNo] = r
		}
		s.mu.Unlock()
		p, others, err := r.join(who, signal)
		if errors.Is(err, errRoomGone) {
			continue // emptied and dropped meanwhile; make a new one
		}
		if err != nil {
			s.dropRoom(r) // in case it was made for this join
			return nil, Meeting{}, nil, err
		}
		m.Participants = r.size()
		return p, m, others, nil
	}
}

func (s *Service) publish(e MeetingEvent) {
	if s.bus != nil && !e.Meeting.Private {
		s.bus.Publish(e)
	}
}

// dropRoom forgets an empty room. A join racing with it sees the room as
// gone and makes a new one.
func (s *Service) dropRoom(r *room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.rooms[r.no] == r && len(r.members) == 0 && !r.dead {
		delete(s.rooms, r.no)
		r.dead = true
		close(r.stop)
	}
}

// newID returns a short random id.
func newID() string {
	return strings.ToLower(rand.Text()[:12])
}

// ICEServers are the STUN/TURN servers to hand to clients.
func (s *Service) ICEServers() []webrtc.ICEServer { return s.rtc.ICEServers() }
