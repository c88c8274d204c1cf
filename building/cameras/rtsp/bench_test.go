package rtsp

import (
	"context"
	"testing"
	"time"

	"github.com/pion/rtp"

	"civic/building/cameras/rtsp/rtsptest"
)

// BenchmarkPlayTCP measures packets per second through Play over
// TCP-interleaved transport from an rtsptest source that writes as fast
// as the connection takes: 1200-byte payloads, a camera's usual size.
func BenchmarkPlayTCP(b *testing.B) {
	// A constant payload keeps the source's own work out of the figure.
	src := func(ctx context.Context, write func(*rtp.Packet) error) error {
		p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, Marker: true}, Payload: make([]byte, 1200)}
		for write(p) == nil {
			p.SequenceNumber++
		}
		return nil
	}
	srv := startServer(b, map[string]rtsptest.Mount{"/cam": {SDP: videoSDP, Source: src}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := Open(ctx, srv.URL("/cam"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	b.SetBytes(1200)
	n := 0
	var start time.Time
	b.ResetTimer()
	err = s.Play(ctx, func(*rtp.Packet) {
		if n == 0 {
			start = time.Now() // from the first packet: PLAY's round trip is not streaming
		}
		if n++; n == b.N {
			cancel()
		}
	})
	b.StopTimer()
	if ctx.Err() == nil {
		b.Fatalf("Play ended after %d of %d packets: %v", n, b.N, err)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "pkts/s")
}
