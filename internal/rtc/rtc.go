// Package rtc is civicd's WebRTC plumbing, in one place: the pion API
// (codecs, header extensions, interceptors), the one UDP port muxed for
// every peer, the ICE-TCP listener, NAT 1:1, and the loopback settings that
// tests use. Meetings, camera live views and browser-to-phone calls all
// make their peer connections with an Engine, so there is one port, one
// ICE set-up and one place to tune.
//
// conference (and later building/cameras and voip, through interfaces
// they own) import rtc; it imports nothing from civicd.
package rtc

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"sync"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Config is the WebRTC transport set-up.
type Config struct {
	// Host is the address the UDP and TCP ports bind to; "" binds all.
	Host string
	// UDPPort is the one UDP port for every peer; 0 picks a free one.
	UDPPort int
	// TCPPort is the ICE-TCP port; 0 picks a free one, -1 turns it off.
	TCPPort int
	// PublicIP is announced instead of local addresses (NAT 1:1).
	PublicIP string
	// Interfaces limits candidates to these interfaces; empty means all.
	Interfaces []string
	// ICEServers are handed to browsers (the server itself needs none).
	ICEServers []webrtc.ICEServer
	// LoopbackOnly keeps every candidate and every packet on 127.0.0.1.
	// Tests set it.
	LoopbackOnly bool
	// StartBitrate is the send-side bandwidth estimate a subscribe
	// connection starts from, in bits/s. Default: 1 Mbit/s.
	StartBitrate int
}

// nackHistory is how many sent packets each stream keeps for
// retransmission on NACK (a power of two).
const nackHistory = 256

// Estimator is a subscribe connection's send-side bandwidth estimate
// (Google congestion control over transport-wide feedback).
type Estimator interface {
	// GetTargetBitrate is the current estimate in bits/s.
	GetTargetBitrate() int
	// GetStats has the estimator's state: "usage" (overuse, normal,
	// underuse) and "averageLoss" (0-1) among others.
	GetStats() map[string]any
}

// Engine makes peer connections that share the muxed ports.
type Engine struct {
	api     *webrtc.API // publish connections: civicd receives
	subAPI  *webrtc.API // subscribe connections: civicd sends, with BWE
	viewAPI *webrtc.API // camera live view: civicd sends a camera's H.264 as it comes
	// estMu makes a subscribe connection and catches its estimator,
	// which the cc interceptor hands over during NewPeerConnection.
	estMu  sync.Mutex
	newEst cc.BandwidthEstimator
	udp    *net.UDPConn
	udpMux ice.UDPMux
	tcp    net.Listener
	tcpMux ice.TCPMux
	cfg    Config
}

// New binds the ports and builds the pion API. A busy port is named in
// the error with its config key.
func New(cfg Config, logger *slog.Logger) (*Engine, error) {
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(cfg.Host), Port: cfg.UDPPort})
	if err != nil {
		return nil, fmt.Errorf("webrtc: cannot listen on udp %s (webrtc.udp_port): %w", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.UDPPort)), err)
	}
	e := &Engine{udp: udp, cfg: cfg}
	e.udpMux = ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: udp})
	if cfg.TCPPort >= 0 {
		e.tcp, err = net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.TCPPort)))
		if err != nil {
			e.udpMux.Close()
			return nil, fmt.Errorf("webrtc: cannot listen on tcp %s (webrtc.tcp_port): %w", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.TCPPort)), err)
		}
		e.tcpMux = webrtc.NewICETCPMux(nil, e.tcp, 8)
	}

	se := webrtc.SettingEngine{}
	se.SetICEUDPMux(e.udpMux)
	types := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if e.tcpMux != nil {
		se.SetICETCPMux(e.tcpMux)
		types = append(types, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	if cfg.PublicIP != "" {
		se.SetNAT1To1IPs([]string{cfg.PublicIP}, webrtc.ICECandidateTypeHost)
	}
	if len(cfg.Interfaces) > 0 {
		allowed := map[string]bool{}
		for _, n := range cfg.Interfaces {
			allowed[n] = true
		}
		se.SetInterfaceFilter(func(name string) bool { return allowed[name] })
	}
	if cfg.LoopbackOnly {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
		se.SetRemoteIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		types = []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4}
	}
	se.SetNetworkTypes(types)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// civicd offers, so it is the controlling agent; pion waits 1 s before
	// it nominates a pair with a peer-reflexive remote, which is what a
	// browser is when its host candidates are hidden (mDNS) or filtered.
	// That second is pure wait: nominate at once (measured: a camera view
	// connected in 70-88 ms instead of 1.02-1.16 s).
	se.SetPrflxAcceptanceMinWait(0)
	if e.api, err = newAPI(se, nil, registerCodecs); err != nil {
		e.Close()
		return nil, err
	}
	if e.viewAPI, err = newAPI(se, nil, registerCameraCodecs); err != nil {
		e.Close()
		return nil, err
	}
	start := cfg.StartBitrate
	if start <= 0 {
		start = 1_000_000
	}
	bwe, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
		// No pacer: packets go out as they come, so forwarding adds no
		// queueing delay; the estimate only steers layer choice.
		return gcc.NewSendSideBWE(gcc.SendSideBWEInitialBitrate(start), gcc.SendSideBWEMinBitrate(100_000),
			gcc.SendSideBWEMaxBitrate(50_000_000), gcc.SendSideBWEPacer(gcc.NewNoOpPacer()))
	})
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("webrtc: bandwidth estimation: %w", err)
	}
	bwe.OnNewPeerConnection(func(_ string, est cc.BandwidthEstimator) { e.newEst = est })
	if e.subAPI, err = newAPI(se, bwe, registerCodecs); err != nil {
		e.Close()
		return nil, err
	}
	logger.Info("webrtc listening", "udp", udp.LocalAddr().String(), "tcp", e.TCPAddr())
	return e, nil
}

