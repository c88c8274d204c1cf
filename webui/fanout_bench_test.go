package webui

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"civic/internal/auth"
)

// BenchmarkFanout1000 measures event delivery from the bus to 1,000
// subscribed console websockets on loopback, with events published at
// 100/s. Each op is one event delivered to every client. The clients run
// in a child process (this test binary, re-run as TestFanoutClientProcess),
// as browsers would run elsewhere, so the CPU reported is the server's
// alone. It reports p50 and p99 latency from Publish to the client's read,
// and the server's and the clients' CPU time per 1,000 events.
//
//	go test ./webui -run '^$' -bench Fanout -benchtime 500x
func BenchmarkFanout1000(b *testing.B) { benchFanout(b, 1000) }

// BenchmarkFanout100 is the same with 100 clients, for comparison.
func BenchmarkFanout100(b *testing.B) { benchFanout(b, 100) }

type fanoutReport struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

func benchFanout(b *testing.B, clients int) {
	const interval = 10 * time.Millisecond // 100 events/s
	ts := newTestServer(b)
	token := ts.login(auth.RoleAdmin)

	args := []string{os.Args[0], "-test.run=^TestFanoutClientProcess$"}
	if cpus := os.Getenv("CIVIC_FANOUT_CLIENT_CPUS"); cpus != "" {
		// Pin the clients (e.g. "1") away from the server, as if they ran
		// on other machines: go test run under "taskset -c 0".
		args = append([]string{"taskset", "-c", cpus}, args...)
	}
	child := exec.Command(args[0], args[1:]...)
	child.Env = append(os.Environ(),
		"CIVIC_FANOUT_URL=ws"+ts.base[len("http"):]+"/api/ws",
		"CIVIC_FANOUT_TOKEN="+token,
		"CIVIC_FANOUT_CLIENTS="+strconv.Itoa(clients),
		"CIVIC_FANOUT_EVENTS="+strconv.Itoa(b.N))
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := child.Start(); err != nil {
		b.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	var report fanoutReport
	gotReady := false
	for lines.Scan() {
		if lines.Text() == "fanout-ready" {
			gotReady = true
			break
		}
	}
	if !gotReady {
		b.Fatal("client process did not get ready")
	}

	cpu0 := cpuTime(syscall.RUSAGE_SELF)
	b.ResetTimer()
	tick := time.NewTicker(interval)
	for range b.N {
		<-tick.C
		ts.srv.PublishStatus()
	}
	tick.Stop()
	for lines.Scan() {
		if r, ok := bytes.CutPrefix(lines.Bytes(), []byte("fanout-report ")); ok {
			if err := json.Unmarshal(r, &report); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := child.Wait(); err != nil {
		b.Fatalf("client process: %v", err)
	}
	b.StopTimer()
	serverCPU := cpuTime(syscall.RUSAGE_SELF) - cpu0
	ru := child.ProcessState.SysUsage().(*syscall.Rusage)
	clientCPU := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())

	if report.Count != clients*b.N {
		b.Fatalf("delivered %d events, want %d", report.Count, clients*b.N)
	}
	perK := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N) * 1000 }
	b.ReportMetric(report.P50, "p50-ms")
	b.ReportMetric(report.P99, "p99-ms")
	b.ReportMetric(perK(serverCPU), "server-cpu-ms/1000ev")
	b.ReportMetric(perK(clientCPU), "client-cpu-ms/1000ev")
	b.ReportMetric(0, "ns/op")
}

// TestFanoutClientProcess is the client side of BenchmarkFanout, run in a
// child process. Run directly, without the benchmark's environment, it
// has nothing to connect to and skips.
func TestFanoutClientProcess(t *testing.T) {
	url := os.Getenv("CIVIC_FANOUT_URL")
	if url == "" {
		t.Skip("only runs as the child process of BenchmarkFanout")
	}
	clients, _ := strconv.Atoi(os.Getenv("CIVIC_FANOUT_CLIENTS"))
	want, _ := strconv.Atoi(os.Getenv("CIVIC_FANOUT_EVENTS"))
	token := os.Getenv("CIVIC_FANOUT_TOKEN")
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		ws, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		_, _, _ = ws.ReadMessage() // auth_required
		_ = ws.WriteJSON(map[string]any{"type": TypeAuth, "token": token})
		_ = ws.WriteJSON(map[string]any{"id": 1, "type": TypeSubscribe, "topics": []string{TopicSystem}})
		for got := 0; got < 3; got++ { // auth_ok, result, snapshot
			if _, _, err := ws.ReadMessage(); err != nil {
				t.Fatal(err)
			}
		}
		conns[i] = ws
	}
	samples := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	for i, ws := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, want)
			_ = ws.SetReadDeadline(time.Now().Add(2 * time.Minute))
			for len(lat) < want {
				_, data, err := ws.ReadMessage()
				if err != nil {
					break
				}
				now := time.Now()
				// Read only the publish time, to keep the clients cheap.
				j := bytes.Index(data, []byte(`"at":"`))
				if j < 0 || !bytes.Contains(data, []byte(`"kind":"system.status"`)) {
					continue
				}
				rest := data[j+6:]
				k := bytes.IndexByte(rest, '"')
				if k < 0 {
					continue
				}
				if at, err := time.Parse(time.RFC3339Nano, string(rest[:k])); err == nil {
					lat = append(lat, now.Sub(at))
				}
			}
			samples[i] = lat
		}()
	}
	fmt.Println("fanout-ready")
	wg.Wait()
	var all []time.Duration
	for _, s := range samples {
		all = append(all, s...)
	}
	slices.Sort(all)
	r := fanoutReport{Count: len(all)}
	if len(all) > 0 {
		ms := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))]) / float64(time.Millisecond) }
		r.P50, r.P99, r.Max = ms(0.50), ms(0.99), ms(1)
	}
	b, _ := json.Marshal(r)
	fmt.Printf("fanout-report %s\n", b)
}

// cpuTime is the user+system CPU time of this process.
func cpuTime(who int) time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(who, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
