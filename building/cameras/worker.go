package cameras

import (
	"context"
	"errors"
	mrand "math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"civic/building"
	"civic/building/cameras/h264"
	"civic/building/cameras/rtsp"
)

// worker runs one camera: its checks, its shared RTSP session, its
// health and its viewers.
type worker struct {
	s    *Service
	id   string
	wake chan struct{} // a viewer came, the settings changed, or the worker should stop
	done chan struct{}
	stop context.CancelFunc

	sessions   atomic.Int64   // RTSP sessions opened
	firstDelay time.Duration  // before the first check: cameras loaded at start spread theirs
	bg         sync.WaitGroup // the ONVIF event follower

	mu        sync.Mutex
	ctx       context.Context    // the worker's, once started
	evCancel  context.CancelFunc // ends the ONVIF event follower
	cam       Camera
	restart   bool // the settings changed: end the session in use
	viewers   map[*Viewer]struct{}
	lastView  time.Time // when the last viewer left
	meter     *meter
	deb       debouncer
	downSince time.Time
	why       string
	streaming bool
	codec     string
	width     int
	height    int
	sps, pps  []byte
}

func newWorker(s *Service, cam Camera) *worker {
	w := &worker{s: s, id: cam.ID, cam: cam, wake: make(chan struct{}, 1), done: make(chan struct{}),
		viewers: make(map[*Viewer]struct{}), meter: newMeter(5 * time.Second)}
	w.deb = debouncer{hold: s.cfg.Debounce, state: StateUnknown}
	if !cam.Enabled {
		w.deb.state = StateDisabled
	}
	return w
}

func (w *worker) start(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	w.stop = cancel
	w.mu.Lock()
	w.ctx = ctx
	w.mu.Unlock()
	w.restartEvents()
	go func() {
		defer close(w.done)
		w.run(ctx)
		w.bg.Wait()
	}()
}

// restartEvents (re)starts following the camera's ONVIF events, with its
// current settings.
func (w *worker) restartEvents() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.evCancel != nil {
		w.evCancel()
		w.evCancel = nil
	}
	if w.ctx == nil || w.ctx.Err() != nil || w.cam.ONVIFURL == "" || !w.cam.Enabled {
		return
	}
	ctx, cancel := context.WithCancel(w.ctx)
	w.evCancel = cancel
	w.bg.Add(1)
	go func() {
		defer w.bg.Done()
		w.pullEvents(ctx)
	}()
}

// poke wakes the worker if it waits.
func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// setCamera takes new settings: the session in use ends and the next one
// uses them. Switching the camera off or on shows at once.
func (w *worker) setCamera(c Camera) {
	w.mu.Lock()
	was := w.cam.Enabled
	w.cam, w.restart = c, true
	w.mu.Unlock()
	switch {
	case was && !c.Enabled:
		w.settle(time.Now(), StateDisabled, "")
	case !was && c.Enabled:
		w.settle(time.Now(), StateUnknown, "")
	}
	w.restartEvents()
	w.poke()
}

func (w *worker) camera() Camera {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cam
}

// takeCamera returns the settings for the next session; a restart asked
// for before now is done by using them.
func (w *worker) takeCamera() Camera {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.restart = false
	return w.cam
}

// wantLive reports whether viewers want the stream: one is watching, or
// the last left less than the grace period ago.
func (w *worker) wantLive(now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.viewers) > 0 || !w.lastView.IsZero() && now.Sub(w.lastView) < w.s.cfg.ViewerGrace
}

func (w *worker) run(ctx context.Context) {
	attempt := 0
	nextCheck := time.Now().Add(w.firstDelay) // zero delay for a camera just added: check now
	tick := time.NewTicker(w.s.cfg.EvalInterval)
	defer tick.Stop()
	// wait sleeps until t, a wake-up or the end, judging the camera as
	// time passes; it reports whether to go on.
	wait := func(t time.Time) bool {
		for {
			d := time.Until(t)
			if d <= 0 {
				return true
			}
			timer := time.NewTimer(d)
			select {
			case <-ctx.Done():
				timer.Stop()
				return false
			case <-w.wake:
				timer.Stop()
				return true
			case <-tick.C:
				timer.Stop()
				w.evaluate(time.Now())
			case <-timer.C:
				return true
			}
		}
	}
	for ctx.Err() == nil {
		cam := w.takeCamera()
		now := time.Now()
		if !cam.Enabled {
			w.settle(now, StateDisabled, "")
			if !wait(now.Add(time.Hour)) {
				return
			}
			continue
		}
		live := w.wantLive(now)
		if !live && now.Before(nextCheck) {
			if !wait(nextCheck) {
				return
			}
			continue
		}
		err := w.stream(ctx, cam, live)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			attempt = 0
			nextCheck = time.Now().Add(jitter(w.s.cfg.CheckInterval))
			continue
		}
		w.failed(time.Now(), err)
		delay := rtsp.Backoff(attempt)
		attempt++
		nextCheck = time.Now().Add(delay)
		if !wait(nextCheck) {
			return
		}
	}
}

