package webui

import (
	"encoding/json"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"civic/internal/auth"
)

// BenchmarkFanout1000 measures event delivery from the bus to 1,000
// subscribed console websockets on loopback, with events published at
// 100/s. Each op is one event delivered to every client. It reports the
// p50 and p99 latency from Publish to the client's read, and the CPU time
// of the whole process (server and the 1,000 test clients together) per
// 1,000 events.
//
//	go test ./webui -run '^$' -bench Fanout1000 -benchtime 300x
func BenchmarkFanout1000(b *testing.B) {
	const clients = 1000
	const interval = 10 * time.Millisecond // 100 events/s
	ts := newTestServer(b)
	token := ts.login(auth.RoleAdmin)

	type sample struct{ lat []time.Duration }
	samples := make([]sample, clients)
	var ready, done sync.WaitGroup
	conns := make([]*websocket.Conn, clients)
	for i := range clients {
		c := ts.connect(token)
		c.request(TypeSubscribe, map[string]any{"topics": []string{TopicSystem}})
		if m := c.readMsg(); m["type"] != TypeEvent {
			b.Fatalf("want snapshot, got %v", m)
		}
		conns[i] = c.ws
	}
	want := b.N
	ready.Add(clients)
	done.Add(clients)
	for i, ws := range conns {
		go func() {
			defer done.Done()
			ready.Done()
			lat := make([]time.Duration, 0, want)
			for len(lat) < want {
				_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
				_, data, err := ws.ReadMessage()
				if err != nil {
					break
				}
				now := time.Now()
				var m EventMsg
				if json.Unmarshal(data, &m) != nil || m.Type != TypeEvent || m.Event.Kind != systemChanged {
					continue
				}
				at, err := time.Parse(time.RFC3339Nano, m.Event.At)
				if err == nil {
					lat = append(lat, now.Sub(at))
				}
			}
			samples[i].lat = lat
		}()
	}
	ready.Wait()

	cpu0 := cpuTime()
	b.ResetTimer()
	tick := time.NewTicker(interval)
	for range b.N {
		<-tick.C
		ts.srv.PublishStatus()
	}
	tick.Stop()
	done.Wait()
	b.StopTimer()
	cpu := cpuTime() - cpu0

	var all []time.Duration
	for _, s := range samples {
		all = append(all, s.lat...)
	}
	if len(all) != clients*b.N {
		b.Fatalf("delivered %d events, want %d", len(all), clients*b.N)
	}
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N)*1000, "cpu-ms/1000events")
	b.ReportMetric(0, "ns/op")
}

// cpuTime is the user+system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
