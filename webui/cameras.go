package webui

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"civic/building/cameras"
)

// Cameras is what the console needs from building/cameras.
type Cameras interface {
	List() []cameras.Camera
	Statuses() []cameras.Status
	Status(id string) (cameras.Status, error)
	Create(ctx context.Context, in cameras.Input) (cameras.Camera, error)
	Update(ctx context.Context, in cameras.Input) (cameras.Camera, error)
	Delete(ctx context.Context, id string) error
	Probe(ctx context.Context, deviceURL, user, password string) (cameras.ProbeResult, error)
	Discover(ctx context.Context, timeout time.Duration, addr string, onFound func(cameras.Found)) ([]cameras.Found, error)
	Watch(ctx context.Context, id string) (*cameras.Viewer, string, error)
	Snapshot(ctx context.Context, id string) ([]byte, string, error)
}

var _ Cameras = (*cameras.Service)(nil)

const camerasOff = "cameras are not running on this server"

// viewerSet is a connection's camera viewers, by id.
type viewerSet struct {
	mu sync.Mutex
	m  map[string]*cameras.Viewer
}

func (vs *viewerSet) add(v *cameras.Viewer) {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if vs.m == nil {
		vs.m = map[string]*cameras.Viewer{}
	}
	vs.m[v.ID] = v
}

func (vs *viewerSet) get(id string) (*cameras.Viewer, error) {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	v := vs.m[id]
	if v == nil {
		return nil, apiErrorf(CodeNotFound, "no viewer %q on this connection", truncate(id, 32))
	}
	return v, nil
}

func (vs *viewerSet) drop(id string) {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	delete(vs.m, id)
}

// closeAll ends every viewer (the socket is closing).
func (vs *viewerSet) closeAll() {
	vs.mu.Lock()
	all := vs.m
	vs.m = nil
	vs.mu.Unlock()
	for _, v := range all {
		v.Close()
	}
}

func (c *conn) cameras() (Cameras, error) {
	if c.s.deps.Cameras == nil {
		return nil, apiErrorf(CodeUnavailable, camerasOff)
	}
	return c.s.deps.Cameras, nil
}

// camerasError maps building/cameras' errors to the error sent to the
// client, or nil when err is none of them.
func camerasError(err error) *WireError {
	for _, m := range []struct {
		sentinel error
		code     string
		fallback string
	}{
		{cameras.ErrNotFound, CodeNotFound, "no such camera"},
		{cameras.ErrExists, CodeConflict, "that camera id is taken"},
		{cameras.ErrInvalid, CodeInvalidParams, "the camera settings are not valid"},
		{cameras.ErrUnavailable, CodeUnavailable, "the camera cannot be reached"},
		{cameras.ErrUnsupported, CodeUnavailable, "the camera cannot do that"},
		{cameras.ErrTooMany, CodeConflict, "too many viewers"},
	} {
		if errors.Is(err, m.sentinel) {
			return &WireError{Code: m.code, Message: afterSentinel(err, m.sentinel, m.fallback)}
		}
	}
	return nil
}

func describeCamera(c cameras.Camera) string {
	parts := []string{c.Name}
	if c.ONVIFURL != "" {
		parts = append(parts, "onvif "+c.ONVIFURL)
	}
	if c.RTSPURL != "" {
		parts = append(parts, c.RTSPURL)
	}
	if !c.Enabled {
		parts = append(parts, "disabled")
	}
	return strings.Join(parts, ", ")
}

func cameraHandlers() map[string]handlerFunc {
	return map[string]handlerFunc{
		TypeCamerasList:     (*conn).handleCamerasList,
		TypeCamerasCreate:   (*conn).handleCamerasCreate,
		TypeCamerasUpdate:   (*conn).handleCamerasUpdate,
		TypeCamerasDelete:   (*conn).handleCamerasDelete,
		TypeCamerasProbe:    (*conn).handleCamerasProbe,
		TypeCamerasDiscover: (*conn).handleCamerasDiscover,
		TypeCameraWatch:     (*conn).handleCameraWatch,
		TypeCameraAnswer:    (*conn).handleCameraAnswer,
		TypeCameraCandidate: (*conn).handleCameraCandidate,
		TypeCameraUnwatch:   (*conn).handleCameraUnwatch,
	}
}

