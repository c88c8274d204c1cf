package building

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"civic/internal/audit"
)

// Lockdown scopes.
const (
	ScopeBuilding = "building"
	ScopeFloor    = "floor"
)

// Scope is what a lockdown covers: a whole building or one floor.
type Scope struct {
	Kind string `json:"kind"` // ScopeBuilding or ScopeFloor
	ID   string `json:"id"`
}

// String is "kind:id", shortened for logs and the audit log.
func (sc Scope) String() string { return truncate(sc.Kind, 16) + ":" + truncate(sc.ID, maxIDLen) }

// Lockdown is a lockdown in force.
type Lockdown struct {
	Scope     Scope     `json:"scope"`
	Reason    string    `json:"reason"`
	StartedBy string    `json:"started_by"`
	StartedAt time.Time `json:"started_at"`
}

// systemActor gives the commands civicd makes by itself (schedules, the
// end of an UnlockUntil, mode changes).
var systemActor = Actor{User: "system", Source: "civicd"}

// Roles that may give door commands and handle alarms.
const (
	roleAdmin      = "admin"
	roleFacilities = "facilities"
)

// maxUnlockUntil is how far ahead UnlockUntil may reach.
const maxUnlockUntil = 24 * time.Hour

// pending is a command awaiting its acknowledgement.
type pending struct {
	controller string
	door       string
	cmd        Command
	actor      Actor
	deadline   time.Time
}

func (p *pending) staff() bool { return p.actor != systemActor }

// describe says what a command does, for the audit log.
func (c Command) describe() string {
	switch {
	case c.Action == ActionUnlock && c.Seconds > 0:
		return fmt.Sprintf("unlock for %d s", c.Seconds)
	case c.Action == ActionUnlock && !c.Until.IsZero():
		return "unlock until " + c.Until.Format(time.RFC3339)
	case c.Action == ActionMode:
		return "mode " + c.Mode
	}
	return c.Action
}

func newCommandID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// authorise lets admin and facilities act and refuses everyone else, with
// an audit entry; what says what was refused ("unlock doors").
func (s *Service) authorise(ctx context.Context, a Actor, action, target, what string) error {
	if a.User != "" && (a.Role == roleAdmin || a.Role == roleFacilities) {
		return nil
	}
	s.auditEntry(ctx, audit.Entry{User: a.User, Role: a.Role, Action: action, Target: target, Result: audit.ResultDenied,
		Detail: "role " + cmpOr(a.Role, "(none)"), Source: a.Source})
	if a.User == "" {
		return fmt.Errorf("%w: a command needs a user to %s", ErrNotAllowed, what)
	}
	return fmt.Errorf("%w: the %s role may not %s", ErrNotAllowed, cmpOr(a.Role, "(none)"), what)
}

// UnlockMomentary releases a door's lock for seconds (0: the door's unlock
// time). It returns the command id once the command is sent; the
// acknowledgement (or its absence) is audited and shows in the door's
// LastCommand. Admin and facilities may; not during a lockdown.
func (s *Service) UnlockMomentary(ctx context.Context, actor Actor, door string, seconds int) (string, error) {
	return s.doorCommand(ctx, actor, "building.unlock", door, "unlock doors", func(d *doorConf, rt *doorRT, now time.Time) (Command, error) {
		if seconds == 0 {
			seconds = d.UnlockSeconds
		}
		if seconds < 1 || seconds > maxUnlockSecs {
			return Command{}, invalidf("a momentary unlock must last 1-%d seconds", maxUnlockSecs)
		}
		rt.remoteUntil = now.Add(time.Duration(seconds)*time.Second + openGrace)
		return Command{Action: ActionUnlock, Seconds: seconds}, nil
	})
}

