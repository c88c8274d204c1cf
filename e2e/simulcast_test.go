package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"civic/conference/confclient"
	"civic/internal/rtc/rtctest"
)

// simLayers are the three layers the test publisher sends, as a browser
// does: rid, picture size, and bytes per frame (at 30 fps: about 70, 240
// and 720 kbit/s).
var simLayers = []struct {
	rid           string
	width, height int
	size          int
}{
	{"q", 320, 180, 300},
	{"h", 640, 360, 1000},
	{"f", 1280, 720, 3000},
}

// vp8Frame is a synthetic VP8 frame of the layer: a keyframe (with the
// start code and picture size a decoder reads) or an interframe, filled
// with the layer's rid so every RTP packet says which layer it came from.
func vp8Frame(rid string, width, height, size int, key bool) []byte {
	f := make([]byte, size)
	for i := range f {
		f[i] = rid[0]
	}
	if key {
		copy(f, []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, byte(width), byte(width >> 8), byte(height), byte(height >> 8)})
	} else {
		copy(f, []byte{0x11, 0x02, 0x00})
	}
	return f
}

// received is what a subscriber got of one forwarded video track.
type received struct {
	mu    sync.Mutex
	ssrcs map[uint32]bool
	log   []recvPacket // in arrival order
}

type recvPacket struct {
	layer byte // the rid letter in the payload
	seq   uint16
	key   bool // starts a keyframe
}

func (r *received) add(p *rtp.Packet) {
	if len(p.Payload) < 2 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ssrcs[p.SSRC] = true
	// One-byte VP8 payload descriptor (S bit 0x10), then the frame.
	key := p.Payload[0]&0x10 != 0 && p.Payload[1]&0x01 == 0
	r.log = append(r.log, recvPacket{layer: p.Payload[len(p.Payload)-1], seq: p.SequenceNumber, key: key})
}

// since returns the packets received after the first n.
func (r *received) since(n int) []recvPacket {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recvPacket(nil), r.log[min(n, len(r.log)):]...)
}

func (r *received) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.log)
}

// TestSimulcast: one Go publisher sends three layers to the real daemon.
// A subscriber that shows the video small, or whose bandwidth is capped,
// gets only the low layer, on one SSRC; allowed more, it switches up, and
// the switch starts on a keyframe with no gap in the sequence numbers.
// Layers nobody takes are paused at the publisher.
func TestSimulcast(t *testing.T) {
	d := startDaemon(t, daemonConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), timeScale*90*time.Second)
	defer cancel()
	dial := goClients(ctx, t, d)
	pubc, subc := dial(), dial()
	var created struct{ Meeting struct{ Room string } }
	if err := pubc.Call(ctx, "conference.create", map[string]any{"title": "Simulcast"}, &created); err != nil {
		t.Fatal(err)
	}
	api := rtctest.LoopbackAPI(t)
	pub, err := pubc.Join(ctx, api, created.Meeting.Room, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Leave(ctx)

	got := &received{ssrcs: map[uint32]bool{}}
	sub, err := subc.Join(ctx, api, created.Meeting.Room, func(tr *webrtc.TrackRemote) {
		if tr.Kind() != webrtc.RTPCodecTypeVideo {
			return
		}
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			got.add(p)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Leave(ctx)
	view := func(w, h int, maxBitrate *int) {
		t.Helper()
		if err := sub.SetViews(ctx, []confclient.View{{Stream: pub.ID, Width: w, Height: h}}, maxBitrate); err != nil {
			t.Fatal(err)
		}
	}
	view(320, 180, nil) // a small tile, before anything is published

	layers := make([]confclient.Layer, len(simLayers))
	for i, l := range simLayers {
		n := 0
		layers[i] = confclient.Layer{RID: l.rid, Next: func() []byte {
			n++
			return vp8Frame(l.rid, l.width, l.height, l.size, n%30 == 1)
		}}
	}
	if err := pub.PublishSimulcast(ctx, webrtc.MimeTypeVP8, "camera", 33*time.Millisecond, layers); err != nil {
		t.Fatal(err)
	}

	// waitLayer waits for the first packet of layer after packet n, and
	// returns its index in the log.
	waitLayer := func(what string, n int, layer byte) int {
		t.Helper()
		for {
			for i, p := range got.since(n) {
				if p.layer == layer {
					return n + i
				}
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%s: no packet of layer %q; last 10 received: %v", what, layer, tail(got.since(0), 10))
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	// onlyLayer checks that the next 150 packets after n are all of layer.
	onlyLayer := func(what string, n int, layer byte) int {
		t.Helper()
		for got.count() < n+150 {
			select {
			case <-ctx.Done():
				t.Fatalf("%s: only %d packets", what, got.count()-n)
			case <-time.After(50 * time.Millisecond):
			}
		}
		ps := got.since(n)[:150]
		for _, p := range ps {
			if p.layer != layer {
				t.Fatalf("%s: got a packet of layer %q among %q ones", what, p.layer, layer)
			}
		}
		return n + 150
	}
	// switchedOnKeyframe checks the packet at i starts a keyframe and
	// follows the one before it without a gap.
	switchedOnKeyframe := func(what string, i int) {
		t.Helper()
		ps := got.since(i - 1)
		if !ps[1].key {
			t.Errorf("%s: the switch did not start on a keyframe", what)
		}
		if ps[1].seq != ps[0].seq+1 {
			t.Errorf("%s: sequence %d follows %d across the switch", what, ps[1].seq, ps[0].seq)
		}
	}
	waitActive := func(what string, want map[string]bool) {
		t.Helper()
		for {
			ok := true
			for rid, on := range want {
				ok = ok && pub.LayerActive("camera", rid) == on
			}
			if ok {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%s: the publisher was not told the layers %v", what, want)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}

	t.Log("step: a small tile gets only the low layer, and the others pause at the source")
	n := waitLayer("small tile", 0, 'q')
	if !got.since(n)[0].key {
		t.Errorf("the first packet is not a keyframe: %s", tail(got.since(0)[:5], 5))
	}
	n = onlyLayer("small tile", n, 'q')
	waitActive("small tile", map[string]bool{"q": true, "h": false, "f": false})

	t.Log("step: a big tile switches up to the full layer, on a keyframe")
	view(1280, 720, nil)
	n = waitLayer("big tile", n, 'f')
	switchedOnKeyframe("up to f", n)
	n = onlyLayer("big tile", n, 'f')
	waitActive("big tile", map[string]bool{"f": true, "q": false})

	t.Log("step: capped at 150 kbit/s, it gets the low layer again")
	capped := 150_000
	view(1280, 720, &capped)
	n = waitLayer("capped", n, 'q')
	switchedOnKeyframe("down to q", n)
	n = onlyLayer("capped", n, 'q')

	t.Log("step: the cap lifted, it climbs back to the full layer")
	uncapped := 0
	view(1280, 720, &uncapped)
	n = waitLayer("uncapped", n, 'f')
	switchedOnKeyframe("back up to f", n)
	onlyLayer("uncapped", n, 'f')

	got.mu.Lock()
	ssrcs := len(got.ssrcs)
	got.mu.Unlock()
	if ssrcs != 1 {
		t.Errorf("the subscriber saw %d SSRCs; layer switches must keep one", ssrcs)
	}
}

func tail(ps []recvPacket, n int) string {
	if len(ps) > n {
		ps = ps[len(ps)-n:]
	}
	s := ""
	for _, p := range ps {
		s += fmt.Sprintf("%c/%d/%v ", p.layer, p.seq, p.key)
	}
	return s
}
