package cameras

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"civic/building/cameras/h264"
)

// Viewer is one console watching one camera over WebRTC: civicd offers
// a send-only H.264 track, the console answers. Every viewer of a camera
// gets the packets of the camera's one RTSP session; a new viewer starts
// at the next keyframe, so it never shows a grey or smeared picture.
type Viewer struct {
	ID     string
	Camera string
	w      *worker
	pc     *webrtc.PeerConnection
	track  *webrtc.TrackLocalStaticRTP
	closed chan struct{}
	once   sync.Once

	mu       sync.Mutex // write's state
	ready    bool       // the connection is up: packets written now reach the viewer
	started  bool       // a keyframe has gone out; later pictures may follow
	seq      uint16     // the viewer's own sequence numbers: it sees no gaps from the frames it skipped
	watchAt  time.Time
	firstKey time.Time
	onClose  func()
}

// Watch starts a viewer of camera id and returns it with civicd's offer
// (all candidates included). The viewer ends on Close, when the
// connection fails, or when the camera is removed.
func (s *Service) Watch(ctx context.Context, id string) (*Viewer, string, error) {
	if s.cfg.NewPeerConnection == nil {
		return nil, "", fmt.Errorf("%w: live view is not set up", ErrUnavailable)
	}
	w := s.worker(id)
	if w == nil {
		return nil, "", fmt.Errorf("%w: no camera %q", ErrNotFound, id)
	}
	w.mu.Lock()
	cam, codec, sps, n := w.cam, w.codec, w.sps, len(w.viewers)
	w.mu.Unlock()
	if !cam.Enabled {
		return nil, "", fmt.Errorf("%w: camera %s is switched off", ErrUnavailable, cam.Name)
	}
	if codec != "" && codec != "H264" {
		return nil, "", fmt.Errorf("%w: camera %s sends %s; %s", ErrUnsupported, cam.Name, codec, ReasonCodec)
	}
	if n >= s.cfg.MaxViewers {
		return nil, "", fmt.Errorf("%w: camera %s has %d viewers already", ErrTooMany, cam.Name, n)
	}
	profile := "42e01f"
	if len(sps) >= 4 {
		profile = matchProfile(h264.ProfileLevelID(sps))
	}
	pc, err := s.cfg.NewPeerConnection()
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=" + profile}, "video", "camera-"+id)
	if err != nil {
		_ = pc.Close()
		return nil, "", err
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		_ = pc.Close()
		return nil, "", err
	}
	v := &Viewer{ID: newID(), Camera: id, w: w, pc: pc, track: track, closed: make(chan struct{}), watchAt: time.Now(),
		seq: uint16(time.Now().UnixNano())}
	go func() {
		// Read the viewer's RTCP (receiver reports, PLIs) so the
		// interceptors run; a camera cannot be asked for a keyframe.
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	}()
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateConnected:
			// Packets written before DTLS is up are dropped, so the
			// keyframe the view starts from must come after.
			v.mu.Lock()
			v.ready = true
			v.mu.Unlock()
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			v.Close()
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err == nil {
		gathered := webrtc.GatheringCompletePromise(pc)
		if err = pc.SetLocalDescription(offer); err == nil {
			select {
			case <-gathered:
			case <-time.After(3 * time.Second):
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
	}
	if err != nil {
		_ = pc.Close()
		return nil, "", fmt.Errorf("live view offer: %w", err)
	}
	w.mu.Lock()
	if len(w.viewers) >= s.cfg.MaxViewers {
		w.mu.Unlock()
		_ = pc.Close()
		return nil, "", fmt.Errorf("%w: camera %s has %d viewers already", ErrTooMany, cam.Name, s.cfg.MaxViewers)
	}
	w.viewers[v] = struct{}{}
	w.mu.Unlock()
	w.poke()
	s.log.Info("camera: viewer joined", "camera", id, "viewer", v.ID)
	s.publishStatus(w)
	return v, pc.LocalDescription().SDP, nil
}

// matchProfile picks the offered profile-level-id for a camera's own:
// the same profile, at the level civicd offers.
func matchProfile(cam string) string {
	if len(cam) != 6 {
		return "42e01f"
	}
	switch cam[:2] {
	case "4d":
		return "4d001f"
	case "64":
		return "64001f"
	case "42":
		if cam[2:4] == "00" {
			return "42001f"
		}
	}
	return "42e01f"
}

// Answer takes the console's answer to the offer.
func (v *Viewer) Answer(sdp string) error {
	if err := v.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("%w: the answer: %v", ErrInvalid, err)
	}
	return nil
}

// AddCandidate takes one of the console's trickled ICE candidates.
func (v *Viewer) AddCandidate(c webrtc.ICECandidateInit) error {
	if err := v.pc.AddICECandidate(c); err != nil {
		return fmt.Errorf("%w: the candidate: %v", ErrInvalid, err)
	}
	return nil
}

// OnClose sets f to run once when the viewer ends (for any reason).
func (v *Viewer) OnClose(f func()) {
	v.mu.Lock()
	v.onClose = f
	v.mu.Unlock()
	select {
	case <-v.closed:
		f()
	default:
	}
}

// Done is closed when the viewer has ended.
func (v *Viewer) Done() <-chan struct{} { return v.closed }

// Close ends the viewer. The camera's session stays up for the grace
// period, for a viewer that comes back.
func (v *Viewer) Close() {
	v.once.Do(func() {
		close(v.closed)
		w := v.w
		w.mu.Lock()
		delete(w.viewers, v)
		if len(w.viewers) == 0 {
			w.lastView = time.Now()
		}
		w.mu.Unlock()
		_ = v.pc.Close()
		w.s.log.Info("camera: viewer left", "camera", v.Camera, "viewer", v.ID)
		w.s.publishStatus(w)
		v.mu.Lock()
		f := v.onClose
		v.mu.Unlock()
		if f != nil {
			f()
		}
	})
}

// resync makes the viewer wait for the next keyframe (a new session, or
// a loss that broke the picture).
func (v *Viewer) resync() {
	v.mu.Lock()
	v.started = false
	v.mu.Unlock()
}

// write sends one picture's packets, from the first keyframe on.
func (v *Viewer) write(pkts []*rtp.Packet, keyframe bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.ready {
		return
	}
	if !v.started {
		if !keyframe {
			return
		}
		v.started = true
		if v.firstKey.IsZero() {
			v.firstKey = time.Now()
		}
	}
	for _, p := range pkts {
		out := rtp.Packet{Header: p.Header, Payload: p.Payload}
		out.SequenceNumber = v.seq
		v.seq++
		// An error is a closed connection; Close follows from its
		// state change.
		_ = v.track.WriteRTP(&out)
	}
}

// FirstKeyframeAfter is how long the viewer waited for its first
// keyframe (zero while it still waits).
func (v *Viewer) FirstKeyframeAfter() time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.firstKey.IsZero() {
		return 0
	}
	return v.firstKey.Sub(v.watchAt)
}
