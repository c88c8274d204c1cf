package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The samples in testdata/sipp are sipp 3.6.1's own output from runs of
// this bench against civicd on the development machine: a REGISTER run
// that overloaded a busy machine (retransmissions, timeouts and failed
// calls), the caller and answerer of a sip-calls run, and the caller's
// per-second statistics of a sip-relay run.

func readSample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "sipp", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseSippScreenClient(t *testing.T) {
	s := parseSippScreen(readSample(t, "register-overload-screen.log"))
	if s.TotalTime != 34820*time.Millisecond || s.TotalCalls != 30000 {
		t.Errorf("total time %s, calls %d; want 34.82s, 30000", s.TotalTime, s.TotalCalls)
	}
	if s.Successful != 29790 || s.Failed != 210 || s.CallRate != 861.005 {
		t.Errorf("successful %d, failed %d, rate %v; want 29790, 210, 861.005", s.Successful, s.Failed, s.CallRate)
	}
	want := []sippMessage{
		{Name: "REGISTER", Sent: true, Count: 30000, Retrans: 44416, Timeout: 132},
		{Name: "401", Count: 29868, Retrans: 2},
		{Name: "REGISTER", Sent: true, Count: 29868, Retrans: 9139, Timeout: 78},
		{Name: "200", Count: 29790},
	}
	if len(s.Messages) != len(want) {
		t.Fatalf("messages %+v, want %+v", s.Messages, want)
	}
	for i := range want {
		if s.Messages[i] != want[i] {
			t.Errorf("message %d = %+v, want %+v", i, s.Messages[i], want[i])
		}
	}
	if got := s.RetransSent(); got != 44416+9139 {
		t.Errorf("retransmissions sent %d, want %d", got, 44416+9139)
	}
	if got := s.RetransReceived(); got != 2 {
		t.Errorf("retransmissions received %d, want 2", got)
	}
	if got := s.Unexpected(); got != 132+78 {
		t.Errorf("unexpected and timeouts %d, want 210", got)
	}
	b := s.Repartitions["register"]
	if len(b) != 11 || b[0] != (sippBucket{Below: time.Millisecond, Count: 10555}) || b[10] != (sippBucket{Count: 10564}) {
		t.Fatalf("register repartition %+v", b)
	}
	if d, open := sippQuantile(b, 0.5); d != 50*time.Millisecond || open {
		t.Errorf("p50 bucket %s (open %v), want < 50ms", d, open)
	}
	if d, open := sippQuantile(b, 0.99); d != time.Second || !open {
		t.Errorf("p99 bucket %s (open %v), want >= 1s", d, open)
	}
	if got := bucketText(b, 0.99); got != "≥ 1000 ms" {
		t.Errorf("bucketText p99 = %q", got)
	}
}

func TestParseSippScreenCalls(t *testing.T) {
	uac := parseSippScreen(readSample(t, "calls-uac-screen.log"))
	if uac.TotalTime != 6010*time.Millisecond || uac.TotalCalls != 1000 || uac.Successful != 1000 || uac.Failed != 0 {
		t.Errorf("uac: time %s, calls %d, successful %d, failed %d", uac.TotalTime, uac.TotalCalls, uac.Successful, uac.Failed)
	}
	var names []string
	for _, m := range uac.Messages {
		names = append(names, m.Name)
	}
	if got := strings.Join(names, " "); got != "INVITE 100 401 ACK INVITE 100 180 183 200 ACK Pause BYE 200" {
		t.Errorf("uac messages %q", got)
	}
	if m := uac.Messages[6]; m.Name != "180" || m.Count != 997 || m.Sent {
		t.Errorf("180 row %+v", m)
	}
	if m := uac.Messages[10]; m.Name != "Pause" || m.Count != 1000 {
		t.Errorf("pause row %+v", m)
	}
	if d, _ := sippQuantile(uac.Repartitions["setup"], 0.5); d != 5*time.Millisecond {
		t.Errorf("setup p50 bucket %s, want 5ms", d)
	}
	if d, _ := sippQuantile(uac.Repartitions["setup"], 0.99); d != 10*time.Millisecond {
		t.Errorf("setup p99 bucket %s, want 10ms", d)
	}

	// The answering side prints the arrow first; "---->" is received.
	uas := parseSippScreen(readSample(t, "calls-uas-screen.log"))
	want := []sippMessage{
		{Name: "OPTIONS"},
		{Name: "INVITE", Count: 1000},
		{Name: "180", Sent: true, Count: 1000},
		{Name: "200", Sent: true, Count: 1000},
		{Name: "ACK", Count: 1000},
		{Name: "BYE", Count: 1000},
		{Name: "200", Sent: true, Count: 1000},
		{Name: "200", Sent: true},
	}
	if len(uas.Messages) != len(want) {
		t.Fatalf("uas messages %+v", uas.Messages)
	}
	for i := range want {
		if uas.Messages[i] != want[i] {
			t.Errorf("uas message %d = %+v, want %+v", i, uas.Messages[i], want[i])
		}
	}
	if uas.TotalCalls != 1000 {
		t.Errorf("uas total calls %d", uas.TotalCalls)
	}
}