// stream opens one RTSP session and plays it: for a check, SampleFor
// long; for viewers, until they have gone (plus the grace period). A nil
// error is a session that ended as planned.
func (w *worker) stream(ctx context.Context, cam Camera, live bool) error {
	opts := rtsp.Options{Transport: cam.Transport, Username: cam.Username, Password: cam.Password,
		Timeout: w.s.cfg.Timeout, Logger: w.s.log}
	sess, err := rtsp.Open(ctx, cam.RTSPURL, opts)
	if err != nil {
		return err
	}
	defer sess.Close()
	w.sessions.Add(1)
	st := w.begin(sess.Video)
	defer w.end()

	playCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	sampleEnd := time.Now().Add(w.s.cfg.SampleFor)
	var planned atomic.Bool
	go func() {
		tick := time.NewTicker(w.s.cfg.EvalInterval)
		defer tick.Stop()
		for {
			select {
			case <-playCtx.Done():
				return
			case <-tick.C:
			case <-w.wake:
			}
			now := time.Now()
			w.evaluate(now)
			w.mu.Lock()
			restart := w.restart
			w.restart = false
			w.mu.Unlock()
			if restart || !w.wantLive(now) && now.After(sampleEnd) {
				planned.Store(true)
				cancel()
				return
			}
		}
	}()
	err = sess.Play(playCtx, st.onPacket)
	if planned.Load() || ctx.Err() != nil {
		return nil
	}
	if err == nil {
		err = rtsp.ErrStalled
	}
	return err
}

// failed records a failure to get video.
func (w *worker) failed(now time.Time, err error) {
	why := reasonOf(err)
	w.mu.Lock()
	if w.downSince.IsZero() {
		w.downSince = now
		if !w.meter.lastFrame.IsZero() && w.meter.lastFrame.After(now.Add(-w.s.cfg.OfflineAfter)) {
			w.downSince = w.meter.lastFrame // it stopped sending then
		}
	}
	changed := w.why != why
	w.why = why
	w.mu.Unlock()
	if changed {
		w.s.log.Warn("camera: no video", "camera", w.id, "reason", why, "err", err)
	}
	w.evaluate(now)
}

// reasonOf turns an error from rtsp into a state reason.
func reasonOf(err error) string {
	var ne net.Error
	var se *rtsp.StatusError
	switch {
	case errors.Is(err, rtsp.ErrAuth):
		return ReasonAuth
	case errors.Is(err, rtsp.ErrNoVideo):
		return ReasonNoVideo
	case errors.Is(err, rtsp.ErrStalled):
		return ReasonStalled
	case errors.Is(err, rtsp.ErrMalformed), errors.Is(err, rtsp.ErrPacketTooLarge), errors.As(err, &se):
		return ReasonBadStream
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded):
		return ReasonUnreachable
	}
	return ReasonUnreachable
}

// stream is the state of one RTSP session's video, owned by the
// goroutine that reads it.
type streamState struct {
	w     *worker
	h264  bool
	asm   *h264.Assembler
	pack  *h264.Packetizer
	lost  bool // a loss broke the picture: viewers wait for a keyframe
	scrap []*Viewer
}

// begin starts the figures for a new session.
func (w *worker) begin(m rtsp.Media) *streamState {
	st := &streamState{w: w, h264: m.Codec == "H264"}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.meter.reset()
	w.streaming, w.codec = true, m.Codec
	if st.h264 {
		st.asm = h264.NewAssembler(w.s.cfg.MaxFrameBytes)
		st.pack = h264.NewPacketizer(1200, 102, 0)
		if sps, pps, err := h264.ParseSpropParameterSets(m.Fmtp["sprop-parameter-sets"]); err == nil {
			w.setParams(sps, pps)
		}
	}
	for v := range w.viewers {
		v.resync()
	}
	return st
}

// setParams keeps the stream's parameter sets and the picture size they
// give; w.mu is held.
func (w *worker) setParams(sps, pps []byte) {
	if len(sps) > 0 {
		w.sps = append(w.sps[:0], sps...)
		if p, err := h264.ParseSPS(sps); err == nil {
			w.width, w.height = p.Width, p.Height
		}
	}
	if len(pps) > 0 {
		w.pps = append(w.pps[:0], pps...)
	}
}

func (w *worker) end() {
	w.mu.Lock()
	w.streaming = false
	w.mu.Unlock()
}

// onPacket takes one video packet from the camera.
func (st *streamState) onPacket(pkt *rtp.Packet) {
	w := st.w
	now := time.Now()
	w.mu.Lock()
	w.meter.packet(now, pkt.Timestamp, len(pkt.Payload))
	// A camera is back once video has flowed for a second, not at its
	// first packet: one that stalls or breaks every time after a few
	// packets stays down.
	if !w.downSince.IsZero() && now.Sub(w.meter.started) >= time.Second && len(w.meter.frames) >= 2 {
		w.downSince, w.why = time.Time{}, ""
	}
	w.mu.Unlock()
	if !st.h264 {
		return
	}
	// A packet may finish the previous picture and be bad itself: the
	// picture goes out, then the loss counts.
	au, ok, err := st.asm.Push(pkt)
	if ok {
		st.access(now, au)
	}
	if err != nil {
		st.lost = true
		if !errors.Is(err, h264.ErrPacketLoss) {
			w.s.badFrames.Add(1)
		}
	}
}

