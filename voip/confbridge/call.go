package confbridge

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"math"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"civic/voip/audio/g711"
	"civic/voip/audio/g722"
	"civic/voip/b2bua"
	"civic/voip/callsdp"
	"civic/voip/dtmf"
	"civic/voip/prompts"
)

// frame is the packet interval: 20 ms.
const frame = 20 * time.Millisecond

// call is one phone in the bridge: at the prompts, then in a meeting.
type call struct {
	b        *Bridge
	dlg      dialog
	id       string // the SIP dialog id
	engineID string // the call engine's id for it (CallIDHeader)
	caller   string // the phone's extension
	name     string
	number   string // the number dialled
	codec    callsdp.Codec
	rate     int // the audio's sample rate: 8000, or 16000 for G.722
	conn     *net.UDPConn
	peer     atomic.Pointer[netip.AddrPort] // where RTP goes: the relay
	digits   chan rune
	done     chan struct{}
	once     sync.Once

	enc     encoder
	lastRTP atomic.Int64 // unix nanos of the phone's last packet
	ssrc    uint32
	seq     uint16
	ts      uint32
	audio   chan []byte // encoded 20 ms frames to send, from the room
	// evPT is the RFC 4733 telephone-event payload type agreed with the
	// phone (-1: none), and keys the keys to send it as events (a
	// browser call's keypad).
	evPT int
	keys chan rune

	mu        sync.Mutex
	player    *prompts.Player
	played    chan struct{} // closed when player is over (played out or interrupted)
	leg       Leg
	room      *roomBridge
	selfMuted bool
	// web is the console's call this phone is on (a browser call), or
	// nil for a meeting's phone. Such a call has no prompts.
	web *webCall
}

// dialog is the call's SIP dialog: one the phone began (dial-in) or the
// bridge did (dial-out).
type dialog interface {
	Bye(ctx context.Context) error
	Close() error
}

// encoder turns 20 ms of PCM at the call's rate into a payload.
type encoder func(dst []byte, pcm []int16) []byte

func newEncoder(name string) (encoder, int) {
	switch name {
	case "PCMA":
		return g711.EncodeAlaw, 8000
	case "G722":
		e := g722.NewEncoder()
		return e.Encode, 16000
	}
	return g711.EncodeUlaw, 8000
}

// onInvite answers a dial-in call with the bridge's own RTP socket and
// starts its prompts.
func (b *Bridge) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if b.ctx.Err() != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 503, "Service Unavailable", nil))
		return
	}
	if strings.HasPrefix(req.Recipient.User, consolePrefix) {
		b.ringConsoles(req, tx)
		return
	}
	offer, codec, dlg, ok := b.readInvite(req, tx)
	if !ok {
		return
	}
	c, err := b.accept(req, dlg, offer, codec, nil)
	if err != nil {
		return
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer c.cleanup()
		c.run()
	}()
}

// readInvite takes an INVITE's offer, the codec the bridge answers it in
// and its dialog; it answers the INVITE itself (400, 488) and reports
// false when the offer cannot be taken.
func (b *Bridge) readInvite(req *sip.Request, tx sip.ServerTransaction) (callsdp.Media, callsdp.Codec, *sipgo.DialogServerSession, bool) {
	offer, err := callsdp.Parse(req.Body())
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad SDP", nil))
		return offer, callsdp.Codec{}, nil, false
	}
	codec, ok := pickCodec(offer.Codecs)
	if !ok {
		b.log.Warn("bridge: no codec in common", "codecs", offer.Codecs, "number", req.Recipient.User)
		_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
		return offer, codec, nil, false
	}
	dlg, err := b.ds.ReadInvite(req, tx)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
		return offer, codec, nil, false
	}
	return offer, codec, dlg, true
}

