package h264

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/pion/rtp"
)

// fuzzPackets decodes fuzz bytes into an RTP packet sequence. Each record is
// a control byte, a length byte and that many payload bytes. The control
// byte's low bit is the marker, bits 1-2 pick the sequence step (next,
// repeat, skip one, jump) and bit 3 advances the timestamp.
func fuzzPackets(b []byte) []*rtp.Packet {
	var pkts []*rtp.Packet
	seq, ts := uint16(1000), uint32(0)
	for len(b) >= 2 {
		ctl, n := b[0], int(b[1])
		b = b[2:]
		n = min(n, len(b))
		switch ctl >> 1 & 3 {
		case 0:
			seq++
		case 2:
			seq += 2
		case 3:
			seq += uint16(ctl) << 8
		}
		if ctl&8 != 0 {
			ts += 3000
		}
		pkts = append(pkts, pkt(seq, ts, ctl&1 == 1, b[:n]...))
		b = b[n:]
	}
	return pkts
}

// encodeFuzzPackets is the inverse of fuzzPackets for in-order packets, to
// seed the corpus with real streams.
func encodeFuzzPackets(pkts []*rtp.Packet) []byte {
	var out []byte
	var ts uint32
	for _, p := range pkts {
		ctl := byte(0)
		if p.Marker {
			ctl |= 1
		}
		if p.Timestamp != ts {
			ctl |= 8
			ts = p.Timestamp
		}
		out = append(out, ctl, byte(min(len(p.Payload), 255)))
		out = append(out, p.Payload[:min(len(p.Payload), 255)]...)
	}
	return out
}

func FuzzAssembler(f *testing.F) {
	// Seeds stay small, cut from the clip: big inputs slow the fuzzer down
	// and take long to minimize.
	p := NewPacketizer(MinMTU, 96, 1)
	p.Aggregate = true
	var stream []*rtp.Packet
	for _, au := range clipAUs(f)[:3] {
		short := AccessUnit{Timestamp: au.Timestamp, Keyframe: au.Keyframe}
		for _, n := range au.NALUs {
			short.NALUs = append(short.NALUs, n[:min(len(n), 150)])
		}
		stream = append(stream, clonePackets(p.Packetize(short))...)
	}
	f.Add(encodeFuzzPackets(stream))
	f.Add(encodeFuzzPackets(stream[len(stream)/2:]))
	f.Add([]byte{1, 3, 0x78, 0, 5, 8, 2, 0x7c, 0x85, 1, 0, 0x1c, 0x45})
	f.Add([]byte{0, 0, 9, 1, 0x79, 4, 2, 0x7c, 0xc5, 0, 1, 0x61, 0x80})
	const limit = 2000
	f.Fuzz(func(t *testing.T, b []byte) {
		a := NewAssembler(limit)
		pkts := fuzzPackets(b)
		check := func(au AccessUnit) {
			key := false
			for _, n := range au.NALUs {
				if len(n) == 0 || !carriable(NALType(n)) {
					t.Fatalf("access unit holds NAL unit %x", n)
				}
				key = key || NALType(n) == NALIDR
			}
			if len(au.NALUs) == 0 || au.Size() > limit || au.Keyframe != key {
				t.Fatalf("bad access unit: %d NAL units, %d bytes, keyframe %v (IDR %v)", len(au.NALUs), au.Size(), au.Keyframe, key)
			}
		}
		for _, pk := range pkts {
			au, ok, err := a.Push(pk)
			if err != nil && !errors.Is(err, ErrPacketLoss) && !errors.Is(err, ErrTooLarge) &&
				!errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error outside the documented set: %v", err)
			}
			if ok {
				check(au)
			}
		}
		if au, ok := a.Flush(); ok {
			check(au)
		}
		if st := a.Stats(); st.Packets != uint64(len(pkts)) {
			t.Fatalf("Stats().Packets = %d, pushed %d", st.Packets, len(pkts))
		}
	})
}

