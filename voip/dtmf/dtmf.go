// Package dtmf reads the keys a phone's user presses, in both forms
// phones send them: RFC 4733 telephone-event codes in the RTP stream, and
// SIP INFO bodies (application/dtmf-relay, as Cisco and most desk phones
// send, and application/dtmf). Door stations' unlock codes and the meeting
// PIN prompt both come through here.
package dtmf

import (
	"errors"
	"fmt"
	"mime"
	"strings"
)

// ErrNotDTMF means an INFO body carried no key.
var ErrNotDTMF = errors.New("not a DTMF key")

// FromEvent maps an RFC 4733 event code (0-15) to its key: 0-9, *, #, A-D.
func FromEvent(code byte) (rune, bool) {
	switch {
	case code <= 9:
		return rune('0' + code), true
	case code == 10:
		return '*', true
	case code == 11:
		return '#', true
	case code >= 12 && code <= 15:
		return rune('A' + code - 12), true
	}
	return 0, false
}

// ToEvent maps a key (0-9, *, #, A-D) to its RFC 4733 event code.
func ToEvent(key rune) (byte, bool) {
	switch {
	case key >= '0' && key <= '9':
		return byte(key - '0'), true
	case key == '*':
		return 10, true
	case key == '#':
		return 11, true
	case key >= 'A' && key <= 'D':
		return byte(key-'A') + 12, true
	}
	return 0, false
}

// FromInfo reads the key of a SIP INFO request from its Content-Type and
// body:
//
//	application/dtmf-relay:  "Signal=5\r\nDuration=160\r\n"
//	application/dtmf:        "5"
func FromInfo(contentType string, body []byte) (rune, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return 0, fmt.Errorf("%w: content type %q", ErrNotDTMF, contentType)
	}
	var key string
	switch mt {
	case "application/dtmf-relay":
		for _, line := range strings.Split(string(body), "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "signal") {
				key = strings.TrimSpace(v)
				break
			}
		}
	case "application/dtmf":
		key = strings.TrimSpace(string(body))
	default:
		return 0, fmt.Errorf("%w: content type %s", ErrNotDTMF, mt)
	}
	if len(key) != 1 {
		// Some phones send the event code ("10" for *, "11" for #).
		switch key {
		case "10":
			return '*', nil
		case "11":
			return '#', nil
		}
		return 0, fmt.Errorf("%w: signal %q", ErrNotDTMF, key)
	}
	k := rune(strings.ToUpper(key)[0])
	switch {
	case k >= '0' && k <= '9', k == '*', k == '#', k >= 'A' && k <= 'D':
		return k, nil
	}
	return 0, fmt.Errorf("%w: signal %q", ErrNotDTMF, key)
}
