package building

import (
	"context"
	"database/sql"
	"fmt"
	"time"
	"unicode"

	"golang.org/x/crypto/bcrypt"
)

// ctrlRT is a controller's live state.
type ctrlRT struct {
	// lastSeen is when its last accepted message arrived, or when civicd
	// started (or the controller was created) before any did.
	lastSeen time.Time
	// lastMsg is when its last accepted message arrived (zero: none yet).
	lastMsg       time.Time
	online        bool
	offlineRaised bool // an offline alarm is open for it
	// resync: it came online; the next tick sends each of its doors its
	// mode (it may have missed a lockdown while away).
	resync bool
	msgs   *msgWindow
	last   ControllerStatus // as last published
}

// msgWindow keeps a controller's recent message ids, oldest first, to
// refuse replays.
type msgWindow struct {
	ids   map[string]time.Time
	order []msgSeen
}

type msgSeen struct {
	id string
	at time.Time
}

func newMsgWindow() *msgWindow { return &msgWindow{ids: make(map[string]time.Time)} }

func (w *msgWindow) has(id string) bool {
	_, ok := w.ids[id]
	return ok
}

// add records id, dropping the oldest ids beyond max.
func (w *msgWindow) add(id string, at time.Time, max int) {
	w.ids[id] = at
	w.order = append(w.order, msgSeen{id, at})
	for len(w.order) > max {
		w.drop()
	}
}

// expire drops the ids kept from before t (in order of arrival; a later
// one kept longer may hold back earlier ones a little).
func (w *msgWindow) expire(t time.Time) {
	for len(w.order) > 0 && w.order[0].at.Before(t) {
		w.drop()
	}
}

func (w *msgWindow) drop() {
	delete(w.ids, w.order[0].id)
	w.order[0] = msgSeen{}
	w.order = w.order[1:]
}

// ListControllers returns every controller's settings, by id.
func (s *Service) ListControllers() []Controller {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Controller, 0, len(s.m.controllers))
	for _, id := range sortedKeys(s.m.controllers) {
		out = append(out, s.m.controllers[id].Controller)
	}
	return out
}

// Controllers returns every controller's live state, by id: the snapshot
// of TopicControllers.
func (s *Service) Controllers() []ControllerStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ControllerStatus, 0, len(s.ctrls))
	for _, id := range sortedKeys(s.ctrls) {
		out = append(out, s.controllerStatusLocked(id))
	}
	return out
}

func (s *Service) controllerStatusLocked(id string) ControllerStatus {
	c, rt := s.m.controllers[id], s.ctrls[id]
	if c == nil || rt == nil {
		return ControllerStatus{ID: id}
	}
	return ControllerStatus{ID: id, Name: c.Name, Online: rt.online, LastSeen: rt.lastMsg,
		HeartbeatSeconds: c.HeartbeatSeconds, FailMode: c.FailMode}
}

// publishControllerLocked announces a controller's state.
func (s *Service) publishControllerLocked(id, kind string) {
	st := s.controllerStatusLocked(id)
	if rt := s.ctrls[id]; rt != nil {
		rt.last = st
	}
	s.publish(ControllerEvent{Kind: kind, Controller: st})
}