// UnlockUntil releases a door's lock until a time (at most 24 hours
// ahead), then civicd locks it. Admin and facilities may; not during a
// lockdown.
func (s *Service) UnlockUntil(ctx context.Context, actor Actor, door string, until time.Time) (string, error) {
	return s.doorCommand(ctx, actor, "building.unlock_until", door, "unlock doors", func(d *doorConf, rt *doorRT, now time.Time) (Command, error) {
		if !until.After(now) || until.Sub(now) > maxUnlockUntil {
			return Command{}, invalidf("unlock until must be in the next %v", maxUnlockUntil)
		}
		rt.unlockedUntil = msTime(until.Truncate(time.Second))
		return Command{Action: ActionUnlock, Until: rt.unlockedUntil}, nil
	})
}

// Lock locks a door now, ending any unlock in force. Admin and facilities
// may.
func (s *Service) Lock(ctx context.Context, actor Actor, door string) (string, error) {
	return s.doorCommand(ctx, actor, "building.lock", door, "lock doors", func(d *doorConf, rt *doorRT, now time.Time) (Command, error) {
		rt.remoteUntil, rt.unlockedUntil, rt.grantUntil = time.Time{}, time.Time{}, time.Time{}
		return Command{Action: ActionLock}, nil
	})
}

// doorCommand authorises, checks and sends one command to one door, and
// audits it.
func (s *Service) doorCommand(ctx context.Context, actor Actor, action, door, what string,
	build func(d *doorConf, rt *doorRT, now time.Time) (Command, error)) (string, error) {
	target := "door:" + truncate(door, maxIDLen)
	if err := s.authorise(ctx, actor, action, target, what); err != nil {
		return "", err
	}
	now := s.now()
	s.mu.Lock()
	p, err := s.prepareLocked(actor, door, now, action != "building.lock", build)
	s.mu.Unlock()
	entry := audit.Entry{User: actor.User, Role: actor.Role, Action: action, Target: target, Source: actor.Source, Result: audit.ResultOK}
	if err != nil {
		entry.Result, entry.Detail = audit.ResultFailed, err.Error()
		s.auditEntry(ctx, entry)
		return "", fmt.Errorf("%s door %s: %w", strings.TrimPrefix(action, "building."), truncate(door, maxIDLen), err)
	}
	entry.Detail = p.cmd.describe() + ": sent to controller " + p.controller + " as command " + p.cmd.ID
	s.auditEntry(ctx, entry)
	if err := s.send(ctx, p); err != nil {
		return p.cmd.ID, fmt.Errorf("%s door %s: %w", strings.TrimPrefix(action, "building."), door, err)
	}
	return p.cmd.ID, nil
}

func (s *Service) prepareLocked(actor Actor, door string, now time.Time, unlock bool,
	build func(d *doorConf, rt *doorRT, now time.Time) (Command, error)) (*pending, error) {
	d, rt := s.m.doors[door], s.doors[door]
	if d == nil || rt == nil {
		return nil, fmt.Errorf("%w: there is no door %s", ErrNotFound, truncate(door, maxIDLen))
	}
	if c := s.ctrls[d.Controller]; c == nil || !c.online {
		return nil, fmt.Errorf("%w: controller %s of door %s is offline", ErrUnavailable, d.Controller, door)
	}
	if unlock && s.inLockdownLocked(d) {
		return nil, fmt.Errorf("%w: door %s is in a lockdown; release the lockdown first", ErrConflict, door)
	}
	cmd, err := build(d, rt, now)
	if err != nil {
		return nil, err
	}
	return s.newCommandLocked(actor, door, cmd, now), nil
}

// newCommandLocked registers a command to a door as pending and shows it
// on the door; the caller sends it once s.mu is released.
func (s *Service) newCommandLocked(actor Actor, door string, cmd Command, now time.Time) *pending {
	d := s.m.doors[door]
	cmd.ID, cmd.Door, cmd.At = newCommandID(), door, now
	p := &pending{controller: d.Controller, door: door, cmd: cmd, actor: actor, deadline: now.Add(s.cfg.AckTimeout)}
	s.pending[cmd.ID] = p
	if rt := s.doors[door]; rt != nil {
		rt.lastCmd = &CommandStatus{ID: cmd.ID, Action: cmd.Action, State: CommandPending, By: actor.User, At: msTime(now)}
		s.publishDoorLocked(door, now)
	}
	return p
}

