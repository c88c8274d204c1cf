package h264

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pion/rtp"
)

// event is one thing an Assembler gave back: an error or an access unit.
type event struct {
	err error
	au  *AccessUnit
}

func (e event) String() string {
	if e.err != nil {
		return "error " + e.err.Error()
	}
	return fmt.Sprintf("AU ts=%d key=%v nalus=%d bytes=%d", e.au.Timestamp, e.au.Keyframe, len(e.au.NALUs), e.au.Size())
}

func wantErr(err error) event { return event{err: err} }

func wantAU(ts uint32, key bool, nalus ...[]byte) event {
	return event{au: &AccessUnit{NALUs: nalus, Timestamp: ts, Keyframe: key}}
}

// run pushes packets and records what comes back, an error before the
// access unit of the same call; flush adds a final Flush.
func run(t *testing.T, a *Assembler, pkts []*rtp.Packet, flush bool) []event {
	t.Helper()
	var got []event
	for i, p := range pkts {
		au, ok, err := a.Push(p)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "h264: ") {
				t.Errorf("packet %d: error %q lacks the h264: prefix", i, err)
			}
			got = append(got, event{err: err})
		}
		if ok {
			c := cloneAU(au)
			got = append(got, event{au: &c})
		}
	}
	if flush {
		if au, ok := a.Flush(); ok {
			c := cloneAU(au)
			got = append(got, event{au: &c})
		}
	}
	return got
}

func checkEvents(t *testing.T, got, want []event) {
	t.Helper()
	match := len(got) == len(want)
	for i := 0; match && i < len(want); i++ {
		switch {
		case want[i].err != nil:
			match = errors.Is(got[i].err, want[i].err)
		default:
			match = got[i].au != nil && sameAU(*got[i].au, *want[i].au)
		}
	}
	if !match {
		t.Errorf("got %d events:\n%v\nwant %d:\n%v", len(got), got, len(want), want)
	}
}

