package h264

import (
	"bytes"
	"testing"
)

func TestSplitAnnexB(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want [][]byte
	}{
		{"3-byte start codes", []byte{0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 2}, [][]byte{{0x67, 1}, {0x68, 2}}},
		{"4-byte start codes", []byte{0, 0, 0, 1, 0x67, 1, 0, 0, 0, 1, 0x68, 2}, [][]byte{{0x67, 1}, {0x68, 2}}},
		{"mixed, with leading zeros", []byte{0, 0, 0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x65, 0x88, 0, 0, 0, 1, 0x41, 0x9a}, [][]byte{{0x09, 0xf0}, {0x65, 0x88}, {0x41, 0x9a}}},
		{"junk before the first start code", []byte{0xde, 0xad, 0, 0, 1, 0x67, 1}, [][]byte{{0x67, 1}}},
		{"trailing zeros trimmed", []byte{0, 0, 1, 0x67, 1, 0, 0, 0}, [][]byte{{0x67, 1}}},
		{"escaped bytes kept", []byte{0, 0, 1, 0x67, 0, 0, 3, 1, 5}, [][]byte{{0x67, 0, 0, 3, 1, 5}}},
		{"empty units skipped", []byte{0, 0, 1, 0, 0, 1, 0x67, 1, 0, 0, 1}, [][]byte{{0x67, 1}}},
		{"no start code", []byte{0x67, 1, 2}, nil},
		{"empty", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SplitAnnexB(tt.in)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d NAL units %x, want %x", len(got), got, tt.want)
			}
			for i := range got {
				if !bytes.Equal(got[i], tt.want[i]) {
					t.Errorf("NAL unit %d = %x, want %x", i, got[i], tt.want[i])
				}
				if cap(got[i]) != len(got[i]) {
					t.Errorf("NAL unit %d: cap %d > len %d", i, cap(got[i]), len(got[i]))
				}
			}
		})
	}
}

func TestAccessUnitsFromAnnexB(t *testing.T) {
	aud := []byte{0x09, 0xf0}
	sps, pps, sei := []byte{0x67, 1}, []byte{0x68, 2}, []byte{0x06, 3}
	idr0, idr1 := []byte{0x65, 0x88}, []byte{0x65, 0x40} // first_mb_in_slice 0, then not
	p0, p1 := []byte{0x41, 0x9a}, []byte{0x41, 0x20}
	annexB := func(nalus ...[]byte) []byte {
		var b []byte
		for _, n := range nalus {
			b = append(append(b, 0, 0, 0, 1), n...)
		}
		return b
	}
	type au struct {
		key   bool
		nalus [][]byte
	}
	tests := []struct {
		name string
		in   []byte
		want []au
	}{
		{
			name: "slice with first_mb 0 starts a picture",
			in:   annexB(sps, pps, idr0, idr1, p0, p1, p0),
			want: []au{{true, [][]byte{sps, pps, idr0, idr1}}, {false, [][]byte{p0, p1}}, {false, [][]byte{p0}}},
		},
		{
			name: "AUD starts a picture",
			in:   annexB(aud, sps, idr0, aud, p1, aud, p1),
			want: []au{{true, [][]byte{aud, sps, idr0}}, {false, [][]byte{aud, p1}}, {false, [][]byte{aud, p1}}},
		},
		{
			name: "SEI, SPS or PPS after a slice starts a picture",
			in:   annexB(idr0, sei, p1, sps, pps, idr1, pps, p1),
			want: []au{{true, [][]byte{idr0}}, {false, [][]byte{sei, p1}}, {true, [][]byte{sps, pps, idr1}}, {false, [][]byte{pps, p1}}},
		},
		{
			name: "end of sequence stays with its picture",
			in:   annexB(p0, []byte{0x0a}, idr0),
			want: []au{{false, [][]byte{p0, {0x0a}}}, {true, [][]byte{idr0}}},
		},
		{name: "nothing", in: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AccessUnitsFromAnnexB(tt.in, 25)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d access units, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				if !sameAU(got[i], AccessUnit{NALUs: w.nalus, Keyframe: w.key, Timestamp: uint32(i * 3600)}) {
					t.Errorf("access unit %d = %+v, want %+v", i, got[i], w)
				}
			}
		})
	}
}

func TestAccessUnitsFromAnnexBTimestamps(t *testing.T) {
	var in []byte
	for range 8 {
		in = append(in, 0, 0, 1, 0x41, 0x80)
	}
	tests := []struct {
		fps  int
		want []uint32
	}{
		{15, []uint32{0, 6000, 12000, 18000, 24000, 30000, 36000, 42000}},
		{7, []uint32{0, 12857, 25714, 38571, 51428, 64285, 77142, 90000}}, // no drift
		{0, []uint32{0, 3000, 6000, 9000, 12000, 15000, 18000, 21000}},    // default 30
	}
	for _, tt := range tests {
		got := AccessUnitsFromAnnexB(in, tt.fps)
		if len(got) != len(tt.want) {
			t.Fatalf("fps %d: %d access units, want %d", tt.fps, len(got), len(tt.want))
		}
		for i := range got {
			if got[i].Timestamp != tt.want[i] {
				t.Errorf("fps %d: access unit %d at %d, want %d", tt.fps, i, got[i].Timestamp, tt.want[i])
			}
		}
	}
}
