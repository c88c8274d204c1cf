package callsdp

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func crlf(s string) []byte {
	return []byte(strings.ReplaceAll(strings.TrimSpace(s), "\n", "\r\n") + "\r\n")
}

// A baresip offer, and a desk phone's with static G.722 (no rtpmap) and a
// G.729 that civicd does not relay.
var (
	baresipOffer = crlf(`v=0
o=- 1190 2710 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 10004 RTP/AVP 0 8 101
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv
a=ptime:20`)
	deskOffer = crlf(`v=0
o=- 20013 20013 IN IP4 192.168.1.23
s=SDP data
c=IN IP4 192.168.1.23
t=0 0
m=audio 11780 RTP/AVP 9 18 0 8 101
a=rtpmap:18 G729/8000
a=fmtp:18 annexb=no
a=rtpmap:101 telephone-event/8000
a=ptime:20`)
)

func TestParseOffers(t *testing.T) {
	m, err := Parse(baresipOffer)
	if err != nil {
		t.Fatal(err)
	}
	if m.Addr != netip.MustParseAddrPort("127.0.0.1:10004") || m.EventPT != 101 || m.Direction != SendRecv || m.OnHold() {
		t.Fatalf("baresip offer read as %+v", m)
	}
	if names(m.Codecs) != "PCMU PCMA" {
		t.Fatalf("codecs %s", names(m.Codecs))
	}
	m, err = Parse(deskOffer)
	if err != nil {
		t.Fatal(err)
	}
	if names(m.Codecs) != "G722 G729 PCMU PCMA" || names(Relayable(m.Codecs)) != "G722 PCMU PCMA" {
		t.Fatalf("desk phone codecs %s, relayable %s", names(m.Codecs), names(Relayable(m.Codecs)))
	}
}

func names(cs []Codec) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return strings.Join(out, " ")
}

func TestHold(t *testing.T) {
	sendonly := []byte(strings.Replace(string(baresipOffer), "a=sendrecv", "a=sendonly", 1))
	oldStyle := []byte(strings.Replace(string(baresipOffer), "c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0", 1))
	inactive := []byte(strings.Replace(string(baresipOffer), "a=sendrecv", "a=inactive", 1))
	for name, body := range map[string][]byte{"sendonly": sendonly, "c=0.0.0.0": oldStyle, "inactive": inactive} {
		m, err := Parse(body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !m.OnHold() {
			t.Errorf("%s: not on hold", name)
		}
	}
	if Answer(SendOnly) != RecvOnly || Answer(RecvOnly) != SendOnly || Answer(Inactive) != Inactive || Answer(SendRecv) != SendRecv {
		t.Error("directions are not answered per RFC 3264")
	}
}

func TestBrokenSDP(t *testing.T) {
	for name, body := range map[string]string{
		"garbage":        "hello",
		"no audio":       "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\n",
		"rejected audio": "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n",
		"no c=":          "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n",
		"host name":      "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 phone.example\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n",
		"bad rtpmap":     "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5000 RTP/AVP 96\r\na=rtpmap:96 opus\r\n",
	} {
		if _, err := Parse([]byte(body)); !errors.Is(err, ErrBadSDP) {
			t.Errorf("%s: %v, want ErrBadSDP", name, err)
		}
	}
}

func TestCommonCodec(t *testing.T) {
	offer := []Codec{{0, "PCMU", 8000}, {8, "PCMA", 8000}}
	c, err := Common(offer, []Codec{{8, "PCMA", 8000}})
	if err != nil || c.Name != "PCMA" || c.PT != 8 {
		t.Fatalf("common codec %+v, %v", c, err)
	}
	if _, err := Common(offer, []Codec{{18, "G729", 8000}}); !errors.Is(err, ErrNoCodec) {
		t.Fatalf("no common codec: %v, want ErrNoCodec", err)
	}
}

func TestMarshalReadsBack(t *testing.T) {
	s := Session{ID: 42, Version: 3, Addr: netip.MustParseAddrPort("127.0.0.1:31000"), Codecs: []Codec{{9, "G722", 8000}, {0, "PCMU", 8000}}, EventPT: 101, Direction: SendOnly}
	m, err := Parse(s.Marshal())
	if err != nil {
		t.Fatalf("%v\n%s", err, s.Marshal())
	}
	if m.Addr != s.Addr || names(m.Codecs) != "G722 PCMU" || m.EventPT != 101 || m.Direction != SendOnly {
		t.Fatalf("read back %+v from\n%s", m, s.Marshal())
	}
}

func FuzzParse(f *testing.F) {
	f.Add(baresipOffer)
	f.Add(deskOffer)
	f.Add([]byte("v=0\r\nm=audio 1 RTP/AVP 0\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := Parse(body)
		if err == nil && !m.Addr.IsValid() {
			t.Fatalf("parsed without an address: %+v", m)
		}
	})
}
