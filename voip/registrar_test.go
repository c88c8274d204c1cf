package voip

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"civic/internal/audit"
)

// rawPhone speaks SIP over UDP byte by byte, for checks sipp and baresip
// cannot make. Its digest answers come from github.com/icholy/digest, an
// implementation independent of ours.
type rawPhone struct {
	t      *testing.T
	c      *net.UDPConn
	local  string
	n, pw  string
	callID string
	cseq   int
}

func newRawPhone(t *testing.T, addr, n, pw string) *rawPhone {
	t.Helper()
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawPhone{t: t, c: c, local: c.LocalAddr().String(), n: n, pw: pw, callID: fmt.Sprintf("raw-%d@test", time.Now().UnixNano())}
}

// register sends a REGISTER with the given Contact value(s), Expires
// ("" for none) and Authorization ("" for none) and returns the answer.
func (p *rawPhone) register(contacts []string, expires, auth string) *sip.Response {
	p.t.Helper()
	p.cseq++
	var b strings.Builder
	fmt.Fprintf(&b, "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%d;rport\r\n", p.local, time.Now().UnixNano())
	fmt.Fprintf(&b, "From: <sip:%s@127.0.0.1>;tag=raw\r\nTo: <sip:%s@127.0.0.1>\r\nCall-ID: %s\r\nCSeq: %d REGISTER\r\n", p.n, p.n, p.callID, p.cseq)
	for _, c := range contacts {
		fmt.Fprintf(&b, "Contact: %s\r\n", c)
	}
	if expires != "" {
		fmt.Fprintf(&b, "Expires: %s\r\n", expires)
	}
	if auth != "" {
		fmt.Fprintf(&b, "Authorization: %s\r\n", auth)
	}
	b.WriteString("User-Agent: rawphone\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
	return p.exchange(b.String())
}

// exchange sends msg and reads the response to it.
func (p *rawPhone) exchange(msg string) *sip.Response {
	p.t.Helper()
	if _, err := p.c.Write([]byte(msg)); err != nil {
		p.t.Fatal(err)
	}
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

// answer computes an Authorization value for the challenge of alg in res.
func (p *rawPhone) answer(res *sip.Response, alg string, nc int) string {
	p.t.Helper()
	for _, h := range res.GetHeaders("WWW-Authenticate") {
		chal, err := digest.ParseChallenge(h.Value())
		if err != nil {
			p.t.Fatalf("challenge %q: %v", h.Value(), err)
		}
		if chal.Algorithm != alg {
			continue
		}
		cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:127.0.0.1", Username: p.n, Password: p.pw, Count: nc})
		if err != nil {
			p.t.Fatal(err)
		}
		return cred.String()
	}
	p.t.Fatalf("no %s challenge in %s", alg, res.String())
	return ""
}

// registerWith does the whole exchange: REGISTER, 401, REGISTER with the
// alg answer; it returns the final answer.
func (p *rawPhone) registerWith(alg string, contacts []string, expires string) *sip.Response {
	p.t.Helper()
	res := p.register(contacts, expires, "")
	if res.StatusCode != 401 {
		p.t.Fatalf("first REGISTER: %d, want 401", res.StatusCode)
	}
	return p.register(contacts, expires, p.answer(res, alg, 1))
}

func contactExpires(t *testing.T, res *sip.Response) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, h := range res.GetHeaders("Contact") {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			t.Fatalf("Contact %q did not parse", h.Value())
		}
		e, _ := c.Params.Get("expires")
		out[c.Address.String()] = e
	}
	return out
}

