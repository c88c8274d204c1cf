package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

// cameras-first-frame in Chromium: a tiny page served by the bench on
// its own 127.0.0.1 origin (the console's Cameras page is not used, so
// the figure does not move with the UI), which opens civicd's websocket
// with a token the bench got from /api/login, and per run sends
// camera.watch, answers with a new RTCPeerConnection and polls getStats
// until a frame is decoded.

// watchPageHTML is the page. Its hash carries ws (civicd's websocket
// URL) and token. window.benchReady settles once the socket is
// authenticated; window.watchOnce(camera) resolves to {total, offer,
// packet} in ms from camera.watch sent.
const watchPageHTML = `<!doctype html>
<meta charset="utf-8">
<title>civicbench: camera.watch to the first decoded frame</title>
<body>
<script>
"use strict";
const q = new URLSearchParams(location.hash.slice(1));
const pending = new Map();
let ws, nextId = 1;
window.benchReady = new Promise((resolve, reject) => {
  ws = new WebSocket(q.get("ws"));
  ws.onerror = () => reject(new Error("websocket error"));
  ws.onclose = (e) => reject(new Error("websocket closed: " + e.code + " " + e.reason));
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.type === "auth_required") {
      ws.send(JSON.stringify({type: "auth", token: q.get("token")}));
    } else if (m.type === "auth_ok") {
      resolve(true);
    } else if (m.type === "auth_invalid") {
      reject(new Error("auth: " + m.message));
    } else if (m.type === "result") {
      const p = pending.get(m.id);
      if (p) {
        pending.delete(m.id);
        if (m.success) p.resolve(m.result); else p.reject(new Error(m.error.code + ": " + m.error.message));
      }
    }
  };
});
function call(type, params) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, {resolve, reject});
    ws.send(JSON.stringify(Object.assign({id, type}, params)));
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
window.watchOnce = async function (camera) {
  const t0 = performance.now();
  const r = await call("camera.watch", {camera});
  const offer = performance.now() - t0;
  const pc = new RTCPeerConnection({iceServers: []});
  let connected = 0;
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === "connected" && !connected) connected = performance.now() - t0;
  };
  const video = document.createElement("video");
  video.muted = true; video.autoplay = true; video.playsInline = true;
  document.body.append(video);
  pc.ontrack = (e) => { video.srcObject = new MediaStream([e.track]); };
  // As the console does: answer at once, then trickle candidates (only
  // loopback ones, so every packet stays on 127.0.0.1).
  let early = [], answered = false;
  const send = (candidate) => call("camera.candidate", {viewer: r.viewer, candidate}).catch(() => {});
  pc.onicecandidate = (e) => {
    if (!e.candidate || !e.candidate.candidate || !e.candidate.candidate.includes(" 127.0.0.1 ")) return;
    if (answered) send(e.candidate.toJSON()); else early.push(e.candidate.toJSON());
  };
  try {
    await pc.setRemoteDescription({type: "offer", sdp: r.sdp});
    await pc.setLocalDescription(await pc.createAnswer());
    const sdp = pc.localDescription.sdp.split("\r\n")
      .filter((l) => !l.startsWith("a=candidate:") || l.includes(" 127.0.0.1 ")).join("\r\n");
    await call("camera.answer", {viewer: r.viewer, sdp});
    answered = true;
    early.forEach(send);
    let packet = 0, last = {};
    for (;;) {
      if (performance.now() - t0 > 15000) {
        throw new Error("no decoded frame within 15 s (connection " + pc.connectionState + ", " + JSON.stringify(last) + ")");
      }
      const stats = await pc.getStats();
      let decoded = 0;
      stats.forEach((s) => {
        if (s.type === "inbound-rtp" && s.kind === "video") {
          if (s.packetsReceived > 0 && !packet) packet = performance.now() - t0;
          decoded = s.framesDecoded || 0;
          last = {packets: s.packetsReceived, frames: s.framesReceived, keyframes: s.keyFramesDecoded,
            dropped: s.framesDropped, plis: s.pliCount, nacks: s.nackCount, lost: s.packetsLost};
        }
      });
      if (decoded > 0) return {total: performance.now() - t0, offer, connected, packet, stats: last};
      await sleep(10);
    }
  } finally {
    call("camera.unwatch", {viewer: r.viewer}).catch(() => {});
    pc.close();
    video.remove();
  }
};
</script>
`

