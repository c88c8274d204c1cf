package h264

import "bytes"

var startCode = []byte{0, 0, 1}

// SplitAnnexB splits an Annex B byte stream into NAL units without their 3-
// or 4-byte start codes. Bytes before the first start code are not a NAL
// unit and are skipped; trailing zero bytes (the zero_byte of a following
// 4-byte start code, or trailing_zero_8bits) are trimmed, and empty units
// are left out. The NAL units alias b.
func SplitAnnexB(b []byte) [][]byte {
	i := bytes.Index(b, startCode)
	if i < 0 {
		return nil
	}
	var nalus [][]byte
	b = b[i+len(startCode):]
	for len(b) > 0 {
		end := bytes.Index(b, startCode)
		next := end + len(startCode)
		if end < 0 {
			end, next = len(b), len(b)
		}
		nalu := b[:end]
		for len(nalu) > 0 && nalu[len(nalu)-1] == 0 {
			nalu = nalu[:len(nalu)-1]
		}
		if len(nalu) > 0 {
			nalus = append(nalus, nalu[:len(nalu):len(nalu)])
		}
		b = b[next:]
	}
	return nalus
}

// AccessUnitsFromAnnexB splits an Annex B byte stream into access units with
// timestamps 90000/fps apart, starting at 0, as a test clip stands in for a
// camera. A new access unit starts at an access unit delimiter, at a slice
// whose first_mb_in_slice is 0 after a slice, or at an SEI, SPS, PPS or
// prefix NAL unit after a slice (§7.4.1.2.3). fps below 1 is taken as 30.
// The NAL units alias b.
func AccessUnitsFromAnnexB(b []byte, fps int) []AccessUnit {
	if fps < 1 {
		fps = 30
	}
	var aus []AccessUnit
	var cur AccessUnit
	sawSlice := false
	flush := func() {
		if len(cur.NALUs) > 0 {
			// Computed from the index, not summed, so rates that do not
			// divide 90000 do not drift.
			cur.Timestamp = uint32(uint64(len(aus)) * 90000 / uint64(fps))
			aus = append(aus, cur)
		}
		cur = AccessUnit{}
		sawSlice = false
	}
	for _, n := range SplitAnnexB(b) {
		t := NALType(n)
		switch {
		case t == NALAUD:
			flush()
		case sawSlice && (t == NALSEI || t == NALSPS || t == NALPPS || (t >= 14 && t <= 18)):
			flush()
		case sawSlice && hasSliceHeader(t) && firstMbIsZero(n):
			flush()
		}
		cur.NALUs = append(cur.NALUs, n)
		if t >= NALSlice && t <= NALIDR {
			sawSlice = true
		}
		if t == NALIDR {
			cur.Keyframe = true
		}
	}
	flush()
	return aus
}

// hasSliceHeader reports NAL unit types that begin with a slice header:
// partitions B and C (3, 4) start with slice_id instead.
func hasSliceHeader(t uint8) bool {
	return t == NALSlice || t == 2 || t == NALIDR
}

// firstMbIsZero reports whether the slice header's first_mb_in_slice,
// ue(v) and the first field, is 0: coded as a single 1 bit. An escape
// byte cannot come this early, since the header byte is never zero.
func firstMbIsZero(nalu []byte) bool {
	return len(nalu) > 1 && nalu[1]&0x80 != 0
}
