package prompts

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Bounds of ReadWAV.
const (
	// MaxWAVBytes is the largest WAV file ReadWAV reads, header included:
	// 16 MiB, over eight minutes of 16 kHz audio.
	MaxWAVBytes = 16 << 20
	// MinWAVRate and MaxWAVRate bound the sample rate ReadWAV accepts.
	MinWAVRate = 1000
	MaxWAVRate = 192000
	// maxChunks bounds the chunks ReadWAV looks at before the data chunk.
	maxChunks = 64
)

// Audio is mono 16-bit PCM sound.
type Audio struct {
	Rate    int     // samples per second
	Samples []int16 // one per 1/Rate s
}

// ReadWAV reads a WAV file of mono 16-bit PCM: a RIFF/WAVE file with a "fmt "
// chunk of format 1 (PCM), one channel and 16 bits per sample, followed by a
// non-empty "data" chunk. Chunks of other kinds before the data chunk are
// skipped; nothing after it is read. A file that is not well-formed (short,
// chunks overrunning their parent, data before fmt, an odd data size, more
// than MaxWAVBytes, …) gives ErrInvalidWAV; a well-formed one in another
// format (stereo, 8 or 24 bits, float, extensible, a rate outside
// MinWAVRate..MaxWAVRate) gives ErrUnsupportedWAV. It reads at most
// MaxWAVBytes from r and allocates no more than it reads.
func ReadWAV(r io.Reader) (Audio, error) {
	var hdr [12]byte
	if err := readFull(r, hdr[:], "RIFF header"); err != nil {
		return Audio{}, err
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return Audio{}, fmt.Errorf("%w: not a RIFF/WAVE file", ErrInvalidWAV)
	}
	riffSize := int64(binary.LittleEndian.Uint32(hdr[4:8]))
	if riffSize < 4 {
		return Audio{}, fmt.Errorf("%w: RIFF size %d", ErrInvalidWAV, riffSize)
	}
	if riffSize > MaxWAVBytes-8 {
		return Audio{}, fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidWAV, riffSize+8, MaxWAVBytes)
	}
	left := riffSize - 4 // bytes of sub-chunks, their headers included

	var format *Audio // set by the fmt chunk
	for i := 0; ; i++ {
		if i == maxChunks {
			return Audio{}, fmt.Errorf("%w: no data chunk in the first %d chunks", ErrInvalidWAV, maxChunks)
		}
		if left < 8 {
			return Audio{}, fmt.Errorf("%w: no data chunk", ErrInvalidWAV)
		}
		var ch [8]byte
		if err := readFull(r, ch[:], "chunk header"); err != nil {
			return Audio{}, err
		}
		left -= 8
		id := string(ch[0:4])
		size := int64(binary.LittleEndian.Uint32(ch[4:8]))
		if size > left {
			return Audio{}, fmt.Errorf("%w: chunk %q of %d bytes overruns the RIFF chunk (%d bytes left)", ErrInvalidWAV, id, size, left)
		}
		left -= size
		// A chunk of odd size is followed by a pad byte, which a writer may
		// leave out at the very end of the file.
		pad := size & 1
		if pad > left {
			pad = left
		}
		left -= pad

		switch id {
		case "fmt ":
			if format != nil {
				return Audio{}, fmt.Errorf("%w: two fmt chunks", ErrInvalidWAV)
			}
			a, err := readFmt(r, size)
			if err != nil {
				return Audio{}, err
			}
			format = &a
			if err := skip(r, pad); err != nil {
				return Audio{}, err
			}
		case "data":
			if format == nil {
				return Audio{}, fmt.Errorf("%w: data chunk before the fmt chunk", ErrInvalidWAV)
			}
			if size == 0 {
				return Audio{}, fmt.Errorf("%w: no samples", ErrInvalidWAV)
			}
			if size%2 != 0 {
				return Audio{}, fmt.Errorf("%w: data chunk of %d bytes is not whole 16-bit samples", ErrInvalidWAV, size)
			}
			// ReadAll over a LimitReader grows with what arrives, so a
			// header that claims more than the file holds costs nothing.
			b, err := io.ReadAll(io.LimitReader(r, size))
			if err != nil {
				return Audio{}, fmt.Errorf("read WAV data: %w", err)
			}
			if int64(len(b)) != size {
				return Audio{}, fmt.Errorf("%w: data chunk has %d of %d bytes", ErrInvalidWAV, len(b), size)
			}
			a := *format
			a.Samples = make([]int16, len(b)/2)
			for i := range a.Samples {
				a.Samples[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
			}
			return a, nil
		default:
			if err := skip(r, size+pad); err != nil {
				return Audio{}, err
			}
		}
	}
}

