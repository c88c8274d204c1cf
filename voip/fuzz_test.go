package voip

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// fakeTx is a server transaction that keeps what the handler answered.
type fakeTx struct {
	mu        sync.Mutex
	responses []*sip.Response
	done      chan struct{} // closed by the first final answer
}

func newFakeTx() *fakeTx { return &fakeTx{done: make(chan struct{})} }

func (tx *fakeTx) Respond(res *sip.Response) error {
	_ = res.String() // what the transport would write
	tx.mu.Lock()
	tx.responses = append(tx.responses, res)
	if res.StatusCode >= 200 && len(tx.finals()) == 1 {
		close(tx.done) // the transaction would now wait for ACK and end
	}
	tx.mu.Unlock()
	return nil
}

// finals are the final answers so far; mu is held.
func (tx *fakeTx) finals() []*sip.Response {
	var out []*sip.Response
	for _, r := range tx.responses {
		if r.StatusCode >= 200 {
			out = append(out, r)
		}
	}
	return out
}

func (tx *fakeTx) Terminate()                         {}
func (tx *fakeTx) OnTerminate(sip.FnTxTerminate) bool { return false }
func (tx *fakeTx) Done() <-chan struct{}              { return tx.done }
func (tx *fakeTx) Err() error                         { return nil }
func (tx *fakeTx) Acks() <-chan *sip.Request          { return nil }
func (tx *fakeTx) OnCancel(sip.FnTxCancel) bool       { return false }

var _ sip.ServerTransaction = (*fakeTx)(nil)

// rawParser parses as sipgo's transport does.
var rawParser = sip.NewParser()

// handle parses raw as sipgo's transport does and passes a request to the
// handler its method is routed to, without the panic guard. It returns
// the request (nil when it does not parse as one) and the answers.
func (s *Service) handleRaw(raw []byte) (*sip.Request, []*sip.Response) {
	msg, err := rawParser.ParseSIP(raw)
	if err != nil {
		return nil, nil
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		return nil, nil
	}
	req.SetTransport("UDP")
	req.SetSource("127.0.0.1:5099")
	tx := newFakeTx()
	if h := s.routes[req.Method]; h != nil {
		h(req, tx)
	} else {
		s.handleNoRoute(req, tx)
	}
	return req, tx.responses
}

// checkAnswers: every request but ACK gets exactly one final answer.
func checkAnswers(t *testing.T, raw []byte, req *sip.Request, res []*sip.Response) {
	t.Helper()
	if req == nil {
		return
	}
	if req.IsAck() {
		if len(res) != 0 {
			t.Errorf("ACK answered: %v", res[0].StartLine())
		}
		return
	}
	finals := 0
	for _, r := range res {
		if r.StatusCode >= 200 && r.StatusCode <= 699 {
			finals++
		}
	}
	if finals != 1 {
		t.Errorf("%d final answers to %q", finals, raw)
	}
}

