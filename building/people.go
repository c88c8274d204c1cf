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
	return result(c, s.change(ctx, "create cardholder "+c.ID, func(tx *sql.Tx) error {
		if err := mustNotExist(ctx, tx, tHolders, c.ID, "cardholder"); err != nil {
			return err
		}
		_, err := putCardholder(ctx, tx, &c, hash, ms(s.now()))
		return err
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
		ok, err := exists(ctx, tx, tHolders, id)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: there is no cardholder %s", ErrNotFound, id)
		}
		_, err = putCardholder(ctx, tx, &c, hash, ms(s.now()))
		return err
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

// MaxImport is the most cardholders one import may carry.
const MaxImport = 10000

// ImportCardholders creates or updates many cardholders at once, in one
// transaction and one reload of the in-memory model: a site's first
// load, or a sync from the personnel system. Every input is checked
// before anything is written; one bad input refuses the whole import,
// naming its position. It returns how many were created and updated.
func (s *Service) ImportCardholders(ctx context.Context, in []CardholderInput) (created, updated int, err error) {
	if len(in) == 0 || len(in) > MaxImport {
		return 0, 0, invalidf("an import holds 1-%d cardholders", MaxImport)
	}
	type row struct {
		c    Cardholder
		hash []byte
	}
	rows := make([]row, len(in))
	seen := make(map[string]int, len(in))
	for i, x := range in {
		if x.ID == "" {
			x.ID = newID("ch-")
		}
		c, err := x.Cardholder.normalize()
		if err != nil {
			return 0, 0, fmt.Errorf("cardholder %d (%s): %w", i+1, x.ID, err)
		}
		if j, dup := seen[c.ID]; dup {
			return 0, 0, invalidf("cardholders %d and %d have the same id %s", j+1, i+1, c.ID)
		}
		seen[c.ID] = i
		hash, err := pinHash(x)
		if err != nil {
			return 0, 0, fmt.Errorf("cardholder %d (%s): %w", i+1, c.ID, err)
		}
		rows[i] = row{c, hash}
	}
	err = s.change(ctx, fmt.Sprintf("import %d cardholders", len(in)), func(tx *sql.Tx) error {
		created, updated = 0, 0
		now := ms(s.now())
		for i, r := range rows {
			isNew, err := putCardholder(ctx, tx, &r.c, r.hash, now)
			if err != nil {
				return fmt.Errorf("cardholder %d (%s): %w", i+1, r.c.ID, err)
			}
			if isNew {
				created++
			} else {
				updated++
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return created, updated, nil
}

// putCardholder writes c (with PIN hash; nil keeps a stored one) as a new
// or an updated row, and its cards and access levels. It reports whether
// the row is new.
func putCardholder(ctx context.Context, tx *sql.Tx, c *Cardholder, hash []byte, now int64) (bool, error) {
	var old string
	err := tx.QueryRowContext(ctx, `SELECT pin_hash FROM building_cardholders WHERE id = ?`, c.ID).Scan(&old)
	isNew := errors.Is(err, sql.ErrNoRows)
	if err != nil && !isNew {
		return false, err
	}
	if hash == nil {
		hash = []byte(old)
	}
	c.HasPIN = len(hash) > 0
	if isNew {
		_, err = tx.ExecContext(ctx, `INSERT INTO building_cardholders (id, name, department, pin_hash, valid_from, valid_until,
			status, responder, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.Name, c.Department, string(hash), nullMS(c.ValidFrom), nullMS(c.ValidUntil), c.Status, c.Responder, now, now)
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE building_cardholders SET name = ?, department = ?, pin_hash = ?, valid_from = ?,
			valid_until = ?, status = ?, responder = ?, updated_at = ? WHERE id = ?`,
			c.Name, c.Department, string(hash), nullMS(c.ValidFrom), nullMS(c.ValidUntil), c.Status, c.Responder, now, c.ID)
	}
	if err != nil {
		return false, err
	}
	return isNew, writeHolderLinks(ctx, tx, *c)
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
