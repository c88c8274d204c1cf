package b2bua

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"civic/voip/callsdp"
	"civic/voip/relay"
)

// sipNode is a sipgo user agent serving UDP on 127.0.0.1: civicd's side,
// or a test phone.
type sipNode struct {
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	addr   netip.AddrPort
	conn   net.PacketConn
}

// serve starts serving, once the handlers are set.
func (n *sipNode) serve() {
	go func() { _ = n.srv.ServeUDP(n.conn) }()
}

func newNode(t *testing.T, name string) *sipNode {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(name), sipgo.WithUserAgentHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(int(addr.Port())),
		sipgo.WithClientLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	n := &sipNode{ua: ua, srv: srv, client: client, addr: addr, conn: conn}
	t.Cleanup(func() {
		client.Close()
		srv.Close()
		ua.Close()
		conn.Close()
	})
	return n
}

func (n *sipNode) contact(user string) sip.ContactHeader {
	return sip.ContactHeader{Address: sip.Uri{User: user, Host: "127.0.0.1", Port: int(n.addr.Port())}}
}

// fakeDirectory routes numbers to test phones.
type fakeDirectory struct {
	mu     sync.Mutex
	routes map[string]Route
}

func (d *fakeDirectory) Route(number string) (Route, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.routes[number]
	if !ok {
		return Route{}, ErrUnknown
	}
	r.Number = number
	return r, nil
}

func (d *fakeDirectory) set(number string, r Route) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.routes[number] = r
}

// trustingAuth takes the caller's From user as its extension.
type trustingAuth struct{}

func (trustingAuth) Caller(req *sip.Request, _ sip.ServerTransaction) (string, bool) {
	return req.From().Address.User, true
}

// recorder keeps what the Engine reports.
type recorder struct {
	mu      sync.Mutex
	records []Record
	digits  []rune
	states  []string
	ended   chan Record
}

func (r *recorder) CallChanged(c Call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, c.State)
}

func (r *recorder) DTMF(_, _ string, d rune) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.digits = append(r.digits, d)
}

func (r *recorder) Ended(rec Record) {
	r.mu.Lock()
	r.records = append(r.records, rec)
	r.mu.Unlock()
	r.ended <- rec
}

func (r *recorder) nextRecord(t *testing.T) Record {
	t.Helper()
	select {
	case rec := <-r.ended:
		return rec
	case <-time.After(10 * time.Second):
		t.Fatal("no call record")
		return Record{}
	}
}

// pbx is civicd's B2BUA on its own SIP node, with a directory.
type pbx struct {
	node *sipNode
	e    *Engine
	dir  *fakeDirectory
	rec  *recorder
}

func newPBX(t *testing.T) *pbx {
	t.Helper()
	node := newNode(t, "civicd")
	ports, err := relay.NewPorts(netip.MustParseAddr("127.0.0.1"), 32000, 32199)
	if err != nil {
		t.Fatal(err)
	}
	dir := &fakeDirectory{routes: map[string]Route{}}
	rec := &recorder{ended: make(chan Record, 16)}
	e := New(Config{Client: node.client, Contact: node.contact(""), Ports: ports, Domain: "127.0.0.1", RingTimeout: 5 * time.Second},
		dir, trustingAuth{}, rec, slog.New(slog.DiscardHandler))
	node.srv.OnInvite(e.HandleInvite)
	node.srv.OnAck(e.HandleAck)
	node.srv.OnBye(e.HandleBye)
	node.serve()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Shutdown(ctx)
	})
	return &pbx{node: node, e: e, dir: dir, rec: rec}
}

// phone is a test desk phone: a SIP node, an RTP socket, and what it does
// when called.
type phone struct {
	t      *testing.T
	ext    string
	node   *sipNode
	rtp    *net.UDPConn
	dialog sipgo.DialogUA

	mu       sync.Mutex
	behave   string // "answer", "busy", "ignore"
	answered *sipgo.DialogServerSession
	invites  chan *sip.Request
	byes     chan struct{}
	cancels  chan struct{}
}

