package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"civic/internal/phonetest"
)

// TestDialOutInBrowser (issue 7, dial-out): a meeting's host calls a
// real desk phone into the meeting from the meeting page. She opens
// "Call a phone", finds the extension in the directory by typing, and
// picks it; its status chip goes to answered, the phone shows as a phone
// tile, its 660 Hz tone arrives in the browser in PCMU, and the phone
// records the browser's fake microphone (400 Hz beeps) through the mix,
// without its own tone. A number with no extension ends as an unknown
// number.
func TestDialOutInBrowser(t *testing.T) {
	phonetest.Lookup(t)
	browser := newBrowser(t)
	d := startDaemon(t, daemonConfig{Env: []string{"CIVIC_SIP_DIGEST_ALGORITHMS=MD5", "CIVIC_SIP_RTP_PORTS=42800-42999"}})
	sipAddr := d.logField(t, "sip listening", "addr")
	shots := newShooter(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*stepTimeout)
	defer cancel()
	api := goClients(ctx, t, d)()
	const deskName = "三楼会议室 Room 3"
	setUp(ctx, t, api,
		apiCall{"voip.extensions.create", map[string]any{"number": "1003", "name": deskName, "department": "行政 Admin", "password": "Sip-pw-1003-abc"}},
		// Not registered: the directory shows it offline.
		apiCall{"voip.extensions.create", map[string]any{"number": "1004", "name": "档案室 Records", "department": "行政 Admin", "password": "Sip-pw-1004-abc"}},
		apiCall{"voip.ringgroups.create", map[string]any{"number": "6000", "name": "值班组 On duty", "strategy": "all", "members": []string{"1003", "1004"}, "ring_seconds": 20}})
	var created struct {
		Meeting struct{ Room string }
	}
	if err := api.Call(ctx, "conference.create", map[string]any{"title": "预算审议 Budget review"}, &created); err != nil {
		t.Fatal(err)
	}

	recorded := t.TempDir()
	tone := filepath.Join(t.TempDir(), "660.wav")
	phonetest.WriteTone(t, tone, 660, 120)
	phone := phonetest.Start(t, sipAddr, "1003", "Sip-pw-1003-abc", phonetest.Options{AutoAnswer: true, Tone: tone, Record: recorded})
	d.waitRegistered(t, "1003")

	host := newTab(t, browser, "host")
	step(t, "the host joins the meeting and sees Call a phone", func(t *testing.T) {
		host.login(t, d.URL+"/#/meeting/"+created.Meeting.Room, "admin", d.AdminPassword)
		host.do(t, "join", chromedp.WaitVisible(chromedp.CSS(`[data-testid=prejoin-join]`)),
			chromedp.Click(chromedp.CSS(`[data-testid=prejoin-join]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=meeting-leave]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=meeting-dialout]`)))
	})

	entry := func(number string) string {
		return fmt.Sprintf(`[data-testid=dialout-entry][data-number="%s"]`, number)
	}
	// settled: a number's chip has no animation running (it fades in), so
	// that a screenshot shows it as a person sees it.
	settled := func(number string) string {
		return fmt.Sprintf(`document.querySelector('[data-testid=dialout-status][data-number="%s"]')?.getAnimations().length === 0`, number)
	}
	step(t, "the directory lists the extensions and ring groups with their phones' state, filtered as she types", func(t *testing.T) {
		host.do(t, "open the dialog", chromedp.Click(chromedp.CSS(`[data-testid=meeting-dialout]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=dialout-dialog]`)))
		host.poll(t, "1003 online, 1004 offline, ring group 6000", fmt.Sprintf(`(() => {
			const a = document.querySelector('%s'), b = document.querySelector('%s'), g = document.querySelector('%s');
			return !!a && !!b && !!g && a.textContent.includes(%q) && a.querySelector('.dialout-presence-online') !== null
				&& b.querySelector('.dialout-presence-offline') !== null && g.textContent.includes("值班组 On duty"); })()`,
			entry("1003"), entry("1004"), entry("6000"), deskName))
		host.shot(t, shots, "meeting-dial-out-dialog")
		host.do(t, "type a filter", chromedp.SendKeys(chromedp.CSS(`[data-testid=dialout-number]`), "room 3"))
		host.poll(t, "only 1003 left", `(() => { const e = [...document.querySelectorAll('[data-testid=dialout-entry]')]; return e.length === 1 && e[0].dataset.number === "1003"; })()`)
	})

	var phoneID string
	step(t, "she picks 1003: it rings, answers and joins as a phone tile", func(t *testing.T) {
		// Every state each chip shows, in order: a ring can last less
		// than a poll.
		evalAs[bool](t, host, `(() => {
			window.dialoutSeen = [];
			const note = () => { for (const el of document.querySelectorAll('[data-testid=dialout-status]')) {
				const k = el.dataset.number + ":" + el.dataset.state;
				if (!window.dialoutSeen.includes(k)) window.dialoutSeen.push(k); } };
			new MutationObserver(note).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"] });
			return true; })()`)
		host.do(t, "pick 1003", chromedp.Click(chromedp.CSS(entry("1003"))))
		host.poll(t, "the chip answered, the dialog closed", `document.querySelector('[data-testid=dialout-status][data-number="1003"]')?.dataset.state === "answered" && !document.querySelector('[data-testid=dialout-dialog]')`)
		chip := host.text(t, `[data-testid=dialout-status][data-number="1003"]`)
		host.poll(t, "the chip faded in", settled("1003"))
		host.shot(t, shots, "meeting-dial-out")
		seen := evalAs[[]string](t, host, `window.dialoutSeen`)
		t.Logf("the chip of 1003 went %v and reads %q", seen, chip)
		var states []string
		for _, s := range seen {
			if n, st, _ := strings.Cut(s, ":"); n == "1003" {
				states = append(states, st)
			}
		}
		if len(states) == 0 || states[len(states)-1] != "answered" || !strings.Contains(chip, deskName) || !strings.Contains(chip, "Answered") {
			t.Fatalf("the chip of 1003 went %v and reads %q, want it to end answered with the desk's name", states, chip)
		}
		for _, st := range states[:len(states)-1] {
			if st != "calling" && st != "ringing" {
				t.Fatalf("the chip of 1003 went %v: %s before answered", states, st)
			}
		}
		phone.WaitEvent(t, "CALL_ESTABLISHED", stepTimeout)
		tile := `[data-testid=participant-tile][data-phone="true"]`
		host.poll(t, "the phone tile", fmt.Sprintf(`(() => { const t = document.querySelector('%s'); return !!t && t.textContent.includes(%q) && !!t.querySelector('[data-testid=phone-icon]'); })()`, tile, deskName))
		phoneID = evalAs[string](t, host, fmt.Sprintf(`document.querySelector('%s').dataset.participant`, tile))
	})

	step(t, "the browser receives the phone's audio: PCMU, energy rising, 660 Hz", func(t *testing.T) {
		stats := fmt.Sprintf(`window.civicMeetingAudio().then((s) => s.find((a) => a.participant === %q) || null)`, phoneID)
		expectToneInBrowser(t, host, stats, fmt.Sprintf(`window.civicToneHz(%q)`, phoneID), 660)
	})

	// 6 s into the call the "joined" prompt is over: the last two seconds
	// are the meeting's mix, Chromium's fake microphone beeping at 400 Hz.
	step(t, "the phone hears the browser's microphone through the mix", func(t *testing.T) { expectBrowserInPhone(t, recorded, 6, 660) })

	step(t, "the answered chip fades away; a number with no phone ends as an unknown number", func(t *testing.T) {
		host.poll(t, "the answered chip gone", `!document.querySelector('[data-testid=dialout-status][data-number="1003"]')`)
		host.do(t, "type 1999", chromedp.Click(chromedp.CSS(`[data-testid=meeting-dialout]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=dialout-number]`)),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=dialout-number]`), "1999"))
		host.poll(t, "Call 1999, nobody listed", `(() => { const b = document.querySelector('[data-testid=dialout-call]');
			return !!b && !b.disabled && b.textContent.includes("1999") && document.querySelectorAll('[data-testid=dialout-entry]').length === 0; })()`)
		host.do(t, "call 1999", chromedp.Click(chromedp.CSS(`[data-testid=dialout-call]`)))
		host.poll(t, "1999's chip final", `["unknown_number", "unavailable"].includes(document.querySelector('[data-testid=dialout-status][data-number="1999"]')?.dataset.state)`)
		state := evalAs[string](t, host, `document.querySelector('[data-testid=dialout-status][data-number="1999"]').dataset.state`)
		chip := host.text(t, `[data-testid=dialout-status][data-number="1999"]`)
		host.poll(t, "the chip faded in", settled("1999"))
		host.shot(t, shots, "meeting-dial-out-unknown")
		t.Logf("1999: %s, the chip reads %q", state, chip)
		if state != "unknown_number" || !strings.Contains(chip, "Unknown number") {
			t.Errorf("1999 ended %s (%q), want unknown_number", state, chip)
		}
		if n := evalAs[int](t, host, `document.querySelectorAll('[data-testid=participant-tile][data-phone="true"]').length`); n != 1 {
			t.Errorf("%d phone tiles, want the one of 1003", n)
		}
	})
	host.checkProblems(t)
}
