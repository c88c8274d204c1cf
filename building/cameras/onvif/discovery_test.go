package onvif_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"civic/building/cameras/onvif"
	"civic/building/cameras/onvif/onviftest"
)

func startResponder(t *testing.T, addr string, a onviftest.Advert) *onviftest.Responder {
	t.Helper()
	r, err := onviftest.StartDiscovery(addr, a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// checkFound checks a found device against the responder's default
// advert.
func checkFound(t *testing.T, got []onvif.Found, xaddr string) {
	t.Helper()
	if len(got) != 1 {
		t.Fatalf("found %d devices, want 1: %+v", len(got), got)
	}
	f := got[0]
	if !reflect.DeepEqual(f.XAddrs, []string{xaddr}) || f.Name != "Lobby Camera" || f.Hardware != "OT-2146" ||
		f.Location != "city/Shanghai" || !strings.HasPrefix(f.EndpointRef, "urn:uuid:") ||
		!reflect.DeepEqual(f.Types, []string{"dn:NetworkVideoTransmitter", "tds:Device"}) || len(f.Scopes) != 6 {
		t.Errorf("found %+v", f)
	}
}

// Discovery over loopback unicast, then the found address is probed.
func TestDiscoverUnicast(t *testing.T) {
	srv := startCamera(t, onviftest.Camera{})
	r := startResponder(t, "127.0.0.1:0", onviftest.Advert{XAddrs: []string{srv.URL()}})
	var streamed []onvif.Found
	found, err := onvif.Discover(ctxT(t), onvif.DiscoverOptions{
		Addr:    r.Addr(),
		Timeout: 400 * time.Millisecond,
		OnFound: func(f onvif.Found) { streamed = append(streamed, f) },
	})
	if err != nil {
		t.Fatal(err)
	}
	checkFound(t, found, srv.URL())
	if !reflect.DeepEqual(streamed, found) {
		t.Errorf("OnFound saw %+v, want %+v", streamed, found)
	}
	// Two probe types, each answered: the device is still reported once.
	if n := r.Probes(); n < 2 {
		t.Errorf("responder got %d probes, want at least 2", n)
	}
	c := newClient(t, srv, password, onvif.Options{})
	if _, err := c.Probe(ctxT(t)); err != nil {
		t.Errorf("probe the discovered camera: %v", err)
	}
}

// A caller stops discovery from OnFound (a UI's "stop" button) and gets
// what was found at once.
func TestDiscoverCancel(t *testing.T) {
	r := startResponder(t, "127.0.0.1:0", onviftest.Advert{XAddrs: []string{"http://127.0.0.1:1/onvif/device_service"}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	found, err := onvif.Discover(ctx, onvif.DiscoverOptions{
		Addr:    r.Addr(),
		Timeout: time.Minute,
		Retries: -1,
		OnFound: func(onvif.Found) { cancel() },
	})
	if !errors.Is(err, context.Canceled) || len(found) != 1 {
		t.Errorf("got %d found, %v; want 1 and context.Canceled", len(found), err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("returned after %v, want at once", d)
	}
}

// The first round of Probes is lost; the repeat finds the device.
func TestDiscoverRepeats(t *testing.T) {
	r := startResponder(t, "127.0.0.1:0", onviftest.Advert{XAddrs: []string{"http://127.0.0.1:1/onvif/device_service"}, Drop: 2})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	found, err := onvif.Discover(ctx, onvif.DiscoverOptions{
		Addr:    r.Addr(),
		Timeout: time.Minute, // the repeat goes out after 30 s at the latest
		Retries: 100,         // ... and after 0.3 s here
		OnFound: func(onvif.Found) { cancel() },
	})
	if !errors.Is(err, context.Canceled) || len(found) != 1 {
		t.Errorf("got %d found, %v; want 1 found by a repeated Probe", len(found), err)
	}
	if n := r.Probes(); n < 3 {
		t.Errorf("responder got %d probes, want a repeat after the 2 lost", n)
	}
	// Without repeats the lost round means nothing is found.
	r2 := startResponder(t, "127.0.0.1:0", onviftest.Advert{Drop: 2, XAddrs: []string{"http://127.0.0.1:1/x"}})
	found, err = onvif.Discover(ctxT(t), onvif.DiscoverOptions{Addr: r2.Addr(), Timeout: 300 * time.Millisecond, Retries: -1})
	if err != nil || len(found) != 0 {
		t.Errorf("without repeats: %+v, %v; want nothing", found, err)
	}
}

// Nobody answers: an empty result, no error, after the timeout.
func TestDiscoverNobody(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0") // a silent socket
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	found, err := onvif.Discover(ctxT(t), onvif.DiscoverOptions{Addr: pc.LocalAddr().String(), Timeout: 200 * time.Millisecond})
	if err != nil || len(found) != 0 {
		t.Errorf("got %+v, %v; want nothing", found, err)
	}
}

// netnsEnv marks the test binary re-run inside a network namespace.
const netnsEnv = "ONVIF_TEST_IN_NETNS"

// TestDiscoverMulticast sends real multicast Probes to 239.255.255.250:3702.
// So that no packet leaves the machine, it re-runs this test binary inside
// a fresh network namespace (unshare -n) where only lo exists, with
// multicast turned on for lo and a route for 239.0.0.0/8 through it.
func TestDiscoverMulticast(t *testing.T) {
	if os.Getenv(netnsEnv) == "1" {
		multicastInNetns(t)
		return
	}
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux network namespaces")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a network namespace (unshare -n) for real multicast; run the tests as root to include it")
	}
	unshare, err1 := exec.LookPath("unshare")
	_, err2 := exec.LookPath("ip")
	if err1 != nil || err2 != nil {
		t.Skip("needs unshare (util-linux) and ip (iproute2)")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	script := `ip link set lo up && ip link set lo multicast on && ip route add 239.0.0.0/8 dev lo && ` +
		`exec "$0" -test.run='^TestDiscoverMulticast$' -test.v -test.count=1`
	cmd := exec.CommandContext(ctxT(t), unshare, "-n", "sh", "-c", script, exe)
	cmd.Env = append(os.Environ(), netnsEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil && strings.Contains(string(out), "unshare failed") {
		t.Skipf("cannot make a network namespace here (a container without CAP_SYS_ADMIN?): %s", out)
	}
	if err != nil {
		t.Fatalf("in the network namespace: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestDiscoverMulticast") {
		t.Fatalf("the test did not pass in the network namespace:\n%s", out)
	}
	t.Logf("in the network namespace:\n%s", out)
}

// multicastInNetns runs inside the namespace.
func multicastInNetns(t *testing.T) {
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	if len(ifs) != 1 || ifs[0].Name != "lo" {
		t.Fatalf("interfaces %+v: not the fresh namespace with only lo", ifs)
	}
	lo := &ifs[0]
	const xaddr = "http://127.0.0.1:8000/onvif/device_service"
	startResponder(t, onvif.DiscoveryAddr, onviftest.Advert{XAddrs: []string{xaddr}, Interface: lo})
	for _, tc := range []struct {
		name string
		ifi  *net.Interface
	}{{"by route", nil}, {"by interface", lo}} {
		t.Run(tc.name, func(t *testing.T) {
			var streamed int
			found, err := onvif.Discover(ctxT(t), onvif.DiscoverOptions{
				Interface: tc.ifi, Timeout: 500 * time.Millisecond,
				OnFound: func(onvif.Found) { streamed++ },
			})
			if err != nil {
				t.Fatal(err)
			}
			checkFound(t, found, xaddr)
			if streamed != 1 {
				t.Errorf("OnFound called %d times, want 1", streamed)
			}
		})
	}
}