// access handles one whole picture: its figures, then the viewers.
func (st *streamState) access(now time.Time, au h264.AccessUnit) {
	w := st.w
	w.mu.Lock()
	if au.Keyframe {
		w.meter.keyframe(now)
		var sps, pps []byte
		for _, n := range au.NALUs {
			switch h264.NALType(n) {
			case h264.NALSPS:
				sps = n
			case h264.NALPPS:
				pps = n
			}
		}
		if sps != nil && (len(sps) != len(w.sps) || string(sps) != string(w.sps)) || pps != nil && string(pps) != string(w.pps) {
			w.setParams(sps, pps)
		}
	}
	st.scrap = st.scrap[:0]
	for v := range w.viewers {
		st.scrap = append(st.scrap, v)
	}
	sps, pps := w.sps, w.pps
	w.mu.Unlock()
	if len(st.scrap) == 0 {
		st.lost = false
		return
	}
	if st.lost {
		for _, v := range st.scrap {
			v.resync()
		}
		st.lost = false
	}
	if au.Keyframe {
		au = h264.WithParameterSets(au, sps, pps)
	}
	pkts := st.pack.Packetize(au)
	for _, v := range st.scrap {
		v.write(pkts, au.Keyframe)
	}
}

// evaluate judges the camera now and announces a settled change.
func (w *worker) evaluate(now time.Time) {
	w.mu.Lock()
	if !w.cam.Enabled {
		w.mu.Unlock()
		return // switched off: the state says so, whatever a session in its last moments shows
	}
	j := judge{offlineAfter: w.s.cfg.OfflineAfter, minFPS: w.s.cfg.MinFPS, keyframeTimeout: w.s.cfg.KeyframeTimeout,
		checkKeyframes: w.codec == "H264"}
	state, why := j.state(now, w.meter, w.streaming, w.downSince, w.why)
	w.mu.Unlock()
	w.settle(now, state, why)
}

// settle offers a state to the debouncer and announces what settles.
func (w *worker) settle(now time.Time, state, why string) {
	w.mu.Lock()
	was := w.deb.state
	changed := w.deb.offer(now, state, why)
	st := w.statusLocked(now)
	w.mu.Unlock()
	if !changed {
		return
	}
	w.s.log.Info("camera state", "camera", st.ID, "state", st.State, "reason", st.Reason, "was", was)
	w.s.publish(Event{Kind: KindChanged, Camera: &st})
	switch {
	case st.State == StateDisabled:
		w.s.alarm(st.ID, building.AlarmCameraOffline, false, "camera "+st.Name+" was switched off")
	case st.State == StateOffline:
		w.s.alarm(st.ID, building.AlarmCameraOffline, true, "camera "+st.Name+" sends no video: "+st.Reason)
	case st.State == StateOnline || st.State == StateDegraded:
		// Back: also after a restart, when an alarm raised before it is
		// still open but the camera's last state here was unknown.
		if was != StateOnline && was != StateDegraded {
			w.s.alarm(st.ID, building.AlarmCameraOffline, false, "camera "+st.Name+" is back")
		}
	}
}

// status is the camera's live state.
func (w *worker) status(now time.Time) Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.statusLocked(now)
}

func (w *worker) statusLocked(now time.Time) Status {
	st := Status{ID: w.cam.ID, Name: w.cam.Name, State: w.deb.state, Reason: w.deb.reason, Since: w.deb.since,
		Codec: w.codec, Width: w.width, Height: w.height, LastFrame: w.meter.lastFrame, LastKeyframe: w.meter.lastKeyframe,
		LiveView: w.codec == "H264", Viewers: len(w.viewers), Streaming: w.streaming, Sessions: w.sessions.Load()}
	if w.streaming {
		st.FPS, st.BitrateKbps = w.meter.rates(now)
	} else {
		st.FPS, st.BitrateKbps = w.lastRates()
	}
	if st.State == StateOnline && w.codec != "" && !st.LiveView {
		st.Reason = ReasonCodec
	}
	st.FPS = float64(int(st.FPS*10+0.5)) / 10
	return st
}

// lastRates are the figures of the last sample, kept between checks.
func (w *worker) lastRates() (float64, int) {
	if w.meter.lastFrame.IsZero() || len(w.meter.frames) < 2 {
		return 0, 0
	}
	// Measure as of the last frame: the sample's own rate.
	return w.meter.rates(w.meter.lastFrame)
}

// jitter is d give or take 10 %, so checks that fell in step drift
// apart.
func jitter(d time.Duration) time.Duration {
	return d - d/10 + time.Duration(mrand.Int64N(int64(d/5)+1))
}
