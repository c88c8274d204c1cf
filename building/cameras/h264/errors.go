package h264

import "errors"

// Sentinel errors; returned errors wrap one of these with context, so test
// them with errors.Is.
var (
	// ErrPacketLoss reports a gap in RTP sequence numbers. The access unit
	// being assembled was dropped; a viewer now needs a keyframe (send a PLI).
	ErrPacketLoss = errors.New("h264: packet loss")
	// ErrTooLarge reports an access unit over the Assembler's limit; it was
	// dropped.
	ErrTooLarge = errors.New("h264: access unit too large")
	// ErrMalformed reports an RTP payload that breaks RFC 6184.
	ErrMalformed = errors.New("h264: malformed RTP payload")
	// ErrUnsupported reports a packetization other than packetization-mode 1
	// (STAP-B, MTAP16, MTAP24, FU-B).
	ErrUnsupported = errors.New("h264: unsupported packetization")
	// ErrInvalidSPS reports a sequence parameter set that cannot be parsed.
	ErrInvalidSPS = errors.New("h264: invalid SPS")
	// ErrInvalidSprop reports an unusable sprop-parameter-sets value.
	ErrInvalidSprop = errors.New("h264: invalid sprop-parameter-sets")
)

// errNoStart marks a FU-A continuation with no start fragment before it. A
// stream joined mid-frame begins that way, so the Assembler discards it
// without reporting an error.
var errNoStart = errors.New("h264: FU-A fragment without start")
