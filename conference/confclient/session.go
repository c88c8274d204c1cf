package confclient

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// Session is the client's presence in a meeting: its participant id, its
// publish and subscribe peer connections, and the meeting's events.
type Session struct {
	c      *Client
	ID     string
	Host   bool
	pub    *webrtc.PeerConnection
	sub    *webrtc.PeerConnection
	events chan Event // all but offers, which the session answers itself
	raw    chan Event
	pubMu  sync.Mutex // one publish negotiation at a time

	layerMu sync.Mutex
	active  map[string]map[string]bool // track id -> rids the server takes
	stop    chan struct{}
	wg      sync.WaitGroup
}

// Join joins the meeting with room number room, making both peer
// connections with api. onTrack (may be nil) gets each forwarded track;
// its stream id is the publishing participant's id.
func (c *Client) Join(ctx context.Context, api *webrtc.API, room string, onTrack func(*webrtc.TrackRemote)) (*Session, error) {
	pub, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	sub, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		pub.Close()
		return nil, err
	}
	if onTrack != nil {
		sub.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { onTrack(t) })
	}
	s := &Session{c: c, pub: pub, sub: sub, events: make(chan Event, 256), raw: make(chan Event, 256), stop: make(chan struct{})}
	var res struct {
		ParticipantID string `json:"participant_id"`
		Host          bool   `json:"host"`
	}
	if _, err := c.call(ctx, "conference.join", map[string]any{"room": room}, &res, s.raw); err != nil {
		pub.Close()
		sub.Close()
		return nil, err
	}
	s.ID, s.Host = res.ParticipantID, res.Host
	s.wg.Add(1)
	go s.handleEvents()
	return s, nil
}

// Events are the meeting's events other than offers.
func (s *Session) Events() <-chan Event { return s.events }

// handleEvents answers subscribe offers in order and passes the rest on.
func (s *Session) handleEvents() {
	defer s.wg.Done()
	defer close(s.events)
	for {
		select {
		case ev, ok := <-s.raw:
			if !ok {
				return
			}
			if ev.Kind == "publish.layers" {
				s.setActive(ev.Data)
			}
			if ev.Kind == "webrtc.offer" {
				if err := s.answer(ev.Data); err != nil {
					s.pushEvent(Event{Topic: ev.Topic, Kind: "error", Data: json.RawMessage(fmt.Sprintf("%q", err.Error()))})
				}
				continue
			}
			s.pushEvent(ev)
		case <-s.stop:
			return
		}
	}
}

func (s *Session) pushEvent(ev Event) {
	select {
	case s.events <- ev:
	default:
	}
}

func (s *Session) answer(data json.RawMessage) error {
	var offer struct{ SDP string }
	if err := json.Unmarshal(data, &offer); err != nil {
		return err
	}
	if err := s.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer.SDP}); err != nil {
		return fmt.Errorf("subscribe offer: %w", err)
	}
	answer, err := s.sub.CreateAnswer(nil)
	if err != nil {
		return err
	}
	sdp, err := localDescription(s.sub, answer)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.c.Call(ctx, "webrtc.answer", map[string]any{"sdp": sdp}, nil)
}

// localDescription sets desc and returns it with every candidate.
func localDescription(pc *webrtc.PeerConnection, desc webrtc.SessionDescription) (string, error) {
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(desc); err != nil {
		return "", err
	}
	select {
	case <-gathered:
	case <-time.After(5 * time.Second):
	}
	return pc.LocalDescription().SDP, nil
}

// Publish adds a track to the publish connection and negotiates it.
func (s *Session) Publish(ctx context.Context, track webrtc.TrackLocal) (*webrtc.RTPSender, error) {
	return s.publish(ctx, track)
}

// publish adds track, and more encodings of it (simulcast layers), and
// negotiates.
func (s *Session) publish(ctx context.Context, track webrtc.TrackLocal, layers ...webrtc.TrackLocal) (*webrtc.RTPSender, error) {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	sender, err := s.pub.AddTrack(track)
	if err != nil {
		return nil, err
	}
	for _, l := range layers {
		if err := sender.AddEncoding(l); err != nil {
			return nil, fmt.Errorf("simulcast layer %s: %w", l.RID(), err)
		}
	}
	go func() { // keep RTCP flowing so the interceptors run
		for {
			if _, _, err := sender.ReadRTCP(); err != nil {
				return
			}
		}
	}()
	offer, err := s.pub.CreateOffer(nil)
	if err != nil {
		return nil, err
	}
	sdp, err := localDescription(s.pub, offer)
	if err != nil {
		return nil, err
	}
	var res struct{ SDP string }
	if err := s.c.Call(ctx, "webrtc.offer", map[string]any{"sdp": sdp}, &res); err != nil {
		return nil, err
	}
	if err := s.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: res.SDP}); err != nil {
		return nil, fmt.Errorf("publish answer: %w", err)
	}
	return sender, nil
}

// PublishSamples publishes a synthetic track of the given codec ("video/VP8"
// or "audio/opus"), writing next() every interval until the session ends.
func (s *Session) PublishSamples(ctx context.Context, mime string, interval time.Duration, next func() []byte) error {
	capability := webrtc.RTPCodecCapability{MimeType: mime}
	kind := "video"
	if mime == webrtc.MimeTypeOpus {
		capability.ClockRate, capability.Channels, kind = 48000, 2, "audio"
	}
	track, err := webrtc.NewTrackLocalStaticSample(capability, kind, "confclient")
	if err != nil {
		return err
	}
	if _, err := s.Publish(ctx, track); err != nil {
		return err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
				_ = track.WriteSample(media.Sample{Data: next(), Duration: interval})
			}
		}
	}()
	return nil
}

// Leave leaves the meeting and closes both connections.
func (s *Session) Leave(ctx context.Context) error {
	err := s.c.Call(ctx, "conference.leave", nil, nil)
	s.close()
	return err
}

func (s *Session) close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.pub.Close()
	s.sub.Close()
	s.wg.Wait()
}
