// Package rtsptest is a small RTSP 1.0 server for tests, benchmarks and
// bench commands: it plays mounts, each fed by one shared RTP source,
// over TCP-interleaved and UDP transport, with optional Basic or Digest
// auth and injected faults. It listens on loopback only. Only tests and
// test tools may import it; it takes no testing.TB, so benchmarks and
// commands can use it too.
//
// It is lean but real enough for ffprobe to read an H.264 mount from it,
// and cheap enough to serve hundreds of mounts: one goroutine per
// connection, and one per mount only while someone plays it.
package rtsptest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// SourceFunc feeds a mount: it writes packets until ctx ends, and may
// return earlier (a finite clip). Call write from one goroutine at a
// time; it copies the packet out before it returns, blocks while a TCP
// viewer is slow, and returns ctx's error once the mount stops playing,
// which the source should return on.
type SourceFunc = func(ctx context.Context, write func(*rtp.Packet) error) error

// Faults for Mount.Fault.
const (
	FaultGarbage            = "garbage"              // answers any request with bytes that are not RTSP, then closes
	FaultStall              = "stall"                // stops sending RTP after FaultAfter packets; answers requests
	FaultGiant              = "giant"                // sends a 65535-byte frame (UDP: 65000) after FaultAfter packets
	Fault401                = "401"                  // refuses every request with 401, whatever the credentials
	FaultCloseAfterDescribe = "close-after-describe" // closes the connection after answering DESCRIBE
	FaultStaleNonce         = "stale-nonce"          // answers the first good Digest on a connection with stale=true
	FaultUDP461             = "udp-461"              // refuses UDP transport with 461
	FaultUDPSilent          = "udp-silent"           // accepts UDP transport but never sends on it
)

// Mount is what the server plays at one path.
type Mount struct {
	// SDP is the media sections ("m=..." and their a= lines); the
	// server adds v=, o=, s=, c=, t= and a=control:trackID=N to each
	// media that has no control of its own.
	SDP string
	// Source is started when the first session plays the mount and
	// stopped when the last one leaves; every playing session gets its
	// packets, on the track whose payload type matches (else track 0).
	Source SourceFunc
	// User and Password, when User is set, protect every method but
	// OPTIONS with Basic auth, or Digest (MD5) when Digest is set.
	User, Password string
	Digest         bool
	// NoQop makes the Digest challenge carry no qop (RFC 2069 style).
	NoQop bool
	// Fault injects a failure: one of the Fault constants.
	Fault string
	// FaultAfter is how many packets a session gets before FaultStall
	// or FaultGiant strikes. Default: 5.
	FaultAfter int
	// SessionTimeout is the timeout in the Session header, in seconds.
	// Default: 60.
	SessionTimeout int
	// NoGetParameter leaves GET_PARAMETER out of the Public header.
	NoGetParameter bool
	// SSRC, when set, is announced as ssrc= in UDP Transport answers.
	SSRC uint32
}

// Server is a running RTSP server. Its methods are safe for concurrent
// use.
type Server struct {
	ln        net.Listener
	rtp, rtcp *net.UDPConn
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	playing   atomic.Int64

	mu       sync.Mutex
	mounts   map[string]*mount
	conns    map[*conn]struct{}
	requests map[string]int
	nonces   map[string]time.Time // Digest nonce → expiry
	changed  chan struct{}        // closed and replaced on each request or play change
	closed   bool
}

// nonceTTL is how long a Digest nonce is good for.
const nonceTTL = time.Minute

// Start listens on addr, which must be a loopback address such as
// "127.0.0.1:0", and serves until Close. Its UDP RTP and RTCP ports are
// a pair on the same address.
func Start(addr string) (*Server, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("rtsptest: %w", err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("rtsptest: %q is not a loopback address", host)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("rtsptest: %w", err)
	}
	rtpC, rtcpC, err := listenPair(ip)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("rtsptest: UDP ports: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{ln: ln, rtp: rtpC, rtcp: rtcpC, ctx: ctx, cancel: cancel,
		mounts: map[string]*mount{}, conns: map[*conn]struct{}{}, requests: map[string]int{},
		nonces: map[string]time.Time{}, changed: make(chan struct{})}
	s.wg.Go(s.accept)
	s.wg.Go(func() { drain(rtpC) }) // hole punching and RTCP from clients
	s.wg.Go(func() { drain(rtcpC) })
	return s, nil
}

