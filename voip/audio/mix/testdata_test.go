package mix

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"civic/internal/ogg"
	"civic/voip/audio/internal/audiotest"
)

var update = flag.Bool("update", false, "regenerate testdata/voice.ogg with ffmpeg")

// voiceFile holds two seconds of speech-like audio in 20 ms Opus packets
// as a browser sends them (libopus, VoIP mode, 32 kbit/s), so that the
// benchmarks and fuzz seeds need no ffmpeg. go test -run TestVoiceFile
// -update regenerates it.
const voiceFile = "testdata/voice.ogg"

func TestVoiceFile(t *testing.T) {
	if *update {
		ogg := audiotest.RunFFmpeg(t, audiotest.S16LE(audiotest.Voice(2*Rate, Rate, 12000)),
			"-f", "s16le", "-ar", "48000", "-ac", "1", "-i", "-", "-c:a", "libopus", "-b:a", "32k",
			"-frame_duration", "20", "-application", "voip", "-map_metadata", "-1", "-fflags", "+bitexact", "-f", "ogg", "-")
		if err := os.WriteFile(filepath.FromSlash(voiceFile), ogg, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if p := voicePackets(t); len(p) < 99 {
		t.Fatalf("%s has %d packets, want 100", voiceFile, len(p))
	}
}

// voicePackets returns the Opus packets of voiceFile.
func voicePackets(t testing.TB) [][]byte {
	t.Helper()
	data, err := os.ReadFile(filepath.FromSlash(voiceFile))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ogg.Packets(data)
	if err != nil || len(p) < 3 {
		t.Fatalf("%s: %d packets, %v", voiceFile, len(p), err)
	}
	return p[2:]
}
