package voip

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Extension is a phone number in the building's directory.
type Extension struct {
	Number          string `json:"number"`
	Name            string `json:"name"`
	User            string `json:"user,omitempty"`
	Department      string `json:"department,omitempty"`
	ForwardAlways   string `json:"forward_always,omitempty"`
	ForwardBusy     string `json:"forward_busy,omitempty"`
	ForwardNoAnswer string `json:"forward_no_answer,omitempty"`
	NoAnswerSeconds int    `json:"no_answer_seconds,omitempty"`
	DND             bool   `json:"dnd"`
}

// ExtensionInput is an extension as an admin creates or edits it.
type ExtensionInput struct {
	Extension
	Password string `json:"password,omitempty"` // required on create (8-64 chars); on update, empty keeps the old one
}

// extRecord is an extension with its password hashes, as cached.
type extRecord struct {
	Extension
	realm     string
	ha1MD5    string
	ha1SHA256 string
}

// ha1 returns the stored HA1 for a digest algorithm.
func (r *extRecord) ha1(alg string) string {
	if alg == algSHA256 {
		return r.ha1SHA256
	}
	return r.ha1MD5
}

// Bounds of extension fields.
const (
	defaultNoAnswerSeconds = 20
	minRingSeconds         = 5
	maxRingSeconds         = 300
	maxNameRunes           = 64
	minPasswordRunes       = 8
	maxPasswordRunes       = 64
	maxGroupMembers        = 50
)

// validNumber reports whether n is an extension or ring-group number:
// 2-5 digits (6-digit numbers are meeting rooms).
func validNumber(n string) bool {
	if len(n) < 2 || len(n) > 5 {
		return false
	}
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return false
		}
	}
	return true
}

// validTarget reports whether n may be a forwarding target: an extension
// or ring group (2-5 digits) or a meeting room (6 digits).
func validTarget(n string) bool {
	return validNumber(n) || len(n) == 6 && validNumber(n[:5]) && n[5] >= '0' && n[5] <= '9'
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// cleanText trims s and checks its length and that it has no control
// characters; what names the field in the error.
func cleanText(s, what string, required bool) (string, error) {
	s = strings.TrimSpace(s)
	if required && s == "" {
		return "", invalidf("a %s is required", what)
	}
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxNameRunes {
		return "", invalidf("a %s must be at most %d characters", what, maxNameRunes)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", invalidf("a %s must not contain control characters", what)
	}
	return s, nil
}

// normalize checks e (except references to other rows) and fills in
// defaults.
func (e Extension) normalize() (Extension, error) {
	if !validNumber(e.Number) {
		return e, invalidf("an extension number must be 2-5 digits")
	}
	var err error
	if e.Name, err = cleanText(e.Name, "name", true); err != nil {
		return e, err
	}
	if e.Department, err = cleanText(e.Department, "department", false); err != nil {
		return e, err
	}
	e.User = strings.TrimSpace(e.User)
	for _, f := range []struct {
		target *string
		what   string
	}{{&e.ForwardAlways, "forward always"}, {&e.ForwardBusy, "forward on busy"}, {&e.ForwardNoAnswer, "forward on no answer"}} {
		*f.target = strings.TrimSpace(*f.target)
		switch t := *f.target; {
		case t == "":
		case !validTarget(t):
			return e, invalidf("%s must be an extension, ring group or meeting room number", f.what)
		case t == e.Number:
			return e, invalidf("%s must not be the extension itself", f.what)
		}
	}
	if e.NoAnswerSeconds == 0 {
		e.NoAnswerSeconds = defaultNoAnswerSeconds
	}
	if e.NoAnswerSeconds < minRingSeconds || e.NoAnswerSeconds > maxRingSeconds {
		return e, invalidf("no-answer seconds must be %d-%d", minRingSeconds, maxRingSeconds)
	}
	return e, nil
}

func checkPassword(p string) error {
	if n := utf8.RuneCountInString(p); !utf8.ValidString(p) || n < minPasswordRunes || n > maxPasswordRunes {
		return invalidf("a SIP password must be %d-%d characters", minPasswordRunes, maxPasswordRunes)
	}
	if strings.IndexFunc(p, unicode.IsControl) >= 0 {
		return invalidf("a SIP password must not contain control characters")
	}
	return nil
}

// checkRefs checks, inside tx, what e refers to: its console user (and
// returns the user's name as stored) and its forwarding targets.
func checkRefs(ctx context.Context, tx *sql.Tx, e *Extension) error {
	if e.User != "" {
		var name string
		err := tx.QueryRowContext(ctx, `SELECT username FROM users WHERE username = ?`, e.User).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			return invalidf("there is no console user %q", e.User)
		}
		if err != nil {
			return err
		}
		e.User = name
	}
	for _, t := range []string{e.ForwardAlways, e.ForwardBusy, e.ForwardNoAnswer} {
		if !validNumber(t) {
			continue // empty, or a meeting room
		}
		kind, err := numberKind(ctx, tx, t)
		if err != nil {
			return err
		}
		if kind == "" {
			return invalidf("cannot forward to %s: there is no such extension or ring group", t)
		}
	}
	return nil
}

