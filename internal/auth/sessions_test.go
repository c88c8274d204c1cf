package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestLogin(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	alice := f.mustUser(t, "alice", RoleOfficial)
	disabled := f.mustUser(t, "dora", RoleOfficial)
	f.mustUser(t, "root", RoleAdmin)
	if _, err := f.UpdateUser(ctx, disabled.ID, UserUpdate{Disabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		user, pass string
		wantErr    error
	}{
		{"right password", "alice", pw("alice"), nil},
		{"username in another case", "ALICE", pw("alice"), nil},
		{"wrong password", "alice", "wrong password", ErrBadCredentials},
		{"empty password", "alice", "", ErrBadCredentials},
		{"password too long", "alice", pw("alice") + strings.Repeat("x", 80), ErrBadCredentials},
		{"unknown user", "mallory", pw("mallory"), ErrBadCredentials},
		{"impossible username", "no such user!", "whatever12", ErrBadCredentials},
		{"disabled user", "dora", pw("dora"), ErrBadCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.users.reset(userKey(tt.user)) // keep the limiter out of this test
			tok, sess, err := f.Login(ctx, tt.user, tt.pass, "192.0.2.1", "Firefox")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Login = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if tok != "" || sess != (Session{}) {
					t.Errorf("failed Login returned token %q, session %+v", tok, sess)
				}
				return
			}
			if b, err := base64.RawURLEncoding.DecodeString(tok); err != nil || len(b) != 32 {
				t.Errorf("token %q is not 32 bytes of base64url: %v", tok, err)
			}
			want := Session{User: alice, CreatedAt: f.clock.Now(), ExpiresAt: f.clock.Now().Add(testTTL), Source: "192.0.2.1"}
			if !sessionsEqual(sess, want) {
				t.Errorf("Login session = %+v, want %+v", sess, want)
			}
			got, err := f.Authenticate(ctx, tok)
			if err != nil || !sessionsEqual(got, want) {
				t.Errorf("Authenticate = %+v, %v; want %+v", got, err, want)
			}
		})
	}
}

func sessionsEqual(a, b Session) bool {
	return a.User.ID == b.User.ID && a.User.Username == b.User.Username && a.User.Role == b.User.Role &&
		a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt) && a.Source == b.Source
}

func TestTokensAreStoredHashed(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.mustUser(t, "alice", RoleOfficial)
	tok := f.mustLogin(t, "alice", "10.0.0.1")
	var stored string
	if err := f.db.QueryRowContext(ctx, `SELECT token_hash FROM sessions`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != tokenHash(tok) || len(stored) != 64 || strings.Contains(stored, tok) {
		t.Errorf("stored %q for token %q, want its SHA-256 in hex", stored, tok)
	}
	// A second login gets a different token.
	if tok2 := f.mustLogin(t, "alice", "10.0.0.1"); tok2 == tok {
		t.Error("two logins got the same token")
	}
	for _, bad := range []string{"", tok[:42], tok + "A", stored, strings.Repeat("A", 43)} {
		if _, err := f.Authenticate(ctx, bad); !errors.Is(err, ErrNoSession) {
			t.Errorf("Authenticate(%q) = %v, want ErrNoSession", bad, err)
		}
	}
}

func TestLockoutPerUser(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t) // 3 failures per user
	f.mustUser(t, "alice", RoleOfficial)
	login := func(name, pass, source string) error {
		_, _, err := f.Login(ctx, name, pass, source, "")
		return err
	}

	// A success resets the user's count.
	for range 2 {
		if err := login("alice", "wrong-wrong", "10.0.0.1"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("failure: %v", err)
		}
	}
	if err := login("alice", pw("alice"), "10.0.0.1"); err != nil {
		t.Fatalf("right password after 2 failures: %v", err)
	}
	// Failures outside the window do not add up.
	for range 2 {
		if err := login("alice", "wrong-wrong", "10.0.0.2"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("failure: %v", err)
		}
	}
	f.clock.Advance(testWindow + time.Second)
	if err := login("alice", "wrong-wrong", "10.0.0.3"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("failure after the window: %v, want only ErrBadCredentials", err)
	}

	// Three failures in a row, from different sources and in any case,
	// lock the username; the third already says so.
	f.clock.Advance(testWindow + time.Second)
	lockedAt := f.clock.Now()
	for i, name := range []string{"alice", "Alice", "ALICE"} {
		err := login(name, "wrong-wrong", fmt.Sprintf("10.0.1.%d", i))
		if i < 2 && !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
		if i == 2 {
			checkLockout(t, err, "user", lockedAt.Add(testLockout))
		}
	}
	// While locked, even the right password is refused, from anywhere.
	f.clock.Advance(testLockout - time.Second)
	checkLockout(t, login("alice", pw("alice"), "10.9.9.9"), "user", lockedAt.Add(testLockout))
	// Other users are not affected.
	f.mustUser(t, "bob", RoleOfficial)
	if err := login("bob", pw("bob"), "10.0.1.0"); err != nil {
		t.Errorf("another user during alice's lockout: %v", err)
	}
	f.clock.Advance(time.Second)
	if err := login("alice", pw("alice"), "10.9.9.9"); err != nil {
		t.Errorf("right password after the lockout: %v", err)
	}
}

