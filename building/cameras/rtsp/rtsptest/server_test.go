package rtsptest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestFFprobe: a real client reads an H.264 mount over TCP and over UDP
// and sees the clip's codec and size.
func TestFFprobe(t *testing.T) {
	bin, err := exec.LookPath("ffprobe")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ffprobe is missing (apt-get install ffmpeg)")
		}
		t.Skip("ffprobe is missing")
	}
	s, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h, err := NewH264(Clip(), 15)
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("/cam", Mount{SDP: h.SDP(96), Source: h.Source(96, true)})

	for i, transport := range []string{"tcp", "udp"} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := exec.CommandContext(ctx, bin, "-v", "error", "-rtsp_transport", transport, "-analyzeduration", "1000000",
			"-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", s.URL("/cam")).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("ffprobe over %s: %v\n%s", transport, err, out)
		}
		if got, want := strings.TrimSpace(string(out)), "h264,160,120"; got != want {
			t.Fatalf("ffprobe over %s says %q, want %q", transport, got, want)
		}
		if s.Requests("PLAY") != i+1 || s.Requests("SETUP") != i+1 {
			t.Errorf("after %s: PLAY %d, SETUP %d requests, want %d each", transport, s.Requests("PLAY"), s.Requests("SETUP"), i+1)
		}
	}
}

// TestNewH264 splits the clip into its 30 pictures.
func TestNewH264(t *testing.T) {
	h, err := NewH264(Clip(), 15)
	if err != nil {
		t.Fatal(err)
	}
	if h.Frames() != 30 {
		t.Errorf("clip has %d access units, want 30", h.Frames())
	}
	if sdp := h.SDP(96); !strings.Contains(sdp, "profile-level-id=42C0") || !strings.Contains(sdp, "sprop-parameter-sets=Z0") {
		t.Errorf("SDP lacks the clip's parameters:\n%s", sdp)
	}
	if _, err := NewH264([]byte{0, 0, 1, 0x65, 0x88}, 15); err == nil {
		t.Error("a stream without SPS/PPS was accepted")
	}
}

// TestStartLoopbackOnly refuses other addresses.
func TestStartLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "example.com:0"} {
		if s, err := Start(addr); err == nil {
			s.Close()
			t.Errorf("Start(%q) succeeded", addr)
		}
	}
}