// numberKind returns "extension", "ring group" or "" for a number.
func numberKind(ctx context.Context, tx *sql.Tx, n string) (string, error) {
	var kind string
	err := tx.QueryRowContext(ctx, `SELECT 'extension' FROM extensions WHERE number = ?
		UNION ALL SELECT 'ring group' FROM ring_groups WHERE number = ?`, n, n).Scan(&kind)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return kind, err
}

const extColumns = `number, name, COALESCE(user, ''), department, forward_always, forward_busy, forward_no_answer, no_answer_seconds, dnd, realm, ha1_md5, ha1_sha256`

func scanExt(row interface{ Scan(...any) error }) (*extRecord, error) {
	var r extRecord
	err := row.Scan(&r.Number, &r.Name, &r.User, &r.Department, &r.ForwardAlways, &r.ForwardBusy, &r.ForwardNoAnswer,
		&r.NoAnswerSeconds, &r.DND, &r.realm, &r.ha1MD5, &r.ha1SHA256)
	return &r, err
}

// loadExtensions fills the cache from the store.
func (s *Service) loadExtensions(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT `+extColumns+` FROM extensions`)
	if err != nil {
		return fmt.Errorf("load extensions: %w", err)
	}
	defer rows.Close()
	exts := make(map[string]*extRecord)
	otherRealm := 0
	for rows.Next() {
		r, err := scanExt(rows)
		if err != nil {
			return fmt.Errorf("load extensions: %w", err)
		}
		if r.realm != s.cfg.Domain {
			otherRealm++
		}
		exts[r.Number] = r
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load extensions: %w", err)
	}
	if otherRealm > 0 {
		s.log.Warn("some extensions have SIP passwords set for another sip.domain; they cannot register until their passwords are set again",
			"extensions", otherRealm, "domain", s.cfg.Domain)
	}
	s.mu.Lock()
	s.exts = exts
	s.mu.Unlock()
	return nil
}

// ListExtensions returns every extension, by number.
func (s *Service) ListExtensions(ctx context.Context) ([]Extension, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+extColumns+` FROM extensions ORDER BY number`)
	if err != nil {
		return nil, fmt.Errorf("list extensions: %w", err)
	}
	defer rows.Close()
	out := []Extension{}
	for rows.Next() {
		r, err := scanExt(rows)
		if err != nil {
			return nil, fmt.Errorf("list extensions: %w", err)
		}
		out = append(out, r.Extension)
	}
	return out, rows.Err()
}

// CreateExtension adds an extension. Its number must be free among
// extensions and ring groups, and in.Password is required.
func (s *Service) CreateExtension(ctx context.Context, in ExtensionInput) (Extension, error) {
	e, err := in.Extension.normalize()
	if err != nil {
		return Extension{}, err
	}
	if err := checkPassword(in.Password); err != nil {
		return Extension{}, err
	}
	rec := s.hashed(e, in.Password)
	now := time.Now().UnixMilli()
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		kind, err := numberKind(ctx, tx, e.Number)
		if err != nil {
			return err
		}
		if kind != "" {
			return fmt.Errorf("%w: %s is already a%s", ErrExists, e.Number, article(kind))
		}
		if err := checkRefs(ctx, tx, &rec.Extension); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO extensions (number, name, user, department, realm, ha1_md5, ha1_sha256,
			forward_always, forward_busy, forward_no_answer, no_answer_seconds, dnd, created_at, updated_at)
			VALUES (?, ?, NULLIF(?, ''), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			rec.Number, rec.Name, rec.User, rec.Department, rec.realm, rec.ha1MD5, rec.ha1SHA256,
			rec.ForwardAlways, rec.ForwardBusy, rec.ForwardNoAnswer, rec.NoAnswerSeconds, rec.DND, now, now)
		return err
	})
	if err != nil {
		return Extension{}, wrapStore("create extension "+e.Number, err)
	}
	s.mu.Lock()
	s.exts[rec.Number] = rec
	s.notifyLocked(rec.Number, true)
	s.mu.Unlock()
	return rec.Extension, nil
}

// UpdateExtension replaces an extension's settings. in.Number must be
// empty or number (numbers cannot change); an empty in.Password keeps the
// old password.
func (s *Service) UpdateExtension(ctx context.Context, number string, in ExtensionInput) (Extension, error) {
	if in.Number == "" {
		in.Number = number
	}
	if in.Number != number {
		return Extension{}, invalidf("an extension's number cannot change; delete it and create a new one")
	}
	e, err := in.Extension.normalize()
	if err != nil {
		return Extension{}, err
	}
	if in.Password != "" {
		if err := checkPassword(in.Password); err != nil {
			return Extension{}, err
		}
	}
	var rec *extRecord
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := scanExt(tx.QueryRowContext(ctx, `SELECT `+extColumns+` FROM extensions WHERE number = ?`, number))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: there is no extension %s", ErrNotFound, number)
		}
		if err != nil {
			return err
		}
		rec = &extRecord{Extension: e, realm: old.realm, ha1MD5: old.ha1MD5, ha1SHA256: old.ha1SHA256}
		if in.Password != "" {
			rec = s.hashed(e, in.Password)
		}
		if err := checkRefs(ctx, tx, &rec.Extension); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE extensions SET name = ?, user = NULLIF(?, ''), department = ?, realm = ?,
			ha1_md5 = ?, ha1_sha256 = ?, forward_always = ?, forward_busy = ?, forward_no_answer = ?,
			no_answer_seconds = ?, dnd = ?, updated_at = ? WHERE number = ?`,
			rec.Name, rec.User, rec.Department, rec.realm, rec.ha1MD5, rec.ha1SHA256,
			rec.ForwardAlways, rec.ForwardBusy, rec.ForwardNoAnswer, rec.NoAnswerSeconds, rec.DND,
			time.Now().UnixMilli(), number)
		return err
	})
	if err != nil {
		return Extension{}, wrapStore("update extension "+number, err)
	}
	s.mu.Lock()
	s.exts[number] = rec
	s.notifyLocked(number, true)
	s.mu.Unlock()
	return rec.Extension, nil
}