func TestLockoutUnknownUser(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	var err error
	for range 3 {
		_, _, err = f.Login(ctx, "ghost", "whatever-pw", "", "")
	}
	// Unknown names lock out like real ones, so lockouts reveal nothing.
	checkLockout(t, err, "user", f.clock.Now().Add(testLockout))
}

func TestLockoutPerSource(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, func(o *Options) { o.MaxFailuresPerUser = 100; o.MaxFailuresPerSource = 4 })
	f.mustUser(t, "alice", RoleOfficial)
	f.mustUser(t, "bob", RoleOfficial)
	const attacker = "203.0.113.7"

	// Spraying usernames: each name fails once; the source adds up. A
	// success from the source does not reset the source's count.
	steps := []struct {
		user, pass string
		want       error
	}{
		{"alice", "wrong-1-pw", ErrBadCredentials},
		{"bob", "wrong-2-pw", ErrBadCredentials},
		{"alice", pw("alice"), nil},
		{"carol", "wrong-3-pw", ErrBadCredentials},
		{"dave", "wrong-4-pw", ErrLockedOut},
		{"bob", pw("bob"), ErrLockedOut},
	}
	for i, s := range steps {
		_, _, err := f.Login(ctx, s.user, s.pass, attacker, "")
		if !errors.Is(err, s.want) {
			t.Fatalf("step %d (%s): %v, want %v", i, s.user, err, s.want)
		}
		if errors.Is(err, ErrLockedOut) {
			checkLockout(t, err, "source", f.clock.Now().Add(testLockout))
		}
	}
	// Another address is fine, and so is the source after the lockout.
	if _, _, err := f.Login(ctx, "bob", pw("bob"), "198.51.100.1", ""); err != nil {
		t.Errorf("login from another source: %v", err)
	}
	f.clock.Advance(testLockout)
	if _, _, err := f.Login(ctx, "bob", pw("bob"), attacker, ""); err != nil {
		t.Errorf("login after the source lockout: %v", err)
	}
}

func checkLockout(t *testing.T, err error, scope string, until time.Time) {
	t.Helper()
	var lo *LockoutError
	if !errors.As(err, &lo) || !errors.Is(err, ErrLockedOut) {
		t.Fatalf("got %v, want a *LockoutError", err)
	}
	if lo.Scope != scope || !lo.Until.Equal(until) {
		t.Errorf("lockout %s until %v, want %s until %v", lo.Scope, lo.Until, scope, until)
	}
	if !strings.Contains(lo.Error(), scope) {
		t.Errorf("lockout message %q does not say %q", lo.Error(), scope)
	}
}

