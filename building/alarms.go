package building

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"civic/internal/audit"
)

// Alarm kinds.
const (
	AlarmForcedOpen        = "forced_open"        // opened with no grant, exit request or unlock; resolved by staff
	AlarmHeldOpen          = "held_open"          // open past its held-open time; resolves when the door closes
	AlarmTamper            = "tamper"             // tamper switch; resolves when it is back to normal
	AlarmControllerOffline = "controller_offline" // missed heartbeats; resolves when the controller is back
	AlarmRepeatedDenials   = "repeated_denials"   // DenialBurst denials within DenialWindow at one reader; resolved by staff
	AlarmCameraOffline     = "camera_offline"     // a camera sends no video; resolves when it is back (building/cameras)
	AlarmCameraTamper      = "camera_tamper"      // a camera reports tampering (ONVIF); resolves when the camera says so
)

// Alarm severities.
const (
	SeverityCritical = "critical"
	SeverityMajor    = "major"
	SeverityMinor    = "minor"
)

// Alarm states: new, then acknowledged (with a comment), then resolved
// (by staff with a comment, or by itself when its condition clears). An
// alarm may also be resolved while new.
const (
	AlarmNew          = "new"
	AlarmAcknowledged = "acknowledged"
	AlarmResolved     = "resolved"
)

var alarmSeverity = map[string]string{
	AlarmForcedOpen:        SeverityCritical,
	AlarmTamper:            SeverityCritical,
	AlarmHeldOpen:          SeverityMajor,
	AlarmControllerOffline: SeverityMajor,
	AlarmRepeatedDenials:   SeverityMinor,
	AlarmCameraOffline:     SeverityMajor,
	AlarmCameraTamper:      SeverityCritical,
}

// Alarm is one alarm in the queue.
type Alarm struct {
	ID         int64  `json:"id"`
	Kind       string `json:"kind"`
	Severity   string `json:"severity"`
	State      string `json:"state"`
	Door       string `json:"door,omitempty"`
	Controller string `json:"controller,omitempty"`
	Reader     string `json:"reader,omitempty"`
	Camera     string `json:"camera,omitempty"` // the camera a camera alarm is about
	// Floor, Building and Cameras are the door's, for the console's plan
	// and live view; a camera alarm's Cameras is its camera.
	Floor    string   `json:"floor,omitempty"`
	Building string   `json:"building,omitempty"`
	Cameras  []string `json:"cameras"`
	Message  string   `json:"message"`
	// Count is how often the condition occurred while the alarm was open.
	Count          int       `json:"count"`
	RaisedAt       time.Time `json:"raised_at"`
	AckedAt        time.Time `json:"acked_at,omitzero"`
	AckedBy        string    `json:"acked_by,omitempty"`
	AckComment     string    `json:"ack_comment,omitempty"`
	ResolvedAt     time.Time `json:"resolved_at,omitzero"`
	ResolvedBy     string    `json:"resolved_by,omitempty"` // "" when it resolved itself
	ResolveComment string    `json:"resolve_comment,omitempty"`
}

// AlarmHistory is one change of an alarm.
type AlarmHistory struct {
	At      time.Time `json:"at"`
	Action  string    `json:"action"` // "raised", "repeated", "acknowledged", "resolved"
	State   string    `json:"state"`  // the state after it
	User    string    `json:"user,omitempty"`
	Comment string    `json:"comment,omitempty"`
}

// alarmKey names what an open alarm is about: at most one alarm per kind
// and subject is open.
type alarmKey struct{ kind, subject string }

type alarmSubject struct{ door, controller, reader, camera string }

func (a alarmSubject) key(kind string) alarmKey {
	switch kind {
	case AlarmControllerOffline:
		return alarmKey{kind, a.controller}
	case AlarmRepeatedDenials:
		return alarmKey{kind, a.controller + "/" + a.reader}
	case AlarmCameraOffline, AlarmCameraTamper:
		return alarmKey{kind, a.camera}
	}
	return alarmKey{kind, a.door}
}

const alarmColumns = `id, kind, severity, state, door, controller, reader, camera, message, count, raised_at, acked_at, acked_by,
	ack_comment, resolved_at, resolved_by, resolve_comment`

