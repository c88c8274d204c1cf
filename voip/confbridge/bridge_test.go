package confbridge

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"civic/voip/audio/g711"
	"civic/voip/b2bua"
	"civic/voip/callsdp"
)

// fakeMeetings is one meeting, room 123456 at number 8123456 with PIN
// 424242, that starts when started is set.
type fakeMeetings struct {
	started atomic.Bool
	mu      sync.Mutex
	pins    []string // PINs keyed for the meeting
	checks  []string // every CheckPIN: "room:pin"
	joined  []string // "name codec"
	legs    []*fakeLeg
	signals []func(string)
	calls   []string // rooms of browser calls opened (OpenCall)
	ended   []string // and ended (EndCall)
}

func (m *fakeMeetings) OpenCall(_ context.Context, user, title string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	room := fmt.Sprintf("call-%d-%s", len(m.calls)+1, user)
	m.calls = append(m.calls, room)
	return room, nil
}

func (m *fakeMeetings) EndCall(room string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ended = append(m.ended, room)
}

func (m *fakeMeetings) RoomOfNumber(n string) string {
	if len(n) == 7 && n[0] == '8' {
		return n[1:] // only 123456 exists
	}
	return ""
}

func (m *fakeMeetings) CheckPIN(_ context.Context, room, pin string) error {
	m.mu.Lock()
	m.checks = append(m.checks, room+":"+pin)
	m.mu.Unlock()
	if room != "123456" {
		return ErrNoMeeting
	}
	if pin == "" {
		return ErrBadPIN // the bridge asking whether the meeting exists
	}
	m.mu.Lock()
	m.pins = append(m.pins, pin)
	m.mu.Unlock()
	if pin != "424242" {
		return ErrBadPIN
	}
	return nil
}

func (m *fakeMeetings) JoinPhone(_ context.Context, room, name, codec string, signal func(string)) (Leg, error) {
	if !m.started.Load() && !strings.HasPrefix(room, "call-") {
		return nil, ErrNotStarted
	}
	l := &fakeLeg{id: "p-" + name}
	m.mu.Lock()
	m.joined = append(m.joined, name+" "+codec)
	m.legs = append(m.legs, l)
	m.signals = append(m.signals, signal)
	m.mu.Unlock()
	return l, nil
}

func (m *fakeMeetings) TapAudio(string, func(string, string, *rtp.Packet)) (func(), error) {
	return func() {}, nil
}

func (m *fakeMeetings) state() (pins, joined []string, legs []*fakeLeg) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.pins...), append([]string(nil), m.joined...), append([]*fakeLeg(nil), m.legs...)
}

type fakeLeg struct {
	id      string
	packets atomic.Int64
	loud    atomic.Int64 // packets with a level under 60 dBov
	hand    atomic.Bool
	left    atomic.Bool
}

func (l *fakeLeg) ID() string { return l.id }
func (l *fakeLeg) WriteRTP(_ *rtp.Packet, level int) error {
	l.packets.Add(1)
	if level >= 0 && level < 60 {
		l.loud.Add(1)
	}
	return nil
}
func (l *fakeLeg) RaiseHand(r bool) { l.hand.Store(r) }
func (l *fakeLeg) Leave()           { l.left.Store(true) }

// engine plays the call engine's part: it INVITEs the bridge as a phone's
// call and relays RTP over a socket of its own.
type engine struct {
	t       *testing.T
	b       *Bridge
	client  *sipgo.Client
	rtp     *net.UDPConn
	dlg     *sipgo.DialogClientSession
	callID  string
	heard   atomic.Int64 // RTP packets from the bridge with sound in them
	silent  atomic.Bool  // stop sending RTP, as a phone gone without its BYE
	wrongPT atomic.Bool  // send RTP with a payload type nobody agreed
	byed    chan struct{}
	srvConn net.PacketConn
	// RFC 4733 keys the bridge sent the phone: event codes, in order.
	mu        sync.Mutex
	keysHeard []byte
	lastKeyTS uint32
}

