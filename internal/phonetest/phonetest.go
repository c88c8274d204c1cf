// Package phonetest runs a real desk phone for tests: baresip with no
// sound card (TESTING.md section 2), registered to a registrar on
// loopback and driven over its ctrl_tcp socket. voip's and e2e's tests
// share it, so the recipe and its port handling live in one place.
//
// It is test support only; nothing in civicd imports it.
package phonetest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"civic/internal/syncbuf"
)

// startTimeout bounds one try at starting baresip (binding its ports,
// printing "baresip is ready", opening ctrl_tcp).
const startTimeout = 15 * time.Second

// Options describes one phone.
type Options struct {
	Transport  string // udp (default) or tcp
	AutoAnswer bool   // answer incoming calls at once
	Tone       string // a WAV file the phone plays into calls; "" sends nothing
	Record     string // a directory where the phone writes what it hears and sends
	MaxCalls   int    // calls at once before the phone answers 486 Busy Here; 0: baresip's default
}

// Event is an event baresip reports on ctrl_tcp, such as CALL_INCOMING
// or CALL_CLOSED.
type Event struct {
	Type  string `json:"type"`
	Param string `json:"param"`
}

// Phone is one running baresip.
type Phone struct {
	Ext string

	cmd  *exec.Cmd
	out  *syncbuf.Buffer
	done chan struct{} // closed when the process has exited

	mu     sync.Mutex
	conn   net.Conn // the ctrl_tcp connection; baresip 1.0 serves one at a time
	events []Event
}

// Lookup finds baresip (Debian package baresip-core). It skips the test
// when baresip is missing, except under CI=true, where that fails.
func Lookup(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("baresip")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("baresip is not installed (apt-get install baresip-core)")
		}
		t.Skip("baresip is not installed (apt-get install baresip-core); skipping")
	}
	return p
}

// Start starts a phone registering extension ext with password to the
// registrar at addr (host:port), and returns once its ctrl_tcp socket is
// connected. Ports are picked free a moment before baresip binds them,
// so another process can take one in between: baresip then reports
// "Address already in use", and Start tries again on new ports. The
// phone stops when the test ends; its output is logged if the test
// failed.
func Start(t testing.TB, addr, ext, password string, o Options) *Phone {
	t.Helper()
	bin := Lookup(t)
	if o.Transport == "" {
		o.Transport = "udp"
	}
	var lastOut string
	for range 5 {
		p, ok := start(t, bin, addr, ext, password, o)
		if ok {
			return p
		}
		lastOut = p.out.String()
	}
	t.Fatalf("baresip %s did not start in 5 tries; last output:\n%s", ext, lastOut)
	return nil
}

// start makes one try; false means a port was taken and the phone was
// stopped.
func start(t testing.TB, bin, addr, ext, password string, o Options) (*Phone, bool) {
	t.Helper()
	dir := t.TempDir()
	// baresip binds its SIP port for UDP and TCP whatever the transport.
	sipPort, ctrlPort := freeBoth(t), freeTCP(t)
	source, modules := "aubridge,nil", "module aubridge.so\n"
	if o.Tone != "" {
		source = "aufile," + o.Tone
		modules += "module aufile.so\n"
	}
	if o.Record != "" {
		modules += "module sndfile.so\nsnd_path " + o.Record + "\n"
	}
	config := fmt.Sprintf(`sip_listen 127.0.0.1:%d
sip_transports %s
net_interface 127.0.0.1
audio_player aubridge,nil
audio_source %s
audio_alert aubridge,nil
module_path /usr/lib/baresip/modules
module g711.so
%smodule_app account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:%d
`, sipPort, o.Transport, source, modules, ctrlPort)
	if o.MaxCalls > 0 {
		config += fmt.Sprintf("call_max_calls %d\n", o.MaxCalls)
	}
	params := ""
	if o.AutoAnswer {
		params = ";answermode=auto"
	}
	accounts := fmt.Sprintf("<sip:%s@%s;transport=%s>;auth_pass=%s;regint=60;audio_codecs=PCMU%s\n", ext, addr, o.Transport, password, params)
	for name, body := range map[string]string{"config": config, "accounts": accounts} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := &Phone{Ext: ext, out: &syncbuf.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "-f", dir)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	stdin, err := p.cmd.StdinPipe() // kept open: baresip's menu reads it
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start baresip %s: %v", ext, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	stop := func() {
		p.mu.Lock()
		if p.conn != nil {
			p.conn.Close()
		}
		p.mu.Unlock()
		stdin.Close()
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}

	// Ready: baresip has printed its banner (module errors come before
	// it) or exited.
	deadline := time.Now().Add(startTimeout)
	for !strings.Contains(p.out.String(), "baresip is ready") {
		select {
		case <-p.done:
			if inUse(p.out.String()) {
				return p, false
			}
			t.Fatalf("baresip %s exited:\n%s", ext, p.out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("baresip %s not ready in %s:\n%s", ext, startTimeout, p.out.String())
		}
	}
	if inUse(p.out.String()) {
		stop()
		return p, false
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("baresip %s output:\n%s", ext, p.out.String())
		}
	})
	p.connect(t, "127.0.0.1:"+strconv.Itoa(ctrlPort), deadline)
	return p, true
}

