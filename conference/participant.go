package conference

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"civic/internal/rtc"
)

// gatherTimeout bounds the wait for local ICE candidates; with the muxed
// ports they are known at once.
const gatherTimeout = 3 * time.Second

// Participant is one person, or one phone, in a room.
type Participant struct {
	id  string
	who Identity
	r   *room
	pub *webrtc.PeerConnection // the client offers, civicd answers; nil when local
	sub *webrtc.PeerConnection // civicd offers, the client answers; nil when local
	// local: a server-side participant (a phone leg, local.go), with no
	// peer connections; localTracks are what it publishes.
	local       bool
	localTracks []*LocalTrack

	signals chan Signal
	done    chan struct{}
	leave   sync.Once

	negMu        sync.Mutex // serialises subscribe-side negotiation
	offerPending bool       // an offer is out, its answer not yet in
	queued       []func()   // track changes waiting for a stable state
	restart      bool       // the next offer restarts ICE
	senders      map[*forwardTrack]*webrtc.RTPSender

	est       rtc.Estimator // the subscribe connection's bandwidth estimate
	trackMu   sync.Mutex
	published map[*webrtc.RTPReceiver]*forwardTrack
	downMu    sync.Mutex
	downs     map[*forwardTrack]*downTrack // what p subscribes to
	views     map[string]View              // by forwarded stream id
	maxRate   int                          // the client's cap in bits/s, or 0
	bwe       bweState                     // the allocator's alone
	stats     linkStats

	streamMu sync.Mutex
	streams  map[string]string // client stream id -> forwarded stream id

	connected atomic.Bool
	subReady  atomic.Bool // the subscribe connection is up: media can flow

	pubCandidates, subCandidates atomic.Int32 // trickled candidates taken
	muted                        atomic.Bool  // set by a host: audio is not forwarded
	hand                         atomic.Bool
	signal                       atomic.Pointer[func(Signal)] // where signals go; swapped on rejoin
	gen                          atomic.Uint64                // counts attachments to client connections
	attachMu                     sync.Mutex                   // serialises Detach and Rejoin
	detached                     atomic.Pointer[time.Timer]   // running while the client is away
	loud                         atomic.Int32                 // smoothed loudness, 0 silent to 127 loudest
	heard                        atomic.Int64                 // unix nanos of the last audio level
}

func newParticipant(r *room, who Identity, signal func(Signal)) (*Participant, error) {
	pub, err := r.s.rtc.NewPeerConnection()
	if err != nil {
		return nil, fmt.Errorf("publish connection: %w", err)
	}
	sub, est, err := r.s.rtc.NewSubscriberConnection()
	if err != nil {
		pub.Close()
		return nil, fmt.Errorf("subscribe connection: %w", err)
	}
	p := &Participant{
		id: newID(), who: who, r: r, pub: pub, sub: sub, est: est,
		published: make(map[*webrtc.RTPReceiver]*forwardTrack),
		downs:     make(map[*forwardTrack]*downTrack),
		signals:   make(chan Signal, signalQueueLen),
		done:      make(chan struct{}),
		senders:   make(map[*forwardTrack]*webrtc.RTPSender),
	}
	pub.OnTrack(p.onTrack)
	for _, pc := range []*webrtc.PeerConnection{pub, sub} {
		pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
			switch st {
			case webrtc.PeerConnectionStateConnected:
				p.connected.Store(true)
				if pc == sub && !p.subReady.Swap(true) {
					go p.keyframesForAll() // what was sent before was lost
				}
			case webrtc.PeerConnectionStateFailed:
				go p.Leave()
			}
		})
	}
	p.signal.Store(&signal)
	go p.deliver()
	go p.watchICE(r.s.cfg.ICETimeout)
	return p, nil
}

// ID is the participant's id in the room; its tracks carry it as stream id.
func (p *Participant) ID() string { return p.id }

// IsHost reports whether the participant may moderate.
func (p *Participant) IsHost() bool { return p.who.Host }

// Room is the room number of the participant's meeting.
func (p *Participant) Room() string { return p.r.no }

// send queues a signal for the client. A client that does not keep up
// loses the signal rather than stalling the room; it will be told again
// by the next offer, which always carries the whole state.
func (p *Participant) send(s Signal) {
	select {
	case p.signals <- s:
	case <-p.done:
	default:
		p.r.s.log.Warn("participant signal queue full; dropping", "participant", p.id, "kind", s.Kind)
	}
}

// deliver calls the current signal function for each queued signal, in
// order.
func (p *Participant) deliver() {
	signal := func(s Signal) { (*p.signal.Load())(s) }
	for {
		select {
		case s := <-p.signals:
			signal(s)
		case <-p.done:
			// Deliver what was said before the end ("removed", "ended").
			for {
				select {
				case s := <-p.signals:
					signal(s)
				default:
					return
				}
			}
		}
	}
}

// watchICE removes a participant that never connects.
func (p *Participant) watchICE(timeout time.Duration) {
	select {
	case <-time.After(timeout):
		if !p.connected.Load() {
			p.r.s.log.Info("participant never connected; removing", "participant", p.id, "after", timeout)
			p.Leave()
		}
	case <-p.done:
	}
}

