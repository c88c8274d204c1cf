package conference

import "civic/internal/events"

// KindStats is a live meeting's media figures, every 2 s, on
// TopicMeetings: a StatsEvent.
const KindStats = "conference.stats"

// ParticipantStats are one participant's media figures.
type ParticipantStats struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// InKbps is what the participant publishes; OutKbps what civicd
	// sends them.
	InKbps  int `json:"in_kbps"`
	OutKbps int `json:"out_kbps"`
	// LossPct is the share of packets lost on the way to them, from their
	// last receiver report; RTTMs the round-trip time from it (0: none yet).
	LossPct float64 `json:"loss_pct"`
	RTTMs   float64 `json:"rtt_ms"`
}

// StatsEvent carries a live meeting's figures.
type StatsEvent struct {
	Room         string             `json:"room"`
	Participants []ParticipantStats `json:"participants"`
}

// EventTopic implements events.Payload.
func (StatsEvent) EventTopic() events.Topic { return TopicMeetings }

// EventKind implements events.Payload.
func (StatsEvent) EventKind() string { return KindStats }

// publishStats puts the room's figures on the bus.
func (r *room) publishStats() {
	if r.s.bus == nil || r.meeting.Private {
		return
	}
	ev := StatsEvent{Room: r.no}
	for _, m := range r.others(nil) {
		ev.Participants = append(ev.Participants, m.mediaStats())
	}
	if len(ev.Participants) > 0 {
		r.s.bus.Publish(ev)
	}
}

func (p *Participant) mediaStats() ParticipantStats {
	return ParticipantStats{
		ID: p.id, Name: p.who.Name,
		InKbps:  int(p.stats.inRate.Load() / 1000),
		OutKbps: int(p.stats.outRate.Load() / 1000),
		LossPct: float64(p.stats.lossPermille.Load()) / 10,
		RTTMs:   float64(p.stats.rttMicros.Load()) / 1000,
	}
}

// announce puts a change of one participant on the bus (muted, speaking).
func (r *room) announce(kind string, p *Participant) {
	r.mu.Lock()
	m := r.meeting
	m.Participants = len(r.members)
	r.mu.Unlock()
	info := p.state()
	r.s.publish(MeetingEvent{Kind: kind, Meeting: m, Participant: &info})
}