// accept answers an INVITE read into dlg with the bridge's own RTP
// socket, in codec, and returns its call (registered, media not yet
// started). It answers from the INVITE's handler: sipgo ends the
// transaction when that returns. web is the console's call it answers,
// if any.
func (b *Bridge) accept(req *sip.Request, dlg *sipgo.DialogServerSession, offer callsdp.Media, codec callsdp.Codec, web *webCall) (*call, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.log.Error("bridge: RTP socket", "err", err)
		_ = dlg.Respond(500, "Server Internal Error", nil)
		return nil, err
	}
	ext, name := b.callerOf(req)
	c := newCall(b, conn, codec)
	c.dlg, c.id, c.caller, c.name, c.number = dlg, dlg.ID, ext, name, req.Recipient.User
	c.evPT = offer.EventPT // the answer takes it as offered
	if h := req.GetHeader(b2bua.CallIDHeader); h != nil {
		c.engineID = h.Value()
	}
	if offer.Addr.IsValid() {
		peer := offer.Addr
		c.peer.Store(&peer)
	}
	answer := callsdp.Session{ID: uint64(time.Now().UnixNano()), Version: 1, Addr: localAddr(conn), Codecs: []callsdp.Codec{codec},
		EventPT: offer.EventPT, Direction: callsdp.SendRecv}.Marshal()
	b.mu.Lock()
	b.calls[c.id] = c
	b.mu.Unlock()
	if web != nil && !web.attach(c) {
		_ = dlg.Respond(487, "Request Terminated", nil)
		c.cleanup()
		return nil, errors.New("hung up in the console")
	}
	if err := dlg.RespondSDP(answer); err != nil {
		b.log.Warn("bridge: answer not taken", "caller", c.caller, "err", err)
		c.cleanup()
		return nil, err
	}
	return c, nil
}

// newCall makes a call's media side on its RTP socket.
func newCall(b *Bridge, conn *net.UDPConn, codec callsdp.Codec) *call {
	c := &call{b: b, conn: conn, codec: codec, digits: make(chan rune, 32), done: make(chan struct{}), audio: make(chan []byte, 8),
		evPT: -1, keys: make(chan rune, 32)}
	c.enc, c.rate = newEncoder(codec.Name)
	var r [6]byte
	_, _ = rand.Read(r[:])
	c.ssrc, c.seq = binary.BigEndian.Uint32(r[:4]), binary.BigEndian.Uint16(r[4:])
	return c
}

// localAddr is where a call's RTP socket receives.
func localAddr(conn *net.UDPConn) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(conn.LocalAddr().(*net.UDPAddr).Port))
}

// pickCodec takes the first codec of the offer the bridge speaks.
func pickCodec(offered []callsdp.Codec) (callsdp.Codec, bool) {
	for _, c := range offered {
		if slices.Contains(callsdp.Supported, c.Name) && c.Rate == 8000 {
			return c, true
		}
	}
	return callsdp.Codec{}, false
}

// run plays the answered call through: PIN, meeting, hang-up.
func (c *call) run() {
	go c.readRTP()
	go c.sendRTP()
	c.b.log.Info("bridge: call answered", "caller", c.caller, "number", c.number, "codec", c.codec.Name)
	c.ivr()
}

// cleanup frees the call once it is over, however it ended.
func (c *call) cleanup() {
	c.end("")
	c.mu.Lock()
	leg, room := c.leg, c.room
	c.leg, c.room = nil, nil
	c.mu.Unlock()
	if room != nil {
		room.remove(c)
	}
	if leg != nil {
		leg.Leave()
	}
	c.conn.Close()
	c.b.mu.Lock()
	delete(c.b.calls, c.id)
	c.b.mu.Unlock()
	c.dlg.Close()
	c.mu.Lock()
	web := c.web
	c.mu.Unlock()
	if web != nil {
		web.finish(WebEnded, "the phone hung up")
	}
}

// end marks the call over; the phone hung up when why says so.
func (c *call) end(why string) {
	c.once.Do(func() {
		close(c.done)
		if why != "" {
			c.b.log.Info("bridge: call ended", "caller", c.caller, "why", why)
		}
	})
}

