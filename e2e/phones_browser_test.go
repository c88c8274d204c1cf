package e2e

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestPhonesPageInBrowser drives the Phones page in Chromium against the
// real daemon: the admin creates extension 1001 with a SIP password in the
// editor, a real SIP client (sipp) registers as 1001 with digest auth, and
// the row turns online in the admin's tab and in an official's read-only
// tab without a reload; unregistering (Expires: 0) turns it offline again.
func TestPhonesPageInBrowser(t *testing.T) {
	sipp := lookSipp(t)
	browser := newBrowser(t)
	// sipp 3.6 answers the first digest challenge and knows only MD5.
	d := startDaemon(t, daemonConfig{Env: []string{"CIVIC_SIP_DIGEST_ALGORITHMS=MD5,SHA-256"}})
	shots := newShooter(t)
	sipAddr := d.logField(t, "sip listening", "addr")
	t.Logf("civicd SIP at %s", sipAddr)

	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	if err := goClients(ctx, t, d)().Call(ctx, "users.create", map[string]any{"username": "clerk", "display_name": "李文书 Clerk", "role": "official", "password": "clerk-password-1"}, nil); err != nil {
		t.Fatal(err)
	}

	// rand.Text is base32: letters and digits, nothing sipp's
	// [authentication] keyword would misread.
	sipPassword := "Sip" + rand.Text()[:16]
	a := newTab(t, browser, "admin")
	o := newTab(t, browser, "official")
	row := `[data-testid=phones-table] tr[data-number="1001"]`

	step(t, "the admin creates extension 1001 in the editor", func(t *testing.T) {
		a.login(t, d.URL+"/#/phones", "admin", d.AdminPassword)
		a.do(t, "open the editor",
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=phones-table]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=phones-empty]`)),
			chromedp.Click(chromedp.CSS(`[data-testid=extension-new]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=extension-editor]`)),
		)
		// Without a password the dialog stays open and says why.
		a.do(t, "fill the number and name only",
			chromedp.SendKeys(chromedp.CSS(`[data-testid=ext-number]`), "1001"),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=ext-name]`), "前台 Reception"),
			chromedp.Click(chromedp.CSS(`[data-testid=extension-editor-submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=extension-editor-error]`)),
		)
		if msg := a.text(t, `[data-testid=extension-editor-error]`); !strings.Contains(msg, "SIP password") {
			t.Errorf("missing password explained as %q", msg)
		}
		a.do(t, "fill in the rest",
			chromedp.SendKeys(chromedp.CSS(`[data-testid=ext-department]`), "综合服务 Front office"),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=ext-user]`), "clerk"),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=ext-password]`), sipPassword),
		)
		a.shot(t, shots, "30-phones-extension-editor")
		a.do(t, "save",
			chromedp.Click(chromedp.CSS(`[data-testid=extension-editor-submit]`)),
			chromedp.WaitNotPresent(chromedp.CSS(`[data-testid=extension-editor]`)),
			chromedp.WaitVisible(chromedp.CSS(row+`[data-state=offline]`)),
		)
		if got := a.text(t, row); !strings.Contains(got, "前台 Reception") || !strings.Contains(got, "clerk") || !strings.Contains(got, "Offline") {
			t.Errorf("row 1001 = %q, want the name, the linked user and Offline", got)
		}
		if got := a.text(t, `[data-testid=phones-table]`); strings.Contains(got, sipPassword) {
			t.Error("the table shows the SIP password")
		}
	})

	step(t, "an official sees the directory without editing", func(t *testing.T) {
		o.login(t, d.URL+"/#/phones", "clerk", "clerk-password-1")
		o.do(t, "see 1001", chromedp.WaitVisible(chromedp.CSS(row+`[data-state=offline]`)))
		for _, sel := range []string{`[data-testid=extension-new]`, `[data-testid=ringgroup-new]`, row + ` [data-action=edit]`} {
			if evalAs[bool](t, o, fmt.Sprintf(`document.querySelector(%q) !== null`, sel)) {
				t.Errorf("%s is shown to an official", sel)
			}
		}
	})

	// A reload would drop these markers: the state must come live.
	for _, tb := range []*tab{a, o} {
		evalAs[bool](t, tb, `(window.__e2eMarker = "phones", true)`)
	}
	port := freeUDPPortPair(t)
	userAgent := "civic-e2e sipp"

	step(t, "a SIP phone registers as 1001 and the row turns online live", func(t *testing.T) {
		runSippRegister(t, sipp, sipAddr, port, "1001", sipPassword, userAgent, 300)
		for _, tb := range []*tab{a, o} {
			tb.poll(t, "1001 online", fmt.Sprintf(`!!document.querySelector('%s[data-state=online]')`, row))
		}
		got := a.text(t, row)
		for _, want := range []string{"Online", userAgent, fmt.Sprintf("127.0.0.1:%d", port), "UDP"} {
			if !strings.Contains(got, want) {
				t.Errorf("row 1001 = %q, want %q in it", got, want)
			}
		}
		if got := a.text(t, `[data-testid=phones-count]`); got != "1 of 1 online" {
			t.Errorf("count = %q, want 1 of 1 online", got)
		}
		a.shot(t, shots, "31-phones-online")
		o.shot(t, shots, "32-phones-online-official")
	})

	step(t, "the phone unregisters and the row goes offline live", func(t *testing.T) {
		runSippRegister(t, sipp, sipAddr, port, "1001", sipPassword, userAgent, 0)
		for _, tb := range []*tab{a, o} {
			tb.poll(t, "1001 offline", fmt.Sprintf(`!!document.querySelector('%s[data-state=offline]')`, row))
			if got := evalAs[string](t, tb, `String(window.__e2eMarker)`); got != "phones" {
				t.Errorf("tab %s was reloaded (marker %q)", tb.name, got)
			}
		}
		// The page remembers when it last saw the phone.
		if got := evalAs[string](t, a, fmt.Sprintf(`document.querySelector('%s').cells[7].textContent`, row)); !strings.HasPrefix(got, "20") {
			t.Errorf("last seen after unregistering = %q, want a time", got)
		}
		a.shot(t, shots, "33-phones-offline")
	})

	for _, tb := range []*tab{a, o} {
		tb.checkProblems(t)
	}
	d.stop(t)
}

