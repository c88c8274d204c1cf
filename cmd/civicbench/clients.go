package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"civic/conference/confclient"
)

// audioLevelURI is the RFC 6464 client-to-mixer audio level extension;
// browsers send it and civicd's active-speaker detection reads it.
const audioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

// Synthetic media. Video is VP8-framed: 30 frames/s of 6,250 bytes
// (1.5 Mbit/s of payload), each frame split into packets of at most
// maxPayload bytes, a keyframe every 2 s. Audio is Opus-framed: a 100-byte
// packet every 20 ms (40 kbit/s of payload, 50 packets/s).
const (
	videoFPS       = 30
	videoFrame     = 1_500_000 / 8 / videoFPS
	maxPayload     = 1100
	keyframeFrames = 2 * videoFPS
	audioInterval  = 20 * time.Millisecond
	audioPayload   = 100
	// pacingRate is what a browser's pacer sends a frame at when pacing
	// is on: 2.5 times the target bitrate, as libwebrtc does.
	pacingRate = 2.5 * 1_500_000
)

// Every synthetic payload carries, from byte 2, the sender's clock (8
// bytes, nanoseconds on the bench's monotonic clock) and the publisher's
// index (2 bytes). Byte 0 is the VP8 payload descriptor or the Opus TOC
// byte; byte 1 is the VP8 payload header on a frame's first packet.
const (
	stampOff = 2
	stampLen = 10
)

// clock is the bench's time base: the send time in each payload and the
// measurement window [t0, t1) are nanoseconds since base, on the
// monotonic clock, so publisher and subscriber (one process) agree.
type clock struct {
	base   time.Time
	t0, t1 atomic.Int64
}

func newClock() *clock {
	c := &clock{base: time.Now()}
	c.t0.Store(1<<63 - 1)
	c.t1.Store(1<<63 - 1)
	return c
}

func (c *clock) now() int64 { return int64(time.Since(c.base)) }

// in reports whether a packet sent at t falls in the measurement window.
func (c *clock) in(t int64) bool { return t >= c.t0.Load() && t < c.t1.Load() }

// loopbackAPI is a pion API with the default codecs and interceptors (the
// browser's set: NACK, RTCP reports, TWCC) whose peer connections use
// only 127.0.0.1 over UDP. Unless verbose, pion's own log (which
// complains about packets that arrive while participants leave) is off.
func loopbackAPI(verbose bool) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: audioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if !verbose {
		se.LoggerFactory = &logging.DefaultLoggerFactory{Writer: io.Discard, DefaultLogLevel: logging.LogLevelDisabled, ScopeLevels: map[string]logging.LogLevel{}}
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se)), nil
}

// participant is one Go client in a meeting: its console websocket, its
// session, what it published and what it received.
type participant struct {
	idx     int // embedded in what it publishes
	meeting int
	video   bool // publishes VP8
	audio   bool // publishes Opus
	paced   bool // spreads each video frame like a browser's pacer
	clk     *clock

	c *confclient.Client
	s *confclient.Session

	sentVideo, sentAudio atomic.Uint64 // packets sent in the window
	streams              atomic.Int32  // forwarded tracks that delivered a packet
	rx                   rxStats

	stop chan struct{}
	wg   sync.WaitGroup
}

// rxStats counts what a participant received in the window. Several
// track readers update it, with atomics.
type rxStats struct {
	pkts, bytes      [2]atomic.Uint64 // [0] audio, [1] video
	lat              [2]histogram
	stale, malformed atomic.Uint64
}

// join dials the console, joins room and starts reading forwarded tracks.
func (p *participant) join(ctx context.Context, url, token string, api *webrtc.API, opts confclient.Options, room string) error {
	c, err := confclient.Dial(ctx, url, token, opts)
	if err != nil {
		return err
	}
	s, err := c.Join(ctx, api, room, p.read)
	if err != nil {
		c.Close()
		return fmt.Errorf("join %s: %w", room, err)
	}
	p.c, p.s = c, s
	p.stop = make(chan struct{})
	go func() { // the meeting's events are not measured; keep them moving
		for range s.Events() {
		}
	}()
	return nil
}

// read counts one forwarded track's packets and their forwarding delay.
func (p *participant) read(t *webrtc.TrackRemote) {
	k := 0
	if t.Kind() == webrtc.RTPCodecTypeVideo {
		k = 1
	}
	buf := make([]byte, 1500)
	first := true
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		now := p.clk.now()
		pl := rtpPayload(buf[:n])
		if len(pl) < stampOff+stampLen {
			p.rx.malformed.Add(1)
			continue
		}
		if first {
			first = false
			p.streams.Add(1)
		}
		sent := int64(binary.BigEndian.Uint64(pl[stampOff:]))
		if !p.clk.in(sent) {
			continue
		}
		if now >= p.clk.t1.Load()+int64(graceTime) {
			p.rx.stale.Add(1) // arrived after the results were read
			continue
		}
		p.rx.pkts[k].Add(1)
		p.rx.bytes[k].Add(uint64(n))
		p.rx.lat[k].add(time.Duration(now - sent))
	}
}

