package voip

import (
	"context"
	"testing"
	"time"

	"civic/internal/phonetest"
)

// baresip is a real desk phone (TESTING.md section 2), from phonetest.
type baresip = phonetest.Phone

// phoneOpts describes one baresip phone.
type phoneOpts = phonetest.Options

// startBaresip starts a phone registering extension n with password pw
// to the registrar at addr.
func startBaresip(t *testing.T, addr, n, pw string) *baresip {
	return startPhone(t, addr, n, pw, phoneOpts{})
}

// startPhone starts a baresip phone for extension n, as o says.
func startPhone(t *testing.T, addr, n, pw string, o phoneOpts) *baresip {
	t.Helper()
	needTool(t, "baresip")
	return phonetest.Start(t, addr, n, pw, o)
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
	waitFor(t, 10*time.Second, "baresip to take the quit command", func() bool { return b.Command("quit", "") == nil })
	waitFor(t, 15*time.Second, "1001 offline after baresip quit", func() bool {
		p := env.phone("1001")
		return !p.Online && len(p.Bindings) == 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case <-b.Done():
	case <-ctx.Done():
		t.Error("baresip did not exit after quit")
	}
	if k := env.bus.kinds("1001"); !hasKind(k, KindPhoneOnline) || !hasKind(k, KindPhoneOffline) {
		t.Errorf("events %v, want online and offline", k)
	}
}
