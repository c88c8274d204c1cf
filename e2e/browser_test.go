package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// stepTimeout bounds one browser step (navigate, log in, wait for a row).
const stepTimeout = timeScale * 20 * time.Second

// reconnectTimeout bounds the wait for a tab to reconnect after a restart:
// more than the longest backoff (30 s) plus the daemon's start.
const reconnectTimeout = timeScale * 45 * time.Second

// TestConsoleInBrowser drives the web console in a real Chromium against a
// real civicd: admin login, the live users table across two tabs, the audit
// log, a facilities user's reduced navigation, switching to Chinese, and
// reconnecting after a daemon restart.
func TestConsoleInBrowser(t *testing.T) {
	browser := newBrowser(t)
	d := startDaemon(t, daemonConfig{})
	shots := newShooter(t)
	guardPassword := "Guard-" + rand.Text()[:14]

	a := newTab(t, browser, "A")
	b := newTab(t, browser, "B")
	c := newTab(t, browser, "C")

	step(t, "admin signs in and sees the system page", func(t *testing.T) {
		a.login(t, d.URL+"/", "admin", d.AdminPassword)
		a.do(t, "wait for the module table",
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=system-modules] tbody tr`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=nav-users]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=nav-audit]`)),
		)
		if got, want := a.text(t, `[data-testid=page-title]`), "System status"; got != want {
			t.Errorf("page title = %q, want %q", got, want)
		}
		if got := a.text(t, `[data-testid=system-modules] tbody`); !strings.Contains(got, "console") && !strings.Contains(got, "Console") {
			t.Errorf("module table %q does not list the console", got)
		}
		a.shot(t, shots, "01-system-admin")
	})

	step(t, "a user created in tab A appears live in tab B", func(t *testing.T) {
		a.do(t, "open the users page",
			chromedp.Click(chromedp.CSS(`[data-testid=nav-users]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=users-table] tr[data-username=admin]`)),
		)
		b.login(t, d.URL+"/#/users", "admin", d.AdminPassword)
		b.do(t, "wait for the users table",
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=users-table] tr[data-username=admin]`)),
		)
		// A reload would drop this marker: the row must arrive through the
		// live subscription.
		evalAs[bool](t, b, `(window.__e2eMarker = "tab-b", true)`)

		a.do(t, "create guard1",
			chromedp.SendKeys(chromedp.CSS(`[data-testid=user-create-username]`), "guard1"),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=user-create-display]`), "值班门卫 Guard One"),
			chromedp.SetValue(chromedp.CSS(`[data-testid=user-create-role]`), "facilities"),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=user-create-password]`), guardPassword),
			chromedp.Click(chromedp.CSS(`[data-testid=user-create-submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=users-table] tr[data-username=guard1]`)),
		)
		b.do(t, "wait for guard1 without reloading",
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=users-table] tr[data-username=guard1]`)),
		)
		if got := evalAs[string](t, b, `String(window.__e2eMarker)`); got != "tab-b" {
			t.Errorf("tab B was reloaded (marker %q); the row must come from the subscription", got)
		}
		if got := evalAs[string](t, b, `document.querySelector('[data-testid=users-table] tr[data-username=guard1] select').value`); got != "facilities" {
			t.Errorf("guard1's role in tab B = %q, want facilities", got)
		}
		if got := a.text(t, `[data-testid=user-create-error]`); got != "" {
			t.Errorf("create form shows an error: %q", got)
		}
		a.shot(t, shots, "02-users-tab-a")
		b.shot(t, shots, "03-users-tab-b-live")
	})

	step(t, "the audit log shows the creation", func(t *testing.T) {
		a.do(t, "open the audit page",
			chromedp.Click(chromedp.CSS(`[data-testid=nav-audit]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=audit-table] tr[data-action="users.create"]`)),
		)
		a.poll(t, "a users.create row with target guard1",
			`[...document.querySelectorAll('[data-testid=audit-table] tr[data-action="users.create"]')].some(r => r.cells[4].textContent === "guard1" && r.dataset.result === "ok")`)
		a.shot(t, shots, "04-audit")
	})

	step(t, "a facilities user sees only the system page", func(t *testing.T) {
		c.do(t, "open the console",
			chromedp.Navigate(d.URL+"/"),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-username]`)),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=login-username]`), "guard1"),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=login-password]`), "not-the-password"),
			chromedp.Click(chromedp.CSS(`[data-testid=login-submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-error]`)),
		)
		msg := c.text(t, `[data-testid=login-error]`)
		if !strings.Contains(msg, "wrong") || strings.Contains(msg, "auth_failed") {
			t.Errorf("wrong password explained as %q, want a sentence that says it is wrong", msg)
		}
		c.shot(t, shots, "05-login-wrong-password")

		// chromedp's SetValue refuses "", so clear the field from script.
		evalAs[bool](t, c, `(document.querySelector('[data-testid=login-password]').value = "", true)`)
		c.do(t, "sign in as guard1",
			chromedp.SendKeys(chromedp.CSS(`[data-testid=login-password]`), guardPassword),
			chromedp.Click(chromedp.CSS(`[data-testid=login-submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=conn-state][data-state=online]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=system-modules] tbody tr`)),
		)
		for _, sel := range []string{`[data-testid=nav-users]`, `[data-testid=nav-audit]`} {
			if evalAs[bool](t, c, fmt.Sprintf(`document.querySelector(%q) !== null`, sel)) {
				t.Errorf("%s is in the DOM for a facilities user", sel)
			}
		}
		if !evalAs[bool](t, c, `document.querySelector('[data-testid=nav-system]') !== null`) {
			t.Error("nav-system is missing for a facilities user")
		}
		if got := c.text(t, `[data-testid=user-menu]`); !strings.Contains(got, "Guard One") || !strings.Contains(got, "Facilities") {
			t.Errorf("user menu = %q, want the display name and the role", got)
		}
		// Typing the address of an admin page leads back to the system page.
		// (A hash change is a same-document navigation with no load event,
		// so set it from script rather than with Navigate.)
		evalAs[bool](t, c, `(location.hash = "#/users", true)`)
		c.poll(t, "the redirect to the system page", `location.hash === "#/system"`)
		c.do(t, "stay on the system page",
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=system-modules] tbody tr`)),
			chromedp.WaitNotPresent(chromedp.CSS(`[data-testid=users-table]`)),
		)
		c.shot(t, shots, "06-system-facilities")
	})

	step(t, "switching to Chinese relabels the page at once", func(t *testing.T) {
		c.do(t, "choose 中文",
			chromedp.Click(chromedp.CSS(`[data-testid=lang-switch] button[data-lang="zh-CN"]`)),
		)
		c.poll(t, "Chinese labels",
			`document.documentElement.lang === "zh-CN" &&
			 document.querySelector('[data-testid=page-title]').textContent === "系统状态" &&
			 document.querySelector('[data-testid=nav-system]').textContent === "系统" &&
			 document.querySelector('[data-testid=conn-state]').textContent.includes("在线")`)
		c.shot(t, shots, "07-system-zh")
	})

	// The restart runs in the parent test, not a subtest, because the new
	// daemon must outlive the step (subtest cleanups would kill it).
	t.Log("step: the console reconnects and resubscribes after a restart")
	{
		evalAs[bool](t, a, `(window.__e2eMarker = "tab-a", true)`)
		down := time.Now()
		d.stop(t)
		a.do(t, "notice the lost connection",
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=conn-state][data-state=reconnecting]`)),
		)
		a.shot(t, shots, "08-reconnecting")
		u, err := url.Parse(d.URL)
		if err != nil {
			t.Fatalf("parse %q: %v", d.URL, err)
		}
		d = startDaemon(t, daemonConfig{DataDir: d.DataDir, AdminPassword: d.AdminPassword, Listen: u.Host})
		// The client backs off exponentially (up to 30 s) while the daemon
		// is down, so give the reconnect more than one backoff period.
		for _, tb := range []*tab{a, b} {
			tb.doWithin(t, reconnectTimeout, "reconnect", chromedp.WaitVisible(chromedp.CSS(`[data-testid=conn-state][data-state=online]`)))
		}
		t.Logf("tabs back online %s after the daemon was stopped", time.Since(down).Round(100*time.Millisecond))
		b.do(t, "create guard2 after the restart",
			chromedp.SendKeys(chromedp.CSS(`[data-testid=user-create-username]`), "guard2"),
			chromedp.SetValue(chromedp.CSS(`[data-testid=user-create-role]`), "official"),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=user-create-password]`), guardPassword+"2"),
			chromedp.Click(chromedp.CSS(`[data-testid=user-create-submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=users-table] tr[data-username=guard2]`)),
		)
		a.poll(t, "the new audit entry, live",
			`[...document.querySelectorAll('[data-testid=audit-table] tr[data-action="users.create"]')].some(r => r.cells[4].textContent === "guard2")`)
		if got := evalAs[string](t, a, `String(window.__e2eMarker)`); got != "tab-a" {
			t.Errorf("tab A was reloaded (marker %q)", got)
		}
		a.shot(t, shots, "09-audit-after-restart")
	}

	for _, tb := range []*tab{a, b, c} {
		tb.checkProblems(t)
	}
	d.stop(t)
}

