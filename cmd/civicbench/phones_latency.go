package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"civic/voip/audio/g711"
)

// Tone bursts of the latency part: a 1 kHz tone for 300 ms at the start
// of every second, silence for the other 700 ms.
const (
	latFreq       = 1000
	latPeriod     = 50 // frames of 20 ms
	latToneFrames = 15
	latMatch      = 500 * time.Millisecond // an onset heard later than this after it was sent is missed
)

// onsetLog is the onsets one side sent and the other detected.
type onsetLog struct {
	mu      sync.Mutex
	sent    []int64
	tracker *onsetTracker
	frames  atomic.Uint64 // frames examined
}

func newOnsetLog() *onsetLog { return &onsetLog{tracker: newOnsetTracker(3)} }

func (o *onsetLog) markSent(at int64) {
	o.mu.Lock()
	o.sent = append(o.sent, at)
	o.mu.Unlock()
}

// heard examines received PCM, cut into 20 ms frames at rate Hz.
func (o *onsetLog) heard(at int64, pcm []int16, rate int) {
	n := rate / 50
	o.mu.Lock()
	defer o.mu.Unlock()
	for len(pcm) >= n {
		o.tracker.frame(at, toneFrame(pcm[:n], rate, latFreq))
		o.frames.Add(1)
		pcm = pcm[n:]
	}
}

func (o *onsetLog) result() ([]time.Duration, int, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	lat, missed := matchOnsets(o.sent, o.tracker.Onsets, latMatch)
	return lat, missed, len(o.sent)
}