// rtpPayload returns the payload of a raw RTP packet, or nil.
func rtpPayload(b []byte) []byte {
	if len(b) < 12 {
		return nil
	}
	i := 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 { // header extension
		if len(b) < i+4 {
			return nil
		}
		i += 4 + 4*int(binary.BigEndian.Uint16(b[i+2:]))
	}
	end := len(b)
	if b[0]&0x20 != 0 && end > 0 { // padding
		end -= int(b[end-1])
	}
	if i > end {
		return nil
	}
	return b[i:end]
}

// publish adds the participant's tracks and starts sending.
func (p *participant) publish(ctx context.Context) error {
	if p.audio {
		track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "civicbench")
		if err != nil {
			return err
		}
		sender, err := p.s.Publish(ctx, track)
		if err != nil {
			return fmt.Errorf("publish audio: %w", err)
		}
		var levelID uint8
		for _, e := range sender.GetParameters().HeaderExtensions {
			if e.URI == audioLevelURI {
				levelID = uint8(e.ID)
			}
		}
		p.wg.Add(1)
		go p.sendAudio(track, levelID)
	}
	if p.video {
		track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "civicbench")
		if err != nil {
			return err
		}
		if _, err := p.s.Publish(ctx, track); err != nil {
			return fmt.Errorf("publish video: %w", err)
		}
		p.wg.Add(1)
		go p.sendVideo(track)
	}
	return nil
}

// stamp writes the send time and publisher index into a payload and
// counts the packet when it falls in the window.
func (p *participant) stamp(pl []byte, sent *atomic.Uint64) {
	now := p.clk.now()
	binary.BigEndian.PutUint64(pl[stampOff:], uint64(now))
	binary.BigEndian.PutUint16(pl[stampOff+8:], uint16(p.idx))
	if p.clk.in(now) {
		sent.Add(1)
	}
}

// pace waits a random part of interval, so that publishers do not send in
// lockstep, then returns a ticker.
func (p *participant) pace(interval time.Duration) (*time.Ticker, bool) {
	select {
	case <-time.After(rand.N(interval)):
	case <-p.stop:
		return nil, false
	}
	return time.NewTicker(interval), true
}

func (p *participant) sendAudio(track *webrtc.TrackLocalStaticRTP, levelID uint8) {
	defer p.wg.Done()
	tick, ok := p.pace(audioInterval)
	if !ok {
		return
	}
	defer tick.Stop()
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(rand.Uint32()), Timestamp: rand.Uint32()}}
	pkt.Payload = make([]byte, audioPayload)
	pkt.Payload[0] = 0x78 // Opus TOC: SILK-only wideband, 20 ms frame
	if levelID != 0 {
		// -20 dBov with the voice bit: loud enough to count as speaking.
		_ = pkt.SetExtension(levelID, []byte{0x80 | 20})
	}
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		p.stamp(pkt.Payload, &p.sentAudio)
		_ = track.WriteRTP(pkt)
		pkt.SequenceNumber++
		pkt.Timestamp += 48000 * uint32(audioInterval/time.Millisecond) / 1000
	}
}

func (p *participant) sendVideo(track *webrtc.TrackLocalStaticRTP) {
	defer p.wg.Done()
	tick, ok := p.pace(time.Second / videoFPS)
	if !ok {
		return
	}
	defer tick.Stop()
	parts := (videoFrame + maxPayload - 1) / maxPayload
	size := videoFrame / parts
	gap := time.Duration(float64(size*8) / pacingRate * float64(time.Second))
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(rand.Uint32()), Timestamp: rand.Uint32()}}
	buf := make([]byte, size)
	for frame := 0; ; frame++ {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		for i := range parts {
			if i > 0 && p.paced {
				time.Sleep(gap) // the pacer's spacing, a couple of ms
			}
			pkt.Payload = buf
			buf[0] = 0x00 // VP8 descriptor: continuation
			if i == 0 {
				buf[0] = 0x10 // S: start of partition 0
				buf[1] = 0x01 // VP8 header, P=1: an interframe
				if frame%keyframeFrames == 0 {
					buf[1] = 0x00 // P=0: a keyframe
				}
			}
			pkt.Marker = i == parts-1
			p.stamp(buf, &p.sentVideo)
			_ = track.WriteRTP(pkt)
			pkt.SequenceNumber++
		}
		pkt.Timestamp += 90000 / videoFPS
	}
}

// leave stops publishing, leaves the meeting and closes the websocket.
func (p *participant) leave(ctx context.Context) {
	if p.stop != nil {
		close(p.stop)
		p.wg.Wait()
	}
	if p.s != nil {
		_ = p.s.Leave(ctx)
	}
	if p.c != nil {
		_ = p.c.Close()
	}
}