// watchPage serves watchPageHTML on 127.0.0.1.
type watchPage struct {
	origin string // http://127.0.0.1:PORT, for CIVIC_HTTP_ALLOWED_ORIGINS
	srv    *http.Server
}

func startWatchPage() (*watchPage, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte(watchPageHTML))
	})
	p := &watchPage{origin: "http://" + ln.Addr().String(), srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func (p *watchPage) close() { _ = p.srv.Close() }

// watchBrowser is headless Chromium with the page open and its socket
// authenticated.
type watchBrowser struct {
	ctx    context.Context // the tab's; no deadline, or it would end the browser
	cancel func()
}

// startWatchBrowser starts Chromium with TESTING.md section 1's flags
// (and ignore-certificate-errors for civicd's self-signed certificate)
// and opens the page on d's websocket with token.
func startWatchBrowser(ctx context.Context, cfg camConfig, page *watchPage, d *daemon, token string) (*watchBrowser, error) {
	profile := filepath.Join(cfg.Dir, "cameras-first-frame", "chromium")
	if err := os.MkdirAll(profile, 0o700); err != nil {
		return nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(cfg.chromium),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(profile),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("disable-features", "Translate,WebRtcHideLocalIpsWithMdns,MediaRouter,DialMediaRouteProvider,OptimizationHints"),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	stop := context.AfterFunc(ctx, cancelTab)
	b := &watchBrowser{ctx: tabCtx, cancel: func() {
		stop()
		cancelTab()
		cancelAlloc()
	}}
	if err := chromedp.Do(tabCtx); err != nil {
		b.close()
		return nil, fmt.Errorf("start chromium: %w", err)
	}
	ws := "wss" + strings.TrimPrefix(d.URL, "https") + "/api/ws"
	u := page.origin + "/#" + url.Values{"ws": {ws}, "token": {token}}.Encode()
	sctx, cancel := context.WithTimeout(tabCtx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, chromedp.Navigate(u)); err != nil {
		b.close()
		return nil, fmt.Errorf("open the watch page: %w", err)
	}
	if _, err := chromedp.Run(sctx, chromedp.Evaluate[bool]("window.benchReady", chromedp.EvalAwaitPromise)); err != nil {
		b.close()
		return nil, fmt.Errorf("the watch page's websocket (is %s an allowed origin?): %w", page.origin, err)
	}
	return b, nil
}

// watchOnce times one viewer in the page.
func (b *watchBrowser) watchOnce(ctx context.Context, camera string) (ffRun, error) {
	if ctx.Err() != nil {
		return ffRun{}, ctx.Err()
	}
	rctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	res, err := chromedp.Run(rctx, chromedp.Evaluate[struct {
		Total     float64 `json:"total"`
		Offer     float64 `json:"offer"`
		Connected float64 `json:"connected"`
		Packet    float64 `json:"packet"`
		Stats     struct {
			Packets int `json:"packets"`
			PLIs    int `json:"plis"`
		} `json:"stats"`
	}](fmt.Sprintf("window.watchOnce(%q)", camera), chromedp.EvalAwaitPromise))
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return ffRun{}, ctx.Err()
		}
		return ffRun{}, fmt.Errorf("chromium: %w", err)
	}
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	return ffRun{Total: ms(res.Total), Offer: ms(res.Offer), Connected: ms(res.Connected), FirstPacket: ms(res.Packet),
		Packets: res.Stats.Packets, PLIs: res.Stats.PLIs}, nil
}

func (b *watchBrowser) close() { b.cancel() }
