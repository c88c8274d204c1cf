package webui

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"civic/building"
)

// Building is what the console needs from the building module: the
// model the admin edits, the live state of doors, controllers and
// alarms, the door commands, and the stored alarms and access events.
// *building.Service implements it; main passes it in Deps.Building.
type Building interface {
	Doors() []building.DoorStatus
	Lockdowns() []building.Lockdown
	Controllers() []building.ControllerStatus
	Alarms() []building.Alarm

	UnlockMomentary(ctx context.Context, actor building.Actor, door string, seconds int) (string, error)
	UnlockUntil(ctx context.Context, actor building.Actor, door string, until time.Time) (string, error)
	Lock(ctx context.Context, actor building.Actor, door string) (string, error)
	Lockdown(ctx context.Context, actor building.Actor, scope building.Scope, reason string) error
	ReleaseLockdown(ctx context.Context, actor building.Actor, scope building.Scope) error

	ListAlarms(ctx context.Context, f building.AlarmFilter) ([]building.Alarm, int64, error)
	Acknowledge(ctx context.Context, actor building.Actor, id int64, comment string) (building.Alarm, error)
	Resolve(ctx context.Context, actor building.Actor, id int64, comment string) (building.Alarm, error)
	AlarmHistory(ctx context.Context, id int64) ([]building.AlarmHistory, error)
	ListAccessEvents(ctx context.Context, f building.AccessFilter) ([]building.AccessEvent, int64, error)

	Sites() []building.Site
	CreateSite(ctx context.Context, v building.Site) (building.Site, error)
	UpdateSite(ctx context.Context, id string, v building.Site) (building.Site, error)
	DeleteSite(ctx context.Context, id string) error
	Buildings() []building.Building
	CreateBuilding(ctx context.Context, v building.Building) (building.Building, error)
	UpdateBuilding(ctx context.Context, id string, v building.Building) (building.Building, error)
	DeleteBuilding(ctx context.Context, id string) error
	Floors() []building.Floor
	CreateFloor(ctx context.Context, v building.Floor) (building.Floor, error)
	UpdateFloor(ctx context.Context, id string, v building.Floor) (building.Floor, error)
	DeleteFloor(ctx context.Context, id string) error
	ListControllers() []building.Controller
	CreateController(ctx context.Context, in building.ControllerInput) (building.Controller, error)
	UpdateController(ctx context.Context, id string, in building.ControllerInput) (building.Controller, error)
	DeleteController(ctx context.Context, id string) error
	ListDoors() []building.Door
	CreateDoor(ctx context.Context, d building.Door) (building.Door, error)
	UpdateDoor(ctx context.Context, id string, d building.Door) (building.Door, error)
	DeleteDoor(ctx context.Context, id string) error
	Cardholders() []building.Cardholder
	CreateCardholder(ctx context.Context, in building.CardholderInput) (building.Cardholder, error)
	ImportCardholders(ctx context.Context, in []building.CardholderInput) (created, updated int, err error)
	UpdateCardholder(ctx context.Context, id string, in building.CardholderInput) (building.Cardholder, error)
	DeleteCardholder(ctx context.Context, id string) error
	AccessLevels() []building.AccessLevel
	CreateAccessLevel(ctx context.Context, v building.AccessLevel) (building.AccessLevel, error)
	UpdateAccessLevel(ctx context.Context, id string, v building.AccessLevel) (building.AccessLevel, error)
	DeleteAccessLevel(ctx context.Context, id string) error
	Schedules() []building.Schedule
	CreateSchedule(ctx context.Context, v building.Schedule) (building.Schedule, error)
	UpdateSchedule(ctx context.Context, id string, v building.Schedule) (building.Schedule, error)
	DeleteSchedule(ctx context.Context, id string) error
	Holidays() []building.Holiday
	SetHoliday(ctx context.Context, h building.Holiday) (building.Holiday, error)
	DeleteHoliday(ctx context.Context, date string) error
	Placements(floor string) []building.Placement
	Place(ctx context.Context, p building.Placement) (building.Placement, error)
	Unplace(ctx context.Context, kind, device string) error

	SetFloorPlan(ctx context.Context, floor string, data []byte) (building.Floor, error)
	FloorPlan(ctx context.Context, floor string) (contentType string, data []byte, err error)
	DeleteFloorPlan(ctx context.Context, floor string) error
}

