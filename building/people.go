package building

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/crypto/bcrypt"
)

// pinCost is the bcrypt cost of PINs. A PIN is checked on the access
// decision's hot path, and 4-8 digits cannot be protected against an
// offline search by any hash cost, so it is low; the store itself is only
// readable by civicd (0600).
const pinCost = 6

// Cardholders returns every cardholder, by id.
func (s *Service) Cardholders() []Cardholder {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Cardholder, 0, len(s.m.holders))
	for _, id := range sortedKeys(s.m.holders) {
		out = append(out, s.m.holders[id].public())
	}
	return out
}

// Cardholder returns one cardholder.
func (s *Service) Cardholder(id string) (Cardholder, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.m.holders[id]
	if h == nil {
		return Cardholder{}, fmt.Errorf("%w: there is no cardholder %s", ErrNotFound, id)
	}
	return h.public(), nil
}

// public returns a copy of the cardholder that shares nothing with the
// cache.
func (h *holderConf) public() Cardholder {
	c := h.Cardholder
	c.Cards, c.AccessLevels = slices.Clone(c.Cards), slices.Clone(c.AccessLevels)
	return c
}

// CreateCardholder adds a cardholder with their cards, PIN and access
// levels; an empty ID gets a generated one.
func (s *Service) CreateCardholder(ctx context.Context, in CardholderInput) (Cardholder, error) {
	if in.ID == "" {
		in.ID = newID("ch-")
	}
	c, err := in.Cardholder.normalize()
	if err != nil {
		return Cardholder{}, err
	}
	hash, err := pinHash(in)
	if err != nil {
		return Cardholder{}, err
	}
	c.HasPIN = len(hash) > 0
	now := ms(s.now())
	return result(c, s.change(ctx, "create cardholder "+c.ID, func(tx *sql.Tx) error {
		if err := mustNotExist(ctx, tx, tHolders, c.ID, "cardholder"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO building_cardholders (id, name, department, pin_hash, valid_from, valid_until,
			status, responder, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.Name, c.Department, string(hash), nullMS(c.ValidFrom), nullMS(c.ValidUntil), c.Status, c.Responder, now, now)
		if err != nil {
			return err
		}
		return writeHolderLinks(ctx, tx, c)
	}))
}

// UpdateCardholder replaces a cardholder's details, cards and access
// levels. An empty in.PIN keeps the PIN, unless in.ClearPIN removes it.
func (s *Service) UpdateCardholder(ctx context.Context, id string, in CardholderInput) (Cardholder, error) {
	if err := sameID(&in.ID, id, "cardholder"); err != nil {
		return Cardholder{}, err
	}
	c, err := in.Cardholder.normalize()
	if err != nil {
		return Cardholder{}, err
	}
	hash, err := pinHash(in)
	if err != nil {
		return Cardholder{}, err
	}
	err = s.change(ctx, "update cardholder "+id, func(tx *sql.Tx) error {
		var old string
		err := tx.QueryRowContext(ctx, `SELECT pin_hash FROM building_cardholders WHERE id = ?`, id).Scan(&old)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: there is no cardholder %s", ErrNotFound, id)
		}
		if err != nil {
			return err
		}
		if hash == nil {
			hash = []byte(old)
		}
		c.HasPIN = len(hash) > 0
		_, err = tx.ExecContext(ctx, `UPDATE building_cardholders SET name = ?, department = ?, pin_hash = ?, valid_from = ?,
			valid_until = ?, status = ?, responder = ?, updated_at = ? WHERE id = ?`,
			c.Name, c.Department, string(hash), nullMS(c.ValidFrom), nullMS(c.ValidUntil), c.Status, c.Responder, ms(s.now()), id)
		if err != nil {
			return err
		}
		return writeHolderLinks(ctx, tx, c)
	})
	return result(c, err)
}

// DeleteCardholder removes a cardholder and their cards. Their access
// events stay.
func (s *Service) DeleteCardholder(ctx context.Context, id string) error {
	return s.change(ctx, "delete cardholder "+id, func(tx *sql.Tx) error {
		return deleteRow(ctx, tx, tHolders, id, "cardholder")
	})
}

// pinHash returns the hash to store for in's PIN: nil to keep the old
// one, empty to have none.
func pinHash(in CardholderInput) ([]byte, error) {
	switch {
	case in.ClearPIN:
		return []byte{}, nil
	case in.PIN == "":
		return nil, nil
	case !validPIN(in.PIN):
		return nil, invalidf("a PIN must be 4-8 digits")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(in.PIN), pinCost)
	if err != nil {
		return nil, fmt.Errorf("hash PIN: %w", err)
	}
	return h, nil
}

// writeHolderLinks replaces a cardholder's cards and access levels,
// refusing a card that belongs to someone else.
func writeHolderLinks(ctx context.Context, tx *sql.Tx, c Cardholder) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM building_cards WHERE cardholder = ?`, c.ID); err != nil {
		return err
	}
	for _, card := range c.Cards {
		var other string
		err := tx.QueryRowContext(ctx, `SELECT cardholder FROM building_cards WHERE number = ?`, card).Scan(&other)
		if err == nil {
			return fmt.Errorf("%w: card %s already belongs to cardholder %s", ErrExists, card, other)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO building_cards (number, cardholder) VALUES (?, ?)`, card, c.ID); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM building_cardholder_levels WHERE cardholder = ?`, c.ID); err != nil {
		return err
	}
	for _, l := range c.AccessLevels {
		if err := mustRefer(ctx, tx, tLevels, l, "access level"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO building_cardholder_levels (cardholder, level) VALUES (?, ?)`, c.ID, l); err != nil {
			return err
		}
	}
	return nil
}
