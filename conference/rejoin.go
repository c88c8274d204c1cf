package conference

import (
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"
)

// ErrGone is returned when rejoining a participant that has left or whose
// grace period ran out.
var ErrGone = fmt.Errorf("that participant has left the meeting")

// Detach is called when the participant's client connection drops without
// leaving. The participant stays in the room, its tracks forwarded, for
// grace; a client that comes back in time (Rejoin) keeps its identity and
// tracks, and otherwise it leaves. Signals meanwhile are dropped: the
// client is re-offered the whole state when it returns.
//
// gen is the attachment the caller holds (Attachment); when the
// participant has since been reattached elsewhere, Detach does nothing.
func (p *Participant) Detach(gen uint64, grace time.Duration) {
	p.attachMu.Lock()
	defer p.attachMu.Unlock()
	if p.gen.Load() != gen || p.detached.Load() != nil {
		return
	}
	drop := func(Signal) {}
	p.signal.Store(&drop)
	p.detached.Store(time.AfterFunc(grace, func() {
		p.r.s.log.Info("participant did not come back; leaving", "participant", p.id, "after", grace)
		p.Leave()
	}))
}

// Attachment identifies the participant's current client connection.
func (p *Participant) Attachment() uint64 { return p.gen.Load() }

// Rejoin reattaches a detached participant to a new client connection. It
// checks that the same user asks, and returns what a join returns.
func (s *Service) Rejoin(id, user string, signal func(Signal)) (*Participant, Meeting, []PeerInfo, error) {
	s.mu.Lock()
	var p *Participant
	for _, r := range s.rooms {
		r.mu.Lock()
		p = r.members[id]
		r.mu.Unlock()
		if p != nil {
			break
		}
	}
	s.mu.Unlock()
	if p == nil || p.who.User != user {
		return nil, Meeting{}, nil, ErrGone
	}
	// The old connection may not have noticed it is dead yet: rejoining
	// moves the participant over, and the old one's Detach is ignored.
	p.attachMu.Lock()
	t := p.detached.Swap(nil)
	if t != nil && !t.Stop() {
		p.attachMu.Unlock()
		return nil, Meeting{}, nil, ErrGone // the grace period just ran out
	}
	p.gen.Add(1)
	p.signal.Store(&signal)
	p.attachMu.Unlock()
	r := p.r
	r.mu.Lock()
	others := make([]PeerInfo, 0, len(r.members))
	for _, m := range r.members {
		if m != p {
			others = append(others, m.state())
		}
	}
	m := r.meeting
	m.Participants = len(r.members)
	r.mu.Unlock()
	s.log.Info("participant rejoined", "room", r.no, "participant", p.id)
	return p, m, others, nil
}

// RestartICE re-offers the subscribe connection with new ICE credentials,
// after the client's network changed. An offer already out is answered
// first; the restart follows with the next one.
func (p *Participant) RestartICE() {
	p.subCandidates.Store(0) // new credentials, new candidates
	p.negMu.Lock()
	if p.offerPending {
		p.queued = append(p.queued, func() {})
		p.restart = true
		p.negMu.Unlock()
		return
	}
	p.restart = true
	p.negMu.Unlock()
	p.negotiate()
}

// offerOptions returns the options of the next subscribe offer.
func (p *Participant) offerOptions() *webrtc.OfferOptions {
	if !p.restart {
		return nil
	}
	p.restart = false
	return &webrtc.OfferOptions{ICERestart: true}
}
