package cameras

import (
	"time"
)

// meter measures a stream's frame flow over a sliding window: frames
// (a frame is the packets of one RTP timestamp), bytes and keyframes.
// The owner serialises calls.
type meter struct {
	window time.Duration
	frames []frameMark // arrival time and size of each frame in the window, oldest first
	lastTS uint32
	began  bool // a packet was seen, so lastTS means something

	lastFrame    time.Time
	lastKeyframe time.Time
	started      time.Time // the first frame of the current stream
}

type frameMark struct {
	at    time.Time
	bytes int
}

func newMeter(window time.Duration) *meter { return &meter{window: window} }

// reset starts over for a new stream (the last frame times stay: they
// are the camera's, not the stream's).
func (m *meter) reset() {
	m.frames = m.frames[:0]
	m.began = false
	m.started = time.Time{}
}

// packet counts one RTP packet of payload n bytes with timestamp ts.
func (m *meter) packet(now time.Time, ts uint32, n int) {
	if !m.began || ts != m.lastTS {
		m.began, m.lastTS = true, ts
		m.frames = append(m.frames, frameMark{at: now})
		m.lastFrame = now
		if m.started.IsZero() {
			m.started = now
		}
		m.trim(now)
	}
	m.frames[len(m.frames)-1].bytes += n
}

// keyframe notes that a keyframe arrived.
func (m *meter) keyframe(now time.Time) { m.lastKeyframe = now }

// trim drops frames older than the window. It keeps the slice's storage,
// moving the live part to the front when it is more than half dead.
func (m *meter) trim(now time.Time) {
	cut := 0
	for cut < len(m.frames) && now.Sub(m.frames[cut].at) > m.window {
		cut++
	}
	if cut == 0 {
		return
	}
	n := copy(m.frames, m.frames[cut:])
	m.frames = m.frames[:n]
}

// rates returns frames and kilobits per second over the window (or over
// the stream so far, when it is younger than the window).
func (m *meter) rates(now time.Time) (fps float64, kbps int) {
	m.trim(now)
	if len(m.frames) < 2 {
		return 0, 0
	}
	span := m.window
	if age := now.Sub(m.started); age < span {
		span = m.frames[len(m.frames)-1].at.Sub(m.frames[0].at)
		if span <= 0 {
			return 0, 0
		}
		// n frames span n-1 intervals.
		fps = float64(len(m.frames)-1) / span.Seconds()
	} else {
		fps = float64(len(m.frames)) / span.Seconds()
	}
	bytes := 0
	for _, f := range m.frames {
		bytes += f.bytes
	}
	return fps, int(float64(bytes) * 8 / 1000 / span.Seconds())
}

// judge is the state a camera's figures call for, before debouncing.
// streaming says frames are expected now; downSince is when the camera
// stopped delivering (zero: it is not failing); why is the last
// failure's reason.
type judge struct {
	offlineAfter    time.Duration
	minFPS          float64
	keyframeTimeout time.Duration
	checkKeyframes  bool // the codec's keyframes are known (H.264)
}

func (j judge) state(now time.Time, m *meter, streaming bool, downSince time.Time, why string) (string, string) {
	if !downSince.IsZero() {
		if now.Sub(downSince) >= j.offlineAfter {
			return StateOffline, why
		}
		return "", "" // failing, but not for long enough to tell
	}
	if m.lastFrame.IsZero() {
		return "", ""
	}
	if !streaming {
		return "", "" // between checks: the last verdict stands
	}
	running := now.Sub(m.started)
	if running < 2*time.Second {
		return "", "" // too soon to measure a rate
	}
	if fps, _ := m.rates(now); fps < j.minFPS {
		return StateDegraded, ReasonLowFPS
	}
	if j.checkKeyframes && running >= j.keyframeTimeout && now.Sub(m.lastKeyframe) >= j.keyframeTimeout {
		return StateDegraded, ReasonNoKeyframe
	}
	return StateOnline, ""
}

// debouncer holds a state until a new one has persisted for hold, so a
// camera on the edge does not flap in the console and the alarm queue.
// Going offline and coming back are not held: the offline rule already
// waits, and staff want to know at once that a camera is back.
type debouncer struct {
	hold    time.Duration
	state   string
	reason  string
	since   time.Time
	pending string
	pendAt  time.Time
	pendWhy string
}

// offer proposes a state; it returns true when the settled state changed.
func (d *debouncer) offer(now time.Time, state, reason string) bool {
	if state == "" {
		d.pending = ""
		return false
	}
	if state == d.state {
		d.pending = ""
		if reason != d.reason && state != StateOnline {
			d.reason = reason
			return true
		}
		return false
	}
	immediate := state == StateOffline || d.state == StateOffline || d.state == StateUnknown || d.state == StateDisabled ||
		state == StateDisabled
	if !immediate {
		if d.pending != state {
			d.pending, d.pendAt, d.pendWhy = state, now, reason
			return false
		}
		if now.Sub(d.pendAt) < d.hold {
			d.pendWhy = reason
			return false
		}
	}
	d.state, d.reason, d.since, d.pending = state, reason, now, ""
	return true
}
