// Package auth holds civicd's console accounts: users and their roles,
// bcrypt password hashes, server-side sessions and the limits on failed
// logins.
//
// Password hashes never leave this package, and session tokens are stored
// only as SHA-256 hashes. auth knows nothing of HTTP or of the audit log:
// its callers (webui, the CLI) audit what they do with it. cmd/civicd and
// the console import it; modules that need to know who a user is take a
// small interface of their own.
package auth

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Role is what a console user may do.
type Role string

// The console roles.
const (
	RoleAdmin      Role = "admin"
	RoleOfficial   Role = "official"
	RoleFacilities Role = "facilities"
)

// Roles lists every role.
func Roles() []Role { return []Role{RoleAdmin, RoleOfficial, RoleFacilities} }

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles() {
		if string(r) == s {
			return r, nil
		}
	}
	return "", invalidf("role must be one of admin, official, facilities")
}

// User is a console account. It never carries the password hash.
type User struct {
	ID          int64     `json:"id"`
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name"`
	Role        Role      `json:"role"`
	Disabled    bool      `json:"disabled"`
	Language    string    `json:"language"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Options tune the Service. Zero values get the defaults noted.
type Options struct {
	SessionTTL           time.Duration // default 12h
	MaxFailuresPerUser   int           // default 5
	MaxFailuresPerSource int           // default 20
	FailureWindow        time.Duration // default 15m
	Lockout              time.Duration // default 15m
	BcryptCost           int           // default 12; tests use bcrypt.MinCost
	Now                  func() time.Time
}

// Service manages users and sessions in the store.
type Service struct {
	db       *sql.DB
	opts     Options
	now      func() time.Time
	users    *limiter
	sources  *limiter
	dummyPwd []byte // hash checked for unknown users, so timing reveals nothing
}

// New returns the account service on db.
func New(db *sql.DB, opts Options) *Service {
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	if opts.MaxFailuresPerUser <= 0 {
		opts.MaxFailuresPerUser = 5
	}
	if opts.MaxFailuresPerSource <= 0 {
		opts.MaxFailuresPerSource = 20
	}
	if opts.FailureWindow <= 0 {
		opts.FailureWindow = 15 * time.Minute
	}
	if opts.Lockout <= 0 {
		opts.Lockout = 15 * time.Minute
	}
	if opts.BcryptCost == 0 {
		opts.BcryptCost = 12
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	dummy, _ := bcrypt.GenerateFromPassword([]byte(rand.Text()), opts.BcryptCost)
	return &Service{
		db:       db,
		opts:     opts,
		now:      opts.Now,
		users:    newLimiter(opts.FailureWindow, opts.Lockout),
		sources:  newLimiter(opts.FailureWindow, opts.Lockout),
		dummyPwd: dummy,
	}
}

var usernameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{2,32}$`)

func validUsername(name string) error {
	if !usernameRE.MatchString(name) {
		return invalidf("username must be 2-32 letters, digits, '.', '_' or '-'")
	}
	return nil
}

func validPassword(username, pw string) error {
	switch {
	case len(pw) < 8:
		return invalidf("password must be at least 8 characters")
	case len(pw) > 72:
		return invalidf("password must be at most 72 bytes (the limit of bcrypt)")
	case strings.EqualFold(pw, username):
		return invalidf("password must not be the username")
	}
	return nil
}

func validLanguage(lang string) error {
	switch lang {
	case "", "en", "zh-CN":
		return nil
	}
	return invalidf("language must be en or zh-CN")
}

func validDisplayName(name string) error {
	if len(name) > 100 {
		return invalidf("display name must be at most 100 bytes")
	}
	return nil
}

func (s *Service) hash(pw string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), s.opts.BcryptCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// NewUser describes a user to create.
type NewUser struct {
	Username    string
	DisplayName string
	Role        Role
	Password    string
	Language    string
}

