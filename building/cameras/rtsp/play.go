package rtsp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// errUDPSilent ends a UDP attempt in auto mode: nothing came within
// udpProbe, so a firewall or NAT is eating the datagrams.
var errUDPSilent = errors.New("rtsp: no UDP packets")

// Play sends PLAY and calls onPacket with each video RTP packet until
// ctx ends (it returns ctx.Err()), Close is called (ErrClosed), or the
// stream fails: ErrStalled when no RTP came for Options.Timeout, a
// connection error, ErrPacketTooLarge, or ErrMalformed for a bad frame.
//
// onPacket runs on one goroutine at a time, and the packet and its
// payload are reused after it returns: copy what must outlive the call.
// A slow onPacket holds up reading, and over TCP slows the camera down.
//
// While playing, Play keeps the session alive with GET_PARAMETER (or
// OPTIONS, when the server's Public header lacks GET_PARAMETER) at half
// the server's session timeout. RTCP is read and dropped. Play may be
// called once per Session.
func (s *Session) Play(ctx context.Context, onPacket func(*rtp.Packet)) error {
	s.mu.Lock()
	if s.closed || s.played {
		s.mu.Unlock()
		return ErrClosed
	}
	s.played = true
	l := s.l
	s.mu.Unlock()

	err := s.play(ctx, l, onPacket, s.o.Transport == TransportAuto && !l.tcp)
	if errors.Is(err, errUDPSilent) && ctx.Err() == nil {
		s.log.Info("rtsp: no UDP packets within the probe time, falling back to TCP", "probe", udpProbe)
		l.teardown()
		l.close()
		l, err = s.connect(ctx, TransportTCP)
		if err == nil {
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				l.teardown()
				l.close()
				return ErrClosed
			}
			s.l = l
			s.mu.Unlock()
			err = s.play(ctx, l, onPacket, false)
		}
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return err
}

// play runs one PLAY on l until the first failure, which it returns.
// probe arms auto mode's UDP silence check.
func (s *Session) play(parent context.Context, l *link, onPacket func(*rtp.Packet), probe bool) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	if err := l.c.startDemux(ctx); err != nil {
		return err
	}
	// Readers block in the kernel; when anything ends the play, a past
	// deadline wakes them all.
	stop := context.AfterFunc(ctx, func() {
		_ = l.c.nc.SetReadDeadline(past)
		if l.udp != nil {
			_ = l.udp.rtp.SetReadDeadline(past)
			_ = l.udp.rtcp.SetReadDeadline(past)
		}
	})
	defer stop()

	var packets, bad atomic.Uint64
	deliverer := func() func([]byte) {
		var pkt rtp.Packet // one per reading goroutine, reused
		return func(b []byte) {
			if err := pkt.Unmarshal(b); err != nil || pkt.Version != 2 {
				// One bad packet is not worth the stream; a camera that
				// sends only bad ones runs into ErrStalled.
				if bad.Add(1) == 1 {
					s.log.Debug("rtsp: dropping packets that are not RTP", "err", err)
				}
				return
			}
			packets.Add(1)
			onPacket(&pkt)
		}
	}

	var wg sync.WaitGroup
	tcpDeliver := deliverer()
	wg.Go(func() {
		cancel(readFailed("control connection", l.c.readLoop(func(ch byte, payload []byte) error {
			if l.tcp && ch == l.rtpCh {
				tcpDeliver(payload)
			}
			return nil // RTCP and unknown channels are dropped
		})))
	})
	if l.udp != nil {
		wg.Go(func() { cancel(readFailed("UDP RTP", l.udp.readRTP(s.o.MaxPacket, deliverer()))) })
		wg.Go(func() { cancel(readFailed("UDP RTCP", l.udp.drainRTCP())) })
	}
	// No Range header: for a live camera "from 0" means nothing, and
	// GStreamer answers it with a seek that fails (503) while a shared
	// media is changing state.
	if _, err := l.c.do(ctx, "PLAY", l.aggregate); err != nil {
		cancel(err)
	} else {
		wg.Go(func() { s.keepalive(ctx, cancel, l) })
		wg.Go(func() { s.watch(ctx, cancel, &packets, probe) })
	}
	<-ctx.Done()
	wg.Wait()
	return context.Cause(ctx)
}

