package auth

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// User is a console account as the rest of civicd sees it. It never
// carries the password hash, which does not leave this package.
type User struct {
	ID          int64     `json:"id"`
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name"`
	Role        Role      `json:"role"`
	Disabled    bool      `json:"disabled"`
	Language    string    `json:"language"` // "" (follow the browser), "en", "zh-CN", ...
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// NewUser is what CreateUser needs.
type NewUser struct {
	Username, DisplayName string
	Role                  Role
	Password, Language    string
}

// UserUpdate changes the non-nil fields of a user. Passwords change
// through SetPassword and ChangePassword only.
type UserUpdate struct {
	DisplayName *string
	Role        *Role
	Disabled    *bool
	Language    *string
}

// Input limits.
const (
	minUsername    = 2
	maxUsername    = 32
	minPassword    = 8
	maxPassword    = 72 // bcrypt reads no further
	maxDisplayName = 64 // characters
	maxLanguage    = 35 // the longest common BCP 47 tags
)

// validUsername checks a new username: 2 to 32 ASCII letters, digits, '.',
// '_' or '-'. Usernames match case-insensitively, so "Alice" and "alice"
// are the same user.
func validUsername(name string) error {
	ok := len(name) >= minUsername && len(name) <= maxUsername
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
	}
	if !ok {
		return invalidf("username must be %d-%d letters, digits, . _ -", minUsername, maxUsername)
	}
	return nil
}

// validPassword checks the password policy. The error never contains the
// password.
func validPassword(username, password string) error {
	if len(password) < minPassword || len(password) > maxPassword {
		return invalidf("password must be %d to %d bytes long (bcrypt uses at most %d bytes)", minPassword, maxPassword, maxPassword)
	}
	if strings.EqualFold(password, username) {
		return invalidf("password must not be the same as the username")
	}
	return nil
}

// cleanDisplayName trims a display name and checks its length and
// characters (any script, no control characters).
func cleanDisplayName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxDisplayName {
		return "", invalidf("display name must be at most %d characters", maxDisplayName)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", invalidf("display name must not contain control characters")
		}
	}
	return s, nil
}

// validLanguage checks a language tag: empty, or letters and digits in
// hyphen-separated parts that start with a 2-3 letter language ("en",
// "zh-CN", "zh-Hans-CN").
func validLanguage(tag string) error {
	if tag == "" {
		return nil
	}
	bad := invalidf(`language must be a tag such as "en" or "zh-CN", or empty`)
	if len(tag) > maxLanguage {
		return bad
	}
	for i, part := range strings.Split(tag, "-") {
		if len(part) < 1 || len(part) > 8 || i == 0 && (len(part) < 2 || len(part) > 3) {
			return bad
		}
		for j := 0; j < len(part); j++ {
			c := part[j]
			letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
			if !letter && (i == 0 || c < '0' || c > '9') {
				return bad
			}
		}
	}
	return nil
}

// hash makes the bcrypt hash of a password that passed validPassword.
func (s *Service) hash(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), s.opts.BcryptCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err) // bcrypt's errors never quote the password
	}
	return string(h), nil
}

// userColumns is what scanUser reads, in order.
const userColumns = `id, username, display_name, role, disabled, language, created_at, updated_at`

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

func scanUser(r rowScanner) (User, error) {
	var u User
	var created, updated int64
	err := r.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Role, &u.Disabled, &u.Language, &created, &updated)
	u.CreatedAt, u.UpdatedAt = time.UnixMilli(created), time.UnixMilli(updated)
	return u, err
}

// querier is a *sql.DB or *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getUser(ctx context.Context, q querier, id int64) (User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("get user %d: %w", id, err)
	}
	return u, nil
}

// GetUser returns the user with id, or ErrNotFound.
func (s *Service) GetUser(ctx context.Context, id int64) (User, error) {
	return getUser(ctx, s.db, id)
}

