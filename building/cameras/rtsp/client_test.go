package rtsp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"go.uber.org/goleak"

	"civic/building/cameras/rtsp/rtsptest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const videoSDP = "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\n"

// startServer starts an rtsptest server with mounts, closed at cleanup.
func startServer(t testing.TB, mounts map[string]rtsptest.Mount) *rtsptest.Server {
	t.Helper()
	s, err := rtsptest.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for p, m := range mounts {
		s.Handle(p, m)
	}
	return s
}

// collector keeps copies of the packets Play delivers and stops Play
// (by cancelling) once it has want of them.
type collector struct {
	mu     sync.Mutex
	pkts   []rtp.Packet
	want   int
	cancel context.CancelFunc
}

func (c *collector) on(p *rtp.Packet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp := *p.Clone()
	c.pkts = append(c.pkts, cp)
	if len(c.pkts) == c.want {
		c.cancel()
	}
}

func (c *collector) got() []rtp.Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]rtp.Packet(nil), c.pkts...)
}

// play opens url and plays until want packets came or limit passed.
func play(t *testing.T, url string, o Options, want int, limit time.Duration) ([]rtp.Packet, *Session, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	s, err := Open(ctx, url, o)
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() { s.Close() })
	c := &collector{want: want, cancel: cancel}
	err = s.Play(ctx, c.on)
	return c.got(), s, err
}

// checkPackets asserts pkts are exactly packets 0..n-1 of rtsptest.Packets.
func checkPackets(t *testing.T, pkts []rtp.Packet, n, size int) {
	t.Helper()
	if len(pkts) != n {
		t.Fatalf("got %d packets, want %d", len(pkts), n)
	}
	for i, p := range pkts {
		if int(p.SequenceNumber) != i || p.PayloadType != 96 || !bytes.Equal(p.Payload, rtsptest.Payload(i, size)) {
			t.Fatalf("packet %d: seq %d pt %d payload %x..., want seq %d pt 96 and its payload",
				i, p.SequenceNumber, p.PayloadType, p.Payload[:min(8, len(p.Payload))], i)
		}
	}
}

