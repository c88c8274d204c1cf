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

// Session is a signed-in user's server-side session, as Login and
// Authenticate return it. User is read fresh on every Authenticate, so a
// changed role applies at once.
type Session struct {
	User      User
	CreatedAt time.Time
	ExpiresAt time.Time
	Source    string // the client address at login
	// Room is, for a guest session (RoleGuest), the one meeting room the
	// guest may join; "" for users.
	Room string
}

const (
	tokenBytes = 32
	// tokenLen is the length of a token: 32 bytes in unpadded base64url.
	tokenLen = 43
	// lastSeenEvery is how often Authenticate writes last_seen_at.
	lastSeenEvery = time.Minute
	// maxKeyLen bounds the limiter's keys and the stored user agent, so
	// outside input cannot grow memory or rows without bound.
	maxKeyLen       = 64
	maxUserAgentLen = 256
)

// tokenHash is how a token is stored and looked up: its SHA-256, in hex.
// Looking up by hash also makes the comparison's timing irrelevant.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// newToken returns a fresh session token.
func newToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// userKey is the failed-login counter key of a username.
func userKey(username string) string {
	return truncate(strings.ToLower(username), maxKeyLen)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Login checks a username and password and starts a session, returning
// its token (for the client; only its hash is stored). source is the
// client's address without the port ("" skips the per-source limit).
//
// A wrong password, an unknown or disabled user all give
// ErrBadCredentials, after the same bcrypt work, so neither the answer
// nor its timing tells which usernames exist. A username or source that
// failed too often gets a *LockoutError (errors.Is ErrLockedOut) until its
// lockout ends, even with the right password, and without bcrypt work.
// The failure that reaches the limit already returns the *LockoutError.
func (s *Service) Login(ctx context.Context, username, password, source, userAgent string) (string, Session, error) {
	now := s.now()
	ukey := userKey(username)
	source = truncate(source, maxKeyLen)
	if until, locked := s.users.locked(ukey, now); locked {
		return "", Session{}, &LockoutError{Until: until, Scope: "user"}
	}
	if source != "" {
		if until, locked := s.sources.locked(source, now); locked {
			return "", Session{}, &LockoutError{Until: until, Scope: "source"}
		}
	}

	var (
		u     User
		hash  string
		found bool
	)
	if validUsername(username) == nil { // no query for names that cannot exist
		row := s.db.QueryRowContext(ctx, `SELECT `+userColumns+`, password_hash FROM users WHERE username = ?`, username)
		var created, updated int64
		err := row.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Role, &u.Disabled, &u.Language, &created, &updated, &hash)
		switch {
		case err == nil:
			found = true
			u.CreatedAt, u.UpdatedAt = time.UnixMilli(created), time.UnixMilli(updated)
		case !errors.Is(err, sql.ErrNoRows):
			return "", Session{}, fmt.Errorf("login: %w", err)
		}
	}
	var ok bool
	if found && len(password) <= maxPassword {
		ok = bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil && !u.Disabled
	} else {
		_ = bcrypt.CompareHashAndPassword(s.dummy(), []byte(password))
	}
	if !ok {
		userUntil, userLocked := s.users.fail(ukey, s.opts.MaxFailuresPerUser, now)
		var srcUntil time.Time
		var srcLocked bool
		if source != "" {
			srcUntil, srcLocked = s.sources.fail(source, s.opts.MaxFailuresPerSource, now)
		}
		switch {
		case userLocked:
			return "", Session{}, &LockoutError{Until: userUntil, Scope: "user"}
		case srcLocked:
			return "", Session{}, &LockoutError{Until: srcUntil, Scope: "source"}
		}
		return "", Session{}, ErrBadCredentials
	}
	s.users.reset(ukey)

	token, err := newToken()
	if err != nil {
		return "", Session{}, fmt.Errorf("login %s: %w", u.Username, err)
	}
	created := now.UnixMilli()
	expires := now.Add(s.opts.SessionTTL).UnixMilli()
	_, err = s.db.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at, source, user_agent)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, tokenHash(token), u.ID, created, created, expires, source, truncate(userAgent, maxUserAgentLen))
	if err != nil {
		return "", Session{}, fmt.Errorf("login %s: store session: %w", u.Username, err)
	}
	return token, Session{User: u, CreatedAt: time.UnixMilli(created), ExpiresAt: time.UnixMilli(expires), Source: source}, nil
}

// Authenticate returns the session of a token. Unknown, expired and
// revoked tokens, and tokens of disabled users, give ErrNoSession. It
// records the session as seen, at most once a minute.
func (s *Service) Authenticate(ctx context.Context, token string) (Session, error) {
	if len(token) != tokenLen {
		return Session{}, ErrNoSession
	}
	now := s.now().UnixMilli()
	h := tokenHash(token)
	var sess Session
	var created, expires, lastSeen, uCreated, uUpdated int64
	u := &sess.User
	err := s.db.QueryRowContext(ctx, `SELECT s.created_at, s.expires_at, s.last_seen_at, s.source,
			u.id, u.username, u.display_name, u.role, u.disabled, u.language, u.created_at, u.updated_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`, h).
		Scan(&created, &expires, &lastSeen, &sess.Source,
			&u.ID, &u.Username, &u.DisplayName, &u.Role, &u.Disabled, &u.Language, &uCreated, &uUpdated)
	if errors.Is(err, sql.ErrNoRows) {
		return s.authenticateGuest(ctx, h, now)
	}
	if err != nil {
		return Session{}, fmt.Errorf("authenticate: %w", err)
	}
	if now >= expires || u.Disabled {
		return Session{}, ErrNoSession
	}
	sess.CreatedAt, sess.ExpiresAt = time.UnixMilli(created), time.UnixMilli(expires)
	u.CreatedAt, u.UpdatedAt = time.UnixMilli(uCreated), time.UnixMilli(uUpdated)
	if now-lastSeen >= lastSeenEvery.Milliseconds() {
		// Best effort: a busy database must not sign the user out, and
		// last_seen_at is only shown to people.
		_, _ = s.db.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?`, now, h)
	}
	return sess, nil
}

// Logout ends the session of a token. Ending a session that does not
// exist is not an error.
func (s *Service) Logout(ctx context.Context, token string) error {
	h := tokenHash(token)
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, h); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM guest_sessions WHERE token_hash = ?`, h); err != nil {
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

// PurgeExpired deletes expired sessions, users' and guests', and returns
// how many it deleted. Expired sessions are refused anyway; this only
// keeps the tables small.
func (s *Service) PurgeExpired(ctx context.Context) (int64, error) {
	var total int64
	for _, table := range []string{"sessions", "guest_sessions"} {
		res, err := s.db.ExecContext(ctx, `DELETE FROM `+table+` WHERE expires_at <= ?`, s.now().UnixMilli())
		if err != nil {
			return 0, fmt.Errorf("purge expired sessions: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("purge expired sessions: %w", err)
		}
		total += n
	}
	return total, nil
}