// CreateController adds a controller; in.Password is required.
func (s *Service) CreateController(ctx context.Context, in ControllerInput) (Controller, error) {
	c, err := in.Controller.normalize()
	if err != nil {
		return Controller{}, err
	}
	if err := checkControllerPassword(in.Password); err != nil {
		return Controller{}, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(in.Password), s.cfg.BcryptCost)
	if err != nil {
		return Controller{}, fmt.Errorf("hash controller password: %w", err)
	}
	now := ms(s.now())
	return result(c, s.change(ctx, "create controller "+c.ID, func(tx *sql.Tx) error {
		if err := mustNotExist(ctx, tx, tControllers, c.ID, "controller"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO building_controllers (id, name, password_hash, heartbeat_seconds, fail_mode, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, c.ID, c.Name, string(hash), c.HeartbeatSeconds, c.FailMode, now, now)
		return err
	}))
}

// UpdateController replaces a controller's settings; an empty
// in.Password keeps the old one.
func (s *Service) UpdateController(ctx context.Context, id string, in ControllerInput) (Controller, error) {
	if err := sameID(&in.ID, id, "controller"); err != nil {
		return Controller{}, err
	}
	c, err := in.Controller.normalize()
	if err != nil {
		return Controller{}, err
	}
	var hash []byte
	if in.Password != "" {
		if err := checkControllerPassword(in.Password); err != nil {
			return Controller{}, err
		}
		if hash, err = bcrypt.GenerateFromPassword([]byte(in.Password), s.cfg.BcryptCost); err != nil {
			return Controller{}, fmt.Errorf("hash controller password: %w", err)
		}
	}
	return result(c, s.change(ctx, "update controller "+id, func(tx *sql.Tx) error {
		if err := mustExist(ctx, tx, tControllers, id, "controller"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE building_controllers SET name = ?, heartbeat_seconds = ?, fail_mode = ?,
			password_hash = COALESCE(?, password_hash), updated_at = ? WHERE id = ?`,
			c.Name, c.HeartbeatSeconds, c.FailMode, nullString(hash), ms(s.now()), id)
		return err
	}))
}

func nullString(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// DeleteController removes a controller that serves no door.
func (s *Service) DeleteController(ctx context.Context, id string) error {
	return s.change(ctx, "delete controller "+id, func(tx *sql.Tx) error {
		if err := mustBeUnused(ctx, tx, `SELECT 1 FROM building_doors WHERE controller = ? LIMIT 1`, id,
			"controller "+id+" still serves doors; move or delete them first"); err != nil {
			return err
		}
		return deleteRow(ctx, tx, tControllers, id, "controller")
	})
}

// Authenticate checks a controller's MQTT credentials. An unknown
// controller costs the same bcrypt work as a known one.
func (s *Service) Authenticate(controller, password string) bool {
	s.mu.Lock()
	hash := s.dummy
	c := s.m.controllers[controller]
	if c != nil {
		hash = c.hash
	}
	s.mu.Unlock()
	ok := bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	return ok && c != nil
}

// Heartbeat marks a controller alive.
func (s *Service) Heartbeat(ctx context.Context, controller, msgID string, at time.Time) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.checkMsgLocked(controller, msgID, at, now); err != nil {
		s.refused("heartbeat", controller, err)
		return fmt.Errorf("heartbeat: %w", err)
	}
	s.acceptMsgLocked(controller, msgID, at, now)
	return nil
}

// Reasons a controller message is refused (Decision.Reason for a Swipe).
const (
	ReasonUnknownController = "unknown_controller"
	ReasonInvalid           = "invalid"
	ReasonStale             = "stale"
	ReasonReplayed          = "replayed"
)

// checkMsgLocked checks where a controller message comes from, its id
// and its time, without recording anything. It returns the reason code
// for a refusal and an error that says why.
func (s *Service) checkMsgLocked(controller, msgID string, at, now time.Time) (string, error) {
	rt := s.ctrls[controller]
	if rt == nil || s.m.controllers[controller] == nil {
		return ReasonUnknownController, fmt.Errorf("%w: unknown controller %q", ErrNotFound, truncate(controller, maxIDLen))
	}
	if msgID == "" || len(msgID) > 128 || !printable(msgID) {
		return ReasonInvalid, fmt.Errorf("%w: a message id must be 1-128 printable characters", ErrRefused)
	}
	if at.IsZero() {
		return ReasonInvalid, fmt.Errorf("%w: message %s has no time", ErrRefused, msgID)
	}
	if age := now.Sub(at); age > s.cfg.MaxMessageAge {
		return ReasonStale, fmt.Errorf("%w: message %s is %v old, more than %v", ErrRefused, msgID, age.Round(time.Second), s.cfg.MaxMessageAge)
	} else if -age > s.cfg.MaxMessageAge {
		return ReasonStale, fmt.Errorf("%w: message %s is %v ahead of civicd's clock, more than %v", ErrRefused, msgID, (-age).Round(time.Second), s.cfg.MaxMessageAge)
	}
	if rt.msgs.has(msgID) {
		return ReasonReplayed, fmt.Errorf("%w: message id %s was already seen (a replay)", ErrRefused, msgID)
	}
	return "", nil
}

// acceptMsgLocked records an accepted message's id and marks its
// controller alive. The id is kept until the message's time (or its
// arrival, whichever is later) is MaxMessageAge old, after which a replay
// is refused as stale.
func (s *Service) acceptMsgLocked(controller, msgID string, at, now time.Time) {
	s.ctrls[controller].msgs.add(msgID, laterOf(at, now), s.cfg.MessageWindow)
	s.aliveLocked(controller, now)
}

// aliveLocked marks a controller alive: it sent something now.
func (s *Service) aliveLocked(controller string, now time.Time) {
	rt := s.ctrls[controller]
	rt.lastSeen, rt.lastMsg = now, msTime(now)
	if rt.online {
		return
	}
	rt.online, rt.resync = true, true
	s.log.Info("controller online", "controller", controller)
	s.publishControllerLocked(controller, KindControllerOnline)
	if rt.offlineRaised {
		rt.offlineRaised = false
		s.resolveAutoLocked(alarmKey{AlarmControllerOffline, controller}, "the controller is back online", now)
	}
	s.publishDoorsOfLocked(controller, now)
}

// refused logs a refused controller message at debug level: the
// transport (mqttlink) logs every refusal it gets back, rate-limited per
// controller, so a flood of bad messages is not logged twice.
func (s *Service) refused(what, controller string, err error) {
	s.log.Debug("controller message refused", "message", what, "controller", truncate(controller, maxIDLen), "why", err.Error())
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) || r == unicode.ReplacementChar {
			return false
		}
	}
	return true
}

// checkControllersLocked marks controllers that have sent nothing for
// HeartbeatMisses intervals offline and raises their alarm. One lost
// heartbeat raises nothing.
func (s *Service) checkControllersLocked(now time.Time) {
	for _, id := range sortedKeys(s.ctrls) {
		rt, c := s.ctrls[id], s.m.controllers[id]
		if c == nil {
			continue
		}
		limit := time.Duration(c.HeartbeatSeconds*s.cfg.HeartbeatMisses) * time.Second
		if now.Sub(rt.lastSeen) < limit {
			continue
		}
		if rt.online {
			rt.online = false
			s.log.Warn("controller offline", "controller", id, "silent_for", now.Sub(rt.lastSeen).Round(time.Second))
			s.publishControllerLocked(id, KindControllerOffline)
			s.publishDoorsOfLocked(id, now)
		}
		if !rt.offlineRaised {
			rt.offlineRaised = true
			msg := fmt.Sprintf("controller %s has sent nothing for %v", c.Name, now.Sub(rt.lastSeen).Round(time.Second))
			if rt.lastMsg.IsZero() {
				msg = fmt.Sprintf("controller %s has not connected", c.Name)
			}
			s.raiseLocked(now, AlarmControllerOffline, alarmSubject{controller: id}, msg)
		}
	}
}

// resyncLocked sends the doors of controllers that came online their
// mode, and the unlock of a schedule window in force again.
func (s *Service) resyncLocked(now time.Time) effects {
	var fx effects
	for _, id := range sortedKeys(s.ctrls) {
		if rt := s.ctrls[id]; !rt.resync || !rt.online {
			continue
		}
		s.ctrls[id].resync = false
		for _, door := range sortedKeys(s.m.doors) {
			if s.m.doors[door].Controller != id {
				continue
			}
			fx.sends = append(fx.sends, s.newCommandLocked(systemActor, door, Command{Action: ActionMode, Mode: s.effectiveModeLocked(door)}, now))
			if d := s.m.doors[door]; s.doors[door].scheduleOpen && s.m.scheduleOpen(d.Schedule, now.In(d.loc)) {
				until := s.m.windowEnd(d.Schedule, now.In(d.loc))
				fx.sends = append(fx.sends, s.newCommandLocked(systemActor, door, Command{Action: ActionUnlock, Until: until}, now))
			}
		}
	}
	return fx
}

// tidyLocked forgets message ids and denials too old to matter.
func (s *Service) tidyLocked(now time.Time) {
	for _, rt := range s.ctrls {
		rt.msgs.expire(now.Add(-s.cfg.MaxMessageAge))
	}
	for k, ts := range s.denials {
		if len(ts) == 0 || now.Sub(ts[len(ts)-1]) > s.cfg.DenialWindow {
			delete(s.denials, k)
		}
	}
}