// TestChallengeOffersSHA256ThenMD5: each challenge has its own nonce and
// offers SHA-256 first, then MD5; either answer registers.
func TestChallengeOffersSHA256ThenMD5(t *testing.T) {
	env := newTestService(t, Config{})
	env.addExtension(t, "1001", "secret1001")
	p := newRawPhone(t, env.s.Addr(), "1001", "secret1001")

	res := p.register([]string{"<sip:1001@" + p.local + ">"}, "120", "")
	hdrs := res.GetHeaders("WWW-Authenticate")
	if res.StatusCode != 401 || len(hdrs) != 2 {
		t.Fatalf("got %d with %d challenges, want 401 with 2", res.StatusCode, len(hdrs))
	}
	var algs, nonces []string
	for _, h := range hdrs {
		c, err := digest.ParseChallenge(h.Value())
		if err != nil {
			t.Fatal(err)
		}
		if c.Realm != "127.0.0.1" || !c.SupportsQOP("auth") || c.Stale {
			t.Errorf("challenge %q", h.Value())
		}
		algs, nonces = append(algs, c.Algorithm), append(nonces, c.Nonce)
	}
	if !slices.Equal(algs, []string{"SHA-256", "MD5"}) {
		t.Errorf("algorithms %v, want [SHA-256 MD5]", algs)
	}
	again := p.register([]string{"<sip:1001@" + p.local + ">"}, "120", "")
	if n, _ := digest.ParseChallenge(again.GetHeader("WWW-Authenticate").Value()); n.Nonce == nonces[0] {
		t.Error("two challenges share a nonce")
	}

	for _, alg := range []string{"SHA-256", "MD5"} {
		res := p.registerWith(alg, []string{"<sip:1001@" + p.local + ">"}, "120")
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d %s, want 200", alg, res.StatusCode, res.Reason)
		}
		if got := contactExpires(t, res); got["sip:1001@"+p.local] != "120" {
			t.Errorf("%s: contacts %v, want ours with expires=120", alg, got)
		}
	}
	if !env.phone("1001").Online {
		t.Error("1001 is not online")
	}
}

// TestStaleNonce: a correct answer to an expired nonce gets a new
// challenge with stale=true; a wrong one gets 403 all the same.
func TestStaleNonce(t *testing.T) {
	env := newTestService(t, Config{})
	env.addExtension(t, "1001", "secret1001")
	p := newRawPhone(t, env.s.Addr(), "1001", "secret1001")

	old := *env.s.nonces // same key, issued ten minutes ago
	old.now = func() time.Time { return time.Now().Add(-10 * time.Minute) }
	oldChallenge := sip.NewResponse(401, "Unauthorized")
	oldChallenge.AppendHeader(sip.NewHeader("WWW-Authenticate", challenge("127.0.0.1", old.issue(), algMD5, false)))

	contact := []string{"<sip:1001@" + p.local + ">"}
	res := p.register(contact, "120", p.answer(oldChallenge, "MD5", 1))
	if res.StatusCode != 401 {
		t.Fatalf("correct answer to a stale nonce: %d, want 401", res.StatusCode)
	}
	for _, h := range res.GetHeaders("WWW-Authenticate") {
		if c, err := digest.ParseChallenge(h.Value()); err != nil || !c.Stale {
			t.Errorf("challenge %q lacks stale=true", h.Value())
		}
	}
	if res := p.register(contact, "120", p.answer(res, "MD5", 1)); res.StatusCode != 200 {
		t.Errorf("answer to the fresh challenge: %d, want 200", res.StatusCode)
	}

	wrong := newRawPhone(t, env.s.Addr(), "1001", "not-the-password")
	if res := wrong.register(contact, "120", wrong.answer(oldChallenge, "MD5", 1)); res.StatusCode != 403 {
		t.Errorf("wrong answer to a stale nonce: %d, want 403", res.StatusCode)
	}
}

// TestNonceCountReplay: a request replayed with the same nonce count is
// refused; a higher count on the same nonce is accepted.
func TestNonceCountReplay(t *testing.T) {
	env := newTestService(t, Config{})
	env.addExtension(t, "1001", "secret1001")
	p := newRawPhone(t, env.s.Addr(), "1001", "secret1001")
	contact := []string{"<sip:1001@" + p.local + ">"}
	chal := p.register(contact, "120", "")
	first := p.answer(chal, "SHA-256", 1)
	if res := p.register(contact, "120", first); res.StatusCode != 200 {
		t.Fatalf("nc=1: %d, want 200", res.StatusCode)
	}
	res := p.register(contact, "120", first)
	if res.StatusCode != 401 || !strings.Contains(res.GetHeader("WWW-Authenticate").Value(), "stale=true") {
		t.Fatalf("replayed nc=1: %d %v, want 401 stale", res.StatusCode, res.GetHeader("WWW-Authenticate"))
	}
	if res := p.register(contact, "120", p.answer(chal, "SHA-256", 2)); res.StatusCode != 200 {
		t.Errorf("nc=2: %d, want 200", res.StatusCode)
	}
}

// TestUnknownExtensionLooksTheSame: a wrong password and an extension
// that does not exist get the same answer.
func TestUnknownExtensionLooksTheSame(t *testing.T) {
	env := newTestService(t, Config{})
	env.addExtension(t, "1001", "secret1001")
	shape := func(n string) string {
		p := newRawPhone(t, env.s.Addr(), n, "wrong-password")
		res := p.registerWith("SHA-256", []string{"<sip:" + n + "@" + p.local + ">"}, "120")
		var names []string
		for _, h := range res.Headers() {
			names = append(names, h.Name())
		}
		return fmt.Sprintf("%d %s %v body=%d", res.StatusCode, res.Reason, names, len(res.Body()))
	}
	known, unknown := shape("1001"), shape("1999")
	if known != unknown || !strings.HasPrefix(known, "403 ") {
		t.Errorf("wrong password: %s\nunknown extension: %s\nwant the same 403", known, unknown)
	}
}

