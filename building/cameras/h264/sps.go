package h264

import (
	"encoding/hex"
	"fmt"
)

// maxDimension bounds the picture size ParseSPS accepts. Level 6.2 tops out
// near 8192x4320; twice that leaves room for odd cameras while keeping
// garbage from producing absurd figures or overflowing.
const maxDimension = 16384

// SPS holds the sequence parameter set fields a camera health page and
// codec negotiation need.
type SPS struct {
	ProfileIDC      uint8 // 66 baseline, 77 main, 100 high, ...
	ConstraintFlags uint8 // constraint_set0..5 flags and the reserved bits, as sent
	LevelIDC        uint8 // level times ten: 31 is level 3.1
	ChromaFormatIDC uint8 // 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4
	BitDepthLuma    uint8 // bits per luma sample, 8 for browsers
	BitDepthChroma  uint8 // bits per chroma sample
	// Width and Height are the displayed picture size, after frame cropping.
	Width, Height int
	// FrameMbsOnly is false for streams that may code fields (interlaced).
	FrameMbsOnly bool
}

// BrowserSafe reports whether browsers' WebRTC decoders can be expected to
// take the stream: 8-bit 4:2:0 in baseline, main or high profile. Cameras
// left on High 4:4:4 or 10-bit give a black video element otherwise.
func (s SPS) BrowserSafe() bool {
	switch s.ProfileIDC {
	case 66, 77, 100:
	default:
		return false
	}
	return s.ChromaFormatIDC == 1 && s.BitDepthLuma == 8 && s.BitDepthChroma == 8
}

// ParseSPS reads a sequence parameter set NAL unit (with its header byte,
// no start code) as in ITU-T H.264 §7.3.2.1.1. It removes
// emulation-prevention bytes, skips high-profile scaling lists, and applies
// frame cropping to Width and Height. Parsing stops after the cropping
// fields: VUI is not read. Input of any shape gives an error, never a panic.
func ParseSPS(nalu []byte) (SPS, error) {
	if len(nalu) < 4 {
		return SPS{}, fmt.Errorf("%w: %d bytes", ErrInvalidSPS, len(nalu))
	}
	if t := NALType(nalu); t != NALSPS {
		return SPS{}, fmt.Errorf("%w: NAL unit type %d", ErrInvalidSPS, t)
	}
	r := bitReader{b: nalu[1:]}
	s := SPS{
		ProfileIDC:      uint8(r.bits(8)),
		ConstraintFlags: uint8(r.bits(8)),
		LevelIDC:        uint8(r.bits(8)),
		ChromaFormatIDC: 1,
		BitDepthLuma:    8,
		BitDepthChroma:  8,
	}
	if id := r.ue(); id > 31 {
		return SPS{}, fmt.Errorf("%w: seq_parameter_set_id %d", ErrInvalidSPS, id)
	}
	separatePlanes := false
	if hasChromaInfo(s.ProfileIDC) {
		cf := r.ue()
		if cf > 3 {
			return SPS{}, fmt.Errorf("%w: chroma_format_idc %d", ErrInvalidSPS, cf)
		}
		s.ChromaFormatIDC = uint8(cf)
		if cf == 3 {
			separatePlanes = r.flag()
		}
		luma, chroma := r.ue(), r.ue()
		if luma > 6 || chroma > 6 {
			return SPS{}, fmt.Errorf("%w: bit depth %d/%d", ErrInvalidSPS, luma+8, chroma+8)
		}
		s.BitDepthLuma, s.BitDepthChroma = uint8(luma+8), uint8(chroma+8)
		r.flag() // qpprime_y_zero_transform_bypass_flag
		if r.flag() {
			lists := 8
			if cf == 3 {
				lists = 12
			}
			for i := range lists {
				if !r.flag() {
					continue
				}
				size := 16
				if i >= 6 {
					size = 64
				}
				r.skipScalingList(size)
			}
		}
	}
	if v := r.ue(); v > 12 {
		return SPS{}, fmt.Errorf("%w: log2_max_frame_num_minus4 %d", ErrInvalidSPS, v)
	}
	switch poc := r.ue(); poc {
	case 0:
		if v := r.ue(); v > 12 {
			return SPS{}, fmt.Errorf("%w: log2_max_pic_order_cnt_lsb_minus4 %d", ErrInvalidSPS, v)
		}
	case 1:
		r.flag() // delta_pic_order_always_zero_flag
		r.se()   // offset_for_non_ref_pic
		r.se()   // offset_for_top_to_bottom_field
		n := r.ue()
		if n > 255 {
			return SPS{}, fmt.Errorf("%w: num_ref_frames_in_pic_order_cnt_cycle %d", ErrInvalidSPS, n)
		}
		for range n {
			r.se() // offset_for_ref_frame
		}
	case 2:
	default:
		return SPS{}, fmt.Errorf("%w: pic_order_cnt_type %d", ErrInvalidSPS, poc)
	}
	r.ue()   // max_num_ref_frames
	r.flag() // gaps_in_frame_num_value_allowed_flag
	widthMbs := uint64(r.ue()) + 1
	heightMapUnits := uint64(r.ue()) + 1
	s.FrameMbsOnly = r.flag()
	if !s.FrameMbsOnly {
		r.flag() // mb_adaptive_frame_field_flag
	}
	r.flag() // direct_8x8_inference_flag
	var cropL, cropR, cropT, cropB uint64
	if r.flag() {
		cropL, cropR, cropT, cropB = uint64(r.ue()), uint64(r.ue()), uint64(r.ue()), uint64(r.ue())
	}
	if r.err {
		return SPS{}, fmt.Errorf("%w: truncated", ErrInvalidSPS)
	}

	// Crop units per §7.4.2.1.1: chroma subsampling and field coding scale
	// the crop offsets.
	fieldFactor := uint64(2)
	if s.FrameMbsOnly {
		fieldFactor = 1
	}
	unitX, unitY := uint64(1), fieldFactor
	if !separatePlanes {
		switch s.ChromaFormatIDC {
		case 1:
			unitX, unitY = 2, 2*fieldFactor
		case 2:
			unitX = 2
		}
	}
	w := widthMbs * 16
	h := heightMapUnits * fieldFactor * 16
	if w > maxDimension || h > maxDimension {
		return SPS{}, fmt.Errorf("%w: coded size %dx%d", ErrInvalidSPS, w, h)
	}
	// Offsets come from ue() (at most 32 bits), so these products fit.
	cx, cy := unitX*(cropL+cropR), unitY*(cropT+cropB)
	if cx >= w || cy >= h {
		return SPS{}, fmt.Errorf("%w: cropping %d,%d of %dx%d", ErrInvalidSPS, cx, cy, w, h)
	}
	s.Width, s.Height = int(w-cx), int(h-cy)
	return s, nil
}

