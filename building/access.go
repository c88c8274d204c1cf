package building

import (
	"context"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Decision reasons (Decision.Reason and AccessEvent.Reason), besides the
// refusals of a bad message (ReasonUnknownController, ReasonInvalid,
// ReasonStale, ReasonReplayed), which record no access event.
const (
	ReasonGranted         = "granted"
	ReasonUnknownCard     = "unknown_card"
	ReasonDisabled        = "disabled"
	ReasonNotYetValid     = "not_yet_valid"
	ReasonExpired         = "expired"
	ReasonLockdown        = "lockdown"         // a lockdown of the door's building or floor
	ReasonDoorLockedDown  = "door_locked_down" // the door's own mode is locked_down
	ReasonNoAccess        = "no_access"        // no access level of the cardholder has this door
	ReasonOutsideSchedule = "outside_schedule"
	ReasonBadPIN          = "bad_pin" // wrong or missing PIN, or none set
	ReasonAntiPassback    = "anti_passback"
	ReasonUnknownReader   = "unknown_reader"
)

// passbackKey is a cardholder at a door, for anti-passback.
type passbackKey struct{ holder, door string }

// swipeCheck is a swipe between the two locked phases of Swipe.
type swipeCheck struct {
	door   *doorConf
	ref    readerRef
	reader readerKey
	card   string
	holder *holderConf // nil for an unknown card
	reason string      // "" while the card may still be granted
}

// Swipe decides on a card presented at a reader: the cardholder's status
// and validity, lockdown and the door's mode (responders pass), the
// access levels and their schedules at the door's local time, the PIN if
// the reader asks for one, and anti-passback. Every decision is stored
// and published as an AccessEvent. A message from an unknown controller
// or reader, with a malformed card, or replayed or too old is refused
// with an error (and a Decision whose Reason says why, safe to send as a
// denial) and changes nothing.
func (s *Service) Swipe(ctx context.Context, sw Swipe) (Decision, error) {
	now := s.now()
	s.mu.Lock()
	c, reason, err := s.checkSwipeLocked(sw, now)
	if err != nil {
		s.mu.Unlock()
		s.refused("card", sw.Controller, err)
		return Decision{Reason: reason}, fmt.Errorf("card at reader %s: %w", truncate(sw.Reader, maxIDLen), err)
	}
	s.acceptMsgLocked(sw.Controller, sw.MsgID, sw.At, now)
	s.mu.Unlock()

	// The PIN is checked without the lock: bcrypt takes milliseconds.
	if c.reason == "" && c.ref.pin {
		if len(c.holder.pinHash) == 0 || !validPIN(sw.PIN) || bcrypt.CompareHashAndPassword(c.holder.pinHash, []byte(sw.PIN)) != nil {
			c.reason = ReasonBadPIN
		}
	}

	s.mu.Lock()
	ev := s.commitSwipeLocked(c, now)
	s.mu.Unlock()

	s.recordAccess(ctx, &ev)
	s.publish(ev)
	d := Decision{Granted: ev.Granted, Reason: ev.Reason, Door: ev.Door, Cardholder: ev.Cardholder}
	if d.Granted {
		d.UnlockSeconds = c.door.UnlockSeconds
		d.UnlockFor = time.Duration(d.UnlockSeconds) * time.Second
	}
	return d, nil
}

// checkSwipeLocked checks a swipe message and makes every check that
// needs no PIN and changes no state.
func (s *Service) checkSwipeLocked(sw Swipe, now time.Time) (swipeCheck, string, error) {
	if reason, err := s.checkMsgLocked(sw.Controller, sw.MsgID, sw.At, now); err != nil {
		return swipeCheck{}, reason, err
	}
	key := readerKey{sw.Controller, sw.Reader}
	ref, ok := s.m.readers[key]
	if !ok {
		return swipeCheck{}, ReasonUnknownReader, fmt.Errorf("%w: controller %s has no reader %q", ErrNotFound, sw.Controller, truncate(sw.Reader, maxIDLen))
	}
	card, ok := normCard(sw.Card)
	if !ok {
		return swipeCheck{}, ReasonInvalid, fmt.Errorf("%w: card number %q is not 1-%d letters and digits", ErrRefused, truncate(sw.Card, maxCardLen+8), maxCardLen)
	}
	c := swipeCheck{door: s.m.doors[ref.door], ref: ref, reader: key, card: card, holder: s.m.cards[card]}
	c.reason = s.denialLocked(c, now)
	return c, "", nil
}

// denialLocked returns why a card may not open a door now ("" if it may,
// PIN and anti-passback aside).
func (s *Service) denialLocked(c swipeCheck, now time.Time) string {
	h, d := c.holder, c.door
	switch {
	case h == nil:
		return ReasonUnknownCard
	case h.Status != StatusActive:
		return ReasonDisabled
	case !h.ValidFrom.IsZero() && now.Before(h.ValidFrom):
		return ReasonNotYetValid
	case !h.ValidUntil.IsZero() && !now.Before(h.ValidUntil):
		return ReasonExpired
	case s.inLockdownLocked(d) && !h.Responder:
		return ReasonLockdown
	case d.Mode == ModeLockedDown && !h.Responder:
		return ReasonDoorLockedDown
	}
	schedules, ok := h.access[d.ID]
	if !ok {
		return ReasonNoAccess
	}
	local := now.In(d.loc)
	for _, sc := range schedules {
		if s.m.scheduleOpen(sc, local) {
			return ""
		}
	}
	return ReasonOutsideSchedule
}

// commitSwipeLocked finishes a decision with anti-passback and applies
// it: a grant opens the door's unlock window, a denial counts towards
// the reader's repeated-denials alarm.
func (s *Service) commitSwipeLocked(c swipeCheck, now time.Time) AccessEvent {
	d := c.door
	pb := passbackKey{door: d.ID}
	if c.holder != nil {
		pb.holder = c.holder.ID
	}
	passback := d.passback && d.ReaderIn != "" && d.ReaderOut != ""
	if c.reason == "" && passback && s.passback[pb] == c.ref.direction {
		c.reason = ReasonAntiPassback
	}
	ev := AccessEvent{At: now, Door: d.ID, DoorName: d.Name, Controller: c.reader.controller, Reader: c.reader.reader,
		Direction: c.ref.direction, Card: c.card, Granted: c.reason == "", Reason: c.reason}
	if c.holder != nil {
		ev.Cardholder, ev.CardholderName = c.holder.ID, c.holder.Name
	}
	if ev.Granted {
		ev.Reason = ReasonGranted
		if passback {
			s.passback[pb] = c.ref.direction
		}
		if rt := s.doors[d.ID]; rt != nil {
			rt.grantUntil = now.Add(time.Duration(d.UnlockSeconds)*time.Second + openGrace)
		}
		return ev
	}
	ts := append(s.denials[c.reader], now)
	for len(ts) > 0 && now.Sub(ts[0]) > s.cfg.DenialWindow {
		ts = ts[1:]
	}
	if len(ts) >= s.cfg.DenialBurst {
		s.raiseLocked(now, AlarmRepeatedDenials, alarmSubject{door: d.ID, controller: c.reader.controller, reader: c.reader.reader},
			fmt.Sprintf("%d cards denied within %v at reader %s of door %s", len(ts), s.cfg.DenialWindow, c.reader.reader, d.Name))
		ts = nil
	}
	s.denials[c.reader] = ts
	return ev
}

// recordAccess stores an access event and sets its ID. A store failure
// is logged: the decision stands.
func (s *Service) recordAccess(ctx context.Context, ev *AccessEvent) {
	res, err := s.db.ExecContext(context.WithoutCancel(ctx), `INSERT INTO building_access_events (at, door, door_name, controller,
		reader, direction, card, cardholder, cardholder_name, granted, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ms(ev.At), ev.Door, ev.DoorName, ev.Controller, ev.Reader, ev.Direction, ev.Card, ev.Cardholder, ev.CardholderName, ev.Granted, ev.Reason)
	if err == nil {
		ev.ID, err = res.LastInsertId()
	}
	if err != nil {
		s.log.Error("record access event", "door", ev.Door, "reason", ev.Reason, "err", err)
	}
	ev.At = msTime(ev.At)
}

// AccessFilter selects access events; zero fields select everything.
type AccessFilter struct {
	Cardholder string // cardholder id
	Door       string
	Card       string
	Granted    *bool
	// Since (inclusive) and Until (exclusive) bound the event time.
	Since, Until time.Time
	// BeforeID pages backwards: pass the previous page's next id.
	BeforeID int64
	// Limit is the page size. Default: 100; at most 1000.
	Limit int
}

// ListAccessEvents returns the access events that match f, newest first,
// and the BeforeID of the next page (0 when there is none).
func (s *Service) ListAccessEvents(ctx context.Context, f AccessFilter) ([]AccessEvent, int64, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	var where []string
	var args []any
	add := func(cond string, v any) { where, args = append(where, cond), append(args, v) }
	if f.Cardholder != "" {
		add("cardholder = ?", f.Cardholder)
	}
	if f.Door != "" {
		add("door = ?", f.Door)
	}
	if f.Card != "" {
		card, _ := normCard(f.Card)
		add("card = ?", card)
	}
	if f.Granted != nil {
		add("granted = ?", *f.Granted)
	}
	if !f.Since.IsZero() {
		add("at >= ?", ms(f.Since))
	}
	if !f.Until.IsZero() {
		add("at < ?", ms(f.Until))
	}
	if f.BeforeID > 0 {
		add("id < ?", f.BeforeID)
	}
	q := `SELECT id, at, door, door_name, controller, reader, direction, card, cardholder, cardholder_name, granted, reason
		FROM building_access_events`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit+1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list access events: %w", err)
	}
	defer rows.Close()
	out := []AccessEvent{}
	for rows.Next() {
		var e AccessEvent
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Door, &e.DoorName, &e.Controller, &e.Reader, &e.Direction, &e.Card,
			&e.Cardholder, &e.CardholderName, &e.Granted, &e.Reason); err != nil {
			return nil, 0, fmt.Errorf("list access events: %w", err)
		}
		e.At = time.UnixMilli(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list access events: %w", err)
	}
	var next int64
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}