func startEngine(t *testing.T, b *Bridge) *engine {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ua, _ := sipgo.NewUA(sipgo.WithUserAgentHostname("127.0.0.1"))
	srv, _ := sipgo.NewServer(ua, sipgo.WithServerLogger(slog.New(slog.DiscardHandler)))
	port := conn.LocalAddr().(*net.UDPAddr).Port
	client, _ := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(port),
		sipgo.WithClientLogger(slog.New(slog.DiscardHandler)))
	e := &engine{t: t, b: b, client: client, byed: make(chan struct{}), srvConn: conn, callID: fmt.Sprintf("call-%d", time.Now().UnixNano())}
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		select {
		case <-e.byed:
		default:
			close(e.byed)
		}
	})
	go func() { _ = srv.ServeUDP(conn) }()
	if e.rtp, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.rtp.Close(); client.Close(); srv.Close(); ua.Close(); conn.Close() })
	go func() {
		buf := make([]byte, 1500)
		var pkt rtp.Packet
		for {
			n, err := e.rtp.Read(buf)
			if err != nil {
				return
			}
			if pkt.Unmarshal(buf[:n]) != nil {
				continue
			}
			if pkt.PayloadType == 101 && len(pkt.Payload) == 4 && pkt.Payload[1]&0x80 != 0 {
				// An RFC 4733 key's end (sent three times).
				e.mu.Lock()
				if pkt.Timestamp != e.lastKeyTS || len(e.keysHeard) == 0 {
					e.keysHeard = append(e.keysHeard, pkt.Payload[0])
					e.lastKeyTS = pkt.Timestamp
				}
				e.mu.Unlock()
				continue
			}
			if len(pkt.Payload) != 160 {
				continue
			}
			var sum float64
			for _, c := range pkt.Payload {
				v := float64(g711.UlawToLinear(c))
				sum += v * v
			}
			if sum/160 > 100*100 {
				e.heard.Add(1)
			}
		}
	}()
	return e
}

// call dials number from extension 1001 with a PCMU offer.
func (e *engine) call(number string) int {
	e.t.Helper()
	uri, ok := e.b.Target(number)
	if !ok {
		uri = sip.Uri{User: number, Host: "127.0.0.1", Port: e.b.conn.LocalAddr().(*net.UDPAddr).Port}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return e.invite(ctx, uri, number)
}

// invite sends the bridge an INVITE for uri from extension 1001 with a
// PCMU offer (To: to) and returns the final status; answered, it ACKs
// and starts sending a 400 Hz tone. Cancelling ctx while it rings sends
// a CANCEL.
func (e *engine) invite(ctx context.Context, uri sip.Uri, to string) int {
	local := e.rtp.LocalAddr().(*net.UDPAddr)
	offer := callsdp.Session{ID: 1, Version: 1, Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(local.Port)),
		Codecs: []callsdp.Codec{{PT: 0, Name: "PCMU", Rate: 8000}}, EventPT: 101, Direction: callsdp.SendRecv}.Marshal()
	req := sip.NewRequest(sip.INVITE, uri)
	req.SetBody(offer)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	from := &sip.FromHeader{Address: sip.Uri{User: "1001", Host: "civic.test"}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{User: to, Host: "civic.test"}, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader(b2bua.CallIDHeader, e.callID))
	req.SetDestination(e.b.Addr())
	dua := sipgo.DialogUA{Client: e.client, ContactHDR: sip.ContactHeader{Address: sip.Uri{User: "engine", Host: "127.0.0.1",
		Port: e.srvConn.LocalAddr().(*net.UDPAddr).Port}}}
	dlg, err := dua.WriteInvite(ctx, req)
	if err != nil {
		e.t.Error(err)
		return 0
	}
	if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		if de, ok := err.(*sipgo.ErrDialogResponse); ok {
			return de.Res.StatusCode
		}
		if ctx.Err() != nil {
			return 487 // cancelled
		}
		e.t.Error(err)
		return 0
	}
	if err := dlg.Ack(context.Background()); err != nil {
		e.t.Error(err)
		return 0
	}
	e.dlg = dlg
	// Send the phone's audio: a loud PCMU tone, as the relay would pass it.
	answer, err := callsdp.Parse(dlg.InviteResponse.Body())
	if err != nil {
		e.t.Error(err)
		return 0
	}
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		pcm := make([]int16, 160)
		for i := range pcm {
			pcm[i] = int16(12000 * sinTable(i))
		}
		payload := g711.EncodeUlaw(nil, pcm)
		for i := 0; ; i++ {
			select {
			case <-e.byed:
				return
			case <-tick.C:
			}
			if e.silent.Load() {
				continue
			}
			pt := uint8(0)
			if e.wrongPT.Load() {
				pt = 99
			}
			pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: uint16(i), Timestamp: uint32(i * 160), SSRC: 7},
				Payload: payload}
			b, _ := pkt.Marshal()
			if _, err := e.rtp.WriteToUDPAddrPort(b, answer.Addr); err != nil {
				return
			}
		}
	}()
	return 200
}