func TestParseSippStats(t *testing.T) {
	rows := parseSippStats(readSample(t, "relay-uac-stat.csv"))
	if len(rows) != 36 {
		t.Fatalf("%d rows, want 36", len(rows))
	}
	last := rows[len(rows)-1]
	if last.Int("SuccessfulCall(C)") != 200 || last.Int("FailedCall(C)") != 0 || last.Int("CurrentCall") != 0 || last.Int("Retransmissions(C)") != 0 {
		t.Errorf("last row: successful %s, failed %s, current %s", last["SuccessfulCall(C)"], last["FailedCall(C)"], last["CurrentCall"])
	}
	tm, ok := rows[1].Time()
	if !ok || tm.UnixMicro() != 1796520803751258 {
		t.Errorf("row 1 time %v (%v)", tm, ok)
	}
	at := func(s float64) time.Time { return time.Unix(0, int64(s*1e9)) }
	tests := []struct {
		from, to float64
		lo, hi   int
		ok       bool
	}{
		{1796520807, 1796520831.9, 200, 200, true}, // every call up
		{1796520803, 1796520806, 49, 150, true},    // the ramp
		{1796520832, 1796520836, 45, 195, true},    // the calls ending
		{1796520900, 1796520901, 0, 0, false},      // after the run
	}
	for _, tt := range tests {
		lo, hi, ok := concurrentBetween(rows, at(tt.from), at(tt.to))
		if lo != tt.lo || hi != tt.hi || ok != tt.ok {
			t.Errorf("concurrentBetween(%v, %v) = %d, %d, %v; want %d, %d, %v", tt.from, tt.to, lo, hi, ok, tt.lo, tt.hi, tt.ok)
		}
	}
}

// TestScenarios renders every embedded sipp scenario both ways and checks
// it is well-formed XML with the right media keywords.
func TestScenarios(t *testing.T) {
	entries, err := sippFiles.ReadDir("sipp")
	if err != nil || len(entries) < 5 {
		t.Fatalf("embedded scenarios: %v, %v", entries, err)
	}
	for _, e := range entries {
		for _, rtp := range []bool{false, true} {
			path, err := writeScenario(t.TempDir(), e.Name(), rtp, "/tmp/tone.ulaw")
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				XMLName xml.Name `xml:"scenario"`
			}
			dec := xml.NewDecoder(bytes.NewReader(b))
			// The scenarios declare ISO-8859-1, as sipp's own do; they are
			// ASCII.
			dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
			if err := dec.Decode(&doc); err != nil {
				t.Errorf("%s (rtp %v): %v", e.Name(), rtp, err)
			}
			text := string(b)
			if strings.Contains(text, "{{") {
				t.Errorf("%s: template left unrendered", e.Name())
			}
			if e.Name() == "uac.xml" || e.Name() == "uas.xml" {
				hasStream := strings.Contains(text, `rtp_stream="/tmp/tone.ulaw,-1,0"`)
				hasPort := strings.Contains(text, "m=audio [rtpstream_audio_port] RTP/AVP 0")
				if hasStream != rtp || hasPort != rtp {
					t.Errorf("%s (rtp %v): rtp_stream %v, rtpstream port %v", e.Name(), rtp, hasStream, hasPort)
				}
			}
		}
	}
}

