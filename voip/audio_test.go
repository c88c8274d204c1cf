package voip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// writeTone writes seconds of a sine at freq Hz as an 8 kHz mono 16-bit
// WAV file, the format baresip's aufile source plays.
func writeTone(t *testing.T, path string, freq float64, seconds int) {
	t.Helper()
	const rate = 8000
	n := rate * seconds
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("RIFF")
	_ = binary.Write(&b, le, uint32(36+2*n))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(rate), uint32(2 * rate), uint16(2), uint16(16)} {
		_ = binary.Write(&b, le, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, le, uint32(2*n))
	for i := range n {
		v := int16(12000 * math.Sin(2*math.Pi*freq*float64(i)/rate))
		_ = binary.Write(&b, le, v)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// readWAV reads the 16-bit samples of a PCM WAV file. The data chunk's
// size is ignored: a file still being written has a zero there.
func readWAV(path string) ([]int16, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < 12 || string(data[:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		return nil, errors.New("not a WAV file")
	}
	for p := 12; p+8 <= len(data); {
		id, size := string(data[p:p+4]), int(binary.LittleEndian.Uint32(data[p+4:p+8]))
		p += 8
		if id == "data" {
			body := data[p:]
			out := make([]int16, len(body)/2)
			for i := range out {
				out[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
			}
			return out, nil
		}
		p += size + size%2
	}
	return nil, errors.New("no data chunk")
}

// toneLevel is the Goertzel power of freq in samples (8 kHz), relative to
// the signal's total power: near 0.5 for a pure sine at freq, near 0 for
// another tone or silence.
func toneLevel(samples []int16, freq float64) (share, rms float64) {
	const rate = 8000
	if len(samples) == 0 {
		return 0, 0
	}
	w := 2 * math.Pi * freq / rate
	coeff := 2 * math.Cos(w)
	var s1, s2, energy float64
	for _, v := range samples {
		x := float64(v)
		s0 := x + coeff*s1 - s2
		s2, s1 = s1, s0
		energy += x * x
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2 // |X(f)|^2
	n := float64(len(samples))
	rms = math.Sqrt(energy / n)
	if energy == 0 {
		return 0, 0
	}
	// For a sine of amplitude A: |X|^2 = (A n / 2)^2, energy = A^2 n / 2.
	return power / (energy * n), rms
}

// heard returns the samples a baresip phone recorded from its calls
// (sndfile's "dec" dumps) in dir.
func heard(dir string) ([]int16, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "dump-*-dec.wav"))
	if len(files) == 0 {
		return nil, errors.New("no recording yet")
	}
	var all []int16
	for _, f := range files {
		s, err := readWAV(f)
		if err != nil {
			return nil, err
		}
		all = append(all, s...)
	}
	return all, nil
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
