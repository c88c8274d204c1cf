package voip

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// request builds a request from the raw phone: method to uri with extra
// headers (each ending in \r\n) and a body.
func (p *rawPhone) request(method, uri, to, extra, body string) string {
	p.cseq++
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%d;rport\r\n", method, uri, p.local, time.Now().UnixNano())
	fmt.Fprintf(&b, "From: <sip:%s@127.0.0.1>;tag=raw\r\nTo: %s\r\nCall-ID: %s-%d\r\nCSeq: %d %s\r\n", p.n, to, p.callID, p.cseq, p.cseq, method)
	fmt.Fprintf(&b, "Contact: <sip:%s@%s>\r\nMax-Forwards: 70\r\n%s", p.n, p.local, extra)
	if body != "" {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return b.String()
}

// final sends msg and returns its final answer, past any 1xx.
func (p *rawPhone) final(msg string) *sip.Response {
	p.t.Helper()
	res := p.exchange(msg)
	for res.StatusCode < 200 {
		res = p.next()
	}
	return res
}

// next reads the next response.
func (p *rawPhone) next() *sip.Response {
	p.t.Helper()
	buf := make([]byte, 65535)
	_ = p.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		n, err := p.c.Read(buf)
		if err != nil {
			p.t.Fatalf("no answer: %v", err)
		}
		m, err := sip.ParseMessage(buf[:n])
		if err != nil {
			p.t.Fatalf("unparsable answer: %v\n%s", err, buf[:n])
		}
		if res, ok := m.(*sip.Response); ok {
			return res
		}
	}
}

// authorized sends an INVITE-like request, answers the 401 with MD5 and
// returns the final answer to the authenticated request.
func (p *rawPhone) authorized(method, uri, to, extra, body string) *sip.Response {
	p.t.Helper()
	res := p.final(p.request(method, uri, to, extra, body))
	if res.StatusCode != 401 {
		p.t.Fatalf("%s without credentials: %d, want 401", method, res.StatusCode)
	}
	var auth string
	for _, h := range res.GetHeaders("WWW-Authenticate") {
		chal, err := digest.ParseChallenge(h.Value())
		if err != nil || chal.Algorithm != "MD5" {
			continue
		}
		cred, err := digest.Digest(chal, digest.Options{Method: method, URI: uri, Username: p.n, Password: p.pw, Count: 1})
		if err != nil {
			p.t.Fatal(err)
		}
		auth = cred.String()
	}
	if auth == "" {
		p.t.Fatalf("no MD5 challenge in %s", res.String())
	}
	return p.final(p.request(method, uri, to, extra+"Authorization: "+auth+"\r\n", body))
}

// sdpOffer is an audio offer with the given m= formats and rtpmap lines.
func sdpOffer(formats, rtpmaps string) string {
	return "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP " + formats + "\r\n" + rtpmaps
}

