package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"civic/building/cameras/h264"
	"civic/conference/confclient"
)

// camAPI is a pion API for live-view clients: the default codecs and
// interceptors (a browser's set: NACK, RTCP reports), and every packet
// on 127.0.0.1 over UDP, with TESTING.md section 1's settings. Unless
// verbose, pion's own log is off.
func camAPI(verbose bool) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(n string) bool { return n == "lo" })
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	se.SetRemoteIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if !verbose {
		se.LoggerFactory = &logging.DefaultLoggerFactory{Writer: io.Discard, DefaultLogLevel: logging.LogLevelDisabled, ScopeLevels: map[string]logging.LogLevel{}}
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se)), nil
}

// viewerTimes are the moments of one viewer's start, for first-frame
// figures: camera.watch sent, the offer back, the answer accepted, the
// connection up, the first RTP packet and the first whole keyframe.
type viewerTimes struct {
	Watch, Offer, Answered, Connected, FirstPacket, FirstKey time.Time
}

// camViewer is one live view: a pion peer connection that answers
// civicd's offer on a console websocket, and reads and reassembles the
// H.264 it receives.
type camViewer struct {
	idx int
	cl  *confclient.Client
	pc  *webrtc.PeerConnection
	id  string         // civicd's viewer id
	log *stampLog      // the camera's send times; nil counts everything
	key chan struct{}  // closed at the first whole keyframe
	end chan struct{}  // closed when the track reader returns
	rd  sync.WaitGroup // the track reader

	mu      sync.Mutex
	t       viewerTimes
	win     camWindow // what the counters below count
	seen    firstSeen
	curTS   uint32 // the timestamp of the last packet, and whether it counts
	curIn   bool
	curSet  bool            // curTS and curIn are set (and the window has not changed since)
	lat     []time.Duration // first packet at this viewer − the camera's first packet, per picture
	latLast []time.Duration // the same, from the camera's last packet of the picture
	pkts    int
	bytes   int
	pics    int
	keys    int
	lost    uint64 // packets the assembler found missing, in the window
	broken  uint64 // pictures the assembler dropped for other reasons
	keyOnce sync.Once
}

// watchCamera sends camera.watch on cl, answers civicd's offer with a
// new peer connection and returns the viewer as soon as civicd took the
// answer; media follows.
func watchCamera(ctx context.Context, api *webrtc.API, cl *confclient.Client, camera string, idx int, log *stampLog) (*camViewer, error) {
	v := &camViewer{idx: idx, cl: cl, log: log, key: make(chan struct{}), end: make(chan struct{})}
	v.t.Watch = time.Now()
	var res struct {
		Viewer string `json:"viewer"`
		SDP    string `json:"sdp"`
	}
	if err := cl.Call(ctx, "camera.watch", map[string]any{"camera": camera}, &res); err != nil {
		return nil, err
	}
	offerAt := time.Now()
	v.id = res.Viewer
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	v.pc = pc
	v.mu.Lock()
	v.t.Offer = offerAt
	v.mu.Unlock()
	got := false
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		v.mu.Lock()
		first := !got && t.Kind() == webrtc.RTPCodecTypeVideo
		got = got || first
		v.mu.Unlock()
		if first {
			v.rd.Add(1)
			go v.read(t)
		}
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			v.mu.Lock()
			if v.t.Connected.IsZero() {
				v.t.Connected = time.Now()
			}
			v.mu.Unlock()
		}
	})
	fail := func(err error) (*camViewer, error) {
		v.close(context.WithoutCancel(ctx))
		return nil, err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: res.SDP}); err != nil {
		return fail(fmt.Errorf("civicd's offer: %w", err))
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return fail(err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	if err := cl.Call(ctx, "camera.answer", map[string]any{"viewer": v.id, "sdp": pc.LocalDescription().SDP}, nil); err != nil {
		return fail(err)
	}
	v.mu.Lock()
	v.t.Answered = time.Now()
	v.mu.Unlock()
	return v, nil
}

// read takes the track's packets until the connection closes.
func (v *camViewer) read(t *webrtc.TrackRemote) {
	defer v.rd.Done()
	defer close(v.end)
	asm := h264.NewAssembler(0)
	for {
		pkt, _, err := t.ReadRTP()
		if err != nil {
			return
		}
		v.packet(time.Now(), pkt, asm)
	}
}

// packet counts one packet received at now and feeds the assembler.
func (v *camViewer) packet(now time.Time, pkt *rtp.Packet, asm *h264.Assembler) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.t.FirstPacket.IsZero() {
		v.t.FirstPacket = now
	}
	ts := pkt.Timestamp
	first := v.seen.first(ts)
	if !v.curSet || ts != v.curTS {
		var m sendMark
		var found bool
		v.curTS, v.curSet = ts, true
		m, found, v.curIn = v.counted(ts, now)
		if first && found && v.curIn {
			v.lat = append(v.lat, now.Sub(m.First))
			v.latLast = append(v.latLast, now.Sub(m.Last))
		}
	}
	if v.curIn {
		v.pkts++
		v.bytes += len(pkt.Payload)
	}
	au, ok, err := asm.Push(pkt)
	if err != nil && v.curIn {
		if errors.Is(err, h264.ErrPacketLoss) {
			v.lost++
		} else {
			v.broken++
		}
	}
	if !ok {
		return
	}
	if au.Keyframe && v.t.FirstKey.IsZero() {
		v.t.FirstKey = now
		v.keyOnce.Do(func() { close(v.key) })
	}
	in := v.curIn
	if au.Timestamp != ts { // this packet's new timestamp finished the picture before it
		_, _, in = v.counted(au.Timestamp, now)
	}
	if in {
		v.pics++
		if au.Keyframe {
			v.keys++
		}
	}
}

