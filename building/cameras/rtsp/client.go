// Package rtsp is a lean RTSP 1.0 client (RFC 2326) for IP cameras: it
// connects, describes, sets up the first video media over TCP-interleaved
// or UDP transport, and hands the caller the video's RTP packets. It
// holds no application state and knows nothing of codecs beyond the SDP,
// so building/cameras and tools may import it; it imports nothing of
// civic.
//
// Everything a camera sends is treated as hostile: responses, SDP,
// interleaved frames and datagrams are parsed strictly and with fixed
// limits, and never make the package panic. Credentials never appear in
// logs or errors, and neither do URLs, which some cameras fill with
// passwords; logs name only the host.
package rtsp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Transports for Options.Transport.
const (
	TransportTCP  = "tcp"  // RTP interleaved on the RTSP connection
	TransportUDP  = "udp"  // RTP and RTCP on a UDP port pair
	TransportAuto = "auto" // UDP, else TCP (see Options.Transport)
)

// Defaults for Options.
const (
	// DefaultTimeout is used when Options.Timeout is zero.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxPacket is a little under 64 KiB, so the largest frame
	// TCP interleaving can carry (65535 bytes) is still refused as a
	// giant: no camera sends RTP packets that big on purpose.
	DefaultMaxPacket = 64000
	// DefaultUserAgent is sent when Options.UserAgent is empty.
	DefaultUserAgent = "civicd-rtsp/1"
)

// Timings that are not options.
const (
	defaultSessionTimeout = 60 * time.Second // RFC 2326 12.37
	minKeepalive          = 250 * time.Millisecond
	udpProbe              = 2 * time.Second // auto: UDP silence before TCP
	teardownTimeout       = 2 * time.Second // Close's TEARDOWN
)

// Options configure Open and Describe. The zero value works.
type Options struct {
	// Transport is TransportTCP, TransportUDP or TransportAuto: UDP,
	// falling back to TCP when SETUP is refused with 461 or no packet
	// arrives within 2 s of PLAY. Default: "tcp".
	Transport string
	// Username and Password answer Basic or Digest challenges; when
	// both are empty the URL's userinfo is used. Never logged.
	Username, Password string
	// Timeout bounds each request, and while playing is the longest
	// time without RTP before ErrStalled. Default: 10 s.
	Timeout time.Duration
	// UserAgent is sent with every request. Default: DefaultUserAgent.
	UserAgent string
	// MaxPacket is the largest interleaved frame or UDP datagram
	// accepted; a bigger one ends Play with ErrPacketTooLarge.
	// Default: DefaultMaxPacket.
	MaxPacket int
	// Logger receives the package's records: debug detail, the auto
	// transport's fallback, failed keepalives. Default: none.
	Logger *slog.Logger
}