// FuzzRoundTrip packetizes arbitrary access units and expects the Assembler
// to give them back unchanged.
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint8(0), []byte{5, 0x65, 1, 2, 3, 4, 2, 0x67, 9})
	f.Add(uint8(0x81), bytes.Repeat([]byte{200, 0x41}, 40))
	f.Fuzz(func(t *testing.T, opts uint8, b []byte) {
		var au AccessUnit
		for len(b) > 0 {
			n := min(int(b[0])+1, len(b)-1)
			b = b[1:]
			if n <= 0 {
				break
			}
			nalu := bytes.Clone(b[:n])
			// Only types RTP can carry survive packetization.
			nalu[0] = nalu[0]&0xe0 | (1 + nalu[0]%23)
			au.NALUs = append(au.NALUs, nalu)
			au.Keyframe = au.Keyframe || NALType(nalu) == NALIDR
			b = b[n:]
		}
		au.Timestamp = uint32(opts) * 1000
		p := NewPacketizer(MinMTU+int(opts&0x7f), 96, 1)
		p.Aggregate = opts&0x80 != 0
		a := NewAssembler(0)
		var got AccessUnit
		var ok bool
		for _, pk := range p.Packetize(au) {
			if pk.MarshalSize() > MinMTU+int(opts&0x7f) {
				t.Fatalf("packet of %d bytes over MTU", pk.MarshalSize())
			}
			var err error
			if got, ok, err = a.Push(pk); err != nil {
				t.Fatalf("Push: %v", err)
			}
		}
		if len(au.NALUs) == 0 {
			if ok {
				t.Fatalf("empty access unit came back as %+v", got)
			}
			return
		}
		if !ok || !sameAU(got, au) {
			t.Fatalf("round trip changed the access unit:\n got %x\nwant %x", got.NALUs, au.NALUs)
		}
	})
}

func FuzzParseSPS(f *testing.F) {
	for _, k := range knownSPS {
		f.Add(mustHex(f, k.hex))
	}
	for _, s := range syntheticSPS {
		f.Add(writeSPS(s.f))
	}
	f.Add([]byte{0x67})
	f.Add([]byte{0x67, 0x64, 0, 0x28, 0, 0, 3, 0, 0, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSPS(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidSPS) {
				t.Fatalf("error %v does not wrap ErrInvalidSPS", err)
			}
			return
		}
		if s.Width < 1 || s.Width > maxDimension || s.Height < 1 || s.Height > maxDimension {
			t.Fatalf("parsed size %dx%d out of range", s.Width, s.Height)
		}
		// An escape among the first bytes shifts the fields away from the
		// raw bytes ProfileLevelID reads; no real SPS has one there.
		if bytes.Contains(b[:min(len(b), 6)], []byte{0, 0, 3}) {
			return
		}
		if ProfileLevelID(b) == "" || s.ProfileIDC != b[1] || s.LevelIDC != b[3] {
			t.Fatalf("profile/level %d/%d disagree with bytes %x", s.ProfileIDC, s.LevelIDC, b[:4])
		}
	})
}

func FuzzSplitAnnexB(f *testing.F) {
	clip := readClip(f)
	f.Add(clip[:min(len(clip), 2048)])
	f.Add([]byte{0, 0, 0, 1, 0x67, 0, 0, 3, 1, 0, 0, 1, 0x68, 0, 0, 0})
	f.Add([]byte{0, 0, 1, 0, 0, 1, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		nalus := SplitAnnexB(b)
		total := 0
		for _, n := range nalus {
			if len(n) == 0 || n[len(n)-1] == 0 || bytes.Contains(n, startCode) {
				t.Fatalf("bad NAL unit %x", n)
			}
			total += len(n)
		}
		if total > len(b) {
			t.Fatalf("NAL units hold %d bytes of a %d-byte input", total, len(b))
		}
		count := 0
		for _, au := range AccessUnitsFromAnnexB(b, 30) {
			if len(au.NALUs) == 0 {
				t.Fatal("empty access unit")
			}
			count += len(au.NALUs)
		}
		if count != len(nalus) {
			t.Fatalf("access units hold %d NAL units, split gave %d", count, len(nalus))
		}
	})
}

func FuzzParseSprop(f *testing.F) {
	sps := mustHex(f, knownSPS[0].hex)
	enc := base64.StdEncoding.EncodeToString
	f.Add(enc(sps) + "," + enc([]byte{0x68, 0xcb, 0x83, 0xcb, 0x20}))
	f.Add("packetization-mode=1;sprop-parameter-sets=Z0IAH5WoFAFuQA==,aM48gA==;profile-level-id=42001f")
	f.Add("sprop-parameter-sets=,,=;")
	f.Fuzz(func(t *testing.T, s string) {
		gotSPS, gotPPS, err := ParseSpropParameterSets(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidSprop) {
				t.Fatalf("error %v does not wrap ErrInvalidSprop", err)
			}
			return
		}
		if NALType(gotSPS) != NALSPS || NALType(gotPPS) != NALPPS {
			t.Fatalf("got types %d and %d", NALType(gotSPS), NALType(gotPPS))
		}
	})
}