// onTrack starts forwarding a track the client published. Each layer of
// a simulcast track comes here on its own; the first makes the track.
func (p *Participant) onTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	p.trackMu.Lock()
	t := p.published[recv]
	fresh := t == nil
	if fresh {
		t = newForwardTrack(p, remote, recv, p.streamFor(remote.StreamID()))
		p.published[recv] = t
	}
	p.trackMu.Unlock()
	l := t.layer(remote.RID())
	if l == nil {
		p.r.s.log.Warn("publish: a layer the offer did not announce", "participant", p.id, "rid", remote.RID())
		return
	}
	t.running.Add(1)
	go l.readRTCP(recv)
	if fresh {
		p.r.publish(t)
	}
	go func() {
		l.forward(remote)
		if t.running.Add(-1) == 0 {
			p.r.unpublish(t) // the client stopped sending it (screen share ended)
			p.trackMu.Lock()
			delete(p.published, recv)
			p.trackMu.Unlock()
		}
	}()
	p.r.kick()
}

// streamFor maps the client's stream ids to forwarded ones: the first
// stream (camera and microphone) becomes the participant's id, and every
// later one (a screen share) the participant's id, a slash and a number.
func (p *Participant) streamFor(remote string) string {
	p.streamMu.Lock()
	defer p.streamMu.Unlock()
	if p.streams == nil {
		p.streams = map[string]string{}
	}
	if id, ok := p.streams[remote]; ok {
		return id
	}
	id := p.id
	if n := len(p.streams); n > 0 {
		id = fmt.Sprintf("%s/%d", p.id, n+1)
	}
	p.streams[remote] = id
	return id
}

// PublishOffer takes the client's offer for the publish connection and
// returns civicd's answer.
func (p *Participant) PublishOffer(sdp string) (string, error) {
	if p.local {
		return "", ErrLocalOnly
	}
	var parsed sdpOffer
	if err := parsed.Unmarshal([]byte(sdp)); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	if n := len(parsed.MediaDescriptions); n > p.r.s.cfg.MaxTracks {
		return "", fmt.Errorf("%w: the offer has %d media sections; at most %d are allowed", ErrInvalid, n, p.r.s.cfg.MaxTracks)
	}
	if err := checkCodecs(&parsed); err != nil {
		return "", err
	}
	p.pubCandidates.Store(0) // a new offer brings its candidates (again)
	if err := p.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	answer, err := p.pub.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	gathered := webrtc.GatheringCompletePromise(p.pub)
	if err := p.pub.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("publish answer: %w", err)
	}
	waitGathered(gathered)
	return p.pub.LocalDescription().SDP, nil
}

