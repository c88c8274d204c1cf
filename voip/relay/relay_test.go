package relay

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// phone is a UDP socket standing in for a phone's RTP port.
type phone struct {
	t    testing.TB
	conn *net.UDPConn
}

func newPhone(t testing.TB, host string) *phone {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(host)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &phone{t: t, conn: c}
}

func (p *phone) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (p *phone) send(to netip.AddrPort, pkt []byte) {
	p.t.Helper()
	if _, err := p.conn.WriteToUDPAddrPort(pkt, to); err != nil {
		p.t.Fatal(err)
	}
}

// recv returns the next packet and where it came from, or fails after 5 s.
func (p *phone) recv() ([]byte, netip.AddrPort) {
	p.t.Helper()
	buf := make([]byte, 1500)
	_ = p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := p.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		p.t.Fatalf("no packet: %v", err)
	}
	return buf[:n], from
}

// nothing checks that no packet arrives within d (used only to show a
// packet was dropped; the relay had time to forward the ones after it).
func (p *phone) nothing(d time.Duration) bool {
	buf := make([]byte, 1500)
	_ = p.conn.SetReadDeadline(time.Now().Add(d))
	_, _, err := p.conn.ReadFromUDPAddrPort(buf)
	return err != nil
}

// rtpPacket is a minimal RTP packet with payload type pt.
func rtpPacket(pt byte, seq uint16, ts uint32, payload ...byte) []byte {
	b := []byte{0x80, pt, byte(seq >> 8), byte(seq), byte(ts >> 24), byte(ts >> 16), byte(ts >> 8), byte(ts), 0, 0, 0, 1}
	return append(b, payload...)
}

func newSession(t *testing.T, onDTMF func(DTMF)) (*Ports, *Session) {
	t.Helper()
	ports, err := NewPorts(loopback, 31000, 31099)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ports.NewSession(onDTMF)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return ports, s
}

func TestRelayBothWaysSymmetric(t *testing.T) {
	defer goleak.VerifyNone(t)
	_, s := newSession(t, nil)
	a, b := newPhone(t, "127.0.0.1"), newPhone(t, "127.0.0.1")
	s.SetRemote(A, a.addr(), netip.Addr{}, -1)
	s.SetRemote(B, b.addr(), netip.Addr{}, -1)
	s.Start()

	a.send(s.Local(A), rtpPacket(0, 1, 160, 0xd5))
	pkt, from := b.recv()
	if from != s.Local(B) || pkt[12] != 0xd5 {
		t.Fatalf("B got %x from %v; want A's packet from the relay's B port %v", pkt, from, s.Local(B))
	}
	b.send(s.Local(B), rtpPacket(0, 9, 160, 0x55))
	pkt, from = a.recv()
	if from != s.Local(A) || pkt[12] != 0x55 {
		t.Fatalf("A got %x from %v; want B's packet from the relay's A port %v", pkt, from, s.Local(A))
	}
	if st := s.Stats(A); st.Packets != 1 || st.Source != a.addr() {
		t.Fatalf("A's stats %+v", st)
	}
	s.Close()
}

// TestRelayLatchesBehindNAT: a phone's SDP names a port it does not send
// from (a NAT rewrote it); the relay sends to where its packets come from.
func TestRelayLatchesBehindNAT(t *testing.T) {
	_, s := newSession(t, nil)
	a, b := newPhone(t, "127.0.0.1"), newPhone(t, "127.0.0.1")
	private := netip.AddrPortFrom(loopback, 9) // what A's SDP said; nothing listens there
	s.SetRemote(A, private, netip.Addr{}, -1)
	s.SetRemote(B, b.addr(), netip.Addr{}, -1)
	s.Start()
	a.send(s.Local(A), rtpPacket(0, 1, 160, 1))
	b.recv()
	b.send(s.Local(B), rtpPacket(0, 1, 160, 2))
	if pkt, _ := a.recv(); pkt[12] != 2 {
		t.Fatalf("A got %x", pkt)
	}
}

// TestRelayRefusesStrangers: packets from an address the leg was not told
// about, or from another port while the phone talks, are dropped.
func TestRelayRefusesStrangers(t *testing.T) {
	_, s := newSession(t, nil)
	a, b := newPhone(t, "127.0.0.1"), newPhone(t, "127.0.0.1")
	stranger := newPhone(t, "127.0.0.2") // another loopback address
	s.SetRemote(A, a.addr(), netip.Addr{}, -1)
	s.SetRemote(B, b.addr(), netip.Addr{}, -1)
	s.Start()

	stranger.send(s.Local(A), rtpPacket(0, 1, 160, 0xee))
	a.send(s.Local(A), rtpPacket(0, 2, 320, 0x01))
	if pkt, _ := b.recv(); pkt[12] != 0x01 {
		t.Fatalf("B got the stranger's packet %x first", pkt)
	}
	sameHost := newPhone(t, "127.0.0.1") // allowed host, but A is talking from another port
	sameHost.send(s.Local(A), rtpPacket(0, 3, 480, 0xee))
	a.send(s.Local(A), rtpPacket(0, 4, 640, 0x02))
	if pkt, _ := b.recv(); pkt[12] != 0x02 {
		t.Fatalf("B got a hijacker's packet %x", pkt)
	}
	if !b.nothing(100 * time.Millisecond) {
		t.Fatal("a refused packet reached B")
	}
	if st := s.Stats(A); st.Dropped != 2 || st.Packets != 2 {
		t.Fatalf("A's stats %+v: want 2 relayed, 2 dropped", st)
	}
}

