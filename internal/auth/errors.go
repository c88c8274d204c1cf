package auth

import (
	"errors"
	"fmt"
	"time"
)

// Errors returned by the Service, for errors.Is. Validation errors wrap
// ErrInvalid with a sentence meant for the person who made the request;
// none of them ever quotes a password.
var (
	ErrNotFound       = errors.New("no such user")
	ErrUsernameTaken  = errors.New("that username is taken")
	ErrInvalid        = errors.New("invalid")
	ErrBadCredentials = errors.New("wrong username or password")
	ErrLockedOut      = errors.New("too many failed logins")
	ErrNoSession      = errors.New("no valid session")
	ErrLastAdmin      = errors.New("the last enabled admin cannot be removed, disabled or demoted")
)

// LockoutError says who is locked out and until when. It matches
// ErrLockedOut with errors.Is.
type LockoutError struct {
	Until time.Time
	Scope string // "user" or "source"
}

// Error says what is locked and until when (UTC).
func (e *LockoutError) Error() string {
	return fmt.Sprintf("too many failed logins for this %s; locked until %s", e.Scope, e.Until.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrLockedOut) true.
func (e *LockoutError) Is(target error) bool { return target == ErrLockedOut }

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}