// send hands a pending command to the transport; a failure to send ends
// it as failed.
func (s *Service) send(ctx context.Context, p *pending) error {
	s.mu.Lock()
	c := s.commander
	s.mu.Unlock()
	err := fmt.Errorf("%w: no transport to the controllers is running", ErrUnavailable)
	if c != nil {
		err = c.Send(context.WithoutCancel(ctx), p.controller, p.cmd)
	}
	if err != nil {
		s.log.Warn("command not sent", "command", p.cmd.ID, "controller", p.controller, "door", p.door, "err", err)
		s.finish(ctx, p.cmd.ID, false, "not sent: "+err.Error())
		return err
	}
	return nil
}

// finish ends a pending command: acknowledged (ok) or failed (why), and
// audits the outcome of staff commands and the failures of civicd's own.
func (s *Service) finish(ctx context.Context, id string, ok bool, why string) {
	now := s.now()
	s.mu.Lock()
	entry, done := s.finishLocked(id, ok, why, now)
	s.mu.Unlock()
	if done {
		s.auditEntry(ctx, entry)
	}
}

// finishLocked ends a pending command and returns the audit entry to
// write, if any.
func (s *Service) finishLocked(id string, ok bool, why string, now time.Time) (audit.Entry, bool) {
	p := s.pending[id]
	if p == nil {
		return audit.Entry{}, false
	}
	delete(s.pending, id)
	if rt := s.doors[p.door]; rt != nil {
		if !ok && p.cmd.Action == ActionUnlock {
			rt.remoteUntil = time.Time{}
			if rt.unlockedUntil.Equal(p.cmd.Until) {
				rt.unlockedUntil = time.Time{}
			}
			if !p.staff() {
				rt.scheduleOpen = false // the next tick tries again
			}
		}
		if rt.lastCmd != nil && rt.lastCmd.ID == id {
			c := *rt.lastCmd
			c.State, c.Error = CommandOK, ""
			if !ok {
				c.State, c.Error = CommandFailed, why
			}
			rt.lastCmd = &c
		}
		s.publishDoorLocked(p.door, now)
	}
	entry := audit.Entry{User: p.actor.User, Role: p.actor.Role, Action: "building.command_result", Target: "door:" + p.door,
		Source: p.actor.Source, Result: audit.ResultOK,
		Detail: fmt.Sprintf("%s (command %s): acknowledged by controller %s", p.cmd.describe(), id, p.controller)}
	if !ok {
		entry.Result = audit.ResultFailed
		entry.Detail = fmt.Sprintf("%s (command %s) to controller %s: %s", p.cmd.describe(), id, p.controller, why)
		s.log.Warn("command failed", "command", id, "door", p.door, "controller", p.controller, "why", why)
	}
	return entry, p.staff() || !ok
}

// CommandAcked takes a controller's acknowledgement of a command.
func (s *Service) CommandAcked(ctx context.Context, a Ack) error {
	now := s.now()
	s.mu.Lock()
	if s.ctrls[a.Controller] == nil {
		s.mu.Unlock()
		err := fmt.Errorf("%w: unknown controller %q", ErrNotFound, truncate(a.Controller, maxIDLen))
		s.refused("ack", a.Controller, err)
		return fmt.Errorf("ack: %w", err)
	}
	p := s.pending[a.CommandID]
	if p == nil || p.controller != a.Controller {
		s.mu.Unlock()
		err := fmt.Errorf("%w: no command %q to controller %s awaits an acknowledgement (unknown, or timed out)",
			ErrNotFound, truncate(a.CommandID, 64), a.Controller)
		s.refused("ack", a.Controller, err)
		return fmt.Errorf("ack: %w", err)
	}
	s.aliveLocked(a.Controller, now)
	why := ""
	if !a.OK {
		why = "the controller refused: " + cmpOr(truncate(a.Error, 200), "no reason given")
	}
	entry, done := s.finishLocked(a.CommandID, a.OK, why, now)
	s.mu.Unlock()
	if done {
		s.auditEntry(ctx, entry)
	}
	return nil
}

