package h264

import (
	"testing"

	"github.com/pion/rtp"
)

// clipPackets packetizes the whole clip at the WebRTC MTU into packets the
// benchmark owns.
func clipPackets(b *testing.B) (pkts []*rtp.Packet, payloadBytes int) {
	p := NewPacketizer(DefaultMTU, 96, 1)
	for _, au := range clipAUs(b) {
		for _, pk := range clonePackets(p.Packetize(au)) {
			pkts = append(pkts, pk)
			payloadBytes += len(pk.Payload)
		}
	}
	return pkts, payloadBytes
}

// BenchmarkAssembler measures depacketizing the clip, one op being the
// whole 4 s stream; MB/s counts RTP payload bytes.
func BenchmarkAssembler(b *testing.B) {
	pkts, size := clipPackets(b)
	a := NewAssembler(0)
	seq := uint16(0)
	push := func() int {
		aus := 0
		for _, pk := range pkts {
			// Sequence numbers continue over repeats so no pass looks
			// like a loss.
			pk.SequenceNumber = seq
			seq++
			_, ok, err := a.Push(pk)
			if err != nil {
				b.Fatal(err)
			}
			if ok {
				aus++
			}
		}
		return aus
	}
	push() // grow the buffers once: steady state is what matters
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if n := push(); n != 60 {
			b.Fatalf("%d access units, want 60", n)
		}
	}
	b.ReportMetric(float64(len(pkts)), "pkts/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pkts)), "ns/pkt")
}

// BenchmarkPacketizer measures packetizing the clip at the WebRTC MTU, one
// op being the whole stream; MB/s counts NAL unit bytes.
func BenchmarkPacketizer(b *testing.B) {
	aus := clipAUs(b)
	size := 0
	for _, au := range aus {
		size += au.Size()
	}
	for _, aggregate := range []bool{false, true} {
		name := "single+FU-A"
		if aggregate {
			name = "STAP-A"
		}
		b.Run(name, func(b *testing.B) {
			p := NewPacketizer(DefaultMTU, 96, 1)
			p.Aggregate = aggregate
			count := 0
			for _, au := range aus {
				count += len(p.Packetize(au))
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				for _, au := range aus {
					p.Packetize(au)
				}
			}
			b.ReportMetric(float64(count), "pkts/op")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*count), "ns/pkt")
		})
	}
}

// BenchmarkParseSPS covers the per-stream cost of health figures.
func BenchmarkParseSPS(b *testing.B) {
	sps := mustHex(b, knownSPS[1].hex)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseSPS(sps); err != nil {
			b.Fatal(err)
		}
	}
}
