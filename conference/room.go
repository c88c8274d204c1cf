package conference

import (
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
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
	mu      sync.Mutex
	members map[string]*Participant
	tracks  []*forwardTrack
}

// errRoomGone means the room was dropped while a join was on its way.
var errRoomGone = errors.New("room gone")

func newRoom(s *Service, m Meeting) *room {
	r := &room{s: s, no: m.Room, meeting: m, members: make(map[string]*Participant), stop: make(chan struct{})}
	go r.detectSpeaker()
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

// forwardTrack is one published track and its fan-out to subscribers.
// pion's TrackLocalStaticRTP writes each packet to every bound sender,
// rewriting SSRC and payload type per subscriber.
type forwardTrack struct {
	owner  *Participant
	remote *webrtc.TrackRemote
	local  *webrtc.TrackLocalStaticRTP
	video  bool
	// levelID is the audio-level extension's id on this track, or 0.
	levelID uint8

	wantKeyframe atomic.Bool  // a subscriber waits for a keyframe
	lastPLI      atomic.Int64 // unix nanos of the last PLI sent upstream
	pliLoop      atomic.Bool  // a repeat loop is running
}

// Keyframe requests are throttled per publisher track, and repeated until
// a keyframe arrives (a PLI can be lost).
const (
	pliMinInterval = 300 * time.Millisecond
	pliRepeat      = 500 * time.Millisecond
	pliMaxRepeats  = 10
)

// forward copies the publisher's RTP to the local track until the track
// ends. The buffer is reused: no allocation per packet here.
func (t *forwardTrack) forward() {
	buf := make([]byte, 1500)
	for {
		n, _, err := t.remote.Read(buf)
		if err != nil {
			return
		}
		if !t.video {
			if t.owner.muted.Load() {
				continue // muted by the host: the audio stops here
			}
			if lvl, ok := audioLevel(buf[:n], t.levelID); ok {
				t.owner.hear(127 - int32(lvl))
			}
		}
		if t.video && t.wantKeyframe.Load() && isVP8Keyframe(buf[:n]) {
			t.wantKeyframe.Store(false)
		}
		if _, err := t.local.Write(buf[:n]); err != nil && !errors.Is(err, io.ErrClosedPipe) {
			return
		}
	}
}

// requestKeyframe asks the publisher for a keyframe now and again every
// pliRepeat until one is forwarded.
func (t *forwardTrack) requestKeyframe() {
	if !t.video {
		return
	}
	t.wantKeyframe.Store(true)
	t.sendPLI()
	if !t.pliLoop.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer t.pliLoop.Store(false)
		for i := 0; i < pliMaxRepeats && t.wantKeyframe.Load(); i++ {
			select {
			case <-time.After(pliRepeat):
			case <-t.owner.done:
				return
			}
			if t.wantKeyframe.Load() {
				t.sendPLI()
			}
		}
	}()
}

func (t *forwardTrack) sendPLI() {
	now := time.Now().UnixNano()
	last := t.lastPLI.Load()
	if now-last < int64(pliMinInterval) || !t.lastPLI.CompareAndSwap(last, now) {
		return
	}
	_ = t.owner.pub.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(t.remote.SSRC())}})
}

// isVP8Keyframe reports whether an RTP packet starts a VP8 keyframe
// (RFC 7741: the first partition of a frame whose P bit is 0).
func isVP8Keyframe(pkt []byte) bool {
	var p rtp.Packet
	if p.Unmarshal(pkt) != nil || len(p.Payload) == 0 {
		return false
	}
	d := p.Payload
	if d[0]&0x10 == 0 || d[0]&0x07 != 0 { // S bit, partition 0
		return false
	}
	i := vp8DescriptorLen(d)
	return i > 0 && len(d) > i && d[i]&0x01 == 0
}

// vp8DescriptorLen is the length of the VP8 payload descriptor at the
// start of an RTP payload, or 0 when it is truncated.
func vp8DescriptorLen(d []byte) int {
	if len(d) == 0 {
		return 0
	}
	i := 1
	if d[0]&0x80 != 0 { // X: extended control bits
		if len(d) <= i {
			return 0
		}
		x := d[i]
		i++
		if x&0x80 != 0 { // I: picture id, 7 or 15 bits
			if len(d) <= i {
				return 0
			}
			if d[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K: TID/KEYIDX
			i++
		}
	}
	if i > len(d) {
		return 0
	}
	return i
}
