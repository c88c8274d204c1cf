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

// benchPacket is the size of each synthetic packet: 1,100 bytes every 6 ms
// is about 1.5 Mbit/s.
const (
	benchPacket   = 1100
	benchInterval = 6 * time.Millisecond
)

// timestamped returns a sample that starts like a VP8 keyframe (0x10) and
// carries its send time, and calls sent (may be nil) for each one.
func timestamped(sent chan<- struct{}) func() []byte {
	return func() []byte {
		buf := make([]byte, benchPacket)
		buf[0] = 0x10
		binary.BigEndian.PutUint64(buf[1:9], uint64(time.Now().UnixNano()))
		if sent != nil {
			select {
			case sent <- struct{}{}:
			default:
			}
		}
		return buf
	}
}

// latencies records the publisher-to-subscriber delay of timestamped
// packets while it is on.
type latencies struct {
	mu sync.Mutex
	on bool
	d  []time.Duration
	ru syscall.Rusage
}

// onRTP is the subscribers' packet callback.
func (l *latencies) onRTP(pkt *rtp.Packet) {
	off := vp8DescriptorLen(pkt.Payload) // the descriptor, our 0x10, the time
	if off == 0 || len(pkt.Payload) < off+9 {
		return
	}
	d := time.Duration(time.Now().UnixNano() - int64(binary.BigEndian.Uint64(pkt.Payload[off+1:off+9])))
	l.mu.Lock()
	if l.on {
		l.d = append(l.d, d)
	}
	l.mu.Unlock()
}

func (l *latencies) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

// start begins recording, and notes the process's CPU time.
func (l *latencies) start() {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &l.ru)
	l.on = true
}

// stop ends recording and returns the sorted delays and the CPU time used
// since start.
func (l *latencies) stop(b *testing.B) ([]time.Duration, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	l.on = false
	if len(l.d) == 0 {
		b.Fatal("nothing forwarded")
	}
	all := slices.Clone(l.d)
	slices.Sort(all)
	cpu := time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) - time.Duration(l.ru.Utime.Nano()+l.ru.Stime.Nano())
	return all, cpu
}

// report adds the latency percentiles and CPU per packet to b.
func report(b *testing.B, all []time.Duration, cpu time.Duration) {
	b.ReportMetric(float64(all[len(all)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100])/1e6, "p99-ms")
	b.ReportMetric(float64(cpu)/1e3/float64(len(all)), "cpu-us/pkt")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkForwardOneToN has one publisher send 1.5 Mbit/s of VP8-framed
// RTP to N subscribers through the SFU, all Go clients on loopback in this
// process. Each op is one packet forwarded to all N. It reports forwarding
// latency (publisher's write to subscriber's read, p50/p99), and the CPU
// time of the whole process (SFU and clients together) per forwarded
// packet and per forwarded Mbit.
//
//	go test ./conference -run '^$' -bench ForwardOneToN -benchtime 2000x
func BenchmarkForwardOneToN(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) { benchForward(b, n) })
	}
}

func benchForward(b *testing.B, n int) {
	s := newTestService(b, Config{MaxParticipants: n + 1})
	m, err := s.CreateMeeting(context.Background(), "bench", MeetingOptions{Title: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	api := testAPI(b)
	var lat latencies
	var subs []*client
	for i := range n {
		subs = append(subs, joinWith(b, s, api, m.Room, fmt.Sprintf("s%d", i), clientOpts{onRTP: lat.onRTP}))
	}
	sent := make(chan struct{}, 1024)
	pub := joinWith(b, s, api, m.Room, "pub", clientOpts{publish: true, interval: benchInterval, sample: timestamped(sent)})
	for _, c := range subs {
		c.waitFrom(pub.p.ID())
	}
	lat.start()
	b.ResetTimer()
	for range b.N {
		<-sent
	}
	// Let the last packets arrive.
	for deadline := time.Now().Add(5 * time.Second); lat.count() < b.N*n && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond) // waiting on network delivery
	}
	b.StopTimer()
	all, cpu := lat.stop(b)
	pub.close()
	for _, c := range subs {
		c.close()
	}
	report(b, all, cpu)
	mbit := float64(len(all)) * benchPacket * 8 / 1e6
	b.ReportMetric(cpu.Seconds()/mbit, "cpu-s/Mbit")
	b.ReportMetric(100*float64(len(all))/float64(b.N*n), "delivered-%")
}

// BenchmarkForwardMesh10 is scenario (a): a 10×10 meeting where every
// participant publishes 1.5 Mbit/s of VP8-framed RTP and receives the
// other nine. Each op is one packet from each publisher (10 in, 90 out).
//
//	go test ./conference -run '^$' -bench ForwardMesh10 -benchtime 1000x
func BenchmarkForwardMesh10(b *testing.B) {
	const n = 10
	s := newTestService(b, Config{})
	m, err := s.CreateMeeting(context.Background(), "bench", MeetingOptions{Title: "mesh"})
	if err != nil {
		b.Fatal(err)
	}
	api := testAPI(b)
	var lat latencies
	rounds := make(chan struct{}, 1024) // publisher 0 paces the ops
	var clients []*client
	for i := range n {
		var pace chan<- struct{}
		if i == 0 {
			pace = rounds
		}
		clients = append(clients, joinWith(b, s, api, m.Room, fmt.Sprintf("p%d", i),
			clientOpts{publish: true, interval: benchInterval, sample: timestamped(pace), onRTP: lat.onRTP}))
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
	lat.start()
	b.ResetTimer()
	for range b.N {
		<-rounds
	}
	b.StopTimer()
	all, cpu := lat.stop(b)
	for _, c := range clients {
		c.close()
	}
	report(b, all, cpu)
	b.ReportMetric(cpu.Seconds()/(time.Duration(b.N)*benchInterval).Seconds(), "cores")
}