// hasChromaInfo reports the profiles whose SPS carries chroma_format_idc and
// the fields after it (§7.3.2.1.1).
func hasChromaInfo(profile uint8) bool {
	switch profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		return true
	}
	return false
}

// ProfileLevelID returns the SDP profile-level-id ("42e01f" style) from an
// SPS NAL unit: the hex of its bytes 1 to 3. It returns "" when sps is
// shorter than 4 bytes or not an SPS.
func ProfileLevelID(sps []byte) string {
	if len(sps) < 4 || NALType(sps) != NALSPS {
		return ""
	}
	return hex.EncodeToString(sps[1:4])
}

// bitReader reads an RBSP straight from NAL unit bytes, skipping
// emulation-prevention bytes as it goes so no unescaped copy is needed.
// Reading past the end sets err and yields zeros, so parsers check once at
// the end instead of after every field.
type bitReader struct {
	b     []byte
	pos   int  // next byte of b
	zeros int  // zero bytes just read, to spot 0x000003
	cur   byte // byte being read
	left  uint // bits left in cur
	err   bool
}

func (r *bitReader) bit() uint32 {
	if r.left == 0 {
		if r.pos >= len(r.b) {
			r.err = true
			return 0
		}
		c := r.b[r.pos]
		r.pos++
		if r.zeros >= 2 && c == 3 {
			r.zeros = 0
			if r.pos >= len(r.b) {
				r.err = true
				return 0
			}
			c = r.b[r.pos]
			r.pos++
		}
		if c == 0 {
			r.zeros++
		} else {
			r.zeros = 0
		}
		r.cur, r.left = c, 8
	}
	r.left--
	return uint32(r.cur>>r.left) & 1
}

func (r *bitReader) flag() bool { return r.bit() == 1 }

// bits reads n ≤ 32 bits, most significant first.
func (r *bitReader) bits(n int) uint32 {
	var v uint32
	for range n {
		v = v<<1 | r.bit()
	}
	return v
}

// ue reads an unsigned Exp-Golomb code (§9.1). Codes longer than 32 bits
// are invalid in an SPS and set err.
func (r *bitReader) ue() uint32 {
	zeros := 0
	for r.bit() == 0 {
		if r.err || zeros == 31 {
			r.err = true
			return 0
		}
		zeros++
	}
	return (1<<zeros - 1) + r.bits(zeros)
}

// se reads a signed Exp-Golomb code (§9.1.1).
func (r *bitReader) se() int32 {
	k := r.ue()
	if k&1 == 1 {
		return int32(k/2 + 1)
	}
	return -int32(k / 2)
}

// skipScalingList reads past a scaling_list() (§7.3.2.1.1.1); the values
// matter only to the decoder.
func (r *bitReader) skipScalingList(size int) {
	last, next := int32(8), int32(8)
	for range size {
		if next != 0 {
			delta := r.se()
			if delta < -128 || delta > 127 {
				r.err = true
				return
			}
			next = (last + delta + 256) % 256
		}
		if next != 0 {
			last = next
		}
		if r.err {
			return
		}
	}
}
