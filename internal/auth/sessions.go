package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Session is a signed-in user's server-side session.
type Session struct {
	User      User
	CreatedAt time.Time
	ExpiresAt time.Time
	Source    string
}

// tokenHash is how a token is stored: only its SHA-256.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Login checks a password and starts a session. source is the client's
// address without the port. A username or source that failed too often is
// refused with a *LockoutError, even with the right password.
func (s *Service) Login(ctx context.Context, username, password, source, userAgent string) (string, Session, error) {
	now := s.now()
	userKey := strings.ToLower(username)
	if until, ok := s.users.locked(userKey, now); ok {
		return "", Session{}, &LockoutError{Until: until, Scope: "user"}
	}
	if until, ok := s.sources.locked(source, now); ok {
		return "", Session{}, &LockoutError{Until: until, Scope: "source"}
	}

	var id int64
	var hash string
	var disabled bool
	err := s.db.QueryRowContext(ctx, `SELECT id, password_hash, disabled FROM users WHERE username = ?`, username).Scan(&id, &hash, &disabled)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", Session{}, fmt.Errorf("login: %w", err)
	}
	ok := false
	if err == nil {
		ok = bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil && !disabled
	} else {
		_ = bcrypt.CompareHashAndPassword(s.dummyPwd, []byte(password))
	}
	if !ok {
		// A failure that reaches the limit locks the key; the next
		// attempt is the one refused with a LockoutError.
		s.users.fail(userKey, s.opts.MaxFailuresPerUser, now)
		s.sources.fail(source, s.opts.MaxFailuresPerSource, now)
		return "", Session{}, ErrBadCredentials
	}
	s.users.reset(userKey)

	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", Session{}, fmt.Errorf("login: token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	exp := now.Add(s.opts.SessionTTL)
	_, err = s.db.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at, source, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		tokenHash(token), id, now.UnixMilli(), now.UnixMilli(), exp.UnixMilli(), source, userAgent)
	if err != nil {
		return "", Session{}, fmt.Errorf("login: store session: %w", err)
	}
	u, err := s.GetUser(ctx, id)
	if err != nil {
		return "", Session{}, err
	}
	return token, Session{User: u, CreatedAt: now, ExpiresAt: exp, Source: source}, nil
}

// Authenticate returns the session of a token. Unknown, expired or revoked
// tokens and disabled users get ErrNoSession.
func (s *Service) Authenticate(ctx context.Context, token string) (Session, error) {
	if token == "" {
		return Session{}, ErrNoSession
	}
	now := s.now()
	h := tokenHash(token)
	var userID, created, lastSeen, expires int64
	var source string
	err := s.db.QueryRowContext(ctx, `SELECT user_id, created_at, last_seen_at, expires_at, source FROM sessions WHERE token_hash = ?`, h).
		Scan(&userID, &created, &lastSeen, &expires, &source)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("authenticate: %w", err)
	}
	if now.UnixMilli() >= expires {
		_, _ = s.db.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, h)
		return Session{}, ErrNoSession
	}
	u, err := s.GetUser(ctx, userID)
	if errors.Is(err, ErrNotFound) || err == nil && u.Disabled {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, err
	}
	if now.UnixMilli()-lastSeen > time.Minute.Milliseconds() {
		_, _ = s.db.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?`, now.UnixMilli(), h)
	}
	return Session{User: u, CreatedAt: time.UnixMilli(created), ExpiresAt: time.UnixMilli(expires), Source: source}, nil
}

// Logout ends the session of a token.
func (s *Service) Logout(ctx context.Context, token string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash(token)); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

// RevokeUserSessions ends every session of a user.
func (s *Service) RevokeUserSessions(ctx context.Context, userID int64) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("revoke sessions of user %d: %w", userID, err)
	}
	return nil
}

// PurgeExpired deletes expired sessions and returns how many.
func (s *Service) PurgeExpired(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, s.now().UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("purge sessions: %w", err)
	}
	return res.RowsAffected()
}

// SetPassword sets a user's password (an admin reset) and ends all of
// their sessions.
func (s *Service) SetPassword(ctx context.Context, id int64, password string) error {
	return s.setPassword(ctx, id, password, "")
}

// ChangePassword changes a user's own password after checking the current
// one, and ends their other sessions (all but keepToken's).
func (s *Service) ChangePassword(ctx context.Context, id int64, current, next, keepToken string) error {
	var hash string
	err := s.db.QueryRowContext(ctx, `SELECT password_hash FROM users WHERE id = ?`, id).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(current)) != nil {
		return ErrBadCredentials
	}
	return s.setPassword(ctx, id, next, keepToken)
}

func (s *Service) setPassword(ctx context.Context, id int64, password, keepToken string) error {
	u, err := s.GetUser(ctx, id)
	if err != nil {
		return err
	}
	if err := validPassword(u.Username, password); err != nil {
		return err
	}
	h, err := s.hash(password)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	defer tx.Rollback()
	now := s.now().UnixMilli()
	if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, password_changed_at = ?, updated_at = ? WHERE id = ?`, h, now, now, id); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND token_hash != ?`, id, tokenHash(keepToken)); err != nil {
		return fmt.Errorf("set password: end sessions: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	s.users.reset(strings.ToLower(u.Username))
	return nil
}