func TestAssembler(t *testing.T) {
	sps, pps := nal(NALSPS, 10), nal(NALPPS, 4)
	idr, idr2 := nal(NALIDR, 50), nal(NALIDR, 500)
	p1, p2 := nal(NALSlice, 30), nal(NALSlice, 12)
	idrFrags := fuA(idr, 20, 20) // start, middle, end
	bigFrags := fuA(idr2, 100, 100, 100, 100)
	// An IDR whose header has F set and NRI 2, to check the rebuilt header.
	oddIDR := append([]byte{0xc5}, idr[1:]...)

	tests := []struct {
		name  string
		max   int
		pkts  []*rtp.Packet
		flush bool
		want  []event
	}{
		{
			name: "single NAL units",
			pkts: []*rtp.Packet{
				pkt(1, 3000, false, sps...), pkt(2, 3000, false, pps...), pkt(3, 3000, true, idr...),
				pkt(4, 9000, true, p1...),
			},
			want: []event{wantAU(3000, true, sps, pps, idr), wantAU(9000, false, p1)},
		},
		{
			name: "STAP-A",
			pkts: []*rtp.Packet{
				pkt(10, 0, false, stapA(sps, pps)...), pkt(11, 0, true, idr...),
				pkt(12, 6000, true, stapA(p1, p2)...),
			},
			want: []event{wantAU(0, true, sps, pps, idr), wantAU(6000, false, p1, p2)},
		},
		{
			name: "FU-A",
			pkts: []*rtp.Packet{
				pkt(1, 0, false, stapA(sps, pps)...),
				pkt(2, 0, false, idrFrags[0]...), pkt(3, 0, false, idrFrags[1]...), pkt(4, 0, true, idrFrags[2]...),
			},
			want: []event{wantAU(0, true, sps, pps, idr)},
		},
		{
			name: "FU-A header rebuilt from indicator and FU header",
			pkts: func() []*rtp.Packet {
				f := fuA(oddIDR, 30)
				return []*rtp.Packet{pkt(1, 0, false, f[0]...), pkt(2, 0, true, f[1]...)}
			}(),
			want: []event{wantAU(0, true, oddIDR)},
		},
		{
			name: "FU-A without start is discarded",
			pkts: []*rtp.Packet{
				pkt(1, 0, false, idrFrags[1]...), pkt(2, 0, true, idrFrags[2]...),
				pkt(3, 6000, true, p1...),
			},
			want: []event{wantAU(6000, false, p1)},
		},
		{
			name: "FU-A without start drops the rest of its access unit",
			pkts: []*rtp.Packet{
				pkt(1, 0, false, sps...), pkt(2, 0, false, idrFrags[2]...), pkt(3, 0, true, p2...),
				pkt(4, 6000, true, p1...),
			},
			want: []event{wantAU(6000, false, p1)},
		},
		{
			name: "FU-A missing middle is a loss",
			pkts: []*rtp.Packet{
				pkt(1, 0, false, idrFrags[0]...), pkt(3, 0, true, idrFrags[2]...),
				pkt(4, 6000, true, p1...),
			},
			want: []event{wantErr(ErrPacketLoss), wantAU(6000, false, p1)},
		},
		{
			name: "gap reports loss once and waits for the next access unit",
			pkts: []*rtp.Packet{
				pkt(1, 0, true, p1...),
				pkt(2, 6000, false, bigFrags[0]...), pkt(4, 6000, false, bigFrags[2]...),
				pkt(5, 6000, false, bigFrags[3]...), pkt(6, 6000, true, bigFrags[4]...),
				pkt(7, 12000, true, p2...),
			},
			want: []event{wantAU(0, false, p1), wantErr(ErrPacketLoss), wantAU(12000, false, p2)},
		},
		{
			// Some encoders repeat a timestamp; only the marker can end the
			// skipped access unit then.
			name: "marker ends skipping when the timestamp repeats",
			pkts: []*rtp.Packet{
				pkt(1, 0, false, p1...), pkt(3, 0, false, p2...), pkt(4, 0, true, p2...),
				pkt(5, 0, true, p1...),
			},
			want: []event{wantErr(ErrPacketLoss), wantAU(0, false, p1)},
		},
		{
			name: "gap in a stream without markers",
			pkts: []*rtp.Packet{
				pkt(1, 0, false, p1...), pkt(2, 0, false, p2...),
				pkt(4, 6000, false, p1...), pkt(5, 6000, false, p2...),
				pkt(6, 12000, false, p1...), pkt(7, 18000, false, p2...),
			},
			flush: true,
			want:  []event{wantErr(ErrPacketLoss), wantAU(12000, false, p1), wantAU(18000, false, p2)},
		},
		{
			name: "sequence restart is a loss",
			pkts: []*rtp.Packet{
				pkt(100, 0, true, p1...), pkt(40000, 6000, false, p1...), pkt(40001, 6000, true, p2...),
				pkt(40002, 12000, true, p2...),
			},
			want: []event{wantAU(0, false, p1), wantErr(ErrPacketLoss), wantAU(12000, false, p2)},
		},
		{
			name: "sequence number wraps",
			pkts: []*rtp.Packet{pkt(65535, 0, false, p1...), pkt(0, 0, true, p2...)},
			want: []event{wantAU(0, false, p1, p2)},
		},
		{
			name: "late and duplicate packets are ignored",
			pkts: []*rtp.Packet{
				pkt(5, 0, false, p1...), pkt(5, 0, false, p1...), pkt(6, 0, true, p2...),
				pkt(4, 0, false, p1...), pkt(7, 6000, true, p1...),
			},
			want: []event{wantAU(0, false, p1, p2), wantAU(6000, false, p1)},
		},
		{
			name: "timestamp change completes without marker",
			pkts: []*rtp.Packet{
				pkt(1, 0, false, sps...), pkt(2, 0, false, idr...), pkt(3, 6000, false, p1...),
			},
			flush: true,
			want:  []event{wantAU(0, true, sps, idr), wantAU(6000, false, p1)},
		},
		{
			name: "marker only sometimes",
			pkts: []*rtp.Packet{
				pkt(1, 0, false, p1...), pkt(2, 6000, true, p2...), pkt(3, 12000, true, p1...),
			},
			flush: true,
			want:  []event{wantAU(0, false, p1), wantAU(6000, false, p2), wantAU(12000, false, p1)},
		},
		{
			name: "giant access unit then recovery",
			max:  300,
			pkts: []*rtp.Packet{
				pkt(1, 0, true, p1...),
				pkt(2, 6000, false, bigFrags[0]...), pkt(3, 6000, false, bigFrags[1]...),
				pkt(4, 6000, false, bigFrags[2]...), pkt(5, 6000, false, bigFrags[3]...),
				pkt(6, 6000, true, bigFrags[4]...),
				pkt(7, 12000, true, idr...),
			},
			want: []event{wantAU(0, false, p1), wantErr(ErrTooLarge), wantAU(12000, true, idr)},
		},
		{
			name: "giant single packet",
			max:  40,
			pkts: []*rtp.Packet{pkt(1, 0, true, idr...), pkt(2, 6000, true, p1...)},
			want: []event{wantErr(ErrTooLarge), wantAU(6000, false, p1)},
		},
		{
			name: "malformed packet drops its access unit",
			pkts: []*rtp.Packet{
				pkt(1, 0, false, p1...), pkt(2, 0, false, 0x78, 0, 9, 1), pkt(3, 0, true, p2...),
				pkt(4, 6000, true, p1...),
			},
			want: []event{wantErr(ErrMalformed), wantAU(6000, false, p1)},
		},
		{
			name: "malformed packet with a new timestamp still completes the previous",
			pkts: []*rtp.Packet{
				pkt(1, 0, false, p1...), pkt(2, 6000, false), pkt(3, 6000, false, p2...),
				pkt(4, 12000, false, p2...),
			},
			flush: true,
			want:  []event{wantErr(ErrMalformed), wantAU(0, false, p1), wantAU(12000, false, p2)},
		},
		{
			name: "FU-A left open at marker",
			pkts: []*rtp.Packet{pkt(1, 0, true, idrFrags[0]...), pkt(2, 6000, true, p1...)},
			want: []event{wantErr(ErrMalformed), wantAU(6000, false, p1)},
		},
		{
			name: "FU-A left open at timestamp change",
			pkts: []*rtp.Packet{pkt(1, 0, false, idrFrags[0]...), pkt(2, 6000, true, p1...)},
			want: []event{wantErr(ErrMalformed), wantAU(6000, false, p1)},
		},
		{
			name: "FU-A restarted before its end",
			pkts: []*rtp.Packet{
				pkt(1, 0, false, idrFrags[0]...), pkt(2, 0, false, idrFrags[0]...), pkt(3, 0, true, idrFrags[2]...),
				pkt(4, 6000, true, p1...),
			},
			want: []event{wantErr(ErrMalformed), wantAU(6000, false, p1)},
		},
		{
			name: "FU-A type changes between fragments",
			pkts: []*rtp.Packet{
				pkt(1, 0, false, idrFrags[0]...), pkt(2, 0, true, 0x7c, 0x41, 1, 2),
				pkt(3, 6000, true, p1...),
			},
			want: []event{wantErr(ErrMalformed), wantAU(6000, false, p1)},
		},
		{
			name: "single NAL unit inside FU-A",
			pkts: []*rtp.Packet{
				pkt(1, 0, false, idrFrags[0]...), pkt(2, 0, true, p1...),
				pkt(3, 6000, true, p2...),
			},
			want: []event{wantErr(ErrMalformed), wantAU(6000, false, p2)},
		},
		{
			name: "reserved NAL unit types are ignored",
			pkts: []*rtp.Packet{
				pkt(1, 0, false, 0x00, 1, 2), pkt(2, 0, false, 0x1e, 3), pkt(3, 0, true, p1...),
				pkt(4, 6000, true, 0x1f, 9),
			},
			want: []event{wantAU(0, false, p1)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, NewAssembler(tt.max), tt.pkts, tt.flush)
			checkEvents(t, got, tt.want)
		})
	}
}

