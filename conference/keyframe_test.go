package conference

import "testing"

func TestIsVP8Keyframe(t *testing.T) {
	hdr := []byte{0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2} // RTP, no CSRC, no extension
	ext := []byte{0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0}
	tests := []struct {
		name string
		pkt  []byte
		want bool
	}{
		{"keyframe start", append(append([]byte{}, hdr...), 0x10, 0x00), true},
		{"interframe start", append(append([]byte{}, hdr...), 0x10, 0x01), false},
		{"continuation, not start", append(append([]byte{}, hdr...), 0x00, 0x00), false},
		{"start of partition 1", append(append([]byte{}, hdr...), 0x11, 0x00), false},
		{"keyframe with 15-bit picture id", append(append([]byte{}, hdr...), 0x90, 0x80, 0x81, 0x23, 0x00), true},
		{"keyframe with 7-bit picture id and TL0PICIDX", append(append([]byte{}, hdr...), 0x90, 0xc0, 0x05, 0x07, 0x00), true},
		{"keyframe after header extension", append(append([]byte{}, ext...), 0x10, 0x00), true},
		{"truncated descriptor", append(append([]byte{}, hdr...), 0x90), false},
		{"too short for RTP", []byte{0x80, 96}, false},
		{"extension longer than packet", []byte{0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0xbe, 0xde, 0xff, 0xff}, false},
	}
	for _, tt := range tests {
		if got := isVP8Keyframe(tt.pkt); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

// FuzzIsVP8Keyframe feeds arbitrary packets (they come from the network)
// to the keyframe check, which must never panic.
func FuzzIsVP8Keyframe(f *testing.F) {
	f.Add([]byte{0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0x10, 0x00})
	f.Add([]byte{0x9f, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0xbe, 0xde})
	f.Fuzz(func(t *testing.T, pkt []byte) { isVP8Keyframe(pkt) })
}
