package rtsp

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"

	"civic/internal/syncbuf"
)

// gstServer is TESTING.md §3's camera: Debian's GStreamer RTSP server
// with an H.264 test pattern. It binds port argv[1] ("0": any free one),
// prints "ready PORT", and exits when its stdin closes, so a killed test
// leaves no server behind.
const gstServer = `import os, sys, threading, gi
gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0')
from gi.repository import Gst, GstRtspServer, GLib
Gst.init(None)
if Gst.ElementFactory.find('x264enc') is None:
    print("missing x264enc (gstreamer1.0-plugins-ugly)", flush=True); sys.exit(3)
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
srv = GstRtspServer.RTSPServer(); srv.set_address("127.0.0.1"); srv.set_service(sys.argv[1])
f = GstRtspServer.RTSPMediaFactory(); f.set_shared(True)
f.set_launch("( videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=360,framerate=15/1,format=I420 "
             "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! video/x-h264,profile=constrained-baseline "
             "! rtph264pay name=pay0 pt=96 config-interval=1 )")
srv.get_mount_points().add_factory("/cam", f)
srv.attach(None)
print("ready", srv.get_bound_port(), flush=True)
GLib.MainLoop().run()
`

// startGStreamer runs gstServer and returns its /cam URL. Without
// python3-gi and GstRtspServer the test is skipped, or fails under CI.
func startGStreamer(t *testing.T) string {
	t.Helper()
	missing := func(why string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("GStreamer RTSP server unavailable: %s (apt-get install python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-ugly)", why)
		}
		t.Skipf("GStreamer RTSP server unavailable: %s", why)
	}
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		missing(err.Error())
	}
	script := filepath.Join(t.TempDir(), "gst_rtsp.py")
	if err := os.WriteFile(script, []byte(gstServer), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, script, "0")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), "GST_DEBUG=rtsp*:3")
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		missing(err.Error())
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("GStreamer server log (GST_DEBUG=rtsp*:3), last 8 KiB:\n%s", tail(stderr.String(), 8<<10))
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	select {
	case line, ok := <-lines:
		port, found := strings.CutPrefix(line, "ready ")
		if !found {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if !ok || strings.Contains(line, "missing") || strings.Contains(stderr.String(), "ValueError") ||
				strings.Contains(stderr.String(), "ModuleNotFoundError") {
				missing(strings.TrimSpace(line + " " + stderr.String()))
			}
			t.Fatalf("GStreamer server said %q; stderr:\n%s", line, stderr.String())
		}
		return "rtsp://127.0.0.1:" + port + "/cam"
	case <-time.After(20 * time.Second):
		t.Fatalf("GStreamer server not ready after 20 s; stderr:\n%s", stderr.String())
	}
	return ""
}

// playFrames plays url until it has seen frames marker packets.
func playFrames(t *testing.T, url string, o Options, frames int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Open(ctx, url, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if s.Video.Codec != "H264" || s.Video.Fmtp["sprop-parameter-sets"] == "" || s.Video.Fmtp["packetization-mode"] != "1" {
		t.Errorf("Video = %+v, want H264 with sprop-parameter-sets", s.Video)
	}
	if want := o.Transport; want != TransportAuto && s.Transport() != want {
		t.Errorf("Transport() = %q, want %q", s.Transport(), want)
	}
	var markers, packets, wrongPT atomic.Int32
	err = s.Play(ctx, func(p *rtp.Packet) {
		packets.Add(1)
		if p.PayloadType != s.Video.PayloadType {
			wrongPT.Add(1)
		}
		if p.Marker && markers.Add(1) == int32(frames) {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || markers.Load() < int32(frames) {
		t.Fatalf("Play: %v after %d packets, %d frames; want %d frames", err, packets.Load(), markers.Load(), frames)
	}
	if o.Transport == TransportAuto && s.Transport() != TransportUDP {
		t.Errorf("auto fell back to %s on loopback, where UDP works", s.Transport())
	}
	if wrongPT.Load() > 0 {
		t.Errorf("%d packets with a payload type other than the SDP's %d", wrongPT.Load(), s.Video.PayloadType)
	}
}

// TestGStreamer plays a real RTSP server's H.264 over TCP and UDP, one
// and two sessions at a time, and probes it with Describe.
func TestGStreamer(t *testing.T) {
	url := startGStreamer(t)
	// A viewer that stays for the whole test keeps the shared media
	// playing, as a camera's stream always is: GStreamer unprepares a
	// shared media when its last client leaves, and clients arriving
	// during that get 503 or a closed connection.
	ctx, cancel := context.WithCancel(context.Background())
	anchor, err := Open(ctx, url, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	first := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	go func() { done <- anchor.Play(ctx, func(*rtp.Packet) { once.Do(func() { close(first) }) }) }()
	t.Cleanup(func() {
		cancel()
		<-done
		anchor.Close()
	})
	select {
	case <-first:
	case err := <-done:
		t.Fatalf("the anchor viewer's Play: %v", err)
	}
	t.Run("describe", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ms, err := Describe(ctx, url, Options{})
		if err != nil || len(ms) != 1 || ms[0].Codec != "H264" || ms[0].PayloadType != 96 || ms[0].ClockRate != 90000 ||
			!strings.HasPrefix(ms[0].Control, url) {
			t.Errorf("Describe = %+v, %v", ms, err)
		}
	})
	for _, transport := range []string{TransportTCP, TransportUDP} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			playFrames(t, url, Options{Transport: transport}, 30)
		})
	}
	t.Run("two sessions", func(t *testing.T) {
		t.Parallel()
		for _, transport := range []string{TransportTCP, TransportAuto} {
			t.Run(transport, func(t *testing.T) {
				t.Parallel()
				playFrames(t, url, Options{Transport: transport}, 30)
			})
		}
	})
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	return s[max(0, len(s)-n):]
}
