package conference

import (
	"fmt"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// ErrPasscode is returned for a missing or wrong meeting passcode, and
// ErrPasscodeLocked (which is also an ErrPasscode) after too many wrong
// ones.
var (
	ErrPasscode       = fmt.Errorf("the meeting's passcode is missing or wrong")
	ErrPasscodeLocked = fmt.Errorf("%w: too many wrong passcodes; try again in a few minutes", ErrPasscode)
)

// Passcode guessing is limited per person and meeting: after
// passcodeTries wrong ones within passcodeLock, that person's attempts on
// that meeting are refused until passcodeLock has passed.
const (
	passcodeTries = 5
	passcodeLock  = 5 * time.Minute
)

// passcodeGuard counts wrong passcodes per (user, room).
type passcodeGuard struct {
	mu    sync.Mutex
	fails map[string][]time.Time
}

// checkPasscode compares a typed passcode with the meeting's hash.
func (s *Service) checkPasscode(room, user, hash, typed string) error {
	key := user + "\x00" + room
	now := time.Now()
	g := &s.passcodes
	g.mu.Lock()
	if g.fails == nil {
		g.fails = map[string][]time.Time{}
	}
	recent := g.fails[key][:0]
	for _, t := range g.fails[key] {
		if now.Sub(t) < passcodeLock {
			recent = append(recent, t)
		}
	}
	g.fails[key] = recent
	locked := len(recent) >= passcodeTries
	g.mu.Unlock()
	if locked {
		return ErrPasscodeLocked
	}
	if typed != "" && bcrypt.CompareHashAndPassword([]byte(hash), []byte(typed)) == nil {
		g.mu.Lock()
		delete(g.fails, key)
		g.mu.Unlock()
		return nil
	}
	if typed != "" {
		g.mu.Lock()
		g.fails[key] = append(g.fails[key], now)
		g.mu.Unlock()
	}
	return ErrPasscode
}