// checkCommandsLocked fails the commands whose acknowledgement is late.
func (s *Service) checkCommandsLocked(now time.Time) effects {
	var fx effects
	for _, id := range sortedKeys(s.pending) {
		if p := s.pending[id]; !now.Before(p.deadline) {
			if entry, done := s.finishLocked(id, false, fmt.Sprintf("no acknowledgement within %v", s.cfg.AckTimeout), now); done {
				fx.audits = append(fx.audits, entry)
			}
		}
	}
	return fx
}

// Lockdowns returns the lockdowns in force, by scope.
func (s *Service) Lockdowns() []Lockdown {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Lockdown, 0, len(s.lockdowns))
	for _, l := range s.lockdowns {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Lockdown) int { return strings.Compare(a.Scope.String(), b.Scope.String()) })
	return out
}

func (s *Service) loadLockdowns(ctx context.Context) error {
	return scanAll(ctx, s.db, `SELECT scope, target, reason, started_by, started_at FROM building_lockdowns`, func(r *sql.Rows) error {
		var l Lockdown
		var at int64
		if err := r.Scan(&l.Scope.Kind, &l.Scope.ID, &l.Reason, &l.StartedBy, &at); err != nil {
			return fmt.Errorf("load lockdowns: %w", err)
		}
		l.StartedAt = time.UnixMilli(at)
		s.lockdowns[l.Scope] = l
		return nil
	})
}

// inLockdownLocked reports whether a lockdown covers door d.
func (s *Service) inLockdownLocked(d *doorConf) bool {
	if len(s.lockdowns) == 0 {
		return false
	}
	_, b := s.lockdowns[Scope{ScopeBuilding, d.building}]
	_, f := s.lockdowns[Scope{ScopeFloor, d.Floor}]
	return b || f
}

// effectiveModeLocked is the mode a door's controller should apply.
func (s *Service) effectiveModeLocked(id string) string {
	d := s.m.doors[id]
	if s.inLockdownLocked(d) {
		return ModeLockedDown
	}
	return d.Mode
}

func (s *Service) scopeExistsLocked(sc Scope) bool {
	switch sc.Kind {
	case ScopeBuilding:
		_, ok := s.m.buildings[sc.ID]
		return ok
	case ScopeFloor:
		_, ok := s.m.floors[sc.ID]
		return ok
	}
	return false
}

// doorsInLocked returns the doors a scope covers, by id.
func (s *Service) doorsInLocked(sc Scope) []string {
	var out []string
	for _, id := range sortedKeys(s.m.doors) {
		d := s.m.doors[id]
		if sc.Kind == ScopeBuilding && d.building == sc.ID || sc.Kind == ScopeFloor && d.Floor == sc.ID {
			out = append(out, id)
		}
	}
	return out
}

// Lockdown locks down a building or floor: every door in it is sent mode
// locked_down (the controller locks it and keeps it locked), unlocks in
// force end, and cards are denied except responders'. A reason is
// required. Admin and facilities may; it is audited, as is each door's
// acknowledgement.
func (s *Service) Lockdown(ctx context.Context, actor Actor, scope Scope, reason string) error {
	if err := s.authorise(ctx, actor, "building.lockdown", scope.String(), "start a lockdown"); err != nil {
		return err
	}
	now := s.now()
	reason, err := cleanText(reason, "lockdown reason", true, maxTextRunes)
	var fx effects
	if err == nil {
		s.mu.Lock()
		fx, err = s.lockdownLocked(ctx, actor, scope, reason, now)
		s.mu.Unlock()
	}
	entry := audit.Entry{User: actor.User, Role: actor.Role, Action: "building.lockdown", Target: scope.String(), Source: actor.Source,
		Result: audit.ResultOK, Detail: fmt.Sprintf("%s (%d doors)", reason, len(fx.sends))}
	if err != nil {
		entry.Result, entry.Detail = audit.ResultFailed, err.Error()
		err = fmt.Errorf("lockdown %s: %w", scope, err)
	}
	s.auditEntry(ctx, entry)
	s.apply(ctx, fx)
	return err
}

