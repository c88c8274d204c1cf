package h264

import (
	"bytes"
	"testing"
)

// TestRoundTripClip sends the test clip through Packetizer and Assembler
// and expects every access unit back byte for byte.
func TestRoundTripClip(t *testing.T) {
	aus := clipAUs(t)
	if len(aus) != 60 {
		t.Fatalf("clip has %d access units, want 60 (4 s at 15 fps)", len(aus))
	}
	var keyframes []int
	for i, au := range aus {
		if au.Keyframe {
			keyframes = append(keyframes, i)
		}
		if want := uint32(i * 6000); au.Timestamp != want {
			t.Fatalf("access unit %d: timestamp %d, want %d", i, au.Timestamp, want)
		}
	}
	if len(keyframes) != 2 || keyframes[0] != 0 || keyframes[1] != 30 {
		t.Fatalf("keyframes at %v, want [0 30]", keyframes)
	}
	if n := len(aus[0].NALUs); n != 4 || NALType(aus[0].NALUs[0]) != NALSPS || NALType(aus[0].NALUs[3]) != NALIDR {
		t.Fatalf("first access unit has %d NAL units starting with type %d; want SPS, PPS, SEI, IDR", n, NALType(aus[0].NALUs[0]))
	}

	for _, aggregate := range []bool{false, true} {
		name := "single and FU-A"
		if aggregate {
			name = "with STAP-A"
		}
		t.Run(name, func(t *testing.T) {
			p := NewPacketizer(1200, 96, 0x1234)
			p.Aggregate = aggregate
			a := NewAssembler(0)
			seq := p.NextSequenceNumber()
			stapA := 0
			for i, au := range aus {
				pkts := p.Packetize(au)
				if len(pkts) == 0 {
					t.Fatalf("access unit %d: no packets", i)
				}
				for j, pk := range pkts {
					if size := pk.MarshalSize(); size > 1200 {
						t.Fatalf("access unit %d packet %d: %d bytes over the 1200 MTU", i, j, size)
					}
					if pk.SequenceNumber != seq || pk.Timestamp != au.Timestamp || pk.SSRC != 0x1234 || pk.PayloadType != 96 {
						t.Fatalf("access unit %d packet %d: header %+v, want seq %d ts %d", i, j, pk.Header, seq, au.Timestamp)
					}
					if pk.Marker != (j == len(pkts)-1) {
						t.Fatalf("access unit %d packet %d: marker %v", i, j, pk.Marker)
					}
					if NALType(pk.Payload) == NALSTAPA {
						stapA++
					}
					seq++
					got, ok, err := a.Push(pk)
					if err != nil {
						t.Fatalf("access unit %d packet %d: %v", i, j, err)
					}
					if ok != (j == len(pkts)-1) {
						t.Fatalf("access unit %d packet %d: complete = %v", i, j, ok)
					}
					if ok && !sameAU(got, au) {
						t.Fatalf("access unit %d came back different", i)
					}
				}
			}
			if want := map[bool]int{false: 0, true: 2}[aggregate]; stapA != want {
				t.Errorf("%d STAP-A packets, want %d (one per keyframe's parameter sets)", stapA, want)
			}
			if st := a.Stats(); st.AccessUnits != 60 || st.Keyframes != 2 || st.Dropped != 0 {
				t.Errorf("assembler stats %+v, want 60 access units, 2 keyframes, none dropped", st)
			}
		})
	}
}