// newAPI builds a pion API with civicd's codecs and the default
// interceptors (NACK, RTCP reports, TWCC feedback). With bwe, outgoing
// packets also carry transport-wide sequence numbers and the feedback
// drives bwe's estimator.
func newAPI(se webrtc.SettingEngine, bwe interceptor.Factory, codecs func(*webrtc.MediaEngine) error) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := codecs(m); err != nil {
		return nil, err
	}
	// pion's defaults, less the stats interceptor (civicd reads no pion
	// stats; it costs time on every packet) and with a shorter NACK
	// history: 256 packets per sent stream, about a second and a half of
	// 1.5 Mbit/s video, instead of 1024 (1.5 MB per stream).
	reg := &interceptor.Registry{}
	if err := webrtc.ConfigureNackWithOptions(m, reg, nil, nack.ResponderSize(nackHistory)); err != nil {
		return nil, fmt.Errorf("webrtc: nack: %w", err)
	}
	if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		return nil, fmt.Errorf("webrtc: rtcp reports: %w", err)
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
		return nil, fmt.Errorf("webrtc: simulcast: %w", err)
	}
	if err := webrtc.ConfigureTWCCSender(m, reg); err != nil {
		return nil, fmt.Errorf("webrtc: twcc: %w", err)
	}
	if bwe != nil {
		// Added first, so it runs after the header extension interceptor
		// has numbered the packet.
		reg.Add(twccOnlyFactory{bwe})
		if err := webrtc.ConfigureTWCCHeaderExtensionSender(m, reg); err != nil {
			return nil, fmt.Errorf("webrtc: twcc: %w", err)
		}
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se)), nil
}

// twccOnlyFactory wraps the estimator's interceptor so that streams the
// peer did not negotiate transport-wide feedback for pass around it (the
// estimator refuses packets without the sequence number).
type twccOnlyFactory struct{ inner interceptor.Factory }

func (f twccOnlyFactory) NewInterceptor(id string) (interceptor.Interceptor, error) {
	i, err := f.inner.NewInterceptor(id)
	if err != nil {
		return nil, err
	}
	return twccOnly{i}, nil
}

type twccOnly struct{ interceptor.Interceptor }

func (t twccOnly) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	for _, e := range info.RTPHeaderExtensions {
		if e.URI == sdp.TransportCCURI {
			return t.Interceptor.BindLocalStream(info, w)
		}
	}
	return w
}

