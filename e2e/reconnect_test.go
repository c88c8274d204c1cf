package e2e

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"

	"civic/internal/rtc/rtctest"
)

// cutNet is the network of a client whose path can be cut: every UDP
// socket made so far goes silent both ways, as when a laptop leaves one
// Wi-Fi for another. Sockets made after the cut (an ICE restart gathers
// new ones) work.
type cutNet struct {
	transport.Net
	mu    sync.Mutex
	conns []*cutConn
}

func (n *cutNet) ListenUDP(network string, addr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, addr)
	if err != nil {
		return nil, err
	}
	cc := &cutConn{UDPConn: c}
	n.mu.Lock()
	n.conns = append(n.conns, cc)
	n.mu.Unlock()
	return cc, nil
}

// cut silences every socket made so far.
func (n *cutNet) cut() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, c := range n.conns {
		c.dead.Store(true)
	}
}

type cutConn struct {
	transport.UDPConn
	dead atomic.Bool
}

func (c *cutConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.UDPConn.ReadFrom(b)
		if err != nil || !c.dead.Load() {
			return n, addr, err
		}
	}
}

func (c *cutConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.dead.Load() {
		return len(b), nil // lost on the way
	}
	return c.UDPConn.WriteTo(b, addr)
}

// cuttableAPI is rtctest.LoopbackAPI's set-up on a cutNet.
func cuttableAPI(t *testing.T, n *cutNet) *webrtc.API {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetNet(n)
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
}

// TestICERestartAfterPathLoss: a participant's network path dies (every
// packet lost both ways); media stops. It restarts ICE, which finds a new
// path, and media flows again in the same session: same participant id,
// and the others never hear that it left.
func TestICERestartAfterPathLoss(t *testing.T) {
	d := startDaemon(t, daemonConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), timeScale*60*time.Second)
	defer cancel()
	dial := goClients(ctx, t, d)
	pubc, roamc := dial(), dial()
	var created struct{ Meeting struct{ Room string } }
	if err := pubc.Call(ctx, "conference.create", map[string]any{"title": "Roaming"}, &created); err != nil {
		t.Fatal(err)
	}
	pub, err := pubc.Join(ctx, rtctest.LoopbackAPI(t), created.Meeting.Room, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Leave(ctx)

	std, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	nw := &cutNet{Net: std}
	var packets atomic.Int64
	roam, err := roamc.Join(ctx, cuttableAPI(t, nw), created.Meeting.Room, func(tr *webrtc.TrackRemote) {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			packets.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer roam.Leave(ctx)
	// The roaming client publishes audio too, so both connections roam.
	silence := []byte{0xf8, 0xff, 0xfe}
	if err := roam.PublishSamples(ctx, webrtc.MimeTypeOpus, 20*time.Millisecond, func() []byte { return silence }); err != nil {
		t.Fatal(err)
	}
	frame := []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a}
	if err := pub.PublishSamples(ctx, webrtc.MimeTypeVP8, 20*time.Millisecond, func() []byte { return frame }); err != nil {
		t.Fatal(err)
	}
	waitGrowth := func(what string, from int64, by int64) {
		t.Helper()
		for packets.Load() < from+by {
			select {
			case <-ctx.Done():
				t.Fatalf("%s: media did not flow (%d packets)", what, packets.Load()-from)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	waitGrowth("before the cut", 0, 50)

	t.Log("step: the path dies; media stops")
	nw.cut()
	for stable := 0; stable < 10; { // 1 s without a packet
		before := packets.Load()
		select {
		case <-ctx.Done():
			t.Fatal("media kept flowing over a dead path")
		case <-time.After(100 * time.Millisecond):
		}
		if packets.Load() == before {
			stable++
		} else {
			stable = 0
		}
	}

	t.Log("step: ICE restart finds a new path; media flows in the same session")
	id := roam.ID
	if err := roam.RestartICE(ctx); err != nil {
		t.Fatal(err)
	}
	waitGrowth("after the restart", packets.Load(), 50)
	if roam.ID != id {
		t.Fatalf("participant id changed from %s to %s", id, roam.ID)
	}
	for {
		select {
		case ev := <-pub.Events():
			if ev.Kind == "participant.left" {
				t.Fatal("the others were told the roaming participant left")
			}
			continue
		default:
		}
		break
	}
}
