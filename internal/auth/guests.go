package auth

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// RoleGuest is someone without an account who came in through a meeting's
// invite link. A guest has no users row: their session (table
// guest_sessions) carries their name and the one meeting room they may
// join. It is not one of Roles, so no console user can be given it.
const RoleGuest Role = "guest"

// GuestPrefix starts the username of every guest session ("guest:k3x9...").
// Real usernames cannot contain ':', so a guest never passes for a user.
const GuestPrefix = "guest:"

// MaxGuestTTL is the longest a guest session lasts, whatever its invite says.
const MaxGuestTTL = 12 * time.Hour

// NewGuest is what StartGuestSession needs.
type NewGuest struct {
	// Name is shown to the others in the meeting (1-64 characters).
	Name string
	// Room is the meeting the guest may join.
	Room string
	// ExpiresAt ends the session; it is cut to MaxGuestTTL from now.
	ExpiresAt time.Time
	Source    string // the client's address
	UserAgent string
}

// IsGuest reports whether the session is a guest's.
func (s Session) IsGuest() bool { return s.User.Role == RoleGuest }

// StartGuestSession starts a session for a guest and returns its token,
// of which, as for users, only the hash is stored.
func (s *Service) StartGuestSession(ctx context.Context, g NewGuest) (string, Session, error) {
	name, err := cleanDisplayName(g.Name)
	if err != nil {
		return "", Session{}, err
	}
	if name == "" {
		return "", Session{}, invalidf("a name is required")
	}
	if g.Room == "" {
		return "", Session{}, invalidf("a guest session needs a meeting")
	}
	now := s.now()
	expires := g.ExpiresAt
	if limit := now.Add(MaxGuestTTL); expires.IsZero() || expires.After(limit) {
		expires = limit
	}
	if !expires.After(now) {
		return "", Session{}, invalidf("the invite has expired")
	}
	token, err := newToken()
	if err != nil {
		return "", Session{}, fmt.Errorf("guest session: %w", err)
	}
	id := strings.ToLower(rand.Text()[:16])
	created := now.UnixMilli()
	_, err = s.db.ExecContext(ctx, `INSERT INTO guest_sessions (token_hash, guest_id, name, room, created_at, last_seen_at, expires_at, source, user_agent)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, tokenHash(token), id, name, g.Room, created, created, expires.UnixMilli(),
		truncate(g.Source, maxKeyLen), truncate(g.UserAgent, maxUserAgentLen))
	if err != nil {
		return "", Session{}, fmt.Errorf("guest session: %w", err)
	}
	sess := Session{
		User:      guestUser(id, name, created),
		CreatedAt: time.UnixMilli(created),
		ExpiresAt: time.UnixMilli(expires.UnixMilli()),
		Source:    g.Source,
		Room:      g.Room,
	}
	return token, sess, nil
}

// guestUser is the User a guest session presents: no id, a synthetic
// username, the chosen name, the guest role.
func guestUser(id, name string, created int64) User {
	at := time.UnixMilli(created)
	return User{Username: GuestPrefix + id, DisplayName: name, Role: RoleGuest, CreatedAt: at, UpdatedAt: at}
}

// authenticateGuest is Authenticate for a token that is not a user's.
func (s *Service) authenticateGuest(ctx context.Context, h string, now int64) (Session, error) {
	var sess Session
	var id, name string
	var created, expires, lastSeen int64
	err := s.db.QueryRowContext(ctx, `SELECT guest_id, name, room, created_at, expires_at, last_seen_at, source FROM guest_sessions WHERE token_hash = ?`, h).
		Scan(&id, &name, &sess.Room, &created, &expires, &lastSeen, &sess.Source)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("authenticate guest: %w", err)
	}
	if now >= expires {
		return Session{}, ErrNoSession
	}
	sess.User = guestUser(id, name, created)
	sess.CreatedAt, sess.ExpiresAt = time.UnixMilli(created), time.UnixMilli(expires)
	if now-lastSeen >= lastSeenEvery.Milliseconds() {
		_, _ = s.db.ExecContext(ctx, `UPDATE guest_sessions SET last_seen_at = ? WHERE token_hash = ?`, now, h)
	}
	return sess, nil
}