// step runs one stage of a scenario as a subtest and stops the scenario
// when it fails, because later stages build on it.
func step(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	if !t.Run(name, f) {
		t.FailNow()
	}
}

// newBrowser starts headless Chromium with the flags that work on this kind
// of machine, plus ignore-certificate-errors for civicd's self-signed
// certificate. It skips the test when Chromium is missing, except in CI.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, p := range []string{os.Getenv("CIVIC_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed (apt-get install chromium)")
		}
		t.Skip("chromium is not installed (apt-get install chromium); skipping the browser test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-features", "Translate,WebRtcHideLocalIpsWithMdns,MediaRouter,DialMediaRouteProvider,OptimizationHints"),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.Flag("ignore-certificate-errors", true),
		// Meetings: fake camera and microphone, no permission prompt, and
		// WebRTC over loopback (the daemon only offers 127.0.0.1).
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.WindowSize(1366, 768),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	// The first Run starts the browser and must have no deadline.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// tab is one browser tab with its own cookies and storage (its own browser
// context), so that each tab can be a different signed-in user.
type tab struct {
	name     string
	ctx      context.Context
	problems *pageProblems
}

func newTab(t *testing.T, browser context.Context, name string) *tab {
	t.Helper()
	p := &pageProblems{}
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext(), chromedp.WithListener(p.listen))
	t.Cleanup(cancel)
	// The first Run opens the tab; like the browser's it has no deadline.
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, cdplog.Enable, cdp.Empty{})
		return err
	})); err != nil {
		t.Fatalf("open tab %s: %v", name, err)
	}
	return &tab{name: name, ctx: ctx, problems: p}
}