func (s *Server) camerasSnapshot() CamerasResult {
	if s.deps.Cameras == nil {
		return CamerasResult{Cameras: []cameras.Camera{}, Status: []cameras.Status{}}
	}
	return CamerasResult{Cameras: nonNil(s.deps.Cameras.List()), Status: nonNil(s.deps.Cameras.Statuses())}
}

func (c *conn) handleCamerasList(_ context.Context, _ request) (reply, error) {
	if _, err := c.cameras(); err != nil {
		return reply{}, err
	}
	return reply{result: c.s.camerasSnapshot()}, nil
}

func (c *conn) handleCamerasCreate(ctx context.Context, req request) (reply, error) {
	var p CameraBody
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	rep := reply{target: named("camera", p.Camera.ID)}
	cs, err := c.cameras()
	if err != nil {
		return rep, err
	}
	cam, err := cs.Create(ctx, p.Camera)
	if err != nil {
		return rep, err
	}
	rep.result, rep.detail = CameraResult{Camera: cam}, truncate(describeCamera(cam), 160)
	return rep, nil
}

func (c *conn) handleCamerasUpdate(ctx context.Context, req request) (reply, error) {
	var p CameraBody
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	rep := reply{target: named("camera", p.Camera.ID)}
	if err := needID(p.Camera.ID, "camera.id", "camera to change"); err != nil {
		return rep, err
	}
	cs, err := c.cameras()
	if err != nil {
		return rep, err
	}
	cam, err := cs.Update(ctx, p.Camera)
	if err != nil {
		return rep, err
	}
	detail := describeCamera(cam)
	if p.Camera.Password != nil {
		detail += ", password changed"
	}
	rep.result, rep.detail = CameraResult{Camera: cam}, truncate(detail, 160)
	return rep, nil
}

func (c *conn) handleCamerasDelete(ctx context.Context, req request) (reply, error) {
	var p CameraIDParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	rep := reply{target: named("camera", p.CameraID)}
	if err := needID(p.CameraID, "camera_id", "camera to remove"); err != nil {
		return rep, err
	}
	cs, err := c.cameras()
	if err != nil {
		return rep, err
	}
	if st, err := cs.Status(p.CameraID); err == nil {
		rep.detail = st.Name
	}
	return rep, cs.Delete(ctx, p.CameraID)
}

func (c *conn) handleCamerasProbe(ctx context.Context, req request) (reply, error) {
	var p CameraProbeParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	cs, err := c.cameras()
	if err != nil {
		return reply{}, err
	}
	res, err := cs.Probe(ctx, p.ONVIFURL, p.Username, p.Password)
	if err != nil {
		return reply{}, err
	}
	if res.Profiles == nil {
		res.Profiles = []cameras.Profile{}
	}
	return reply{result: res}, nil
}

// handleCamerasDiscover starts a WS-Discovery scan; its progress and
// answers follow as events on the request's id, so the socket stays free
// while it listens.
func (c *conn) handleCamerasDiscover(_ context.Context, req request) (reply, error) {
	var p CameraDiscoverParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	if p.TimeoutMS == 0 {
		p.TimeoutMS = 3000
	}
	if p.TimeoutMS < 500 || p.TimeoutMS > 10000 {
		return reply{}, apiErrorf(CodeInvalidParams, "timeout_ms must be 500-10000")
	}
	cs, err := c.cameras()
	if err != nil {
		return reply{}, err
	}
	timeout := time.Duration(p.TimeoutMS) * time.Millisecond
	id := req.ID
	rep := reply{result: CameraDiscoverResult{TimeoutMS: p.TimeoutMS}}
	rep.after = func() {
		go c.discover(cs, id, timeout)
	}
	return rep, nil
}