// sinTable is a 400 Hz sine at 8 kHz (20 samples a period).
func sinTable(i int) float64 {
	return []float64{0, .309, .588, .809, .951, 1, .951, .809, .588, .309, 0, -.309, -.588, -.809, -.951, -1, -.951, -.809, -.588, -.309}[i%20]
}

// keys presses digits, as the engine passes them on.
func (e *engine) keys(s string) {
	for _, d := range s {
		e.b.DTMF(e.callID, "1001", d)
	}
}

func (e *engine) waitBye(d time.Duration) bool {
	select {
	case <-e.byed:
		return true
	case <-time.After(d):
		return false
	}
}

func newBridge(t *testing.T, m *fakeMeetings, failed func(room, caller string, tries int)) *Bridge {
	t.Helper()
	return newBridgeWith(t, m, Config{OnPINFailed: failed})
}

func newBridgeWith(t *testing.T, m *fakeMeetings, cfg Config) *Bridge {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	cfg.Meetings, cfg.NameOf = m, func(ext string) string { return "Desk " + ext }
	cfg.DigitTimeout, cfg.WaitForHost = 3*time.Second, 20*time.Second
	b, err := Start(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDialIn: the bridge answers a dial-in number, prompts (real audio
// reaches the phone), waits for the host, takes the right PIN, puts the
// phone in the meeting under its extension's name in its codec, passes
// its audio with levels, and *9 raises its hand; the meeting's end
// hangs it up.
func TestDialIn(t *testing.T) {
	m := &fakeMeetings{}
	b := newBridge(t, m, nil)
	e := startEngine(t, b)
	if _, ok := b.Target("1001"); ok {
		t.Fatal("an extension number was taken for a meeting's")
	}
	if code := e.call("8123456"); code != 200 {
		t.Fatalf("answered %d", code)
	}
	waitFor(t, 10*time.Second, "the prompt's sound", func() bool { return e.heard.Load() > 25 })
	e.keys("424242#")
	waitFor(t, 10*time.Second, "the PIN checked", func() bool { pins, _, _ := m.state(); return len(pins) == 1 })
	m.started.Store(true) // the host arrives while the phone waits
	waitFor(t, 10*time.Second, "the phone in the meeting", func() bool { _, j, _ := m.state(); return len(j) == 1 })
	pins, joined, legs := m.state()
	if pins[0] != "424242" || joined[0] != "Desk 1001 PCMU" {
		t.Fatalf("pins %v, joined %v", pins, joined)
	}
	waitFor(t, 10*time.Second, "the phone's audio in the room, with its level", func() bool { return legs[0].loud.Load() > 20 })
	e.keys("*9")
	waitFor(t, 5*time.Second, "the hand raised", legs[0].hand.Load)
	m.mu.Lock()
	signal := m.signals[0]
	m.mu.Unlock()
	signal("ended")
	if !e.waitBye(15 * time.Second) {
		t.Fatal("no BYE after the meeting ended")
	}
	waitFor(t, 5*time.Second, "the leg left", legs[0].left.Load)
	waitFor(t, 5*time.Second, "the call gone", func() bool { return b.Calls() == 0 })
}

// TestNoSuchMeeting: a dial-in number of the right shape whose meeting
// does not exist is told so and hung up, without being asked for a PIN.
func TestNoSuchMeeting(t *testing.T) {
	m := &fakeMeetings{}
	b := newBridge(t, m, nil)
	e := startEngine(t, b)
	if code := e.call("8999999"); code != 200 {
		t.Fatalf("answered %d", code)
	}
	e.keys("1234#") // a caller keying a PIN at once
	waitFor(t, 10*time.Second, "the prompt's sound", func() bool { return e.heard.Load() > 10 })
	if !e.waitBye(15 * time.Second) {
		t.Fatal("no BYE for a meeting that does not exist")
	}
	m.mu.Lock()
	checks := slices.Clone(m.checks)
	m.mu.Unlock()
	if !slices.Equal(checks, []string{"999999:"}) {
		t.Fatalf("PIN checks %v: want only the meeting looked up, no PIN taken", checks)
	}
}

// TestWrongPIN: three wrong PINs end the call, each one reported.
func TestWrongPIN(t *testing.T) {
	m := &fakeMeetings{}
	var failed atomic.Int64
	b := newBridge(t, m, func(room, caller string, tries int) {
		if room == "123456" && caller == "1001" && int64(tries) == failed.Load()+1 {
			failed.Add(1)
		}
	})
	e := startEngine(t, b)
	if code := e.call("8123456"); code != 200 {
		t.Fatalf("answered %d", code)
	}
	for i := range 3 {
		e.keys(fmt.Sprintf("00000%d#", i))
		waitFor(t, 20*time.Second, "the PIN checked", func() bool { pins, _, _ := m.state(); return len(pins) == i+1 })
	}
	if !e.waitBye(20 * time.Second) {
		t.Fatal("no BYE after three wrong PINs")
	}
	if failed.Load() != 3 {
		t.Fatalf("%d wrong PINs reported, want 3", failed.Load())
	}
	if _, joined, _ := m.state(); len(joined) != 0 {
		t.Fatalf("joined %v", joined)
	}
}

// TestNoCommonCodec: a phone that offers only codecs the bridge lacks gets
// 488.
func TestNoCommonCodec(t *testing.T) {
	b := newBridge(t, &fakeMeetings{}, nil)
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ua, _ := sipgo.NewUA(sipgo.WithUserAgentHostname("127.0.0.1"))
	defer ua.Close()
	client, _ := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(slog.New(slog.DiscardHandler)))
	defer client.Close()
	uri, _ := b.Target("8123456")
	req := sip.NewRequest(sip.INVITE, uri)
	req.SetBody([]byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n"))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	from := &sip.FromHeader{Address: sip.Uri{User: "1001", Host: "civic.test"}, Params: sip.NewParams()}
	from.Params.Add("tag", "x")
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: uri, Params: sip.NewParams()})
	req.SetDestination(b.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := client.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 488 {
		t.Fatalf("G.729 only: %d, want 488", res.StatusCode)
	}
}

// fakePBX answers the bridge's dial-out INVITEs as civicd's call engine
// would: ringing, then answer (with PCMU at its RTP socket) or status.
type fakePBX struct {
	addr   string
	tokens chan string
	froms  chan string   // "name <user>" of each INVITE's From
	rang   chan struct{} // closed by the test when the bridge saw the ringing
}

func startPBX(t *testing.T, status int) *fakePBX {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rtpConn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ua, _ := sipgo.NewUA(sipgo.WithUserAgentHostname("127.0.0.1"))
	srv, _ := sipgo.NewServer(ua, sipgo.WithServerLogger(slog.New(slog.DiscardHandler)))
	client, _ := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(slog.New(slog.DiscardHandler)))
	p := &fakePBX{addr: conn.LocalAddr().String(), tokens: make(chan string, 4), froms: make(chan string, 4), rang: make(chan struct{})}
	ds := sipgo.NewDialogServerCache(client, sip.ContactHeader{Address: sip.Uri{Host: "127.0.0.1", Port: conn.LocalAddr().(*net.UDPAddr).Port}})
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		if h := req.GetHeader(TokenHeader); h != nil {
			p.tokens <- h.Value()
		}
		p.froms <- req.From().DisplayName + " <" + req.From().Address.User + ">"
		dlg, err := ds.ReadInvite(req, tx)
		if err != nil {
			return
		}
		_ = dlg.Respond(180, "Ringing", nil)
		select { // the phone rings until the caller has heard it ring
		case <-p.rang:
		case <-time.After(10 * time.Second):
		}
		if status != 200 {
			_ = dlg.Respond(status, "Refused", nil)
			return
		}
		local := rtpConn.LocalAddr().(*net.UDPAddr)
		answer := callsdp.Session{ID: 2, Version: 1, Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(local.Port)),
			Codecs: []callsdp.Codec{{PT: 0, Name: "PCMU", Rate: 8000}}, EventPT: -1, Direction: callsdp.SendRecv}.Marshal()
		_ = dlg.RespondSDP(answer)
	})
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { _ = ds.ReadAck(req, tx) })
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) { _ = ds.ReadBye(req, tx) })
	go func() { _ = srv.ServeUDP(conn) }()
	t.Cleanup(func() { client.Close(); srv.Close(); ua.Close(); conn.Close(); rtpConn.Close() })
	return p
}