// Interface guard: the building module is what the console needs.
var _ Building = (*building.Service)(nil)

// Page sizes of the building's lists.
const (
	defaultBuildingLimit = 100
	maxBuildingLimit     = 1000 // building's own cap per page
	// maxAlarmScan is how many alarms one building.alarms.list reads
	// while it filters by kind or end time, which building's filter
	// lacks; past it, the result is short and next_before_id goes on.
	maxAlarmScan = 5000
)

// buildingOff answers requests when the building module is not running.
const buildingOff = "doors and access control are not running on this server"

var errBuildingOff = &apiError{code: CodeUnavailable, msg: buildingOff}

// building returns the building module, or an unavailable error.
func (c *conn) building() (Building, error) {
	if c.s.deps.Building == nil {
		return nil, errBuildingOff
	}
	return c.s.deps.Building, nil
}

// actor is who gives a command from this socket, for building to
// authorise and audit.
func (c *conn) actor() building.Actor {
	sess := c.session()
	return building.Actor{User: sess.User.Username, Role: string(sess.User.Role), Source: c.source}
}

// refusedEarly audits, under the module's action, a request of
// AuditedByModule that failed before it reached the module (it cannot be
// read, or the module is not running), so that it too has its one entry.
func (c *conn) refusedEarly(typ, target string, err error) error {
	sess := c.session()
	c.s.audit(c.ctx, sess.User.Username, string(sess.User.Role), AuditedByModule[typ], target, auditFailed,
		c.s.wireError(err).Message, c.source)
	return err
}

// buildingHandlers binds the building's request types to their handlers.
func buildingHandlers() map[string]handlerFunc {
	h := map[string]handlerFunc{
		TypeBuildingOverview: (*conn).handleBuildingOverview,
		TypeDoorsUnlock:      (*conn).handleDoorsUnlock,
		TypeDoorsUnlockUntil: (*conn).handleDoorsUnlockUntil,
		TypeDoorsLock:        (*conn).handleDoorsLock,
		TypeLockdownStart:    (*conn).handleLockdownStart,
		TypeLockdownRelease:  (*conn).handleLockdownRelease,
		TypeAlarmsList:       (*conn).handleAlarmsList,
		TypeAlarmsAck:        (*conn).handleAlarmsAck,
		TypeAlarmsResolve:    (*conn).handleAlarmsResolve,
		TypeAlarmsHistory:    (*conn).handleAlarmsHistory,
		TypeAccessList:       (*conn).handleAccessList,
	}
	for typ, f := range editorHandlers() {
		h[typ] = f
	}
	return h
}

func (c *conn) handleBuildingOverview(_ context.Context, _ request) (reply, error) {
	b, err := c.building()
	if err != nil {
		return reply{}, err
	}
	floors := b.Floors()
	var placed []building.Placement
	for _, f := range floors {
		placed = append(placed, b.Placements(f.ID)...)
	}
	return reply{result: BuildingOverview{
		Sites:       nonNil(b.Sites()),
		Buildings:   nonNil(b.Buildings()),
		Floors:      nonNil(floors),
		Doors:       nonNil(b.Doors()),
		Lockdowns:   nonNil(b.Lockdowns()),
		Controllers: nonNil(b.Controllers()),
		Alarms:      nonNil(b.Alarms()),
		Placements:  nonNil(placed),
	}}, nil
}

// doorTarget and scopeTarget name what a command acts on, as building's
// own audit entries do.
func doorTarget(door string) string { return "door:" + truncate(door, 64) }

func scopeTarget(sc building.Scope) string { return truncate(sc.Kind, 16) + ":" + truncate(sc.ID, 64) }

func alarmTarget(id int64) string { return "alarm:" + strconv.FormatInt(id, 10) }

