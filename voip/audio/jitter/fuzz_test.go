package jitter

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// FuzzJitterPush drives a Buffer with an arbitrary sequence of packets
// (any sequence numbers, timestamps, SSRCs and sizes, in any order and at
// any times) and Pops, and checks that it never panics, never holds more
// than its limit and always returns whole frames.
func FuzzJitterPush(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0, 160, 20, 1, 1, 0, 1, 0, 160, 20, 1, 1, 1})
	f.Add([]byte{3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 10, 1, 3, 0, 0, 0, 0, 0, 0, 10, 1, 1, 1})
	f.Add([]byte{2, 0xff, 0, 0x80, 0, 0x7f, 0xff, 0, 1, 1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		cfg := Config{}
		if len(ops) > 0 && ops[0]&0x80 != 0 {
			cfg = Config{ClockRate: 16000, MaxPackets: 8, Frame: 10 * time.Millisecond}
		}
		b, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		now := t0
		var seq uint16
		var ts uint32
		ssrc := uint32(1)
		take := func(n int) []byte {
			if len(ops) < n {
				ops = append(ops, make([]byte, n-len(ops))...)
			}
			v := ops[:n]
			ops = ops[n:]
			return v
		}
		for len(ops) > 0 {
			op := take(1)[0]
			switch op % 4 {
			case 0: // the next packet, nudged
				a := take(4)
				seq += uint16(int8(a[0]))
				ts += uint32(int32(int8(a[1])) * 40)
				p := &rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: ts, SSRC: ssrc}, Payload: make([]byte, int(a[2]))}
				now = now.Add(time.Duration(a[3]) * time.Millisecond)
				b.Push(p, now)
				seq++
				ts += uint32(len(p.Payload))
			case 1: // a tick
				now = now.Add(b.cfg.Frame)
				frame, ok := b.Pop(now)
				if ok && len(frame) != b.octets {
					t.Fatalf("frame of %d octets, want %d", len(frame), b.octets)
				}
			case 2: // time jumps, even backwards
				a := take(2)
				now = now.Add(time.Duration(int16(binary.BigEndian.Uint16(a))) * time.Millisecond)
				if a[0]&1 == 1 {
					ssrc++
				}
			case 3: // any packet at all
				a := take(7)
				p := &rtp.Packet{Header: rtp.Header{
					SequenceNumber: binary.BigEndian.Uint16(a),
					Timestamp:      binary.BigEndian.Uint32(a[2:]),
					SSRC:           ssrc,
				}, Payload: make([]byte, a[6])}
				b.Push(p, now)
			}
			if len(b.queue) > b.cfg.MaxPackets {
				t.Fatalf("%d packets held, limit %d", len(b.queue), b.cfg.MaxPackets)
			}
			for i := 1; i < len(b.queue); i++ {
				if b.queue[i].ts < b.queue[i-1].ts {
					t.Fatal("queue out of order")
				}
			}
		}
		st := b.Stats()
		if st.Delay < b.cfg.MinDelay || st.Delay > b.cfg.MaxDelay {
			t.Fatalf("delay %v outside %v..%v", st.Delay, b.cfg.MinDelay, b.cfg.MaxDelay)
		}
	})
}
