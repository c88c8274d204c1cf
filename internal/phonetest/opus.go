package phonetest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"civic/internal/ogg"
)

// OpusTone returns seconds of a sine at freq Hz as 20 ms Opus packets,
// encoded by ffmpeg's libopus the way a browser sends voice (48 kHz mono,
// VoIP mode, 32 kbit/s): what a test participant publishes to a meeting
// for the phones to hear. ffmpeg is required under CI=true.
func OpusTone(t testing.TB, freq float64, seconds int) [][]byte {
	t.Helper()
	bin, err := exec.LookPath("ffmpeg")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ffmpeg is not installed (apt-get install ffmpeg)")
		}
		t.Skip("ffmpeg is not installed; skipping")
	}
	cmd := exec.Command(bin, "-loglevel", "error", "-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=%g:sample_rate=48000:duration=%d", freq, seconds),
		"-ac", "1", "-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20", "-application", "voip", "-f", "ogg", "-")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, stderr.String())
	}
	pkts, err := ogg.Packets(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) < 2 {
		t.Fatalf("ffmpeg gave %d Ogg packets", len(pkts))
	}
	return pkts[2:] // after the OpusHead and OpusTags headers
}