// hangup ends the call from civicd's side with a BYE.
func (c *call) hangup(why string) {
	select {
	case <-c.done:
		return
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.dlg.Bye(ctx)
	c.end(why)
}

// digit takes a key the phone pressed.
func (c *call) digit(d rune) {
	c.mu.Lock()
	p := c.player
	c.mu.Unlock()
	if p != nil && d != '*' {
		p.Interrupt() // keying stops the prompt
	}
	select {
	case c.digits <- d:
	default:
	}
}

// play plays prompts in order and returns when they are over (or were
// interrupted by a key, or the call ended). A browser call has none.
func (c *call) play(names ...string) {
	c.mu.Lock()
	web := c.web
	c.mu.Unlock()
	if web != nil {
		return
	}
	var clips [][]int16
	for _, n := range names {
		pcm, err := prompts.Get(c.b.cfg.Language, n, c.rate)
		if err != nil {
			c.b.log.Error("bridge: prompt", "prompt", n, "err", err)
			continue
		}
		clips = append(clips, pcm, prompts.Silence(c.rate, 300*time.Millisecond))
	}
	p, err := prompts.NewPlayer(c.rate, clips...)
	if err != nil {
		return
	}
	played := make(chan struct{})
	c.mu.Lock()
	if c.player != nil {
		c.player.Interrupt() // a new prompt replaces one still playing
		close(c.played)
	}
	c.player, c.played = p, played
	c.mu.Unlock()
	select {
	case <-c.done:
	case <-played:
	}
}

// sendRTP sends one packet every 20 ms: a prompt's frame, the room's mix,
// or silence. In a meeting the room's mixer sets the pace: each mixed
// frame is sent as it comes (or a prompt's frame in its place), so the
// mix and the sender never drift apart and no frame is lost between two
// clocks; the sender's own tick only keeps RTP flowing when the mix is
// late (a stalled machine) or the phone is not in a meeting yet.
func (c *call) sendRTP() {
	t := time.NewTicker(frame)
	defer t.Stop()
	samples := c.rate / 50
	silence := c.enc(nil, make([]int16, samples))
	buf := make([]byte, 0, 1500)
	payload := make([]byte, 0, 320)
	lastSent := time.Now()
	var key keyEvent
	for {
		var mixed []byte
		select {
		case <-c.done:
			return
		case mixed = <-c.audio:
			// More than one frame waiting means the sender fell behind:
			// play the newest, so the room is not heard late for ever.
			for len(c.audio) > 0 {
				mixed = <-c.audio
			}
		case now := <-t.C:
			c.mu.Lock()
			inRoom := c.room != nil
			c.mu.Unlock()
			if inRoom && now.Sub(lastSent) < 3*frame {
				continue // the mix sets the pace
			}
		}
		if key.next(c) {
			// A key goes out in this frame's place.
			lastSent = time.Now()
			continue
		}
		c.mu.Lock()
		p := c.player
		c.mu.Unlock()
		payload = payload[:0]
		if p != nil {
			if pcm, ok := p.Next(); ok {
				payload = c.enc(payload, pcm)
			} else {
				c.mu.Lock()
				if c.player == p {
					c.player = nil
					close(c.played)
				}
				c.mu.Unlock()
			}
		}
		if len(payload) == 0 {
			if mixed != nil {
				payload = append(payload, mixed...)
			} else {
				payload = append(payload, silence...)
			}
		}
		c.writeRTP(buf, rtp.Header{Version: 2, PayloadType: c.codec.PT, SequenceNumber: c.seq, Timestamp: c.ts, SSRC: c.ssrc}, payload)
		c.seq++
		c.ts += uint32(8000 / 50) // G.722's RTP clock is 8 kHz too (RFC 3551)
		lastSent = time.Now()
	}
}

// writeRTP sends one packet to the phone (through the relay), built in
// buf.
func (c *call) writeRTP(buf []byte, h rtp.Header, payload []byte) {
	out, err := h.MarshalTo(buf[:cap(buf)])
	if err != nil {
		return
	}
	n := copy(buf[out:cap(buf)], payload)
	if peer := c.peer.Load(); peer != nil {
		_, _ = c.conn.WriteToUDPAddrPort(buf[:out+n], *peer)
	}
}

// keyFrames is how many 20 ms frames a key sent as an RFC 4733 event
// lasts: 100 ms, then its end packet three times.
const keyFrames = 5

// keyEvent is the key being sent as an RFC 4733 event, in place of the
// audio, one packet a frame.
type keyEvent struct {
	active bool
	code   byte
	start  uint32 // the event's RTP timestamp
	frames int    // sent so far
}

// next sends this frame's packet of a key (starting the next queued one
// if none is under way) and reports whether it did. The audio's
// timestamp runs on under the event, so the audio resumes where it
// would have been.
func (k *keyEvent) next(c *call) bool {
	if !k.active {
		if c.evPT < 0 {
			return false
		}
		select {
		case d := <-c.keys:
			code, ok := dtmf.ToEvent(d)
			if !ok {
				return false
			}
			*k = keyEvent{active: true, code: code, start: c.ts}
		default:
			return false
		}
	}
	k.frames++
	end := k.frames >= keyFrames
	flags := byte(10) // volume: -10 dBm0
	if end {
		flags |= 0x80
	}
	dur := uint16(k.frames * 8000 / 50)
	payload := []byte{k.code, flags, byte(dur >> 8), byte(dur)}
	buf := make([]byte, 0, 64)
	copies := 1
	if end {
		copies = 3 // RFC 4733 §2.5.1.4: the end packet is sent three times
	}
	for range copies {
		c.writeRTP(buf, rtp.Header{Version: 2, Marker: k.frames == 1, PayloadType: uint8(c.evPT), SequenceNumber: c.seq, Timestamp: k.start, SSRC: c.ssrc}, payload)
		c.seq++
	}
	c.ts += uint32(8000 / 50)
	if end {
		k.active = false
	}
	return true
}

// readRTP takes the phone's packets (through the relay): its audio goes
// to the room while it is in a meeting. Keys come through DTMF.
func (c *call) readRTP() {
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		n, from, err := c.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if pkt.Unmarshal(buf[:n]) != nil || pkt.PayloadType != c.codec.PT || len(pkt.Payload) == 0 {
			continue
		}
		if peer := c.peer.Load(); peer == nil || *peer != from {
			c.peer.Store(&from) // latch on where the relay sends from
		}
		c.lastRTP.Store(time.Now().UnixNano())
		c.mu.Lock()
		leg, muted := c.leg, c.selfMuted
		c.mu.Unlock()
		if leg == nil || muted {
			continue
		}
		_ = leg.WriteRTP(&pkt, level(c.codec.Name, pkt.Payload))
	}
}