// TestBadCallInput: each kind of bad input the issue lists gets its SIP
// error, and the service goes on answering.
func TestBadCallInput(t *testing.T) {
	env := newTestService(t, Config{DigestAlgorithms: []string{"MD5"}})
	env.addExtension(t, "1001", "secret1001")
	env.addExtension(t, "1002", "secret1002")
	p := newRawPhone(t, env.s.Addr(), "1001", "secret1001")
	pcmu := sdpOffer("0", "a=rtpmap:0 PCMU/8000\r\n")
	to := func(n string) string { return "<sip:" + n + "@127.0.0.1>" }

	cases := []struct {
		name string
		res  func() *sip.Response
		want int
	}{
		{"INVITE to a number nobody has", func() *sip.Response {
			return p.authorized("INVITE", "sip:1999@127.0.0.1", to("1999"), "", pcmu)
		}, 404},
		{"INVITE to an extension with no phone", func() *sip.Response {
			return p.authorized("INVITE", "sip:1002@127.0.0.1", to("1002"), "", pcmu)
		}, 480},
		{"broken SDP", func() *sip.Response {
			return p.authorized("INVITE", "sip:1002@127.0.0.1", to("1002"), "", "v=0\r\nm=audio banana\r\n")
		}, 400},
		{"no common codec", func() *sip.Response {
			return p.authorized("INVITE", "sip:1002@127.0.0.1", to("1002"), "", sdpOffer("111", "a=rtpmap:111 opus/48000/2\r\n"))
		}, 488},
		{"re-INVITE on an unknown dialog", func() *sip.Response {
			return p.final(p.request("INVITE", "sip:1002@127.0.0.1", to("1002")+";tag=nosuchdialog", "", pcmu))
		}, 481},
		{"REFER to an outside domain", func() *sip.Response {
			return p.final(p.request("REFER", "sip:1002@127.0.0.1", to("1002"), "Refer-To: <sip:1002@evil.example>\r\n", ""))
		}, 403},
		{"REFER outside a call", func() *sip.Response {
			return p.final(p.request("REFER", "sip:1002@127.0.0.1", to("1002"), "Refer-To: <sip:1002@127.0.0.1>\r\n", ""))
		}, 481},
		{"BYE for no call", func() *sip.Response {
			return p.final(p.request("BYE", "sip:1002@127.0.0.1", to("1002")+";tag=x", "", ""))
		}, 481},
		{"INFO for no call", func() *sip.Response {
			return p.final(p.request("INFO", "sip:1002@127.0.0.1", to("1002")+";tag=x", "Content-Type: application/dtmf\r\n", ""))
		}, 481},
		{"SUBSCRIBE to an unknown event package", func() *sip.Response {
			return p.authorized("SUBSCRIBE", "sip:1002@127.0.0.1", to("1002"), "Event: presence\r\nExpires: 600\r\n", "")
		}, 489},
		{"a method civicd does not serve", func() *sip.Response {
			return p.final(p.request("PUBLISH", "sip:1002@127.0.0.1", to("1002"), "Event: presence\r\n", ""))
		}, 405},
	}
	for _, c := range cases {
		if res := c.res(); res.StatusCode != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, res.StatusCode, res.Reason, c.want)
		}
	}

	// A huge message over TCP is dropped with its connection (sipgo reads
	// at most its buffer per message); the service still answers.
	c, err := net.Dial("tcp", env.s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	huge := p.request("INVITE", "sip:1002@127.0.0.1", to("1002"), "X-Filler: "+strings.Repeat("a", 1<<20)+"\r\n", pcmu)
	_, _ = c.Write([]byte(huge)) // may fail once the server closes the connection
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, _ := c.Read(buf)
	if n > 0 && !strings.HasPrefix(string(buf[:n]), "SIP/2.0 4") {
		t.Errorf("a 1 MiB message got %q, want a 4xx or nothing", buf[:n])
	}
	if res := p.registerWith("MD5", []string{"<sip:1001@" + p.local + ">"}, "120"); res.StatusCode != 200 {
		t.Fatalf("register after the bad input: %d", res.StatusCode)
	}
	if calls := env.s.Calls(); len(calls) != 0 {
		t.Errorf("live calls left: %+v", calls)
	}
}

// TestDialerOnlyToPhones: sipgo may open a connection only to an address
// a phone registered from, never to one a stranger's Via names.
func TestDialerOnlyToPhones(t *testing.T) {
	env := newTestService(t, Config{DigestAlgorithms: []string{"MD5"}})
	env.addExtension(t, "1001", "secret1001")
	d := env.s.dialer(nil)
	if err := d.Control("tcp4", "192.0.2.15:5060", nil); err == nil {
		t.Fatal("a connection to 192.0.2.15 was allowed")
	}
	p := newRawPhone(t, env.s.Addr(), "1001", "secret1001")
	if res := p.registerWith("MD5", []string{"<sip:1001@" + p.local + ">"}, "120"); res.StatusCode != 200 {
		t.Fatalf("register: %d", res.StatusCode)
	}
	if err := d.Control("tcp4", "127.0.0.1:5060", nil); err != nil {
		t.Fatalf("a connection to the phone's address was refused: %v", err)
	}
	if _, err := noDNS.LookupHost(context.Background(), "example.com"); err == nil {
		t.Fatal("a DNS lookup went out")
	}
}
