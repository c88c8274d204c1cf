package confclient

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Layer is one simulcast layer to publish: its rid, and its next frame.
type Layer struct {
	RID  string
	Next func() []byte
}

// PublishSimulcast publishes one video track (mime "video/VP8") in
// several layers, lowest quality first (browsers use the rids q, h and
// f), writing each layer's next frame every interval until the session
// ends. As a browser does, it names each packet's layer in the mid and
// rid header extensions, and stops sending a layer while the server says
// nobody takes it (a publish.layers event). The track's id is trackID.
func (s *Session) PublishSimulcast(ctx context.Context, mime, trackID string, interval time.Duration, layers []Layer) error {
	if len(layers) == 0 {
		return fmt.Errorf("simulcast: no layers")
	}
	if mime != webrtc.MimeTypeVP8 {
		return fmt.Errorf("simulcast: only %s is supported", webrtc.MimeTypeVP8)
	}
	tracks := make([]*webrtc.TrackLocalStaticRTP, len(layers))
	extra := make([]webrtc.TrackLocal, 0, len(layers)-1)
	for i, l := range layers {
		t, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: mime, ClockRate: 90000}, trackID, "confclient", webrtc.WithRTPStreamID(l.RID))
		if err != nil {
			return err
		}
		tracks[i] = t
		if i > 0 {
			extra = append(extra, t)
		}
	}
	sender, err := s.publish(ctx, tracks[0], extra...)
	if err != nil {
		return err
	}
	var midID, ridID uint8
	for _, e := range sender.GetParameters().HeaderExtensions {
		switch e.URI {
		case sdp.SDESMidURI:
			midID = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			ridID = uint8(e.ID)
		}
	}
	var mid string
	for _, tr := range s.pub.GetTransceivers() {
		if tr.Sender() == sender {
			mid = tr.Mid()
		}
	}
	if midID == 0 || ridID == 0 || mid == "" {
		return fmt.Errorf("simulcast: the server did not take the mid and rid header extensions")
	}
	ticks := uint32(interval.Seconds() * 90000)
	for i, l := range layers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			pz := rtp.NewPacketizer(1200, 0, 0, &codecs.VP8Payloader{}, rtp.NewRandomSequencer(), 90000)
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				select {
				case <-s.stop:
					return
				case <-tick.C:
					if !s.LayerActive(trackID, l.RID) {
						continue
					}
					for _, p := range pz.Packetize(l.Next(), ticks) {
						_ = p.Header.SetExtension(midID, []byte(mid))
						_ = p.Header.SetExtension(ridID, []byte(l.RID))
						if err := tracks[i].WriteRTP(p); err != nil {
							return
						}
					}
				}
			}
		}()
	}
	return nil
}

// LayerActive reports whether the server takes the layer rid of the
// track: true until it says otherwise.
func (s *Session) LayerActive(trackID, rid string) bool {
	s.layerMu.Lock()
	defer s.layerMu.Unlock()
	set, ok := s.active[trackID]
	return !ok || set[rid]
}

func (s *Session) setActive(data json.RawMessage) {
	var m struct {
		TrackID string   `json:"track_id"`
		Active  []string `json:"active"`
	}
	if json.Unmarshal(data, &m) != nil {
		return
	}
	s.layerMu.Lock()
	defer s.layerMu.Unlock()
	if s.active == nil {
		s.active = make(map[string]map[string]bool)
	}
	set := make(map[string]bool, len(m.Active))
	for _, r := range m.Active {
		set[r] = true
	}
	s.active[m.TrackID] = set
}

// View is how the client shows a forwarded stream: the size of its tile
// in pixels; zero for not shown.
type View struct {
	Stream string `json:"stream"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
}

// SetViews tells the server the sizes at which streams are shown, so it
// sends each the layer that fits; maxBitrate, when not nil, caps what the
// client is sent in bits/s (0: no cap).
func (s *Session) SetViews(ctx context.Context, views []View, maxBitrate *int) error {
	params := map[string]any{"views": views}
	if views == nil {
		params["views"] = []View{}
	}
	if maxBitrate != nil {
		params["max_bitrate"] = *maxBitrate
	}
	return s.c.Call(ctx, "conference.view", params, nil)
}