func (c *conn) discover(cs Cameras, id int64, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(c.ctx, timeout+time.Second)
	defer cancel()
	var mu sync.Mutex
	found := 0
	start := time.Now()
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				pct := min(99, int(time.Since(start)*100/timeout))
				mu.Lock()
				n := found
				mu.Unlock()
				c.sendRequestEvent(id, TopicCameraDiscovery, KindDiscoveryProgress, map[string]int{"percent": pct, "found": n})
			}
		}
	}()
	all, err := cs.Discover(ctx, timeout, c.s.opts.DiscoveryAddr, func(f cameras.Found) {
		mu.Lock()
		found++
		mu.Unlock()
		c.sendRequestEvent(id, TopicCameraDiscovery, KindDiscoveryFound, map[string]any{"camera": f})
	})
	close(done)
	if all == nil {
		all = []cameras.Found{}
	}
	out := map[string]any{"found": all}
	if err != nil {
		c.log.Warn("camera discovery", "err", err)
		out["error"] = err.Error()
	}
	c.sendRequestEvent(id, TopicCameraDiscovery, KindDiscoveryProgress, map[string]int{"percent": 100, "found": len(all)})
	c.sendRequestEvent(id, TopicCameraDiscovery, KindDiscoveryDone, out)
}

// sendRequestEvent sends one event on a request's id.
func (c *conn) sendRequestEvent(id int64, topic, kind string, data any) {
	raw, err := json.Marshal(data)
	if err != nil {
		c.log.Error("encode camera event", "kind", kind, "err", err)
		return
	}
	body, err := json.Marshal(EventDetail{Topic: topic, Kind: kind, At: time.Now().UTC().Format(time.RFC3339Nano), Data: raw})
	if err != nil {
		return
	}
	c.sendRaw(eventMessage(id, body))
}

func (c *conn) handleCameraWatch(ctx context.Context, req request) (reply, error) {
	var p CameraWatchParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	if strings.TrimSpace(p.Camera) == "" {
		return reply{}, apiErrorf(CodeInvalidParams, "camera must name the camera to watch")
	}
	cs, err := c.cameras()
	if err != nil {
		return reply{}, err
	}
	v, sdp, err := cs.Watch(ctx, p.Camera)
	if err != nil {
		return reply{}, err
	}
	c.viewers.add(v)
	id := req.ID
	v.OnClose(func() {
		c.viewers.drop(v.ID)
		if c.ctx.Err() == nil {
			c.sendRequestEvent(id, TopicCameraWatch, KindCameraEnded, map[string]string{"viewer": v.ID, "camera": v.Camera})
		}
	})
	st, _ := cs.Status(p.Camera)
	ice := []webrtc.ICEServer{}
	if c.s.deps.ICEServers != nil {
		ice = nonNil(c.s.deps.ICEServers())
	}
	return reply{result: CameraWatchResult{Viewer: v.ID, SDP: sdp, ICEServers: ice, Status: st}}, nil
}

func (c *conn) handleCameraAnswer(_ context.Context, req request) (reply, error) {
	var p CameraAnswerParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	v, err := c.viewers.get(p.Viewer)
	if err != nil {
		return reply{}, err
	}
	return reply{}, v.Answer(p.SDP)
}

func (c *conn) handleCameraCandidate(_ context.Context, req request) (reply, error) {
	var p CameraCandidateParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	v, err := c.viewers.get(p.Viewer)
	if err != nil {
		return reply{}, err
	}
	return reply{}, v.AddCandidate(p.Candidate)
}

func (c *conn) handleCameraUnwatch(_ context.Context, req request) (reply, error) {
	var p ViewerParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	v, err := c.viewers.get(p.Viewer)
	if err != nil {
		return reply{}, err
	}
	v.Close()
	return reply{}, nil
}

// handleCameraSnapshot is GET CameraSnapshotPath: a still picture of a
// camera for the list's thumbnails, for admins and facilities staff.
func (s *Server) handleCameraSnapshot(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.requestSession(w, r)
	if !ok {
		return
	}
	if !allowed(doorKeepers, sess.User.Role) {
		writeAPIError(w, http.StatusForbidden, CodeNotAllowed, "only admins and facilities staff can see cameras")
		return
	}
	if s.deps.Cameras == nil {
		writeAPIError(w, http.StatusServiceUnavailable, CodeUnavailable, camerasOff)
		return
	}
	data, ctype, err := s.deps.Cameras.Snapshot(r.Context(), r.PathValue("id"))
	if err != nil {
		we := s.wireError(err)
		writeAPIError(w, statusOf(we.Code), we.Code, we.Message)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'")
	h.Set("Cache-Control", "private, max-age=5")
	_, _ = w.Write(data)
}
