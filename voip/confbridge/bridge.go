// Package confbridge is civicd's meeting bridge for desk phones
// (ARCHITECTURE.md flow 2). It is an in-process SIP endpoint on
// 127.0.0.1 to which the call engine routes meetings' dial-in numbers as
// it would route to a phone, so ringing, cancelling, hanging up, call
// records and the RTP relay all stay the engine's. The bridge answers
// with its own RTP socket, plays the prompts, collects the meeting's PIN
// by DTMF (RFC 4733, or SIP INFO through the engine), and then bridges
// the phone into the meeting: its audio goes to the room as it is
// (G.711 or G.722, which browsers decode), and it hears the room mixed
// without itself.
//
// The meetings reach it only through the Meetings interface, which main
// wires to conference.
package confbridge

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
)

// Errors a Meetings implementation returns, for the prompts they lead to.
var (
	ErrNoMeeting  = errors.New("no such meeting")         // no_meeting, then hang up
	ErrBadPIN     = errors.New("wrong PIN")               // wrong_pin, try again
	ErrNotStarted = errors.New("meeting not started yet") // waiting_host, keep trying
	ErrLocked     = errors.New("meeting locked")          // locked, then hang up
)

// Meetings is what the bridge needs from the meetings module.
type Meetings interface {
	// RoomOfNumber is the room a dialled number leads to, or "".
	RoomOfNumber(number string) string
	// CheckPIN checks a PIN keyed for a room: nil, ErrBadPIN or
	// ErrNoMeeting.
	CheckPIN(ctx context.Context, room, pin string) error
	// OpenCall makes the private room of a browser call of user's
	// (titled title): only user joins it from a browser, and a phone
	// may join it before them.
	OpenCall(ctx context.Context, user, title string) (room string, err error)
	// EndCall ends a browser call's room.
	EndCall(room string)
	// JoinPhone puts a phone into the room's live meeting as a
	// participant named name that publishes in codec (PCMU, PCMA or
	// G722): ErrNotStarted, ErrLocked or ErrNoMeeting when it cannot.
	// signal hears what happens to the participant: "muted", "unmuted",
	// "removed", "ended".
	JoinPhone(ctx context.Context, room, name, codec string, signal func(kind string)) (Leg, error)
	// TapAudio hears every audio packet forwarded in the room's live
	// meeting (mime as "audio/opus", "audio/pcmu", ...), until stop.
	TapAudio(room string, f func(from, mime string, pkt *rtp.Packet)) (stop func(), err error)
}

// Leg is a phone's place in a meeting.
type Leg interface {
	// ID is its participant id (the stream id its audio carries).
	ID() string
	// WriteRTP sends one packet of its audio to the room, in the codec
	// it was joined with, with its level (RFC 6464, -1 unknown).
	WriteRTP(pkt *rtp.Packet, level int) error
	// RaiseHand raises or lowers its hand.
	RaiseHand(raised bool)
	// Leave takes it out of the meeting.
	Leave()
}

// Config sets up a Bridge.
type Config struct {
	Meetings Meetings
	// NameOf is the name a caller's extension shows with in the meeting
	// ("" to show the number).
	NameOf func(ext string) string
	// Language of the prompts: "en" or "zh". Default: "en".
	Language string
	// MaxTries of the PIN before the call is hung up. Default: 3.
	MaxTries int
	// DigitTimeout ends a PIN being keyed when no digit comes for this
	// long (it counts as a wrong try). Default: 10 s.
	DigitTimeout time.Duration
	// WaitForHost is how long a phone with the right PIN waits for the
	// meeting to start before it is hung up. Default: 5 min.
	WaitForHost time.Duration
	// OnPINFailed is told of each wrong PIN (for the audit log).
	OnPINFailed func(room, caller string, tries int)
	// OnDTMF is told of each key pressed by a phone in a meeting.
	OnDTMF func(room, participant, caller string, digit rune)
	// SIPAddr is civicd's SIP address (host:port, UDP), where the
	// bridge's own calls (dial-out from a meeting) go. Empty: no
	// dial-out.
	SIPAddr string
	// Domain is civicd's SIP domain, for those calls' URIs.
	Domain string
	// RingTimeout bounds a dial-out's ringing. Default: 60 s.
	RingTimeout time.Duration
	// RTPTimeout hangs up a phone in a meeting that has sent no RTP for
	// this long (a phone gone without its BYE). Default: 30 s.
	RTPTimeout time.Duration
	// ConsoleCaller is how a console user's browser calls show on the
	// phone called, and in the call records: the extension linked to
	// the user, and the user's name. Nil, or an empty ext: the username.
	ConsoleCaller func(user string) (ext, name string)
}

func (c *Config) defaults() {
	if c.Language == "" {
		c.Language = "en"
	}
	if c.MaxTries <= 0 {
		c.MaxTries = 3
	}
	if c.DigitTimeout <= 0 {
		c.DigitTimeout = 10 * time.Second
	}
	if c.WaitForHost <= 0 {
		c.WaitForHost = 5 * time.Minute
	}
	if c.RingTimeout <= 0 {
		c.RingTimeout = time.Minute
	}
	if c.RTPTimeout <= 0 {
		c.RTPTimeout = 30 * time.Second
	}
}

