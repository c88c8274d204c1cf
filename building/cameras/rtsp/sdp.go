package rtsp

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Media is one media section of a camera's SDP.
type Media struct {
	// Type is the m= media type: "video", "audio", "application", ...
	Type string
	// Codec is the upper-case encoding name from a=rtpmap ("H264",
	// "H265", "JPEG", "PCMU"), or from the static payload type table
	// when there is no rtpmap; "" when neither says.
	Codec string
	// PayloadType is the first payload type of the m= line, the one
	// Codec, ClockRate and Fmtp describe.
	PayloadType uint8
	// ClockRate is the RTP clock rate in Hz, 0 when unknown.
	ClockRate int
	// Control is the absolute URL to SETUP this media with.
	Control string
	// Fmtp holds the a=fmtp parameters of PayloadType under lower-case
	// names ("packetization-mode", "sprop-parameter-sets",
	// "profile-level-id"); values are as sent.
	Fmtp map[string]string
}

// SDP limits: a camera offers a handful of media, never hundreds.
const (
	maxMedia      = 64
	maxFmtpParams = 64
)

// staticType returns the codec and clock rate of an RFC 3551 static
// payload type a camera may use without an rtpmap line.
func staticType(pt uint8) (string, int) {
	switch pt {
	case 0:
		return "PCMU", 8000
	case 3:
		return "GSM", 8000
	case 4:
		return "G723", 8000
	case 8:
		return "PCMA", 8000
	case 9:
		return "G722", 8000
	case 10, 11:
		return "L16", 44100
	case 14:
		return "MPA", 90000
	case 15:
		return "G728", 8000
	case 18:
		return "G729", 8000
	case 26:
		return "JPEG", 90000
	case 31:
		return "H261", 90000
	case 32:
		return "MPV", 90000
	case 33:
		return "MP2T", 90000
	case 34:
		return "H263", 90000
	}
	return "", 0
}

// ParseSDP parses a DESCRIBE body into its RTP media, resolving each
// control URL against base (the Content-Base, Content-Location or
// request URL, in that order of preference; RFC 2326 C.1.1). Media that
// are not RTP (a proto without "RTP/") are left out.
//
// We parse SDP ourselves rather than with pion/sdp because cameras send
// SDP that its strict RFC 4566 order rejects: no t= or s= line, a= lines
// before t=, i= after c=. Only the lines a client needs are read; the
// rest are skipped.
func ParseSDP(body []byte, base string) ([]Media, error) {
	ms, _, err := parseSDP(body, base)
	return ms, err
}

// parseSDP is ParseSDP that also returns the aggregate control URL, the
// one PLAY, keepalives and TEARDOWN go to.
func parseSDP(body []byte, base string) ([]Media, string, error) {
	body = bytes.TrimRight(body, "\x00 \t\r\n") // some cameras pad with NULs
	lines := bytes.Split(body, []byte("\n"))
	var (
		medias   []Media
		controls []string // raw a=control per media; "" when absent
		session  string   // session-level a=control
		cur      = -1     // index into medias; -1 before the first m=
		skip     bool     // inside a non-RTP media section
		sawV     bool
	)
	for i, raw := range lines {
		line := bytes.TrimRight(raw, "\r \t")
		if len(line) == 0 {
			continue
		}
		if len(line) < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z' {
			return nil, "", malformed("SDP line %d: %s", i+1, snippet(line))
		}
		if !printable(string(line)) {
			return nil, "", malformed("SDP line %d has control characters", i+1)
		}
		if !sawV && line[0] != 'v' {
			return nil, "", malformed("SDP does not start with v=")
		}
		val := string(line[2:])
		switch line[0] {
		case 'v':
			if sawV {
				return nil, "", malformed("SDP line %d: second v=", i+1)
			}
			sawV = true
		case 'm':
			m, rtp, err := parseMLine(val)
			if err != nil {
				return nil, "", fmt.Errorf("SDP line %d: %w", i+1, err)
			}
			skip = !rtp
			if skip {
				continue
			}
			if len(medias) == maxMedia {
				return nil, "", malformed("SDP has more than %d media", maxMedia)
			}
			medias = append(medias, m)
			controls = append(controls, "")
			cur = len(medias) - 1
		case 'a':
			name, value, _ := strings.Cut(val, ":")
			switch {
			case cur < 0 && !skip && name == "control":
				session = strings.TrimSpace(value)
			case cur < 0 || skip:
			case name == "control":
				controls[cur] = strings.TrimSpace(value)
			case name == "rtpmap":
				if err := parseRtpmap(&medias[cur], value); err != nil {
					return nil, "", fmt.Errorf("SDP line %d: %w", i+1, err)
				}
			case name == "fmtp":
				if err := parseFmtp(&medias[cur], value); err != nil {
					return nil, "", fmt.Errorf("SDP line %d: %w", i+1, err)
				}
			}
		}
	}
	if !sawV {
		return nil, "", malformed("SDP is empty")
	}
	aggregate := base
	if session != "" && session != "*" {
		aggregate = resolveControl(base, session)
	}
	if !urlSafe(aggregate) {
		return nil, "", malformed("SDP session control URL %s", snippet([]byte(aggregate)))
	}
	for i := range medias {
		m := &medias[i]
		m.Control = resolveControl(aggregate, controls[i])
		if !urlSafe(m.Control) {
			return nil, "", malformed("SDP control URL %s", snippet([]byte(m.Control)))
		}
		if m.Codec == "" {
			m.Codec, m.ClockRate = staticType(m.PayloadType)
		}
	}
	return medias, aggregate, nil
}

