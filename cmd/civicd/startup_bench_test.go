package main

import (
	"bufio"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkStartupToHealthz starts the real binary on an existing store
// and measures the time from exec to the first 200 from /healthz, and the
// resident memory of the idle daemon once it serves.
//
//	go test ./cmd/civicd -run '^$' -bench StartupToHealthz -benchtime 10x
func BenchmarkStartupToHealthz(b *testing.B) {
	bin := buildDaemon(b)
	dir := b.TempDir()
	// The default console: TLS with the self-signed certificate.
	env := append(append(os.Environ(), testEnv(dir)...), "CIVIC_HTTP_TLS=auto")
	// The first run creates the store and certificate; it is not measured.
	startAndStop(b, bin, env, nil)
	var total time.Duration
	var rssKB int64
	b.ResetTimer()
	for range b.N {
		startAndStop(b, bin, env, func(d time.Duration, pid int) {
			total += d
			rssKB = max(rssKB, vmRSS(pid))
		})
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-healthz")
	b.ReportMetric(float64(rssKB)/1024, "idle-RSS-MB")
	b.ReportMetric(0, "ns/op")
}

// insecureClient accepts the daemon's self-signed certificate.
var insecureClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

// startAndStop runs the daemon on a fixed free port until /healthz answers,
// reports the time and pid, then stops it with SIGTERM.
func startAndStop(b *testing.B, bin string, env []string, report func(time.Duration, int)) {
	b.Helper()
	port := freePort(b)
	cmd := exec.Command(bin)
	cmd.Env = append(env, "CIVIC_HTTP_LISTEN=127.0.0.1:"+port)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := insecureClient.Get("https://127.0.0.1:" + port + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("no /healthz within 20 s")
		}
		time.Sleep(2 * time.Millisecond) // polling an external process
	}
	d := time.Since(start)
	if report != nil {
		report(d, cmd.Process.Pid)
	}
}

func freePort(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	_, p, _ := strings.Cut(l.Addr().String(), ":")
	return p
}

// vmRSS reads VmRSS (KiB) from /proc/PID/status.
func vmRSS(pid int) int64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