func (c *conn) handleDoorsUnlock(ctx context.Context, req request) (reply, error) {
	var p DoorUnlockParams
	if err := req.decode(&p); err != nil {
		return reply{}, c.refusedEarly(req.Type, doorTarget(p.Door), err)
	}
	b, err := c.building()
	if err != nil {
		return reply{}, c.refusedEarly(req.Type, doorTarget(p.Door), err)
	}
	id, err := b.UnlockMomentary(ctx, c.actor(), p.Door, p.Seconds)
	if err != nil {
		return reply{}, err
	}
	return reply{result: CommandResult{CommandID: id}}, nil
}

func (c *conn) handleDoorsUnlockUntil(ctx context.Context, req request) (reply, error) {
	var p DoorUnlockUntilParams
	err := req.decode(&p)
	var until time.Time
	if err == nil {
		until, err = parseTimeParam("until", p.Until)
	}
	if err == nil && until.IsZero() {
		err = apiErrorf(CodeInvalidParams, "until must be an RFC 3339 time such as 2026-01-02T18:00:00+08:00")
	}
	var b Building
	if err == nil {
		b, err = c.building()
	}
	if err != nil {
		return reply{}, c.refusedEarly(req.Type, doorTarget(p.Door), err)
	}
	id, err := b.UnlockUntil(ctx, c.actor(), p.Door, until)
	if err != nil {
		return reply{}, err
	}
	return reply{result: CommandResult{CommandID: id}}, nil
}

func (c *conn) handleDoorsLock(ctx context.Context, req request) (reply, error) {
	var p DoorCommandParams
	if err := req.decode(&p); err != nil {
		return reply{}, c.refusedEarly(req.Type, doorTarget(p.Door), err)
	}
	b, err := c.building()
	if err != nil {
		return reply{}, c.refusedEarly(req.Type, doorTarget(p.Door), err)
	}
	id, err := b.Lock(ctx, c.actor(), p.Door)
	if err != nil {
		return reply{}, err
	}
	return reply{result: CommandResult{CommandID: id}}, nil
}

func (c *conn) handleLockdownStart(ctx context.Context, req request) (reply, error) {
	var p LockdownStartParams
	if err := req.decode(&p); err != nil {
		return reply{}, c.refusedEarly(req.Type, scopeTarget(p.Scope), err)
	}
	b, err := c.building()
	if err != nil {
		return reply{}, c.refusedEarly(req.Type, scopeTarget(p.Scope), err)
	}
	if err := b.Lockdown(ctx, c.actor(), p.Scope, p.Reason); err != nil {
		return reply{}, err
	}
	res := LockdownResult{Lockdown: building.Lockdown{Scope: p.Scope, Reason: strings.TrimSpace(p.Reason), StartedBy: c.username()}}
	all := b.Lockdowns()
	if i := slices.IndexFunc(all, func(l building.Lockdown) bool { return l.Scope == p.Scope }); i >= 0 {
		res.Lockdown = all[i]
	}
	return reply{result: res}, nil
}

func (c *conn) handleLockdownRelease(ctx context.Context, req request) (reply, error) {
	var p ScopeParams
	if err := req.decode(&p); err != nil {
		return reply{}, c.refusedEarly(req.Type, scopeTarget(p.Scope), err)
	}
	b, err := c.building()
	if err != nil {
		return reply{}, c.refusedEarly(req.Type, scopeTarget(p.Scope), err)
	}
	return reply{}, b.ReleaseLockdown(ctx, c.actor(), p.Scope)
}

// pageLimit checks a page size; 0 is def.
func pageLimit(limit, def, most int) (int, error) {
	switch {
	case limit == 0:
		return def, nil
	case limit < 0 || limit > most:
		return 0, apiErrorf(CodeInvalidParams, "limit must be between 1 and %d", most)
	}
	return limit, nil
}

// timeRange parses optional from and to and checks their order.
func timeRange(from, to string) (time.Time, time.Time, error) {
	f, err := parseTimeParam("from", from)
	if err != nil {
		return f, time.Time{}, err
	}
	t, err := parseTimeParam("to", to)
	if err != nil {
		return f, t, err
	}
	if !f.IsZero() && !t.IsZero() && !t.After(f) {
		return f, t, apiErrorf(CodeInvalidParams, "to must be later than from")
	}
	return f, t, nil
}

