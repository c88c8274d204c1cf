// Package callsdp reads and writes the SDP of phone calls: where a phone
// wants its audio, in which codecs, whether it holds the call, and the
// SDP civicd sends back with its relay's address. Phones offer G.711
// (PCMU, PCMA) and G.722, and RFC 4733 telephone-events for keys; civicd
// does not transcode, so a call needs a codec both phones have.
package callsdp

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// Errors, for the SIP side to answer: ErrBadSDP with 400, ErrNoCodec
// with 488 Not Acceptable Here.
var (
	ErrBadSDP  = errors.New("the SDP is not valid")
	ErrNoCodec = errors.New("no common audio codec")
)

// Codec is one audio payload format.
type Codec struct {
	PT   uint8
	Name string // PCMU, PCMA, G722 (as in the rtpmap, upper case)
	Rate int    // the RTP clock rate
}

// Static payload types of RFC 3551, for offers that leave out the rtpmap.
var static = map[uint8]Codec{0: {0, "PCMU", 8000}, 8: {8, "PCMA", 8000}, 9: {9, "G722", 8000}}

// Supported are the codecs civicd relays, in its order of preference.
var Supported = []string{"G722", "PCMU", "PCMA"}

// Directions of a media section (RFC 3264 §5.1).
const (
	SendRecv = "sendrecv"
	SendOnly = "sendonly"
	RecvOnly = "recvonly"
	Inactive = "inactive"
)

// Media is a phone's audio description.
type Media struct {
	// Addr is where the phone receives RTP; its address is unspecified
	// (0.0.0.0) in an old-style hold.
	Addr netip.AddrPort
	// Codecs the phone offers or took, in its order (telephone-event not
	// included).
	Codecs []Codec
	// EventPT is the RFC 4733 telephone-event payload type, or -1.
	EventPT int
	// Direction is sendrecv, sendonly, recvonly or inactive.
	Direction string
}

// OnHold reports whether the phone put the call on hold: it will not
// send, or wants nothing sent (RFC 3264 §8.4, and the 0.0.0.0 of RFC 2543).
func (m Media) OnHold() bool {
	return m.Direction == SendOnly || m.Direction == Inactive || (m.Addr.Addr().IsValid() && m.Addr.Addr().IsUnspecified())
}

// Parse reads the first audio section of an SDP body.
func Parse(body []byte) (Media, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(string(body)); err != nil {
		return Media{}, fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	var md *sdp.MediaDescription
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media == "audio" && m.MediaName.Port.Value != 0 {
			md = m
			break
		}
	}
	if md == nil {
		return Media{}, fmt.Errorf("%w: no audio section with a port", ErrBadSDP)
	}
	conn := md.ConnectionInformation
	if conn == nil {
		conn = sd.ConnectionInformation
	}
	if conn == nil || conn.Address == nil {
		return Media{}, fmt.Errorf("%w: no connection address (c=)", ErrBadSDP)
	}
	if conn.NetworkType != "IN" || (conn.AddressType != "IP4" && conn.AddressType != "IP6") {
		return Media{}, fmt.Errorf("%w: connection %s %s is not IN IP4 or IP6", ErrBadSDP, conn.NetworkType, conn.AddressType)
	}
	ip, err := netip.ParseAddr(strings.SplitN(conn.Address.Address, "/", 2)[0])
	if err != nil {
		return Media{}, fmt.Errorf("%w: connection address %q is not an IP address", ErrBadSDP, conn.Address.Address)
	}
	port := md.MediaName.Port.Value
	if port <= 0 || port > 65535 {
		return Media{}, fmt.Errorf("%w: audio port %d", ErrBadSDP, port)
	}
	m := Media{Addr: netip.AddrPortFrom(ip, uint16(port)), EventPT: -1, Direction: SendRecv}
	for _, a := range sd.Attributes {
		if isDirection(a.Key) {
			m.Direction = a.Key // session level; a media-level one wins below
		}
	}
	rtpmap := map[uint8]Codec{}
	for _, a := range md.Attributes {
		switch {
		case isDirection(a.Key):
			m.Direction = a.Key
		case a.Key == "rtpmap":
			// "0 PCMU/8000", "101 telephone-event/8000"
			ptText, enc, ok := strings.Cut(a.Value, " ")
			pt, err := strconv.ParseUint(ptText, 10, 7)
			if !ok || err != nil {
				return Media{}, fmt.Errorf("%w: rtpmap %q", ErrBadSDP, a.Value)
			}
			parts := strings.Split(enc, "/")
			rate, _ := strconv.Atoi(parts[len(parts)-1])
			if len(parts) < 2 || rate <= 0 {
				return Media{}, fmt.Errorf("%w: rtpmap %q", ErrBadSDP, a.Value)
			}
			rtpmap[uint8(pt)] = Codec{PT: uint8(pt), Name: strings.ToUpper(parts[0]), Rate: rate}
		}
	}
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			return Media{}, fmt.Errorf("%w: payload type %q", ErrBadSDP, f)
		}
		c, ok := rtpmap[uint8(pt)]
		if !ok {
			c, ok = static[uint8(pt)]
		}
		switch {
		case !ok:
			continue // a dynamic type without rtpmap: unusable
		case c.Name == "TELEPHONE-EVENT":
			if c.Rate == 8000 && m.EventPT < 0 {
				m.EventPT = int(c.PT)
			}
		default:
			m.Codecs = append(m.Codecs, c)
		}
	}
	return m, nil
}