// do runs steps under stepTimeout and fails the test with a screenshot of
// the tab when they fail.
func (tb *tab) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tb.doWithin(t, stepTimeout, what, steps...)
}

// doWithin is do with another timeout.
func (tb *tab) doWithin(t *testing.T, timeout time.Duration, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.failureShot(t, what)
		t.Fatalf("tab %s: %s: %v%s", tb.name, what, err, tb.problems.report())
	}
}

// login opens pageURL, signs in and waits until the console is online.
func (tb *tab) login(t *testing.T, pageURL, user, password string) {
	t.Helper()
	tb.do(t, "sign in as "+user,
		chromedp.Navigate(pageURL),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-username]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=login-username]`), user),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=login-password]`), password),
		chromedp.Click(chromedp.CSS(`[data-testid=login-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=conn-state][data-state=online]`)),
	)
}

// text is the text content of the first element matching the CSS selector,
// or "" when there is none or it is hidden.
func (tb *tab) text(t *testing.T, sel string) string {
	t.Helper()
	return evalAs[string](t, tb, fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e && !e.hidden ? e.textContent : ""; })()`, sel))
}

// poll waits until the JavaScript expression is truthy. It polls on a timer,
// not on animation frames, which a tab in the background does not get.
func (tb *tab) poll(t *testing.T, what, expr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(stepTimeout), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		tb.failureShot(t, what)
		t.Fatalf("tab %s: waiting for %s: %v%s", tb.name, what, err, tb.problems.report())
	}
}

// evalAs evaluates a JavaScript expression in the tab.
func evalAs[T any](t *testing.T, tb *tab, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("tab %s: evaluate %s: %v", tb.name, expr, err)
	}
	return v
}

// shooter writes screenshots to $CIVIC_SCREENSHOT_DIR, or to a temporary
// directory when that is not set.
type shooter struct{ dir string }

func newShooter(t *testing.T) shooter {
	t.Helper()
	dir := os.Getenv("CIVIC_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot dir: %v", err)
	}
	return shooter{dir: dir}
}

// shot saves a PNG of the whole page.
func (tb *tab) shot(t *testing.T, s shooter, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	// Quality 100 makes FullScreenshot produce PNG; lower values give JPEG.
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("tab %s: screenshot %s: %v", tb.name, name, err)
	}
	path := filepath.Join(s.dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("write screenshot: %v", err)
	}
	t.Logf("screenshot %s", path)
}

// failureShot saves what the tab showed when a step failed, best effort.
func (tb *tab) failureShot(t *testing.T, what string) {
	t.Helper()
	dir := os.Getenv("CIVIC_SCREENSHOT_DIR")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return
	}
	name := "FAIL-" + tb.name + "-" + regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(what, "-") + ".png"
	if os.WriteFile(filepath.Join(dir, name), png, 0o644) == nil {
		t.Logf("failure screenshot %s", filepath.Join(dir, name))
	}
}

// checkProblems fails the test when the page threw an uncaught exception
// or broke the Content Security Policy.
func (tb *tab) checkProblems(t *testing.T) {
	t.Helper()
	if r := tb.problems.report(); r != "" {
		t.Errorf("tab %s:%s", tb.name, r)
	}
}

// pageProblems collects what a page should never do: throw uncaught
// exceptions or trip the CSP. Other console errors (a 401 from a wrong
// password) are expected and ignored.
type pageProblems struct {
	mu   sync.Mutex
	msgs []string
}

// listen is a chromedp listener; it runs on chromedp's event goroutine.
func (p *pageProblems) listen(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		if d := ev.ExceptionDetails; d != nil {
			msg = "uncaught exception: " + d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg += " " + d.Exception.Description
			}
			msg += fmt.Sprintf(" (%s:%d)", d.URL, d.LineNumber+1)
		}
	case *cdplog.EventEntryAdded:
		if e := ev.Entry; e != nil && strings.Contains(e.Text, "Content Security Policy") {
			msg = "CSP violation: " + e.Text
		}
	}
	if msg == "" {
		return
	}
	p.mu.Lock()
	p.msgs = append(p.msgs, msg)
	p.mu.Unlock()
}

// report lists the problems, one per line, or returns "".
func (p *pageProblems) report() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.msgs) == 0 {
		return ""
	}
	return "\n  page problems:\n  " + strings.Join(p.msgs, "\n  ")
}