func (s *Service) lockdownLocked(ctx context.Context, actor Actor, sc Scope, reason string, now time.Time) (effects, error) {
	if !s.scopeExistsLocked(sc) {
		return effects{}, fmt.Errorf("%w: there is no %s %s", ErrNotFound, cmpOr(sc.Kind, "scope"), sc.ID)
	}
	if _, ok := s.lockdowns[sc]; ok {
		return effects{}, fmt.Errorf("%w: %s %s is already locked down", ErrConflict, sc.Kind, sc.ID)
	}
	l := Lockdown{Scope: sc, Reason: reason, StartedBy: actor.User, StartedAt: msTime(now)}
	if _, err := s.db.ExecContext(context.WithoutCancel(ctx), `INSERT INTO building_lockdowns (scope, target, reason, started_by, started_at)
		VALUES (?, ?, ?, ?, ?)`, sc.Kind, sc.ID, reason, actor.User, ms(now)); err != nil {
		return effects{}, fmt.Errorf("record lockdown: %w", err)
	}
	s.lockdowns[sc] = l
	s.log.Warn("lockdown started", "scope", sc.String(), "by", actor.User, "reason", reason)
	s.publish(LockdownEvent{Kind: KindLockdownStarted, Lockdown: l})
	var fx effects
	for _, id := range s.doorsInLocked(sc) {
		rt := s.doors[id]
		rt.remoteUntil, rt.unlockedUntil, rt.grantUntil, rt.scheduleOpen = time.Time{}, time.Time{}, time.Time{}, false
		fx.sends = append(fx.sends, s.newCommandLocked(actor, id, Command{Action: ActionMode, Mode: ModeLockedDown}, now))
	}
	return fx, nil
}

// ReleaseLockdown ends the lockdown of a building or floor: its doors go
// back to their own mode (unless another lockdown still covers them).
// Admin and facilities may; it is audited.
func (s *Service) ReleaseLockdown(ctx context.Context, actor Actor, scope Scope) error {
	if err := s.authorise(ctx, actor, "building.lockdown_release", scope.String(), "release a lockdown"); err != nil {
		return err
	}
	now := s.now()
	var fx effects
	s.mu.Lock()
	l, ok := s.lockdowns[scope]
	var err error
	if !ok {
		err = fmt.Errorf("%w: %s %s is not locked down", ErrNotFound, cmpOr(scope.Kind, "scope"), scope.ID)
	} else if _, err = s.db.ExecContext(context.WithoutCancel(ctx), `DELETE FROM building_lockdowns WHERE scope = ? AND target = ?`,
		scope.Kind, scope.ID); err != nil {
		err = fmt.Errorf("record lockdown release: %w", err)
	} else {
		delete(s.lockdowns, scope)
		s.log.Warn("lockdown released", "scope", scope.String(), "by", actor.User)
		s.publish(LockdownEvent{Kind: KindLockdownReleased, Lockdown: l})
		for _, id := range s.doorsInLocked(scope) {
			if d := s.m.doors[id]; !s.inLockdownLocked(d) {
				fx.sends = append(fx.sends, s.newCommandLocked(actor, id, Command{Action: ActionMode, Mode: d.Mode}, now))
			}
		}
	}
	s.mu.Unlock()
	entry := audit.Entry{User: actor.User, Role: actor.Role, Action: "building.lockdown_release", Target: scope.String(),
		Source: actor.Source, Result: audit.ResultOK, Detail: fmt.Sprintf("%d doors back to their mode", len(fx.sends))}
	if err != nil {
		entry.Result, entry.Detail = audit.ResultFailed, err.Error()
		err = fmt.Errorf("release lockdown %s: %w", scope, err)
	}
	s.auditEntry(ctx, entry)
	s.apply(ctx, fx)
	return err
}