// level is a G.711 payload's loudness as RFC 6464 dBov (0 loudest, 127
// silent); -1 for codecs it does not read.
func level(codec string, payload []byte) int {
	var decode func(byte) int16
	switch codec {
	case "PCMU":
		decode = g711.UlawToLinear
	case "PCMA":
		decode = g711.AlawToLinear
	default:
		return -1
	}
	var sum float64
	for _, b := range payload {
		v := float64(decode(b))
		sum += v * v
	}
	rms := math.Sqrt(sum / float64(len(payload)))
	if rms < 1 {
		return 127
	}
	db := -20 * math.Log10(rms/32768)
	return int(min(max(db, 0), 127))
}

// ivr collects the PIN and puts the phone in its meeting.
func (c *call) ivr() {
	cfg := c.b.cfg
	room := cfg.Meetings.RoomOfNumber(c.number)
	if room == "" {
		c.play(prompts.NoMeeting)
		c.hangup("no meeting with number " + c.number)
		return
	}
	// A number of the right shape whose meeting does not exist (or has
	// ended) is told so at once, not after a PIN.
	ctx, cancel := context.WithTimeout(c.b.ctx, 10*time.Second)
	err := cfg.Meetings.CheckPIN(ctx, room, "")
	cancel()
	if errors.Is(err, ErrNoMeeting) {
		c.b.log.Info("bridge: dial-in to no meeting", "caller", c.caller, "number", c.number)
		c.play(prompts.NoMeeting)
		c.hangup("no meeting with number " + c.number)
		return
	}
	c.play(prompts.Welcome, prompts.EnterPIN)
	for tries := 0; ; {
		pin, ok := c.collect()
		if !ok {
			return // hung up
		}
		ctx, cancel := context.WithTimeout(c.b.ctx, 10*time.Second)
		err := cfg.Meetings.CheckPIN(ctx, room, pin)
		cancel()
		switch {
		case err == nil:
			c.join(room)
			return
		case errors.Is(err, ErrNoMeeting):
			c.play(prompts.NoMeeting)
			c.hangup("meeting " + room + " is over or gone")
			return
		case errors.Is(err, ErrBadPIN):
			tries++
			c.b.log.Warn("bridge: wrong PIN", "caller", c.caller, "room", room, "tries", tries)
			if cfg.OnPINFailed != nil {
				cfg.OnPINFailed(room, c.caller, tries)
			}
			if tries >= cfg.MaxTries {
				c.play(prompts.Goodbye)
				c.hangup("too many wrong PINs")
				return
			}
			c.play(prompts.WrongPIN, prompts.EnterPIN)
		default:
			c.b.log.Error("bridge: PIN check", "room", room, "err", err)
			c.hangup("PIN check failed")
			return
		}
	}
}

