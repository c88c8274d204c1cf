// Package auth holds civicd's console accounts: users and their roles,
// bcrypt passwords, server-side sessions, and the limits on failed logins.
//
// Users and sessions live in the store (tables users and sessions); a
// session token is 32 random bytes handed to the client, of which only the
// SHA-256 is kept. Failed-login counters live in memory. The package knows
// nothing of HTTP or of the audit log: the caller (webui, the civicd CLI)
// decides what to audit and how to answer. cmd/civicd and webui import
// auth; devices that need a user's role get it from webui's session, not
// from here.
package auth

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Role is what a console user may do.
type Role string

// The roles. See ARCHITECTURE.md for what each one may do.
const (
	RoleAdmin      Role = "admin"
	RoleOfficial   Role = "official"
	RoleFacilities Role = "facilities"
)

// Roles lists every role, most powerful first.
func Roles() []Role { return []Role{RoleAdmin, RoleOfficial, RoleFacilities} }

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleOfficial, RoleFacilities:
		return true
	}
	return false
}

// ParseRole turns user input ("Admin", " official") into a Role. An
// unknown role is an ErrInvalid that lists the known ones.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", invalidf("role must be one of admin, official, facilities")
	}
	return r, nil
}

// Options tune a Service. Zero fields take the defaults, which match
// configs/civicd.yaml.
type Options struct {
	// SessionTTL is how long a session lasts from login; it does not
	// slide. Default: 12h.
	SessionTTL time.Duration
	// MaxFailuresPerUser failed logins for one username within
	// FailureWindow lock that username out. Default: 5.
	MaxFailuresPerUser int
	// MaxFailuresPerSource failed logins from one address within
	// FailureWindow lock that address out, whatever usernames it tries.
	// Default: 20.
	MaxFailuresPerSource int
	// FailureWindow is how long a failure counts. Default: 15m.
	FailureWindow time.Duration
	// Lockout is how long a locked-out username or address is refused.
	// Default: 15m.
	Lockout time.Duration
	// BcryptCost is the cost of new password hashes. Default: 12
	// (bcrypt.DefaultCost+2). Tests use bcrypt.MinCost.
	BcryptCost int
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// withDefaults fills in the zero fields of o.
func (o Options) withDefaults() Options {
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.MaxFailuresPerUser <= 0 {
		o.MaxFailuresPerUser = 5
	}
	if o.MaxFailuresPerSource <= 0 {
		o.MaxFailuresPerSource = 20
	}
	if o.FailureWindow <= 0 {
		o.FailureWindow = 15 * time.Minute
	}
	if o.Lockout <= 0 {
		o.Lockout = 15 * time.Minute
	}
	if o.BcryptCost == 0 {
		o.BcryptCost = bcrypt.DefaultCost + 2
	}
	o.BcryptCost = min(max(o.BcryptCost, bcrypt.MinCost), bcrypt.MaxCost)
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Service manages users and sessions in a store. It is safe for
// concurrent use. Writes run in immediate transactions, so checks such as
// "is this the last admin" cannot race with each other.
type Service struct {
	db   *sql.DB
	opts Options
	// users counts failed logins per lowercased username, sources per
	// client address.
	users, sources *limiter
	// dummyHash is compared against when a login names no user, so that
	// unknown and known usernames take the same time. It is made on first
	// use, so start-up does not pay for a bcrypt run.
	dummyOnce sync.Once
	dummyHash []byte
}

// New returns the Service on db, a store whose schema has the users and
// sessions tables.
func New(db *sql.DB, opts Options) *Service {
	opts = opts.withDefaults()
	return &Service{
		db:      db,
		opts:    opts,
		users:   newLimiter(opts.FailureWindow, opts.Lockout),
		sources: newLimiter(opts.FailureWindow, opts.Lockout),
	}
}

// dummy returns the hash checked for unknown usernames, a hash at
// opts.BcryptCost of a password nobody knows.
func (s *Service) dummy() []byte {
	s.dummyOnce.Do(func() {
		secret, err := randomPassword(20)
		if err == nil {
			s.dummyHash, err = bcrypt.GenerateFromPassword([]byte(secret), s.opts.BcryptCost)
		}
		if err != nil {
			// Only a broken system random source gets here. A fixed hash
			// (of an unknowable password) still makes unknown users cost
			// a bcrypt run, if at a different cost.
			s.dummyHash = []byte(fallbackDummyHash)
		}
	})
	return s.dummyHash
}

// fallbackDummyHash is a cost-12 bcrypt hash of a random string that was
// thrown away.
const fallbackDummyHash = "$2a$12$WPOXgHXFFbJFUcpWpvMAgutkiufwTQx1z7YHzRzLp90qp51l/p55u"

func (s *Service) now() time.Time { return s.opts.Now() }

// inTx runs fn in one immediate transaction and commits it if fn
// returns nil.
func (s *Service) inTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