// TestRegisterExpires: too brief gets 423 with Min-Expires, too long is
// cut to the maximum, a contact's expires parameter beats the header,
// and no Expires at all means the maximum.
func TestRegisterExpires(t *testing.T) {
	env := newTestService(t, Config{MinExpires: 60 * time.Second, MaxExpires: 600 * time.Second})
	env.addExtension(t, "1001", "secret1001")
	p := newRawPhone(t, env.s.Addr(), "1001", "secret1001")
	c := "<sip:1001@" + p.local + ">"

	res := p.registerWith("MD5", []string{c}, "30")
	if res.StatusCode != 423 || res.GetHeader("Min-Expires") == nil || res.GetHeader("Min-Expires").Value() != "60" {
		t.Fatalf("Expires 30: %d %v, want 423 with Min-Expires: 60", res.StatusCode, res.GetHeader("Min-Expires"))
	}
	if len(env.phone("1001").Bindings) != 0 {
		t.Fatal("a refused REGISTER left a binding")
	}
	tests := []struct {
		contact, expires, want string
	}{
		{c, "100000", "600"},
		{c + ";expires=90", "3600", "90"},
		{c, "", "600"},
		{c, "60", "60"},
	}
	for _, tt := range tests {
		res := p.registerWith("MD5", []string{tt.contact}, tt.expires)
		if got := contactExpires(t, res)["sip:1001@"+p.local]; res.StatusCode != 200 || got != tt.want {
			t.Errorf("Contact %s, Expires %q: %d with expires=%s, want 200 with %s", tt.contact, tt.expires, res.StatusCode, got, tt.want)
		}
	}
}

// TestBindings: several contacts per extension, each removed on its own;
// Contact: * needs Expires: 0; past the limit the stalest is replaced;
// expired bindings go away and the phone goes offline.
func TestBindings(t *testing.T) {
	env := newTestService(t, Config{MaxBindings: 2})
	env.addExtension(t, "1001", "secret1001")
	p := newRawPhone(t, env.s.Addr(), "1001", "secret1001")
	a, b, c := "<sip:1001@10.0.0.1:5060>", "<sip:1001@10.0.0.2:5060>", "<sip:1001@10.0.0.3:5060>"

	p.registerWith("MD5", []string{a}, "120")
	res := p.registerWith("MD5", []string{b}, "120")
	if got := contactExpires(t, res); len(got) != 2 {
		t.Fatalf("200 lists %v, want both contacts", got)
	}
	if ph := env.phone("1001"); !ph.Online || len(ph.Bindings) != 2 {
		t.Fatalf("phone %+v, want online with 2 bindings", ph)
	}
	for _, bd := range env.phone("1001").Bindings {
		if bd.Source != p.local {
			t.Errorf("binding %s has source %s, want the real source %s", bd.Contact, bd.Source, p.local)
		}
	}
	res = p.registerWith("MD5", []string{c}, "120") // a third: the stalest (a) goes
	if got := contactExpires(t, res); len(got) != 2 || got["sip:1001@10.0.0.1:5060"] != "" {
		t.Fatalf("after a third contact: %v, want b and c", got)
	}
	res = p.registerWith("MD5", []string{b}, "0")
	if got := contactExpires(t, res); len(got) != 1 || got["sip:1001@10.0.0.3:5060"] == "" {
		t.Fatalf("after removing b: %v, want c only", got)
	}
	if res := p.registerWith("MD5", []string{"*"}, "60"); res.StatusCode != 400 {
		t.Errorf("Contact: * with Expires 60: %d, want 400", res.StatusCode)
	}
	if res := p.registerWith("MD5", []string{"*", c}, "0"); res.StatusCode != 400 {
		t.Errorf("Contact: * with another contact: %d, want 400", res.StatusCode)
	}
	res = p.registerWith("MD5", nil, "") // a query
	if got := contactExpires(t, res); res.StatusCode != 200 || len(got) != 1 {
		t.Errorf("query: %d %v, want 200 listing c", res.StatusCode, got)
	}

	// Expiry, driven directly rather than by waiting.
	env.s.expire(time.Now().Add(121 * time.Second))
	if ph := env.phone("1001"); ph.Online || len(ph.Bindings) != 0 {
		t.Errorf("after expiry: %+v, want offline with no bindings", ph)
	}
	if k := env.bus.kinds("1001"); !slices.Equal(k, []string{KindPhoneChanged, KindPhoneOnline, KindPhoneChanged, KindPhoneChanged, KindPhoneChanged, KindPhoneOffline}) {
		t.Errorf("events %v", k)
	}
}