// readFailed adds context to a reader's error, unless it is already one
// of ours and says enough.
func readFailed(what string, err error) error {
	if errors.Is(err, ErrMalformed) || errors.Is(err, ErrPacketTooLarge) {
		return err
	}
	return fmt.Errorf("rtsp: %s: %w", what, err)
}

// watch ends the play when packets stop: ErrStalled after Timeout, or
// errUDPSilent when probing and nothing came within udpProbe.
func (s *Session) watch(ctx context.Context, cancel context.CancelCauseFunc, packets *atomic.Uint64, probe bool) {
	// Counting packets and checking on a ticker costs the hot path one
	// atomic add, where a timer reset per packet would cost far more.
	t := time.NewTicker(min(max(s.o.Timeout/8, 10*time.Millisecond), 250*time.Millisecond))
	defer t.Stop()
	start := time.Now()
	last, changed := packets.Load(), start
	probeFor := min(udpProbe, s.o.Timeout) // before ErrStalled could strike
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// time.Now, not the tick's time: a tick can be read late, after
			// packets that came later than its time.
			now, n := time.Now(), packets.Load()
			switch {
			case n != last:
				last, changed = n, now
			case probe && n == 0 && now.Sub(start) >= probeFor:
				cancel(errUDPSilent)
				return
			case now.Sub(changed) >= s.o.Timeout:
				cancel(fmt.Errorf("%w: no RTP for %v", ErrStalled, s.o.Timeout))
				return
			}
		}
	}
}

// keepalive refreshes the session at half its timeout (RFC 2326 12.37).
// A refused keepalive is not fatal (the stall check judges the stream),
// but a broken connection or lost authorisation is.
func (s *Session) keepalive(ctx context.Context, cancel context.CancelCauseFunc, l *link) {
	method := "OPTIONS"
	if l.c.getParam {
		method = "GET_PARAMETER"
	}
	t := time.NewTicker(l.keepalive)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, err := l.c.do(ctx, method, l.aggregate)
		var se *StatusError
		switch {
		case err == nil, ctx.Err() != nil:
		case errors.Is(err, ErrAuth) || errors.Is(err, ErrMalformed):
			cancel(err)
			return
		case method == "GET_PARAMETER":
			// Some cameras list GET_PARAMETER and then refuse or ignore
			// it; every camera answers OPTIONS.
			s.log.Debug("rtsp: GET_PARAMETER failed, keeping alive with OPTIONS", "err", err)
			method = "OPTIONS"
		case errors.As(err, &se):
			s.log.Warn("rtsp: keepalive refused", "status", se.Code)
		default:
			// No answer in time: say so, and let the stall check decide.
			s.log.Warn("rtsp: keepalive failed", "err", err)
		}
	}
}

// Close sends TEARDOWN, waiting for its answer at most 2 s, and closes
// the sockets, which ends a running Play. It is idempotent and safe to
// call while Play runs; it always returns nil.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	l := s.l
	s.mu.Unlock()
	l.teardown()
	l.close()
	return nil
}

// teardown ends the server's session, best effort: a TEARDOWN nobody
// answers is no reason to keep a camera's socket open.
func (l *link) teardown() {
	ctx, cancel := context.WithTimeout(context.Background(), teardownTimeout)
	defer cancel()
	if _, err := l.c.do(ctx, "TEARDOWN", l.aggregate); err != nil && !errors.Is(err, errBroken) {
		l.c.log.Debug("rtsp: TEARDOWN", "err", err)
	}
}