func TestAssemblerRejectsBadPayloads(t *testing.T) {
	p1 := nal(NALSlice, 30)
	tests := []struct {
		name    string
		payload []byte
		want    error
	}{
		{"empty", nil, ErrMalformed},
		{"STAP-A without NAL units", []byte{0x78}, ErrMalformed},
		{"STAP-A size overruns", []byte{0x78, 0, 10, 0x65, 1}, ErrMalformed},
		{"STAP-A size zero", []byte{0x78, 0, 0, 0, 2, 0x65, 1}, ErrMalformed},
		{"STAP-A stray byte", append(stapA(p1), 0), ErrMalformed},
		{"STAP-A second size truncated", append(stapA(p1), 0, 200, 0x61), ErrMalformed},
		{"STAP-A holding a FU-A", stapA([]byte{0x7c, 0x85, 1}), ErrMalformed},
		{"STAP-A holding type 0", stapA([]byte{0x00, 1}), ErrMalformed},
		{"FU-A without FU header", []byte{0x7c}, ErrMalformed},
		{"FU-A with start and end", []byte{0x7c, 0xc5, 1, 2}, ErrMalformed},
		{"FU-A carrying STAP-A", []byte{0x7c, 0x98, 1}, ErrMalformed},
		{"FU-A carrying type 0", []byte{0x7c, 0x80, 1}, ErrMalformed},
		{"STAP-B", []byte{0x79, 0, 1, 0, 2, 0x61, 1}, ErrUnsupported},
		{"MTAP16", []byte{0x7a, 0, 1, 0, 2}, ErrUnsupported},
		{"MTAP24", []byte{0x7b, 0, 1, 0, 2}, ErrUnsupported},
		{"FU-B", []byte{0x7d, 0x85, 0, 1, 2}, ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAssembler(0)
			pkts := []*rtp.Packet{pkt(1, 0, false, tt.payload...), pkt(2, 6000, true, p1...)}
			checkEvents(t, run(t, a, pkts, false), []event{wantErr(tt.want), wantAU(6000, false, p1)})
			if got := a.Stats().Malformed; got != 1 {
				t.Errorf("Stats().Malformed = %d, want 1", got)
			}
		})
	}
	if _, _, err := NewAssembler(0).Push(nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("Push(nil) error = %v, want ErrMalformed", err)
	}
}