func TestSessionExpiry(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.mustUser(t, "alice", RoleOfficial)
	tok := f.mustLogin(t, "alice", "10.0.0.1")
	f.clock.Advance(testTTL - time.Millisecond)
	if _, err := f.Authenticate(ctx, tok); err != nil {
		t.Fatalf("just before expiry: %v", err)
	}
	fresh := f.mustLogin(t, "alice", "10.0.0.1")
	f.clock.Advance(time.Millisecond)
	if _, err := f.Authenticate(ctx, tok); !errors.Is(err, ErrNoSession) {
		t.Fatalf("at expiry: %v, want ErrNoSession", err)
	}
	n, err := f.PurgeExpired(ctx)
	if err != nil || n != 1 {
		t.Errorf("PurgeExpired = %d, %v; want 1", n, err)
	}
	if _, err := f.Authenticate(ctx, fresh); err != nil {
		t.Errorf("the younger session after the purge: %v", err)
	}
}

func TestLastSeenRefresh(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.mustUser(t, "alice", RoleOfficial)
	start := f.clock.Now()
	tok := f.mustLogin(t, "alice", "10.0.0.1")
	lastSeen := func() time.Time {
		t.Helper()
		var ms int64
		if err := f.db.QueryRow(`SELECT last_seen_at FROM sessions WHERE token_hash = ?`, tokenHash(tok)).Scan(&ms); err != nil {
			t.Fatal(err)
		}
		return time.UnixMilli(ms)
	}
	steps := []struct {
		advance time.Duration
		want    time.Duration // last_seen_at - start
	}{
		{30 * time.Second, 0},
		{29 * time.Second, 0},
		{time.Second, time.Minute},
		{59 * time.Second, time.Minute},
		{10 * time.Second, 129 * time.Second},
	}
	for i, s := range steps {
		f.clock.Advance(s.advance)
		if _, err := f.Authenticate(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if got := lastSeen().Sub(start); got != s.want {
			t.Errorf("step %d: last seen at +%v, want +%v", i, got, s.want)
		}
	}
}

func TestLogout(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.mustUser(t, "alice", RoleOfficial)
	a := f.mustLogin(t, "alice", "10.0.0.1")
	b := f.mustLogin(t, "alice", "10.0.0.2")
	if err := f.Logout(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Authenticate(ctx, a); !errors.Is(err, ErrNoSession) {
		t.Errorf("after logout: %v, want ErrNoSession", err)
	}
	if _, err := f.Authenticate(ctx, b); err != nil {
		t.Errorf("the other session after logout: %v", err)
	}
	if err := f.Logout(ctx, a); err != nil {
		t.Errorf("second logout: %v", err)
	}
}

func TestChangePassword(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.mustUser(t, "alice", RoleOfficial)
	keep := f.mustLogin(t, "alice", "10.0.0.1")
	other := f.mustLogin(t, "alice", "10.0.0.2")
	const next = "a brand new password"

	if err := f.ChangePassword(ctx, u.ID, "not the password", next, keep); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("wrong current password: %v, want ErrBadCredentials", err)
	}
	if err := f.ChangePassword(ctx, u.ID, pw("alice"), "short", keep); !errors.Is(err, ErrInvalid) {
		t.Errorf("too short: %v, want ErrInvalid", err)
	}
	if err := f.ChangePassword(ctx, u.ID, pw("alice"), pw("alice"), keep); !errors.Is(err, ErrInvalid) {
		t.Errorf("unchanged: %v, want ErrInvalid", err)
	}
	if err := f.ChangePassword(ctx, 999, "x", next, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("no such user: %v, want ErrNotFound", err)
	}
	for _, tok := range []string{keep, other} {
		if _, err := f.Authenticate(ctx, tok); err != nil {
			t.Fatalf("refused changes ended a session: %v", err)
		}
	}

	if err := f.ChangePassword(ctx, u.ID, pw("alice"), next, keep); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Authenticate(ctx, keep); err != nil {
		t.Errorf("the current session after a change: %v", err)
	}
	if _, err := f.Authenticate(ctx, other); !errors.Is(err, ErrNoSession) {
		t.Errorf("another session after a change: %v, want ErrNoSession", err)
	}
	if _, _, err := f.Login(ctx, "alice", pw("alice"), "", ""); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("old password after a change: %v", err)
	}
	if _, _, err := f.Login(ctx, "alice", next, "", ""); err != nil {
		t.Errorf("new password after a change: %v", err)
	}
}