// Bridge is the SIP endpoint and the rooms it bridges.
type Bridge struct {
	cfg  Config
	log  *slog.Logger
	ua   *sipgo.UserAgent
	srv  *sipgo.Server
	conn net.PacketConn
	ds   *sipgo.DialogServerCache
	dc   *sipgo.DialogClientCache
	// token proves the bridge's own calls to civicd's SIP side (Token).
	token string

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once

	mu    sync.Mutex
	calls map[string]*call // by SIP dialog id
	rooms map[string]*roomBridge
	// Browser calls (webcall.go).
	consoles map[string]*console // open consoles, by id
	tokens   map[string]string   // user -> the token of their consoles' SIP target
	webCalls map[string]*webCall // by id
	rings    map[string]*ring    // incoming calls ringing in consoles, by id
}

// Start listens on 127.0.0.1 (UDP) and serves until Close.
func Start(cfg Config, logger *slog.Logger) (*Bridge, error) {
	cfg.defaults()
	if cfg.Meetings == nil {
		return nil, errors.New("confbridge: no Meetings")
	}
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("confbridge: %w", err)
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("civicd-bridge"), sipgo.WithUserAgentHostname("127.0.0.1"))
	if err != nil {
		conn.Close()
		return nil, err
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		conn.Close()
		ua.Close()
		return nil, err
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(port),
		sipgo.WithClientLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		conn.Close()
		ua.Close()
		return nil, err
	}
	contact := sip.ContactHeader{Address: sip.Uri{User: "bridge", Host: "127.0.0.1", Port: port}}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Bridge{cfg: cfg, log: logger, ua: ua, srv: srv, conn: conn, ctx: ctx, cancel: cancel,
		ds: sipgo.NewDialogServerCache(client, contact), dc: sipgo.NewDialogClientCache(client, contact),
		token: rand.Text(), calls: map[string]*call{}, rooms: map[string]*roomBridge{},
		consoles: map[string]*console{}, tokens: map[string]string{}, webCalls: map[string]*webCall{}, rings: map[string]*ring{}}
	srv.OnInvite(b.onInvite)
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { _ = b.ds.ReadAck(req, tx) })
	srv.OnBye(b.onBye)
	srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		_ = srv.ServeUDP(conn)
	}()
	logger.Info("meeting bridge listening", "addr", conn.LocalAddr().String())
	return b, nil
}

// Addr is the bridge's SIP address (127.0.0.1:port, UDP).
func (b *Bridge) Addr() string { return b.conn.LocalAddr().String() }

// Target is the SIP URI the call engine sends a dialled number's INVITE
// to, when the number is a meeting's dial-in number.
func (b *Bridge) Target(number string) (sip.Uri, bool) {
	if b.cfg.Meetings.RoomOfNumber(number) == "" {
		return sip.Uri{}, false
	}
	a := b.conn.LocalAddr().(*net.UDPAddr)
	return sip.Uri{User: number, Host: "127.0.0.1", Port: a.Port}, true
}

// DTMF takes a key pressed by extension ext in call callID of the call
// engine (RFC 4733 read by the relay, or SIP INFO): a dial-in call is
// known by the engine's id, a dial-out one by the extension it reached.
// Keys of calls not in the bridge are ignored.
func (b *Bridge) DTMF(callID, ext string, digit rune) {
	b.mu.Lock()
	var c *call
	for _, x := range b.calls {
		// The phone's own keys: the engine also reports the keys the
		// bridge sends (a browser call's keypad), as the other leg's.
		if x.caller == ext && (x.engineID == callID || x.engineID == "") {
			c = x
		}
	}
	b.mu.Unlock()
	if c != nil {
		c.digit(digit)
	}
}

// Calls is how many phones are in the bridge (at a prompt or in a
// meeting).
func (b *Bridge) Calls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.calls)
}

// Close hangs up every call and stops. It may be called more than once.
func (b *Bridge) Close() {
	b.closeOnce.Do(b.close)
}

func (b *Bridge) close() {
	b.cancel()
	b.mu.Lock()
	var cs []*call
	for _, c := range b.calls {
		cs = append(cs, c)
	}
	b.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.hangup("civicd is shutting down")
		}()
	}
	wg.Wait()
	b.srv.Close()
	b.conn.Close()
	b.ua.Close()
	b.wg.Wait()
}

func (b *Bridge) onBye(req *sip.Request, tx sip.ServerTransaction) {
	// A call the bridge answered (dial-in), or one it made (dial-out).
	if err := b.ds.ReadBye(req, tx); err == nil {
		id, _ := sip.DialogIDFromRequestUAS(req)
		b.ended(id)
		return
	}
	if err := b.dc.ReadBye(req, tx); err == nil {
		id, _ := sip.DialogIDFromRequestUAC(req)
		b.ended(id)
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
}

// ended ends the call of a dialog the phone hung up.
func (b *Bridge) ended(id string) {
	b.mu.Lock()
	c := b.calls[id]
	b.mu.Unlock()
	if c != nil {
		c.end("the phone hung up")
	}
}

// Token is the secret the bridge's own calls carry in TokenHeader, so
// civicd's SIP side takes them without digest auth.
func (b *Bridge) Token() string { return b.token }

// TokenHeader carries Token on the bridge's calls to civicd.
const TokenHeader = "X-Civic-Bridge"

// callerOf is the extension a call comes from (the engine puts it in
// From) and the name to show for it.
func (b *Bridge) callerOf(req *sip.Request) (ext, name string) {
	if f := req.From(); f != nil {
		ext = f.Address.User
	}
	name = ext
	if b.cfg.NameOf != nil {
		if n := strings.TrimSpace(b.cfg.NameOf(ext)); n != "" {
			name = n
		}
	}
	if name == "" {
		name = "Phone"
	}
	return ext, name
}
