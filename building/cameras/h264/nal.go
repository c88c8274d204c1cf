package h264

// NAL unit types this package acts on (ITU-T H.264 Table 7-1, RFC 6184
// Table 1 for 24 and up).
const (
	NALSlice = 1  // coded slice of a non-IDR picture
	NALIDR   = 5  // coded slice of an IDR picture: a keyframe
	NALSEI   = 6  // supplemental enhancement information
	NALSPS   = 7  // sequence parameter set
	NALPPS   = 8  // picture parameter set
	NALAUD   = 9  // access unit delimiter
	NALSTAPA = 24 // RTP single-time aggregation packet
	NALFUA   = 28 // RTP fragmentation unit

	nalSTAPB  = 25
	nalMTAP16 = 26
	nalMTAP24 = 27
	nalFUB    = 29
)

// NALType returns the nal_unit_type of nalu (its first byte's low 5 bits),
// or 0 for an empty slice.
func NALType(nalu []byte) uint8 {
	if len(nalu) == 0 {
		return 0
	}
	return nalu[0] & 0x1f
}

// AccessUnit is one picture's NAL units (no start codes), with its RTP
// timestamp (90 kHz).
type AccessUnit struct {
	// NALUs are the NAL units in decoding order, each with its header byte.
	NALUs [][]byte
	// Timestamp is the RTP timestamp on a 90 kHz clock.
	Timestamp uint32
	// Keyframe is set when the access unit holds an IDR slice.
	Keyframe bool
}

// Size returns the total bytes of the access unit's NAL units.
func (au AccessUnit) Size() int {
	n := 0
	for _, nalu := range au.NALUs {
		n += len(nalu)
	}
	return n
}

// carriable reports whether a NAL unit of type t can travel in RFC 6184
// packets: 0 and 24..31 are unspecified in H.264 and are taken by the RTP
// payload format itself, so a receiver could not tell them from its own
// packet types.
func carriable(t uint8) bool {
	return t >= 1 && t <= 23
}
