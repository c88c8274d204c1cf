package conference

import (
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// forwardTrack is one published track (a microphone, a camera, a screen)
// and its fan-out. A simulcast track has up to three layers, lowest
// quality first; any other track has one. Every subscriber has a
// downTrack of its own, so each can be sent another layer.
type forwardTrack struct {
	owner    *Participant
	id       string // the publisher's track id
	streamID string // the forwarded stream id
	codec    webrtc.RTPCodecCapability
	video    bool
	levelID  uint8    // the audio-level extension's id on this track, or 0
	layers   []*layer // lowest quality first; fixed at creation
	running  atomic.Int32

	downMu sync.Mutex
	downs  atomic.Pointer[[]*downTrack] // copy on write; read per packet

	active []string // layers last asked of the publisher (allocator only)
}

// simulcast reports whether the track has several layers.
func (t *forwardTrack) simulcast() bool { return len(t.layers) > 1 }

func (t *forwardTrack) addDown(d *downTrack) {
	t.downMu.Lock()
	defer t.downMu.Unlock()
	var next []*downTrack
	if cur := t.downs.Load(); cur != nil {
		next = slices.Clone(*cur)
	}
	next = append(next, d)
	t.downs.Store(&next)
}

func (t *forwardTrack) removeDown(d *downTrack) {
	t.downMu.Lock()
	defer t.downMu.Unlock()
	cur := t.downs.Load()
	if cur == nil {
		return
	}
	next := slices.DeleteFunc(slices.Clone(*cur), func(x *downTrack) bool { return x == d })
	t.downs.Store(&next)
}

// downTracks is the current subscribers' downTracks; do not modify.
func (t *forwardTrack) downTracks() []*downTrack {
	if d := t.downs.Load(); d != nil {
		return *d
	}
	return nil
}

// layerRank orders the rids browsers are asked to use, lowest first;
// unknown rids keep their order after these.
var layerRank = map[string]int{"q": 0, "l": 0, "h": 1, "m": 1, "f": 2}

// newForwardTrack makes the track for a publish receiver, with a layer
// for each rid the offer announced.
func newForwardTrack(owner *Participant, remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver, streamID string) *forwardTrack {
	t := &forwardTrack{
		owner: owner, id: remote.ID(), streamID: streamID,
		codec: remote.Codec().RTPCodecCapability,
		video: remote.Kind() == webrtc.RTPCodecTypeVideo,
	}
	var rids []string
	for _, tr := range recv.Tracks() {
		if tr.RID() != "" {
			rids = append(rids, tr.RID())
		}
	}
	slices.SortStableFunc(rids, func(a, b string) int {
		ra, oka := layerRank[strings.ToLower(a)]
		rb, okb := layerRank[strings.ToLower(b)]
		switch {
		case oka && okb:
			return ra - rb
		case oka:
			return -1
		case okb:
			return 1
		}
		return 0
	})
	if len(rids) == 0 {
		rids = []string{""}
	}
	for i, rid := range rids {
		t.layers = append(t.layers, &layer{t: t, rid: rid, index: i})
	}
	if !t.video {
		t.levelID = extensionID(recv.GetParameters().HeaderExtensions, audioLevelURI)
	}
	return t
}

// layer returns the layer with the given rid, or nil.
func (t *forwardTrack) layer(rid string) *layer {
	for _, l := range t.layers {
		if l.rid == rid {
			return l
		}
	}
	return nil
}

// layer is one encoding of a published track, as it arrives.
type layer struct {
	t     *forwardTrack
	rid   string
	index int

	remote  atomic.Pointer[webrtc.TrackRemote] // set when its RTP arrives
	bytes   atomic.Uint64
	packets atomic.Uint64
	width   atomic.Int32 // from the last VP8 keyframe, or 0
	height  atomic.Int32

	// Bitrate, kept by the allocator.
	lastBytes uint64
	rate      int       // bits/s over the last period
	knownRate int       // the last non-zero rate, for a paused layer
	askedAt   time.Time // when the publisher was asked to send it; zero: paused

	wantKeyframe atomic.Bool  // a subscriber waits for a keyframe
	lastPLI      atomic.Int64 // unix nanos of the last PLI sent upstream
	pliLoop      atomic.Bool  // a repeat loop is running

	// The forward loop's packet, and its scratch for writing. Fan-out
	// workers read pkt while the loop waits for them.
	pkt     rtp.Packet
	scratch writeScratch
	workers []*fanWorker
	fanned  sync.WaitGroup
}

// writeScratch is what writing one packet to a subscriber needs, kept per
// goroutine so the forward path allocates nothing.
type writeScratch struct {
	hdr rtp.Header
	ext [4]rtp.Extension
	lvl [1]byte
}

// Fan-out of one packet to many subscribers is split across goroutines,
// fanoutShard subscribers or more each, at most one per CPU: writing to
// one subscriber (SRTP, interceptors, a send) takes some microseconds,
// so a hundred in a row would hold the last one's packet back by a
// millisecond or more.
const fanoutShard = 16

// fanWorker writes packets to a share of a layer's subscribers.
type fanWorker struct {
	jobs    chan fanJob
	scratch writeScratch
}

type fanJob struct {
	downs []*downTrack
	start bool
	level int
}

func (w *fanWorker) run(l *layer) {
	for j := range w.jobs {
		for _, d := range j.downs {
			d.write(l, &w.scratch, j.start, j.level)
		}
		l.fanned.Done()
	}
}

// fanOut writes the current packet to every subscriber of the track.
func (l *layer) fanOut(start bool, level int) {
	downs := l.t.downTracks()
	shards := min(len(downs)/fanoutShard, runtime.GOMAXPROCS(0))
	if shards <= 1 {
		for _, d := range downs {
			d.write(l, &l.scratch, start, level)
		}
		return
	}
	for len(l.workers) < shards-1 {
		w := &fanWorker{jobs: make(chan fanJob, 1)}
		l.workers = append(l.workers, w)
		go w.run(l)
	}
	per := (len(downs) + shards - 1) / shards
	l.fanned.Add(shards - 1)
	for i := 1; i < shards; i++ {
		l.workers[i-1].jobs <- fanJob{downs: downs[i*per : min((i+1)*per, len(downs))], start: start, level: level}
	}
	for _, d := range downs[:per] {
		d.write(l, &l.scratch, start, level)
	}
	l.fanned.Wait() // the packet buffer is read until every shard is done
}

// stopWorkers ends the fan-out goroutines when the layer ends.
func (l *layer) stopWorkers() {
	for _, w := range l.workers {
		close(w.jobs)
	}
	l.workers = nil
}

// Keyframe requests are throttled per publisher layer, and repeated until
// a keyframe arrives (a PLI can be lost).
const (
	pliMinInterval = 300 * time.Millisecond
	pliRepeat      = 500 * time.Millisecond
	pliMaxRepeats  = 10
)

// rtpSource is where a layer's packets come from: a browser's track, or
// a server-side participant's LocalTrack.
type rtpSource interface {
	Read(b []byte) (int, interceptor.Attributes, error)
}

// forward copies one layer's RTP to every subscriber that takes this
// layer, until the publisher stops sending it. The buffers are reused:
// no allocation per packet.
func (l *layer) forward(src rtpSource) {
	if remote, ok := src.(*webrtc.TrackRemote); ok {
		l.remote.Store(remote)
	}
	defer l.stopWorkers()
	t := l.t
	buf := make([]byte, 1500)
	for {
		n, _, err := src.Read(buf)
		if err != nil {
			return
		}
		if l.pkt.Unmarshal(buf[:n]) != nil || len(l.pkt.Payload) == 0 {
			continue // not RTP, or padding only (a bandwidth probe)
		}
		l.bytes.Add(uint64(n))
		l.packets.Add(1)
		start := true
		level := -1
		if t.video {
			start = isKeyframeStart(t.codec.MimeType, l.pkt.Payload)
			if start {
				l.wantKeyframe.Store(false)
				if w, h, ok := vp8Size(l.pkt.Payload); ok && t.codec.MimeType == webrtc.MimeTypeVP8 {
					l.width.Store(int32(w))
					l.height.Store(int32(h))
				}
			}
		} else {
			if t.owner.muted.Load() {
				continue // muted by the host: the audio stops here
			}
			if lvl, ok := audioLevel(buf[:n], t.levelID); ok {
				t.owner.hear(127 - int32(lvl))
				level = int(lvl)
			}
			t.owner.r.tapAudio(t, &l.pkt)
		}
		l.fanOut(start, level)
	}
}

// readRTCP keeps the layer's RTCP flowing so its interceptors (reports,
// NACK) run.
func (l *layer) readRTCP(recv *webrtc.RTPReceiver) {
	for {
		var err error
		if l.rid == "" {
			_, _, err = recv.ReadRTCP()
		} else {
			_, _, err = recv.ReadSimulcastRTCP(l.rid)
		}
		if err != nil {
			return
		}
	}
}

// measure updates the layer's bitrate over the period since the last call.
func (l *layer) measure(period time.Duration) {
	b := l.bytes.Load()
	if period > 0 {
		l.rate = int(float64(b-l.lastBytes) * 8 / period.Seconds())
	}
	l.lastBytes = b
	if l.rate > 0 {
		l.knownRate = l.rate
	}
}

// Expected bitrates of simulcast layers not yet measured (the page asks
// browsers for about these).
var defaultLayerRate = [...]int{150_000, 500_000, 1_500_000}

// cost is what forwarding the layer takes, in bits/s.
func (l *layer) cost() int {
	if l.knownRate > 0 {
		return l.knownRate
	}
	if len(l.t.layers) > 1 && l.index < len(defaultLayerRate) {
		return defaultLayerRate[l.index]
	}
	return 0
}

// requestKeyframe asks the publisher for a keyframe on this layer now and
// again every pliRepeat until one is forwarded.
func (l *layer) requestKeyframe() {
	if !l.t.video {
		return
	}
	l.wantKeyframe.Store(true)
	l.sendPLI()
	if !l.pliLoop.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer l.pliLoop.Store(false)
		for i := 0; i < pliMaxRepeats && l.wantKeyframe.Load(); i++ {
			select {
			case <-time.After(pliRepeat):
			case <-l.t.owner.done:
				return
			}
			if l.wantKeyframe.Load() {
				l.sendPLI()
			}
		}
	}()
}