func (c *conn) handleAlarmsList(ctx context.Context, req request) (reply, error) {
	var p AlarmsListParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	if p.State != "" && !slices.Contains(AlarmStates, p.State) {
		return reply{}, apiErrorf(CodeInvalidParams, "state must be one of %s", strings.Join(AlarmStates, ", "))
	}
	if p.Kind != "" && !slices.Contains(AlarmKinds, p.Kind) {
		return reply{}, apiErrorf(CodeInvalidParams, "kind must be one of %s", strings.Join(AlarmKinds, ", "))
	}
	if p.BeforeID < 0 {
		return reply{}, apiErrorf(CodeInvalidParams, "before_id must be the next_before_id of an earlier page")
	}
	from, to, err := timeRange(p.From, p.To)
	if err != nil {
		return reply{}, err
	}
	limit, err := pageLimit(p.Limit, defaultBuildingLimit, maxBuildingLimit)
	if err != nil {
		return reply{}, err
	}
	b, err := c.building()
	if err != nil {
		return reply{}, err
	}
	f := building.AlarmFilter{State: p.State, Door: p.Door, Since: from, BeforeID: p.BeforeID}
	alarms, next, err := listAlarms(ctx, b, f, p.Kind, to, limit)
	if err != nil {
		return reply{}, err
	}
	return reply{result: AlarmsResult{Alarms: nonNil(alarms), NextBeforeID: next}}, nil
}

// listAlarms pages through building's alarms, newest first, keeping those
// of kind raised before to (building's filter has neither), until limit
// match, the alarms run out, or maxAlarmScan were read. It returns the
// before_id to go on from, 0 when nothing older is left.
func listAlarms(ctx context.Context, b Building, f building.AlarmFilter, kind string, to time.Time, limit int) ([]building.Alarm, int64, error) {
	if kind == "" && to.IsZero() {
		f.Limit = limit
		return b.ListAlarms(ctx, f)
	}
	out := []building.Alarm{}
	for scanned := 0; ; {
		f.Limit = maxBuildingLimit
		page, next, err := b.ListAlarms(ctx, f)
		if err != nil {
			return nil, 0, err
		}
		for i, a := range page {
			if (kind == "" || a.Kind == kind) && (to.IsZero() || a.RaisedAt.Before(to)) {
				out = append(out, a)
			}
			if len(out) == limit {
				if i == len(page)-1 && next == 0 {
					return out, 0, nil
				}
				return out, a.ID, nil
			}
		}
		scanned += len(page)
		if next == 0 || scanned >= maxAlarmScan {
			return out, next, nil
		}
		f.BeforeID = next
	}
}

func (c *conn) handleAlarmsAck(ctx context.Context, req request) (reply, error) {
	return c.changeAlarm(ctx, req, Building.Acknowledge)
}

func (c *conn) handleAlarmsResolve(ctx context.Context, req request) (reply, error) {
	return c.changeAlarm(ctx, req, Building.Resolve)
}

// changeAlarm acknowledges or resolves an alarm; building checks and
// audits it.
func (c *conn) changeAlarm(ctx context.Context, req request,
	do func(Building, context.Context, building.Actor, int64, string) (building.Alarm, error)) (reply, error) {
	var p AlarmCommentParams
	err := req.decode(&p)
	if err == nil && p.AlarmID <= 0 {
		err = apiErrorf(CodeInvalidParams, "alarm_id must name an alarm")
	}
	var b Building
	if err == nil {
		b, err = c.building()
	}
	if err != nil {
		return reply{}, c.refusedEarly(req.Type, alarmTarget(p.AlarmID), err)
	}
	a, err := do(b, ctx, c.actor(), p.AlarmID, p.Comment)
	if err != nil {
		return reply{}, err
	}
	return reply{result: AlarmResult{Alarm: a}}, nil
}

func (c *conn) handleAlarmsHistory(ctx context.Context, req request) (reply, error) {
	var p AlarmIDParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	if p.AlarmID <= 0 {
		return reply{}, apiErrorf(CodeInvalidParams, "alarm_id must name an alarm")
	}
	b, err := c.building()
	if err != nil {
		return reply{}, err
	}
	h, err := b.AlarmHistory(ctx, p.AlarmID)
	if err != nil {
		return reply{}, err
	}
	return reply{result: AlarmHistoryResult{History: nonNil(h)}}, nil
}

