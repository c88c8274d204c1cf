package e2e

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"civic/internal/phonetest"
)

// TestDialInInBrowser (issue 7): a real desk phone dials into a meeting
// a browser is in. The browser shows it as a phone tile, its inbound
// audio from the phone is PCMU with energy rising, and the tone it plays
// is the phone's 440 Hz; the phone, for its part, records the browser's
// fake microphone (400 Hz beeps) through the bridge's mix, without its
// own tone.
func TestDialInInBrowser(t *testing.T) {
	phonetest.Lookup(t)
	browser := newBrowser(t)
	d := startDaemon(t, daemonConfig{Env: []string{"CIVIC_SIP_DIGEST_ALGORITHMS=MD5", "CIVIC_SIP_RTP_PORTS=42400-42599"}})
	sipAddr := d.logField(t, "sip listening", "addr")
	shots := newShooter(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*stepTimeout)
	defer cancel()
	api := goClients(ctx, t, d)()
	if err := api.Call(ctx, "voip.extensions.create", map[string]any{"number": "1001", "name": "前台 Front desk", "password": "Sip-pw-1001-xyz"}, nil); err != nil {
		t.Fatal(err)
	}
	var created struct {
		Meeting struct{ Room string }
		DialIn  struct{ Number, PIN string } `json:"dial_in"`
	}
	if err := api.Call(ctx, "conference.create", map[string]any{"title": "预算审议 Budget review"}, &created); err != nil {
		t.Fatal(err)
	}

	host := newTab(t, browser, "host")
	step(t, "the host joins the meeting and sees its dial-in number and PIN", func(t *testing.T) {
		host.login(t, d.URL+"/#/meeting/"+created.Meeting.Room, "admin", d.AdminPassword)
		host.do(t, "join", chromedp.WaitVisible(chromedp.CSS(`[data-testid=prejoin-join]`)),
			chromedp.Click(chromedp.CSS(`[data-testid=prejoin-join]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=meeting-leave]`)))
		host.poll(t, "the dial-in line", fmt.Sprintf(`(() => { const n = document.querySelector('[data-testid=dialin-number]'), p = document.querySelector('[data-testid=dialin-pin]');
			return !!n && !!p && n.textContent.includes(%q) && p.textContent.includes(%q); })()`, created.DialIn.Number, created.DialIn.PIN))
	})

	recorded := t.TempDir()
	tone := filepath.Join(t.TempDir(), "440.wav")
	phonetest.WriteTone(t, tone, 440, 60)
	phone := phonetest.Start(t, sipAddr, "1001", "Sip-pw-1001-xyz", phonetest.Options{Tone: tone, Record: recorded})
	var phoneID string
	step(t, "the phone dials in with the PIN and shows as a phone tile", func(t *testing.T) {
		if err := phone.Command("dial", "sip:"+created.DialIn.Number+"@"+sipAddr); err != nil {
			t.Fatal(err)
		}
		phone.WaitEvent(t, "CALL_ESTABLISHED", stepTimeout)
		for _, digit := range created.DialIn.PIN + "#" {
			if err := phone.Command("sndcode", string(digit)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(150 * time.Millisecond) // a person's pace; each key is its own RFC 4733 event
		}
		tile := `[data-testid=participant-tile][data-phone="true"]`
		host.poll(t, "the phone tile", fmt.Sprintf(`(() => { const t = document.querySelector('%s'); return !!t && t.textContent.includes("前台 Front desk") && !!t.querySelector('[data-testid=phone-icon]'); })()`, tile))
		phoneID = evalAs[string](t, host, fmt.Sprintf(`document.querySelector('%s').dataset.participant`, tile))
	})

	step(t, "the browser receives the phone's audio: PCMU, energy rising, 440 Hz", func(t *testing.T) {
		stats := fmt.Sprintf(`window.civicMeetingAudio().then((s) => s.find((a) => a.participant === %q) || null)`, phoneID)
		first := pollAudio(t, host, stats)
		if first.MimeType != "audio/PCMU" {
			t.Fatalf("the phone's audio arrives as %q, want audio/PCMU", first.MimeType)
		}
		var later audioStat
		deadline := time.Now().Add(stepTimeout)
		for later = pollAudio(t, host, stats); later.TotalAudioEnergy <= first.TotalAudioEnergy || later.PacketsReceived < first.PacketsReceived+25; later = pollAudio(t, host, stats) {
			if time.Now().After(deadline) {
				t.Fatalf("the phone's audio energy did not rise: %+v then %+v", first, later)
			}
			time.Sleep(200 * time.Millisecond)
		}
		hz := awaitAs[float64](t, host, fmt.Sprintf(`window.civicToneHz(%q)`, phoneID))
		t.Logf("the phone in the browser: %s, audioLevel %.3f, energy %.4f → %.4f, packets %d → %d, tone %.1f Hz",
			later.MimeType, later.AudioLevel, first.TotalAudioEnergy, later.TotalAudioEnergy, first.PacketsReceived, later.PacketsReceived, hz)
		if math.Abs(hz-440) > 10 {
			t.Fatalf("the browser hears %.1f Hz from the phone, want 440", hz)
		}
		host.shot(t, shots, "meeting-with-phone")
	})

	step(t, "the phone hears the browser's microphone through the mix", func(t *testing.T) {
		deadline := time.Now().Add(stepTimeout)
		for {
			got, err := phonetest.Heard(recorded)
			// 12 s into the call the prompts (welcome, PIN, joined) are
			// over: the last two seconds are the meeting's mix, which is
			// Chromium's fake microphone: it beeps at 400 Hz.
			if n := len(got); err == nil && n >= 12*8000 {
				tail := got[n-16000:]
				own, rms := phonetest.ToneLevel(tail, 8000, 440)
				hz := dominantHz(tail, 8000)
				t.Logf("the phone hears the browser: rms %.0f over 2 s, dominant %.0f Hz, its own 440 Hz share %.3f", rms, hz, own)
				if rms < 100 || math.Abs(hz-400) > 15 {
					t.Fatalf("the phone hears rms %.0f at %.0f Hz, want the browser's 400 Hz beeps", rms, hz)
				}
				if own > 0.05 {
					t.Errorf("the phone hears itself: 440 Hz share %.3f", own)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the phone heard silence from the browser (%d samples, %v)", len(got), err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	step(t, "the phone raises its hand with *9, and the host sees it", func(t *testing.T) {
		for _, digit := range "*9" {
			if err := phone.Command("sndcode", string(digit)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(150 * time.Millisecond) // a person's pace, as above
		}
		host.poll(t, "the hand on the phone's tile", fmt.Sprintf(`!!document.querySelector('[data-testid=participant-tile][data-participant=%q] .tag-hand')`, phoneID))
	})
	host.checkProblems(t)
}

// audioStat is one inbound audio stream as the meeting page's
// civicMeetingAudio() gives it.
type audioStat struct {
	Participant      string  `json:"participant"`
	MimeType         string  `json:"mimeType"`
	AudioLevel       float64 `json:"audioLevel"`
	TotalAudioEnergy float64 `json:"totalAudioEnergy"`
	PacketsReceived  int     `json:"packetsReceived"`
}

// pollAudio evaluates stats (a promise of the phone's stream, or null)
// until it finds the phone's stream.
func pollAudio(t *testing.T, tb *tab, stats string) audioStat {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		if got := awaitAs[*audioStat](t, tb, stats); got != nil {
			return *got
		}
		if time.Now().After(deadline) {
			t.Fatal("no inbound audio stream from the phone in the page")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dominantHz is the strongest frequency of samples between 100 and
// 3,500 Hz, in 10 Hz steps (Goertzel).
func dominantHz(samples []int16, rate int) float64 {
	best, bestShare := 0.0, 0.0
	for f := 100.0; f <= 3500; f += 10 {
		if share, _ := phonetest.ToneLevel(samples, rate, f); share > bestShare {
			best, bestShare = f, share
		}
	}
	return best
}
