package voip

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// RingGroup is a number that rings several extensions, at once ("all") or
// one after another ("order"), for example the facilities desk.
type RingGroup struct {
	Number      string   `json:"number"`
	Name        string   `json:"name"`
	Strategy    string   `json:"strategy"` // "all" or "order"
	Members     []string `json:"members"`
	RingSeconds int      `json:"ring_seconds"`
}

// Ring group strategies.
const (
	StrategyAll   = "all"
	StrategyOrder = "order"
)

// normalize checks g (except that its members exist) and fills in
// defaults: strategy "all" and 20 ring seconds.
func (g RingGroup) normalize() (RingGroup, error) {
	if !validNumber(g.Number) {
		return g, invalidf("a ring group number must be 2-5 digits")
	}
	var err error
	if g.Name, err = cleanText(g.Name, "name", true); err != nil {
		return g, err
	}
	g.Strategy = strings.ToLower(strings.TrimSpace(g.Strategy))
	if g.Strategy == "" {
		g.Strategy = StrategyAll
	}
	if g.Strategy != StrategyAll && g.Strategy != StrategyOrder {
		return g, invalidf(`a ring group's strategy must be "all" or "order"`)
	}
	if g.RingSeconds == 0 {
		g.RingSeconds = defaultNoAnswerSeconds
	}
	if g.RingSeconds < minRingSeconds || g.RingSeconds > maxRingSeconds {
		return g, invalidf("ring seconds must be %d-%d", minRingSeconds, maxRingSeconds)
	}
	if len(g.Members) == 0 || len(g.Members) > maxGroupMembers {
		return g, invalidf("a ring group needs 1-%d member extensions", maxGroupMembers)
	}
	seen := make(map[string]bool, len(g.Members))
	members := make([]string, 0, len(g.Members))
	for _, m := range g.Members {
		m = strings.TrimSpace(m)
		if !validNumber(m) {
			return g, invalidf("ring group member %q is not an extension number", m)
		}
		if seen[m] {
			return g, invalidf("extension %s is listed twice", m)
		}
		seen[m] = true
		members = append(members, m)
	}
	g.Members = members
	return g, nil
}

// ListRingGroups returns every ring group with its members in order.
func (s *Service) ListRingGroups(ctx context.Context) ([]RingGroup, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT g.number, g.name, g.strategy, g.ring_seconds, COALESCE(m.extension, '')
		FROM ring_groups g LEFT JOIN ring_group_members m ON m.ring_group = g.number
		ORDER BY g.number, m.position`)
	if err != nil {
		return nil, fmt.Errorf("list ring groups: %w", err)
	}
	defer rows.Close()
	out := []RingGroup{}
	for rows.Next() {
		var g RingGroup
		var member string
		if err := rows.Scan(&g.Number, &g.Name, &g.Strategy, &g.RingSeconds, &member); err != nil {
			return nil, fmt.Errorf("list ring groups: %w", err)
		}
		if n := len(out); n == 0 || out[n-1].Number != g.Number {
			g.Members = []string{}
			out = append(out, g)
		}
		if member != "" {
			last := &out[len(out)-1]
			last.Members = append(last.Members, member)
		}
	}
	return out, rows.Err()
}

// CreateRingGroup adds a ring group; its number must be free among
// extensions and ring groups and its members must be extensions.
func (s *Service) CreateRingGroup(ctx context.Context, g RingGroup) (RingGroup, error) {
	g, err := g.normalize()
	if err != nil {
		return RingGroup{}, err
	}
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	now := time.Now().UnixMilli()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		kind, err := numberKind(ctx, tx, g.Number)
		if err != nil {
			return err
		}
		if kind != "" {
			return fmt.Errorf("%w: %s is already a%s", ErrExists, g.Number, article(kind))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO ring_groups (number, name, strategy, ring_seconds, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)`, g.Number, g.Name, g.Strategy, g.RingSeconds, now, now); err != nil {
			return err
		}
		return insertMembers(ctx, tx, g)
	})
	if err != nil {
		return RingGroup{}, wrapStore("create ring group "+g.Number, err)
	}
	return g, nil
}

// UpdateRingGroup replaces a ring group's settings and members. g.Number
// must be empty or number.
func (s *Service) UpdateRingGroup(ctx context.Context, number string, g RingGroup) (RingGroup, error) {
	if g.Number == "" {
		g.Number = number
	}
	if g.Number != number {
		return RingGroup{}, invalidf("a ring group's number cannot change; delete it and create a new one")
	}
	g, err := g.normalize()
	if err != nil {
		return RingGroup{}, err
	}
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE ring_groups SET name = ?, strategy = ?, ring_seconds = ?, updated_at = ? WHERE number = ?`,
			g.Name, g.Strategy, g.RingSeconds, time.Now().UnixMilli(), number)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: there is no ring group %s", ErrNotFound, number)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM ring_group_members WHERE ring_group = ?`, number); err != nil {
			return err
		}
		return insertMembers(ctx, tx, g)
	})
	if err != nil {
		return RingGroup{}, wrapStore("update ring group "+number, err)
	}
	return g, nil
}

// DeleteRingGroup removes a ring group.
func (s *Service) DeleteRingGroup(ctx context.Context, number string) error {
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	res, err := s.db.ExecContext(ctx, `DELETE FROM ring_groups WHERE number = ?`, number)
	if err != nil {
		return fmt.Errorf("delete ring group %s: %w", number, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: there is no ring group %s", ErrNotFound, number)
	}
	return nil
}

// insertMembers writes g's members, checking each is an extension.
func insertMembers(ctx context.Context, tx *sql.Tx, g RingGroup) error {
	for i, m := range g.Members {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM extensions WHERE number = ?`, m).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return invalidf("ring group member %s is not an extension", m)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO ring_group_members (ring_group, extension, position) VALUES (?, ?, ?)`,
			g.Number, m, i); err != nil {
			return err
		}
	}
	return nil
}
