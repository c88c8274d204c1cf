// Package relay anchors a call's media in civicd. Each leg of a call (the
// caller's phone, the callee's) gets a pair of UDP ports, RTP and RTCP,
// from the configured range; what arrives on one leg's ports goes out of
// the other leg's ports to that phone.
//
// Phones behind NAT put private addresses in their SDP, so the relay uses
// symmetric RTP with latching: a leg's packets are sent back to the
// address they come from, whatever the SDP said. To keep a stranger from
// taking over a call (RTP injection), a leg latches only onto packets from
// an address it was told about: the SDP's, or the one the phone's SIP
// came from. Once latched, packets from anywhere else are dropped, until
// the latched source has been silent for relatchAfter (a phone whose NAT
// binding moved).
//
// The relay also reads RFC 4733 telephone-events on the way through and
// reports each key press once.
package relay

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"civic/voip/dtmf"
)

// relatchAfter is how long a latched source must be silent before another
// allowed address may take its place.
const relatchAfter = 2 * time.Second

// ErrNoPorts means every port pair of the range is in use.
var ErrNoPorts = errors.New("relay: no free RTP ports")

// Ports hands out RTP/RTCP port pairs (an even RTP port, RTCP above it)
// from a range, on one host address.
type Ports struct {
	host   netip.Addr
	lo, hi int
	mu     sync.Mutex
	next   int
	inUse  map[int]bool
}

// NewPorts makes a pool of the pairs in lo-hi (lo even) bound on host.
func NewPorts(host netip.Addr, lo, hi int) (*Ports, error) {
	if lo%2 != 0 || lo < 1024 || hi > 65535 || hi <= lo {
		return nil, fmt.Errorf("relay: port range %d-%d: want an even low port, low < high, within 1024-65535", lo, hi)
	}
	return &Ports{host: host, lo: lo, hi: hi, next: lo, inUse: make(map[int]bool)}, nil
}

// Free is how many pairs are not in use.
func (p *Ports) Free() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return (p.hi-p.lo+1)/2 - len(p.inUse)
}

// pair binds the next free pair. A port taken by another program is
// skipped.
func (p *Ports) pair() (rtp, rtcp *net.UDPConn, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pairs := (p.hi - p.lo + 1) / 2
	for range pairs {
		port := p.next
		p.next += 2
		if p.next+1 > p.hi {
			p.next = p.lo
		}
		if p.inUse[port] {
			continue
		}
		rtp, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.host, uint16(port))))
		if err != nil {
			continue
		}
		rtcp, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.host, uint16(port+1))))
		if err != nil {
			rtp.Close()
			continue
		}
		p.inUse[port] = true
		return rtp, rtcp, nil
	}
	return nil, nil, ErrNoPorts
}

func (p *Ports) release(port int) {
	p.mu.Lock()
	delete(p.inUse, port)
	p.mu.Unlock()
}

// Leg names a side of a call.
type Leg int

// The two legs of a session.
const (
	A Leg = iota
	B
)

func (l Leg) String() string {
	if l == A {
		return "a"
	}
	return "b"
}

// LegStats counts what a leg's phone sent into the relay.
type LegStats struct {
	Packets uint64 // RTP packets relayed to the other leg
	Bytes   uint64
	Dropped uint64         // from addresses the leg does not take
	Source  netip.AddrPort // the latched source, if any
}

// DTMF is a key pressed on a leg's phone, read from RFC 4733 events.
type DTMF struct {
	Leg   Leg
	Digit rune // 0-9, *, #, A-D
}

// Session is one call's media: two legs and their ports.
type Session struct {
	p     *Ports
	legs  [2]*leg
	dtmf  atomic.Pointer[func(DTMF)]
	wg    sync.WaitGroup
	close sync.Once
}

// leg is one phone's side: its ports, where its packets come from and go.
type leg struct {
	rtp, rtcp *net.UDPConn
	port      int

	mu      sync.Mutex
	allowed []netip.Addr   // addresses it may latch onto
	remote  netip.AddrPort // RTP destination: latched, else from the SDP
	rtcpTo  netip.AddrPort
	latched bool
	retired netip.AddrPort // a phone this leg no longer belongs to (a transfer)
	heard   time.Time      // last packet from the latched source
	evPT    int            // telephone-event payload type, or -1
	lastEv  uint32         // RTP timestamp of the last event reported

	packets, bytes, dropped atomic.Uint64
}

// NewSession binds a port pair for each leg. onDTMF (may be nil) is called
// for each key press, from the relay's goroutines.
func (p *Ports) NewSession(onDTMF func(DTMF)) (*Session, error) {
	s := &Session{p: p}
	if onDTMF != nil {
		s.dtmf.Store(&onDTMF)
	}
	for i := range s.legs {
		rtp, rtcp, err := p.pair()
		if err != nil {
			s.Close()
			return nil, err
		}
		s.legs[i] = &leg{rtp: rtp, rtcp: rtcp, port: rtp.LocalAddr().(*net.UDPAddr).Port, evPT: -1}
	}
	return s, nil
}

// SetDTMF sets (or replaces) what is called for each key press.
func (s *Session) SetDTMF(onDTMF func(DTMF)) {
	s.dtmf.Store(&onDTMF)
}

// Local is the address to put in leg l's SDP: where that phone sends.
func (s *Session) Local(l Leg) netip.AddrPort {
	return s.legs[l].rtp.LocalAddr().(*net.UDPAddr).AddrPort()
}

