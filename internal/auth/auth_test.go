package auth

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"civic/internal/store"

	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// clock is a fake time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fixture is a Service on a fresh store with a fake clock.
type fixture struct {
	*Service
	db    *sql.DB
	clock *clock
}

const (
	testTTL     = time.Hour
	testWindow  = 10 * time.Minute
	testLockout = 5 * time.Minute
)

func newFixture(t *testing.T, tune ...func(*Options)) *fixture {
	t.Helper()
	st, err := store.Open(context.Background(), t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{t: time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)}
	opts := Options{
		SessionTTL:           testTTL,
		MaxFailuresPerUser:   3,
		MaxFailuresPerSource: 10,
		FailureWindow:        testWindow,
		Lockout:              testLockout,
		BcryptCost:           bcrypt.MinCost,
		Now:                  c.Now,
	}
	for _, f := range tune {
		f(&opts)
	}
	return &fixture{Service: New(st.DB(), opts), db: st.DB(), clock: c}
}

// mustUser creates a user whose password is username+"-secret-pw".
func (f *fixture) mustUser(t *testing.T, name string, role Role) User {
	t.Helper()
	u, err := f.CreateUser(context.Background(), NewUser{Username: name, Role: role, Password: pw(name)})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return u
}

func pw(name string) string { return strings.ToLower(name) + "-secret-pw" }

func (f *fixture) mustLogin(t *testing.T, name, source string) string {
	t.Helper()
	tok, _, err := f.Login(context.Background(), name, pw(name), source, "test")
	if err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	return tok
}

func TestParseRole(t *testing.T) {
	tests := []struct {
		in      string
		want    Role
		wantErr bool
	}{
		{"admin", RoleAdmin, false},
		{"Official", RoleOfficial, false},
		{" facilities ", RoleFacilities, false},
		{"", "", true},
		{"guest", "", true},
		{"root", "", true},
	}
	for _, tt := range tests {
		got, err := ParseRole(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseRole(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseRole(%q) error %v is not ErrInvalid", tt.in, err)
		}
	}
	roles := Roles()
	if len(roles) != 3 || roles[0] != RoleAdmin {
		t.Errorf("Roles() = %v", roles)
	}
	for _, r := range roles {
		if !r.Valid() {
			t.Errorf("%q is not Valid", r)
		}
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{}.withDefaults()
	if o.SessionTTL != 12*time.Hour || o.MaxFailuresPerUser != 5 || o.MaxFailuresPerSource != 20 ||
		o.FailureWindow != 15*time.Minute || o.Lockout != 15*time.Minute || o.BcryptCost != 12 || o.Now == nil {
		t.Errorf("defaults = %+v", o)
	}
	if got := (Options{BcryptCost: 99}).withDefaults().BcryptCost; got != bcrypt.MaxCost {
		t.Errorf("BcryptCost 99 became %d, want %d", got, bcrypt.MaxCost)
	}
}

func TestUnknownUsersCostTheSame(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.BcryptCost = bcrypt.MinCost + 1 })
	cost, err := bcrypt.Cost(f.dummy())
	if err != nil || cost != bcrypt.MinCost+1 {
		t.Errorf("dummy hash cost = %d, %v; want %d, the cost of real hashes", cost, err, bcrypt.MinCost+1)
	}
	if cost, err := bcrypt.Cost([]byte(fallbackDummyHash)); err != nil || cost != 12 {
		t.Errorf("fallback dummy hash: cost %d, %v; want a valid cost-12 hash", cost, err)
	}
}
