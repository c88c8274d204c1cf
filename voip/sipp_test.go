package voip

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"civic/internal/audit"
)

// sippRegister is a sipp scenario: an unauthenticated REGISTER, the 401
// challenge, the same REGISTER with digest credentials, then the answer
// the test expects. Contact and Expires vary per test; after the final
// answer the phone stays up for stay ms (so OPTIONS keepalives can reach
// it; the out-of-call scenario answers them).
func sippRegister(user, password, contact, expires string, want, stay int) string {
	msg := func(cseq int, auth string) string {
		return fmt.Sprintf(`
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:%[1]s@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:%[1]s@[remote_ip]>
      Call-ID: [call_id]
      CSeq: %[2]d REGISTER
      Contact: %[3]s%[4]s
      Max-Forwards: 70
      Expires: %[5]s
      User-Agent: sipp
      Content-Length: 0
`, user, cseq, contact, auth, expires)
	}
	pause := ""
	if stay > 0 {
		pause = fmt.Sprintf(`<pause milliseconds="%d"/>`, stay)
	}
	return fmt.Sprintf(`<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register">
  <send retrans="500"><![CDATA[%s]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[%s]]></send>
  <recv response="%d"/>
  %s
</scenario>
`, msg(1, ""), msg(2, fmt.Sprintf("\n      [authentication username=%s password=%s]", user, password)), want, pause)
}

// sippConfig puts MD5 first among the offered digest challenges: sipp 3.6
// knows only MD5 and, unlike RFC 8760 asks, answers the first challenge
// instead of skipping one it cannot do. Both challenges are still sent.
func sippConfig(c Config) Config {
	c.DigestAlgorithms = []string{"MD5", "SHA-256"}
	return c
}