// SetRemote tells leg l where its phone said to send media (the SDP's
// connection address and port), and which other address it may latch
// onto (signalled: the address its SIP came from; may be invalid).
// eventPT is the negotiated telephone-event payload type, or -1.
func (s *Session) SetRemote(l Leg, sdp netip.AddrPort, signalled netip.Addr, eventPT int) {
	g := s.legs[l]
	g.mu.Lock()
	defer g.mu.Unlock()
	g.allowed = g.allowed[:0]
	for _, a := range []netip.Addr{sdp.Addr(), signalled} {
		if a.IsValid() && !a.IsUnspecified() {
			g.allowed = append(g.allowed, a.Unmap())
		}
	}
	if !g.latched {
		g.remote = sdp
		g.rtcpTo = netip.AddrPortFrom(sdp.Addr(), sdp.Port()+1)
	}
	g.evPT = eventPT
}

// Repoint gives leg l to another phone (a transfer): the latch is
// dropped, packets from the old phone's address and port are refused from
// now on, and the leg takes the new phone as SetRemote would.
func (s *Session) Repoint(l Leg, sdp netip.AddrPort, signalled netip.Addr, eventPT int) {
	g := s.legs[l]
	g.mu.Lock()
	if g.latched {
		g.retired = g.remote
	}
	g.latched = false
	g.mu.Unlock()
	s.SetRemote(l, sdp, signalled, eventPT)
}

// Start relays until Close.
func (s *Session) Start() {
	for i, g := range s.legs {
		other := s.legs[1-i]
		s.wg.Add(2)
		go s.relay(Leg(i), g, other, false)
		go s.relay(Leg(i), g, other, true)
	}
}

// Stats returns what leg l's phone has sent.
func (s *Session) Stats(l Leg) LegStats {
	g := s.legs[l]
	g.mu.Lock()
	src := netip.AddrPort{}
	if g.latched {
		src = g.remote
	}
	g.mu.Unlock()
	return LegStats{Packets: g.packets.Load(), Bytes: g.bytes.Load(), Dropped: g.dropped.Load(), Source: src}
}

// Close stops relaying and gives the ports back.
func (s *Session) Close() {
	s.close.Do(func() {
		for _, g := range s.legs {
			if g == nil {
				continue
			}
			g.rtp.Close()
			g.rtcp.Close()
		}
		s.wg.Wait()
		for _, g := range s.legs {
			if g != nil {
				s.p.release(g.port)
			}
		}
	})
}

// relay copies from one leg's RTP (or RTCP) socket to the other leg's
// phone, out of the other leg's socket. The buffer is reused: no
// allocation per packet.
func (s *Session) relay(l Leg, from, to *leg, rtcp bool) {
	defer s.wg.Done()
	in, out := from.rtp, to.rtp
	if rtcp {
		in, out = from.rtcp, to.rtcp
	}
	buf := make([]byte, 1500)
	for {
		n, src, err := in.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if !from.accept(src, rtcp) {
			from.dropped.Add(1)
			continue
		}
		if !rtcp {
			from.packets.Add(1)
			from.bytes.Add(uint64(n))
			if d, ok := from.event(buf[:n]); ok {
				if f := s.dtmf.Load(); f != nil && *f != nil {
					(*f)(DTMF{Leg: l, Digit: d})
				}
			}
		}
		dst := to.destination(rtcp)
		if !dst.IsValid() || dst.Port() == 0 {
			continue // the other phone's address is not known yet
		}
		_, _ = out.WriteToUDPAddrPort(buf[:n], dst)
	}
}

// accept reports whether a packet from src belongs to this leg, latching
// onto it when it may.
func (g *leg) accept(src netip.AddrPort, rtcp bool) bool {
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if rtcp {
		// RTCP comes from the latched host (its port may be anything).
		if g.latched && src.Addr() == g.remote.Addr() {
			g.rtcpTo = src
			return true
		}
		return !g.latched && g.allows(src.Addr())
	}
	switch {
	case g.latched && src == g.remote:
		g.heard = now
		return true
	case src == g.retired || !g.allows(src.Addr()):
		return false
	case g.latched && now.Sub(g.heard) < relatchAfter:
		return false // someone else while the phone is still talking
	}
	g.remote, g.latched, g.heard = src, true, now
	if g.rtcpTo.Addr() != src.Addr() {
		g.rtcpTo = netip.AddrPortFrom(src.Addr(), src.Port()+1)
	}
	return true
}

func (g *leg) allows(a netip.Addr) bool {
	for _, x := range g.allowed {
		if x == a {
			return true
		}
	}
	return false
}

func (g *leg) destination(rtcp bool) netip.AddrPort {
	g.mu.Lock()
	defer g.mu.Unlock()
	if rtcp {
		return g.rtcpTo
	}
	return g.remote
}

// event reads an RFC 4733 telephone-event packet and returns its digit
// once per key press: on the first packet of the event (a new RTP
// timestamp); the retransmitted end packets repeat the timestamp.
func (g *leg) event(pkt []byte) (rune, bool) {
	if len(pkt) < 12+4 || pkt[0]>>6 != 2 {
		return 0, false
	}
	g.mu.Lock()
	pt := g.evPT
	g.mu.Unlock()
	if pt < 0 || int(pkt[1]&0x7f) != pt {
		return 0, false
	}
	off := 12 + 4*int(pkt[0]&0x0f)
	if pkt[0]&0x10 != 0 { // header extension
		if len(pkt) < off+4 {
			return 0, false
		}
		off += 4 + 4*(int(pkt[off+2])<<8|int(pkt[off+3]))
	}
	if len(pkt) < off+4 {
		return 0, false
	}
	ts := uint32(pkt[4])<<24 | uint32(pkt[5])<<16 | uint32(pkt[6])<<8 | uint32(pkt[7])
	g.mu.Lock()
	seen := ts == g.lastEv
	g.lastEv = ts
	g.mu.Unlock()
	if seen {
		return 0, false
	}
	return dtmf.FromEvent(pkt[off])
}
