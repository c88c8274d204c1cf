package voip

import (
	"bufio"
	"bytes"
	"context"
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
)

// baresip is a real desk phone (TESTING.md section 2) driven over its
// ctrl_tcp socket.
type baresip struct {
	t    *testing.T
	cmd  *exec.Cmd
	ctrl string // ctrl_tcp address
	out  *syncBuffer
	done chan struct{} // closed when the process has exited

	mu     sync.Mutex
	conn   net.Conn     // the lasting ctrl_tcp connection, once listen was called
	events []phoneEvent // from ctrl_tcp, once listen was called
}

// phoneEvent is an event baresip reports on ctrl_tcp, such as
// CALL_INCOMING or CALL_CLOSED.
type phoneEvent struct {
	Type  string `json:"type"`
	Param string `json:"param"`
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// phoneOpts describes one baresip phone.
type phoneOpts struct {
	transport string // udp (default) or tcp
	auto      bool   // answer incoming calls at once
	tone      string // a WAV file the phone plays into calls; "" sends nothing
	record    string // a directory where the phone writes what it hears and sends
	maxCalls  int    // calls at once before the phone answers 486 Busy Here; 0: baresip's default
}

// freeBothPort returns a loopback port that was free for both UDP and
// TCP a moment ago.
func freeBothPort(t *testing.T) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", l.Addr().String())
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no port free for both UDP and TCP")
	return 0
}

// startBaresip starts a phone registering extension n with password pw
// to the registrar at addr.
func startBaresip(t *testing.T, addr, n, pw string) *baresip {
	return startPhone(t, addr, n, pw, phoneOpts{})
}

// startPhone starts a baresip phone for extension n, as o says.
func startPhone(t *testing.T, addr, n, pw string, o phoneOpts) *baresip {
	t.Helper()
	bin := needTool(t, "baresip")
	dir := t.TempDir()
	if o.transport == "" {
		o.transport = "udp"
	}
	// baresip binds its SIP port for UDP and TCP whatever the transport.
	sipPort, ctrlPort := freeBothPort(t), freePort(t, "tcp")
	source, modules := "aubridge,nil", "module aubridge.so\n"
	if o.tone != "" {
		source = "aufile," + o.tone
		modules += "module aufile.so\n"
	}
	if o.record != "" {
		modules += "module sndfile.so\nsnd_path " + o.record + "\n"
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
`, sipPort, o.transport, source, modules, ctrlPort)
	if o.maxCalls > 0 {
		config += fmt.Sprintf("call_max_calls %d\n", o.maxCalls)
	}
	params := ""
	if o.auto {
		params = ";answermode=auto"
	}
	accounts := fmt.Sprintf("<sip:%s@%s;transport=%s>;auth_pass=%s;regint=60;audio_codecs=PCMU%s\n", n, addr, o.transport, pw, params)
	for name, body := range map[string]string{"config": config, "accounts": accounts} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b := &baresip{t: t, ctrl: "127.0.0.1:" + strconv.Itoa(ctrlPort), out: &syncBuffer{}, done: make(chan struct{})}
	b.cmd = exec.Command(bin, "-f", dir)
	b.cmd.Stdout, b.cmd.Stderr = b.out, b.out
	stdin, err := b.cmd.StdinPipe() // kept open: baresip's menu reads it
	if err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = b.cmd.Wait()
		close(b.done)
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-b.done:
		default:
			_ = b.cmd.Process.Kill()
			<-b.done
		}
		if t.Failed() {
			t.Logf("baresip output:\n%s", b.out.String())
		}
	})
	return b
}

// command sends one ctrl_tcp command (a netstring of JSON). baresip
// 1.0 serves one ctrl_tcp connection at a time, so once listen has opened
// the lasting one, commands go over it.
func (b *baresip) command(name, params string) error {
	msg, _ := json.Marshal(map[string]string{"command": name, "params": params, "token": "1"})
	b.mu.Lock()
	c := b.conn
	b.mu.Unlock()
	if c != nil {
		b.mu.Lock()
		defer b.mu.Unlock()
		_, err := fmt.Fprintf(c, "%d:%s,", len(msg), msg)
		return err
	}
	c, err := net.DialTimeout("tcp", b.ctrl, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = fmt.Fprintf(c, "%d:%s,", len(msg), msg)
	return err
}

// listen keeps a ctrl_tcp connection open and collects the phone's
// events until the test ends.
func (b *baresip) listen() {
	b.t.Helper()
	var c net.Conn
	waitFor(b.t, 10*time.Second, "baresip ctrl_tcp", func() bool {
		var err error
		c, err = net.DialTimeout("tcp", b.ctrl, time.Second)
		return err == nil
	})
	b.t.Cleanup(func() { c.Close() })
	b.mu.Lock()
	b.conn = c
	b.mu.Unlock()
	go func() {
		r := bufio.NewReader(c)
		for {
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
				Event bool `json:"event"`
				phoneEvent
			}
			if json.Unmarshal(msg[:n], &ev) == nil && ev.Event {
				b.mu.Lock()
				b.events = append(b.events, ev.phoneEvent)
				b.mu.Unlock()
			}
		}
	}()
}

// saw reports whether the phone reported an event of type typ.
func (b *baresip) saw(typ string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.events {
		if e.Type == typ {
			return true
		}
	}
	return false
}

// count is how many events of type typ the phone reported.
func (b *baresip) count(typ string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, e := range b.events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// eventParam returns the param of the last event of type typ.
func (b *baresip) eventParam(typ string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.events) - 1; i >= 0; i-- {
		if b.events[i].Type == typ {
			return b.events[i].Param
		}
	}
	return ""
}

// TestBaresipRegisters: a baresip phone registers, shows online, and
// shows offline once it quits and unregisters. baresip 1.0 (libre) knows
// only MD5 and fails with ENOSYS on a 401 that carries a SHA-256
// challenge at all, even listed second, instead of skipping it; such
// phones need MD5 alone (sip.digest_algorithms).
func TestBaresipRegisters(t *testing.T) {
	env := newTestService(t, Config{DigestAlgorithms: []string{"MD5"}})
	env.addExtension(t, "1001", "secret1001")
	b := startBaresip(t, env.s.Addr(), "1001", "secret1001")

	waitFor(t, 15*time.Second, "baresip 1001 online", func() bool { return env.phone("1001").Online })
	p := env.phone("1001")
	if len(p.Bindings) != 1 || p.Bindings[0].Transport != "udp" {
		t.Fatalf("bindings = %+v, want one over udp", p.Bindings)
	}
	if ua := p.Bindings[0].UserAgent; len(ua) < 7 || ua[:7] != "baresip" {
		t.Errorf("user agent %q, want baresip", ua)
	}

	// The ctrl_tcp socket may open a moment after registration.
	waitFor(t, 10*time.Second, "baresip to take the quit command", func() bool { return b.command("quit", "") == nil })
	waitFor(t, 15*time.Second, "1001 offline after baresip quit", func() bool {
		p := env.phone("1001")
		return !p.Online && len(p.Bindings) == 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case <-b.done:
	case <-ctx.Done():
		t.Error("baresip did not exit after quit")
	}
	if k := env.bus.kinds("1001"); !hasKind(k, KindPhoneOnline) || !hasKind(k, KindPhoneOffline) {
		t.Errorf("events %v, want online and offline", k)
	}
}
