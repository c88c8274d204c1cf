package h264

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// ParseSpropParameterSets decodes the SPS and PPS from an SDP fmtp
// sprop-parameter-sets value (RFC 6184 §8.1). s may be the bare value
// ("Z0IAH...,aM4..."), the "sprop-parameter-sets=..." parameter, or the
// whole fmtp parameter list. Sets are told apart by NAL unit type, not by
// position; when several of a kind are listed the first wins. Both an SPS
// and a PPS must be present. The returned slices are freshly allocated.
func ParseSpropParameterSets(s string) (sps, pps []byte, err error) {
	value := s
	// '-' is not in the base64 alphabet, so a bare value never holds the key.
	if i := indexFold(s, spropKey); i >= 0 {
		rest := strings.TrimLeft(s[i+len(spropKey):], " \t")
		v, ok := strings.CutPrefix(rest, "=")
		if !ok {
			return nil, nil, fmt.Errorf("%w: no value in %q", ErrInvalidSprop, trimForError(s))
		}
		value, _, _ = strings.Cut(v, ";")
	}
	for i, part := range strings.Split(value, ",") {
		// Cameras differ on padding; decoding unpadded accepts both.
		part = strings.TrimRight(strings.TrimSpace(part), "=")
		if part == "" {
			continue
		}
		nalu, derr := base64.RawStdEncoding.DecodeString(part)
		if derr != nil {
			return nil, nil, fmt.Errorf("%w: set %d: %w", ErrInvalidSprop, i, derr)
		}
		switch NALType(nalu) {
		case NALSPS:
			if sps == nil {
				sps = nalu
			}
		case NALPPS:
			if pps == nil {
				pps = nalu
			}
		}
	}
	switch {
	case sps == nil:
		return nil, nil, fmt.Errorf("%w: no SPS", ErrInvalidSprop)
	case pps == nil:
		return nil, nil, fmt.Errorf("%w: no PPS", ErrInvalidSprop)
	}
	return sps, pps, nil
}

const spropKey = "sprop-parameter-sets"

// indexFold finds the lower-case key in s ignoring ASCII case.
// strings.ToLower would not do: it changes the length of invalid UTF-8, and
// offsets into the lowered copy then miss in s.
func indexFold(s, key string) int {
	for i := 0; i+len(key) <= len(s); i++ {
		j := 0
		for ; j < len(key); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != key[j] {
				break
			}
		}
		if j == len(key) {
			return i
		}
	}
	return -1
}

// trimForError keeps error messages short when a camera sends a huge fmtp.
func trimForError(s string) string {
	const limit = 80
	if len(s) > limit {
		return s[:limit] + "..."
	}
	return s
}

// WithParameterSets returns au with sps and pps put in front of its slices
// when it is a keyframe that lacks them, for cameras that send parameter
// sets only in the SDP: a browser that joins at that keyframe cannot decode
// it otherwise. A leading access unit delimiter stays first. Non-keyframes,
// and keyframes that already carry both, come back unchanged. When NAL units
// are added the result has a new NALUs slice that shares the NAL unit bytes
// with au, sps and pps; au's own slice is never written to.
func WithParameterSets(au AccessUnit, sps, pps []byte) AccessUnit {
	if !au.Keyframe {
		return au
	}
	hasSPS, hasPPS := false, false
	lastSPS := -1
	for i, n := range au.NALUs {
		switch NALType(n) {
		case NALSPS:
			hasSPS, lastSPS = true, i
		case NALPPS:
			hasPPS = true
		}
	}
	addSPS := !hasSPS && len(sps) > 0
	addPPS := !hasPPS && len(pps) > 0
	if !addSPS && !addPPS {
		return au
	}
	// Put the SPS after a leading AUD, and the PPS after the last SPS, so a
	// decoder always meets an SPS before the PPS that refers to it.
	at := 0
	if len(au.NALUs) > 0 && NALType(au.NALUs[0]) == NALAUD {
		at = 1
	}
	ppsAt := at
	if hasSPS {
		ppsAt = lastSPS + 1
	}
	out := make([][]byte, 0, len(au.NALUs)+2)
	for i, n := range au.NALUs {
		if i == at && addSPS {
			out = append(out, sps)
		}
		if i == ppsAt && addPPS {
			out = append(out, pps)
		}
		out = append(out, n)
	}
	if len(au.NALUs) <= at && addSPS {
		out = append(out, sps)
	}
	if len(au.NALUs) <= ppsAt && addPPS {
		out = append(out, pps)
	}
	au.NALUs = out
	return au
}