// UserByName returns the user called name (case-insensitively), or
// ErrNotFound.
func (s *Service) UserByName(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE username = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("get user %q: %w", name, err)
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
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// CreateUser adds a user. It fails with ErrInvalid (saying what is wrong)
// or ErrUsernameTaken.
func (s *Service) CreateUser(ctx context.Context, nu NewUser) (User, error) {
	if err := validUsername(nu.Username); err != nil {
		return User{}, err
	}
	if !nu.Role.Valid() {
		return User{}, invalidf("role must be one of admin, official, facilities")
	}
	display, err := cleanDisplayName(nu.DisplayName)
	if err != nil {
		return User{}, err
	}
	if err := validLanguage(nu.Language); err != nil {
		return User{}, err
	}
	if err := validPassword(nu.Username, nu.Password); err != nil {
		return User{}, err
	}
	// Hash before taking the write lock: bcrypt is the slow part.
	hash, err := s.hash(nu.Password)
	if err != nil {
		return User{}, err
	}
	var u User
	err = s.inTx(ctx, "create user "+nu.Username, func(tx *sql.Tx) error {
		var err error
		u, err = insertUser(ctx, tx, nu.Username, display, nu.Role, hash, nu.Language, s.now())
		return err
	})
	return u, err
}

// insertUser adds a validated user inside tx.
func insertUser(ctx context.Context, tx *sql.Tx, username, display string, role Role, hash, language string, now time.Time) (User, error) {
	var exists int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE username = ?`, username).Scan(&exists)
	if err != nil {
		return User{}, fmt.Errorf("create user %s: %w", username, err)
	}
	if exists > 0 {
		return User{}, fmt.Errorf("create user %s: %w", username, ErrUsernameTaken)
	}
	ms := now.UnixMilli()
	res, err := tx.ExecContext(ctx, `INSERT INTO users (username, display_name, role, password_hash, language, created_at, updated_at, password_changed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, username, display, string(role), hash, language, ms, ms, ms)
	if err != nil {
		return User{}, fmt.Errorf("create user %s: %w", username, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return User{}, fmt.Errorf("create user %s: %w", username, err)
	}
	return User{ID: id, Username: username, DisplayName: display, Role: role, Language: language,
		CreatedAt: time.UnixMilli(ms), UpdatedAt: time.UnixMilli(ms)}, nil
}

// otherEnabledAdmins counts the enabled admins other than id.
func otherEnabledAdmins(ctx context.Context, tx *sql.Tx, id int64) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0 AND id != ?`, id).Scan(&n)
	return n, err
}

// UpdateUser changes the non-nil fields of u. Disabling a user ends their
// sessions. Disabling or demoting the last enabled admin fails with
// ErrLastAdmin.
func (s *Service) UpdateUser(ctx context.Context, id int64, upd UserUpdate) (User, error) {
	var display string
	if upd.DisplayName != nil {
		var err error
		if display, err = cleanDisplayName(*upd.DisplayName); err != nil {
			return User{}, err
		}
	}
	if upd.Role != nil && !upd.Role.Valid() {
		return User{}, invalidf("role must be one of admin, official, facilities")
	}
	if upd.Language != nil {
		if err := validLanguage(*upd.Language); err != nil {
			return User{}, err
		}
	}
	var u User
	err := s.inTx(ctx, fmt.Sprintf("update user %d", id), func(tx *sql.Tx) error {
		var err error
		if u, err = getUser(ctx, tx, id); err != nil {
			return err
		}
		wasActiveAdmin := u.Role == RoleAdmin && !u.Disabled
		if upd.DisplayName != nil {
			u.DisplayName = display
		}
		if upd.Role != nil {
			u.Role = *upd.Role
		}
		if upd.Language != nil {
			u.Language = *upd.Language
		}
		disabling := upd.Disabled != nil && *upd.Disabled && !u.Disabled
		if upd.Disabled != nil {
			u.Disabled = *upd.Disabled
		}
		if wasActiveAdmin && (u.Role != RoleAdmin || u.Disabled) {
			n, err := otherEnabledAdmins(ctx, tx, id)
			if err != nil {
				return fmt.Errorf("update user %d: %w", id, err)
			}
			if n == 0 {
				return fmt.Errorf("update user %s: %w", u.Username, ErrLastAdmin)
			}
		}
		now := s.now().UnixMilli()
		u.UpdatedAt = time.UnixMilli(now)
		if _, err := tx.ExecContext(ctx, `UPDATE users SET display_name = ?, role = ?, disabled = ?, language = ?, updated_at = ? WHERE id = ?`,
			u.DisplayName, string(u.Role), u.Disabled, u.Language, now, id); err != nil {
			return fmt.Errorf("update user %s: %w", u.Username, err)
		}
		if disabling {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, id); err != nil {
				return fmt.Errorf("update user %s: end sessions: %w", u.Username, err)
			}
		}
		return nil
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// DeleteUser removes a user and their sessions. Deleting the last enabled
// admin fails with ErrLastAdmin.
func (s *Service) DeleteUser(ctx context.Context, id int64) error {
	return s.inTx(ctx, fmt.Sprintf("delete user %d", id), func(tx *sql.Tx) error {
		u, err := getUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if u.Role == RoleAdmin && !u.Disabled {
			n, err := otherEnabledAdmins(ctx, tx, id)
			if err != nil {
				return fmt.Errorf("delete user %s: %w", u.Username, err)
			}
			if n == 0 {
				return fmt.Errorf("delete user %s: %w", u.Username, ErrLastAdmin)
			}
		}
		// Sessions go with the user (ON DELETE CASCADE).
		if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete user %s: %w", u.Username, err)
		}
		return nil
	})
}

// SetPassword sets a user's password (an admin's reset) and ends all of
// the user's sessions.
func (s *Service) SetPassword(ctx context.Context, id int64, password string) error {
	u, err := s.GetUser(ctx, id)
	if err != nil {
		return err
	}
	return s.setPassword(ctx, u, "", password, "")
}

// ChangePassword is a user changing their own password: it checks the
// current one (ErrBadCredentials if wrong), sets the next one and ends
// the user's other sessions, keeping the one of keepToken.
func (s *Service) ChangePassword(ctx context.Context, id int64, current, next, keepToken string) error {
	var hash string
	err := s.db.QueryRowContext(ctx, `SELECT password_hash FROM users WHERE id = ?`, id).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("user %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("change password of user %d: %w", id, err)
	}
	if len(current) > maxPassword || bcrypt.CompareHashAndPassword([]byte(hash), []byte(current)) != nil {
		return fmt.Errorf("change password: the current password is wrong: %w", ErrBadCredentials)
	}
	if current == next {
		return invalidf("the new password must differ from the current one")
	}
	u, err := s.GetUser(ctx, id)
	if err != nil {
		return err
	}
	return s.setPassword(ctx, u, hash, next, keepToken)
}

// setPassword stores a new password for u and ends u's sessions except
// keepToken's. When oldHash is set, the change only happens if the
// password is still the one that was checked.
func (s *Service) setPassword(ctx context.Context, u User, oldHash, password, keepToken string) error {
	if err := validPassword(u.Username, password); err != nil {
		return err
	}
	hash, err := s.hash(password)
	if err != nil {
		return err
	}
	what := "set password of " + u.Username
	err = s.inTx(ctx, what, func(tx *sql.Tx) error {
		now := s.now().UnixMilli()
		q := `UPDATE users SET password_hash = ?, password_changed_at = ?, updated_at = ? WHERE id = ?`
		args := []any{hash, now, now, u.ID}
		if oldHash != "" {
			q += ` AND password_hash = ?`
			args = append(args, oldHash)
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		} else if n == 0 && oldHash != "" {
			return fmt.Errorf("%s: the password changed meanwhile: %w", what, ErrBadCredentials)
		} else if n == 0 {
			return fmt.Errorf("user %d: %w", u.ID, ErrNotFound)
		}
		// keepToken "" hashes to a value no session has, so all go.
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND token_hash != ?`, u.ID, tokenHash(keepToken)); err != nil {
			return fmt.Errorf("%s: end sessions: %w", what, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// A user whose password was just set can sign in with it at once.
	s.users.reset(userKey(u.Username))
	return nil
}

// EnsureAdmin prepares a first run: when there are no users at all it
// creates "admin" (role admin) with password, or, when password is "",
// with a random 20-character password returned in generated. With users
// present it does nothing and returns created false.
func (s *Service) EnsureAdmin(ctx context.Context, password string) (created bool, generated string, err error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return false, "", fmt.Errorf("ensure admin: %w", err)
	}
	if n > 0 {
		return false, "", nil
	}
	const name = "admin"
	if password == "" {
		if generated, err = randomPassword(20); err != nil {
			return false, "", fmt.Errorf("ensure admin: %w", err)
		}
		password = generated
	}
	if err := validPassword(name, password); err != nil {
		return false, "", err
	}
	hash, err := s.hash(password)
	if err != nil {
		return false, "", err
	}
	err = s.inTx(ctx, "ensure admin", func(tx *sql.Tx) error {
		// Check again under the write lock: another process may have won.
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
			return fmt.Errorf("ensure admin: %w", err)
		}
		if n > 0 {
			return nil
		}
		_, err := insertUser(ctx, tx, name, "Administrator", RoleAdmin, hash, "", s.now())
		created = err == nil
		return err
	})
	if err != nil || !created {
		return false, "", err
	}
	return true, generated, nil
}

// passwordAlphabet leaves out characters that are easy to misread
// (0/O, 1/l/I) in a password shown once on a console.
const passwordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// randomPassword returns n characters from passwordAlphabet, uniformly
// chosen with crypto/rand.
func randomPassword(n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	// Reject bytes past the largest multiple of the alphabet size, so
	// every character is equally likely.
	limit := 256 - 256%len(passwordAlphabet)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("random password: %w", err)
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, passwordAlphabet[int(b)%len(passwordAlphabet)])
			}
		}
	}
	return string(out), nil
}
