package conference

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Signals about moderation, chat and hands.
const (
	SignalUpdated = "participant.updated" // {participant}: muted or hand changed
	SignalChat    = "chat.message"        // ChatMessage
	SignalRemoved = "removed"             // {reason}: you were removed; the connection closes
	SignalLocked  = "meeting.locked"      // {locked}
)

// ErrLocked is returned when someone who is not a host joins a locked
// meeting.
var ErrLocked = fmt.Errorf("the meeting is locked")

// ErrNoParticipant is returned for a participant id not in the room.
var ErrNoParticipant = fmt.Errorf("no such participant in this meeting")

// chatHistory is how many chat messages a room keeps for late joiners.
const chatHistory = 200

// ChatMessage is one chat line.
type ChatMessage struct {
	From PeerInfo  `json:"from"`
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

// state reports a participant's moderation state.
func (p *Participant) state() PeerInfo {
	return PeerInfo{ID: p.id, Name: p.who.Name, Muted: p.muted.Load(), Hand: p.hand.Load(), Phone: p.who.Phone}
}

// broadcast sends a signal to everyone in the room.
func (r *room) broadcast(s Signal) {
	for _, m := range r.others(nil) {
		m.send(s)
	}
}

// others returns the room's members but except (which may be nil), as a
// copy taken under the lock, so callers can act on them without it.
func (r *room) others(except *Participant) []*Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Participant, 0, len(r.members))
	for _, m := range r.members {
		if m != except {
			out = append(out, m)
		}
	}
	return out
}

// member returns a participant of the room by id.
func (r *room) member(id string) (*Participant, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.members[id]
	if p == nil {
		return nil, ErrNoParticipant
	}
	return p, nil
}

// SetMuted stops (or resumes) forwarding a participant's audio. The server
// drops the audio, so a muted participant cannot unmute by themselves
// unless allowed to: everyone is told, the participant included.
func (p *Participant) SetMuted(targetID string, muted bool) error {
	t, err := p.r.member(targetID)
	if err != nil {
		return err
	}
	t.muted.Store(muted)
	p.r.broadcast(Signal{Kind: SignalUpdated, Data: map[string]any{"participant": t.state()}})
	p.r.announce(KindParticipantMuted, t)
	return nil
}

// MuteAll mutes everyone in the room but the caller.
func (p *Participant) MuteAll() {
	for _, m := range p.r.others(p) {
		m.muted.Store(true)
		p.r.broadcast(Signal{Kind: SignalUpdated, Data: map[string]any{"participant": m.state()}})
		p.r.announce(KindParticipantMuted, m)
	}
}

// Remove disconnects a participant. They are told why first.
func (p *Participant) Remove(targetID string) error {
	t, err := p.r.member(targetID)
	if err != nil {
		return err
	}
	t.send(Signal{Kind: SignalRemoved, Data: map[string]any{"reason": "removed by the host"}})
	t.Leave()
	return nil
}

// SetLocked locks or unlocks the meeting: while locked only hosts join.
func (p *Participant) SetLocked(locked bool) {
	p.r.mu.Lock()
	p.r.locked = locked
	p.r.mu.Unlock()
	p.r.broadcast(Signal{Kind: SignalLocked, Data: map[string]any{"locked": locked}})
}

// SetHand raises or lowers the participant's hand.
func (p *Participant) SetHand(raised bool) {
	p.hand.Store(raised)
	p.r.broadcast(Signal{Kind: SignalUpdated, Data: map[string]any{"participant": p.state()}})
}

// Chat sends a message to the room and keeps it for late joiners.
func (p *Participant) Chat(text string) error {
	text = strings.TrimSpace(text)
	if text == "" || utf8.RuneCountInString(text) > 2000 || !utf8.ValidString(text) {
		return fmt.Errorf("%w: a chat message is 1-2000 characters", ErrInvalid)
	}
	msg := ChatMessage{From: p.state(), Text: text, At: time.Now().UTC()}
	p.r.mu.Lock()
	p.r.chat = append(p.r.chat, msg)
	if len(p.r.chat) > chatHistory {
		p.r.chat = p.r.chat[len(p.r.chat)-chatHistory:]
	}
	p.r.mu.Unlock()
	p.r.broadcast(Signal{Kind: SignalChat, Data: msg})
	return nil
}

// ChatHistory returns the room's kept chat, oldest first.
func (p *Participant) ChatHistory() []ChatMessage {
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	return append([]ChatMessage{}, p.r.chat...)
}

// End ends a meeting for everyone: it is marked ended in the store, every
// participant is told and disconnected, and nobody can join it again.
func (s *Service) End(ctx context.Context, roomNo string) error {
	m, err := s.meeting(ctx, roomNo)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE meetings SET ended_at = ? WHERE room = ? AND ended_at IS NULL`, time.Now().UnixMilli(), roomNo); err != nil {
		return fmt.Errorf("end meeting %s: %w", roomNo, err)
	}
	s.mu.Lock()
	r := s.rooms[roomNo]
	s.mu.Unlock()
	if r != nil {
		r.closeAll()
	}
	s.endLobby(roomNo)
	s.publish(MeetingEvent{Kind: KindMeetingEnded, Meeting: m})
	return nil
}

// Meeting returns a meeting that has not ended, with its live count.
func (s *Service) Meeting(ctx context.Context, roomNo string) (Meeting, error) {
	m, err := s.meeting(ctx, roomNo)
	if err != nil {
		return Meeting{}, err
	}
	m.Participants = s.count(roomNo)
	return m, nil
}
