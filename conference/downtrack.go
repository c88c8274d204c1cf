package conference

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
)

// downTrack is one forwarded track as one subscriber gets it: a track of
// its own on the subscribe connection (its own SSRC, sequence numbers and
// timestamps), fed from whichever layer of the published track suits
// that subscriber. A switch of layer happens on a keyframe of the new
// layer, and the numbering carries on across it, so the subscriber's
// decoder sees one unbroken stream.
type downTrack struct {
	t   *forwardTrack
	sub *Participant

	// current is the layer being forwarded (-1: none yet, or paused).
	// target is the layer the allocator chose (-1: paused).
	current atomic.Int32
	target  atomic.Int32

	bytes atomic.Uint64 // sent, for the subscriber's bitrate
	// allocated is set once the allocator chose a first layer (its alone).
	allocated bool
	packets   atomic.Uint64

	mu        sync.Mutex // guards what follows; never held across I/O
	bound     bool
	ssrc      uint32
	pt        uint8
	levelID   uint8 // the subscriber's audio-level extension id
	ws        webrtc.TrackLocalWriter
	started   bool // something was sent: numbering must continue
	seqOffset uint16
	tsOffset  uint32
	switchSeq uint16 // the current layer's first forwarded sequence number
	lastSeq   uint16
	lastTS    uint32
	lastAt    int64 // unix nanos of the last packet sent
}

func newDownTrack(t *forwardTrack, sub *Participant) *downTrack {
	d := &downTrack{t: t, sub: sub}
	d.current.Store(-1)
	return d
}

// Bind implements webrtc.TrackLocal: the subscribe connection negotiated
// the track. The codec must be the publisher's.
func (d *downTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	var found *webrtc.RTPCodecParameters
	for _, c := range ctx.CodecParameters() {
		if !strings.EqualFold(c.MimeType, d.t.codec.MimeType) {
			continue
		}
		if found == nil || c.SDPFmtpLine == d.t.codec.SDPFmtpLine {
			found = &c
		}
	}
	if found == nil {
		return webrtc.RTPCodecParameters{}, errors.New("the subscriber does not take " + d.t.codec.MimeType)
	}
	d.mu.Lock()
	d.bound = true
	d.ssrc = uint32(ctx.SSRC())
	d.pt = uint8(found.PayloadType)
	d.ws = ctx.WriteStream()
	d.levelID = extensionID(ctx.HeaderExtensions(), audioLevelURI)
	d.mu.Unlock()
	return *found, nil
}

// Unbind implements webrtc.TrackLocal.
func (d *downTrack) Unbind(webrtc.TrackLocalContext) error {
	d.mu.Lock()
	d.bound = false
	d.ws = nil
	d.mu.Unlock()
	return nil
}

// ID implements webrtc.TrackLocal.
func (d *downTrack) ID() string { return d.t.id }

// RID implements webrtc.TrackLocal: the subscriber gets one stream.
func (d *downTrack) RID() string { return "" }

// StreamID implements webrtc.TrackLocal.
func (d *downTrack) StreamID() string { return d.t.streamID }

// Kind implements webrtc.TrackLocal.
func (d *downTrack) Kind() webrtc.RTPCodecType {
	if d.t.video {
		return webrtc.RTPCodecTypeVideo
	}
	return webrtc.RTPCodecTypeAudio
}

// write sends the layer's current packet (l.pkt) to the subscriber when
// it takes that layer. start says the packet begins a keyframe (always
// true for audio); level is the packet's audio level, or -1. sc is the
// calling goroutine's scratch.
func (d *downTrack) write(l *layer, sc *writeScratch, start bool, level int) {
	if !d.sub.subReady.Load() {
		return // a packet sent now would be lost, and the decoder wait for it
	}
	idx := int32(l.index)
	cur, tgt := d.current.Load(), d.target.Load()
	if tgt < 0 {
		if cur >= 0 {
			d.current.Store(-1) // paused: a resume waits for a keyframe
		}
		return
	}
	if cur != idx {
		if tgt != idx || !start {
			return
		}
		d.switchTo(l)
	}
	p := &l.pkt
	now := time.Now().UnixNano()
	d.mu.Lock()
	if !d.bound || (d.started && int16(p.SequenceNumber-d.switchSeq) < 0) {
		d.mu.Unlock() // not negotiated yet, or older than the switch
		return
	}
	seq := p.SequenceNumber + d.seqOffset
	ts := p.Timestamp + d.tsOffset
	if !d.started || int16(seq-d.lastSeq) > 0 {
		d.lastSeq, d.lastTS, d.lastAt = seq, ts, now
	}
	d.started = true
	ws, ssrc, pt, levelID := d.ws, d.ssrc, d.pt, d.levelID
	d.mu.Unlock()

	h := &sc.hdr
	*h = p.Header
	h.SSRC, h.PayloadType, h.SequenceNumber, h.Timestamp = ssrc, pt, seq, ts
	h.Padding, h.PaddingSize = false, 0
	// The publisher's extensions have its connection's ids; only the audio
	// level goes on, under the subscriber's id. The interceptors add the
	// transport-wide sequence number.
	h.Extension, h.ExtensionProfile, h.Extensions = false, 0, sc.ext[:0]
	if level >= 0 && levelID != 0 {
		sc.lvl[0] = byte(level)
		_ = h.SetExtension(levelID, sc.lvl[:])
	}
	n, err := ws.WriteRTP(h, p.Payload)
	if err == nil {
		d.bytes.Add(uint64(n))
		d.packets.Add(1)
	}
}

// switchTo makes l the forwarded layer from its packet l.pkt, a keyframe:
// sequence numbers go on from the last one sent, and the timestamp from
// the last one sent plus the time since.
func (d *downTrack) switchTo(l *layer) {
	p := &l.pkt
	d.mu.Lock()
	if d.started {
		d.seqOffset = d.lastSeq + 1 - p.SequenceNumber
		ticks := uint32(time.Duration(time.Now().UnixNano()-d.lastAt).Seconds() * float64(d.t.codec.ClockRate))
		if ticks == 0 {
			ticks = 1
		}
		d.tsOffset = d.lastTS + ticks - p.Timestamp
	}
	d.switchSeq = p.SequenceNumber
	d.mu.Unlock()
	d.current.Store(int32(l.index))
}

// layerFor is the layer to ask a keyframe of for this subscriber.
func (d *downTrack) layerFor() *layer {
	i := d.target.Load()
	if i < 0 {
		i = d.current.Load()
	}
	if i < 0 || int(i) >= len(d.t.layers) {
		return nil
	}
	return d.t.layers[i]
}
