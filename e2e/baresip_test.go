package e2e

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
)

// deskPhone is a real desk phone: baresip with no sound card (TESTING.md
// section 2), registered to the daemon and driven over its ctrl_tcp
// socket. It is the recipe of voip/baresip_test.go, copied: e2e does not
// import test code from other packages.
type deskPhone struct {
	ext  string
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{} // closed when the process has exited

	mu     sync.Mutex
	conn   net.Conn // the ctrl_tcp connection; baresip 1.0 serves one at a time
	events []string // the types of the events it reported, such as CALL_CLOSED
}

// lookBaresip finds baresip (Debian package baresip-core). It skips the
// test when baresip is missing, except under CI=true, where that fails.
func lookBaresip(t *testing.T) string {
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

// freeLoopbackPort returns a loopback port of network ("udp" or "tcp")
// that was free a moment ago.
func freeLoopbackPort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp+tcp" {
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
	}
	if network == "udp" {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startDeskPhone starts baresip registering extension ext with password
// at the daemon's SIP address sipAddr, over UDP with PCMU. With autoAnswer
// it picks up incoming calls at once. It stops when the test ends.
func startDeskPhone(t *testing.T, bin, sipAddr, ext, password string, autoAnswer bool) *deskPhone {
	t.Helper()
	dir := t.TempDir()
	// baresip binds its SIP port for UDP and TCP whatever the transport.
	sipPort, ctrlPort := freeLoopbackPort(t, "udp+tcp"), freeLoopbackPort(t, "tcp")
	config := fmt.Sprintf(`sip_listen 127.0.0.1:%d
sip_transports udp
net_interface 127.0.0.1
audio_player aubridge,nil
audio_source aubridge,nil
audio_alert aubridge,nil
module_path /usr/lib/baresip/modules
module g711.so
module aubridge.so
module_app account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:%d
`, sipPort, ctrlPort)
	answer := ""
	if autoAnswer {
		answer = ";answermode=auto"
	}
	accounts := fmt.Sprintf("<sip:%s@%s;transport=udp>;auth_pass=%s;regint=60;audio_codecs=PCMU%s\n", ext, sipAddr, password, answer)
	for name, body := range map[string]string{"config": config, "accounts": accounts} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := &deskPhone{ext: ext, out: &lockedBuffer{}, done: make(chan struct{})}
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
	t.Cleanup(func() {
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
		if t.Failed() {
			t.Logf("baresip %s output:\n%s", ext, p.out.tail(60))
		}
	})
	p.connect(t, "127.0.0.1:"+strconv.Itoa(ctrlPort))
	return p
}

// connect opens the ctrl_tcp connection, retrying until baresip listens,
// and collects the phone's events from it.
func (p *deskPhone) connect(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	var c net.Conn
	for {
		var err error
		if c, err = net.DialTimeout("tcp", addr, time.Second); err == nil {
			break
		}
		select {
		case <-p.done:
			t.Fatalf("baresip %s exited:\n%s", p.ext, p.out.tail(40))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("baresip %s ctrl_tcp %s: %v", p.ext, addr, err)
		}
		time.Sleep(50 * time.Millisecond)
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
			msg := make([]byte, n+1)
			if _, err := io.ReadFull(r, msg); err != nil {
				return
			}
			var ev struct {
				Event bool   `json:"event"`
				Type  string `json:"type"`
			}
			if json.Unmarshal(msg[:n], &ev) == nil && ev.Event {
				p.mu.Lock()
				p.events = append(p.events, ev.Type)
				p.mu.Unlock()
			}
		}
	}()
}

// command sends one ctrl_tcp command, such as dial with a SIP URI.
func (p *deskPhone) command(t *testing.T, name, params string) {
	t.Helper()
	msg, _ := json.Marshal(map[string]string{"command": name, "params": params, "token": name})
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(p.conn, "%d:%s,", len(msg), msg); err != nil {
		t.Fatalf("baresip %s %s: %v", p.ext, name, err)
	}
}

// saw reports whether the phone reported an event of type typ.
func (p *deskPhone) saw(typ string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.events {
		if e == typ {
			return true
		}
	}
	return false
}

// waitEvent waits until the phone reports an event of type typ.
func (p *deskPhone) waitEvent(t *testing.T, typ string) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for !p.saw(typ) {
		if time.Now().After(deadline) {
			p.mu.Lock()
			seen := strings.Join(p.events, " ")
			p.mu.Unlock()
			t.Fatalf("baresip %s did not report %s within %s (saw %s)", p.ext, typ, stepTimeout, seen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