// DeleteExtension removes an extension, its registrations and its ring
// group memberships.
func (s *Service) DeleteExtension(ctx context.Context, number string) error {
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	res, err := s.db.ExecContext(ctx, `DELETE FROM extensions WHERE number = ?`, number)
	if err != nil {
		return wrapStore("delete extension "+number, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: there is no extension %s", ErrNotFound, number)
	}
	s.mu.Lock()
	rec := s.exts[number]
	delete(s.exts, number)
	delete(s.aors, number)
	delete(s.online, number)
	if rec != nil {
		s.publishLocked(KindPhoneRemoved, Phone{Extension: rec.Extension, Bindings: []Binding{}})
	}
	s.mu.Unlock()
	return nil
}

// hashed returns e with the HA1 values of password for the current realm.
func (s *Service) hashed(e Extension, password string) *extRecord {
	realm := s.cfg.Domain
	return &extRecord{
		Extension: e,
		realm:     realm,
		ha1MD5:    computeHA1(algMD5, e.Number, realm, password),
		ha1SHA256: computeHA1(algSHA256, e.Number, realm, password),
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

// wrapStore passes the service's own errors through and gives store
// errors context.
func wrapStore(what string, err error) error {
	if errors.Is(err, ErrInvalid) || errors.Is(err, ErrExists) || errors.Is(err, ErrNotFound) {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

func article(kind string) string {
	if strings.HasPrefix(kind, "e") {
		return "n " + kind
	}
	return " " + kind
}

// sortedNumbers returns the keys of m in order.
func sortedNumbers[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ExtensionName is an extension's name, or "" when there is no such
// extension (the meeting bridge shows a phone by it).
func (s *Service) ExtensionName(number string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.exts[number]; r != nil {
		return r.Name
	}
	return ""
}

// ExtensionOfUser is the extension linked to console user (the lowest
// number when there are several) and its name; "" when none is. A
// call the user makes from the browser shows as it.
func (s *Service) ExtensionOfUser(user string) (number, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, r := range s.exts {
		if r.User != "" && strings.EqualFold(r.User, user) && (number == "" || n < number) {
			number, name = n, r.Name
		}
	}
	return number, name
}
