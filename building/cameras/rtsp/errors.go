package rtsp

import (
	"errors"
	"fmt"
)

// The package's errors. Each error Open, Describe or Play returns wraps
// one of these, a *StatusError, a context error or a network error, so
// callers sort failures with errors.Is and errors.As.
var (
	// ErrAuth means the server refused us: a 401 after credentials were
	// sent, a 401 when we have none, or a challenge we cannot answer.
	ErrAuth = errors.New("rtsp: auth failed")
	// ErrNoVideo means the SDP has no video media.
	ErrNoVideo = errors.New("rtsp: SDP has no video")
	// ErrStalled means no RTP arrived for Options.Timeout while playing.
	ErrStalled = errors.New("rtsp: stream stalled")
	// ErrMalformed wraps every parse error of what the server sent:
	// responses, SDP, Transport and Session headers, interleaved frames.
	ErrMalformed = errors.New("rtsp: malformed response")
	// ErrPacketTooLarge means the server sent an RTP or RTCP packet
	// bigger than Options.MaxPacket. Such errors match ErrMalformed too:
	// for a caller sorting failures, a giant packet is a bad stream.
	ErrPacketTooLarge = errors.New("rtsp: packet larger than MaxPacket")
	// ErrClosed is what Play returns once Close was called, and what
	// Play returns when called on a closed or already played Session.
	ErrClosed = errors.New("rtsp: session closed")
)

// StatusError is a non-2xx answer other than the 401 that ErrAuth covers.
type StatusError struct {
	Code   int    // status code, e.g. 404
	Reason string // reason phrase as the server sent it
	Method string // the request it answered, e.g. "DESCRIBE"
}

// Error reads like "rtsp: DESCRIBE: 404 Not Found".
func (e *StatusError) Error() string {
	return fmt.Sprintf("rtsp: %s: %d %s", e.Method, e.Code, e.Reason)
}

// malformed wraps a parse error in ErrMalformed.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// snippet quotes at most 40 bytes of untrusted input for an error
// message, so a hostile server cannot flood our logs.
func snippet(b []byte) string {
	if len(b) > 40 {
		return fmt.Sprintf("%q...", b[:40])
	}
	return fmt.Sprintf("%q", b)
}

// tooLarge is a packet over MaxPacket; see ErrPacketTooLarge.
type tooLarge struct {
	size  string // "65535 bytes", or "a datagram over 64000 bytes" when cut
	limit int
}

func (e *tooLarge) Error() string {
	return fmt.Sprintf("%v: %s, limit %d", ErrPacketTooLarge, e.size, e.limit)
}

// Is makes the error match both ErrPacketTooLarge and ErrMalformed.
func (e *tooLarge) Is(target error) bool {
	return target == ErrPacketTooLarge || target == ErrMalformed
}

// errTooLarge reports a packet of n bytes over the limit.
func errTooLarge(n, limit int) error {
	return &tooLarge{size: fmt.Sprintf("%d bytes", n), limit: limit}
}