// seedMessages returns the RFC 4475 torture messages and a few REGISTERs,
// one with credentials that pass for extension 1001 of s.
func seedMessages(t testing.TB, s *Service) [][]byte {
	var seeds [][]byte
	files, _ := filepath.Glob("testdata/torture/*/*.dat")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	nonce := s.nonces.issue()
	c := credentials{Username: "1001", Realm: s.cfg.Domain, Nonce: nonce, URI: "sip:127.0.0.1", QOP: "auth", NC: "00000001", Cnonce: "abc"}
	c.Response = c.expectedResponse(algMD5, computeHA1(algMD5, "1001", s.cfg.Domain, "secret1001"), "REGISTER")
	auth := `Digest username="1001", realm="` + c.Realm + `", nonce="` + nonce + `", uri="sip:127.0.0.1", response="` + c.Response +
		`", algorithm=MD5, qop=auth, nc=00000001, cnonce="abc"`
	for _, extra := range []string{"", "Authorization: " + auth + "\r\n", "Authorization: " + auth + "\r\nExpires: 0\r\n"} {
		seeds = append(seeds, []byte(strings.Replace(rawRegister("127.0.0.1:5099", "1001", ""), "Expires: 120\r\n", extra+"Expires: 120\r\n", 1)))
	}
	// Calls and the other in-dialog methods, with and without credentials.
	for _, m := range []struct{ method, to, extra, body string }{
		{"INVITE", "<sip:1999@127.0.0.1>", "", sdpOffer("0 101", "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n")},
		{"INVITE", "<sip:1001@127.0.0.1>;tag=x", "", sdpOffer("8", "")},
		{"INVITE", "<sip:1001@127.0.0.1>", "", "v=0\r\nm=audio x\r\n"},
		{"REFER", "<sip:1001@127.0.0.1>;tag=x", "Refer-To: <sip:1002@127.0.0.1>\r\n", ""},
		{"REFER", "<sip:1001@127.0.0.1>", "Refer-To: sip:1002@elsewhere.example\r\n", ""},
		// To a number nobody has: a subscription would NOTIFY a phone
		// that is not there (TestBLF covers them).
		{"SUBSCRIBE", "<sip:1999@127.0.0.1>", "Event: dialog\r\nAccept: application/dialog-info+xml\r\nExpires: 600\r\n", ""},
		{"INFO", "<sip:1001@127.0.0.1>;tag=x", "Content-Type: application/dtmf-relay\r\n", "Signal=5\r\nDuration=160\r\n"},
		{"BYE", "<sip:1001@127.0.0.1>;tag=x", "", ""},
		{"CANCEL", "<sip:1001@127.0.0.1>", "", ""},
	} {
		for _, auth := range []string{"", inviteAuth(s, m.method)} {
			uri := strings.Trim(strings.SplitN(m.to, ";", 2)[0], "<>")
			msg := m.method + " " + uri + " SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKf" + m.method + "\r\n" +
				"From: <sip:1001@127.0.0.1>;tag=a\r\nTo: " + m.to + "\r\nCall-ID: f" + m.method + "\r\nCSeq: 1 " + m.method + "\r\n" +
				"Contact: <sip:1001@127.0.0.1:5099>\r\nMax-Forwards: 70\r\n" + m.extra
			if auth != "" {
				msg += "Authorization: " + auth + "\r\n"
			}
			msg += fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(m.body), m.body)
			seeds = append(seeds, []byte(msg))
		}
	}
	seeds = append(seeds, []byte("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKw\r\nFrom: <sip:1001@127.0.0.1>;tag=a\r\n"+
		"To: <sip:1001@127.0.0.1>\r\nCall-ID: w\r\nCSeq: 3 REGISTER\r\nContact: *\r\nExpires: 0\r\nAuthorization: "+auth+"\r\nContent-Length: 0\r\n\r\n"))
	return seeds
}

// inviteAuth is a digest answer for method to sip:1001@127.0.0.1 as 1001.
func inviteAuth(s *Service, method string) string {
	nonce := s.nonces.issue()
	c := credentials{Username: "1001", Realm: s.cfg.Domain, Nonce: nonce, URI: "sip:1001@127.0.0.1", QOP: "auth", NC: "00000001", Cnonce: "f"}
	c.Response = c.expectedResponse(algMD5, computeHA1(algMD5, "1001", s.cfg.Domain, "secret1001"), method)
	return `Digest username="1001", realm="` + c.Realm + `", nonce="` + nonce + `", uri="sip:1001@127.0.0.1", response="` + c.Response +
		`", algorithm=MD5, qop=auth, nc=00000001, cnonce="f"`
}

// FuzzRequest feeds raw bytes through sipgo's parser into the request
// handlers: nothing may panic, and every request that parses gets exactly
// one final answer (ACK none).
func FuzzRequest(f *testing.F) {
	env := newTestService(f, Config{QualifyInterval: time.Hour})
	env.addExtension(f, "1001", "secret1001")
	for _, seed := range seedMessages(f, env.s) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, res := env.s.handleRaw(raw)
		checkAnswers(t, raw, req, res)
	})
}

// TestTortureMessages sends every RFC 4475 torture message to a running
// registrar over UDP and TCP: each is answered or dropped, and the
// registrar still answers afterwards. Then each goes straight to the
// handlers, where every request that parses gets exactly one answer.
func TestTortureMessages(t *testing.T) {
	env := newTestService(t, Config{})
	env.addExtension(t, "1001", "secret1001")
	seeds := seedMessages(t, env.s)
	for _, network := range []string{"udp", "tcp"} {
		for _, m := range seeds {
			c, err := net.Dial(network, env.s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			_, _ = c.Write(m)
			c.Close()
		}
	}
	p := newRawPhone(t, env.s.Addr(), "1001", "secret1001")
	if res := p.registerWith("MD5", []string{"<sip:1001@" + p.local + ">"}, "120"); res.StatusCode != 200 {
		t.Fatalf("register after the torture: %d", res.StatusCode)
	}
	for _, m := range seeds {
		req, res := env.s.handleRaw(m)
		checkAnswers(t, m, req, res)
	}
}
