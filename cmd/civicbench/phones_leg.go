package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"civic/voip/audio/g711"
	"civic/voip/callsdp"
	"civic/voip/dtmf"
)

// phoneLeg is one desk phone: a SIP user agent of its own (one UDP
// socket for SIP, one for RTP) that calls through civicd's call engine as
// its extension, keys digits as RFC 4733 telephone-events (PT 101) and
// sends a PCMU frame every 20 ms from source, and counts (and hands to
// sink) the RTP it receives.
type phoneLeg struct {
	ext, password string
	clk           *clock
	// source gives the next 160-byte PCMU payload; now is when it is
	// sent. Nil: silence.
	source func(now int64) []byte
	// sink, if not nil, gets every received packet, with when it came.
	sink func(at int64, pkt *rtp.Packet)

	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	client  *sipgo.Client
	sipConn net.PacketConn
	rtpConn *net.UDPConn
	dlg     *sipgo.DialogClientSession
	remote  netip.AddrPort
	byed    chan struct{}
	stop    chan struct{}
	wg      sync.WaitGroup

	keyMu   sync.Mutex
	pending []rune

	rx phoneRx
}

// phoneRx is what a phone received: everything, and in the clock's
// window the packets, the sequence numbers skipped, the longest time
// between two packets and how many times that was over gapLimit.
type phoneRx struct {
	total        atomic.Uint64
	pkts, lost   atomic.Uint64
	gaps         atomic.Uint64
	maxInterval  atomic.Int64
	lastAt       int64 // receiver goroutine only
	lastSeq      uint16
	seen         bool
	sentAudio    atomic.Uint64
	sentInWindow atomic.Uint64
	silentFrames atomic.Uint64 // received in the window with no sound (phones-bridge)
}

// gapLimit is an inter-arrival time that counts as a gap in what a phone
// hears (the mix is sent every 20 ms).
const gapLimit = 60 * time.Millisecond

func newPhoneLeg(i int, clk *clock) *phoneLeg {
	return &phoneLeg{ext: phoneExt(i), password: phonePassword(i), clk: clk, byed: make(chan struct{}), stop: make(chan struct{})}
}

// call places the call to number at civicd's SIP address, answering the
// digest challenge, and starts the RTP.
func (l *phoneLeg) call(ctx context.Context, sipAddr, number string) error {
	var err error
	if l.sipConn, err = net.ListenPacket("udp4", "127.0.0.1:0"); err != nil {
		return err
	}
	if l.rtpConn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		return err
	}
	port := l.sipConn.LocalAddr().(*net.UDPAddr).Port
	quiet := slog.New(slog.DiscardHandler)
	if l.ua, err = sipgo.NewUA(sipgo.WithUserAgentHostname("127.0.0.1"), sipgo.WithUserAgent("civicbench-phone")); err != nil {
		return err
	}
	if l.srv, err = sipgo.NewServer(l.ua, sipgo.WithServerLogger(quiet)); err != nil {
		return err
	}
	if l.client, err = sipgo.NewClient(l.ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(port), sipgo.WithClientLogger(quiet)); err != nil {
		return err
	}
	var byeOnce sync.Once
	l.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		byeOnce.Do(func() { close(l.byed) })
	})
	l.srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	go func() { _ = l.srv.ServeUDP(l.sipConn) }()

	host, p, err := net.SplitHostPort(sipAddr)
	if err != nil {
		return err
	}
	var sport int
	fmt.Sscan(p, &sport)
	uri := sip.Uri{Scheme: "sip", User: number, Host: host, Port: sport}
	local := l.rtpConn.LocalAddr().(*net.UDPAddr)
	offer := callsdp.Session{ID: rand.Uint64N(1 << 32), Version: 1, Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(local.Port)),
		Codecs: []callsdp.Codec{{PT: 0, Name: "PCMU", Rate: 8000}}, EventPT: 101, Direction: callsdp.SendRecv}.Marshal()
	req := sip.NewRequest(sip.INVITE, uri)
	req.SetBody(offer)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	from := &sip.FromHeader{DisplayName: "Bench phone " + l.ext, Address: sip.Uri{Scheme: "sip", User: l.ext, Host: host}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: uri, Params: sip.NewParams()})
	req.SetDestination(sipAddr)
	dua := sipgo.DialogUA{Client: l.client, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: l.ext, Host: "127.0.0.1", Port: port}}}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	dlg, err := dua.WriteInvite(cctx, req)
	if err != nil {
		return fmt.Errorf("phone %s: INVITE: %w", l.ext, err)
	}
	if err := dlg.WaitAnswer(cctx, sipgo.AnswerOptions{Username: l.ext, Password: l.password}); err != nil {
		var de *sipgo.ErrDialogResponse
		if errors.As(err, &de) {
			return fmt.Errorf("phone %s: the call was answered %d %s", l.ext, de.Res.StatusCode, de.Res.Reason)
		}
		return fmt.Errorf("phone %s: %w", l.ext, err)
	}
	if err := dlg.Ack(cctx); err != nil {
		return fmt.Errorf("phone %s: ACK: %w", l.ext, err)
	}
	l.dlg = dlg
	answer, err := callsdp.Parse(dlg.InviteResponse.Body())
	if err != nil {
		return fmt.Errorf("phone %s: answer: %w", l.ext, err)
	}
	l.remote = answer.Addr
	l.wg.Add(2)
	go l.receive()
	go l.send()
	return nil
}

