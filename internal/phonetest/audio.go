package phonetest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// WriteTone writes seconds of a sine at freq Hz as an 8 kHz mono 16-bit
// WAV file, the format baresip's aufile source plays (Options.Tone).
func WriteTone(t testing.TB, path string, freq float64, seconds int) {
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

// ReadWAV reads the 16-bit samples of a PCM WAV file. The data chunk's
// size is ignored: a file still being written has a zero there.
func ReadWAV(path string) ([]int16, error) {
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

// ToneLevel is the Goertzel power of freq in samples at rate Hz,
// relative to the signal's total power: near 0.5 for a pure sine at freq,
// near 0 for another tone or silence; and the signal's RMS.
func ToneLevel(samples []int16, rate int, freq float64) (share, rms float64) {
	if len(samples) == 0 {
		return 0, 0
	}
	w := 2 * math.Pi * freq / float64(rate)
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

// Heard returns the samples a phone recorded from its calls (with
// Options.Record: sndfile's "dec" dumps in dir).
func Heard(dir string) ([]int16, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "dump-*-dec.wav"))
	if len(files) == 0 {
		return nil, errors.New("no recording yet")
	}
	var all []int16
	for _, f := range files {
		s, err := ReadWAV(f)
		if err != nil {
			return nil, err
		}
		all = append(all, s...)
	}
	return all, nil
}