// filter checks the params and turns them into building's filter; def
// and most bound the limit. Its errors are sentences for the person who
// set the filters.
func (p AccessListParams) filter(def, most int) (building.AccessFilter, error) {
	f := building.AccessFilter{Cardholder: p.Cardholder, Door: p.Door, Card: p.Card, Granted: p.Granted, BeforeID: p.BeforeID}
	for name, v := range map[string]string{"cardholder": p.Cardholder, "door": p.Door, "card": p.Card} {
		if len(v) > 64 {
			return f, apiErrorf(CodeInvalidParams, "%s must be at most 64 characters", name)
		}
	}
	if p.BeforeID < 0 {
		return f, apiErrorf(CodeInvalidParams, "before_id must be the next_before_id of an earlier page")
	}
	var err error
	if f.Since, f.Until, err = timeRange(p.From, p.To); err != nil {
		return f, err
	}
	f.Limit, err = pageLimit(p.Limit, def, most)
	return f, err
}

func (c *conn) handleAccessList(ctx context.Context, req request) (reply, error) {
	var p AccessListParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	f, err := p.filter(defaultBuildingLimit, maxBuildingLimit)
	if err != nil {
		return reply{}, err
	}
	b, err := c.building()
	if err != nil {
		return reply{}, err
	}
	evs, next, err := b.ListAccessEvents(ctx, f)
	if err != nil {
		return reply{}, err
	}
	return reply{result: AccessResult{Events: nonNil(evs), NextBeforeID: next}}, nil
}

// doorsSnapshot, alarmsSnapshot and controllersSnapshot are the
// building topics' snapshots; empty when the module is not running.
func (s *Server) doorsSnapshot() DoorsSnapshot {
	if s.deps.Building == nil {
		return DoorsSnapshot{Doors: []building.DoorStatus{}, Lockdowns: []building.Lockdown{}}
	}
	return DoorsSnapshot{Doors: nonNil(s.deps.Building.Doors()), Lockdowns: nonNil(s.deps.Building.Lockdowns())}
}

func (s *Server) alarmsSnapshot() AlarmsSnapshot {
	if s.deps.Building == nil {
		return AlarmsSnapshot{Alarms: []building.Alarm{}}
	}
	return AlarmsSnapshot{Alarms: nonNil(s.deps.Building.Alarms())}
}

func (s *Server) controllersSnapshot() ControllersSnapshot {
	if s.deps.Building == nil {
		return ControllersSnapshot{Controllers: []building.ControllerStatus{}}
	}
	return ControllersSnapshot{Controllers: nonNil(s.deps.Building.Controllers())}
}

// buildingErrors map building's errors to codes; each is wrapped with a
// sentence for the person at the console.
var buildingErrors = []struct {
	sentinel error
	code     string
	fallback string
}{
	{building.ErrNotFound, CodeNotFound, "it does not exist"},
	{building.ErrExists, CodeConflict, "that id or card number is already taken"},
	{building.ErrConflict, CodeConflict, "that conflicts with the current state"},
	{building.ErrInvalid, CodeInvalidParams, "the request is not valid"},
	{building.ErrNotAllowed, CodeNotAllowed, "your role may not do this"},
	{building.ErrUnavailable, CodeUnavailable, "the door controller cannot be reached"},
	{building.ErrTooLarge, CodeTooLarge, "the floor plan is too large"},
}

// buildingError maps the building module's errors to the error sent to
// the client, or nil when err is none of them.
func buildingError(err error) *WireError {
	for _, m := range buildingErrors {
		if errors.Is(err, m.sentinel) {
			return &WireError{Code: m.code, Message: afterSentinel(err, m.sentinel, m.fallback)}
		}
	}
	return nil
}

// afterSentinel is the sentence building wrapped sentinel with: the text
// after "<sentinel>: ", which may follow context such as "unlock door
// east: ". It is fallback when there is none.
func afterSentinel(err, sentinel error, fallback string) string {
	msg, word := err.Error(), sentinel.Error()+": "
	i := strings.Index(msg, word)
	if i < 0 || strings.TrimSpace(msg[i+len(word):]) == "" {
		return fallback
	}
	return strings.TrimSpace(msg[i+len(word):])
}