func (l *layer) sendPLI() {
	remote := l.remote.Load()
	if remote == nil {
		return // nothing arrived yet; the first packets will start it
	}
	now := time.Now().UnixNano()
	last := l.lastPLI.Load()
	if now-last < int64(pliMinInterval) || !l.lastPLI.CompareAndSwap(last, now) {
		return
	}
	_ = l.t.owner.pub.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(remote.SSRC())}})
}

// isKeyframeStart reports whether an RTP payload starts a keyframe: a
// switch of layer or a new subscriber can begin there.
func isKeyframeStart(mime string, payload []byte) bool {
	switch {
	case strings.EqualFold(mime, webrtc.MimeTypeVP8):
		return isVP8KeyframePayload(payload)
	case strings.EqualFold(mime, webrtc.MimeTypeH264):
		return isH264KeyframePayload(payload)
	}
	return true
}

// isVP8Keyframe reports whether an RTP packet starts a VP8 keyframe.
func isVP8Keyframe(pkt []byte) bool {
	var p rtp.Packet
	if p.Unmarshal(pkt) != nil {
		return false
	}
	return isVP8KeyframePayload(p.Payload)
}

// isVP8KeyframePayload reports whether an RTP payload is the start of a
// VP8 keyframe (RFC 7741: the first partition of a frame whose P bit is 0).
func isVP8KeyframePayload(d []byte) bool {
	if len(d) == 0 || d[0]&0x10 == 0 || d[0]&0x07 != 0 { // S bit, partition 0
		return false
	}
	i := vp8DescriptorLen(d)
	return i > 0 && len(d) > i && d[i]&0x01 == 0
}

