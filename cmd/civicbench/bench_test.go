package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

// civicdBin is the daemon TestMain builds, or CIVICBENCH_CIVICD when set
// (a daemon built elsewhere, e.g. from another checkout).
var civicdBin string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "civicbench-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	civicdBin = os.Getenv("CIVICBENCH_CIVICD")
	if civicdBin == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if civicdBin, err = buildDaemon(ctx, dir); err != nil {
			fmt.Fprintln(os.Stderr, "civicbench test:", err)
			return 1
		}
	}
	return m.Run()
}

// TestTinyScenario runs one publisher to three subscribers against the
// real daemon with a 2 s window, and checks that every measurement the
// command prints was actually taken.
func TestTinyScenario(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	ticks, _ := clockTicks()
	cfg := config{
		Civicd: civicdBin, Dir: t.TempDir(), Warmup: 500 * time.Millisecond, Window: 2 * time.Second,
		MeetingLimit: 100, Timeout: 45 * time.Second, JoinWorkers: 4, Ticks: ticks,
		Log: slog.New(slog.NewTextHandler(t.Output(), nil)),
	}
	sc := scenario{Name: "tiny", Title: "1→3", Meetings: 1, Size: 4, Publishers: 1, Video: true}
	r, err := runScenario(ctx, cfg, sc)
	if err != nil {
		t.Fatal(err)
	}
	if r.total != 4 || r.publishers != 1 || r.streams != 6 || r.videoStr != 3 {
		t.Errorf("participants %d, publishers %d, tracks %d (video %d); want 4, 1, 6 (3)", r.total, r.publishers, r.streams, r.videoStr)
	}
	if r.silent != 0 {
		t.Errorf("%d forwarded tracks delivered nothing", r.silent)
	}
	for k, kind := range []string{"audio", "video"} {
		if r.pkts[k] == 0 || r.bytes[k] == 0 {
			t.Errorf("no %s received in the window", kind)
		}
		if n := r.lat[k].count(); n != r.pkts[k] {
			t.Errorf("%s: %d latencies for %d packets", kind, n, r.pkts[k])
		}
		if r.expected[k] == 0 {
			t.Errorf("no %s sent in the window", kind)
		}
	}
	all := r.latAll()
	if p50, p99 := all.quantile(0.5), all.quantile(0.99); p50 <= 0 || p99 < p50 || p99 == histOverflow {
		t.Errorf("latency p50 %s, p99 %s", p50, p99)
	}
	// 3 × (1.5 Mbit/s + 40 kbit/s), with RTP headers, over the window.
	if mbps := r.mbit() / r.window.Seconds(); mbps < 3 || mbps > 6 {
		t.Errorf("forwarded %.2f Mbit/s, want about 4.7", mbps)
	}
	if l := r.loss(); l > 0.05 {
		t.Errorf("loss %.2f%%", 100*l)
	}
	if r.daemonCPU <= 0 || r.benchCPU <= 0 {
		t.Errorf("CPU: daemon %s, bench %s; want both above 0", r.daemonCPU, r.benchCPU)
	}
	if r.window < cfg.Window || r.window > cfg.Window+time.Second {
		t.Errorf("window %s, want about %s", r.window, cfg.Window)
	}
	if r.rssBefore <= 0 || r.rssWith <= r.rssBefore {
		t.Errorf("RSS %d before the clients and %d with them", r.rssBefore, r.rssWith)
	}
	var out bytes.Buffer
	writeResult(&out, r, 2, true)
	writeSummary(&out, []*result{r}, 2)
	for _, want := range []string{"| daemon CPU |", "| forwarding latency p50 / p99 / max |", "| (tiny) | 4 |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestFit(t *testing.T) {
	tests := []struct {
		name                  string
		sc                    scenario
		limit                 int
		meetings, size, total int
	}{
		{"fits", scenarios[0], 100, 1, 10, 10},
		{"shrinks", scenarios[1], 100, 1, 100, 100},
		{"splits", scenarios[3], 100, 2, 100, 200},
		{"no limit", scenarios[3], 0, 1, 200, 200},
		{"many small", scenarios[2], 100, 20, 10, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, note := tt.sc.fit(tt.limit)
			if got.Meetings != tt.meetings || got.Size != tt.size || got.Meetings*got.Size != tt.total {
				t.Errorf("fit(%d) = %d meetings of %d; want %d of %d", tt.limit, got.Meetings, got.Size, tt.meetings, tt.size)
			}
			if changed := got.Size != tt.sc.Size; changed != (note != "") {
				t.Errorf("note %q for a changed=%v scenario", note, changed)
			}
		})
	}
}