func TestRelayReportsDTMFOnce(t *testing.T) {
	var mu sync.Mutex
	var got []DTMF
	done := make(chan struct{})
	_, s := newSession(t, func(d DTMF) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, d)
		if d.Digit == '#' {
			close(done)
		}
	})
	a, b := newPhone(t, "127.0.0.1"), newPhone(t, "127.0.0.1")
	s.SetRemote(A, a.addr(), netip.Addr{}, 101)
	s.SetRemote(B, b.addr(), netip.Addr{}, 101)
	s.Start()
	// '5': three packets of one event, the last three with the end bit;
	// then '#'. Each event is one timestamp.
	for _, p := range [][]byte{
		rtpPacket(101, 1, 8000, 5, 0x0a, 0x00, 0xa0),
		rtpPacket(101, 2, 8000, 5, 0x0a, 0x01, 0x40),
		rtpPacket(101, 3, 8000, 5, 0x8a, 0x03, 0x20),
		rtpPacket(101, 4, 8000, 5, 0x8a, 0x03, 0x20),
		rtpPacket(101, 5, 8000, 5, 0x8a, 0x03, 0x20),
		rtpPacket(0, 6, 8160, 0xd5),
		rtpPacket(101, 7, 16000, 11, 0x8a, 0x03, 0x20),
	} {
		a.send(s.Local(A), p)
		b.recv() // every packet, events included, goes through
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("no # reported")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != (DTMF{Leg: A, Digit: '5'}) || got[1] != (DTMF{Leg: A, Digit: '#'}) {
		t.Fatalf("digits %+v; want 5 then # from leg a, once each", got)
	}
}

func TestPortsRunOutAndComeBack(t *testing.T) {
	ports, err := NewPorts(loopback, 31200, 31203) // two pairs: one session
	if err != nil {
		t.Fatal(err)
	}
	s, err := ports.NewSession(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ports.NewSession(nil); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("a second session on two pairs: %v, want ErrNoPorts", err)
	}
	if ports.Free() != 0 {
		t.Fatalf("%d pairs free, want 0", ports.Free())
	}
	s.Close()
	if ports.Free() != 2 {
		t.Fatalf("%d pairs free after close, want 2", ports.Free())
	}
	s2, err := ports.NewSession(nil)
	if err != nil {
		t.Fatalf("after close: %v", err)
	}
	s2.Close()
	for _, bad := range [][2]int{{31201, 31300}, {80, 2000}, {31300, 31200}} {
		if _, err := NewPorts(loopback, bad[0], bad[1]); err == nil {
			t.Errorf("range %v accepted", bad)
		}
	}
}

// BenchmarkRelayG711 sends 20 ms G.711 packets (172 bytes) through one
// session one at a time, each read by the other phone before the next is
// sent: ns/op is one packet's trip through the relay, the test phones'
// send and read included.
func BenchmarkRelayG711(b *testing.B) {
	ports, err := NewPorts(loopback, 31400, 31499)
	if err != nil {
		b.Fatal(err)
	}
	s, err := ports.NewSession(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	pa, pb := newPhone(b, "127.0.0.1"), newPhone(b, "127.0.0.1")
	s.SetRemote(A, pa.addr(), netip.Addr{}, -1)
	s.SetRemote(B, pb.addr(), netip.Addr{}, -1)
	s.Start()
	pkt := rtpPacket(0, 1, 160, make([]byte, 160)...)
	buf := make([]byte, 1500)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		pkt[3] = byte(i)
		pa.send(s.Local(A), pkt)
		_ = pb.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := pb.conn.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatalf("packet %d lost: %v", i, err)
		}
	}
}

// TestRelayRepoint: after a transfer the leg belongs to the new phone;
// the old one, still sending from the same host, is refused.
func TestRelayRepoint(t *testing.T) {
	_, s := newSession(t, nil)
	a, b, c := newPhone(t, "127.0.0.1"), newPhone(t, "127.0.0.1"), newPhone(t, "127.0.0.1")
	s.SetRemote(A, a.addr(), netip.Addr{}, -1)
	s.SetRemote(B, b.addr(), netip.Addr{}, -1)
	s.Start()
	b.send(s.Local(B), rtpPacket(0, 1, 160, 0xb0))
	if pkt, _ := a.recv(); pkt[12] != 0xb0 {
		t.Fatalf("A got %x", pkt)
	}

	s.Repoint(B, c.addr(), netip.Addr{}, -1)
	b.send(s.Local(B), rtpPacket(0, 2, 320, 0xbb)) // the old phone, not hung up yet
	c.send(s.Local(B), rtpPacket(0, 1, 160, 0xc0))
	if pkt, _ := a.recv(); pkt[12] != 0xc0 {
		t.Fatalf("A got %x, want the new phone's packet", pkt)
	}
	a.send(s.Local(A), rtpPacket(0, 5, 800, 0xa0))
	if pkt, _ := c.recv(); pkt[12] != 0xa0 {
		t.Fatalf("the new phone got %x", pkt)
	}
	if !b.nothing(100 * time.Millisecond) {
		t.Fatal("the old phone still gets A's audio")
	}
}