func TestPlayDeliversPackets(t *testing.T) {
	for _, transport := range []string{TransportTCP, TransportUDP} {
		t.Run(transport, func(t *testing.T) {
			const n, size = 200, 700
			srv := startServer(t, map[string]rtsptest.Mount{
				// Paced, so a loaded machine's UDP buffers cannot overflow.
				"/cam": {SDP: videoSDP, Source: rtsptest.Packets(n, 96, size, time.Millisecond)},
			})
			pkts, s, err := play(t, srv.URL("/cam"), Options{Transport: transport}, n, 10*time.Second)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Play: %v, want context.Canceled once all packets came", err)
			}
			checkPackets(t, pkts, n, size)
			if s.Transport() != transport {
				t.Errorf("Transport() = %q, want %q", s.Transport(), transport)
			}
			if s.Video.Codec != "H264" || s.Video.PayloadType != 96 || s.Video.ClockRate != 90000 ||
				s.Video.Control != srv.URL("/cam")+"/trackID=0" || s.Video.Fmtp["packetization-mode"] != "1" {
				t.Errorf("Video = %+v", s.Video)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	const user, pw = "viewer", "s3cr3t-pw"
	mounts := map[string]rtsptest.Mount{
		"/basic":  {SDP: videoSDP, User: user, Password: pw},
		"/digest": {SDP: videoSDP, User: user, Password: pw, Digest: true},
		"/noqop":  {SDP: videoSDP, User: user, Password: pw, Digest: true, NoQop: true},
		"/stale":  {SDP: videoSDP, User: user, Password: pw, Digest: true, Fault: rtsptest.FaultStaleNonce},
		"/401":    {SDP: videoSDP, User: user, Password: pw, Digest: true, Fault: rtsptest.Fault401},
	}
	srv := startServer(t, mounts)
	withUserinfo := strings.Replace(srv.URL("/digest"), "rtsp://", "rtsp://"+user+":"+pw+"@", 1)
	tests := []struct {
		name, url, user, pw string
		wantErr             error
	}{
		{"basic", srv.URL("/basic"), user, pw, nil},
		{"digest", srv.URL("/digest"), user, pw, nil},
		{"digest no qop", srv.URL("/noqop"), user, pw, nil},
		{"digest stale nonce", srv.URL("/stale"), user, pw, nil},
		{"userinfo in URL", withUserinfo, "", "", nil},
		{"basic wrong password", srv.URL("/basic"), user, "wrong", ErrAuth},
		{"digest wrong password", srv.URL("/digest"), user, "wrong", ErrAuth},
		{"no credentials", srv.URL("/digest"), "", "", ErrAuth},
		{"always 401", srv.URL("/401"), user, pw, ErrAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s, err := Open(ctx, tt.url, Options{Username: tt.user, Password: tt.pw, Logger: log})
			if s != nil {
				s.Close()
			}
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("Open: %v, want %v", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), pw) || strings.Contains(logs.String(), pw) {
				t.Errorf("the password leaked: err %v, logs:\n%s", err, logs.String())
			}
		})
	}
	// The stale nonce cost one more DESCRIBE: no credentials, stale, good.
	if got := srv.Requests("TEARDOWN"); got != 5 {
		t.Errorf("%d TEARDOWNs, want one per good session (5)", got)
	}
}

func TestOpenErrors(t *testing.T) {
	srv := startServer(t, map[string]rtsptest.Mount{
		"/garbage": {SDP: videoSDP, Fault: rtsptest.FaultGarbage},
		"/closing": {SDP: videoSDP, Fault: rtsptest.FaultCloseAfterDescribe},
		"/audio":   {SDP: "m=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"},
		"/h265":    {SDP: "m=video 0 RTP/AVP 98\r\na=rtpmap:98 H265/90000\r\na=fmtp:98 sprop-vps=QAEMAf//\r\n"},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	_, err := Open(ctx, srv.URL("/nothing"), Options{})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 404 || se.Method != "DESCRIBE" {
		t.Errorf("unknown path: %v, want a 404 StatusError for DESCRIBE", err)
	}
	if _, err := Open(ctx, srv.URL("/garbage"), Options{}); !errors.Is(err, ErrMalformed) {
		t.Errorf("garbage: %v, want ErrMalformed", err)
	}
	// The server hangs up after DESCRIBE: the SETUP meets EOF, or a reset
	// when the SETUP reached the closing socket first.
	if _, err := Open(ctx, srv.URL("/closing"), Options{}); !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) &&
		!errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("close after DESCRIBE: %v, want EOF or a reset", err)
	}
	if _, err := Open(ctx, srv.URL("/audio"), Options{}); !errors.Is(err, ErrNoVideo) {
		t.Errorf("audio only: %v, want ErrNoVideo", err)
	}
	ms, err := Describe(ctx, srv.URL("/audio"), Options{})
	if !errors.Is(err, ErrNoVideo) || len(ms) != 1 || ms[0].Codec != "PCMU" {
		t.Errorf("Describe audio only: %+v, %v; want the PCMU media and ErrNoVideo", ms, err)
	}
	s, err := Open(ctx, srv.URL("/h265"), Options{})
	if err != nil {
		t.Fatalf("H.265: %v", err)
	}
	defer s.Close()
	if s.Video.Codec != "H265" || s.Video.PayloadType != 98 || s.Video.Fmtp["sprop-vps"] != "QAEMAf//" {
		t.Errorf("H.265 Video = %+v", s.Video)
	}
	for _, bad := range []string{"http://127.0.0.1/x", "rtsps://127.0.0.1/x", "rtsp:///x", "rtsp://h/x y"} {
		if _, err := Open(ctx, bad, Options{}); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
	if _, err := Open(ctx, srv.URL("/h265"), Options{Transport: "sctp"}); err == nil {
		t.Error("an unknown transport was accepted")
	}
}

func TestStall(t *testing.T) {
	for _, transport := range []string{TransportTCP, TransportUDP} {
		t.Run(transport, func(t *testing.T) {
			srv := startServer(t, map[string]rtsptest.Mount{"/cam": {SDP: videoSDP, Fault: rtsptest.FaultStall,
				FaultAfter: 5, Source: rtsptest.Packets(0, 96, 100, 5*time.Millisecond)}})
			const timeout = 400 * time.Millisecond
			var last atomic.Int64
			var count atomic.Int32
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := Open(ctx, srv.URL("/cam"), Options{Transport: transport, Timeout: timeout})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			err = s.Play(ctx, func(*rtp.Packet) { count.Add(1); last.Store(time.Now().UnixNano()) })
			after := time.Since(time.Unix(0, last.Load()))
			if !errors.Is(err, ErrStalled) {
				t.Fatalf("Play: %v, want ErrStalled", err)
			}
			if count.Load() != 5 {
				t.Errorf("%d packets before the stall, want 5", count.Load())
			}
			if after < timeout || after > timeout+time.Second {
				t.Errorf("ErrStalled came %v after the last packet, want within [%v, %v]", after, timeout, timeout+time.Second)
			}
		})
	}
}

func TestGiantPacket(t *testing.T) {
	for _, transport := range []string{TransportTCP, TransportUDP} {
		t.Run(transport, func(t *testing.T) {
			srv := startServer(t, map[string]rtsptest.Mount{"/cam": {SDP: videoSDP, Fault: rtsptest.FaultGiant,
				FaultAfter: 3, Source: rtsptest.Packets(0, 96, 100, time.Millisecond)}})
			pkts, _, err := play(t, srv.URL("/cam"), Options{Transport: transport}, 1000, 10*time.Second)
			if !errors.Is(err, ErrPacketTooLarge) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("Play: %v, want ErrPacketTooLarge, which is also ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), "64000") {
				t.Errorf("error %q does not name the limit", err)
			}
			if len(pkts) != 3 {
				t.Errorf("%d packets before the giant, want 3", len(pkts))
			}
		})
	}
}

func TestKeepalive(t *testing.T) {
	tests := []struct {
		name   string
		noGet  bool
		method string
		want   int
	}{
		{"GET_PARAMETER", false, "GET_PARAMETER", 2},
		{"OPTIONS when GET_PARAMETER is not public", true, "OPTIONS", 3}, // one was Open's
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, map[string]rtsptest.Mount{"/cam": {SDP: videoSDP, SessionTimeout: 1,
				NoGetParameter: tt.noGet, Source: rtsptest.Packets(0, 96, 100, 10*time.Millisecond)}})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := Open(ctx, srv.URL("/cam"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			done := make(chan error, 1)
			go func() { done <- s.Play(ctx, func(*rtp.Packet) {}) }()
			// timeout=1 makes keepalives every 500 ms; two of them must
			// come within a few seconds, on the same playing session.
			if err := srv.WaitRequests(ctx, tt.method, tt.want); err != nil {
				t.Fatalf("waiting for %d %s: %v (have %d)", tt.want, tt.method, err, srv.Requests(tt.method))
			}
			if srv.Sessions() != 1 {
				t.Errorf("%d sessions playing, want 1", srv.Sessions())
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Play: %v, want context.Canceled", err)
			}
		})
	}
}

func TestCloseTearsDown(t *testing.T) {
	srv := startServer(t, map[string]rtsptest.Mount{"/cam": {SDP: videoSDP,
		Source: rtsptest.Packets(0, 96, 100, 10*time.Millisecond)}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, srv.URL("/cam"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Play(ctx, func(*rtp.Packet) {}) }()
	if err := srv.WaitSessions(ctx, 1); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 3 { // concurrent Closes: one TEARDOWN
		wg.Go(func() { _ = s.Close() })
	}
	wg.Wait()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("Play after Close: %v, want ErrClosed", err)
	}
	if err := srv.WaitSessions(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests("TEARDOWN"); got != 1 {
		t.Errorf("%d TEARDOWNs, want 1", got)
	}
	if err := s.Play(ctx, func(*rtp.Packet) {}); !errors.Is(err, ErrClosed) {
		t.Errorf("Play on a closed session: %v, want ErrClosed", err)
	}

	// Close without Play also ends the server's session.
	s2, err := Open(ctx, srv.URL("/cam"), Options{Transport: TransportUDP})
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	if got := srv.Requests("TEARDOWN"); got != 2 {
		t.Errorf("%d TEARDOWNs, want 2", got)
	}
}

func TestAutoTransport(t *testing.T) {
	tests := []struct {
		name, fault string
		setups      int
	}{
		{"UDP works", "", 1},
		{"UDP refused with 461", rtsptest.FaultUDP461, 2},
		{"UDP silent", rtsptest.FaultUDPSilent, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 50
			srv := startServer(t, map[string]rtsptest.Mount{"/cam": {SDP: videoSDP, Fault: tt.fault,
				Source: rtsptest.Packets(0, 96, 200, 5*time.Millisecond)}})
			var want = TransportTCP
			if tt.fault == "" {
				want = TransportUDP
			}
			pkts, s, err := play(t, srv.URL("/cam"), Options{Transport: TransportAuto}, n, 10*time.Second)
			if !errors.Is(err, context.Canceled) || len(pkts) != n {
				t.Fatalf("Play: %v after %d packets, want context.Canceled after %d", err, len(pkts), n)
			}
			if s.Transport() != want {
				t.Errorf("Transport() = %q, want %q", s.Transport(), want)
			}
			if got := srv.Requests("SETUP"); got != tt.setups {
				t.Errorf("%d SETUPs, want %d", got, tt.setups)
			}
		})
	}
}

// TestUDPIgnoresStrangers: a datagram from another port on our RTP port
// is dropped, not delivered.
func TestUDPIgnoresStrangers(t *testing.T) {
	const n, size = 20, 64
	srv := startServer(t, map[string]rtsptest.Mount{"/cam": {SDP: videoSDP, SSRC: 0x5eed,
		Source: rtsptest.Packets(n, 96, size, 0)}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, srv.URL("/cam"), Options{Transport: TransportUDP})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u := s.l.udp
	if !u.hasSSRC || u.ssrc != 0x5eed || u.rtpPort == 0 {
		t.Errorf("SETUP answer not taken: ssrc %x (%v), server port %d", u.ssrc, u.hasSSRC, u.rtpPort)
	}
	stranger, err := net.DialUDP("udp", nil, u.rtp.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	fake := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 999}, Payload: []byte("evil")}
	b, _ := fake.Marshal()
	if _, err := stranger.Write(b); err != nil {
		t.Fatal(err)
	}
	c := &collector{want: n, cancel: cancel}
	if err := s.Play(ctx, c.on); !errors.Is(err, context.Canceled) {
		t.Fatalf("Play: %v", err)
	}
	checkPackets(t, c.got(), n, size)
	if u.strangers.Load() != 1 {
		t.Errorf("%d datagrams dropped as strangers, want 1", u.strangers.Load())
	}
}

// TestSharedSource: several viewers of one mount share one source run.
func TestSharedSource(t *testing.T) {
	var runs atomic.Int32
	src := rtsptest.Packets(0, 96, 100, 5*time.Millisecond)
	srv := startServer(t, map[string]rtsptest.Mount{"/cam": {SDP: videoSDP,
		Source: func(ctx context.Context, w func(*rtp.Packet) error) error { runs.Add(1); return src(ctx, w) }}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const viewers = 3
	var wg sync.WaitGroup
	var got [viewers]atomic.Int32
	for i := range viewers {
		s, err := Open(ctx, srv.URL("/cam"), Options{Transport: []string{"tcp", "udp", "tcp"}[i]})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		wg.Go(func() { _ = s.Play(ctx, func(*rtp.Packet) { got[i].Add(1) }) })
	}
	if err := srv.WaitSessions(ctx, viewers); err != nil {
		t.Fatal(err)
	}
	cancel()
	wg.Wait()
	if runs.Load() != 1 {
		t.Errorf("source ran %d times, want once for all viewers", runs.Load())
	}
}

// TestMuteServer: Open gives up at the context's deadline or at Timeout,
// whichever comes first.
func TestMuteServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accepts, then says nothing
		c, err := ln.Accept()
		if err == nil {
			_, _ = io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Open(ctx, "rtsp://"+ln.Addr().String()+"/cam", Options{Timeout: 5 * time.Second})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("Open against a mute server: %v after %v, want the context's deadline", err, time.Since(start))
	}
	_, err = Open(context.Background(), "rtsp://"+ln.Addr().String()+"/cam", Options{Timeout: 200 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "no answer within") {
		t.Errorf("Open against a mute server: %v, want a timeout", err)
	}
}

// TestManyMounts: one server plays 200 mounts to 200 sessions at once,
// each getting its own mount's packets.
func TestManyMounts(t *testing.T) {
	const mounts, want = 200, 3
	srv := startServer(t, nil)
	for i := range mounts {
		srv.Handle(fmt.Sprintf("/cam%d", i), rtsptest.Mount{SDP: videoSDP,
			Source: rtsptest.Packets(0, 96, 50+i, 20*time.Millisecond)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, mounts)
	for i := range mounts {
		wg.Go(func() {
			pctx, pcancel := context.WithCancel(ctx)
			defer pcancel()
			s, err := Open(pctx, srv.URL(fmt.Sprintf("/cam%d", i)), Options{})
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			var n atomic.Int32
			err = s.Play(pctx, func(p *rtp.Packet) {
				if len(p.Payload) != 50+i {
					errs <- fmt.Errorf("mount %d: packet of %d bytes is another mount's", i, len(p.Payload))
				}
				if n.Add(1) == want {
					pcancel()
				}
			})
			if n.Load() < want {
				errs <- fmt.Errorf("mount %d: %d packets: %v", i, n.Load(), err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := srv.Requests("PLAY"); got != mounts {
		t.Errorf("%d PLAYs, want %d", got, mounts)
	}
	if err := srv.WaitSessions(ctx, 0); err != nil {
		t.Errorf("sessions still playing after every client closed: %d", srv.Sessions())
	}
}
