package voip

import (
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
	done      chan struct{}
}

func newFakeTx() *fakeTx { return &fakeTx{done: make(chan struct{})} }

func (tx *fakeTx) Respond(res *sip.Response) error {
	_ = res.String() // what the transport would write
	tx.mu.Lock()
	tx.responses = append(tx.responses, res)
	tx.mu.Unlock()
	return nil
}
func (tx *fakeTx) Terminate()                         {}
func (tx *fakeTx) OnTerminate(sip.FnTxTerminate) bool { return false }
func (tx *fakeTx) Done() <-chan struct{}              { return tx.done }
func (tx *fakeTx) Err() error                         { return nil }
func (tx *fakeTx) Acks() <-chan *sip.Request          { return nil }
func (tx *fakeTx) OnCancel(sip.FnTxCancel) bool       { return false }

var _ sip.ServerTransaction = (*fakeTx)(nil)

// handle parses raw as sipgo's transport does and passes a request to the
// handler its method is routed to, without the panic guard. It returns
// the request (nil when it does not parse as one) and the answers.
func (s *Service) handleRaw(raw []byte) (*sip.Request, []*sip.Response) {
	msg, err := sip.NewParser().ParseSIP(raw)
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
	switch req.Method {
	case sip.REGISTER:
		s.handleRegister(req, tx)
	case sip.OPTIONS:
		s.handleOptions(req, tx)
	default:
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
	if len(res) != 1 || res[0].StatusCode < 200 || res[0].StatusCode > 699 {
		t.Errorf("%d answers to %q", len(res), raw)
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
	seeds = append(seeds, []byte("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKw\r\nFrom: <sip:1001@127.0.0.1>;tag=a\r\n"+
		"To: <sip:1001@127.0.0.1>\r\nCall-ID: w\r\nCSeq: 3 REGISTER\r\nContact: *\r\nExpires: 0\r\nAuthorization: "+auth+"\r\nContent-Length: 0\r\n\r\n"))
	return seeds
}

// FuzzRegister feeds raw bytes through sipgo's parser into the request
// handlers: nothing may panic, and every request that parses gets exactly
// one final answer (ACK none).
func FuzzRegister(f *testing.F) {
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
