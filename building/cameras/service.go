package cameras

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"civic/building"
	"civic/internal/events"
)

// TopicCameras carries Event: state changes, removals and health figures.
const TopicCameras events.Topic = "building.cameras"

// Event kinds on TopicCameras.
const (
	KindChanged = "building.camera_changed" // a camera was added or edited, or its state changed; Camera is its status
	KindRemoved = "building.camera_removed" // Camera has its id and name
	KindHealth  = "building.camera_health"  // every HealthInterval: Cameras holds every camera's figures
	KindMotion  = "building.camera_motion"  // an ONVIF motion event: Camera names it, Active says start or end
)

// Event is a bus event about cameras.
type Event struct {
	Kind    string   `json:"-"`
	Camera  *Status  `json:"camera,omitempty"`
	Cameras []Status `json:"cameras,omitempty"`
	Active  *bool    `json:"active,omitempty"`
}

// EventTopic implements events.Payload.
func (Event) EventTopic() events.Topic { return TopicCameras }

// EventKind implements events.Payload.
func (e Event) EventKind() string { return e.Kind }

// Publisher is where the service announces changes (the event bus).
type Publisher interface {
	Publish(p events.Payload)
}

// Alarms is the building's alarm queue, which camera alarms join.
type Alarms interface {
	CameraAlarm(camera, kind string, on bool, msg string) error
}

// Config configures the service. Zero values take the defaults.
type Config struct {
	// NewPeerConnection makes a live view connection on civicd's WebRTC
	// ports (rtc.Engine.NewViewerConnection). Nil: no live view.
	NewPeerConnection func() (*webrtc.PeerConnection, error)
	// CheckInterval is how often a camera nobody watches is sampled.
	// Default: 30 s.
	CheckInterval time.Duration
	// SampleFor is how long a check plays the stream. Default: 3 s.
	SampleFor time.Duration
	// Timeout bounds each RTSP request, and the wait for packets while
	// playing. Default: 5 s.
	Timeout time.Duration
	// OfflineAfter is how long a camera may send no video before it
	// counts as offline and raises an alarm. Default: 15 s.
	OfflineAfter time.Duration
	// MinFPS is the frame rate under which a camera is degraded.
	// Default: 5.
	MinFPS float64
	// KeyframeTimeout is how long a camera may go without a keyframe
	// before it is degraded. Default: 10 s.
	KeyframeTimeout time.Duration
	// Debounce is how long a change between online and degraded must
	// last before it is announced. Default: 5 s.
	Debounce time.Duration
	// ViewerGrace keeps a camera's session up after its last viewer
	// leaves, for one who comes back. Default: 10 s.
	ViewerGrace time.Duration
	// MaxViewers caps the viewers of one camera. Default: 20.
	MaxViewers int
	// MaxFrameBytes caps one picture; bigger ones are dropped. Default:
	// 4 MiB.
	MaxFrameBytes int
	// HealthInterval is how often health figures go on the bus.
	// Default: 5 s.
	HealthInterval time.Duration
	// EvalInterval is how often a camera's state is judged. Default:
	// 500 ms.
	EvalInterval time.Duration
	// OnRemoved, if set, is called after a camera is deleted, for the
	// building to take it off its floor plan.
	OnRemoved func(ctx context.Context, id string)
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.CheckInterval, 30*time.Second)
	def(&c.SampleFor, 3*time.Second)
	def(&c.Timeout, 5*time.Second)
	def(&c.OfflineAfter, 15*time.Second)
	def(&c.KeyframeTimeout, 10*time.Second)
	def(&c.Debounce, 5*time.Second)
	def(&c.ViewerGrace, 10*time.Second)
	def(&c.HealthInterval, 5*time.Second)
	def(&c.EvalInterval, 500*time.Millisecond)
	if c.MinFPS <= 0 {
		c.MinFPS = 5
	}
	if c.MaxViewers <= 0 {
		c.MaxViewers = 20
	}
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = 4 << 20
	}
}

