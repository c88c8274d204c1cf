package conference

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// The lobby (waiting room): a guest who joins a meeting whose lobby is on
// gets no media; they wait, as a Waiter, until a host in the meeting
// admits or denies them. Admitting gives that guest an admission for
// admitFor, which their next Join uses up. Console users never wait.

// Lobby signals.
const (
	SignalLobby    = "lobby.changed"  // to hosts: LobbyState, whenever it changes
	SignalAdmitted = "lobby.admitted" // to a waiting guest: join again now
	SignalDenied   = "lobby.denied"   // to a waiting guest: {reason}; they are out of the lobby
)

// Lobby errors.
var (
	// ErrLobby is returned by Join for a guest the lobby holds back: they
	// must Knock and wait to be admitted.
	ErrLobby = errors.New("wait in the lobby until a host lets you in")
	// ErrNoWaiter names a guest who is not (or no longer) waiting.
	ErrNoWaiter = errors.New("nobody by that id is waiting in the lobby")
)

// admitFor is how long an admission waits for the guest's join.
const admitFor = 2 * time.Minute

// Waiting is one guest in the lobby, as hosts see them.
type Waiting struct {
	ID    string    `json:"id"`
	Name  string    `json:"name"`
	Since time.Time `json:"since"`
}

// LobbyState is a meeting's lobby as hosts see it.
type LobbyState struct {
	Enabled bool      `json:"enabled"`
	Waiting []Waiting `json:"waiting"`
}

// Waiter is a guest waiting in a meeting's lobby.
type Waiter struct {
	s      *Service
	room   string
	user   string
	info   Waiting
	signal func(Signal)
	final  sync.Once // the waiter gets one last signal: admitted, denied or ended
}

// ID is the waiter's id, which hosts name to admit or deny them.
func (w *Waiter) ID() string { return w.info.ID }

// lobbies holds every meeting's waiting guests and fresh admissions.
type lobbies struct {
	mu       sync.Mutex
	waiting  map[string][]*Waiter // by room, in arrival order
	admitted map[string]time.Time // room + "\x00" + user -> until
}

func admissionKey(room, user string) string { return room + "\x00" + user }

// admit uses up a guest's admission to a room; false when they have none.
func (l *lobbies) admit(room, user string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := admissionKey(room, user)
	until, ok := l.admitted[key]
	delete(l.admitted, key)
	return ok && time.Now().Before(until)
}

// grant records an admission; l.mu is held.
func (l *lobbies) grant(room, user string) {
	if l.admitted == nil {
		l.admitted = map[string]time.Time{}
	}
	now := time.Now()
	for k, until := range l.admitted { // keep the map small
		if now.After(until) {
			delete(l.admitted, k)
		}
	}
	l.admitted[admissionKey(room, user)] = now.Add(admitFor)
}

// take removes a waiter by id from a room's lobby; l.mu is held.
func (l *lobbies) take(room, id string) *Waiter {
	ws := l.waiting[room]
	i := slices.IndexFunc(ws, func(w *Waiter) bool { return w.info.ID == id })
	if i < 0 {
		return nil
	}
	w := ws[i]
	l.waiting[room] = slices.Delete(ws, i, i+1)
	if len(l.waiting[room]) == 0 {
		delete(l.waiting, room)
	}
	return w
}

// Knock is how a guest asks to join a meeting. When the meeting's lobby
// is off, or a host has just admitted them, it returns a nil Waiter: the
// guest may Join now. Otherwise the guest waits in the lobby, the hosts
// in the meeting are told, and signal later gets SignalAdmitted (then
// Join), SignalDenied or SignalEnded. A console user never waits.
func (s *Service) Knock(ctx context.Context, roomNo string, who Identity, signal func(Signal)) (*Waiter, Meeting, error) {
	l := &s.lobbies
	l.mu.Lock()
	// The lobby flag is read under l.mu, so a host turning the lobby off
	// (which admits everyone waiting) cannot slip between read and wait.
	m, err := s.Meeting(ctx, roomNo)
	if err != nil || !who.Guest || !m.Lobby {
		l.mu.Unlock()
		return nil, m, err
	}
	if until, ok := l.admitted[admissionKey(roomNo, who.User)]; ok && time.Now().Before(until) {
		l.mu.Unlock()
		return nil, m, nil
	}
	w := &Waiter{s: s, room: roomNo, user: who.User, signal: signal,
		info: Waiting{ID: newID(), Name: who.Name, Since: time.Now().UTC()}}
	if l.waiting == nil {
		l.waiting = map[string][]*Waiter{}
	}
	l.waiting[roomNo] = append(l.waiting[roomNo], w)
	l.mu.Unlock()
	s.log.Info("guest waiting in the lobby", "room", roomNo, "waiter", w.info.ID, "user", who.User)
	s.tellHosts(roomNo)
	return w, m, nil
}