func TestKamailioConfig(t *testing.T) {
	withAuth, err := kamailioConfigText(5070, true, "s3")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"listen=udp:127.0.0.1:5070", `loadmodule "auth.so"`, `modparam("auth", "secret", "s3")`,
		`pv_www_authenticate("$td", "pw-$tU-civicbench", "0")`, `save("location")`} {
		if !strings.Contains(withAuth, want) {
			t.Errorf("config with auth lacks %q:\n%s", want, withAuth)
		}
	}
	// The password Kamailio derives is the one each civicd extension gets.
	if sipPassword(10001) != "pw-10001-civicbench" {
		t.Errorf("sipPassword(10001) = %q", sipPassword(10001))
	}
	noAuth, err := kamailioConfigText(5070, false, "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(noAuth, "auth") {
		t.Errorf("config without auth mentions auth:\n%s", noAuth)
	}
}

func TestLinearToMuLaw(t *testing.T) {
	for in, want := range map[int16]byte{0: 0xff, 32767: 0x80, -32768: 0x00, -1: 0x7f, 1000: 0xce, -1000: 0x4e} {
		if got := linearToMuLaw(in); got != want {
			t.Errorf("linearToMuLaw(%d) = %#x, want %#x", in, got, want)
		}
	}
}

func TestOthersCPU(t *testing.T) {
	before := map[int]procStat{
		1:  {ppid: 0, self: 100}, // init
		10: {ppid: 1, self: 50},  // this bench
		11: {ppid: 10, self: 7},  // civicd, its child
		20: {ppid: 1, self: 300}, // someone's compiler
		30: {ppid: 1, self: 900}, // ends before the second snapshot
		40: {ppid: 1, self: 500}, // ends, and its pid is reused
	}
	after := map[int]procStat{
		1:  {ppid: 0, self: 101},
		10: {ppid: 1, self: 60},
		11: {ppid: 10, self: 207},
		12: {ppid: 11, self: 33}, // a child of civicd, new: ours
		20: {ppid: 1, self: 340},
		21: {ppid: 20, self: 25}, // new, not ours
		40: {ppid: 1, self: 4},   // a new process with an old pid
	}
	// 1 + 40 + 25 + 4: everything but the bench's own tree.
	if got := othersCPU(before, after, []int{10}); got != 70 {
		t.Errorf("othersCPU = %d ticks, want 70", got)
	}
	if st, ok := readProcStat(os.Getpid()); !ok || st.ppid != os.Getppid() {
		t.Errorf("readProcStat(self) = %+v, %v; want parent %d", st, ok, os.Getppid())
	}
}

func TestParseUDPDrops(t *testing.T) {
	// /proc/net/udp as Linux 6.x writes it: civicd's SIP socket on
	// 127.0.0.1:43717 (0xAAC5) with 812 drops, a wildcard socket on 8888
	// (0x22B8).
	const text = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops             
  120: 0100007F:AAC5 00000000:0000 07 00000000 00034000 00 00000000:00000000 00000000     0        0 81234 2 0000000000000000 812       
  371: 00000000:22B8 00000000:0000 07 00000000 00000000 00 00000000:00000000 00000000     0        0 81299 2 0000000000000000 0         
`
	if n, ok := parseUDPDrops(text, 43717); !ok || n != 812 {
		t.Errorf("port 43717: %d, %v; want 812", n, ok)
	}
	if n, ok := parseUDPDrops(text, 8888); !ok || n != 0 {
		t.Errorf("port 8888: %d, %v; want 0", n, ok)
	}
	if _, ok := parseUDPDrops(text, 5060); ok {
		t.Error("port 5060 found")
	}
	if argAfter([]string{"127.0.0.1:5060", "-p", "40000", "-m", "1"}, "-p") != 40000 || argAfter([]string{"-p"}, "-p") != 0 {
		t.Error("argAfter")
	}
}