// counted looks up when the picture with timestamp ts was sent and
// whether it counts in the window: by its send time, or without a send
// log by the arrival time now. v.mu is held.
func (v *camViewer) counted(ts uint32, now time.Time) (sendMark, bool, bool) {
	if v.log == nil {
		return sendMark{}, false, v.win.has(now)
	}
	m, ok := v.log.lookup(ts)
	return m, ok, ok && v.win.has(m.First)
}

// measure starts counting pictures sent in w (zero To: until further
// notice), clearing what was counted before.
func (v *camViewer) measure(w camWindow) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.win, v.curSet = w, false
	v.lat, v.latLast = nil, nil
	v.pkts, v.bytes, v.pics, v.keys, v.lost, v.broken = 0, 0, 0, 0, 0, 0
}

// endWindow closes the window at to, keeping what was counted.
func (v *camViewer) endWindow(to time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.win.To, v.curSet = to, false
}

// viewerCounts is what one viewer counted in a window.
type viewerCounts struct {
	Pkts, Bytes, Pics, Keys int
	Lost, Broken            uint64
	Lat, LatLast            []time.Duration
}

func (v *camViewer) counts() viewerCounts {
	v.mu.Lock()
	defer v.mu.Unlock()
	return viewerCounts{Pkts: v.pkts, Bytes: v.bytes, Pics: v.pics, Keys: v.keys, Lost: v.lost, Broken: v.broken,
		Lat: append([]time.Duration(nil), v.lat...), LatLast: append([]time.Duration(nil), v.latLast...)}
}

func (v *camViewer) times() viewerTimes {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.t
}

// waitKeyframe waits for the first whole keyframe.
func (v *camViewer) waitKeyframe(ctx context.Context, limit time.Duration) error {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-v.key:
		return nil
	case <-v.end:
		return fmt.Errorf("viewer %d: the track ended before a keyframe", v.idx)
	case <-t.C:
		return fmt.Errorf("viewer %d: no whole keyframe within %s (state %s)", v.idx, limit, v.pc.ConnectionState())
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close ends the view: camera.unwatch (when the websocket is still up),
// then the peer connection.
func (v *camViewer) close(ctx context.Context) {
	if v.id != "" {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_ = v.cl.Call(cctx, "camera.unwatch", map[string]any{"viewer": v.id}, nil)
		cancel()
	}
	if v.pc != nil {
		_ = v.pc.Close()
	}
	v.rd.Wait()
}
