package rtsptest

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"
)

// Giant packet sizes: bigger than any client limit under 64 KiB.
const (
	giantTCP = 65535 // the most an interleaved frame's length can say
	giantUDP = 65000 // under IPv4's 65507-byte datagram limit
)

// mount is a Mount being served.
type mount struct {
	s    *Server
	path string
	cfg  Mount
	sdp  string
	pts  []uint8 // first payload type of each media; len is the track count

	mu  sync.Mutex
	cur *run // nil while nobody plays
}

// run is one period in which a mount has viewers: one Source call.
type run struct {
	m      *mount
	ctx    context.Context
	cancel context.CancelFunc
	subs   atomic.Pointer[[]*session] // copy on write: the source reads it lock-free
	buf    []byte                     // marshalled packet, 4 bytes of frame header first
}

// session is one client session on one connection.
type session struct {
	id      string
	c       *conn
	m       *mount
	tracks  []trackState // written before PLAY only, then read by the source
	playing bool         // owned by the connection's goroutine
	sent    int          // packets sent; owned by the source's goroutine
	dead    atomic.Bool  // a write failed: stop sending
}

// trackState is how one track of a session is sent.
type trackState struct {
	setup      bool
	tcp        bool
	rtpCh      byte           // interleaved RTP channel; RTCP is rtpCh+1
	clientPort int            // UDP: the client's RTP port
	client     netip.AddrPort // UDP: where RTP goes
}

func newMount(s *Server, path string, cfg Mount) *mount {
	m := &mount{s: s, path: path, cfg: cfg}
	if m.cfg.FaultAfter <= 0 {
		m.cfg.FaultAfter = 5
	}
	var b strings.Builder
	b.WriteString("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=rtsptest\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\na=control:*\r\na=range:npt=0-\r\n")
	var section []string
	flush := func() {
		if len(section) == 0 {
			return
		}
		hasControl := !strings.HasPrefix(section[0], "m=") // session-level lines get none
		for _, l := range section {
			hasControl = hasControl || strings.HasPrefix(l, "a=control:")
		}
		if !hasControl {
			section = append(section, fmt.Sprintf("a=control:trackID=%d", len(m.pts)-1))
		}
		for _, l := range section {
			b.WriteString(l + "\r\n")
		}
		section = nil
	}
	for l := range strings.SplitSeq(cfg.SDP, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "m=") {
			flush()
			f := strings.Fields(l)
			pt := 0
			if len(f) > 3 {
				pt, _ = strconv.Atoi(f[3])
			}
			m.pts = append(m.pts, uint8(pt))
		}
		section = append(section, l)
	}
	flush()
	m.sdp = b.String()
	return m
}

func (m *mount) sessionTimeout() int {
	if m.cfg.SessionTimeout > 0 {
		return m.cfg.SessionTimeout
	}
	return 60
}

// join adds a playing session, starting the source if it is the first.
func (m *mount) join(ss *session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.cur; r != nil {
		subs := append(slices.Clone(*r.subs.Load()), ss)
		r.subs.Store(&subs)
	} else {
		// The first viewer is subscribed before the source starts, so a
		// source that writes at once loses nothing.
		ctx, cancel := context.WithCancel(m.s.ctx)
		r := &run{m: m, ctx: ctx, cancel: cancel}
		r.subs.Store(&[]*session{ss})
		m.cur = r
		if src := m.cfg.Source; src != nil {
			m.s.wg.Go(func() { _ = src(ctx, r.write) })
		}
	}
	m.s.playing.Add(1)
	m.s.mu.Lock()
	m.s.notify()
	m.s.mu.Unlock()
}

// leave removes a session, stopping the source after the last one. It
// does nothing for a session that is not playing.
func (m *mount) leave(ss *session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.cur
	if r == nil {
		return
	}
	old := *r.subs.Load()
	i := slices.Index(old, ss)
	if i < 0 {
		return
	}
	subs := slices.Delete(slices.Clone(old), i, i+1)
	r.subs.Store(&subs)
	if len(subs) == 0 {
		r.cancel()
		m.cur = nil
	}
	m.s.playing.Add(-1)
	m.s.mu.Lock()
	m.s.notify()
	m.s.mu.Unlock()
}

// write sends one packet to every session of the run.
func (r *run) write(p *rtp.Packet) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	n := p.MarshalSize()
	if n > giantTCP {
		return fmt.Errorf("rtsptest: packet of %d bytes is too big", n)
	}
	if cap(r.buf) < n+4 {
		r.buf = make([]byte, n+4)
	}
	buf := r.buf[:n+4]
	if _, err := p.MarshalTo(buf[4:]); err != nil {
		return err
	}
	track := slices.Index(r.m.pts, p.PayloadType)
	if track < 0 {
		track = 0
	}
	for _, ss := range *r.subs.Load() {
		ss.send(track, buf)
	}
	return nil
}

// send sends frame (4 spare bytes, then the RTP packet) on one track,
// applying the mount's fault.
func (ss *session) send(track int, frame []byte) {
	if ss.dead.Load() || track >= len(ss.tracks) || !ss.tracks[track].setup {
		return
	}
	tr := &ss.tracks[track]
	ss.sent++
	switch cfg := &ss.m.cfg; cfg.Fault {
	case FaultStall:
		if ss.sent > cfg.FaultAfter {
			return
		}
	case FaultGiant:
		if ss.sent == cfg.FaultAfter+1 {
			frame = make([]byte, 4+giantTCP)
			copy(frame[4:], []byte{0x80, ss.m.pts[track]})
			if !tr.tcp {
				frame = frame[:4+giantUDP]
			}
		}
	case FaultUDPSilent:
		if !tr.tcp {
			return
		}
	}
	if !tr.tcp {
		_, _ = ss.c.s.rtp.WriteToUDPAddrPort(frame[4:], tr.client)
		return
	}
	frame[0], frame[1] = '$', tr.rtpCh
	binary.BigEndian.PutUint16(frame[2:], uint16(len(frame)-4))
	if err := ss.c.write(frame); err != nil {
		ss.dead.Store(true)
		_ = ss.c.nc.Close() // the connection's goroutine cleans up
	}
}
