package conference

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
)

// room is the live part of a meeting: who is in it and what they publish.
type room struct {
	s       *Service
	no      string
	meeting Meeting // as stored; Participants is filled in when announced
	locked  bool
	chat    []ChatMessage
	dead    bool          // dropped from the service; joins must go elsewhere
	stop    chan struct{} // closed when the room is dropped
	speaker string        // the current active speaker's id
	// allocNow asks the layer allocator to run at once.
	allocNow chan struct{}
	mu       sync.Mutex
	members  map[string]*Participant
	tracks   []*forwardTrack
	// taps hear every forwarded audio packet (TapAudio): copy on write,
	// read per packet.
	tapMu sync.Mutex
	taps  atomic.Pointer[[]*audioTap]
}

// errRoomGone means the room was dropped while a join was on its way.
var errRoomGone = errors.New("room gone")

func newRoom(s *Service, m Meeting) *room {
	r := &room{s: s, no: m.Room, meeting: m, members: make(map[string]*Participant), stop: make(chan struct{}), allocNow: make(chan struct{}, 1)}
	go r.detectSpeaker()
	go r.allocate()
	return r
}

func (r *room) size() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.members)
}

// join makes a participant with its two peer connections, subscribes it
// to every track already published, and tells the others.
func (r *room) join(who Identity, signal func(Signal)) (*Participant, []PeerInfo, error) {
	p, err := newParticipant(r, who, signal)
	if err != nil {
		return nil, nil, err
	}
	return r.add(p)
}

// add puts a new participant in the room, subscribes it to every track
// already published, and tells the others.
func (r *room) add(p *Participant) (*Participant, []PeerInfo, error) {
	who := p.who
	r.mu.Lock()
	if len(r.members) >= r.s.cfg.MaxParticipants {
		r.mu.Unlock()
		p.closePeers()
		return nil, nil, ErrTooManyJoin
	}
	if r.locked && !who.Host {
		r.mu.Unlock()
		p.closePeers()
		return nil, nil, ErrLocked
	}
	if r.dead {
		r.mu.Unlock()
		p.closePeers()
		return nil, nil, errRoomGone
	}
	if r.s.joined.Add(1) > int64(r.s.cfg.MaxParticipantsTotal) {
		r.s.joined.Add(-1)
		r.mu.Unlock()
		p.closePeers()
		return nil, nil, ErrServerFull
	}
	others := make([]PeerInfo, 0, len(r.members))
	for _, m := range r.members {
		others = append(others, m.state())
		m.send(Signal{Kind: SignalJoined, Data: map[string]any{"participant": p.state()}})
	}
	r.members[p.id] = p
	tracks := append([]*forwardTrack(nil), r.tracks...)
	m := r.meeting
	m.Participants = len(r.members)
	r.mu.Unlock()
	r.s.attend(m.ID, p)
	info := p.state()
	r.s.publish(MeetingEvent{Kind: KindParticipantJoined, Meeting: m, Participant: &info})
	for _, t := range tracks {
		p.subscribe(t)
	}
	r.s.log.Info("participant joined", "room", r.no, "participant", p.id, "user", who.User)
	return p, others, nil
}

// publish forwards a new track of p to everyone else in the room.
func (r *room) publish(t *forwardTrack) {
	r.mu.Lock()
	if _, ok := r.members[t.owner.id]; !ok {
		r.mu.Unlock()
		return
	}
	r.tracks = append(r.tracks, t)
	var subs []*Participant
	for _, m := range r.members {
		if m != t.owner {
			subs = append(subs, m)
		}
	}
	r.mu.Unlock()
	for _, m := range subs {
		m.subscribe(t)
	}
}

// unpublish stops forwarding a track whose publisher stopped sending it.
func (r *room) unpublish(t *forwardTrack) {
	r.mu.Lock()
	i := slices.Index(r.tracks, t)
	if i < 0 {
		r.mu.Unlock()
		return
	}
	r.tracks = slices.Delete(r.tracks, i, i+1)
	r.mu.Unlock()
	for _, m := range r.others(t.owner) {
		m.unsubscribe(t)
	}
}

// leave removes p, stops forwarding its tracks and tells the others.
func (r *room) leave(p *Participant) {
	r.mu.Lock()
	if _, ok := r.members[p.id]; !ok {
		r.mu.Unlock()
		return
	}
	delete(r.members, p.id)
	r.s.joined.Add(-1)
	var gone []*forwardTrack
	kept := r.tracks[:0]
	for _, t := range r.tracks {
		if t.owner == p {
			gone = append(gone, t)
		} else {
			kept = append(kept, t)
		}
	}
	r.tracks = kept
	rest := make([]*Participant, 0, len(r.members))
	for _, m := range r.members {
		rest = append(rest, m)
	}
	meeting := r.meeting
	meeting.Participants = len(r.members)
	r.mu.Unlock()
	info := p.state()
	r.s.publish(MeetingEvent{Kind: KindParticipantLeft, Meeting: meeting, Participant: &info})
	for _, m := range rest {
		for _, t := range gone {
			m.unsubscribe(t)
		}
		m.send(Signal{Kind: SignalLeft, Data: map[string]any{"participant_id": p.id}})
	}
	r.s.left(p)
	r.s.log.Info("participant left", "room", r.no, "participant", p.id, "user", p.who.User)
	r.s.dropRoom(r)
}

// closeAll ends the room for everyone (shutdown).
func (r *room) closeAll() {
	for _, m := range r.others(nil) {
		m.send(Signal{Kind: SignalEnded, Data: map[string]any{}})
		m.Leave()
	}
}