// vp8Size reads the picture size from the start of a VP8 keyframe
// (RFC 6386 §9.1: a 3-byte tag, the start code 9d 01 2a, then 14-bit
// width and height).
func vp8Size(d []byte) (w, h int, ok bool) {
	i := vp8DescriptorLen(d)
	if i == 0 || len(d) < i+10 {
		return 0, 0, false
	}
	f := d[i:]
	if f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a {
		return 0, 0, false
	}
	w = int(f[6]) | int(f[7]&0x3f)<<8
	h = int(f[8]) | int(f[9]&0x3f)<<8
	return w, h, w > 0 && h > 0
}

// isH264KeyframePayload reports whether an RTP payload (RFC 6184) starts
// an H.264 keyframe: an IDR slice or a sequence parameter set, alone, in
// a STAP-A, or at the start of a FU-A.
func isH264KeyframePayload(d []byte) bool {
	if len(d) < 2 {
		return false
	}
	key := func(nal byte) bool { t := nal & 0x1f; return t == 5 || t == 7 }
	switch typ := d[0] & 0x1f; {
	case typ >= 1 && typ <= 23:
		return key(d[0])
	case typ == 24: // STAP-A: 16-bit sizes, then NAL units
		for i := 1; i+2 < len(d); {
			size := int(d[i])<<8 | int(d[i+1])
			if size == 0 || i+2+size > len(d) {
				return false
			}
			if key(d[i+2]) {
				return true
			}
			i += 2 + size
		}
	case typ == 28: // FU-A: the start bit and the NAL type in the FU header
		return d[1]&0x80 != 0 && key(d[1])
	}
	return false
}

// vp8DescriptorLen is the length of the VP8 payload descriptor at the
// start of an RTP payload, or 0 when it is truncated.
func vp8DescriptorLen(d []byte) int {
	if len(d) == 0 {
		return 0
	}
	i := 1
	if d[0]&0x80 != 0 { // X: extended control bits
		if len(d) <= i {
			return 0
		}
		x := d[i]
		i++
		if x&0x80 != 0 { // I: picture id, 7 or 15 bits
			if len(d) <= i {
				return 0
			}
			if d[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K: TID/KEYIDX
			i++
		}
	}
	if i > len(d) {
		return 0
	}
	return i
}