// parseMLine parses "video 0 RTP/AVP 96 97"; rtp is false for media
// that are not carried over RTP.
func parseMLine(val string) (Media, bool, error) {
	f := strings.Fields(val)
	if len(f) < 4 {
		return Media{}, false, malformed("m= line %s", snippet([]byte(val)))
	}
	if !strings.Contains(strings.ToUpper(f[2]), "RTP/") {
		return Media{}, false, nil
	}
	pt, err := strconv.ParseUint(f[3], 10, 8)
	if err != nil || pt > 127 {
		return Media{}, false, malformed("m= payload type %s", snippet([]byte(f[3])))
	}
	return Media{Type: strings.ToLower(f[0]), PayloadType: uint8(pt)}, true, nil
}

// parseRtpmap parses "96 H264/90000" (or "97 MPEG4-GENERIC/48000/2")
// into m when it describes m's payload type.
func parseRtpmap(m *Media, v string) error {
	ptStr, enc, ok := strings.Cut(strings.TrimSpace(v), " ")
	pt, err := strconv.ParseUint(ptStr, 10, 8)
	if !ok || err != nil || pt > 127 {
		return malformed("rtpmap %s", snippet([]byte(v)))
	}
	if uint8(pt) != m.PayloadType {
		return nil
	}
	parts := strings.Split(strings.TrimSpace(enc), "/")
	if len(parts) < 2 || parts[0] == "" {
		return malformed("rtpmap %s", snippet([]byte(v)))
	}
	rate, err := strconv.Atoi(strings.TrimSpace(parts[1]))
	if err != nil || rate <= 0 || rate > 10_000_000 {
		return malformed("rtpmap clock rate %s", snippet([]byte(parts[1])))
	}
	m.Codec, m.ClockRate = strings.ToUpper(parts[0]), rate
	return nil
}

// parseFmtp parses "96 packetization-mode=1; sprop-parameter-sets=Z0I=,aM4="
// into m.Fmtp when it describes m's payload type. Values may contain '='
// (base64 padding), so each parameter splits at its first '='.
func parseFmtp(m *Media, v string) error {
	ptStr, params, _ := strings.Cut(strings.TrimSpace(v), " ")
	pt, err := strconv.ParseUint(ptStr, 10, 8)
	if err != nil || pt > 127 {
		return malformed("fmtp %s", snippet([]byte(v)))
	}
	if uint8(pt) != m.PayloadType {
		return nil
	}
	if m.Fmtp == nil {
		m.Fmtp = map[string]string{}
	}
	for p := range strings.SplitSeq(params, ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if k == "" {
			continue
		}
		if len(m.Fmtp) == maxFmtpParams {
			return malformed("fmtp has more than %d parameters", maxFmtpParams)
		}
		m.Fmtp[k] = strings.TrimSpace(val)
	}
	return nil
}

// resolveControl turns an a=control value into an absolute URL (RFC 2326
// C.1.1). "*" and "" mean the base itself; a value with a scheme is
// already absolute; "/path" keeps the base's scheme and host. A relative
// value is appended to the base with one '/' between them, not merged as
// RFC 3986 would: cameras mean it that way, and put the base's slash
// after a query ("...realmonitor?channel=1&subtype=0/" + "trackID=0"),
// which RFC 3986 merging would break. ffmpeg and live555 append too.
func resolveControl(base, control string) string {
	switch {
	case control == "" || control == "*":
		return base
	case hasScheme(control):
		return control
	case strings.HasPrefix(control, "/"):
		if i := authorityEnd(base); i >= 0 {
			return base[:i] + control
		}
		return base + control
	case strings.HasSuffix(base, "/"):
		return base + control
	default:
		return base + "/" + control
	}
}

// hasScheme reports whether s starts with an RTSP URL scheme.
func hasScheme(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "rtsp://") || strings.HasPrefix(l, "rtsps://") || strings.HasPrefix(l, "rtspu://")
}

// authorityEnd is the index in an absolute URL where its path (or query)
// starts, len(u) when it has none, or -1 when u has no scheme.
func authorityEnd(u string) int {
	i := strings.Index(u, "://")
	if i < 0 {
		return -1
	}
	if j := strings.IndexAny(u[i+3:], "/?#"); j >= 0 {
		return i + 3 + j
	}
	return len(u)
}

// urlSafe reports whether u can be a request-URI: not empty, no spaces
// or control characters (a CR or LF from hostile SDP would let it add
// header lines to our requests).
func urlSafe(u string) bool {
	if u == "" || len(u) > 4096 {
		return false
	}
	for i := 0; i < len(u); i++ {
		if u[i] <= ' ' || u[i] == 0x7f {
			return false
		}
	}
	return true
}