func newPhone(t *testing.T, ext, behave string) *phone {
	t.Helper()
	node := newNode(t, "phone-"+ext)
	rtp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rtp.Close() })
	p := &phone{t: t, ext: ext, node: node, rtp: rtp, behave: behave,
		invites: make(chan *sip.Request, 8), byes: make(chan struct{}, 8), cancels: make(chan struct{}, 8)}
	p.dialog = sipgo.DialogUA{Client: node.client, ContactHDR: node.contact(ext)}
	node.srv.OnInvite(p.onInvite)
	node.srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {
		p.mu.Lock()
		sess := p.answered
		p.mu.Unlock()
		if sess != nil {
			_ = sess.ReadAck(req, tx)
		}
	})
	node.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		p.byes <- struct{}{}
	})
	node.serve()
	return p
}

// target is where civicd reaches this phone.
func (p *phone) target() Target {
	return Target{Ext: p.ext, URI: sip.Uri{User: p.ext, Host: "127.0.0.1", Port: int(p.node.addr.Port())}, Transport: "udp"}
}

func (p *phone) sdp(dir string) []byte {
	return callsdp.Session{ID: 1, Version: 1, Addr: p.rtp.LocalAddr().(*net.UDPAddr).AddrPort(),
		Codecs: []callsdp.Codec{{PT: 0, Name: "PCMU", Rate: 8000}, {PT: 8, Name: "PCMA", Rate: 8000}}, EventPT: 101, Direction: dir}.Marshal()
}

func (p *phone) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	p.invites <- req
	sess, err := p.dialog.ReadInvite(req, tx)
	if err != nil {
		return
	}
	p.mu.Lock()
	behave := p.behave
	p.mu.Unlock()
	switch behave {
	case "busy":
		_ = sess.Respond(486, "Busy Here", nil)
		return
	case "ignore":
		_ = sess.Respond(180, "Ringing", nil)
		<-sess.Context().Done() // rings until cancelled
		p.cancels <- struct{}{}
		return
	}
	_ = sess.Respond(180, "Ringing", nil)
	p.mu.Lock()
	p.answered = sess
	p.mu.Unlock()
	res := sip.NewSDPResponseFromRequest(sess.InviteRequest, p.sdp(callsdp.SendRecv))
	res.AppendHeader(&p.dialog.ContactHDR)
	_ = sess.WriteResponse(res)
}

// call places a call to number through the PBX and returns the
// established dialog, or the error (a final failure response).
func (p *phone) call(ctx context.Context, pbx *pbx, number string) (*sipgo.DialogClientSession, error) {
	req := sip.NewRequest(sip.INVITE, sip.Uri{User: number, Host: "127.0.0.1", Port: int(pbx.node.addr.Port())})
	req.SetBody(p.sdp(callsdp.SendRecv))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	from := &sip.FromHeader{Address: sip.Uri{User: p.ext, Host: "127.0.0.1"}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(10))
	req.AppendHeader(from)
	sess, err := p.dialog.WriteInvite(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		return nil, err
	}
	return sess, sess.Ack(ctx)
}

// media returns where the other side told this phone to send RTP.
func mediaOf(t *testing.T, body []byte) netip.AddrPort {
	t.Helper()
	m, err := callsdp.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	return m.Addr
}

// exchange sends one RTP packet from a to dst and waits for it at b.
func exchange(t *testing.T, a *phone, dst netip.AddrPort, b *phone, marker byte) {
	t.Helper()
	pkt := []byte{0x80, 0, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7, marker}
	buf := make([]byte, 1500)
	for attempt := 0; attempt < 20; attempt++ { // the relay starts as the answer goes out
		if _, err := a.rtp.WriteToUDPAddrPort(pkt, dst); err != nil {
			t.Fatal(err)
		}
		_ = b.rtp.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
		n, _, err := b.rtp.ReadFromUDPAddrPort(buf)
		if err == nil && n == len(pkt) && buf[12] == marker {
			return
		}
	}
	t.Fatalf("RTP from %s did not reach %s through the relay", a.ext, b.ext)
}

func wantStatus(t *testing.T, err error, code int) {
	t.Helper()
	var dr *sipgo.ErrDialogResponse
	if !errors.As(err, &dr) || dr.Res.StatusCode != code {
		t.Fatalf("call failed with %v, want %d", err, code)
	}
}

func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal(fmt.Sprintf("%s did not happen", what))
	}
}