// keys queues digits to key as telephone-events.
func (l *phoneLeg) keys(s string) {
	l.keyMu.Lock()
	l.pending = append(l.pending, []rune(s)...)
	l.keyMu.Unlock()
}

// send writes a frame every 20 ms: a key's telephone-event packets while
// one is being keyed (three, then three with the end bit: 120 ms, and
// 60 ms of audio between keys), otherwise PCMU from source.
func (l *phoneLeg) send() {
	defer l.wg.Done()
	silence := make([]byte, 160)
	for i := range silence {
		silence[i] = 0xff // μ-law zero
	}
	ssrc := rand.Uint32()
	seq := uint16(rand.Uint32())
	ts := rand.Uint32()
	var (
		key      rune
		keyStep  = -1 // packet of the current key, or -1
		keyTS    uint32
		keyPause int
	)
	buf := make([]byte, 12+160)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-l.byed:
			return
		case <-tick.C:
		}
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc}}
		if keyStep < 0 && keyPause == 0 {
			l.keyMu.Lock()
			if len(l.pending) > 0 {
				key, l.pending = l.pending[0], l.pending[1:]
				keyStep, keyTS = 0, ts
			}
			l.keyMu.Unlock()
		}
		now := l.clk.now()
		if keyStep >= 0 {
			flags := byte(10) // volume -10 dBm0
			if keyStep >= 3 {
				flags |= 0x80 // end
			}
			dur := uint16(160 * min(keyStep+1, 4))
			pkt.PayloadType, pkt.Timestamp, pkt.Marker = 101, keyTS, keyStep == 0
			code, _ := dtmf.ToEvent(key)
			pkt.Payload = []byte{code, flags, byte(dur >> 8), byte(dur)}
			keyStep++
			if keyStep == 6 {
				keyStep, keyPause = -1, 3
			}
		} else {
			if keyPause > 0 {
				keyPause--
			}
			pl := silence
			if l.source != nil {
				if p := l.source(now); p != nil {
					pl = p
				}
			}
			pkt.PayloadType, pkt.Payload = 0, pl
			l.rx.sentAudio.Add(1)
			if l.clk.in(now) {
				l.rx.sentInWindow.Add(1)
			}
		}
		n, err := pkt.MarshalTo(buf[:cap(buf)])
		if err != nil {
			continue
		}
		if _, err := l.rtpConn.WriteToUDPAddrPort(buf[:n], l.remote); err != nil {
			return
		}
		seq++
		ts += 160
	}
}

// receive counts what comes from civicd and hands it to sink.
func (l *phoneLeg) receive() {
	defer l.wg.Done()
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	r := &l.rx
	for {
		n, err := l.rtpConn.Read(buf)
		if err != nil {
			return
		}
		at := l.clk.now()
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		r.total.Add(1)
		if l.clk.in(at) {
			r.pkts.Add(1)
			if r.seen {
				if d := pkt.SequenceNumber - r.lastSeq; d > 1 && d < 1000 {
					r.lost.Add(uint64(d - 1))
				}
				if l.clk.in(r.lastAt) {
					iv := at - r.lastAt
					if iv > r.maxInterval.Load() {
						r.maxInterval.Store(iv)
					}
					if iv > int64(gapLimit) {
						r.gaps.Add(1)
					}
				}
			}
		}
		r.seen, r.lastSeq, r.lastAt = true, pkt.SequenceNumber, at
		if l.sink != nil {
			l.sink(at, &pkt)
		}
	}
}

// hangup sends BYE (if civicd has not) and closes everything.
func (l *phoneLeg) hangup() {
	select {
	case <-l.stop:
		return
	default:
		close(l.stop)
	}
	if l.dlg != nil {
		select {
		case <-l.byed:
		default:
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = l.dlg.Bye(ctx)
			cancel()
		}
		_ = l.dlg.Close()
	}
	if l.rtpConn != nil {
		l.rtpConn.Close()
	}
	l.wg.Wait()
	if l.client != nil {
		l.client.Close()
	}
	if l.srv != nil {
		l.srv.Close()
	}
	if l.ua != nil {
		l.ua.Close()
	}
	if l.sipConn != nil {
		l.sipConn.Close()
	}
}

// pcmuTone is a 160-sample PCMU frame (20 ms at 8 kHz) of a sine of freq
// Hz and amplitude amp, starting at phase sample n (so that frames follow
// one another without a click).
func pcmuTone(freq, amp float64, n int) []byte {
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(n+i)/8000))
	}
	return g711.EncodeUlaw(nil, pcm)
}
