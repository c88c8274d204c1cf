package conference

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
)

// ErrBadPIN is a dial-in PIN that does not match the meeting's.
var ErrBadPIN = errors.New("wrong PIN")

// DialIn is how a desk phone joins a meeting: it dials Number, then keys
// PIN and #.
type DialIn struct {
	Number string `json:"number"`
	PIN    string `json:"pin"`
}

// DialIn returns the meeting's dial-in number and PIN, making the PIN on
// first use (meetings made before dial-in had none). Give it only to the
// meeting's participants and hosts.
func (s *Service) DialIn(ctx context.Context, roomNo string) (DialIn, error) {
	pin, err := s.dialPIN(ctx, roomNo)
	if err != nil {
		return DialIn{}, err
	}
	return DialIn{Number: s.cfg.DialInPrefix + roomNo, PIN: pin}, nil
}

// CheckDialIn checks a PIN keyed for a meeting that has not ended.
func (s *Service) CheckDialIn(ctx context.Context, roomNo, pin string) (Meeting, error) {
	m, _, err := s.meetingWithPasscode(ctx, roomNo)
	if err != nil {
		return Meeting{}, err
	}
	if m.Private {
		return Meeting{}, ErrNoMeeting // a browser call has no dial-in
	}
	want, err := s.dialPIN(ctx, roomNo)
	if err != nil {
		return Meeting{}, err
	}
	if subtle.ConstantTimeCompare([]byte(pin), []byte(want)) != 1 {
		return m, ErrBadPIN
	}
	return m, nil
}

// RoomOfNumber is the room number a dialled number leads to ("" when it
// is not a meeting's dial-in number).
func (s *Service) RoomOfNumber(number string) string {
	p := s.cfg.DialInPrefix
	if len(number) != len(p)+6 || number[:len(p)] != p {
		return ""
	}
	for _, c := range number[len(p):] {
		if c < '0' || c > '9' {
			return ""
		}
	}
	return number[len(p):]
}

// dialPIN reads a meeting's PIN, making one if it has none.
func (s *Service) dialPIN(ctx context.Context, roomNo string) (string, error) {
	var pin string
	err := s.db.QueryRowContext(ctx, `SELECT dial_pin FROM meetings WHERE room = ? AND ended_at IS NULL`, roomNo).Scan(&pin)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNoMeeting
	}
	if err != nil {
		return "", fmt.Errorf("dial-in PIN: %w", err)
	}
	if pin != "" {
		return pin, nil
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("dial-in PIN: %w", err)
	}
	pin = fmt.Sprintf("%06d", n.Int64())
	// Only the first maker wins; a racing one reads the winner's.
	if _, err := s.db.ExecContext(ctx, `UPDATE meetings SET dial_pin = ? WHERE room = ? AND dial_pin = ''`, pin, roomNo); err != nil {
		return "", fmt.Errorf("dial-in PIN: %w", err)
	}
	err = s.db.QueryRowContext(ctx, `SELECT dial_pin FROM meetings WHERE room = ?`, roomNo).Scan(&pin)
	return pin, err
}
