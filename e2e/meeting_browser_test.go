package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"civic/conference/confclient"
)

// TestMeetingInBrowsers has two people join one meeting from two browsers
// with fake cameras and microphones: each sees the other's video decoding
// and receives audio; the host mutes the guest, who sees it; the guest
// leaves and the host's tile for them goes away.
func TestMeetingInBrowsers(t *testing.T) {
	browser := newBrowser(t)
	d := startDaemon(t, daemonConfig{})
	shots := newShooter(t)

	// A second user, an official, made over the console protocol.
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	opts := confclient.Options{TLS: &tls.Config{InsecureSkipVerify: true}}
	token, err := confclient.Login(ctx, d.URL, "admin", d.AdminPassword, opts)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := confclient.Dial(ctx, d.URL, token, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, u := range []struct{ name, display string }{{"clerk", "李文书 Clerk"}, {"deputy", "王副主任 Deputy"}} {
		if err := admin.Call(ctx, "users.create", map[string]any{"username": u.name, "display_name": u.display, "role": "official", "password": u.name + "-password-1"}, nil); err != nil {
			t.Fatal(err)
		}
	}

	host := newTab(t, browser, "host")
	guest := newTab(t, browser, "guest")
	third := newTab(t, browser, "third")
	var room string
	step(t, "the host creates a meeting and joins it", func(t *testing.T) {
		host.login(t, d.URL+"/#/meetings", "admin", d.AdminPassword)
		host.do(t, "create a meeting",
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=meeting-create-title]`)),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=meeting-create-title]`), "预算审议 Budget review"),
			chromedp.Click(chromedp.CSS(`[data-testid=meeting-create-submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=meetings-table] tr[data-room]`)),
		)
		room = evalAs[string](t, host, `document.querySelector('[data-testid=meetings-table] tr[data-room]').dataset.room`)
		host.shot(t, shots, "10-meetings")
		host.do(t, "open the meeting", chromedp.Click(chromedp.CSS(`[data-testid=meetings-table] tr[data-room] [data-testid=meeting-join]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=prejoin-join]`)))
		host.poll(t, "the pre-join preview plays and lists the devices", `(() => { const v = document.querySelector('[data-testid=prejoin-preview]'); return v.readyState >= 2 && document.querySelector('[data-testid=prejoin-camera]').options.length > 0 && document.querySelector('[data-testid=prejoin-mic]').options.length > 0; })()`)
		host.shot(t, shots, "10b-prejoin")
		host.do(t, "join", chromedp.Click(chromedp.CSS(`[data-testid=prejoin-join]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=meeting-leave]`)))
		host.poll(t, "the self view plays", `(() => { const v = document.querySelector('[data-testid=self-view]'); return v && v.readyState >= 2; })()`)
	})

	var joinToFrame time.Duration
	step(t, "a guest joins and both see and hear each other", func(t *testing.T) {
		guest.login(t, d.URL+"/#/meetings", "clerk", "clerk-password-1")
		guest.do(t, "see the meeting live", chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`[data-testid=meetings-table] tr[data-room="%s"]`, room))))
		guest.poll(t, "the live meeting's media figures show under it", `(() => { const r = document.querySelector('[data-testid=meeting-stats]'); return !!r && r.textContent.includes("Administrator") && r.textContent.includes("kbit/s"); })()`)
		guest.shot(t, shots, "10c-meetings-stats")
		guest.do(t, "open the meeting and choose a name", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-testid=meetings-table] tr[data-room="%s"] [data-testid=meeting-join]`, room))),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=prejoin-join]`)),
			chromedp.SetValue(chromedp.CSS(`[data-testid=prejoin-name]`), "李文书 (前台)"))
		start := time.Now()
		guest.do(t, "join", chromedp.Click(chromedp.CSS(`[data-testid=prejoin-join]`)))
		decoding := `(() => { const v = document.querySelector('[data-testid=remote-video]'); return !!v && v.getVideoPlaybackQuality().totalVideoFrames > 10; })()`
		guest.poll(t, "the host's video decodes in the guest's tab", `(() => { const v = document.querySelector('[data-testid=remote-video]'); return !!v && v.getVideoPlaybackQuality().totalVideoFrames > 0; })()`)
		joinToFrame = time.Since(start)
		guest.poll(t, "the host's video keeps decoding", decoding)
		host.poll(t, "the guest's video decodes in the host's tab", decoding)
		host.poll(t, "the guest's tile shows the chosen name", `document.querySelector('[data-testid=participant-tile] .tile-name').textContent === "李文书 (前台)"`)
		host.poll(t, "the participants list names both", `(() => { const t = document.querySelector('[data-testid=participants]').textContent; return t.includes("李文书 (前台)") && t.includes("Administrator"); })()`)
		hasAudio := `(() => { const v = document.querySelector('[data-testid=remote-video]'); return !!v && !!v.srcObject && v.srcObject.getAudioTracks().some(t => t.readyState === "live"); })()`
		guest.poll(t, "the host's audio arrives", hasAudio)
		host.poll(t, "the guest's audio arrives", hasAudio)
		host.poll(t, "the guest's tile shows connection quality", `/kbps|Mbps/.test(document.querySelector('[data-testid=tile-quality]').textContent)`)
		host.shot(t, shots, "11-meeting-host")
		guest.shot(t, shots, "12-meeting-guest")
		t.Logf("join click to first remote frame: %v", joinToFrame)
	})

	step(t, "simulcast: a small tile gets a small layer, a big one the full layer", func(t *testing.T) {
		width := `document.querySelector('[data-testid=remote-video]').videoWidth`
		guest.poll(t, "the host's camera arrives in a small layer for a small tile", `(() => { const w = `+width+`; return w > 0 && w <= 640; })()`)
		small := evalAs[float64](t, guest, width)
		evalAs[bool](t, guest, `(() => { const v = document.querySelector('[data-testid=remote-video]'); Object.assign(v.style, {position: "fixed", left: "0", top: "0", width: "1280px", height: "720px", zIndex: "10"}); return true; })()`) // show the host's video big
		guest.poll(t, "civicd switches the big tile up to a bigger layer", `(() => { const w = `+width+`; return w > 640; })()`)
		big := evalAs[float64](t, guest, width)
		guest.poll(t, "and the video keeps decoding", `document.querySelector('[data-testid=remote-video]').getVideoPlaybackQuality().totalVideoFrames > 30`)
		evalAs[bool](t, guest, `(() => { document.querySelector('[data-testid=remote-video]').removeAttribute("style"); return true; })()`) // small again
		guest.poll(t, "back to a small layer", `(() => { const w = `+width+`; return w > 0 && w <= 640; })()`)
		t.Logf("decoded width: %v in a small tile, %v in a 1280x720 one", small, big)
	})

	step(t, "a third joins: everyone decodes the other two, then the third leaves", func(t *testing.T) {
		third.login(t, d.URL+"/#/meeting/"+room, "deputy", "deputy-password-1")
		third.do(t, "join", chromedp.WaitVisible(chromedp.CSS(`[data-testid=prejoin-join]`)), chromedp.Click(chromedp.CSS(`[data-testid=prejoin-join]`)))
		twoDecoding := `(() => { const vs = [...document.querySelectorAll('[data-testid=remote-video]')]; return vs.length === 2 && vs.every(v => v.getVideoPlaybackQuality().totalVideoFrames > 10); })()`
		for _, tb := range []*tab{host, guest, third} {
			tb.poll(t, "video from both others decodes", twoDecoding)
		}
		// The host shares a screen; both others see it, then it stops.
		host.do(t, "share the screen", chromedp.Click(chromedp.CSS(`[data-testid=meeting-share]`)))
		screenDecoding := `(() => { const v = document.querySelector('[data-testid=screen-video]'); return !!v && v.getVideoPlaybackQuality().totalVideoFrames > 5; })()`
		guest.poll(t, "the host's screen decodes", screenDecoding)
		third.poll(t, "the host's screen decodes", screenDecoding)
		third.shot(t, shots, "12b-meeting-three")
		host.do(t, "stop sharing", chromedp.Click(chromedp.CSS(`[data-testid=meeting-share]`)))
		guest.poll(t, "the screen tile goes away", `!document.querySelector('[data-testid=screen-tile]')`)
		third.do(t, "leave", chromedp.Click(chromedp.CSS(`[data-testid=meeting-leave]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=meetings-table]`)))
		host.poll(t, "back to one remote tile", `document.querySelectorAll('[data-testid=participant-tile]').length === 1`)
	})

	step(t, "chat reaches the other participant", func(t *testing.T) {
		host.do(t, "send a message",
			chromedp.SendKeys(chromedp.CSS(`[data-testid=chat-input]`), "请看预算表 please see the budget"),
			chromedp.Click(chromedp.CSS(`[data-testid=chat-send]`)),
		)
		guest.poll(t, "the message arrives", `document.querySelector('[data-testid=chat-log]').textContent.includes("请看预算表")`)
		host.poll(t, "the sender sees it too", `document.querySelector('[data-testid=chat-log]').textContent.includes("请看预算表")`)
	})

	step(t, "the host sees host controls and mutes the guest", func(t *testing.T) {
		host.do(t, "mute the guest",
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=meeting-mute-all]`)),
			chromedp.Click(chromedp.CSS(`[data-testid=meeting-mute-all]`)),
		)
		host.poll(t, "the guest's tile shows muted", `!!document.querySelector('[data-testid=participant-tile] .tile-badges .tag')`)
		guest.poll(t, "the guest is told", `[...document.querySelectorAll('.notice')].some(n => n.textContent.includes("muted"))`)
		guest.poll(t, "the guest's own tile shows muted", `!document.querySelector('[data-testid=self-muted]').closest('[hidden]')`)
		host.shot(t, shots, "13-host-controls")
		guest.do(t, "switch to Chinese", chromedp.Click(chromedp.CSS(`[data-testid=lang-switch] [lang=zh-CN]`)))
		guest.poll(t, "Chinese labels", `document.querySelector('[data-testid=meeting-leave]').textContent === "离开会议"`)
		guest.shot(t, shots, "14-meeting-guest-zh")
	})

	step(t, "the guest leaves and the host's tile goes away", func(t *testing.T) {
		guest.do(t, "leave", chromedp.Click(chromedp.CSS(`[data-testid=meeting-leave]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=meetings-table]`)))
		host.poll(t, "no participant tiles", `document.querySelectorAll('[data-testid=participant-tile]').length === 0`)
	})

	step(t, "an admin ends the meeting from the list; it disappears everywhere", func(t *testing.T) {
		host.do(t, "leave", chromedp.Click(chromedp.CSS(`[data-testid=meeting-leave]`)),
			chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`[data-testid=meetings-table] tr[data-room="%s"] [data-testid=meeting-end-row]`, room))))
		if n := evalAs[int](t, guest, `document.querySelectorAll('[data-testid=meeting-end-row], [data-testid=meeting-attendance]').length`); n != 0 {
			t.Errorf("a guest who is not host sees %d end or attendance buttons", n)
		}
		// The host's export link serves the attendance of everyone who came.
		csv := awaitAs[string](t, host, fmt.Sprintf(`fetch(document.querySelector('[data-testid=meetings-table] tr[data-room="%s"] [data-testid=meeting-attendance]').href).then(r => r.text())`, room))
		for _, who := range []string{"admin", "clerk", "deputy"} {
			if !strings.Contains(csv, ","+who+",") {
				t.Errorf("attendance CSV does not list %s:\n%s", who, csv)
			}
		}
		host.do(t, "end it",
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-testid=meetings-table] tr[data-room="%s"] [data-testid=meeting-end-row]`, room))),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=confirm-dialog] button[value=ok]`)),
			chromedp.Click(chromedp.CSS(`[data-testid=confirm-dialog] button[value=ok]`)),
		)
		sel := fmt.Sprintf(`!document.querySelector('[data-testid=meetings-table] tr[data-room="%s"]')`, room)
		host.poll(t, "the meeting is gone from the host's list", sel)
		guest.poll(t, "the meeting is gone from the guest's list without a reload", sel)
	})
	step(t, "a meeting with a passcode asks for it", func(t *testing.T) {
		host.do(t, "create a meeting with a passcode",
			chromedp.SendKeys(chromedp.CSS(`[data-testid=meeting-create-title]`), "Closed session"),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=meeting-create-passcode]`), "2468"),
			chromedp.Click(chromedp.CSS(`[data-testid=meeting-create-submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=meetings-table] [data-testid=meeting-has-passcode]`)),
		)
		closed := evalAs[string](t, host, `document.querySelector('[data-testid=meeting-has-passcode]').closest('tr').dataset.room`)
		guest.do(t, "try to join without the passcode",
			chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`[data-testid=meetings-table] tr[data-room="%s"]`, closed))),
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-testid=meetings-table] tr[data-room="%s"] [data-testid=meeting-join]`, closed))),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=prejoin-join]`)),
			chromedp.Click(chromedp.CSS(`[data-testid=prejoin-join]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=prejoin-passcode]`)),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=prejoin-passcode]`), "1111"),
			chromedp.Click(chromedp.CSS(`[data-testid=prejoin-join]`)),
		)
		guest.poll(t, "the wrong passcode is explained", `(() => { const t = document.querySelector('[data-testid=prejoin-error]').textContent; return t.includes("wrong") || t.includes("不正确"); })()`)
		guest.shot(t, shots, "15-passcode-wrong")
		guest.do(t, "join with the passcode",
			chromedp.SendKeys(chromedp.CSS(`[data-testid=prejoin-passcode]`), "2468"),
			chromedp.Click(chromedp.CSS(`[data-testid=prejoin-join]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=meeting-leave]`)),
		)
	})

	host.checkProblems(t)
	guest.checkProblems(t)
	third.checkProblems(t)
}

// awaitAs evaluates a JavaScript expression that returns a promise.
func awaitAs[T any](t *testing.T, tb *tab, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("tab %s: evaluate %s: %v", tb.name, expr, err)
	}
	return v
}
