package h264

import (
	"math/rand/v2"

	"github.com/pion/rtp"
)

const (
	// DefaultMTU is the RTP packet size NewPacketizer uses when given 0: the
	// size pion uses for WebRTC, leaving room for header extensions, SRTP
	// and tunnels under a 1500-byte link MTU.
	DefaultMTU = 1200
	// MinMTU is the smallest RTP packet size NewPacketizer accepts; smaller
	// values are raised to it.
	MinMTU = 64

	rtpHeaderSize = 12
	fuHeaderSize  = 2
)

// piece is one planned packet: a payload that aliases a NAL unit, or a
// range of the Packetizer's scratch buffer. Ranges rather than slices,
// because the buffer may move while it grows.
type piece struct {
	alias      []byte
	start, end int
}

// Packetizer turns access units into RTP packets for WebRTC (RFC 6184,
// packetization-mode 1): NAL units that fit go out as single NAL unit
// packets, larger ones as FU-A fragments of even size, and with Aggregate
// set, runs of small NAL units share one STAP-A. The marker bit is set on
// each access unit's last packet and sequence numbers continue across calls.
// The zero value is not usable; call NewPacketizer.
type Packetizer struct {
	// Aggregate packs runs of NAL units that fit together (typically SPS,
	// PPS and SEI ahead of an IDR) into one STAP-A packet, which saves
	// packets and keeps the parameter sets with their keyframe.
	// Default: false.
	Aggregate bool

	maxPayload int
	pt         uint8
	ssrc       uint32
	seq        uint16

	buf    []byte
	pieces []piece
	pkts   []rtp.Packet
	out    []*rtp.Packet
}

// NewPacketizer returns a Packetizer whose packets are at most mtu bytes
// with a 12-byte RTP header (0 means DefaultMTU, values under MinMTU are
// raised to it), carrying payloadType and ssrc. The first sequence number is
// random, as RFC 3550 asks.
func NewPacketizer(mtu int, payloadType uint8, ssrc uint32) *Packetizer {
	if mtu == 0 {
		mtu = DefaultMTU
	}
	mtu = max(mtu, MinMTU)
	return &Packetizer{
		maxPayload: mtu - rtpHeaderSize,
		pt:         payloadType & 0x7f,
		ssrc:       ssrc,
		seq:        uint16(rand.Uint32()),
	}
}

// NextSequenceNumber returns the sequence number the next packet will get.
func (p *Packetizer) NextSequenceNumber() uint16 { return p.seq }

// Packetize returns the RTP packets for one access unit, all with its
// timestamp. NAL units that RTP cannot carry (types 0 and 24 to 31) and
// empty ones are left out; an access unit with nothing left gives no
// packets.
//
// The returned slice, the packets and their payloads belong to the
// Packetizer and are reused by the next call: write them out (pion's
// WriteRTP marshals at once) or copy them before calling Packetize again.
// Payloads of single NAL unit packets alias au.NALUs, so those must also
// stay unchanged until the packets are written.
func (p *Packetizer) Packetize(au AccessUnit) []*rtp.Packet {
	p.buf = p.buf[:0]
	p.pieces = p.pieces[:0]
	nalus := au.NALUs
	for i := 0; i < len(nalus); {
		n := nalus[i]
		if len(n) == 0 || !carriable(NALType(n)) {
			i++
			continue
		}
		if p.Aggregate {
			if j := p.aggregate(nalus, i); j > i+1 {
				i = j
				continue
			}
		}
		if len(n) <= p.maxPayload {
			p.pieces = append(p.pieces, piece{alias: n})
		} else {
			p.fragment(n)
		}
		i++
	}
	return p.packets(au.Timestamp)
}

// aggregate packs nalus[i:j] into one STAP-A when at least two of them fit,
// and returns j; it returns i+1 or less when they do not.
func (p *Packetizer) aggregate(nalus [][]byte, i int) int {
	size, j := 1, i
	for j < len(nalus) {
		n := nalus[j]
		if len(n) == 0 || !carriable(NALType(n)) || size+2+len(n) > p.maxPayload {
			break
		}
		size += 2 + len(n)
		j++
	}
	if j-i < 2 {
		return j
	}
	start := len(p.buf)
	var fnri byte
	for _, n := range nalus[i:j] {
		// The STAP-A header takes the highest NRI and any F bit set inside.
		fnri = max(fnri&0x60, n[0]&0x60) | (fnri|n[0])&0x80
	}
	p.buf = append(p.buf, fnri|NALSTAPA)
	for _, n := range nalus[i:j] {
		p.buf = append(p.buf, byte(len(n)>>8), byte(len(n)))
		p.buf = append(p.buf, n...)
	}
	p.pieces = append(p.pieces, piece{start: start, end: len(p.buf)})
	return j
}

// fragment splits n into FU-A packets of even size, so no tiny tail packet
// follows a run of full ones.
func (p *Packetizer) fragment(n []byte) {
	hdr, data := n[0], n[1:]
	room := p.maxPayload - fuHeaderSize
	count := (len(data) + room - 1) / room
	size := (len(data) + count - 1) / count
	for k := 0; len(data) > 0; k++ {
		chunk := data[:min(size, len(data))]
		data = data[len(chunk):]
		fuh := hdr & 0x1f
		if k == 0 {
			fuh |= 0x80
		}
		if len(data) == 0 {
			fuh |= 0x40
		}
		start := len(p.buf)
		p.buf = append(p.buf, hdr&0xe0|NALFUA, fuh)
		p.buf = append(p.buf, chunk...)
		p.pieces = append(p.pieces, piece{start: start, end: len(p.buf)})
	}
}

// packets turns the planned pieces into RTP packets, reusing the structs of
// earlier calls.
func (p *Packetizer) packets(ts uint32) []*rtp.Packet {
	if cap(p.pkts) < len(p.pieces) {
		p.pkts = make([]rtp.Packet, len(p.pieces), len(p.pieces)+len(p.pieces)/2)
	}
	p.pkts = p.pkts[:len(p.pieces)]
	p.out = p.out[:0]
	for i, pc := range p.pieces {
		payload := pc.alias
		if payload == nil {
			payload = p.buf[pc.start:pc.end:pc.end]
		}
		p.pkts[i] = rtp.Packet{
			Header: rtp.Header{
				Version:        2,
				Marker:         i == len(p.pieces)-1,
				PayloadType:    p.pt,
				SequenceNumber: p.seq,
				Timestamp:      ts,
				SSRC:           p.ssrc,
			},
			Payload: payload,
		}
		p.seq++
		p.out = append(p.out, &p.pkts[i])
	}
	return p.out
}
