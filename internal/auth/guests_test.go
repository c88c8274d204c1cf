package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestGuestSessions: a guest session needs a name and a meeting, lasts
// until its invite expires but at most MaxGuestTTL, authenticates with
// the guest role and its room and no users row, and ends on logout and
// at expiry.
func TestGuestSessions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := f.clock.Now()
	for _, g := range []NewGuest{
		{Name: "  ", Room: "123456", ExpiresAt: now.Add(time.Hour)},
		{Name: "Visitor", Room: "", ExpiresAt: now.Add(time.Hour)},
		{Name: "Visitor", Room: "123456", ExpiresAt: now.Add(-time.Second)},
		{Name: strings.Repeat("x", 65), Room: "123456", ExpiresAt: now.Add(time.Hour)},
	} {
		if _, _, err := f.StartGuestSession(ctx, g); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", g, err)
		}
	}
	short, sess, err := f.StartGuestSession(ctx, NewGuest{Name: " 访客 ", Room: "123456", ExpiresAt: now.Add(2 * time.Hour), Source: "10.0.0.9"})
	if err != nil {
		t.Fatal(err)
	}
	if !sess.IsGuest() || sess.Room != "123456" || sess.User.DisplayName != "访客" || sess.User.ID != 0 || !strings.HasPrefix(sess.User.Username, GuestPrefix) {
		t.Fatalf("guest session %+v", sess)
	}
	if !sess.ExpiresAt.Equal(now.Add(2 * time.Hour)) {
		t.Fatalf("expires %v, want with the invite", sess.ExpiresAt)
	}
	long, sess2, err := f.StartGuestSession(ctx, NewGuest{Name: "Long", Room: "654321", ExpiresAt: now.Add(7 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !sess2.ExpiresAt.Equal(now.Add(MaxGuestTTL)) {
		t.Fatalf("expires %v, want after %v", sess2.ExpiresAt, MaxGuestTTL)
	}
	if sess2.User.Username == sess.User.Username {
		t.Fatal("two guests share a username")
	}
	var users int
	if err := f.db.QueryRow(`SELECT count(*) FROM users WHERE username LIKE 'guest:%'`).Scan(&users); err != nil || users != 0 {
		t.Fatalf("guests made users rows: %d %v", users, err)
	}

	got, err := f.Authenticate(ctx, short)
	if err != nil || got.User.Role != RoleGuest || got.Room != "123456" || got.User.DisplayName != "访客" || got.Source != "10.0.0.9" {
		t.Fatalf("authenticate: %+v %v", got, err)
	}
	f.clock.Advance(2*time.Hour + time.Second)
	if _, err := f.Authenticate(ctx, short); !errors.Is(err, ErrNoSession) {
		t.Fatalf("after the invite expired: %v, want ErrNoSession", err)
	}
	if n, err := f.PurgeExpired(ctx); err != nil || n != 1 {
		t.Fatalf("purge: %d %v, want the expired guest session", n, err)
	}
	if _, err := f.Authenticate(ctx, long); err != nil {
		t.Fatal(err)
	}
	third, _, _ := f.StartGuestSession(ctx, NewGuest{Name: "Third", Room: "111111", ExpiresAt: f.clock.Now().Add(time.Hour)})
	if err := f.Logout(ctx, third); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Authenticate(ctx, third); !errors.Is(err, ErrNoSession) {
		t.Fatalf("after logout: %v", err)
	}
}