// registerCodecs registers what civicd forwards: Opus, VP8 and H.264 for
// browsers, and G.722, PCMU and PCMA, which phones publish.
func registerCodecs(m *webrtc.MediaEngine) error {
	fb := []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "transport-cc"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	video := []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb}, PayloadType: 96},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=96"}, PayloadType: 97},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", RTCPFeedback: fb}, PayloadType: 102},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=102"}, PayloadType: 103},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f", RTCPFeedback: fb}, PayloadType: 104},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=104"}, PayloadType: 105},
	}
	audio := []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1", RTCPFeedback: []webrtc.RTCPFeedback{{Type: "transport-cc"}}}, PayloadType: 111},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeG722, ClockRate: 8000}, PayloadType: 9},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8},
	}
	for _, c := range video {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeVideo); err != nil {
			return fmt.Errorf("webrtc: register %s: %w", c.MimeType, err)
		}
	}
	for _, c := range audio {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return fmt.Errorf("webrtc: register %s: %w", c.MimeType, err)
		}
	}
	for _, ext := range []struct {
		uri  string
		kind webrtc.RTPCodecType
	}{
		{"urn:ietf:params:rtp-hdrext:ssrc-audio-level", webrtc.RTPCodecTypeAudio},
		{"urn:ietf:params:rtp-hdrext:sdes:mid", webrtc.RTPCodecTypeVideo},
		{"urn:ietf:params:rtp-hdrext:sdes:mid", webrtc.RTPCodecTypeAudio},
		{"urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id", webrtc.RTPCodecTypeVideo},
		{"urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id", webrtc.RTPCodecTypeVideo},
	} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: ext.uri}, ext.kind); err != nil {
			return fmt.Errorf("webrtc: header extension %s: %w", ext.uri, err)
		}
	}
	return nil
}

// registerCameraCodecs registers H.264 in the profiles cameras send:
// constrained baseline, baseline, main and high. Camera video is passed
// through untouched, so the browser must accept the camera's own
// profile; browsers decode all four.
func registerCameraCodecs(m *webrtc.MediaEngine) error {
	fb := []webrtc.RTCPFeedback{{Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	pt := webrtc.PayloadType(102)
	for _, profile := range CameraH264Profiles {
		codecs := []webrtc.RTPCodecParameters{
			{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
				SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=" + profile, RTCPFeedback: fb}, PayloadType: pt},
			{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000,
				SDPFmtpLine: fmt.Sprintf("apt=%d", pt)}, PayloadType: pt + 1},
		}
		for _, c := range codecs {
			if err := m.RegisterCodec(c, webrtc.RTPCodecTypeVideo); err != nil {
				return fmt.Errorf("webrtc: register %s: %w", c.MimeType, err)
			}
		}
		pt += 2
	}
	return nil
}

// CameraH264Profiles are the H.264 profile-level-ids offered for camera
// live view: constrained baseline, baseline, main and high, at level 3.1
// (browsers take any level of a profile they decode).
var CameraH264Profiles = []string{"42e01f", "42001f", "4d001f", "64001f"}

// NewViewerConnection makes a peer connection on the shared ports for
// camera live view: civicd sends one H.264 track as the camera made it,
// with no simulcast and no bandwidth estimation.
func (e *Engine) NewViewerConnection() (*webrtc.PeerConnection, error) {
	return e.viewAPI.NewPeerConnection(webrtc.Configuration{})
}

// NewPeerConnection makes a peer connection on the shared ports, for
// receiving media.
func (e *Engine) NewPeerConnection() (*webrtc.PeerConnection, error) {
	return e.api.NewPeerConnection(webrtc.Configuration{})
}

// NewSubscriberConnection makes a peer connection for sending media,
// with its bandwidth estimator.
func (e *Engine) NewSubscriberConnection() (*webrtc.PeerConnection, Estimator, error) {
	e.estMu.Lock()
	defer e.estMu.Unlock()
	e.newEst = nil
	pc, err := e.subAPI.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, nil, err
	}
	est := e.newEst
	e.newEst = nil
	if est == nil {
		_ = pc.Close()
		return nil, nil, errors.New("webrtc: no bandwidth estimator for the connection")
	}
	return pc, est, nil
}

// ICEServers are the STUN/TURN servers to hand to browsers.
func (e *Engine) ICEServers() []webrtc.ICEServer { return e.cfg.ICEServers }

// UDPAddr is the bound UDP address.
func (e *Engine) UDPAddr() string { return e.udp.LocalAddr().String() }

// TCPAddr is the bound ICE-TCP address, or "" when it is off.
func (e *Engine) TCPAddr() string {
	if e.tcp == nil {
		return ""
	}
	return e.tcp.Addr().String()
}

// Close releases the ports. Peer connections should be closed first.
func (e *Engine) Close() error {
	var errs []error
	if e.tcpMux != nil {
		errs = append(errs, e.tcpMux.Close())
	}
	if e.udpMux != nil {
		errs = append(errs, e.udpMux.Close())
	}
	return errors.Join(errs...)
}