func TestSetPasswordEndsAllSessions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.mustUser(t, "alice", RoleOfficial)
	bob := f.mustUser(t, "bob", RoleOfficial)
	toks := []string{f.mustLogin(t, "alice", "10.0.0.1"), f.mustLogin(t, "alice", "10.0.0.2")}
	bobs := f.mustLogin(t, "bob", "10.0.0.3")

	// A locked-out user can sign in with the password an admin just set.
	for range 3 {
		_, _, _ = f.Login(ctx, "alice", "wrong-wrong", "", "")
	}
	if err := f.SetPassword(ctx, u.ID, "x"); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetPassword(short) = %v, want ErrInvalid", err)
	}
	if err := f.SetPassword(ctx, u.ID, "reset by admin"); err != nil {
		t.Fatal(err)
	}
	for _, tok := range toks {
		if _, err := f.Authenticate(ctx, tok); !errors.Is(err, ErrNoSession) {
			t.Errorf("session after SetPassword: %v, want ErrNoSession", err)
		}
	}
	if _, err := f.Authenticate(ctx, bobs); err != nil {
		t.Errorf("another user's session after SetPassword: %v", err)
	}
	if _, _, err := f.Login(ctx, "alice", "reset by admin", "", ""); err != nil {
		t.Errorf("login with the reset password: %v", err)
	}
	if err := f.SetPassword(ctx, 999, "long enough"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetPassword(999) = %v, want ErrNotFound", err)
	}
	_ = bob
}

func TestDisableEndsSessions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.mustUser(t, "root", RoleAdmin)
	u := f.mustUser(t, "alice", RoleOfficial)
	tok := f.mustLogin(t, "alice", "10.0.0.1")
	if _, err := f.UpdateUser(ctx, u.ID, UserUpdate{Disabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Authenticate(ctx, tok); !errors.Is(err, ErrNoSession) {
		t.Errorf("after disabling: %v, want ErrNoSession", err)
	}
	var n int
	if err := f.db.QueryRow(`SELECT count(*) FROM sessions WHERE user_id = ?`, u.ID).Scan(&n); err != nil || n != 0 {
		t.Errorf("sessions of a disabled user: %d, %v; want none", n, err)
	}
	// Enabling again does not bring old sessions back.
	if _, err := f.UpdateUser(ctx, u.ID, UserUpdate{Disabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Authenticate(ctx, tok); !errors.Is(err, ErrNoSession) {
		t.Errorf("after enabling again: %v, want ErrNoSession", err)
	}
	if _, _, err := f.Login(ctx, "alice", pw("alice"), "", ""); err != nil {
		t.Errorf("login after enabling again: %v", err)
	}
}

func TestRevokeUserSessions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.mustUser(t, "alice", RoleOfficial)
	f.mustUser(t, "bob", RoleOfficial)
	a := f.mustLogin(t, "alice", "")
	b := f.mustLogin(t, "bob", "")
	if err := f.RevokeUserSessions(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Authenticate(ctx, a); !errors.Is(err, ErrNoSession) {
		t.Errorf("revoked session: %v", err)
	}
	if _, err := f.Authenticate(ctx, b); err != nil {
		t.Errorf("other user's session: %v", err)
	}
}

func TestRoleChangeAppliesAtOnce(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.mustUser(t, "root", RoleAdmin)
	u := f.mustUser(t, "alice", RoleOfficial)
	tok := f.mustLogin(t, "alice", "")
	if _, err := f.UpdateUser(ctx, u.ID, UserUpdate{Role: ptr(RoleFacilities)}); err != nil {
		t.Fatal(err)
	}
	sess, err := f.Authenticate(ctx, tok)
	if err != nil || sess.User.Role != RoleFacilities {
		t.Errorf("Authenticate after a role change = %+v, %v; want role facilities", sess.User, err)
	}
}