// sippAnswerOptions is the out-of-call scenario: answer OPTIONS with 200.
const sippAnswerOptions = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="answer options">
  <recv request="OPTIONS"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTagOOC[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
]]></send>
</scenario>
`

// runSipp runs sipp against addr with scenario and extra arguments and
// returns its screen and error output for failure messages.
func runSipp(t *testing.T, addr, scenario string, extra ...string) (string, error) {
	t.Helper()
	sipp := needTool(t, "sipp")
	dir := t.TempDir()
	sf := filepath.Join(dir, "scenario.xml")
	ooc := filepath.Join(dir, "ooc.xml")
	screen := filepath.Join(dir, "screen.log")
	errs := filepath.Join(dir, "err.log")
	for name, body := range map[string]string{sf: scenario, ooc: sippAnswerOptions} {
		if err := os.WriteFile(name, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	args := append([]string{addr, "-sf", sf, "-oocsf", ooc, "-i", "127.0.0.1", "-p", "0", "-timeout", "30s", "-nostdin",
		"-trace_screen", "-screen_file", screen, "-trace_err", "-error_file", errs}, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sipp, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	screenText, _ := os.ReadFile(screen)
	errText, _ := os.ReadFile(errs)
	return fmt.Sprintf("sipp %s\n%s\n--- screen ---\n%s\n--- errors ---\n%s", strings.Join(args, " "), out.String(), screenText, errText), err
}

// TestSippRegisterUDP: a digest REGISTER from sipp succeeds; the binding
// records the real source rather than the Contact (a bogus port), an
// OPTIONS keepalive reaches sipp there, and an unregister with Contact: *
// and Expires: 0 removes the binding.
func TestSippRegisterUDP(t *testing.T) {
	env := newTestService(t, sippConfig(Config{QualifyInterval: 200 * time.Millisecond}))
	env.addExtension(t, "1001", "secret1001")
	addr := env.s.Addr()

	done := make(chan error, 1)
	var log string
	go func() {
		var err error
		log, err = runSipp(t, addr, sippRegister("1001", "secret1001", "<sip:1001@127.0.0.1:9>", "120", 200, 4000), "-m", "1")
		done <- err
	}()
	waitFor(t, 10*time.Second, "1001 online", func() bool { return env.phone("1001").Online })
	p := env.phone("1001")
	if len(p.Bindings) != 1 {
		t.Fatalf("bindings = %+v, want 1", p.Bindings)
	}
	b := p.Bindings[0]
	if b.Contact != "sip:1001@127.0.0.1:9" || b.Transport != "udp" || b.UserAgent != "sipp" || strings.HasSuffix(b.Source, ":9") || !strings.HasPrefix(b.Source, "127.0.0.1:") {
		t.Errorf("binding = %+v; want contact sip:1001@127.0.0.1:9 over udp from sipp's own port", b)
	}
	if left := time.Until(b.Expires); left < 100*time.Second || left > 121*time.Second {
		t.Errorf("binding expires in %v, want about 120 s", left)
	}
	waitFor(t, 10*time.Second, "an OPTIONS keepalive answered by sipp", func() bool { return env.s.qualifyAnswered.Load() > 0 })
	if err := <-done; err != nil {
		t.Fatalf("sipp: %v\n%s", err, log)
	}
	if k := env.bus.kinds("1001"); !hasKind(k, KindPhoneOnline) {
		t.Errorf("events %v, want %s", k, KindPhoneOnline)
	}

	unregister := sippRegister("1001", "secret1001", "*", "0", 200, 0)
	if log, err := runSipp(t, addr, unregister, "-m", "1"); err != nil {
		t.Fatalf("sipp unregister: %v\n%s", err, log)
	}
	p = env.phone("1001")
	if p.Online || len(p.Bindings) != 0 {
		t.Errorf("after unregister: %+v, want offline with no bindings", p)
	}
	if k := env.bus.kinds("1001"); !hasKind(k, KindPhoneOffline) {
		t.Errorf("events %v, want %s", k, KindPhoneOffline)
	}
}

// TestSippWrongPassword: a wrong password gets 401 and then 403, and no
// binding; an unknown extension gets exactly the same.
func TestSippWrongPassword(t *testing.T) {
	env := newTestService(t, sippConfig(Config{}))
	env.addExtension(t, "1001", "secret1001")
	for _, user := range []string{"1001", "1999"} {
		if log, err := runSipp(t, env.s.Addr(), sippRegister(user, "wrong-password", "<sip:"+user+"@[local_ip]:[local_port]>", "120", 403, 0), "-m", "1"); err != nil {
			t.Fatalf("%s: sipp: %v\n%s", user, err, log)
		}
	}
	if p := env.phone("1001"); p.Online || len(p.Bindings) != 0 {
		t.Errorf("1001 = %+v, want no binding", p)
	}
}

// TestSippBlocksSource: repeated failures from one address block it: an
// audit row says so, and its packets are dropped from then on.
func TestSippBlocksSource(t *testing.T) {
	env := newTestService(t, sippConfig(Config{MaxFailuresPerSource: 3, MaxFailuresPerExtension: 100}))
	env.addExtension(t, "1001", "secret1001")
	if log, err := runSipp(t, env.s.Addr(), sippRegister("1001", "wrong-password", "<sip:1001@[local_ip]:[local_port]>", "120", 403, 0),
		"-m", "3", "-l", "1"); err != nil {
		t.Fatalf("sipp: %v\n%s", err, log)
	}
	var rows []audit.Entry
	waitFor(t, 5*time.Second, "the audit row of the block", func() bool {
		var err error
		rows, _, err = env.audit.List(context.Background(), audit.Filter{Action: "voip.block_source"})
		return err == nil && len(rows) == 1
	})
	if r := rows[0]; r.Target != "127.0.0.1" || r.Result != audit.ResultDenied || r.Source != "127.0.0.1" {
		t.Errorf("audit row %+v", r)
	}

	// A correct REGISTER from the blocked address is now dropped unread.
	c, err := net.Dial("udp", env.s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before := env.s.droppedBlocked.Load()
	if _, err := c.Write([]byte(rawRegister(c.LocalAddr().String(), "1001", ""))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the blocked packet to be dropped", func() bool { return env.s.droppedBlocked.Load() > before })
}

// TestSippRegisterTCP: a phone registered over TCP is qualified over its
// own connection (its Contact names a port nothing listens on), and goes
// offline once that connection closes.
func TestSippRegisterTCP(t *testing.T) {
	env := newTestService(t, sippConfig(Config{QualifyInterval: 200 * time.Millisecond}))
	env.addExtension(t, "1002", "secret1002")

	done := make(chan error, 1)
	var log string
	go func() {
		var err error
		log, err = runSipp(t, env.s.Addr(), sippRegister("1002", "secret1002", "<sip:1002@127.0.0.1:9;transport=tcp>", "120", 200, 4000), "-m", "1", "-t", "t1")
		done <- err
	}()
	waitFor(t, 10*time.Second, "1002 online", func() bool { return env.phone("1002").Online })
	if b := env.phone("1002").Bindings; len(b) != 1 || b[0].Transport != "tcp" {
		t.Fatalf("bindings = %+v, want one over tcp", b)
	}
	waitFor(t, 10*time.Second, "an OPTIONS keepalive answered over the phone's TCP connection", func() bool { return env.s.qualifyAnswered.Load() > 0 })
	if err := <-done; err != nil {
		t.Fatalf("sipp: %v\n%s", err, log)
	}
	waitFor(t, 10*time.Second, "1002 offline after its connection closed", func() bool { return !env.phone("1002").Online })
	if k := env.bus.kinds("1002"); !hasKind(k, KindPhoneOnline) || !hasKind(k, KindPhoneOffline) {
		t.Errorf("events %v, want online then offline", k)
	}
}

// rawRegister is a REGISTER for extension n from local, with an optional
// Authorization value.
func rawRegister(local, n, auth string) string {
	if auth != "" {
		auth = "Authorization: " + auth + "\r\n"
	}
	return "REGISTER sip:127.0.0.1 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK-" + fmt.Sprint(time.Now().UnixNano()) + ";rport\r\n" +
		"From: <sip:" + n + "@127.0.0.1>;tag=t1\r\n" +
		"To: <sip:" + n + "@127.0.0.1>\r\n" +
		"Call-ID: raw-" + fmt.Sprint(time.Now().UnixNano()) + "\r\n" +
		"CSeq: 1 REGISTER\r\n" +
		"Contact: <sip:" + n + "@" + local + ">\r\n" +
		auth +
		"Expires: 120\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
}
