package building

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"civic/internal/audit"
	"civic/internal/events"
)

// Errors for callers to map to user-facing codes. Each is wrapped with a
// sentence meant for the person who made the request, for example
// "invalid: a door's unlock time must be 1-300 seconds".
var (
	ErrNotFound    = errors.New("not found")      // no such site, door, cardholder, alarm, ...
	ErrExists      = errors.New("already exists") // the id or card number is taken
	ErrInvalid     = errors.New("invalid")        // the input failed validation
	ErrConflict    = errors.New("conflict")       // the change conflicts with current state (already acknowledged, lockdown already on, in use)
	ErrNotAllowed  = errors.New("not allowed")    // the actor's role may not do this
	ErrUnavailable = errors.New("unavailable")    // no transport, or the controller is offline
	ErrTooLarge    = errors.New("too large")      // a floor plan over the size limit
	ErrRefused     = errors.New("refused")        // a controller message that is replayed, too old or malformed
)

// Config configures the building service. Zero values take the defaults.
type Config struct {
	// Now is the clock: access decisions, schedules, alarms and command
	// timeouts read it. Default: time.Now. Tests inject their own and
	// drive the timers with it (see Run).
	Now func() time.Time
	// Location is the time zone of a site whose time zone is empty.
	// Default: time.Local.
	Location *time.Location
	// Commander carries commands to controllers; SetCommander can set it
	// later. Default: nil (commands fail with ErrUnavailable).
	Commander Commander
	// TickInterval is how often Run checks the timers (held-open doors,
	// heartbeats, command acknowledgements, schedules). Default: 250 ms.
	TickInterval time.Duration
	// AckTimeout is how long a command may wait for its acknowledgement
	// before it counts as failed. Default: 5 s.
	AckTimeout time.Duration
	// MaxMessageAge is how far a controller message's time may be from
	// civicd's clock, either way; an older (or later) message is refused.
	// Default: 5 min.
	MaxMessageAge time.Duration
	// MessageWindow is how many recent message ids are kept per
	// controller to refuse replays (ids older than MaxMessageAge are
	// dropped sooner). Default: 4096.
	MessageWindow int
	// HeartbeatMisses is how many heartbeat intervals may pass without a
	// message before a controller counts as offline. Default: 3.
	HeartbeatMisses int
	// DenialBurst denials at one reader within DenialWindow raise a
	// repeated-denials alarm. Default: 5 within 1 min.
	DenialBurst  int
	DenialWindow time.Duration
	// MaxFloorPlanBytes is the largest floor plan accepted. Default: 5 MiB.
	MaxFloorPlanBytes int
	// BcryptCost is the bcrypt cost of controller passwords. Default:
	// bcrypt.DefaultCost. PINs use a low fixed cost (see pinCost).
	BcryptCost int
}

// Publisher is where the service announces changes (the event bus).
type Publisher interface {
	Publish(p events.Payload)
}

// Auditor records commands, their outcomes and alarm handling.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) error
}

// Service is the access-control engine: the model in the store, the
// access decisions, door states, alarms and commands. Create it with New.
// It is safe for concurrent use.
type Service struct {
	cfg   Config
	db    *sql.DB
	bus   Publisher
	audit Auditor
	log   *slog.Logger
	now   func() time.Time
	dummy []byte // bcrypt hash compared for unknown controllers

	// cfgMu serialises changes to the model, so the cache is rebuilt in
	// the order the store changed.
	cfgMu sync.Mutex

	// mu guards everything below.
	mu        sync.Mutex
	m         *model
	commander Commander
	doors     map[string]*doorRT
	ctrls     map[string]*ctrlRT
	alarms    map[int64]*Alarm    // open alarms
	alarmKeys map[alarmKey]int64  // open alarm per kind and subject
	lockdowns map[Scope]Lockdown  // lockdowns in force
	pending   map[string]*pending // commands awaiting their ack
	passback  map[passbackKey]string
	denials   map[readerKey][]time.Time

	done     chan struct{} // closed by Shutdown
	stopOnce sync.Once
	running  atomic.Bool
	runDone  chan struct{} // closed when Run returns
}

// Interface guards.
var _ Device = (*Service)(nil)

// New loads the model, the open alarms and the lockdowns from db. bus,
// auditor and logger may be nil.
func New(cfg Config, db *sql.DB, bus Publisher, auditor Auditor, logger *slog.Logger) (*Service, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if db == nil {
		return nil, errors.New("building: no database")
	}
	cfg = cfg.withDefaults()
	s := &Service{
		cfg:       cfg,
		db:        db,
		bus:       bus,
		audit:     auditor,
		log:       logger,
		now:       cfg.Now,
		commander: cfg.Commander,
		doors:     make(map[string]*doorRT),
		ctrls:     make(map[string]*ctrlRT),
		alarms:    make(map[int64]*Alarm),
		alarmKeys: make(map[alarmKey]int64),
		lockdowns: make(map[Scope]Lockdown),
		pending:   make(map[string]*pending),
		passback:  make(map[passbackKey]string),
		denials:   make(map[readerKey][]time.Time),
		done:      make(chan struct{}),
		runDone:   make(chan struct{}),
	}
	var err error
	if s.dummy, err = bcrypt.GenerateFromPassword([]byte("not a controller password"), cfg.BcryptCost); err != nil {
		return nil, fmt.Errorf("building: %w", err)
	}
	ctx := context.Background()
	if err := s.loadLockdowns(ctx); err != nil {
		return nil, err
	}
	if err := s.loadAlarms(ctx); err != nil {
		return nil, err
	}
	if _, err := s.reload(ctx); err != nil {
		return nil, err
	}
	for _, a := range s.alarms {
		s.placeAlarmLocked(a) // no other goroutine has s yet
	}
	return s, nil
}

