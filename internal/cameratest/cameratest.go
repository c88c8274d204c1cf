// Package cameratest runs a real RTSP camera for tests: Debian's
// GStreamer RTSP server (TESTING.md section 3) on 127.0.0.1, serving a
// moving test picture in H.264. building/cameras' tests, e2e's browser
// tests and the camera benchmarks share it.
//
// It is test support only; nothing in civicd imports it.
package cameratest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"civic/internal/syncbuf"
)

// server is the GStreamer RTSP server. Its arguments: port, then
// mount=launch pairs. It prints "ready" once it listens.
const server = `import sys, gi
gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0')
from gi.repository import Gst, GstRtspServer, GLib
Gst.init(None)
srv = GstRtspServer.RTSPServer(); srv.set_address("127.0.0.1"); srv.set_service(sys.argv[1])
for arg in sys.argv[2:]:
    mount, launch = arg.split("=", 1)
    f = GstRtspServer.RTSPMediaFactory(); f.set_shared(True); f.set_launch(launch)
    srv.get_mount_points().add_factory(mount, f)
if srv.attach(None) == 0:
    print("cannot listen", flush=True); sys.exit(1)
print("ready", flush=True); GLib.MainLoop().run()
`

// Options describe the camera's picture.
type Options struct {
	Width, Height int // default 640x360
	FPS           int // default 15
	KeyInterval   int // frames between keyframes; default 30
	BitrateKbps   int // default x264enc's (2048)
	// Codec is "h264" (default) or "h265" (needs x265enc).
	Codec string
	// Mounts is how many mounts to serve (/cam, /cam2, ...); default 1.
	Mounts int
}

// Camera is a running GStreamer RTSP server.
type Camera struct {
	t    testing.TB
	port int
	args []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	out  *syncbuf.Buffer
	done chan struct{}
}

// Python finds /usr/bin/python3 with GStreamer's RTSP server bindings.
// It skips the test when they are missing, except under CI=true, where
// that fails.
func Python(t testing.TB) string {
	t.Helper()
	const py = "/usr/bin/python3"
	err := exec.Command(py, "-c", "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer").Run()
	if err != nil {
		msg := "GStreamer's RTSP server is not installed (apt-get install python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-ugly gstreamer1.0-plugins-good)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg + "; skipping")
	}
	return py
}

// Launch is the GStreamer pipeline of a camera with these options.
func (o Options) Launch() string {
	w, h, fps, key := cmpOr(o.Width, 640), cmpOr(o.Height, 360), cmpOr(o.FPS, 15), cmpOr(o.KeyInterval, 30)
	src := fmt.Sprintf("videotestsrc is-live=true pattern=ball ! video/x-raw,width=%d,height=%d,framerate=%d/1,format=I420", w, h, fps)
	if o.Codec == "h265" {
		return fmt.Sprintf("( %s ! x265enc tune=zerolatency speed-preset=ultrafast key-int-max=%d ! rtph265pay name=pay0 pt=96 config-interval=1 )", src, key)
	}
	rate := ""
	if o.BitrateKbps > 0 {
		rate = fmt.Sprintf(" bitrate=%d", o.BitrateKbps)
	}
	return fmt.Sprintf("( %s ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=%d%s ! video/x-h264,profile=constrained-baseline ! rtph264pay name=pay0 pt=96 config-interval=1 )",
		src, key, rate)
}

// Start runs a camera on a free loopback port and stops it when the test
// ends.
func Start(t testing.TB, o Options) *Camera {
	t.Helper()
	py := Python(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "camera.py")
	if err := os.WriteFile(script, []byte(server), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &Camera{t: t, args: []string{py, script, ""}}
	for i := range max(o.Mounts, 1) {
		mount := "/cam"
		if i > 0 {
			mount += strconv.Itoa(i + 1)
		}
		c.args = append(c.args, mount+"="+o.Launch())
	}
	for range 5 {
		c.port = freePort(t)
		if c.start() {
			t.Cleanup(c.Stop)
			return c
		}
	}
	t.Fatalf("the GStreamer camera did not start:\n%s", c.output())
	return nil
}

// URL is the camera's stream address for mount ("/cam" when empty).
func (c *Camera) URL(mount string) string {
	if mount == "" {
		mount = "/cam"
	}
	return fmt.Sprintf("rtsp://127.0.0.1:%d%s", c.port, mount)
}

// Port is the camera's RTSP port.
func (c *Camera) Port() int { return c.port }

// start runs the server and waits for its "ready" line.
func (c *Camera) start() bool {
	c.t.Helper()
	args := append([]string(nil), c.args...)
	args[2] = strconv.Itoa(c.port)
	cmd := exec.Command(args[0], args[1:]...)
	out := &syncbuf.Buffer{}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start the GStreamer camera: %v", err)
	}
	done := make(chan struct{})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		said := false
		for sc.Scan() {
			_, _ = out.Write([]byte(sc.Text() + "\n"))
			if !said && sc.Text() == "ready" {
				said = true
				ready <- true
			}
		}
		if !said {
			ready <- false
		}
		_ = cmd.Wait()
		close(done)
	}()
	c.mu.Lock()
	c.cmd, c.out, c.done = cmd, out, done
	c.mu.Unlock()
	select {
	case ok := <-ready:
		if !ok {
			<-done
		}
		return ok
	case <-time.After(20 * time.Second):
		c.Stop()
		return false
	}
}

// Stop kills the camera, as a power cut would.
func (c *Camera) Stop() {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.cmd = nil
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Restart starts the camera again on the same port.
func (c *Camera) Restart() {
	c.t.Helper()
	c.Stop()
	deadline := time.Now().Add(15 * time.Second)
	for !c.start() {
		if time.Now().After(deadline) {
			c.t.Fatalf("the GStreamer camera did not restart on port %d:\n%s", c.port, c.output())
		}
		time.Sleep(200 * time.Millisecond) // the old socket may linger a moment
	}
}

func (c *Camera) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.out == nil {
		return ""
	}
	return c.out.String()
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}
