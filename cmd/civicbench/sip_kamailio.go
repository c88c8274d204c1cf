package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"
)

// kamailioModules is where Debian's kamailio package keeps its modules.
const kamailioModules = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"

// kamailioConfig is the reference registrar: TESTING.md's minimal one
// (tm, sl, usrloc in memory, registrar, two UDP workers), with digest
// authentication when Auth is set. There is no database: the auth
// module's pv_www_authenticate checks the answer against a password
// derived from the user name, the same one civicbench gives each civicd
// extension (sipPassword). Like civicd's, the challenge asks for
// qop=auth.
const kamailioConfig = `#!KAMAILIO
listen=udp:127.0.0.1:{{.Port}}
children=2
mpath="{{.Modules}}"
log_stderror=yes
debug=1
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "maxfwd.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
{{- if .Auth}}
loadmodule "auth.so"
modparam("auth", "qop", "auth")
modparam("auth", "secret", "{{.Secret}}")
{{- end}}
modparam("usrloc", "db_mode", 0)
request_route {
	if (is_method("REGISTER")) {
{{- if .Auth}}
		if (!pv_www_authenticate("$td", "pw-$tU-civicbench", "0")) {
			www_challenge("$td", "0");
			exit;
		}
{{- end}}
		save("location");
		exit;
	}
	sl_send_reply("404", "Not here");
}
`

// kamailioConfigText renders kamailioConfig for a UDP port.
func kamailioConfigText(port int, auth bool, secret string) (string, error) {
	var b strings.Builder
	err := template.Must(template.New("kamailio").Parse(kamailioConfig)).Execute(&b, struct {
		Port    int
		Modules string
		Auth    bool
		Secret  string
	}{port, kamailioModules, auth, secret})
	return b.String(), err
}

// kamailio is one Kamailio process group on loopback.
type kamailio struct {
	Addr string
	cmd  *exec.Cmd
	out  *tailBuffer
	tree *procTree
}

// startKamailio writes the config into dir and starts Kamailio in the
// foreground (-DD) on a free loopback port, in its own process group.
func startKamailio(ctx context.Context, bin, dir string, auth bool) (*kamailio, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	port, err := freeUDPPair()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = template.Must(template.New("kamailio").Parse(kamailioConfig)).Execute(&b, struct {
		Port    int
		Modules string
		Auth    bool
		Secret  string
	}{port, kamailioModules, auth, strconv.FormatInt(time.Now().UnixNano(), 36)})
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "kamailio.cfg")
	if err := os.WriteFile(cfgPath, b.Bytes(), 0o600); err != nil {
		return nil, err
	}
	k := &kamailio{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), out: &tailBuffer{}}
	// -DD: stay in the foreground with the workers as children; -E: log
	// to stderr; -f: the config; -Y: a runtime directory of our own.
	rundir := filepath.Join(dir, "run")
	if err := os.MkdirAll(rundir, 0o700); err != nil {
		return nil, err
	}
	k.cmd = exec.Command(bin, "-DD", "-E", "-f", cfgPath, "-Y", rundir)
	k.cmd.Dir = dir
	k.cmd.Stdout, k.cmd.Stderr = k.out, k.out
	attr := childAttr()
	if attr == nil {
		attr = &syscall.SysProcAttr{}
	}
	attr.Setpgid = true
	k.cmd.SysProcAttr = attr
	if err := k.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start kamailio: %w", err)
	}
	k.tree = &procTree{root: k.cmd.Process.Pid}
	// Wait until it answers: an OPTIONS gets the 404 of the config.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if sipPing(k.Addr) {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			k.stop()
			return nil, fmt.Errorf("kamailio did not answer on %s within 10 s:\n%s", k.Addr, k.out.tail(20))
		}
		time.Sleep(100 * time.Millisecond) // polling Kamailio's start-up
	}
	return k, nil
}

// stop ends Kamailio's process group (SIGTERM, then SIGKILL) and waits
// for every process of the group to be gone, so that its run directory
// can be removed.
func (k *kamailio) stop() {
	if k.cmd == nil || k.cmd.Process == nil {
		return
	}
	pgid := k.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = k.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
	k.cmd = nil
	// The workers may outlive the main process for a moment.
	for deadline := time.Now().Add(5 * time.Second); syscall.Kill(-pgid, 0) == nil; {
		if time.Now().After(deadline) {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			break
		}
		time.Sleep(20 * time.Millisecond) // polling the group's exit
	}
}

// sipPing sends one OPTIONS over UDP and reports whether anything came
// back within 300 ms.
func sipPing(addr string) bool {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	local := c.LocalAddr().String()
	msg := "OPTIONS sip:" + addr + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK-civicbench-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ";rport\r\n" +
		"From: <sip:civicbench@127.0.0.1>;tag=ping\r\nTo: <sip:" + addr + ">\r\n" +
		"Call-ID: ping-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	if _, err := c.Write([]byte(msg)); err != nil {
		return false
	}
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	return err == nil && strings.HasPrefix(string(buf[:n]), "SIP/2.0 ")
}

// sipKamailio is part 4: the REGISTER load of part 1 against Kamailio,
// with digest authentication and without.
func sipKamailio(ctx context.Context, cfg sipConfig) ([]*sipResult, error) {
	var out []*sipResult
	for _, auth := range []bool{true, false} {
		name, server := "kamailio-digest", "Kamailio (digest, qop=auth)"
		if !auth {
			name, server = "kamailio-noauth", "Kamailio (no authentication)"
		}
		dir := filepath.Join(cfg.Dir, name)
		k, err := startKamailio(ctx, cfg.Kamailio, dir, auth)
		if err != nil {
			return out, err
		}
		r, err := registerLoad(ctx, cfg, dir, k.Addr, 0, k.tree, server, auth)
		k.stop()
		if err != nil {
			return out, err
		}
		r.Part = "sip-kamailio"
		if !auth {
			r.Notes = append(r.Notes, "one REGISTER and its 200 per registration, no challenge: half the messages of the digest runs (TESTING.md's recipe)")
		}
		r.Notes = append(r.Notes, "CPU and peak RSS are summed over Kamailio's processes (main, 2 UDP workers, timers); RSS counts its shared memory once per process")
		out = append(out, r)
	}
	return out, nil
}
