package rtsp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
)

// transportSpec is the part of a Transport header (RFC 2326 12.39) a
// unicast client needs.
type transportSpec struct {
	tcp         bool
	interleaved [2]int // -1 when absent
	clientPort  [2]int
	serverPort  [2]int
	ssrc        uint32
	hasSSRC     bool
	source      netip.Addr
}

// parseTransport parses the server's Transport header; only the first
// of several comma-separated transports counts, as the server picked it.
func parseTransport(v string) (transportSpec, error) {
	tr := transportSpec{interleaved: [2]int{-1, -1}, clientPort: [2]int{-1, -1}, serverPort: [2]int{-1, -1}}
	first, _, _ := strings.Cut(v, ",")
	parts := strings.Split(first, ";")
	spec := strings.ToUpper(strings.TrimSpace(parts[0]))
	if !strings.HasPrefix(spec, "RTP/AVP") {
		return tr, malformed("Transport %s", snippet([]byte(v)))
	}
	tr.tcp = strings.HasSuffix(spec, "/TCP")
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		var err error
		switch strings.ToLower(k) {
		case "multicast":
			return tr, malformed("server chose multicast; only unicast is supported")
		case "interleaved":
			tr.interleaved, err = parseRange(val, 0, 255)
		case "client_port":
			tr.clientPort, err = parseRange(val, 1, 65535)
		case "server_port":
			tr.serverPort, err = parseRange(val, 1, 65535)
		case "ssrc":
			// Some servers send fewer than 8 digits, some a decimal
			// number; both parse, anything else is ignored, since we
			// never need the SSRC to receive.
			if n, e := strconv.ParseUint(strings.TrimSpace(val), 16, 32); e == nil {
				tr.ssrc, tr.hasSSRC = uint32(n), true
			}
		case "source":
			if a, e := netip.ParseAddr(strings.TrimSpace(val)); e == nil {
				tr.source = a.Unmap()
			}
		}
		if err != nil {
			return tr, malformed("Transport %s: %v", k, err)
		}
	}
	return tr, nil
}

// parseRange parses "a-b" or "a" (meaning a-(a+1)) within [lo, hi].
func parseRange(v string, lo, hi int) ([2]int, error) {
	a, b, two := strings.Cut(strings.TrimSpace(v), "-")
	x, err := strconv.Atoi(a)
	if err != nil || x < lo || x > hi {
		return [2]int{}, fmt.Errorf("bad range %s", snippet([]byte(v)))
	}
	y := x + 1
	if two {
		if y, err = strconv.Atoi(b); err != nil || y < lo || y > hi {
			return [2]int{}, fmt.Errorf("bad range %s", snippet([]byte(v)))
		}
	}
	if y > hi {
		y = x // "65535" alone: no room for the pair, RTCP shares nothing
	}
	return [2]int{x, y}, nil
}

// udpPair is the client's RTP and RTCP sockets for one media, and what
// it accepts: datagrams from the server's address (and its server_port,
// when it named one). Anything else on our ports is someone else's and
// is dropped.
type udpPair struct {
	rtp, rtcp *net.UDPConn
	server    netip.Addr
	rtpPort   uint16 // 0: any port of server
	rtcpPort  uint16
	ssrc      uint32
	hasSSRC   bool
	strangers atomic.Uint64 // datagrams dropped for their source
	log       *slog.Logger
}

// listenPair binds an even RTP port and the odd RTCP port after it
// (RFC 3550 11), on loopback when the server is local and on all
// addresses otherwise.
func listenPair(server netip.Addr) (*net.UDPConn, *net.UDPConn, error) {
	network, ip := "udp4", net.IPv4zero
	if server.Is6() {
		network, ip = "udp6", net.IPv6unspecified
	}
	if server.IsLoopback() {
		ip = server.AsSlice()
	}
	for range 64 {
		a, err := net.ListenUDP(network, &net.UDPAddr{IP: ip})
		if err != nil {
			return nil, nil, err
		}
		if p := a.LocalAddr().(*net.UDPAddr).Port; p%2 == 0 && p < 65535 {
			if b, err := net.ListenUDP(network, &net.UDPAddr{IP: ip, Port: p + 1}); err == nil {
				_ = a.SetReadBuffer(1 << 20) // a keyframe arrives as a burst
				return a, b, nil
			}
		}
		_ = a.Close()
	}
	return nil, nil, errors.New("no free even/odd port pair")
}

// accepts reports whether a datagram from a came from the server.
func (u *udpPair) accepts(a netip.AddrPort, port uint16) bool {
	return a.Addr().Unmap() == u.server && (port == 0 || a.Port() == port)
}

// readRTP reads RTP datagrams into deliver until an error.
func (u *udpPair) readRTP(maxPacket int, deliver func([]byte)) error {
	buf := make([]byte, maxPacket+1) // one byte more shows a datagram was cut
	checked := false
	for {
		n, from, err := u.rtp.ReadFromUDPAddrPort(buf)
		if err != nil {
			return err
		}
		if !u.accepts(from, u.rtpPort) {
			if u.strangers.Add(1) == 1 {
				u.log.Debug("rtsp: dropping datagrams from a stranger", "from", from.Addr())
			}
			continue
		}
		if n > maxPacket {
			return &tooLarge{size: fmt.Sprintf("a datagram over %d bytes", maxPacket), limit: maxPacket}
		}
		if !checked && n >= 12 && u.hasSSRC {
			// Some cameras announce one SSRC and send another; we take
			// the packets anyway, the port pair is ours alone.
			checked = true
			if got := uint32(buf[8])<<24 | uint32(buf[9])<<16 | uint32(buf[10])<<8 | uint32(buf[11]); got != u.ssrc {
				u.log.Debug("rtsp: SSRC differs from the SETUP answer", "announced", u.ssrc, "got", got)
			}
		}
		deliver(buf[:n])
	}
}

// drainRTCP reads and drops the server's RTCP: the socket must be bound
// (or the server gets ICMP errors) and read (or its buffer fills).
func (u *udpPair) drainRTCP() error {
	buf := make([]byte, 2048)
	for {
		if _, _, err := u.rtcp.ReadFromUDPAddrPort(buf); err != nil {
			return err
		}
	}
}

func (u *udpPair) close() {
	_ = u.rtp.Close()
	_ = u.rtcp.Close()
}