func (c Config) withDefaults() Config {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Location == nil {
		c.Location = time.Local
	}
	if c.TickInterval <= 0 {
		c.TickInterval = 250 * time.Millisecond
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = 5 * time.Second
	}
	if c.MaxMessageAge <= 0 {
		c.MaxMessageAge = 5 * time.Minute
	}
	if c.MessageWindow <= 0 {
		c.MessageWindow = 4096
	}
	if c.HeartbeatMisses <= 0 {
		c.HeartbeatMisses = 3
	}
	if c.DenialBurst <= 0 {
		c.DenialBurst = 5
	}
	if c.DenialWindow <= 0 {
		c.DenialWindow = time.Minute
	}
	if c.MaxFloorPlanBytes <= 0 {
		c.MaxFloorPlanBytes = 5 << 20
	}
	if c.BcryptCost == 0 {
		c.BcryptCost = bcrypt.DefaultCost
	}
	c.BcryptCost = min(max(c.BcryptCost, bcrypt.MinCost), bcrypt.MaxCost)
	return c
}

// SetCommander sets (or replaces) the transport that carries commands to
// controllers. main calls it once mqttlink is up.
func (s *Service) SetCommander(c Commander) {
	s.mu.Lock()
	s.commander = c
	s.mu.Unlock()
}

// Run checks the timers every Config.TickInterval, on Config.Now's
// clock, until ctx ends or Shutdown is called. Without Run nothing times
// out (the tests call tick themselves).
func (s *Service) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("building: Run called twice")
	}
	defer close(s.runDone)
	t := time.NewTicker(s.cfg.TickInterval)
	defer t.Stop()
	s.log.Info("building running", "doors", s.doorCount(), "controllers", len(s.Controllers()), "open_alarms", len(s.Alarms()))
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.done:
			return nil
		case <-t.C:
			s.tick(s.now())
		}
	}
}

// Shutdown stops Run and waits for it to return, at most until ctx ends.
// Calls after it (an ack, a swipe) still work; nothing times out.
func (s *Service) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.done) })
	if !s.running.Load() {
		return nil
	}
	select {
	case <-s.runDone:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("building shutdown: %w", ctx.Err())
	}
}

func (s *Service) doorCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m.doors)
}

// effects are what a locked section decided to do once the lock is
// released: commands to send and audit entries to write.
type effects struct {
	sends  []*pending
	audits []audit.Entry
}

func (e *effects) add(o effects) {
	e.sends = append(e.sends, o.sends...)
	e.audits = append(e.audits, o.audits...)
}

// tick runs every timer due at now: held-open doors, controllers gone
// quiet, unacknowledged commands, unlocks that ran out, schedules, and
// the replay windows. Run calls it; tests call it with their clock.
func (s *Service) tick(now time.Time) {
	var fx effects
	s.mu.Lock()
	s.checkControllersLocked(now)
	fx.add(s.resyncLocked(now))
	fx.add(s.checkCommandsLocked(now))
	fx.add(s.checkDoorsLocked(now))
	s.tidyLocked(now)
	s.mu.Unlock()
	s.apply(context.Background(), fx)
}

// apply sends the commands and writes the audit entries of fx.
func (s *Service) apply(ctx context.Context, fx effects) {
	for _, e := range fx.audits {
		s.auditEntry(ctx, e)
	}
	for _, p := range fx.sends {
		_ = s.send(ctx, p)
	}
}

// auditEntry writes e; a failure is logged, never hidden.
func (s *Service) auditEntry(ctx context.Context, e audit.Entry) {
	if s.audit == nil {
		return
	}
	if err := s.audit.Append(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("write audit entry", "action", e.Action, "target", e.Target, "err", err)
	}
}

// publish announces p on the bus. Callers hold s.mu, so the events about
// one door or alarm reach the bus in the order its state changed.
func (s *Service) publish(p events.Payload) {
	if s.bus != nil {
		s.bus.Publish(p)
	}
}

// inTx runs f in a transaction (the store's transactions take the write
// lock at BEGIN, so checks and writes inside do not race).
func (s *Service) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// change runs f in a transaction under cfgMu and rebuilds the cache from
// the store, so every change is seen by the next decision. what names the
// change for errors ("create door east-1").
func (s *Service) change(ctx context.Context, what string, f func(tx *sql.Tx) error) error {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	if err := s.inTx(ctx, f); err != nil {
		return wrapStore(what, err)
	}
	fx, err := s.reload(context.WithoutCancel(ctx))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	s.apply(ctx, fx)
	return nil
}

// wrapStore passes the service's own errors through and gives store
// errors context.
func wrapStore(what string, err error) error {
	for _, e := range []error{ErrInvalid, ErrExists, ErrNotFound, ErrConflict, ErrNotAllowed, ErrTooLarge} {
		if errors.Is(err, e) {
			return err
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// ms is t as unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

// nullMS is t as unix milliseconds, or NULL when t is zero.
func nullMS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// fromMS is the time of unix milliseconds, zero for NULL.
func fromMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64)
}

// result returns v, or the zero value when err is not nil.
func result[T any](v T, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// msTime is t as stored: to the millisecond, in the local zone, without
// a monotonic reading, so a published time equals the one read back.
func msTime(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()) }