// readFmt reads a "fmt " chunk of size bytes and returns its rate.
func readFmt(r io.Reader, size int64) (Audio, error) {
	// 16 bytes is PCMWAVEFORMAT; 18 adds a cbSize, which PCM leaves at 0.
	// Longer ones are WAVEFORMATEXTENSIBLE and the like.
	if size != 16 && size != 18 && size != 40 {
		return Audio{}, fmt.Errorf("%w: fmt chunk of %d bytes", ErrInvalidWAV, size)
	}
	var b [40]byte
	if err := readFull(r, b[:size], "fmt chunk"); err != nil {
		return Audio{}, err
	}
	tag := binary.LittleEndian.Uint16(b[0:])
	channels := binary.LittleEndian.Uint16(b[2:])
	rate := binary.LittleEndian.Uint32(b[4:])
	byteRate := binary.LittleEndian.Uint32(b[8:])
	align := binary.LittleEndian.Uint16(b[12:])
	bits := binary.LittleEndian.Uint16(b[14:])
	switch {
	case tag != 1:
		return Audio{}, fmt.Errorf("%w: format 0x%04x, want 1 (PCM)", ErrUnsupportedWAV, tag)
	case channels != 1:
		return Audio{}, fmt.Errorf("%w: %d channels, want 1", ErrUnsupportedWAV, channels)
	case bits != 16:
		return Audio{}, fmt.Errorf("%w: %d bits per sample, want 16", ErrUnsupportedWAV, bits)
	case rate < MinWAVRate || rate > MaxWAVRate:
		return Audio{}, fmt.Errorf("%w: %d Hz, want %d to %d", ErrUnsupportedWAV, rate, MinWAVRate, MaxWAVRate)
	case align != 2 || byteRate != 2*rate:
		return Audio{}, fmt.Errorf("%w: fmt chunk has block align %d and %d bytes/s for mono 16-bit at %d Hz", ErrInvalidWAV, align, byteRate, rate)
	case size == 18 && binary.LittleEndian.Uint16(b[16:]) != 0:
		return Audio{}, fmt.Errorf("%w: PCM fmt chunk with %d extension bytes", ErrInvalidWAV, binary.LittleEndian.Uint16(b[16:]))
	case size == 40:
		// Format 1 with an extensible-sized chunk: not what any writer
		// makes.
		return Audio{}, fmt.Errorf("%w: PCM fmt chunk of 40 bytes", ErrInvalidWAV)
	}
	return Audio{Rate: int(rate)}, nil
}

// readFull fills b from r; a short read is ErrInvalidWAV (truncated file).
func readFull(r io.Reader, b []byte, what string) error {
	_, err := io.ReadFull(r, b)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: truncated %s", ErrInvalidWAV, what)
	case err != nil:
		return fmt.Errorf("read WAV %s: %w", what, err)
	}
	return nil
}

// skip discards n bytes of r.
func skip(r io.Reader, n int64) error {
	if n == 0 {
		return nil
	}
	got, err := io.CopyN(io.Discard, r, n)
	switch {
	case got == n:
		return nil
	case err == nil, errors.Is(err, io.EOF):
		return fmt.Errorf("%w: truncated chunk (%d of %d bytes)", ErrInvalidWAV, got, n)
	default:
		return fmt.Errorf("read WAV: %w", err)
	}
}