func isDirection(k string) bool {
	return k == SendRecv || k == SendOnly || k == RecvOnly || k == Inactive
}

// Relayable are the codecs of an offer that civicd can relay, in the
// offer's order.
func Relayable(offered []Codec) []Codec {
	return slices.DeleteFunc(slices.Clone(offered), func(c Codec) bool {
		return !slices.Contains(Supported, c.Name) || c.Rate != 8000
	})
}

// Common returns the first codec of answer that offer also has (by name),
// with the offer's payload type, which is the one the offerer expects.
func Common(offer, answer []Codec) (Codec, error) {
	for _, a := range answer {
		for _, o := range offer {
			if o.Name == a.Name && o.Rate == a.Rate && slices.Contains(Supported, o.Name) {
				return o, nil
			}
		}
	}
	return Codec{}, ErrNoCodec
}

// Session is what civicd puts in its own SDP.
type Session struct {
	ID, Version uint64 // o= session id and version (bump it on each change)
	Addr        netip.AddrPort
	Codecs      []Codec
	EventPT     int // -1 for none
	Direction   string
}

// Marshal writes the SDP: one audio section at the relay's address.
func (s Session) Marshal() []byte {
	ipv := "IP4"
	if s.Addr.Addr().Is6() && !s.Addr.Addr().Is4In6() {
		ipv = "IP6"
	}
	ip := s.Addr.Addr().Unmap().String()
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=civicd %d %d IN %s %s\r\ns=civicd\r\nc=IN %s %s\r\nt=0 0\r\n", s.ID, s.Version, ipv, ip, ipv, ip)
	fmts := make([]string, 0, len(s.Codecs)+1)
	for _, c := range s.Codecs {
		fmts = append(fmts, strconv.Itoa(int(c.PT)))
	}
	if s.EventPT >= 0 {
		fmts = append(fmts, strconv.Itoa(s.EventPT))
	}
	fmt.Fprintf(&b, "m=audio %d RTP/AVP %s\r\n", s.Addr.Port(), strings.Join(fmts, " "))
	for _, c := range s.Codecs {
		fmt.Fprintf(&b, "a=rtpmap:%d %s/%d\r\n", c.PT, c.Name, c.Rate)
	}
	if s.EventPT >= 0 {
		fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-16\r\n", s.EventPT, s.EventPT)
	}
	dir := s.Direction
	if dir == "" {
		dir = SendRecv
	}
	fmt.Fprintf(&b, "a=ptime:20\r\na=%s\r\n", dir)
	return []byte(b.String())
}

// Answer returns the direction that answers offered (RFC 3264 §6.1):
// sendonly is answered recvonly and the other way round.
func Answer(offered string) string {
	switch offered {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	case Inactive:
		return Inactive
	}
	return SendRecv
}