func TestPacketizer(t *testing.T) {
	sps, pps, sei := nal(NALSPS, 10), nal(NALPPS, 4), nal(NALSEI, 20)
	small := nal(NALSlice, 88) // 89 bytes
	tests := []struct {
		name      string
		mtu       int
		aggregate bool
		au        AccessUnit
		want      [][]byte // payloads
	}{
		{
			name: "single NAL units",
			mtu:  200,
			au:   AccessUnit{NALUs: [][]byte{sps, pps, small}},
			want: [][]byte{sps, pps, small},
		},
		{
			name: "NAL unit exactly filling the payload stays single",
			mtu:  12 + 89,
			au:   AccessUnit{NALUs: [][]byte{small}},
			want: [][]byte{small},
		},
		{
			name: "one byte over goes to even FU-A fragments",
			mtu:  12 + 88,
			au:   AccessUnit{NALUs: [][]byte{small}},
			// 88 data bytes, room 86 per fragment: two fragments of 44.
			want: [][]byte{
				cat([]byte{0x7c, 0x81}, small[1:45]),
				cat([]byte{0x7c, 0x41}, small[45:]),
			},
		},
		{
			name:      "aggregate runs that fit, leave the rest",
			mtu:       12 + 60,
			aggregate: true,
			au:        AccessUnit{NALUs: [][]byte{sps, pps, sei, small}},
			want: [][]byte{
				// 1 + 13 + 7 + 23 = 44 bytes fit in 60; the slice does not.
				cat([]byte{0x78, 0, 11}, sps, []byte{0, 5}, pps, []byte{0, 21}, sei),
				cat([]byte{0x7c, 0x81}, small[1:45]),
				cat([]byte{0x7c, 0x41}, small[45:]),
			},
		},
		{
			name:      "STAP-A header takes the highest NRI and the F bit",
			mtu:       200,
			aggregate: true,
			au:        AccessUnit{NALUs: [][]byte{{0x26, 1}, {0x86, 2}}},
			want:      [][]byte{{0xb8, 0, 2, 0x26, 1, 0, 2, 0x86, 2}},
		},
		{
			name:      "a lone small NAL unit is not aggregated",
			mtu:       200,
			aggregate: true,
			au:        AccessUnit{NALUs: [][]byte{sps}},
			want:      [][]byte{sps},
		},
		{
			name: "uncarriable and empty NAL units are left out",
			mtu:  200,
			au:   AccessUnit{NALUs: [][]byte{{}, {0x78, 1}, {0x00, 1}, sps, {0x7f}}},
			want: [][]byte{sps},
		},
		{
			name: "empty access unit gives no packets",
			mtu:  200,
			au:   AccessUnit{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPacketizer(tt.mtu, 96, 7)
			p.Aggregate = tt.aggregate
			pkts := p.Packetize(tt.au)
			if len(pkts) != len(tt.want) {
				t.Fatalf("got %d packets, want %d", len(pkts), len(tt.want))
			}
			for i, pk := range pkts {
				if !bytes.Equal(pk.Payload, tt.want[i]) {
					t.Errorf("packet %d payload\n %x\nwant\n %x", i, pk.Payload, tt.want[i])
				}
				if pk.MarshalSize() > max(tt.mtu, MinMTU) {
					t.Errorf("packet %d: %d bytes over MTU %d", i, pk.MarshalSize(), tt.mtu)
				}
			}
		})
	}
}

func TestPacketizerSequenceAcrossCalls(t *testing.T) {
	p := NewPacketizer(0, 111, 9)
	p.seq = 65534 // white-box: start near the wrap
	au := AccessUnit{NALUs: [][]byte{nal(NALIDR, 3000)}, Timestamp: 90000}
	first := clonePackets(p.Packetize(au))
	if len(first) != 3 {
		t.Fatalf("3000-byte NAL unit at the default MTU gave %d packets, want 3", len(first))
	}
	au.Timestamp += 3000
	second := p.Packetize(au)
	var seqs []uint16
	for _, pk := range append(first, second...) {
		seqs = append(seqs, pk.SequenceNumber)
	}
	want := []uint16{65534, 65535, 0, 1, 2, 3}
	for i := range want {
		if seqs[i] != want[i] {
			t.Fatalf("sequence numbers %v, want %v", seqs, want)
		}
	}
	if second[0].Timestamp != 93000 || second[0].PayloadType != 111 || second[0].Version != 2 {
		t.Errorf("second call header %+v", second[0].Header)
	}
}

func TestPacketizerMTUBounds(t *testing.T) {
	nalu := nal(NALIDR, 5000)
	for _, mtu := range []int{0, 1, MinMTU, 1500} {
		p := NewPacketizer(mtu, 96, 1)
		limit := mtu
		switch {
		case mtu == 0:
			limit = DefaultMTU
		case mtu < MinMTU:
			limit = MinMTU
		}
		a := NewAssembler(0)
		pkts := p.Packetize(AccessUnit{NALUs: [][]byte{nalu}})
		var got AccessUnit
		var ok bool
		for _, pk := range pkts {
			if pk.MarshalSize() > limit {
				t.Fatalf("mtu %d: packet of %d bytes, limit %d", mtu, pk.MarshalSize(), limit)
			}
			var err error
			if got, ok, err = a.Push(pk); err != nil {
				t.Fatalf("mtu %d: %v", mtu, err)
			}
		}
		if !ok || len(got.NALUs) != 1 || !bytes.Equal(got.NALUs[0], nalu) {
			t.Errorf("mtu %d: NAL unit did not survive fragmentation", mtu)
		}
	}
}

// TestPacketizerReuse documents the ownership rule: the next call reuses
// the packets, so callers must be done with them first.
func TestPacketizerReuse(t *testing.T) {
	p := NewPacketizer(100, 96, 1)
	first := p.Packetize(AccessUnit{NALUs: [][]byte{nal(NALIDR, 300)}})
	keep := first[0]
	second := p.Packetize(AccessUnit{NALUs: [][]byte{nal(NALSlice, 300)}, Timestamp: 3000})
	if keep != second[0] || keep.Timestamp != 3000 {
		t.Errorf("packet structs were not reused across calls")
	}
}
