package voip

import (
	"path/filepath"
	"testing"

	"civic/internal/phonetest"
)

// The audio helpers live in internal/phonetest, shared with e2e.
var (
	writeTone = phonetest.WriteTone
	readWAV   = phonetest.ReadWAV
	heard     = phonetest.Heard
)

// toneLevel is phonetest.ToneLevel at 8 kHz.
func toneLevel(samples []int16, freq float64) (share, rms float64) {
	return phonetest.ToneLevel(samples, 8000, freq)
}

func TestToneLevel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.wav")
	writeTone(t, path, 440, 1)
	s, err := readWAV(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 8000 {
		t.Fatalf("%d samples, want 8000", len(s))
	}
	if share, rms := toneLevel(s, 440); share < 0.4 || rms < 5000 {
		t.Errorf("440 Hz in a 440 Hz tone: share %.3f rms %.0f", share, rms)
	}
	if share, _ := toneLevel(s, 660); share > 0.01 {
		t.Errorf("660 Hz in a 440 Hz tone: share %.3f", share)
	}
	if share, rms := toneLevel(make([]int16, 8000), 440); share != 0 || rms != 0 {
		t.Errorf("silence: share %.3f rms %.0f", share, rms)
	}
}
