package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestGuestLobbyInBrowser: an admin schedules a meeting and sees it under
// "My meetings", then opens a meeting with a passcode and makes a guest
// invite link. A guest opens the link in a browser context with no
// session, types a wrong passcode (refused with a sentence), then the
// right one, and waits in the lobby; the host sees them in the lobby
// panel and admits them; then each decodes the other's video.
func TestGuestLobbyInBrowser(t *testing.T) {
	browser := newBrowser(t)
	d := startDaemon(t, daemonConfig{})
	shots := newShooter(t)
	host := newTab(t, browser, "host")
	guest := newTab(t, browser, "guest")

	step(t, "the host schedules a meeting and sees it under My meetings", func(t *testing.T) {
		host.login(t, d.URL+"/#/meetings", "admin", d.AdminPassword)
		tomorrow := time.Now().Add(24*time.Hour).Format("2006-01-02") + "T09:30"
		host.do(t, "create a scheduled meeting",
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=meeting-create-title]`)),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=meeting-create-title]`), "季度规划 Quarterly planning"),
			chromedp.SetValue(chromedp.CSS(`[data-testid=meeting-create-when]`), tomorrow),
			chromedp.Click(chromedp.CSS(`[data-testid=meeting-create-submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=my-meetings-table] tr[data-room]`)),
		)
		when := host.text(t, `[data-testid=my-meetings-table] tr[data-room] [data-testid=meeting-when]`)
		if !strings.Contains(when, "9:30") {
			t.Errorf("scheduled time shown as %q, want the local 9:30 tomorrow", when)
		}
		host.do(t, "create a meeting with a passcode",
			chromedp.SendKeys(chromedp.CSS(`[data-testid=meeting-create-title]`), "来访接待 Visitors"),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=meeting-create-passcode]`), "1357"),
			chromedp.Click(chromedp.CSS(`[data-testid=meeting-create-submit]`)),
		)
		host.poll(t, "both meetings under My meetings", `document.querySelectorAll('[data-testid=my-meetings-table] tr[data-room]').length === 2`)
		host.shot(t, shots, "19-my-meetings")
	})

	var link string
	step(t, "the host joins and makes an invite link", func(t *testing.T) {
		room := evalAs[string](t, host, `document.querySelector('[data-testid=meetings-table] [data-testid=meeting-has-passcode]').closest('tr').dataset.room`)
		host.do(t, "join the meeting with the passcode",
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-testid=meetings-table] tr[data-room="%s"] [data-testid=meeting-join]`, room))),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=prejoin-join]`)),
		)
		host.poll(t, "the camera preview plays", `document.querySelector('[data-testid=prejoin-preview]').readyState >= 2`)
		host.do(t, "join", chromedp.Click(chromedp.CSS(`[data-testid=prejoin-join]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=meeting-leave]`)),
		)
		host.poll(t, "the host's lobby panel, empty", `(() => { const p = document.querySelector('[data-testid=lobby-panel]'); return p && !p.hidden && document.querySelector('[data-testid=lobby-toggle]').checked; })()`)
		host.do(t, "make an invite link",
			chromedp.Click(chromedp.CSS(`[data-testid=meeting-invite]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=invite-create]`)),
			chromedp.Click(chromedp.CSS(`[data-testid=invite-create]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=invite-link]`)),
		)
		link = evalAs[string](t, host, `document.querySelector('[data-testid=invite-link]').value`)
		if !strings.HasPrefix(link, d.URL+"/#/guest/") {
			t.Fatalf("invite link %q, want %s/#/guest/TOKEN", link, d.URL)
		}
		if got := host.text(t, `[data-testid=invite-expires]`); !strings.Contains(got, time.Now().Add(24*time.Hour).Format("2006-01-02")) {
			t.Errorf("the link's expiry reads %q, want tomorrow's date", got)
		}
		host.shot(t, shots, "20-invite-link")
		host.do(t, "close the dialog", chromedp.Click(chromedp.CSS(`[data-testid=invite-dialog] .dialog-actions button`)),
			chromedp.WaitNotPresent(chromedp.CSS(`[data-testid=invite-dialog]`)))
	})

	step(t, "the guest opens the link: a wrong passcode is refused, the right one leads to the lobby", func(t *testing.T) {
		guest.do(t, "open the invite link without signing in",
			chromedp.Navigate(link),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=guest-name]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=guest-passcode]`)),
		)
		if got := guest.text(t, `[data-testid=guest-meeting]`); got != "来访接待 Visitors" {
			t.Errorf("the guest page names the meeting %q", got)
		}
		guest.do(t, "type a name and a wrong passcode",
			chromedp.SendKeys(chromedp.CSS(`[data-testid=guest-name]`), "张访客 Ms. Zhang"),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=guest-passcode]`), "2468"),
			chromedp.Click(chromedp.CSS(`[data-testid=guest-continue]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=guest-error]`)),
		)
		if msg := guest.text(t, `[data-testid=guest-error]`); !strings.Contains(msg, "wrong") && !strings.Contains(msg, "不正确") {
			t.Errorf("wrong passcode explained as %q", msg)
		}
		guest.shot(t, shots, "21-guest-wrong-passcode")
		guest.do(t, "the right passcode",
			chromedp.SendKeys(chromedp.CSS(`[data-testid=guest-passcode]`), "1357"),
			chromedp.Click(chromedp.CSS(`[data-testid=guest-continue]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=prejoin-join]`)),
		)
		if got := evalAs[string](t, guest, `document.querySelector('[data-testid=prejoin-name]').value`); got != "张访客 Ms. Zhang" {
			t.Errorf("the pre-join name is %q, want the guest's", got)
		}
		guest.do(t, "ask to join",
			chromedp.Click(chromedp.CSS(`[data-testid=prejoin-join]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=lobby-wait-title]`)),
		)
		if msg := guest.text(t, `[data-testid=lobby-wait-title]`); !strings.Contains(msg, "Waiting for the host") {
			t.Errorf("the lobby says %q", msg)
		}
		if n := evalAs[int](t, guest, `document.querySelectorAll('[data-testid=remote-video], [data-testid=nav-meetings]').length`); n != 0 {
			t.Errorf("a waiting guest sees %d remote videos or meetings links", n)
		}
		guest.shot(t, shots, "22-guest-lobby-waiting")
	})

	step(t, "the host sees the guest waiting and admits them; both decode each other's video", func(t *testing.T) {
		host.poll(t, "the guest in the lobby panel", `[...document.querySelectorAll('[data-testid=lobby-guest]')].some(g => g.textContent.includes("张访客 Ms. Zhang"))`)
		host.shot(t, shots, "23-host-lobby-panel")
		host.do(t, "admit", chromedp.Click(chromedp.CSS(`[data-testid=lobby-guest] [data-testid=lobby-admit]`)))
		host.poll(t, "the lobby empties", `document.querySelectorAll('[data-testid=lobby-guest]').length === 0`)
		guest.do(t, "the guest is in", chromedp.WaitVisible(chromedp.CSS(`[data-testid=meeting-leave]`)))
		frames := `(() => { const v = document.querySelector('[data-testid=remote-video]'); return v ? v.getVideoPlaybackQuality().totalVideoFrames : 0; })()`
		for _, tb := range []*tab{guest, host} {
			tb.poll(t, "the other's video decodes", frames+` > 10`)
			n := evalAs[int](t, tb, frames)
			tb.poll(t, "and keeps decoding", fmt.Sprintf(`%s > %d`, frames, n+10))
		}
		host.poll(t, "the guest's tile shows their name", `[...document.querySelectorAll('[data-testid=participant-tile] .tile-name')].some(n => n.textContent === "张访客 Ms. Zhang")`)
		if n := evalAs[int](t, guest, `document.querySelectorAll('[data-testid=meeting-mute-all]:not([hidden]), [data-testid=meeting-invite]:not([hidden]), [data-testid=lobby-panel]:not([hidden])').length`); n != 0 {
			t.Errorf("the guest sees %d host controls", n)
		}
		guest.shot(t, shots, "24-guest-in-meeting")
	})

	host.checkProblems(t)
	guest.checkProblems(t)
}