// SubscribeAnswer takes the client's answer to civicd's last offer, then
// applies track changes that waited for it.
func (p *Participant) SubscribeAnswer(sdp string) error {
	if p.local {
		return ErrLocalOnly
	}
	p.negMu.Lock()
	if !p.offerPending {
		p.negMu.Unlock()
		return fmt.Errorf("%w: no offer is waiting for an answer", ErrBadSDP)
	}
	err := p.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
	if err != nil {
		p.negMu.Unlock()
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	p.offerPending = false
	queued := p.queued
	p.queued = nil
	for _, op := range queued {
		op()
	}
	renegotiate := len(queued) > 0
	p.negMu.Unlock()
	if renegotiate {
		p.negotiate()
	}
	return nil
}

// maxCandidates bounds the trickled candidates one connection takes: a
// browser has a handful per network interface; a flood would only make
// ICE check more pairs.
const maxCandidates = 64

// AddCandidate adds a trickled candidate for one of the connections.
func (p *Participant) AddCandidate(pc string, c webrtc.ICECandidateInit) error {
	if p.local {
		return ErrLocalOnly
	}
	var conn *webrtc.PeerConnection
	var n *atomic.Int32
	switch pc {
	case PeerPublish:
		conn, n = p.pub, &p.pubCandidates
	case PeerSubscribe:
		conn, n = p.sub, &p.subCandidates
	default:
		return fmt.Errorf("%w: pc must be publish or subscribe", ErrInvalid)
	}
	if n.Add(1) > maxCandidates {
		return fmt.Errorf("%w: more than %d ICE candidates for the %s connection", ErrInvalid, maxCandidates, pc)
	}
	if err := conn.AddICECandidate(c); err != nil {
		return fmt.Errorf("%w: candidate: %v", ErrInvalid, err)
	}
	return nil
}

// change runs a track change now when the subscribe side is stable, or
// after the outstanding answer, and then renegotiates.
func (p *Participant) change(op func()) {
	p.negMu.Lock()
	if p.offerPending {
		p.queued = append(p.queued, op)
		p.negMu.Unlock()
		return
	}
	op()
	p.negMu.Unlock()
	p.negotiate()
}

// negotiate sends a fresh subscribe offer unless one is outstanding.
func (p *Participant) negotiate() {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if p.offerPending || p.sub.ConnectionState() == webrtc.PeerConnectionStateClosed || len(p.sub.GetTransceivers()) == 0 {
		return
	}
	offer, err := p.sub.CreateOffer(p.offerOptions())
	if err != nil {
		p.r.s.log.Error("subscribe offer", "participant", p.id, "err", err)
		return
	}
	gathered := webrtc.GatheringCompletePromise(p.sub)
	if err := p.sub.SetLocalDescription(offer); err != nil {
		p.r.s.log.Error("subscribe offer", "participant", p.id, "err", err)
		return
	}
	waitGathered(gathered)
	p.offerPending = true
	p.send(Signal{Kind: SignalOffer, Data: map[string]any{"sdp": p.sub.LocalDescription().SDP}})
}

// subscribe starts sending t to p, on a downTrack of p's own.
func (p *Participant) subscribe(t *forwardTrack) {
	if p.local {
		return // it hears the room through TapAudio
	}
	p.change(func() {
		d := newDownTrack(t, p)
		sender, err := p.sub.AddTrack(d)
		if err != nil {
			p.r.s.log.Error("subscribe", "participant", p.id, "err", err)
			return
		}
		p.senders[t] = sender
		p.downMu.Lock()
		p.downs[t] = d
		p.downMu.Unlock()
		t.addDown(d)
		go p.readSenderRTCP(sender, d)
		if l := d.layerFor(); l != nil {
			l.requestKeyframe()
		}
		p.r.kick()
	})
}

// unsubscribe stops sending t to p.
func (p *Participant) unsubscribe(t *forwardTrack) {
	if p.local {
		return
	}
	p.change(func() {
		p.dropDown(t)
		if s, ok := p.senders[t]; ok {
			delete(p.senders, t)
			_ = p.sub.RemoveTrack(s)
		}
	})
}

// keyframesForAll asks for a keyframe of every video track p takes.
func (p *Participant) keyframesForAll() {
	p.downMu.Lock()
	var ls []*layer
	for _, d := range p.downs {
		if l := d.layerFor(); l != nil {
			ls = append(ls, l)
		}
	}
	p.downMu.Unlock()
	for _, l := range ls {
		l.requestKeyframe()
	}
}

// dropDown stops feeding p's downTrack of t.
func (p *Participant) dropDown(t *forwardTrack) {
	p.downMu.Lock()
	d, ok := p.downs[t]
	delete(p.downs, t)
	p.downMu.Unlock()
	if ok {
		t.removeDown(d)
	}
}

// readSenderRTCP passes a subscriber's keyframe requests to the publisher
// and keeps its reports for the link's quality.
func (p *Participant) readSenderRTCP(s *webrtc.RTPSender, d *downTrack) {
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			switch pkt := pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				if l := d.layerFor(); l != nil {
					l.requestKeyframe()
				}
			case *rtcp.ReceiverReport:
				p.stats.report(pkt.Reports, time.Now())
			}
		}
	}
}

// Leave removes the participant from its room and closes its connections.
// It is safe to call more than once, from any goroutine.
func (p *Participant) Leave() {
	p.leave.Do(func() {
		if t := p.detached.Swap(nil); t != nil {
			t.Stop()
		}
		p.r.leave(p)
		p.downMu.Lock()
		downs := p.downs
		p.downs = map[*forwardTrack]*downTrack{}
		p.downMu.Unlock()
		for t, d := range downs {
			t.removeDown(d)
		}
		p.closePeers()
	})
}

func (p *Participant) closePeers() {
	select {
	case <-p.done:
	default:
		close(p.done)
	}
	if p.local {
		p.trackMu.Lock()
		tracks := p.localTracks
		p.trackMu.Unlock()
		for _, lt := range tracks {
			lt.Close()
		}
		return
	}
	_ = p.pub.Close()
	_ = p.sub.Close()
}

// sdpOffer is a parsed session description.
type sdpOffer = sdp.SessionDescription

func waitGathered(done <-chan struct{}) {
	select {
	case <-done:
	case <-time.After(gatherTimeout):
	}
}

// forwardable are the codecs civicd forwards, by SDP encoding name.
var forwardable = map[string]bool{"opus": true, "vp8": true, "h264": true, "g722": true, "pcmu": true, "pcma": true}

// checkCodecs refuses an offer with an audio or video section that has
// none of the codecs civicd forwards, naming the section.
func checkCodecs(offer *sdpOffer) error {
	for i, md := range offer.MediaDescriptions {
		kind := md.MediaName.Media
		if kind != "audio" && kind != "video" || md.MediaName.Port.Value == 0 {
			continue // data channels; rejected sections
		}
		ok := false
		for _, a := range md.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			// "96 VP8/90000"
			if _, enc, found := strings.Cut(a.Value, " "); found {
				name, _, _ := strings.Cut(enc, "/")
				ok = ok || forwardable[strings.ToLower(name)]
			}
		}
		if !ok {
			return fmt.Errorf("%w: %s section %d offers no codec civicd forwards (it takes Opus, G.722, PCMU and PCMA audio, and VP8 and H.264 video)", ErrInvalid, kind, i)
		}
	}
	return nil
}
