package conference

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"civic/internal/events"
)

// Server-side participants: a desk phone bridged into a meeting by voip
// (ARCHITECTURE.md flow 2) joins the room like anyone else (it is listed,
// it speaks, the host can mute or remove it, it is in the attendance),
// but it has no peer connections. It publishes its audio through a
// LocalTrack, which feeds the same forwarding path as a browser's track,
// and it hears the room through TapAudio, once per room however many
// phones listen.

// Errors of server-side joins.
var (
	// ErrNotStarted: nobody is in the meeting yet (its host has not
	// started it), so a phone waits or is refused.
	ErrNotStarted = errors.New("the meeting has not started")
	// ErrLocalOnly: the request needs a participant with peer
	// connections, and this one is server-side.
	ErrLocalOnly = errors.New("a server-side participant has no peer connections")
)

// JoinLocal adds a server-side participant to the live room of a meeting:
// a phone leg. The room must be live (someone is in it); a locked room
// refuses it unless who.Host. signal gets the participant's signals (the
// room's joins and leaves, muted, removed, ended) from one goroutine, in
// order.
func (s *Service) JoinLocal(ctx context.Context, roomNo string, who Identity, signal func(Signal)) (*Participant, Meeting, error) {
	m, _, err := s.meetingWithPasscode(ctx, roomNo)
	if err != nil {
		return nil, Meeting{}, err
	}
	who.Phone = true
	s.mu.Lock()
	r := s.rooms[roomNo]
	if r == nil && m.Private && !s.closed {
		// A browser call: the phone may be first in (an incoming call
		// answered in the console, before the browser's media is up).
		r = newRoom(s, m)
		s.rooms[roomNo] = r
	}
	s.mu.Unlock()
	if r == nil || r.size() == 0 && !m.Private {
		return nil, m, ErrNotStarted
	}
	p, _, err := r.add(newLocalParticipant(r, who, signal))
	if errors.Is(err, errRoomGone) {
		return nil, m, ErrNotStarted
	}
	if err != nil {
		return nil, m, err
	}
	m.Participants = r.size()
	return p, m, nil
}

// newLocalParticipant makes a participant without peer connections.
func newLocalParticipant(r *room, who Identity, signal func(Signal)) *Participant {
	p := &Participant{
		id: newID(), who: who, r: r, local: true,
		published: make(map[*webrtc.RTPReceiver]*forwardTrack),
		downs:     make(map[*forwardTrack]*downTrack),
		signals:   make(chan Signal, signalQueueLen),
		done:      make(chan struct{}),
		senders:   make(map[*forwardTrack]*webrtc.RTPSender),
	}
	p.connected.Store(true)
	p.signal.Store(&signal)
	go p.deliver()
	return p
}

// IsLocal reports whether p is a server-side participant.
func (p *Participant) IsLocal() bool { return p.local }

// Muted reports whether a host muted p: its audio is not forwarded.
func (p *Participant) Muted() bool { return p.muted.Load() }

// localLevelID is the audio-level extension id a LocalTrack's packets
// carry (RFC 6464, one-byte header extensions).
const localLevelID = 1

// LocalTrack is a server-side participant's published audio: packets
// written to it are forwarded to the room like a browser's microphone.
type LocalTrack struct {
	t      *forwardTrack
	ch     chan []byte // marshalled packets, for the forward loop
	closed chan struct{}
	once   sync.Once
	drops  atomic.Int64
}

// PublishAudio starts forwarding a server-side participant's audio in
// codec (PCMU, PCMA or G.722: codecs browsers decode natively).
func (p *Participant) PublishAudio(codec webrtc.RTPCodecCapability) (*LocalTrack, error) {
	if !p.local {
		return nil, errors.New("PublishAudio is for server-side participants")
	}
	t := &forwardTrack{owner: p, id: "audio", streamID: p.id, codec: codec, levelID: localLevelID}
	l := &layer{t: t}
	t.layers = []*layer{l}
	lt := &LocalTrack{t: t, ch: make(chan []byte, 64), closed: make(chan struct{})}
	p.trackMu.Lock()
	p.localTracks = append(p.localTracks, lt)
	p.trackMu.Unlock()
	p.r.publish(t)
	go func() {
		l.forward(lt)
		p.r.unpublish(t)
	}()
	p.r.kick()
	return lt, nil
}

