package prompts

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// chunk returns a RIFF chunk: id, little-endian size, body and a pad byte if
// the body is odd.
func chunk(id string, body []byte) []byte {
	b := append([]byte(id), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...)
	b = append(b, body...)
	if len(body)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

// riff wraps chunks in a RIFF/WAVE header with the right size.
func riff(chunks ...[]byte) []byte {
	body := []byte("WAVE")
	for _, c := range chunks {
		body = append(body, c...)
	}
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

// fmtChunk returns a fmt chunk body: tag, channels, rate, byte rate, block
// align, bits, then extra.
func fmtChunk(tag, channels uint16, rate, byteRate uint32, align, bits uint16, extra ...byte) []byte {
	b := binary.LittleEndian.AppendUint16(nil, tag)
	b = binary.LittleEndian.AppendUint16(b, channels)
	b = binary.LittleEndian.AppendUint32(b, rate)
	b = binary.LittleEndian.AppendUint32(b, byteRate)
	b = binary.LittleEndian.AppendUint16(b, align)
	b = binary.LittleEndian.AppendUint16(b, bits)
	return append(b, extra...)
}

func pcm16(rate uint32) []byte { return fmtChunk(1, 1, rate, 2*rate, 2, 16) }

func samplesBytes(s []int16) []byte {
	var b []byte
	for _, v := range s {
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
	}
	return b
}

// encodeWAV is the plainest valid file: fmt then data.
func encodeWAV(a Audio) []byte {
	return riff(chunk("fmt ", pcm16(uint32(a.Rate))), chunk("data", samplesBytes(a.Samples)))
}

var testSamples = []int16{0, 1, -1, 32767, -32768, 1234, -4321}

func TestReadWAV(t *testing.T) {
	data := chunk("data", samplesBytes(testSamples))
	fmt8k := chunk("fmt ", pcm16(8000))
	want := Audio{Rate: 8000, Samples: testSamples}
	for _, tc := range []struct {
		name string
		in   []byte
		want Audio
	}{
		{"plain", riff(fmt8k, data), want},
		{"16 kHz", riff(chunk("fmt ", pcm16(16000)), data), Audio{Rate: 16000, Samples: testSamples}},
		{"fmt with cbSize 0", riff(chunk("fmt ", fmtChunk(1, 1, 8000, 16000, 2, 16, 0, 0)), data), want},
		{"LIST before fmt", riff(chunk("LIST", []byte("INFOISFT\x03\x00\x00\x00ab\x00")), fmt8k, data), want},
		{"odd chunk padded between fmt and data", riff(fmt8k, chunk("junk", []byte{1, 2, 3}), data), want},
		{"chunks after data ignored", riff(fmt8k, data, chunk("LIST", []byte("INFO"))), want},
		{"trailing bytes after RIFF ignored", append(riff(fmt8k, data), "garbage"...), want},
		{"one sample", riff(fmt8k, chunk("data", []byte{0x34, 0x12})), Audio{Rate: 8000, Samples: []int16{0x1234}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadWAV(bytes.NewReader(tc.in))
			if err != nil {
				t.Fatalf("ReadWAV: %v", err)
			}
			if got.Rate != tc.want.Rate || !slices.Equal(got.Samples, tc.want.Samples) {
				t.Errorf("got %d Hz %v, want %d Hz %v", got.Rate, got.Samples, tc.want.Rate, tc.want.Samples)
			}
		})
	}
}

func TestReadWAVOneByteAtATime(t *testing.T) {
	in := riff(chunk("LIST", []byte("x")), chunk("fmt ", pcm16(8000)), chunk("data", samplesBytes(testSamples)))
	got, err := ReadWAV(iotest.OneByteReader(bytes.NewReader(in)))
	if err != nil || !slices.Equal(got.Samples, testSamples) {
		t.Fatalf("got %v, %v", got.Samples, err)
	}
}

func TestReadWAVErrors(t *testing.T) {
	data := chunk("data", samplesBytes(testSamples))
	fmt8k := chunk("fmt ", pcm16(8000))
	valid := riff(fmt8k, data)
	withRIFFSize := func(b []byte, n uint32) []byte {
		b = slices.Clone(b)
		binary.LittleEndian.PutUint32(b[4:], n)
		return b
	}
	// A data chunk whose header claims more than the file holds.
	overclaim := slices.Clone(valid)
	binary.LittleEndian.PutUint32(overclaim[12+len(fmt8k)+4:], 1<<20)
	var manyChunks [][]byte
	for range maxChunks {
		manyChunks = append(manyChunks, chunk("junk", nil))
	}
	manyChunks = append(manyChunks, fmt8k, data)

	for _, tc := range []struct {
		name string
		in   []byte
		want error
		msg  string // part of the error text
	}{
		{"empty", nil, ErrInvalidWAV, "truncated RIFF header"},
		{"short", []byte("RIFF\x04\x00"), ErrInvalidWAV, "truncated"},
		{"not RIFF", append([]byte("RIFX"), valid[4:]...), ErrInvalidWAV, "not a RIFF/WAVE"},
		{"not WAVE", append(append(slices.Clone(valid[:8]), "AVI "...), valid[12:]...), ErrInvalidWAV, "not a RIFF/WAVE"},
		{"RIFF size too small", withRIFFSize(valid, 3), ErrInvalidWAV, "RIFF size"},
		{"RIFF size over the bound", withRIFFSize(valid, MaxWAVBytes), ErrInvalidWAV, "more than"},
		{"RIFF size 4GiB", withRIFFSize(valid, 0xffffffff), ErrInvalidWAV, "more than"},
		{"RIFF ends before data", withRIFFSize(valid, uint32(4+len(fmt8k))), ErrInvalidWAV, "no data chunk"},
		{"chunk overruns RIFF", withRIFFSize(valid, uint32(4+len(fmt8k)+8)), ErrInvalidWAV, "overruns"},
		{"no fmt", riff(data), ErrInvalidWAV, "before the fmt"},
		{"no data", riff(fmt8k), ErrInvalidWAV, "no data chunk"},
		{"two fmt", riff(fmt8k, fmt8k, data), ErrInvalidWAV, "two fmt"},
		{"empty data", riff(fmt8k, chunk("data", nil)), ErrInvalidWAV, "no samples"},
		{"odd data", riff(fmt8k, chunk("data", []byte{1, 2, 3})), ErrInvalidWAV, "whole 16-bit"},
		{"truncated data", valid[:len(valid)-3], ErrInvalidWAV, "data chunk has"},
		{"data overclaims", overclaim, ErrInvalidWAV, "overruns"},
		{"truncated skipped chunk", riff(chunk("junk", make([]byte, 100)))[:40], ErrInvalidWAV, "truncated chunk"},
		{"truncated fmt", riff(fmt8k)[:20], ErrInvalidWAV, "truncated fmt"},
		{"fmt too short", riff(chunk("fmt ", pcm16(8000)[:14]), data), ErrInvalidWAV, "fmt chunk of 14 bytes"},
		{"fmt odd size", riff(chunk("fmt ", append(pcm16(8000), 0)), data), ErrInvalidWAV, "fmt chunk of 17 bytes"},
		{"fmt cbSize not 0", riff(chunk("fmt ", fmtChunk(1, 1, 8000, 16000, 2, 16, 2, 0)), data), ErrInvalidWAV, "extension"},
		{"PCM fmt of 40 bytes", riff(chunk("fmt ", append(pcm16(8000), make([]byte, 24)...)), data), ErrInvalidWAV, "40 bytes"},
		{"bad block align", riff(chunk("fmt ", fmtChunk(1, 1, 8000, 16000, 4, 16)), data), ErrInvalidWAV, "block align"},
		{"bad byte rate", riff(chunk("fmt ", fmtChunk(1, 1, 8000, 8000, 2, 16)), data), ErrInvalidWAV, "bytes/s"},
		{"too many chunks", riff(manyChunks...), ErrInvalidWAV, "first 64 chunks"},
		{"stereo", riff(chunk("fmt ", fmtChunk(1, 2, 8000, 32000, 4, 16)), data), ErrUnsupportedWAV, "2 channels"},
		{"8 bit", riff(chunk("fmt ", fmtChunk(1, 1, 8000, 8000, 1, 8)), data), ErrUnsupportedWAV, "8 bits"},
		{"24 bit", riff(chunk("fmt ", fmtChunk(1, 1, 8000, 24000, 3, 24)), data), ErrUnsupportedWAV, "24 bits"},
		{"float", riff(chunk("fmt ", fmtChunk(3, 1, 8000, 32000, 4, 32)), data), ErrUnsupportedWAV, "format 0x0003"},
		{"mu-law", riff(chunk("fmt ", fmtChunk(7, 1, 8000, 8000, 1, 8, 0, 0)), data), ErrUnsupportedWAV, "format 0x0007"},
		{"extensible", riff(chunk("fmt ", fmtChunk(0xfffe, 1, 8000, 16000, 2, 16, append([]byte{22, 0}, make([]byte, 22)...)...)), data), ErrUnsupportedWAV, "format 0xfffe"},
		{"rate 0", riff(chunk("fmt ", pcm16(0)), data), ErrUnsupportedWAV, "0 Hz"},
		{"rate too high", riff(chunk("fmt ", pcm16(384000)), data), ErrUnsupportedWAV, "384000 Hz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadWAV(bytes.NewReader(tc.in))
			if !errors.Is(err, tc.want) {
				t.Fatalf("ReadWAV = %d Hz, %d samples, %v; want %v", got.Rate, len(got.Samples), err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
			if got.Samples != nil {
				t.Errorf("samples returned with an error")
			}
		})
	}
}

// TestReadWAVReadError checks that an I/O error is passed on, not taken
// for a malformed file.
func TestReadWAVReadError(t *testing.T) {
	boom := errors.New("boom")
	in := encodeWAV(Audio{Rate: 8000, Samples: testSamples})
	for _, n := range []int{0, 5, 12, 20, 40, len(in) - 2} {
		r := newErrReader(in[:n], boom)
		if _, err := ReadWAV(r); !errors.Is(err, boom) {
			t.Errorf("error after %d bytes: got %v, want %v", n, err, boom)
		}
	}
}

// newErrReader returns b, then err.
func newErrReader(b []byte, err error) *errReader {
	return &errReader{b: b, err: err}
}

type errReader struct {
	b   []byte
	err error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, r.err
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// FuzzReadWAV checks that ReadWAV never panics, and that whatever it
// accepts is in bounds and reads back the same after rewriting.
func FuzzReadWAV(f *testing.F) {
	// A shipped prompt cut to 64 samples: the header is as ffmpeg writes it
	// (fmt then data), and a small seed keeps mutation and the minimising of
	// new inputs fast.
	real, err := files.ReadFile("wav/en/8000/muted.wav")
	if err != nil {
		f.Fatal(err)
	}
	prompt, err := ReadWAV(bytes.NewReader(real))
	if err != nil {
		f.Fatal(err)
	}
	cut := encodeWAV(Audio{Rate: prompt.Rate, Samples: prompt.Samples[:64]})
	if !bytes.Equal(cut[8:40], real[8:40]) {
		f.Fatalf("the shipped header %x differs from encodeWAV's %x", real[:44], cut[:44])
	}
	f.Add(cut)
	fmt8k := chunk("fmt ", pcm16(8000))
	data := chunk("data", samplesBytes(testSamples))
	f.Add(riff(fmt8k, data))
	f.Add(riff(chunk("LIST", []byte("INFOab")), fmt8k, chunk("junk", []byte{1}), data))
	f.Add(riff(chunk("fmt ", fmtChunk(1, 1, 16000, 32000, 2, 16, 0, 0)), data))
	f.Add(riff(chunk("fmt ", fmtChunk(0xfffe, 1, 8000, 16000, 2, 16, append([]byte{22, 0}, make([]byte, 22)...)...)), data))
	f.Add(riff(data, fmt8k))
	f.Add([]byte("RIFF\xff\xff\xff\xffWAVEdata\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := ReadWAV(bytes.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrInvalidWAV) && !errors.Is(err, ErrUnsupportedWAV) {
				t.Fatalf("error %v wraps neither ErrInvalidWAV nor ErrUnsupportedWAV", err)
			}
			if a.Samples != nil {
				t.Fatal("samples returned with an error")
			}
			return
		}
		if a.Rate < MinWAVRate || a.Rate > MaxWAVRate || len(a.Samples) == 0 || 2*len(a.Samples) > len(in) {
			t.Fatalf("accepted %d Hz, %d samples from %d bytes", a.Rate, len(a.Samples), len(in))
		}
		b, err := ReadWAV(bytes.NewReader(encodeWAV(a)))
		if err != nil || b.Rate != a.Rate || !slices.Equal(b.Samples, a.Samples) {
			t.Fatalf("rewritten file reads back as %d Hz, %d samples, %v", b.Rate, len(b.Samples), err)
		}
	})
}
