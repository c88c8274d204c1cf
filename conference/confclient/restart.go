package confclient

import (
	"context"
	"fmt"

	"github.com/pion/webrtc/v4"
)

// RestartICE restarts ICE on both connections after a network change, as
// the page does: the publish side with a new offer of its own (when it
// publishes anything), the subscribe side by asking civicd for a new
// offer, which the session answers as usual.
func (s *Session) RestartICE(ctx context.Context) error {
	s.pubMu.Lock()
	if len(s.pub.GetTransceivers()) > 0 {
		offer, err := s.pub.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
		if err != nil {
			s.pubMu.Unlock()
			return err
		}
		sdp, err := localDescription(s.pub, offer)
		if err != nil {
			s.pubMu.Unlock()
			return err
		}
		var res struct{ SDP string }
		if err := s.c.Call(ctx, "webrtc.offer", map[string]any{"sdp": sdp}, &res); err != nil {
			s.pubMu.Unlock()
			return err
		}
		if err := s.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: res.SDP}); err != nil {
			s.pubMu.Unlock()
			return fmt.Errorf("publish answer: %w", err)
		}
	}
	s.pubMu.Unlock()
	return s.c.Call(ctx, "webrtc.restart", nil, nil)
}