// WriteRTP queues one packet for the room, with its audio level (RFC
// 6464: 0 loudest to 127 silent; -1 unknown), which feeds the room's
// active speaker. The packet may be reused once WriteRTP returns. A
// packet that finds the queue full is dropped and counted: audio is not
// worth waiting for.
func (lt *LocalTrack) WriteRTP(pkt *rtp.Packet, level int) error {
	h := pkt.Header
	if level >= 0 {
		if err := h.SetExtension(localLevelID, []byte{byte(min(level, 127)) | 0x80}); err != nil {
			return fmt.Errorf("audio level: %w", err)
		}
	}
	n := h.MarshalSize() + len(pkt.Payload)
	b := make([]byte, n)
	hn, err := h.MarshalTo(b)
	if err != nil {
		return err
	}
	copy(b[hn:], pkt.Payload)
	select {
	case <-lt.closed:
		return io.ErrClosedPipe
	default:
	}
	select {
	case lt.ch <- b[:hn+len(pkt.Payload)]:
	default:
		lt.drops.Add(1)
	}
	return nil
}

// Read gives the forward loop the next packet.
func (lt *LocalTrack) Read(b []byte) (int, interceptor.Attributes, error) {
	select {
	case pkt := <-lt.ch:
		return copy(b, pkt), nil, nil
	case <-lt.closed:
		return 0, nil, io.EOF
	}
}

// Close stops the track; the room stops forwarding it.
func (lt *LocalTrack) Close() {
	lt.once.Do(func() { close(lt.closed) })
}

// Dropped counts the packets dropped because the room fell behind.
func (lt *LocalTrack) Dropped() int64 { return lt.drops.Load() }

// TapAudio calls f with every audio packet forwarded in the live room of
// meeting roomNo (from whoever publishes it, browser or phone) until stop
// is called or the room ends. f runs on the forwarding goroutine of the
// packet's track: it must be quick and must copy what it keeps. A muted
// participant's audio is not tapped, as it is not forwarded.
func (s *Service) TapAudio(roomNo string, f func(from string, codec webrtc.RTPCodecCapability, pkt *rtp.Packet)) (stop func(), err error) {
	s.mu.Lock()
	r := s.rooms[roomNo]
	s.mu.Unlock()
	if r == nil {
		return nil, ErrNotStarted
	}
	tap := &audioTap{f: f}
	r.tapMu.Lock()
	next := append(append([]*audioTap(nil), r.tapList()...), tap)
	r.taps.Store(&next)
	r.tapMu.Unlock()
	return func() {
		r.tapMu.Lock()
		defer r.tapMu.Unlock()
		var kept []*audioTap
		for _, t := range r.tapList() {
			if t != tap {
				kept = append(kept, t)
			}
		}
		r.taps.Store(&kept)
	}, nil
}

// audioTap is one TapAudio listener.
type audioTap struct {
	f func(from string, codec webrtc.RTPCodecCapability, pkt *rtp.Packet)
}

// tapList is the room's current taps; do not modify.
func (r *room) tapList() []*audioTap {
	if t := r.taps.Load(); t != nil {
		return *t
	}
	return nil
}

// tapAudio hands one forwarded audio packet of t to the room's taps.
func (r *room) tapAudio(t *forwardTrack, pkt *rtp.Packet) {
	for _, tap := range r.tapList() {
		tap.f(t.owner.id, t.codec, pkt)
	}
}

// KindPhoneKey is a key a phone pressed in a meeting (after its PIN), on
// TopicMeetings: a PhoneKeyEvent. *6 (mute itself) and *9 (raise its
// hand) act on the phone's participant as well.
const KindPhoneKey = "conference.phone_key"

// PhoneKeyEvent is a key pressed by a phone in a meeting.
type PhoneKeyEvent struct {
	Room        string `json:"room"`
	Participant string `json:"participant"`
	Digit       string `json:"digit"`
}

// EventTopic implements events.Payload.
func (PhoneKeyEvent) EventTopic() events.Topic { return TopicMeetings }

// EventKind implements events.Payload.
func (PhoneKeyEvent) EventKind() string { return KindPhoneKey }

// PhoneKey puts a key a phone pressed in a live meeting on the bus (not
// for a browser call's private room).
func (s *Service) PhoneKey(roomNo, participant string, digit rune) {
	s.mu.Lock()
	r := s.rooms[roomNo]
	s.mu.Unlock()
	if r == nil || r.meeting.Private || s.bus == nil {
		return
	}
	s.bus.Publish(PhoneKeyEvent{Room: roomNo, Participant: participant, Digit: string(digit)})
}