// CreateUser adds a user.
func (s *Service) CreateUser(ctx context.Context, nu NewUser) (User, error) {
	if err := validUsername(nu.Username); err != nil {
		return User{}, err
	}
	if _, err := ParseRole(string(nu.Role)); err != nil {
		return User{}, err
	}
	if err := validPassword(nu.Username, nu.Password); err != nil {
		return User{}, err
	}
	if err := validLanguage(nu.Language); err != nil {
		return User{}, err
	}
	if err := validDisplayName(nu.DisplayName); err != nil {
		return User{}, err
	}
	h, err := s.hash(nu.Password)
	if err != nil {
		return User{}, err
	}
	now := s.now().UnixMilli()
	res, err := s.db.ExecContext(ctx, `INSERT INTO users (username, display_name, role, password_hash, language, created_at, updated_at, password_changed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, nu.Username, nu.DisplayName, string(nu.Role), h, nu.Language, now, now, now)
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE constraint failed") {
			return User{}, ErrUsernameTaken
		}
		return User{}, fmt.Errorf("create user %s: %w", nu.Username, err)
	}
	id, _ := res.LastInsertId()
	return s.GetUser(ctx, id)
}

const userColumns = `id, username, display_name, role, disabled, language, created_at, updated_at`

type rowScanner interface{ Scan(...any) error }

func scanUser(r rowScanner) (User, error) {
	var u User
	var role string
	var created, updated int64
	if err := r.Scan(&u.ID, &u.Username, &u.DisplayName, &role, &u.Disabled, &u.Language, &created, &updated); err != nil {
		return User{}, err
	}
	u.Role = Role(role)
	u.CreatedAt, u.UpdatedAt = time.UnixMilli(created), time.UnixMilli(updated)
	return u, nil
}

// GetUser returns a user by id.
func (s *Service) GetUser(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("get user %d: %w", id, err)
	}
	return u, nil
}

// UserByName returns a user by username (case-insensitive).
func (s *Service) UserByName(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE username = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("get user %s: %w", name, err)
	}
	return u, nil
}

// ListUsers returns every user, ordered by username.
func (s *Service) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	users := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		users = append(users, u)
	}
	return users, rows.Err()
}

// UserUpdate lists the fields to change; nil fields stay as they are.
type UserUpdate struct {
	DisplayName *string
	Role        *Role
	Disabled    *bool
	Language    *string
}

// UpdateUser changes a user. Disabling a user ends their sessions; the
// last enabled admin cannot be disabled or demoted.
func (s *Service) UpdateUser(ctx context.Context, id int64, upd UserUpdate) (User, error) {
	if upd.Role != nil {
		if _, err := ParseRole(string(*upd.Role)); err != nil {
			return User{}, err
		}
	}
	if upd.Language != nil {
		if err := validLanguage(*upd.Language); err != nil {
			return User{}, err
		}
	}
	if upd.DisplayName != nil {
		if err := validDisplayName(*upd.DisplayName); err != nil {
			return User{}, err
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return User{}, fmt.Errorf("update user %d: %w", id, err)
	}
	defer tx.Rollback()
	u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("update user %d: %w", id, err)
	}
	next := u
	if upd.DisplayName != nil {
		next.DisplayName = *upd.DisplayName
	}
	if upd.Role != nil {
		next.Role = *upd.Role
	}
	if upd.Disabled != nil {
		next.Disabled = *upd.Disabled
	}
	if upd.Language != nil {
		next.Language = *upd.Language
	}
	losesAdmin := u.Role == RoleAdmin && !u.Disabled && (next.Role != RoleAdmin || next.Disabled)
	if losesAdmin {
		if err := lastAdminCheck(ctx, tx, id); err != nil {
			return User{}, err
		}
	}
	_, err = tx.ExecContext(ctx, `UPDATE users SET display_name = ?, role = ?, disabled = ?, language = ?, updated_at = ? WHERE id = ?`,
		next.DisplayName, string(next.Role), next.Disabled, next.Language, s.now().UnixMilli(), id)
	if err != nil {
		return User{}, fmt.Errorf("update user %d: %w", id, err)
	}
	if next.Disabled && !u.Disabled {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, id); err != nil {
			return User{}, fmt.Errorf("update user %d: end sessions: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return User{}, fmt.Errorf("update user %d: %w", id, err)
	}
	return s.GetUser(ctx, id)
}

// lastAdminCheck fails with ErrLastAdmin when no enabled admin other than
// id would remain.
func lastAdminCheck(ctx context.Context, tx *sql.Tx, id int64) error {
	var others int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0 AND id != ?`, id).Scan(&others)
	if err != nil {
		return fmt.Errorf("count admins: %w", err)
	}
	if others == 0 {
		return ErrLastAdmin
	}
	return nil
}

// DeleteUser removes a user and, by cascade, their sessions.
func (s *Service) DeleteUser(ctx context.Context, id int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete user %d: %w", id, err)
	}
	defer tx.Rollback()
	u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("delete user %d: %w", id, err)
	}
	if u.Role == RoleAdmin && !u.Disabled {
		if err := lastAdminCheck(ctx, tx, id); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete user %d: %w", id, err)
	}
	return tx.Commit()
}

// EnsureAdmin creates the user "admin" when the store has no users: with
// password, or with a random one returned in generated when password is
// empty. It does nothing once any user exists.
func (s *Service) EnsureAdmin(ctx context.Context, password string) (created bool, generated string, err error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return false, "", fmt.Errorf("count users: %w", err)
	}
	if n > 0 {
		return false, "", nil
	}
	if password == "" {
		generated = rand.Text()[:20]
		password = generated
	}
	if _, err := s.CreateUser(ctx, NewUser{Username: "admin", DisplayName: "Administrator", Role: RoleAdmin, Password: password}); err != nil {
		if errors.Is(err, ErrInvalid) {
			return false, "", fmt.Errorf("CIVIC_ADMIN_PASSWORD: %w", err)
		}
		return false, "", err
	}
	return true, generated, nil
}