// Service keeps the cameras and runs their workers.
type Service struct {
	cfg    Config
	db     *sql.DB
	bus    Publisher
	alarms Alarms
	log    *slog.Logger

	badFrames atomic.Int64

	mu      sync.Mutex
	ctx     context.Context // the workers' parent, set by Run
	workers map[string]*worker
	snaps   map[string]snapshot // cached thumbnails, by camera
}

// New loads the cameras from db. Their workers start with Run.
func New(ctx context.Context, cfg Config, db *sql.DB, bus Publisher, alarms Alarms, logger *slog.Logger) (*Service, error) {
	cfg.defaults()
	s := &Service{cfg: cfg, db: db, bus: bus, alarms: alarms, log: logger, workers: map[string]*worker{},
		snaps: map[string]snapshot{}}
	cams, err := loadAll(ctx, db)
	if err != nil {
		return nil, err
	}
	// Cameras loaded together would be checked together for ever (200
	// sessions at once every interval): spread their first checks.
	spread := min(cfg.CheckInterval, 10*time.Second)
	for _, c := range cams {
		w := newWorker(s, c)
		w.firstDelay = time.Duration(mrand.Int64N(int64(spread)))
		s.workers[c.ID] = w
	}
	return s, nil
}

// Run starts every camera's worker and the health announcements, and
// returns when ctx ends and the workers have stopped.
func (s *Service) Run(ctx context.Context) {
	s.mu.Lock()
	s.ctx = ctx
	for _, w := range s.workers {
		w.start(ctx)
	}
	s.mu.Unlock()
	tick := time.NewTicker(s.cfg.HealthInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			all := s.workerList()
			s.mu.Unlock()
			for _, w := range all {
				w.closeViewers()
				<-w.done
			}
			return
		case <-tick.C:
			if st := s.Statuses(); len(st) > 0 {
				s.publish(Event{Kind: KindHealth, Cameras: st})
			}
		}
	}
}

// workerList returns the workers by camera id; s.mu is held.
func (s *Service) workerList() []*worker {
	ids := make([]string, 0, len(s.workers))
	for id := range s.workers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]*worker, len(ids))
	for i, id := range ids {
		out[i] = s.workers[id]
	}
	return out
}

func (s *Service) worker(id string) *worker {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.workers[id]
}

// List returns every camera's settings, by id.
func (s *Service) List() []Camera {
	s.mu.Lock()
	all := s.workerList()
	s.mu.Unlock()
	out := make([]Camera, len(all))
	for i, w := range all {
		out[i] = w.camera()
	}
	return out
}

// Get returns one camera's settings.
func (s *Service) Get(id string) (Camera, error) {
	w := s.worker(id)
	if w == nil {
		return Camera{}, fmt.Errorf("%w: no camera %q", ErrNotFound, id)
	}
	return w.camera(), nil
}

// Statuses returns every camera's live state, by id.
func (s *Service) Statuses() []Status {
	s.mu.Lock()
	all := s.workerList()
	s.mu.Unlock()
	now := time.Now()
	out := make([]Status, len(all))
	for i, w := range all {
		out[i] = w.status(now)
	}
	return out
}

// Status returns one camera's live state.
func (s *Service) Status(id string) (Status, error) {
	w := s.worker(id)
	if w == nil {
		return Status{}, fmt.Errorf("%w: no camera %q", ErrNotFound, id)
	}
	return w.status(time.Now()), nil
}

