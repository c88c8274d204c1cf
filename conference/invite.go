package conference

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Invite errors. Both are refusals of the link itself, for the guest to
// read.
var (
	ErrNoInvite      = errors.New("this invite link is not valid")
	ErrInviteExpired = errors.New("this invite link has expired")
)

// Invite lifetimes.
const (
	DefaultInviteTTL = 24 * time.Hour
	MaxInviteTTL     = 7 * 24 * time.Hour
)

// Invite is a fresh invite link's secret and its expiry. The token is
// shown once; only its SHA-256 is stored.
type Invite struct {
	Token     string    `json:"token"`
	Room      string    `json:"room"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Invitation is what an invite link leads to.
type Invitation struct {
	Meeting   Meeting
	ExpiresAt time.Time
}

// inviteHash is how an invite token is stored and looked up.
func inviteHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateInvite makes an invite link to a meeting that has not ended, valid
// for ttl (0 means DefaultInviteTTL; at most MaxInviteTTL). createdBy is
// recorded with it. The caller checks that createdBy may invite.
func (s *Service) CreateInvite(ctx context.Context, roomNo, createdBy string, ttl time.Duration) (Invite, error) {
	if ttl == 0 {
		ttl = DefaultInviteTTL
	}
	if ttl < time.Minute || ttl > MaxInviteTTL {
		return Invite{}, fmt.Errorf("%w: an invite lasts from a minute to 7 days", ErrInvalid)
	}
	m, err := s.meeting(ctx, roomNo)
	if err != nil {
		return Invite{}, err
	}
	if m.Private {
		return Invite{}, ErrNoMeeting // a browser call takes no guests
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return Invite{}, fmt.Errorf("invite token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	now := time.Now()
	expires := time.UnixMilli(now.Add(ttl).UnixMilli())
	_, err = s.db.ExecContext(ctx, `INSERT INTO meeting_invites (meeting_id, token_hash, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		m.ID, inviteHash(token), createdBy, now.UnixMilli(), expires.UnixMilli())
	if err != nil {
		return Invite{}, fmt.Errorf("create invite for %s: %w", roomNo, err)
	}
	return Invite{Token: token, Room: m.Room, ExpiresAt: expires}, nil
}

// Invitation returns the meeting an invite token leads to. An unknown
// token gives ErrNoInvite, an expired one ErrInviteExpired, and one for a
// meeting that has ended ErrEnded.
func (s *Service) Invitation(ctx context.Context, token string) (Invitation, error) {
	if len(token) != 43 { // 32 bytes in unpadded base64url
		return Invitation{}, ErrNoInvite
	}
	var roomNo string
	var expires int64
	err := s.db.QueryRowContext(ctx, `SELECT m.room, i.expires_at FROM meeting_invites i JOIN meetings m ON m.id = i.meeting_id WHERE i.token_hash = ?`, inviteHash(token)).
		Scan(&roomNo, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return Invitation{}, ErrNoInvite
	}
	if err != nil {
		return Invitation{}, fmt.Errorf("invite: %w", err)
	}
	if time.Now().UnixMilli() >= expires {
		return Invitation{}, ErrInviteExpired
	}
	m, err := s.Meeting(ctx, roomNo)
	if err != nil {
		return Invitation{}, err
	}
	return Invitation{Meeting: m, ExpiresAt: time.UnixMilli(expires)}, nil
}

// RedeemInvite checks an invite token and, when the meeting has one, the
// passcode the guest typed. Wrong passcodes count against who (the
// guest's address, say) as they do for users: five lock that guest out
// of the meeting for a while (ErrPasscodeLocked).
func (s *Service) RedeemInvite(ctx context.Context, token, who, passcode string) (Invitation, error) {
	inv, err := s.Invitation(ctx, token)
	if err != nil {
		return Invitation{}, err
	}
	_, hash, err := s.meetingWithPasscode(ctx, inv.Meeting.Room)
	if err != nil {
		return Invitation{}, err
	}
	if hash != "" {
		if err := s.checkPasscode(inv.Meeting.Room, "guest@"+who, hash, passcode); err != nil {
			return Invitation{}, err
		}
	}
	return inv, nil
}