// normalize fills defaults and checks values.
func (o Options) normalize() (Options, error) {
	o.Transport = strings.ToLower(o.Transport)
	switch o.Transport {
	case "":
		o.Transport = TransportTCP
	case TransportTCP, TransportUDP, TransportAuto:
	default:
		return o, fmt.Errorf("rtsp: unknown transport %q (want tcp, udp or auto)", o.Transport)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxPacket <= 0 {
		o.MaxPacket = DefaultMaxPacket
	}
	o.MaxPacket = min(o.MaxPacket, 65535)
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if !headerSafe(o.UserAgent) {
		return o, errors.New("rtsp: UserAgent has control characters")
	}
	if !headerSafe(o.Username) || !headerSafe(o.Password) {
		return o, errors.New("rtsp: credentials have control characters")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// target is a parsed camera URL.
type target struct {
	url  string // request URL: no userinfo, no fragment
	addr string // host:port to dial
	host string // for logs
	user string
	pass string
}

// parseTarget checks rawURL. Its errors never quote the URL, which may
// hold a password.
func parseTarget(rawURL string, o Options) (target, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return target{}, fmt.Errorf("rtsp: invalid URL: %v", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "rtsp":
	case "rtsps":
		return target{}, errors.New("rtsp: rtsps (TLS) is not supported")
	default:
		return target{}, fmt.Errorf("rtsp: URL scheme %q is not rtsp", u.Scheme)
	}
	if u.Hostname() == "" {
		return target{}, errors.New("rtsp: URL has no host")
	}
	port := u.Port()
	if port == "" {
		port = "554"
	}
	t := target{addr: net.JoinHostPort(u.Hostname(), port), host: u.Hostname(),
		user: o.Username, pass: o.Password}
	if t.user == "" && t.pass == "" && u.User != nil {
		t.user = u.User.Username()
		t.pass, _ = u.User.Password()
		if !headerSafe(t.user) || !headerSafe(t.pass) {
			return target{}, errors.New("rtsp: URL credentials have control characters")
		}
	}
	// Rebuild the request URL from the raw text rather than u.String(),
	// which re-escapes paths that cameras expect byte for byte.
	s, _, _ := strings.Cut(rawURL, "#")
	i := strings.Index(s, "://") + 3
	end := len(s)
	if j := strings.IndexAny(s[i:], "/?"); j >= 0 {
		end = i + j
	}
	if k := strings.LastIndex(s[i:end], "@"); k >= 0 {
		s = s[:i] + s[i+k+1:]
	}
	if !urlSafe(s) {
		return target{}, errors.New("rtsp: URL has spaces or control characters")
	}
	t.url = s
	return t, nil
}

// Session is one RTSP session with one video media set up: Open makes
// it, Play streams it, Close ends it.
type Session struct {
	// Video is the media that was set up: the SDP's first video.
	Video Media
	// Media lists every RTP media of the SDP, Video among them.
	Media []Media

	o   Options
	t   target
	log *slog.Logger

	mu     sync.Mutex
	l      *link // current connection; replaced on auto's TCP fallback
	closed bool
	played bool
}

// link is one control connection and the transport set up on it.
type link struct {
	c         *conn
	medias    []Media
	video     Media
	aggregate string // URL for PLAY, keepalives and TEARDOWN
	tcp       bool
	rtpCh     byte // interleaved channels, when tcp
	rtcpCh    byte
	udp       *udpPair // when !tcp
	keepalive time.Duration
}

func (l *link) close() {
	l.c.close()
	if l.udp != nil {
		l.udp.close()
	}
}

// Open connects to the camera at rawURL, sends OPTIONS and DESCRIBE,
// picks the first video media and SETUPs it; it returns before PLAY. A
// 401 is answered with Basic or Digest credentials from o or the URL.
// Codecs are not checked: an H.265 camera gives a Session whose
// Video.Codec is "H265", and the caller decides.
func Open(ctx context.Context, rawURL string, o Options) (*Session, error) {
	o, err := o.normalize()
	if err != nil {
		return nil, err
	}
	t, err := parseTarget(rawURL, o)
	if err != nil {
		return nil, err
	}
	s := &Session{o: o, t: t, log: o.Logger.With("host", t.host)}
	l, err := s.connect(ctx, o.Transport)
	if err != nil {
		return nil, err
	}
	s.l, s.Video, s.Media = l, l.video, l.medias
	return s, nil
}

// Describe sends OPTIONS and DESCRIBE only and returns the SDP's media:
// the cheap health probe for a camera nobody watches. When no media is
// video it returns them with ErrNoVideo, so the caller can say what the
// camera offers instead.
func Describe(ctx context.Context, rawURL string, o Options) ([]Media, error) {
	o, err := o.normalize()
	if err != nil {
		return nil, err
	}
	t, err := parseTarget(rawURL, o)
	if err != nil {
		return nil, err
	}
	c, err := dial(ctx, t, o, o.Logger.With("host", t.host))
	if err != nil {
		return nil, err
	}
	defer c.close()
	medias, _, err := describe(ctx, c, t.url)
	if err != nil {
		return nil, err
	}
	if _, ok := firstVideo(medias); !ok {
		return medias, ErrNoVideo
	}
	return medias, nil
}

// Transport returns the transport in use: "tcp" or "udp".
func (s *Session) Transport() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.l.tcp {
		return TransportTCP
	}
	return TransportUDP
}

// connect opens a control connection and sets up the video on it.
func (s *Session) connect(ctx context.Context, transport string) (*link, error) {
	c, err := dial(ctx, s.t, s.o, s.log)
	if err != nil {
		return nil, err
	}
	l := &link{c: c}
	ok := false
	defer func() {
		if !ok {
			l.close()
		}
	}()
	medias, agg, err := describe(ctx, c, s.t.url)
	if err != nil {
		return nil, err
	}
	video, found := firstVideo(medias)
	if !found {
		return nil, ErrNoVideo
	}
	l.medias, l.video, l.aggregate = medias, video, agg
	if err := l.setup(ctx, transport, s.o); err != nil {
		return nil, err
	}
	ok = true
	return l, nil
}

// dial opens the TCP connection.
func dial(ctx context.Context, t target, o Options, log *slog.Logger) (*conn, error) {
	d := net.Dialer{Timeout: o.Timeout}
	nc, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, fmt.Errorf("rtsp: connect: %w", err)
	}
	return newConn(nc, o, t, log), nil
}

// describe sends OPTIONS and DESCRIBE and parses the SDP.
func describe(ctx context.Context, c *conn, reqURL string) ([]Media, string, error) {
	resp, err := c.do(ctx, "OPTIONS", reqURL)
	if err != nil {
		return nil, "", err
	}
	for m := range strings.SplitSeq(resp.header.get("public"), ",") {
		if strings.EqualFold(strings.TrimSpace(m), "GET_PARAMETER") {
			c.getParam = true
		}
	}
	resp, err = c.do(ctx, "DESCRIBE", reqURL, "Accept", "application/sdp")
	if err != nil {
		return nil, "", err
	}
	if ct := resp.header.get("content-type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/sdp") {
		return nil, "", malformed("DESCRIBE answered with Content-Type %s", snippet([]byte(ct)))
	}
	medias, agg, err := parseSDP(resp.body, contentBase(resp.header, reqURL))
	if err != nil {
		return nil, "", fmt.Errorf("DESCRIBE: %w", err)
	}
	return medias, agg, nil
}

// contentBase picks the base URL for control URLs (RFC 2326 C.1.1):
// Content-Base, else Content-Location, else the request URL.
func contentBase(h header, reqURL string) string {
	if b := h.get("content-base"); hasScheme(b) && urlSafe(b) {
		return b
	}
	loc := h.get("content-location")
	if hasScheme(loc) && urlSafe(loc) {
		return loc
	}
	if loc != "" && urlSafe(loc) {
		if base, err := url.Parse(reqURL); err == nil {
			if ref, err := url.Parse(loc); err == nil {
				return base.ResolveReference(ref).String()
			}
		}
	}
	return reqURL
}

// firstVideo returns the first media of type video.
func firstVideo(ms []Media) (Media, bool) {
	for _, m := range ms {
		if m.Type == "video" {
			return m, true
		}
	}
	return Media{}, false
}

// setup SETUPs the video with the wanted transport.
func (l *link) setup(ctx context.Context, transport string, o Options) error {
	switch transport {
	case TransportTCP:
		return l.setupTCP(ctx)
	case TransportUDP:
		return l.setupUDP(ctx, o)
	}
	err := l.setupUDP(ctx, o)
	var se *StatusError
	if errors.As(err, &se) && se.Code == 461 {
		l.c.log.Debug("rtsp: UDP refused with 461, using TCP")
		return l.setupTCP(ctx)
	}
	return err
}

func (l *link) setupTCP(ctx context.Context) error {
	resp, err := l.c.do(ctx, "SETUP", l.video.Control, "Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")
	if err != nil {
		return err
	}
	tr := transportSpec{tcp: true, interleaved: [2]int{0, 1}}
	if v := resp.header.get("transport"); v != "" {
		if tr, err = parseTransport(v); err != nil {
			return err
		}
		if !tr.tcp {
			return malformed("SETUP for TCP answered with UDP transport")
		}
		if tr.interleaved[0] < 0 {
			tr.interleaved = [2]int{0, 1}
		}
	}
	l.tcp, l.rtpCh, l.rtcpCh = true, byte(tr.interleaved[0]), byte(tr.interleaved[1])
	return l.session(resp)
}

func (l *link) setupUDP(ctx context.Context, o Options) error {
	raddr, _ := netip.ParseAddrPort(l.c.nc.RemoteAddr().String())
	server := raddr.Addr().Unmap()
	rtpC, rtcpC, err := listenPair(server)
	if err != nil {
		return fmt.Errorf("rtsp: UDP ports: %w", err)
	}
	u := &udpPair{rtp: rtpC, rtcp: rtcpC, server: server, log: l.c.log}
	port := rtpC.LocalAddr().(*net.UDPAddr).Port
	resp, err := l.c.do(ctx, "SETUP", l.video.Control, "Transport",
		fmt.Sprintf("RTP/AVP;unicast;client_port=%d-%d", port, port+1))
	if err != nil {
		u.close()
		return err
	}
	tr, err := parseTransport(resp.header.get("transport"))
	if err == nil && tr.tcp {
		err = malformed("SETUP for UDP answered with TCP transport")
	}
	if err == nil && tr.clientPort[0] >= 0 && tr.clientPort[0] != port {
		err = malformed("SETUP answer moved our client_port to %d", tr.clientPort[0])
	}
	if err != nil {
		u.close()
		return err
	}
	if tr.serverPort[0] > 0 {
		u.rtpPort, u.rtcpPort = uint16(tr.serverPort[0]), uint16(tr.serverPort[1])
	}
	if tr.source.IsValid() {
		u.server = tr.source
	}
	u.ssrc, u.hasSSRC = tr.ssrc, tr.hasSSRC
	l.tcp, l.udp = false, u
	if err := l.session(resp); err != nil {
		return err
	}
	return nil
}

// session takes the Session header of a SETUP answer.
func (l *link) session(resp *response) error {
	id, timeout, err := parseSession(resp.header.get("session"))
	if err != nil {
		return err
	}
	l.c.wmu.Lock()
	l.c.session = id
	l.c.wmu.Unlock()
	l.keepalive = max(timeout/2, minKeepalive)
	return nil
}

// parseSession parses "id;timeout=N" (RFC 2326 12.37).
func parseSession(v string) (string, time.Duration, error) {
	id, params, _ := strings.Cut(v, ";")
	id = strings.TrimSpace(id)
	if id == "" || len(id) > 256 || !isToken([]byte(id)) && !urlSafe(id) {
		return "", 0, malformed("Session header %s", snippet([]byte(v)))
	}
	timeout := defaultSessionTimeout
	for p := range strings.SplitSeq(params, ";") {
		k, val, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "timeout") {
			n, err := strconv.Atoi(strings.TrimSpace(val))
			if err != nil || n < 0 {
				return "", 0, malformed("Session timeout %s", snippet([]byte(val)))
			}
			if n > 0 {
				timeout = time.Duration(min(n, 86400)) * time.Second
			}
		}
	}
	return id, timeout, nil
}

// Backoff returns how long to wait before reconnect attempt number
// attempt (0 for the first retry): 1 s for attempts 0-2, then 5 s, 10 s,
// and 60 s from attempt 5 on, so a dead camera costs one try a minute.
func Backoff(attempt int) time.Duration {
	switch {
	case attempt < 3:
		return time.Second
	case attempt == 3:
		return 5 * time.Second
	case attempt == 4:
		return 10 * time.Second
	}
	return time.Minute
}