// inUse reports whether baresip could not bind one of its ports.
func inUse(out string) bool { return strings.Contains(out, "Address already in use") }

// connect opens the lasting ctrl_tcp connection and collects the
// phone's events from it.
func (p *Phone) connect(t testing.TB, addr string, deadline time.Time) {
	t.Helper()
	var c net.Conn
	for {
		var err error
		if c, err = net.DialTimeout("tcp", addr, time.Second); err == nil {
			break
		}
		select {
		case <-p.done:
			t.Fatalf("baresip %s exited:\n%s", p.Ext, p.out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("baresip %s ctrl_tcp %s: %v", p.Ext, addr, err)
		}
	}
	p.mu.Lock()
	p.conn = c
	p.mu.Unlock()
	go func() {
		r := bufio.NewReader(c)
		for {
			// Netstrings: "LEN:JSON,".
			lenText, err := r.ReadString(':')
			if err != nil {
				return
			}
			n, err := strconv.Atoi(strings.TrimSuffix(lenText, ":"))
			if err != nil || n < 0 || n > 1<<20 {
				return
			}
			msg := make([]byte, n+1) // the JSON and the trailing comma
			if _, err := io.ReadFull(r, msg); err != nil {
				return
			}
			var ev struct {
				Event bool   `json:"event"`
				Type  string `json:"type"`
				Param string `json:"param"`
			}
			if json.Unmarshal(msg[:n], &ev) == nil && ev.Event {
				p.mu.Lock()
				p.events = append(p.events, Event{Type: ev.Type, Param: ev.Param})
				p.mu.Unlock()
			}
		}
	}()
}

// Command sends one ctrl_tcp command, such as dial with a SIP URI,
// accept, hangup or quit.
func (p *Phone) Command(name, params string) error {
	msg, _ := json.Marshal(map[string]string{"command": name, "params": params, "token": name})
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := fmt.Fprintf(p.conn, "%d:%s,", len(msg), msg)
	return err
}

// Saw reports whether the phone reported an event of type typ.
func (p *Phone) Saw(typ string) bool { return p.Count(typ) > 0 }

// Count is how many events of type typ the phone reported.
func (p *Phone) Count(typ string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, e := range p.events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// Param returns the param of the last event of type typ.
func (p *Phone) Param(typ string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.events) - 1; i >= 0; i-- {
		if p.events[i].Type == typ {
			return p.events[i].Param
		}
	}
	return ""
}

// Events lists the types of the events reported so far.
func (p *Phone) Events() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	types := make([]string, len(p.events))
	for i, e := range p.events {
		types[i] = e.Type
	}
	return types
}

// WaitEvent waits up to timeout for an event of type typ.
func (p *Phone) WaitEvent(t testing.TB, typ string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !p.Saw(typ) {
		if time.Now().After(deadline) {
			t.Fatalf("baresip %s did not report %s within %s (saw %v)", p.Ext, typ, timeout, p.Events())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Done is closed once the process has exited.
func (p *Phone) Done() <-chan struct{} { return p.done }

// Output is what baresip has printed so far.
func (p *Phone) Output() string { return p.out.String() }

// freeTCP returns a loopback TCP port that was free a moment ago.
func freeTCP(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// freeBoth returns a loopback port that was free for both UDP and TCP a
// moment ago.
func freeBoth(t testing.TB) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp4", l.Addr().String())
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return 0
}