// Create adds a camera. With an ONVIF address it probes the camera first
// and takes its model, profiles and stream address from it.
func (s *Service) Create(ctx context.Context, in Input) (Camera, error) {
	c, err := in.check(Camera{})
	if err != nil {
		return c, err
	}
	if s.worker(c.ID) != nil {
		return c, fmt.Errorf("%w: a camera with id %q exists", ErrExists, c.ID)
	}
	if c.ONVIFURL != "" {
		if c, err = s.fillFromONVIF(ctx, c); err != nil {
			return c, err
		}
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	c.CreatedAt, c.UpdatedAt = now, now
	if err := insert(ctx, s.db, c); err != nil {
		return c, err
	}
	w := newWorker(s, c)
	s.mu.Lock()
	s.workers[c.ID] = w
	if s.ctx != nil {
		w.start(s.ctx)
	}
	s.mu.Unlock()
	s.log.Info("camera added", "camera", c.ID, "name", c.Name, "url", c.RTSPURL, "onvif", c.ONVIFURL)
	s.publishStatus(w)
	return c, nil
}

// Update changes a camera's settings; an ONVIF camera whose address,
// credentials or profile changed is probed again. Its session restarts
// with them; its viewers stay.
func (s *Service) Update(ctx context.Context, in Input) (Camera, error) {
	w := s.worker(in.ID)
	if w == nil {
		return Camera{}, fmt.Errorf("%w: no camera %q", ErrNotFound, in.ID)
	}
	old := w.camera()
	c, err := in.check(old)
	if err != nil {
		return c, err
	}
	if c.ONVIFURL != "" && (in.RTSPURL == "" || c.ONVIFURL != old.ONVIFURL || c.Username != old.Username ||
		c.Password != old.Password || c.Profile != old.Profile) {
		if c, err = s.fillFromONVIF(ctx, c); err != nil {
			return c, err
		}
	}
	c.UpdatedAt = time.Now().UTC().Truncate(time.Millisecond)
	if err := update(ctx, s.db, c); err != nil {
		return c, err
	}
	w.setCamera(c)
	s.log.Info("camera changed", "camera", c.ID, "name", c.Name, "url", c.RTSPURL, "enabled", c.Enabled)
	s.publishStatus(w)
	return c, nil
}

// Delete removes a camera: its viewers end and its alarms resolve.
func (s *Service) Delete(ctx context.Context, id string) error {
	w := s.worker(id)
	if w == nil {
		return fmt.Errorf("%w: no camera %q", ErrNotFound, id)
	}
	if err := remove(ctx, s.db, id); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.workers, id)
	delete(s.snaps, id)
	s.mu.Unlock()
	if w.stop != nil {
		w.stop()
		<-w.done
	}
	w.closeViewers()
	cam := w.camera()
	s.alarm(id, building.AlarmCameraOffline, false, "camera "+cam.Name+" was removed")
	s.alarm(id, building.AlarmCameraTamper, false, "camera "+cam.Name+" was removed")
	if s.cfg.OnRemoved != nil {
		s.cfg.OnRemoved(ctx, id)
	}
	s.log.Info("camera removed", "camera", id)
	s.publish(Event{Kind: KindRemoved, Camera: &Status{ID: id, Name: cam.Name}})
	return nil
}

// closeViewers ends every viewer of the camera.
func (w *worker) closeViewers() {
	w.mu.Lock()
	vs := make([]*Viewer, 0, len(w.viewers))
	for v := range w.viewers {
		vs = append(vs, v)
	}
	w.mu.Unlock()
	for _, v := range vs {
		v.Close()
	}
}

// BadFrames counts pictures dropped as malformed or too large.
func (s *Service) BadFrames() int64 { return s.badFrames.Load() }

func (s *Service) publish(p events.Payload) {
	if s.bus != nil {
		s.bus.Publish(p)
	}
}

func (s *Service) publishStatus(w *worker) {
	st := w.status(time.Now())
	s.publish(Event{Kind: KindChanged, Camera: &st})
}

func (s *Service) alarm(id, kind string, on bool, msg string) {
	if s.alarms == nil {
		return
	}
	if err := s.alarms.CameraAlarm(id, kind, on, msg); err != nil {
		s.log.Error("camera alarm", "camera", id, "kind", kind, "err", err)
	}
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// IsUserError reports whether err is the user's to fix (bad input, a
// camera that refuses or cannot be reached) rather than civicd's.
func IsUserError(err error) bool {
	for _, e := range []error{ErrNotFound, ErrExists, ErrInvalid, ErrUnavailable, ErrUnsupported, ErrTooMany} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