// Leave takes the waiter out of the lobby (the guest gave up or their
// connection closed). It is safe to call at any time, more than once.
func (w *Waiter) Leave() {
	l := &w.s.lobbies
	l.mu.Lock()
	gone := l.take(w.room, w.info.ID)
	l.mu.Unlock()
	if gone != nil {
		w.final.Do(func() {})
		w.s.tellHosts(w.room)
	}
}

// finish sends the waiter its last signal, once, without blocking the
// caller on the guest's connection.
func (w *Waiter) finish(s Signal) {
	w.final.Do(func() { go w.signal(s) })
}

// Admit lets a waiting guest in: they are told, and their next Join
// (within admitFor) skips the lobby. The caller must be a host.
func (p *Participant) Admit(waiterID string) error {
	return p.r.s.settle(p.r.no, waiterID, true)
}

// Deny turns a waiting guest away; they are told, and may knock again.
// The caller must be a host.
func (p *Participant) Deny(waiterID string) error {
	return p.r.s.settle(p.r.no, waiterID, false)
}

func (s *Service) settle(roomNo, waiterID string, admit bool) error {
	l := &s.lobbies
	l.mu.Lock()
	w := l.take(roomNo, waiterID)
	if w != nil && admit {
		l.grant(roomNo, w.user)
	}
	l.mu.Unlock()
	if w == nil {
		return ErrNoWaiter
	}
	if admit {
		w.finish(Signal{Kind: SignalAdmitted, Data: map[string]any{}})
	} else {
		w.finish(Signal{Kind: SignalDenied, Data: map[string]any{"reason": "the host did not let you in"}})
	}
	s.log.Info("lobby", "room", roomNo, "waiter", waiterID, "admitted", admit)
	s.tellHosts(roomNo)
	return nil
}

// SetLobby turns the meeting's lobby on or off, for now and for later
// (it is stored). Turning it off lets everyone waiting in. The caller
// must be a host.
func (p *Participant) SetLobby(ctx context.Context, enabled bool) error {
	s, roomNo := p.r.s, p.r.no
	l := &s.lobbies
	l.mu.Lock()
	if _, err := s.db.ExecContext(ctx, `UPDATE meetings SET lobby = ? WHERE room = ?`, enabled, roomNo); err != nil {
		l.mu.Unlock()
		return fmt.Errorf("lobby of %s: %w", roomNo, err)
	}
	p.r.mu.Lock()
	p.r.meeting.Lobby = enabled
	p.r.mu.Unlock()
	var let []*Waiter
	if !enabled {
		let = l.waiting[roomNo]
		delete(l.waiting, roomNo)
		for _, w := range let {
			l.grant(roomNo, w.user)
		}
	}
	l.mu.Unlock()
	for _, w := range let {
		w.finish(Signal{Kind: SignalAdmitted, Data: map[string]any{}})
	}
	s.tellHosts(roomNo)
	p.r.mu.Lock()
	m := p.r.meeting
	m.Participants = len(p.r.members)
	p.r.mu.Unlock()
	s.publish(MeetingEvent{Kind: KindMeetingUpdated, Meeting: m})
	return nil
}

// LobbyState returns the lobby of the participant's meeting.
func (p *Participant) LobbyState() LobbyState {
	return p.r.s.lobbyState(p.r)
}

func (s *Service) lobbyState(r *room) LobbyState {
	r.mu.Lock()
	st := LobbyState{Enabled: r.meeting.Lobby, Waiting: []Waiting{}}
	r.mu.Unlock()
	s.lobbies.mu.Lock()
	for _, w := range s.lobbies.waiting[r.no] {
		st.Waiting = append(st.Waiting, w.info)
	}
	s.lobbies.mu.Unlock()
	return st
}

// tellHosts sends the lobby's state to every host in the meeting. With
// no host in it, nobody is told; guests keep waiting, and a host who
// joins finds them in the join result.
func (s *Service) tellHosts(roomNo string) {
	s.mu.Lock()
	r := s.rooms[roomNo]
	s.mu.Unlock()
	if r == nil {
		return
	}
	st := s.lobbyState(r)
	for _, m := range r.others(nil) {
		if m.IsHost() {
			m.send(Signal{Kind: SignalLobby, Data: st})
		}
	}
}

// endLobby tells everyone waiting for a meeting that it has ended.
func (s *Service) endLobby(roomNo string) {
	l := &s.lobbies
	l.mu.Lock()
	ws := l.waiting[roomNo]
	delete(l.waiting, roomNo)
	l.mu.Unlock()
	for _, w := range ws {
		w.finish(Signal{Kind: SignalEnded, Data: map[string]any{}})
	}
}

// endLobbies is endLobby for every meeting (shutdown).
func (s *Service) endLobbies() {
	s.lobbies.mu.Lock()
	rooms := make([]string, 0, len(s.lobbies.waiting))
	for r := range s.lobbies.waiting {
		rooms = append(rooms, r)
	}
	s.lobbies.mu.Unlock()
	for _, r := range rooms {
		s.endLobby(r)
	}
}
