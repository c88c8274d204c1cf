package e2e

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"civic/conference/confclient"
	"civic/internal/phonetest"
)

// TestBrowserCallsDeskPhone (issue 7): an official calls a desk phone
// from the console directory, and audio flows both ways (the phone's
// 440 Hz tone plays in the browser in PCMU; the phone records the
// browser's fake microphone, 400 Hz beeps). Then the desk phone calls
// the official's extension, which has no phone of its own: it rings in
// her console as an incoming-call popup, she answers there, and the
// audio flows again. Both calls are in the call records.
func TestBrowserCallsDeskPhone(t *testing.T) {
	phonetest.Lookup(t)
	browser := newBrowser(t)
	d := startDaemon(t, daemonConfig{Env: []string{"CIVIC_SIP_DIGEST_ALGORITHMS=MD5", "CIVIC_SIP_RTP_PORTS=42600-42799"}})
	sipAddr := d.logField(t, "sip listening", "addr")
	shots := newShooter(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*stepTimeout)
	defer cancel()
	api := goClients(ctx, t, d)()
	const alicePassword = "Alice-pw-2001-xyz"
	setUp(ctx, t, api,
		apiCall{"users.create", map[string]any{"username": "alice", "display_name": "王丽 Alice", "role": "official", "password": alicePassword}},
		apiCall{"voip.extensions.create", map[string]any{"number": "1001", "name": "前台 Front desk", "password": "Sip-pw-1001-xyz"}},
		apiCall{"voip.extensions.create", map[string]any{"number": "2001", "name": "王丽 Alice", "user": "alice", "password": "Sip-pw-2001-xyz"}})

	recorded := t.TempDir()
	tone := filepath.Join(t.TempDir(), "440.wav")
	phonetest.WriteTone(t, tone, 440, 120)
	phone := phonetest.Start(t, sipAddr, "1001", "Sip-pw-1001-xyz", phonetest.Options{AutoAnswer: true, Tone: tone, Record: recorded})

	alice := newTab(t, browser, "alice")
	alice.login(t, d.URL+"/#/phones", "alice", alicePassword)
	alice.poll(t, "the softphone registered", `!!window.civicSoftphone && window.civicSoftphone.state().registered`)

	step(t, "alice calls the front desk from the directory; it answers and audio flows both ways", func(t *testing.T) {
		button := `[data-testid=call-extension][data-number="1001"]`
		alice.do(t, "click call", chromedp.WaitVisible(chromedp.CSS(button)), chromedp.Click(chromedp.CSS(button)))
		alice.poll(t, "the call panel", `!!document.querySelector('[data-testid=call-panel]')`)
		phone.WaitEvent(t, "CALL_ESTABLISHED", stepTimeout)
		alice.poll(t, "the call answered", `document.querySelector('[data-testid=call-state]')?.dataset.state === "answered"`)
		expectToneInBrowser(t, alice, callAudioJS, callToneJS, 440)
		expectBrowserInPhone(t, recorded, 3, 440)
		alice.shot(t, shots, "browser-calls-desk-phone")
		closed := phone.Count("CALL_CLOSED")
		alice.do(t, "hang up", chromedp.Click(chromedp.CSS(`[data-testid=call-hangup]`)))
		waitCount(t, phone, "CALL_CLOSED", closed+1)
	})

	step(t, "the desk phone calls alice's extension: it rings in her console, she answers there", func(t *testing.T) {
		alice.poll(t, "the call panel gone", `!document.querySelector('[data-testid=call-panel]')`)
		if err := phone.Command("dial", "sip:2001@"+sipAddr); err != nil {
			t.Fatal(err)
		}
		popup := `[data-testid=incoming-call]`
		alice.poll(t, "the incoming-call popup", fmt.Sprintf(`(() => { const p = document.querySelector('%s'); return !!p && p.textContent.includes("前台 Front desk") && p.textContent.includes("1001"); })()`, popup))
		alice.shot(t, shots, "incoming-call")
		established := phone.Count("CALL_ESTABLISHED")
		alice.do(t, "answer", chromedp.Click(chromedp.CSS(`[data-testid=incoming-answer]`)))
		waitCount(t, phone, "CALL_ESTABLISHED", established+1)
		alice.poll(t, "the popup gone, the call answered", `!document.querySelector('[data-testid=incoming-call]') && document.querySelector('[data-testid=call-state]')?.dataset.state === "answered"`)
		expectToneInBrowser(t, alice, callAudioJS, callToneJS, 440)
		expectBrowserInPhone(t, recorded, 3, 440)
		if err := phone.Command("hangup", ""); err != nil {
			t.Fatal(err)
		}
		alice.poll(t, "the call ended in the console", `(() => { const s = document.querySelector('[data-testid=call-state]'); return !s || s.dataset.state === "ended"; })()`)
	})

	step(t, "both calls are in the call records, answered", func(t *testing.T) {
		var res struct {
			Records []struct {
				Caller, Callee, Result string
				FinalTarget            string `json:"final_target"`
			}
		}
		deadline := time.Now().Add(stepTimeout)
		for {
			if err := api.Call(ctx, "voip.records.list", map[string]any{}, &res); err != nil {
				t.Fatal(err)
			}
			found := map[string]bool{}
			for _, r := range res.Records {
				if r.Result == "answered" {
					found[r.Caller+">"+r.Callee+">"+r.FinalTarget] = true
				}
			}
			if found["2001>1001>1001"] && found["1001>2001>2001"] {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("records %+v: want alice's call to 1001 (as 2001) and 1001's call to 2001, answered", res.Records)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	alice.checkProblems(t)
}

// Where the page's test hooks give a browser call's inbound audio and
// its tone (softphone.js).
const (
	callAudioJS = `window.civicCallAudio ? window.civicCallAudio().then((s) => s[0] || null) : null`
	callToneJS  = `window.civicCallToneHz()`
)

// expectToneInBrowser waits until the phone's inbound audio in the page
// (stats, a promise of one audioStat or null) is PCMU with rising
// energy, and the dominant frequency tone (a promise of Hz) gives is hz.
func expectToneInBrowser(t *testing.T, tb *tab, stats, tone string, hz float64) {
	t.Helper()
	first := pollAudio(t, tb, stats)
	if first.MimeType != "audio/PCMU" {
		t.Fatalf("the phone's audio arrives as %q, want audio/PCMU", first.MimeType)
	}
	deadline := time.Now().Add(stepTimeout)
	later := first
	for later.TotalAudioEnergy <= first.TotalAudioEnergy || later.PacketsReceived < first.PacketsReceived+25 {
		if time.Now().After(deadline) {
			t.Fatalf("the phone's audio energy did not rise: %+v then %+v", first, later)
		}
		time.Sleep(200 * time.Millisecond)
		later = pollAudio(t, tb, stats)
	}
	got := awaitAs[float64](t, tb, tone)
	t.Logf("the phone in the browser: %s, audioLevel %.3f, energy %.4f → %.4f, packets %d → %d, tone %.1f Hz",
		later.MimeType, later.AudioLevel, first.TotalAudioEnergy, later.TotalAudioEnergy, first.PacketsReceived, later.PacketsReceived, got)
	if math.Abs(got-hz) > 10 {
		t.Fatalf("the browser hears %.1f Hz from the phone, want %.0f", got, hz)
	}
}

// expectBrowserInPhone waits until, at least after seconds of the call,
// the last 2 s the phone recorded of it are the browser's fake
// microphone: Chromium's 400 Hz beeps, and not the phone's own tone
// (Hz).
func expectBrowserInPhone(t *testing.T, recorded string, seconds int, tone float64) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		got, err := newestCall(recorded)
		if n := len(got); err == nil && n >= seconds*8000 {
			tail := got[n-16000:]
			own, rms := phonetest.ToneLevel(tail, 8000, tone)
			hz := dominantHz(tail, 8000)
			if rms >= 100 && math.Abs(hz-400) <= 15 {
				t.Logf("the phone hears the browser: rms %.0f over the last 2 s of %.1f s of this call, dominant %.0f Hz, its own %.0f Hz share %.3f", rms, float64(n)/8000, hz, tone, own)
				if own > 0.05 {
					t.Errorf("the phone hears itself: %.0f Hz share %.3f", tone, own)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the phone hears rms %.0f at %.0f Hz, want the browser's 400 Hz beeps", rms, hz)
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("the phone heard nothing from the browser (%d samples, %v)", len(got), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// apiCall is one request a test makes through the API to set the scene.
type apiCall struct {
	typ    string
	params map[string]any
}

// setUp makes the calls in order; any failure ends the test.
func setUp(ctx context.Context, t *testing.T, api *confclient.Client, calls ...apiCall) {
	t.Helper()
	for _, c := range calls {
		if err := api.Call(ctx, c.typ, c.params, nil); err != nil {
			t.Fatalf("%s: %v", c.typ, err)
		}
	}
}

// newestCall is what the phone recorded of its latest call (baresip's
// sndfile module writes one dump-<time>-dec.wav per call).
func newestCall(dir string) ([]int16, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "dump-*-dec.wav"))
	if len(files) == 0 {
		return nil, errors.New("no recording yet")
	}
	newest, at := "", time.Time{}
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && !st.ModTime().Before(at) {
			newest, at = f, st.ModTime()
		}
	}
	return phonetest.ReadWAV(newest)
}

// waitCount waits until the phone has seen n events of typ.
func waitCount(t *testing.T, p *phonetest.Phone, typ string, n int) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for p.Count(typ) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the phone saw %d %s, want %d; events %v", p.Count(typ), typ, n, p.Events())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
