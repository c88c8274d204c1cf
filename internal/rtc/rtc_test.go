package rtc

import (
	"log/slog"
	"net"
	"strings"
	"testing"
)

func TestEngineBindsAndReleasesPorts(t *testing.T) {
	e, err := New(Config{Host: "127.0.0.1", LoopbackOnly: true}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	pc, err := e.NewPeerConnection()
	if err != nil {
		t.Fatal(err)
	}
	pc.Close()
	udp, tcp := e.UDPAddr(), e.TCPAddr()
	if !strings.HasPrefix(udp, "127.0.0.1:") || !strings.HasPrefix(tcp, "127.0.0.1:") {
		t.Fatalf("bound %s and %s, want loopback", udp, tcp)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// The ports are free again.
	u, err := net.ListenPacket("udp", udp)
	if err != nil {
		t.Fatalf("UDP port not released: %v", err)
	}
	u.Close()
	l, err := net.Listen("tcp", tcp)
	if err != nil {
		t.Fatalf("TCP port not released: %v", err)
	}
	l.Close()
}

func TestBusyPortIsNamed(t *testing.T) {
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.LocalAddr().(*net.UDPAddr).Port
	_, err = New(Config{Host: "127.0.0.1", UDPPort: port, TCPPort: -1}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "webrtc.udp_port") {
		t.Fatalf("busy UDP port: %v, want an error naming webrtc.udp_port", err)
	}
}
