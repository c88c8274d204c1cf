package conference

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// BenchmarkForwardOneToN has one publisher send 1.5 Mbit/s of VP8-framed
// RTP (1,100-byte packets every 6 ms) to N subscribers through the SFU,
// all Go clients on loopback in this process. Each op is one packet
// forwarded to all N. It reports forwarding latency (publisher's write to
// subscriber's read, p50/p99), and the CPU time of the whole process
// (SFU and clients together) per forwarded packet and per forwarded Mbit.
//
//	go test ./conference -run '^$' -bench ForwardOneToN -benchtime 2000x
func BenchmarkForwardOneToN(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) { benchForward(b, n) })
	}
}

func benchForward(b *testing.B, n int) {
	const size = 1100
	s := newTestService(b, Config{MaxParticipants: n + 1})
	m, err := s.CreateMeeting(context.Background(), "bench", "bench")
	if err != nil {
		b.Fatal(err)
	}
	api := testAPI(b)
	var mu sync.Mutex
	var lat []time.Duration
	var got int
	counting := false
	onRTP := func(pkt *rtp.Packet) {
		// The VP8 descriptor, then our 0x10, then the send time.
		off := vp8DescriptorLen(pkt.Payload)
		if off == 0 || len(pkt.Payload) < off+9 {
			return
		}
		sent := int64(binary.BigEndian.Uint64(pkt.Payload[off+1 : off+9]))
		d := time.Duration(time.Now().UnixNano() - sent)
		mu.Lock()
		if counting {
			lat = append(lat, d)
			got++
		}
		mu.Unlock()
	}
	var subs []*client
	for i := range n {
		subs = append(subs, joinWith(b, s, api, m.Room, fmt.Sprintf("s%d", i), clientOpts{onRTP: onRTP}))
	}
	sent := make(chan struct{}, 1024)
	sample := func() []byte {
		buf := make([]byte, size)
		buf[0] = 0x10 // even first byte: looks like a keyframe start to the SFU
		binary.BigEndian.PutUint64(buf[1:9], uint64(time.Now().UnixNano()))
		select {
		case sent <- struct{}{}:
		default:
		}
		return buf
	}
	// Wait until every subscriber receives the publisher.
	pub := joinWith(b, s, api, m.Room, "pub", clientOpts{publish: true, interval: 6 * time.Millisecond, sample: sample})
	for _, c := range subs {
		c.waitFrom(pub.p.ID())
	}
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	mu.Lock()
	counting = true
	mu.Unlock()
	b.ResetTimer()
	for range b.N {
		<-sent
	}
	// Let the last packets arrive, then stop counting.
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		done := got >= b.N*n
		mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond) // waiting on network delivery
	}
	b.StopTimer()
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	mu.Lock()
	counting = false
	all := slices.Clone(lat)
	mu.Unlock()
	pub.close()
	for _, c := range subs {
		c.close()
	}
	if len(all) == 0 {
		b.Fatal("nothing forwarded")
	}
	slices.Sort(all)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()) - time.Duration(ru0.Utime.Nano()+ru0.Stime.Nano())
	fwd := float64(len(all))
	mbit := fwd * size * 8 / 1e6
	b.ReportMetric(float64(all[len(all)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100])/1e6, "p99-ms")
	b.ReportMetric(float64(cpu)/1e3/fwd, "cpu-us/pkt")
	b.ReportMetric(cpu.Seconds()/mbit, "cpu-s/Mbit")
	b.ReportMetric(100*fwd/float64(b.N*n), "delivered-%")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkForwardMesh10 is scenario (a): a 10×10 meeting where every
// participant publishes 1.5 Mbit/s of VP8-framed RTP and receives the
// other nine. Each op is one packet from each publisher (10 in, 90 out).
//
//	go test ./conference -run '^$' -bench ForwardMesh10 -benchtime 1000x
func BenchmarkForwardMesh10(b *testing.B) {
	const n, size = 10, 1100
	s := newTestService(b, Config{})
	m, err := s.CreateMeeting(context.Background(), "bench", "mesh")
	if err != nil {
		b.Fatal(err)
	}
	api := testAPI(b)
	var mu sync.Mutex
	var lat []time.Duration
	counting := false
	onRTP := func(pkt *rtp.Packet) {
		off := vp8DescriptorLen(pkt.Payload)
		if off == 0 || len(pkt.Payload) < off+9 {
			return
		}
		d := time.Duration(time.Now().UnixNano() - int64(binary.BigEndian.Uint64(pkt.Payload[off+1:off+9])))
		mu.Lock()
		if counting {
			lat = append(lat, d)
		}
		mu.Unlock()
	}
	rounds := make(chan struct{}, 1024)
	var clients []*client
	for i := range n {
		sample := func() []byte {
			buf := make([]byte, size)
			buf[0] = 0x10
			binary.BigEndian.PutUint64(buf[1:9], uint64(time.Now().UnixNano()))
			if i == 0 { // publisher 0 paces the ops
				select {
				case rounds <- struct{}{}:
				default:
				}
			}
			return buf
		}
		clients = append(clients, joinWith(b, s, api, m.Room, fmt.Sprintf("p%d", i), clientOpts{publish: true, interval: 6 * time.Millisecond, sample: sample, onRTP: onRTP}))
	}
	for i, c := range clients {
		var others []string
		for j, o := range clients {
			if i != j {
				others = append(others, o.p.ID())
			}
		}
		c.waitFrom(others...)
	}
	for len(rounds) > 0 {
		<-rounds
	}
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	mu.Lock()
	counting = true
	mu.Unlock()
	b.ResetTimer()
	for range b.N {
		<-rounds
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	mu.Lock()
	counting = false
	all := slices.Clone(lat)
	mu.Unlock()
	for _, c := range clients {
		c.close()
	}
	if len(all) == 0 {
		b.Fatal("nothing forwarded")
	}
	slices.Sort(all)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()) - time.Duration(ru0.Utime.Nano()+ru0.Stime.Nano())
	elapsed := time.Duration(b.N) * 6 * time.Millisecond
	b.ReportMetric(float64(all[len(all)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100])/1e6, "p99-ms")
	b.ReportMetric(float64(cpu)/1e3/float64(len(all)), "cpu-us/pkt")
	b.ReportMetric(cpu.Seconds()/elapsed.Seconds(), "cores")
	b.ReportMetric(0, "ns/op")
}