func scanAlarm(row interface{ Scan(...any) error }) (*Alarm, error) {
	var a Alarm
	var raised int64
	var acked, resolved sql.NullInt64
	err := row.Scan(&a.ID, &a.Kind, &a.Severity, &a.State, &a.Door, &a.Controller, &a.Reader, &a.Camera, &a.Message, &a.Count,
		&raised, &acked, &a.AckedBy, &a.AckComment, &resolved, &a.ResolvedBy, &a.ResolveComment)
	a.RaisedAt, a.AckedAt, a.ResolvedAt = time.UnixMilli(raised), fromMS(acked), fromMS(resolved)
	a.Cameras = []string{}
	return &a, err
}

// loadAlarms fills the open alarms from the store.
func (s *Service) loadAlarms(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT `+alarmColumns+` FROM building_alarms WHERE state != 'resolved'`)
	if err != nil {
		return fmt.Errorf("load alarms: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAlarm(rows)
		if err != nil {
			return fmt.Errorf("load alarms: %w", err)
		}
		s.alarms[a.ID] = a
		if a.Camera != "" {
			a.Cameras = []string{a.Camera}
		}
		s.alarmKeys[a.subject().key(a.Kind)] = a.ID
	}
	return rows.Err()
}

// placeAlarmLocked fills in an alarm's floor, building and cameras from
// its door.
func (s *Service) placeAlarmLocked(a *Alarm) {
	if d := s.m.doors[a.Door]; d != nil {
		a.Floor, a.Building, a.Cameras = d.Floor, d.building, slices.Clone(d.Cameras)
	}
	if a.Camera != "" {
		a.Cameras = []string{a.Camera}
	}
}

func (a *Alarm) subject() alarmSubject {
	return alarmSubject{door: a.Door, controller: a.Controller, reader: a.Reader, camera: a.Camera}
}

// CameraAlarm raises (on) or resolves (!on) the alarm of kind
// AlarmCameraOffline or AlarmCameraTamper for a camera, in the same queue
// as the doors' alarms. building/cameras calls it as a camera's health
// changes; raising an alarm that is open counts one more occurrence, and
// resolving one that is not open does nothing.
func (s *Service) CameraAlarm(camera, kind string, on bool, msg string) error {
	if kind != AlarmCameraOffline && kind != AlarmCameraTamper {
		return invalidf("%q is not a camera alarm", kind)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	subj := alarmSubject{camera: camera}
	if on {
		s.raiseLocked(now, kind, subj, msg)
	} else {
		s.resolveAutoLocked(subj.key(kind), msg, now)
	}
	return nil
}

// Alarms returns the open alarms (new and acknowledged), oldest first:
// the snapshot of TopicAlarms.
func (s *Service) Alarms() []Alarm {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Alarm, 0, len(s.alarms))
	for _, id := range sortedKeys(s.alarms) {
		out = append(out, s.alarmCopy(s.alarms[id]))
	}
	return out
}

func (s *Service) alarmCopy(a *Alarm) Alarm {
	c := *a
	c.Cameras = slices.Clone(a.Cameras)
	return c
}

// raiseLocked raises an alarm, or counts one more occurrence of the open
// alarm of the same kind and subject. The store is written under s.mu so
// that alarms reach it and the bus in one order.
func (s *Service) raiseLocked(now time.Time, kind string, subj alarmSubject, msg string) {
	key := subj.key(kind)
	ctx := context.Background()
	if id, ok := s.alarmKeys[key]; ok {
		a := s.alarms[id]
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `UPDATE building_alarms SET count = count + 1 WHERE id = ?`, id); err != nil {
				return err
			}
			return addHistory(ctx, tx, id, now, "repeated", a.State, "", msg)
		})
		if err != nil {
			s.log.Error("record repeated alarm", "alarm", id, "kind", kind, "err", err)
			return
		}
		a.Count++
		s.publish(AlarmEvent{Kind: KindAlarmRepeated, Alarm: s.alarmCopy(a)})
		return
	}
	a := &Alarm{Kind: kind, Severity: alarmSeverity[kind], State: AlarmNew, Door: subj.door, Controller: subj.controller,
		Reader: subj.reader, Camera: subj.camera, Message: msg, Count: 1, RaisedAt: msTime(now), Cameras: []string{}}
	s.placeAlarmLocked(a)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO building_alarms (kind, severity, state, door, controller, reader, camera, message, raised_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.Kind, a.Severity, a.State, a.Door, a.Controller, a.Reader, a.Camera, a.Message, ms(now))
		if err != nil {
			return err
		}
		if a.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		return addHistory(ctx, tx, a.ID, now, "raised", AlarmNew, "", msg)
	})
	if err != nil {
		s.log.Error("record alarm", "kind", kind, "door", subj.door, "controller", subj.controller, "camera", subj.camera, "err", err)
		return
	}
	s.alarms[a.ID], s.alarmKeys[key] = a, a.ID
	s.log.Warn("alarm raised", "alarm", a.ID, "kind", kind, "severity", a.Severity, "door", a.Door, "controller", a.Controller, "camera", a.Camera, "message", msg)
	s.publish(AlarmEvent{Kind: KindAlarmRaised, Alarm: s.alarmCopy(a)})
	if a.Door != "" {
		s.publishDoorLocked(a.Door, now)
	}
}

// resolveAutoLocked resolves the open alarm for key, if any, because its
// condition cleared.
func (s *Service) resolveAutoLocked(key alarmKey, why string, now time.Time) {
	id, ok := s.alarmKeys[key]
	if !ok {
		return
	}
	if err := s.resolveLocked(s.alarms[id], "", why, now); err != nil {
		s.log.Error("resolve alarm", "alarm", id, "err", err)
	}
}

// resolveLocked resolves an open alarm, by user ("" for by itself).
func (s *Service) resolveLocked(a *Alarm, user, comment string, now time.Time) error {
	ctx := context.Background()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE building_alarms SET state = 'resolved', resolved_at = ?, resolved_by = ?,
			resolve_comment = ? WHERE id = ?`, ms(now), user, comment, a.ID); err != nil {
			return err
		}
		return addHistory(ctx, tx, a.ID, now, "resolved", AlarmResolved, user, comment)
	})
	if err != nil {
		return err
	}
	a.State, a.ResolvedAt, a.ResolvedBy, a.ResolveComment = AlarmResolved, msTime(now), user, comment
	delete(s.alarms, a.ID)
	delete(s.alarmKeys, a.subject().key(a.Kind))
	s.log.Info("alarm resolved", "alarm", a.ID, "kind", a.Kind, "by", cmpOr(user, "itself"))
	s.publish(AlarmEvent{Kind: KindAlarmResolved, Alarm: s.alarmCopy(a)})
	if a.Door != "" {
		s.publishDoorLocked(a.Door, now)
	}
	return nil
}