// phonesLatency measures the delay the bridge adds, by tone onset: a
// phone's PCMU tone to a browser (forwarded as it comes), and a
// browser's Opus tone to a phone (decoded, mixed, encoded for it).
func phonesLatency(ctx context.Context, cfg phConfig, w io.Writer) error {
	const part = "phones-latency"
	n := cfg.onsets
	// The browser's Opus: a second of silence, then n+1 bursts, each at
	// the start of a second, as one encoder run (as a browser's stream).
	expr := fmt.Sprintf("aevalsrc=exprs='if(gte(t\\,1)*lt(mod(t\\,1)\\,%g)\\,0.5*sin(2*PI*%d*t)\\,0)':s=48000:d=%d",
		float64(latToneFrames)/latPeriod, latFreq, n+3)
	opus, err := opusPackets(cfg.FFmpeg, expr)
	if err != nil {
		return err
	}
	d, sipAddr, err := phoneDaemon(ctx, cfg, part)
	if err != nil {
		return err
	}
	defer d.stop()
	defer os.WriteFile(filepath.Join(cfg.Dir, part, "civicd.log"), []byte(d.logs.tail(1<<20)+"\n"), 0o600)
	m, err := setupMeeting(ctx, d, 1)
	if err != nil {
		return err
	}
	defer m.Admin.Close()
	api, err := loopbackAPI(cfg.Verbose)
	if err != nil {
		return err
	}
	clk := newClock()

	toBrowser, toPhone := newOnsetLog(), newOnsetLog()
	var mime atomic.Value
	mime.Store("")
	br, err := joinBrowser(ctx, d, m.Token, m.Room, api, clk, func(t *webrtc.TrackRemote) {
		if t.Kind() != webrtc.RTPCodecTypeAudio {
			return
		}
		mime.Store(t.Codec().MimeType)
		pcmu := strings.EqualFold(t.Codec().MimeType, webrtc.MimeTypePCMU)
		var pcm []int16
		for {
			pkt, _, err := t.ReadRTP()
			if err != nil {
				return
			}
			if pcmu {
				pcm = g711.DecodeUlaw(pcm[:0], pkt.Payload)
				toBrowser.heard(clk.now(), pcm, 8000)
			}
		}
	})
	if err != nil {
		return err
	}
	defer br.leave()
	// The browser sends Opus silence until phase b starts, then the
	// bursts from the top, marking each onset as it is written.
	var opusFrom atomic.Int64
	opusFrom.Store(-1)
	var opusMu sync.Mutex
	idx := 0
	if err := br.s.PublishSamples(ctx, webrtc.MimeTypeOpus, 20*time.Millisecond, func() []byte {
		opusMu.Lock()
		defer opusMu.Unlock()
		if opusFrom.Load() < 0 {
			return opus[1] // silence
		}
		p := opus[min(idx, len(opus)-1)]
		if idx >= latPeriod && idx%latPeriod == 0 && idx/latPeriod <= n {
			toPhone.markSent(clk.now())
		}
		idx++
		return p
	}); err != nil {
		return fmt.Errorf("publish: %w", err)
	}

	// The phone: silence until phase a starts, then a burst of 1 kHz at
	// the start of every second, marking each onset as it is sent.
	leg := newPhoneLeg(0, clk)
	defer leg.hangup()
	var phoneOn atomic.Bool
	frame, sample := 0, 0
	leg.source = func(now int64) []byte {
		if !phoneOn.Load() || frame/latPeriod >= n {
			return nil
		}
		defer func() { frame++ }()
		if frame%latPeriod >= latToneFrames {
			return nil
		}
		if frame%latPeriod == 0 {
			toBrowser.markSent(now)
		}
		p := pcmuTone(latFreq, 8000, sample)
		sample += 160
		return p
	}
	var phonePCM []int16
	leg.sink = func(at int64, pkt *rtp.Packet) {
		if pkt.PayloadType != 0 {
			return
		}
		phonePCM = g711.DecodeUlaw(phonePCM[:0], pkt.Payload)
		toPhone.heard(at, phonePCM, 8000)
	}
	if err := leg.call(ctx, sipAddr, m.Number); err != nil {
		return err
	}
	if err := sleep(ctx, 500*time.Millisecond); err != nil {
		return err
	}
	leg.keys(m.PIN + "#")
	if err := waitPhonesIn(ctx, d, 1, 30*time.Second); err != nil {
		return err
	}
	if err := sleep(ctx, 5*time.Second); err != nil { // the "you are now in the meeting" prompt
		return err
	}
	cfg.Log.Info("phone in; phase a")
	phoneOn.Store(true)
	if err := sleep(ctx, time.Duration(n)*time.Second+time.Second); err != nil {
		return err
	}
	cfg.Log.Info("phase b")
	opusFrom.Store(0)
	if err := sleep(ctx, time.Duration(n+1)*time.Second+time.Second); err != nil {
		return err
	}

	latA, missA, sentA := toBrowser.result()
	latB, missB, sentB := toPhone.result()
	fmt.Fprintf(w, "### phones-latency: added latency by tone onset\n\n")
	fmt.Fprintf(w, "One meeting, one phone (a Go SIP user agent, PCMU) and one browser (pion), both in this process, one clock. Every second a 1 kHz burst of %d ms starts, then %d ms of silence; the receiver cuts what it decodes into 20 ms frames, runs a Goertzel detector at 1 kHz on each (tone share ≥ %.2f of the frame's power and RMS ≥ %d) and takes as the onset the arrival of the first tone frame after at least 3 without. Latency = that arrival − the instant the first tone frame was written (the phone's RTP socket write; the browser's `WriteSample`). The resolution is one 20 ms frame; the browser→phone figure also holds the Opus encoder's 6.5 ms look-ahead, which a browser has too.\n\n",
		latToneFrames*20, (latPeriod-latToneFrames)*20, toneShare, toneRMS)
	fmt.Fprintf(w, "| direction | path in civicd | onsets sent | detected | p50 | p95 | max | min |\n|---|---|---|---|---|---|---|---|\n")
	row := func(name, path string, lat []time.Duration, miss, sent int) {
		s := summarize(lat)
		lo := time.Duration(0)
		if q := quantiles(lat, 1e-9); len(lat) > 0 {
			lo = q[0]
		}
		fmt.Fprintf(w, "| %s | %s | %d | %d | %s | %s | %s | %s |\n", name, path, sent, sent-miss, dur(s.P50), dur(s.P95), dur(s.Max), dur(lo))
	}
	row("phone → browser", fmt.Sprintf("call engine's RTP relay → bridge → SFU, PCMU forwarded as it comes (the browser got %s)", mime.Load()), latA, missA, sentA)
	row("browser → phone", "SFU → room tap → Opus decode → 48 kHz mix (20 ms tick) → resample, PCMU encode → relay", latB, missB, sentB)
	fmt.Fprintln(w)
	verdict := func(lat []time.Duration, miss int) string {
		if len(lat) == 0 {
			return "no onset detected"
		}
		s := summarize(lat)
		if s.P95 < 150*time.Millisecond && miss == 0 {
			return fmt.Sprintf("p95 %s, under the 150 ms target", dur(s.P95))
		}
		return fmt.Sprintf("p95 %s, %d missed: NOT under the 150 ms target", dur(s.P95), miss)
	}
	fmt.Fprintf(w, "Phone → browser: %s. Browser → phone: %s. Frames examined: %d at the browser, %d at the phone.\n\n", verdict(latA, missA), verdict(latB, missB), toBrowser.frames.Load(), toPhone.frames.Load())
	return nil
}
