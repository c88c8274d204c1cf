package h264

import (
	"bytes"
	"os"
	"testing"

	"github.com/pion/rtp"
)

// clipPath is the committed test clip; see testdata/README.md.
const clipPath = "testdata/ball-640x360-15fps.h264"

func readClip(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile(clipPath)
	if err != nil {
		tb.Fatalf("read test clip: %v", err)
	}
	return b
}

func clipAUs(tb testing.TB) []AccessUnit {
	tb.Helper()
	aus := AccessUnitsFromAnnexB(readClip(tb), 15)
	if len(aus) == 0 {
		tb.Fatal("test clip gave no access units")
	}
	return aus
}

// cloneAU deep-copies an access unit, since the Assembler's output is only
// valid until the next Push.
func cloneAU(au AccessUnit) AccessUnit {
	out := AccessUnit{Timestamp: au.Timestamp, Keyframe: au.Keyframe}
	for _, n := range au.NALUs {
		out.NALUs = append(out.NALUs, bytes.Clone(n))
	}
	return out
}

func sameAU(a, b AccessUnit) bool {
	if a.Timestamp != b.Timestamp || a.Keyframe != b.Keyframe || len(a.NALUs) != len(b.NALUs) {
		return false
	}
	for i := range a.NALUs {
		if !bytes.Equal(a.NALUs[i], b.NALUs[i]) {
			return false
		}
	}
	return true
}

// clonePackets deep-copies packets, since the Packetizer reuses its own.
func clonePackets(pkts []*rtp.Packet) []*rtp.Packet {
	out := make([]*rtp.Packet, len(pkts))
	for i, p := range pkts {
		c := *p
		c.Payload = bytes.Clone(p.Payload)
		out[i] = &c
	}
	return out
}

// bitWriter builds RBSPs bit by bit, so tests can make SPSs with fields no
// encoder at hand produces (POC type 1, scaling lists, 4:2:2).
type bitWriter struct {
	b    []byte
	nbit uint
}

func (w *bitWriter) u(n int, v uint64) {
	for i := n - 1; i >= 0; i-- {
		if w.nbit%8 == 0 {
			w.b = append(w.b, 0)
		}
		if v>>uint(i)&1 == 1 {
			w.b[len(w.b)-1] |= 0x80 >> (w.nbit % 8)
		}
		w.nbit++
	}
}

func (w *bitWriter) flag(f bool) {
	if f {
		w.u(1, 1)
	} else {
		w.u(1, 0)
	}
}

func (w *bitWriter) ue(v uint64) {
	v++
	n := 0
	for x := v; x > 1; x >>= 1 {
		n++
	}
	w.u(n, 0)
	w.u(n+1, v)
}

func (w *bitWriter) se(v int64) {
	if v > 0 {
		w.ue(uint64(2*v - 1))
	} else {
		w.ue(uint64(-2 * v))
	}
}

// nalu ends the RBSP with its stop bit and returns it as a NAL unit with
// header byte hdr and emulation-prevention bytes inserted.
func (w *bitWriter) nalu(hdr byte) []byte {
	w.u(1, 1)
	for w.nbit%8 != 0 {
		w.u(1, 0)
	}
	out := []byte{hdr}
	zeros := 0
	for _, c := range w.b {
		if zeros >= 2 && c <= 3 {
			out = append(out, 3)
			zeros = 0
		}
		out = append(out, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}

// pkt makes an RTP packet for Assembler tests.
func pkt(seq uint16, ts uint32, marker bool, payload ...byte) *rtp.Packet {
	return &rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, Marker: marker, SSRC: 1},
		Payload: payload,
	}
}

// cat joins byte slices, to write payloads readably.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// nal makes a NAL unit of type t with NRI 3 and n bytes after the header.
func nal(t byte, n int) []byte {
	b := make([]byte, 1+n)
	b[0] = 0x60 | t
	for i := range n {
		b[1+i] = byte(i*7 + int(t))
	}
	return b
}

// stapA aggregates NAL units into a STAP-A payload.
func stapA(nalus ...[]byte) []byte {
	out := []byte{0x78}
	for _, n := range nalus {
		out = append(out, byte(len(n)>>8), byte(len(n)))
		out = append(out, n...)
	}
	return out
}

// fuA makes FU-A payloads from nalu, split into parts of the given sizes
// (the last part takes the rest).
func fuA(nalu []byte, sizes ...int) [][]byte {
	data := nalu[1:]
	var out [][]byte
	for i := 0; len(data) > 0; i++ {
		n := len(data)
		if i < len(sizes) && sizes[i] < n {
			n = sizes[i]
		}
		fuh := nalu[0] & 0x1f
		if i == 0 {
			fuh |= 0x80
		}
		if n == len(data) {
			fuh |= 0x40
		}
		out = append(out, cat([]byte{nalu[0]&0xe0 | NALFUA, fuh}, data[:n]))
		data = data[n:]
	}
	return out
}