// TestDialOut: a meeting calls an extension through civicd's SIP side,
// proving itself with the bridge's token; the phone that answers joins
// with no PIN, under its extension's name; a busy phone is reported
// busy.
func TestDialOut(t *testing.T) {
	for _, tc := range []struct {
		status int
		states []string
	}{
		{200, []string{DialRinging, DialAnswered}},
		{486, []string{DialRinging, DialBusy}},
		{603, []string{DialRinging, DialDeclined}},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			pbx := startPBX(t, tc.status)
			m := &fakeMeetings{}
			m.started.Store(true)
			b, err := Start(Config{Meetings: m, NameOf: func(ext string) string { return "Desk " + ext }, SIPAddr: pbx.addr,
				Domain: "civic.test"}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(b.Close)
			var mu sync.Mutex
			var states []string
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			onState := func(s string) {
				mu.Lock()
				states = append(states, s)
				mu.Unlock()
				if s == DialRinging {
					close(pbx.rang)
				}
			}
			if err := b.DialOut(ctx, "123456", "1002", onState); err != nil {
				t.Fatal(err)
			}
			if tok := <-pbx.tokens; tok != b.Token() {
				t.Fatalf("token %q, want the bridge's", tok)
			}
			mu.Lock()
			got := append([]string(nil), states...)
			mu.Unlock()
			if fmt.Sprint(got) != fmt.Sprint(tc.states) {
				t.Fatalf("states %v, want %v", got, tc.states)
			}
			if tc.status != 200 {
				return
			}
			waitFor(t, 10*time.Second, "the phone in the meeting", func() bool { _, j, _ := m.state(); return len(j) == 1 })
			pins, joined, _ := m.state()
			if len(pins) != 0 || joined[0] != "Desk 1002 PCMU" {
				t.Fatalf("pins %v, joined %v", pins, joined)
			}
		})
	}
}