// collect reads digits up to # (a timeout between digits ends it early);
// false when the call ended.
func (c *call) collect() (string, bool) {
	var pin strings.Builder
	for {
		select {
		case <-c.done:
			return "", false
		case d := <-c.digits:
			if d == '#' {
				return pin.String(), true
			}
			if pin.Len() < 16 {
				pin.WriteRune(d)
			}
		case <-time.After(c.b.cfg.DigitTimeout):
			return pin.String(), true
		}
	}
}

// join puts the phone in the meeting, waiting for its host when it has
// not started, and keeps it there until either side ends.
func (c *call) join(room string) {
	cfg := c.b.cfg
	signals := make(chan string, 8)
	signal := func(kind string) {
		select {
		case signals <- kind:
		default:
		}
	}
	deadline := time.Now().Add(cfg.WaitForHost)
	waited := false
	var leg Leg
	for {
		ctx, cancel := context.WithTimeout(c.b.ctx, 10*time.Second)
		var err error
		leg, err = cfg.Meetings.JoinPhone(ctx, room, c.name, c.codec.Name, signal)
		cancel()
		if err == nil {
			break
		}
		switch {
		case errors.Is(err, ErrNotStarted) && time.Now().Before(deadline):
			if !waited {
				c.play(prompts.WaitingHost)
				waited = true
			}
			select {
			case <-c.done:
				return
			case <-time.After(2 * time.Second):
			}
			continue
		case errors.Is(err, ErrLocked):
			c.play(prompts.Locked)
			c.hangup("meeting " + room + " is locked")
		case errors.Is(err, ErrNotStarted):
			c.play(prompts.Goodbye)
			c.hangup("meeting " + room + " did not start in time")
		case errors.Is(err, ErrNoMeeting):
			c.play(prompts.NoMeeting)
			c.hangup("meeting " + room + " is over")
		default:
			c.b.log.Error("bridge: join", "room", room, "err", err)
			c.hangup("could not join meeting " + room)
		}
		return
	}
	rb, err := c.b.roomFor(room)
	if err != nil {
		c.b.log.Error("bridge: room audio", "room", room, "err", err)
		leg.Leave()
		c.hangup("no audio from meeting " + room)
		return
	}
	c.mu.Lock()
	c.leg, c.room = leg, rb
	c.mu.Unlock()
	rb.add(c)
	c.b.log.Info("bridge: phone in meeting", "caller", c.caller, "room", room, "participant", leg.ID(), "codec", c.codec.Name)
	c.play(prompts.Joined)
	hand := false
	star := false
	c.lastRTP.CompareAndSwap(0, time.Now().UnixNano())
	quiet := time.NewTicker(time.Second)
	defer quiet.Stop()
	for {
		select {
		case <-c.done:
			return
		case now := <-quiet.C:
			if last := c.lastRTP.Load(); now.Sub(time.Unix(0, last)) > cfg.RTPTimeout {
				c.b.log.Warn("bridge: no RTP from the phone; hanging up", "caller", c.caller, "room", room, "silent_for", now.Sub(time.Unix(0, last)).Round(time.Second))
				c.hangup("no RTP for " + cfg.RTPTimeout.String())
				return
			}
		case kind := <-signals:
			switch kind {
			case "removed", "ended":
				c.play(prompts.MeetingEnded)
				c.hangup("left meeting " + room + ": " + kind)
				return
			case "muted":
				c.play(prompts.Muted)
			case "unmuted":
				c.play(prompts.Unmuted)
			}
		case d := <-c.digits:
			if cfg.OnDTMF != nil {
				cfg.OnDTMF(room, leg.ID(), c.caller, d)
			}
			// *6 mutes or unmutes the phone itself; *9 raises or lowers
			// its hand.
			switch {
			case d == '*':
				star = true
				continue
			case star && d == '6':
				c.mu.Lock()
				c.selfMuted = !c.selfMuted
				muted := c.selfMuted
				c.mu.Unlock()
				if muted {
					c.play(prompts.Muted)
				} else {
					c.play(prompts.Unmuted)
				}
			case star && d == '9':
				hand = !hand
				leg.RaiseHand(hand)
				if hand {
					c.play(prompts.HandRaised)
				}
			}
			star = false
		}
	}
}