// lookSipp finds sipp (Debian package sip-tester). It skips the test
// when sipp is missing, except under CI=true, where that fails.
func lookSipp(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sipp")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("sipp is not installed (apt-get install sip-tester)")
		}
		t.Skip("sipp is not installed (apt-get install sip-tester); skipping")
	}
	return p
}

// freeUDPPortPair returns a loopback UDP port p with p+1 also free: sipp
// takes the second one for media.
func freeUDPPortPair(t *testing.T) int {
	t.Helper()
	for range 50 {
		a, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		p := a.LocalAddr().(*net.UDPAddr).Port
		b, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p + 1})
		a.Close()
		if err == nil {
			b.Close()
			return p
		}
	}
	t.Fatal("no two free UDP ports in a row on 127.0.0.1")
	return 0
}

// sippRegister is a REGISTER with digest authentication: the first try
// is challenged with 401, the second answers it.
const sippRegister = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register %[1]s">
  <send retrans="500">
    <![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:%[1]s@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:%[1]s@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:%[1]s@[local_ip]:[local_port]>
      Expires: %[4]d
      Max-Forwards: 70
      User-Agent: %[3]s
      Content-Length: 0

    ]]>
  </send>
  <recv response="401" auth="true"/>
  <send retrans="500">
    <![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:%[1]s@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:%[1]s@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:%[1]s@[local_ip]:[local_port]>
      [authentication username=%[1]s password=%[2]s]
      Expires: %[4]d
      Max-Forwards: 70
      User-Agent: %[3]s
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
`

// runSippRegister registers (expires > 0) or unregisters (0) one contact
// of ext at the daemon with sipp from localPort, and fails the test
// unless the daemon answers 200.
func runSippRegister(t *testing.T, sipp, sipAddr string, localPort int, ext, password, userAgent string, expires int) {
	t.Helper()
	dir := t.TempDir()
	scenario := filepath.Join(dir, "register.xml")
	if err := os.WriteFile(scenario, fmt.Appendf(nil, sippRegister, ext, password, userAgent, expires), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	// -aa answers the registrar's OPTIONS keepalives with 200.
	cmd := exec.CommandContext(ctx, sipp, sipAddr, "-sf", scenario, "-i", "127.0.0.1", "-p", fmt.Sprint(localPort),
		"-m", "1", "-aa", "-nostdin", "-timeout", "15s", "-timeout_error",
		"-trace_err", "-error_file", filepath.Join(dir, "err.log"),
		"-trace_msg", "-message_file", filepath.Join(dir, "msg.log"))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		errLog, _ := os.ReadFile(filepath.Join(dir, "err.log"))
		msgLog, _ := os.ReadFile(filepath.Join(dir, "msg.log"))
		t.Fatalf("sipp REGISTER (expires %d): %v\n%s\nerrors:\n%s\nmessages:\n%s", expires, err, out, errLog, msgLog)
	}
}

// logField waits for the daemon's JSON log line with message msg and
// returns its string attribute key, such as the "addr" of "sip listening".
func (d *daemon) logField(t *testing.T, msg, key string) string {
	t.Helper()
	deadline := time.Now().Add(listenTimeout)
	for {
		d.logs.mu.Lock()
		text := d.logs.buf.String()
		d.logs.mu.Unlock()
		for line := range strings.SplitSeq(text, "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != msg {
				continue
			}
			if v, ok := rec[key].(string); ok && v != "" {
				return v
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("civicd did not log %q with %q within %s; log:\n%s", msg, key, listenTimeout, d.logs.tail(80))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