// TestQualifyMisses: a binding whose phone stops answering OPTIONS turns
// unreachable after QualifyMisses, the phone goes offline, and a new
// REGISTER brings it back.
func TestQualifyMisses(t *testing.T) {
	env := newTestService(t, Config{QualifyInterval: 50 * time.Millisecond, QualifyTimeout: 50 * time.Millisecond, QualifyMisses: 2})
	env.addExtension(t, "1001", "secret1001")
	p := newRawPhone(t, env.s.Addr(), "1001", "secret1001")
	c := []string{"<sip:1001@" + p.local + ">"}
	if res := p.registerWith("MD5", c, "120"); res.StatusCode != 200 {
		t.Fatalf("register: %d", res.StatusCode)
	}
	// The raw phone reads nothing now, so the OPTIONS go unanswered.
	waitFor(t, 5*time.Second, "1001 offline after missed keepalives", func() bool { return !env.phone("1001").Online })
	if b := env.phone("1001").Bindings; len(b) != 1 || b[0].Reachable {
		t.Errorf("bindings %+v, want one unreachable", b)
	}
	if res := p.registerWith("MD5", c, "120"); res.StatusCode != 200 {
		t.Fatalf("register again: %d", res.StatusCode)
	}
	if !env.phone("1001").Online {
		t.Error("not online after registering again")
	}
	k := env.bus.kinds("1001")
	if i := slices.Index(k, KindPhoneOffline); i < 0 || !slices.Contains(k[i:], KindPhoneOnline) {
		t.Errorf("events %v, want offline then online", k)
	}
}

// TestExtensionBlock: failures as one extension block it, with an audit
// row, even for the right password from a new address; where it is
// already registered it keeps working.
func TestExtensionBlock(t *testing.T) {
	env := newTestService(t, Config{MaxFailuresPerExtension: 2, MaxFailuresPerSource: 100})
	env.addExtension(t, "1001", "secret1001")
	env.addExtension(t, "1002", "secret1002")

	registered := newRawPhone(t, env.s.Addr(), "1001", "secret1001")
	if res := registered.registerWith("MD5", []string{"<sip:1001@" + registered.local + ">"}, "120"); res.StatusCode != 200 {
		t.Fatalf("register 1001: %d", res.StatusCode)
	}
	for _, n := range []string{"1001", "1002"} {
		guesser := newRawPhone(t, env.s.Addr(), n, "guess-guess")
		for range 2 {
			if res := guesser.registerWith("MD5", []string{"<sip:" + n + "@10.9.9.9>"}, "120"); res.StatusCode != 403 {
				t.Fatalf("%s guess: %d, want 403", n, res.StatusCode)
			}
		}
	}
	rows, _, err := env.audit.List(context.Background(), audit.Filter{Action: "voip.block_extension"})
	if err != nil || len(rows) != 2 {
		t.Fatalf("audit rows %+v %v, want 2", rows, err)
	}
	// 1002 has no binding from this address: blocked despite the right password.
	p2 := newRawPhone(t, env.s.Addr(), "1002", "secret1002")
	if res := p2.register(nil, "", p2.answer(p2.register(nil, "", ""), "MD5", 1)); res.StatusCode != 403 {
		t.Errorf("blocked 1002 with the right password: %d, want 403", res.StatusCode)
	}
	// 1001 is registered from 127.0.0.1: its refresh still works.
	if res := registered.registerWith("MD5", []string{"<sip:1001@" + registered.local + ">"}, "120"); res.StatusCode != 200 {
		t.Errorf("refresh of the registered 1001: %d, want 200", res.StatusCode)
	}
}