func TestHistogram(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want time.Duration // the upper bound of its bucket
	}{
		{-time.Millisecond, 10 * time.Microsecond},
		{0, 10 * time.Microsecond},
		{15 * time.Microsecond, 20 * time.Microsecond},
		{999 * time.Microsecond, time.Millisecond},
		{time.Millisecond, 1100 * time.Microsecond},
		{4321 * time.Microsecond, 4400 * time.Microsecond},
		{42 * time.Millisecond, 43 * time.Millisecond},
		{420 * time.Millisecond, 430 * time.Millisecond},
		{5 * time.Second, histOverflow},
	}
	for _, tt := range tests {
		if got := upper(bucket(tt.d)); got != tt.want {
			t.Errorf("upper(bucket(%s)) = %s, want %s", tt.d, got, tt.want)
		}
	}
	var h histogram
	for i := range 100 {
		h.add(time.Duration(i) * 100 * time.Microsecond) // 0 to 9.9 ms
	}
	var s histSnapshot
	s.merge(&h)
	if got := s.count(); got != 100 {
		t.Fatalf("count %d, want 100", got)
	}
	if got := s.quantile(0.5); got != 5*time.Millisecond {
		t.Errorf("p50 %s, want 5ms", got)
	}
	if got := s.quantile(0.99); got != 9900*time.Microsecond {
		t.Errorf("p99 %s, want 9.9ms", got)
	}
	if got := s.max(); got != 10*time.Millisecond {
		t.Errorf("max %s, want 10ms", got)
	}
}

func TestRTPPayload(t *testing.T) {
	tests := []struct {
		name string
		pkt  []byte
		want []byte
	}{
		{"plain", append(make12(0x80), 1, 2, 3), []byte{1, 2, 3}},
		{"one CSRC", append(append(make12(0x81), 0, 0, 0, 9), 4, 5), []byte{4, 5}},
		{"extension", append(append(make12(0x90), 0xbe, 0xde, 0, 1, 0x10, 7, 0, 0), 6), []byte{6}},
		{"padding", append(make12(0xa0), 8, 0, 0, 3), []byte{8}},
		{"short", []byte{0x80, 0}, nil},
		{"truncated extension", append(make12(0x90), 0xbe, 0xde, 0, 9), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rtpPayload(tt.pkt); !bytes.Equal(got, tt.want) {
				t.Errorf("rtpPayload = %v, want %v", got, tt.want)
			}
		})
	}
}

// make12 is a 12-byte RTP header whose first byte is b0.
func make12(b0 byte) []byte {
	h := make([]byte, 12)
	h[0] = b0
	return h
}

func TestFlags(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run([]string{"-scenario", "z"}, &out, &errs); code != 2 || !strings.Contains(errs.String(), `unknown scenario "z"`) {
		t.Errorf("run -scenario z: exit %d, stderr %q", code, errs.String())
	}
	got, sip, err := pick("a, c2")
	if err != nil || len(got) != 2 || got[0].Name != "a" || got[1].Name != "c2" || len(sip) != 0 {
		t.Errorf("pick(a, c2) = %v, %v, %v", got, sip, err)
	}
	got, sip, err = pick("sip")
	if err != nil || len(got) != 0 || strings.Join(sip, ",") != "sip-register,sip-kamailio,sip-calls,sip-relay" {
		t.Errorf("pick(sip) = %v, %v, %v", got, sip, err)
	}
	got, sip, err = pick("b,sip-relay")
	if err != nil || len(got) != 1 || got[0].Name != "b" || len(sip) != 1 || sip[0] != "sip-relay" {
		t.Errorf("pick(b,sip-relay) = %v, %v, %v", got, sip, err)
	}
}