func addHistory(ctx context.Context, tx *sql.Tx, id int64, now time.Time, action, state, user, comment string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO building_alarm_history (alarm, at, action, state, user, comment) VALUES (?, ?, ?, ?, ?, ?)`,
		id, ms(now), action, state, user, comment)
	return err
}

// Acknowledge marks a new alarm as seen, with a comment (required). Admin
// and facilities may; it is audited.
func (s *Service) Acknowledge(ctx context.Context, actor Actor, id int64, comment string) (Alarm, error) {
	return s.handleAlarm(ctx, actor, id, comment, "acknowledge")
}

// Resolve closes an open alarm, with a comment (required). Admin and
// facilities may; it is audited.
func (s *Service) Resolve(ctx context.Context, actor Actor, id int64, comment string) (Alarm, error) {
	return s.handleAlarm(ctx, actor, id, comment, "resolve")
}

func (s *Service) handleAlarm(ctx context.Context, actor Actor, id int64, comment, verb string) (Alarm, error) {
	action, target := "building.alarm_"+verb, "alarm:"+strconv.FormatInt(id, 10)
	if err := s.authorise(ctx, actor, action, target, verb+" alarms"); err != nil {
		return Alarm{}, err
	}
	out, err := s.changeAlarm(ctx, actor, id, comment, verb)
	entry := audit.Entry{User: actor.User, Role: actor.Role, Action: action, Target: target, Source: actor.Source, Result: audit.ResultOK,
		Detail: out.Kind + ": " + out.AckComment}
	if verb == "resolve" {
		entry.Detail = out.Kind + ": " + out.ResolveComment
	}
	if err != nil {
		entry.Result, entry.Detail = audit.ResultFailed, err.Error()
		err = fmt.Errorf("%s alarm %d: %w", verb, id, err)
	}
	s.auditEntry(ctx, entry)
	return out, err
}

// changeAlarm acknowledges or resolves an open alarm.
func (s *Service) changeAlarm(ctx context.Context, actor Actor, id int64, comment, verb string) (Alarm, error) {
	comment, err := cleanText(comment, "comment", true, maxTextRunes)
	if err != nil {
		return Alarm{}, fmt.Errorf("%w (say what was seen or done)", err)
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.alarms[id]
	switch {
	case a == nil:
		return Alarm{}, s.closedAlarm(ctx, id)
	case verb == "acknowledge" && a.State != AlarmNew:
		return Alarm{}, fmt.Errorf("%w: alarm %d was already acknowledged by %s", ErrConflict, id, a.AckedBy)
	case verb == "acknowledge":
		wctx := context.WithoutCancel(ctx)
		err = s.inTx(wctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(wctx, `UPDATE building_alarms SET state = 'acknowledged', acked_at = ?, acked_by = ?,
				ack_comment = ? WHERE id = ?`, ms(now), actor.User, comment, id); err != nil {
				return err
			}
			return addHistory(wctx, tx, id, now, "acknowledged", AlarmAcknowledged, actor.User, comment)
		})
		if err != nil {
			return Alarm{}, err
		}
		a.State, a.AckedAt, a.AckedBy, a.AckComment = AlarmAcknowledged, msTime(now), actor.User, comment
		s.publish(AlarmEvent{Kind: KindAlarmAcknowledged, Alarm: s.alarmCopy(a)})
	default:
		if err := s.resolveLocked(a, actor.User, comment, now); err != nil {
			return Alarm{}, err
		}
	}
	return s.alarmCopy(a), nil
}

// closedAlarm explains why alarm id is not open.
func (s *Service) closedAlarm(ctx context.Context, id int64) error {
	var state string
	err := s.db.QueryRowContext(ctx, `SELECT state FROM building_alarms WHERE id = ?`, id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: there is no alarm %d", ErrNotFound, id)
	}
	if err != nil {
		return fmt.Errorf("read alarm %d: %w", id, err)
	}
	return fmt.Errorf("%w: alarm %d is already resolved", ErrConflict, id)
}

// AlarmFilter selects alarms from the store; zero fields select all.
type AlarmFilter struct {
	State    string // AlarmNew, AlarmAcknowledged or AlarmResolved
	Door     string
	Since    time.Time // raised at or after
	BeforeID int64     // pages backwards
	Limit    int       // default 100, at most 1000
}

// ListAlarms returns the alarms that match f, newest first, and the
// BeforeID of the next page (0 when there is none).
func (s *Service) ListAlarms(ctx context.Context, f AlarmFilter) ([]Alarm, int64, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	var where []string
	var args []any
	add := func(cond string, v any) { where, args = append(where, cond), append(args, v) }
	if f.State != "" {
		add("state = ?", f.State)
	}
	if f.Door != "" {
		add("door = ?", f.Door)
	}
	if !f.Since.IsZero() {
		add("raised_at >= ?", ms(f.Since))
	}
	if f.BeforeID > 0 {
		add("id < ?", f.BeforeID)
	}
	q := `SELECT ` + alarmColumns + ` FROM building_alarms`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.db.QueryContext(ctx, q+" ORDER BY id DESC LIMIT ?", append(args, limit+1)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list alarms: %w", err)
	}
	defer rows.Close()
	out := []Alarm{}
	for rows.Next() {
		a, err := scanAlarm(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list alarms: %w", err)
		}
		out = append(out, *a)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list alarms: %w", err)
	}
	s.mu.Lock()
	for i := range out {
		s.placeAlarmLocked(&out[i])
	}
	s.mu.Unlock()
	var next int64
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}

// AlarmHistory returns every change of an alarm, oldest first.
func (s *Service) AlarmHistory(ctx context.Context, id int64) ([]AlarmHistory, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT at, action, state, user, comment FROM building_alarm_history WHERE alarm = ? ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("alarm %d history: %w", id, err)
	}
	defer rows.Close()
	out := []AlarmHistory{}
	for rows.Next() {
		var h AlarmHistory
		var at int64
		if err := rows.Scan(&at, &h.Action, &h.State, &h.User, &h.Comment); err != nil {
			return nil, fmt.Errorf("alarm %d history: %w", id, err)
		}
		h.At = time.UnixMilli(at)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("alarm %d history: %w", id, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: there is no alarm %d", ErrNotFound, id)
	}
	return out, nil
}