// Addr returns the TCP address, e.g. "127.0.0.1:40123".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL returns the rtsp:// URL of path on this server.
func (s *Server) URL(path string) string { return "rtsp://" + s.Addr() + cleanPath(path) }

// Handle serves m at path (e.g. "/cam1"), replacing any mount there.
func (s *Server) Handle(path string, m Mount) {
	mt := newMount(s, cleanPath(path), m)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mounts[mt.path] = mt
}

// Sessions returns how many sessions are playing now, over all mounts.
func (s *Server) Sessions() int { return int(s.playing.Load()) }

// Requests returns how many requests of method have come in so far.
func (s *Server) Requests(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[method]
}

// WaitRequests waits until at least n requests of method have come in.
func (s *Server) WaitRequests(ctx context.Context, method string, n int) error {
	return s.wait(ctx, func() bool { return s.requests[method] >= n })
}

// WaitSessions waits until exactly n sessions are playing.
func (s *Server) WaitSessions(ctx context.Context, n int) error {
	return s.wait(ctx, func() bool { return s.playing.Load() == int64(n) })
}

func (s *Server) wait(ctx context.Context, done func() bool) error {
	for {
		s.mu.Lock()
		ok, ch := done(), s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// notify wakes the waiters; s.mu is held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Close stops the sources, closes every connection and socket, and waits
// for all goroutines, sources included, to end.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.cancel()
	_ = s.ln.Close()
	_ = s.rtp.Close()
	_ = s.rtcp.Close()
	for _, c := range conns {
		_ = c.nc.Close()
	}
	s.wg.Wait()
	return nil
}

func (s *Server) accept() {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		c := &conn{s: s, nc: nc, br: bufio.NewReader(nc), sessions: map[string]*session{}}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = nc.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(c.serve)
	}
}

// lookup finds the mount for a request URL, and the track it names (-1
// for the aggregate URL).
func (s *Server) lookup(rawURL string) (*mount, int) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, -1
	}
	p := strings.TrimSuffix(u.Path, "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.mounts[p]; m != nil {
		return m, -1
	}
	i := strings.LastIndex(p, "/")
	if i < 0 {
		return nil, -1
	}
	m := s.mounts[p[:i]]
	n, err := strconv.Atoi(strings.TrimPrefix(p[i+1:], "trackID="))
	if m == nil || !strings.HasPrefix(p[i+1:], "trackID=") || err != nil || n < 0 || n >= len(m.pts) {
		return nil, -1
	}
	return m, n
}

// count records a request.
func (s *Server) count(method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[method]++
	s.notify()
}

// conn is one client connection, served by one goroutine.
type conn struct {
	s         *Server
	nc        net.Conn
	br        *bufio.Reader
	wmu       sync.Mutex // serialises writes: responses and RTP frames
	sessions  map[string]*session
	staleDone bool // FaultStaleNonce has struck on this connection
}

// request is one parsed client request.
type request struct {
	method, url, cseq string
	h                 map[string]string // lower-case names, first value
}

func (c *conn) serve() {
	defer func() {
		for _, ss := range c.sessions {
			ss.m.leave(ss)
		}
		_ = c.nc.Close()
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
	}()
	for {
		req, err := readRequest(c.br)
		if err != nil {
			return
		}
		c.s.count(req.method)
		if !c.handle(req) {
			return
		}
	}
}

// write sends bytes under the write lock, with a deadline so a viewer
// that stopped reading cannot hold the source forever.
func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.nc.Write(b)
	return err
}