// TestMalformedRegister: bad requests get 400 and change nothing.
func TestMalformedRegister(t *testing.T) {
	env := newTestService(t, Config{})
	env.addExtension(t, "1001", "secret1001")
	p := newRawPhone(t, env.s.Addr(), "1001", "secret1001")
	c := []string{"<sip:1001@" + p.local + ">"}
	if res := p.register(c, "120", `Digest username="1001", nonce=`); res.StatusCode != 400 {
		t.Errorf("broken Authorization: %d, want 400", res.StatusCode)
	}
	if res := p.registerWith("MD5", c, "soon"); res.StatusCode != 400 {
		t.Errorf("Expires: soon: %d, want 400", res.StatusCode)
	}
	if res := p.registerWith("MD5", []string{"<sip:1001@" + p.local + ">;expires=x"}, "120"); res.StatusCode != 400 {
		t.Errorf("expires=x: %d, want 400", res.StatusCode)
	}
	if res := p.registerWith("MD5", []string{"<tel:+861012345678>"}, "120"); res.StatusCode != 400 {
		t.Errorf("tel: contact: %d, want 400", res.StatusCode)
	}
	noTo := fmt.Sprintf("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKnoto;rport\r\nFrom: <sip:1001@127.0.0.1>;tag=x\r\n"+
		"Call-ID: noto\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n", p.local)
	if res := p.exchange(noTo); res.StatusCode != 400 {
		t.Errorf("no To: %d, want 400", res.StatusCode)
	}
	if len(env.phone("1001").Bindings) != 0 {
		t.Error("a bad request left a binding")
	}
}

// selfSigned writes a certificate and key for 127.0.0.1 into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "civicd test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestRegisterTLS: with a certificate, SIP over TLS registers a phone
// (binding transport tls) and qualifies it over its own connection.
func TestRegisterTLS(t *testing.T) {
	cert, key := selfSigned(t, t.TempDir())
	env := newTestService(t, Config{TLSListen: "127.0.0.1:0", CertFile: cert, KeyFile: key, QualifyInterval: 50 * time.Millisecond})
	env.addExtension(t, "1001", "secret1001")
	if env.s.TLSAddr() == "" {
		t.Fatal("TLS is not listening")
	}
	c, err := tls.Dial("tcp", env.s.TLSAddr(), &tls.Config{InsecureSkipVerify: true}) // a desk phone trusting our self-signed test certificate
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := &rawPhone{t: t, n: "1001", pw: "secret1001", local: c.LocalAddr().String(), callID: "tls-1"}
	stream := bufio.NewReader(c)
	send := func(contact, auth string) *sip.Response {
		t.Helper()
		p.cseq++
		msg := strings.Replace(rawRegister(p.local, "1001", auth), "SIP/2.0/UDP", "SIP/2.0/TLS", 1)
		msg = strings.Replace(msg, "CSeq: 1 ", fmt.Sprintf("CSeq: %d ", p.cseq), 1)
		msg = strings.Replace(msg, "<sip:1001@"+p.local+">", contact, 1)
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		return readResponse(t, c, stream)
	}
	contact := "<sip:1001@127.0.0.1:9;transport=tls>"
	chal := send(contact, "")
	if chal.StatusCode != 401 {
		t.Fatalf("first REGISTER over TLS: %d", chal.StatusCode)
	}
	if res := send(contact, p.answer(chal, "SHA-256", 1)); res.StatusCode != 200 {
		t.Fatalf("REGISTER over TLS: %d", res.StatusCode)
	}
	if b := env.phone("1001").Bindings; len(b) != 1 || b[0].Transport != "tls" || b[0].Source != p.local {
		t.Fatalf("bindings %+v, want one over tls from %s", b, p.local)
	}
	// The keepalive arrives over this very connection; answer it.
	req := readRequest(t, c, stream)
	if req.Method != sip.OPTIONS || req.Recipient.Port != 9 {
		t.Fatalf("got %s, want OPTIONS to our contact", req.StartLine())
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	if _, err := c.Write([]byte(res.String())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the keepalive answer to count", func() bool { return env.s.qualifyAnswered.Load() > 0 })
}

// readMessage reads one bodiless SIP message from a stream.
func readMessage(t *testing.T, c net.Conn, r *bufio.Reader) sip.Message {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v (so far %q)", err, b.String())
		}
		b.WriteString(line)
		if line == "\r\n" && b.Len() > 2 {
			break
		}
	}
	m, err := sip.ParseMessage([]byte(b.String()))
	if err != nil {
		t.Fatalf("parse %q: %v", b.String(), err)
	}
	return m
}

func readResponse(t *testing.T, c net.Conn, r *bufio.Reader) *sip.Response {
	t.Helper()
	for {
		if res, ok := readMessage(t, c, r).(*sip.Response); ok {
			return res
		}
	}
}

func readRequest(t *testing.T, c net.Conn, r *bufio.Reader) *sip.Request {
	t.Helper()
	for {
		if req, ok := readMessage(t, c, r).(*sip.Request); ok {
			return req
		}
	}
}