// TestSilentPhone: a phone in a meeting that stops sending RTP (gone
// without its BYE) is hung up and leaves the meeting.
func TestSilentPhone(t *testing.T) {
	m := &fakeMeetings{}
	m.started.Store(true)
	b := newBridgeWith(t, m, Config{RTPTimeout: 2 * time.Second})
	e := startEngine(t, b)
	if code := e.call("8123456"); code != 200 {
		t.Fatalf("answered %d", code)
	}
	e.keys("424242#")
	waitFor(t, 15*time.Second, "the phone in the meeting", func() bool { _, j, _ := m.state(); return len(j) == 1 })
	e.silent.Store(true)
	if !e.waitBye(15 * time.Second) {
		t.Fatal("a silent phone was not hung up")
	}
	_, _, legs := m.state()
	waitFor(t, 5*time.Second, "the leg left", legs[0].left.Load)
}

// TestBadRTPAndKeys: RTP in a payload type nobody agreed never reaches
// the meeting (and a phone sending only that counts as silent, and is
// hung up); a flood of keys neither blocks nor breaks the call: it ends
// as one wrong PIN.
func TestBadRTPAndKeys(t *testing.T) {
	m := &fakeMeetings{}
	m.started.Store(true)
	var failed atomic.Int64
	b := newBridgeWith(t, m, Config{RTPTimeout: 2 * time.Second, OnPINFailed: func(string, string, int) { failed.Add(1) }})
	e := startEngine(t, b)
	if code := e.call("8123456"); code != 200 {
		t.Fatalf("answered %d", code)
	}
	for range 10000 {
		e.b.DTMF(e.callID, "1001", '1')
	}
	e.keys("#")
	waitFor(t, 15*time.Second, "the flood checked as one PIN", func() bool { return failed.Load() == 1 })
	if pins, _, _ := m.state(); len(pins) != 1 || len(pins[0]) > 16 {
		t.Fatalf("pins %q", pins)
	}
	e.keys("424242#")
	waitFor(t, 15*time.Second, "the phone in the meeting", func() bool { _, j, _ := m.state(); return len(j) == 1 })
	_, _, legs := m.state()
	waitFor(t, 5*time.Second, "its audio in the room", func() bool { return legs[0].packets.Load() > 5 })
	e.wrongPT.Store(true)
	before := legs[0].packets.Load()
	if !e.waitBye(15 * time.Second) {
		t.Fatal("a phone sending only a wrong payload type was not hung up")
	}
	if got := legs[0].packets.Load() - before; got > 3 {
		t.Errorf("%d packets of a wrong payload type reached the meeting", got)
	}
}