// reply sends a response; hdr is name, value pairs.
func (c *conn) reply(code int, req *request, hdr []string, body []byte) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "RTSP/1.0 %d %s\r\n", code, reason(code))
	if req.cseq != "" {
		fmt.Fprintf(&b, "CSeq: %s\r\n", req.cseq)
	}
	b.WriteString("Server: rtsptest\r\n")
	for i := 0; i+1 < len(hdr); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", hdr[i], hdr[i+1])
	}
	if len(body) > 0 {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	_ = c.write(b.Bytes())
}

func reason(code int) string {
	switch code {
	case 200:
		return "OK"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 404:
		return "Not Found"
	case 454:
		return "Session Not Found"
	case 455:
		return "Method Not Valid in This State"
	case 459:
		return "Aggregate Operation Not Allowed"
	case 461:
		return "Unsupported Transport"
	case 501:
		return "Not Implemented"
	}
	return "Error"
}

// readRequest reads one request, skipping the interleaved frames
// (RTCP receiver reports) clients send on the same connection.
func readRequest(br *bufio.Reader) (*request, error) {
	for {
		b, err := br.Peek(1)
		if err != nil {
			return nil, err
		}
		switch b[0] {
		case '$':
			h, err := br.Peek(4)
			if err != nil {
				return nil, err
			}
			if _, err := br.Discard(4 + (int(h[2])<<8 | int(h[3]))); err != nil {
				return nil, err
			}
			continue
		case '\r', '\n':
			_, _ = br.Discard(1)
			continue
		}
		break
	}
	budget := 64 << 10
	line, err := readLine(br, &budget)
	if err != nil {
		return nil, err
	}
	f := strings.Fields(line)
	if len(f) != 3 || !strings.HasPrefix(f[2], "RTSP/1.") {
		return nil, fmt.Errorf("bad request line %q", line)
	}
	req := &request{method: f[0], url: f[1], h: map[string]string{}}
	for n := 0; ; n++ {
		line, err := readLine(br, &budget)
		if err != nil {
			return nil, err
		}
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || n > 100 {
			return nil, fmt.Errorf("bad header line %q", line)
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if _, dup := req.h[k]; !dup {
			req.h[k] = strings.TrimSpace(v)
		}
	}
	if cl := req.h["content-length"]; cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 || n > 64<<10 {
			return nil, fmt.Errorf("bad Content-Length %q", cl)
		}
		if _, err := br.Discard(n); err != nil {
			return nil, err
		}
	}
	if cs := req.h["cseq"]; cs != "" {
		if _, err := strconv.Atoi(cs); err == nil && len(cs) < 12 {
			req.cseq = cs
		}
	}
	return req, nil
}

// readLine reads a line without its line end, within budget.
func readLine(br *bufio.Reader, budget *int) (string, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if *budget -= len(chunk); *budget < 0 {
			return "", errors.New("header too long")
		}
		line = append(line, chunk...)
		if err == nil {
			return strings.TrimRight(string(line), "\r\n"), nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return "", err
		}
	}
}

// listenPair binds an even RTP port and the odd RTCP port after it.
func listenPair(ip netip.Addr) (*net.UDPConn, *net.UDPConn, error) {
	for range 64 {
		a, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip.AsSlice()})
		if err != nil {
			return nil, nil, err
		}
		if p := a.LocalAddr().(*net.UDPAddr).Port; p%2 == 0 && p < 65535 {
			if b, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip.AsSlice(), Port: p + 1}); err == nil {
				return a, b, nil
			}
		}
		_ = a.Close()
	}
	return nil, nil, errors.New("no free even/odd port pair")
}

// drain reads and drops datagrams until the socket closes.
func drain(pc *net.UDPConn) {
	buf := make([]byte, 2048)
	for {
		if _, _, err := pc.ReadFromUDPAddrPort(buf); err != nil && !isTemporary(err) {
			return
		}
	}
}

func isTemporary(err error) bool {
	// A client's closed port comes back as ECONNREFUSED on some reads;
	// only a closed socket ends the drain.
	return !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF)
}

// cleanPath makes "/a/b" of "a/b/".
func cleanPath(p string) string {
	return "/" + strings.Trim(p, "/")
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