// TestAssemblerOutputLifetime checks the documented aliasing: an access unit
// stays intact while the next one is assembled in the same Push, and its
// NAL units cannot be appended into one another.
func TestAssemblerOutputLifetime(t *testing.T) {
	a := NewAssembler(0)
	first, second := nal(NALSlice, 40), nal(NALSlice, 20)
	if _, ok, err := a.Push(pkt(1, 0, false, first...)); ok || err != nil {
		t.Fatalf("first Push = ok %v, err %v; want nothing yet", ok, err)
	}
	if _, ok, err := a.Push(pkt(2, 0, false, second...)); ok || err != nil {
		t.Fatalf("second Push = ok %v, err %v; want nothing yet", ok, err)
	}
	third := nal(NALIDR, 200)
	au, ok, err := a.Push(pkt(3, 6000, false, third...))
	if !ok || err != nil {
		t.Fatalf("Push on a new timestamp = ok %v, err %v; want the first access unit", ok, err)
	}
	if len(au.NALUs) != 2 || !bytes.Equal(au.NALUs[0], first) || !bytes.Equal(au.NALUs[1], second) {
		t.Fatalf("access unit overwritten by the packet that completed it: %x", au.NALUs)
	}
	for i, n := range au.NALUs {
		if cap(n) != len(n) {
			t.Errorf("NALU %d: cap %d > len %d, appending would clobber the next", i, cap(n), len(n))
		}
	}
	if got, ok := a.Flush(); !ok || !bytes.Equal(got.NALUs[0], third) || !got.Keyframe {
		t.Errorf("Flush = %v, %v; want the IDR access unit", got, ok)
	}
}

func TestAssemblerStats(t *testing.T) {
	a := NewAssembler(300)
	big := fuA(nal(NALIDR, 500), 200)
	idr, p1 := nal(NALIDR, 50), nal(NALSlice, 30)
	pkts := []*rtp.Packet{
		pkt(1, 0, true, idr...),
		pkt(2, 6000, false, p1...), pkt(2, 6000, false, p1...), // duplicate
		pkt(5, 6000, true, p1...),                                       // 2 lost: drops 6000
		pkt(6, 12000, true, 0x7c),                                       // malformed: drops 12000
		pkt(7, 18000, false, big[0]...), pkt(8, 18000, true, big[1]...), // too large
		pkt(9, 24000, true, p1...),
	}
	run(t, a, pkts, false)
	want := AssemblerStats{
		Packets: 8, Lost: 2, Late: 1, Malformed: 1,
		AccessUnits: 2, Keyframes: 1, Dropped: 3, TooLarge: 1,
	}
	if got := a.Stats(); got != want {
		t.Errorf("Stats() = %+v\nwant      %+v", got, want)
	}
}
