package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

func TestValidUsername(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"al", true},
		{"alice", true},
		{"Alice.Smith_2-b", true},
		{strings.Repeat("a", 32), true},
		{"a", false},
		{"", false},
		{strings.Repeat("a", 33), false},
		{"alice smith", false},
		{"alice@city", false},
		{"zhāng", false},
		{"张伟", false},
		{"al\x00", false},
		{"al/ice", false},
	}
	for _, tt := range tests {
		err := validUsername(tt.name)
		if got := err == nil; got != tt.ok {
			t.Errorf("validUsername(%q) = %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "2-32 letters, digits, . _ -")) {
			t.Errorf("validUsername(%q) error %q should be ErrInvalid and say the rule", tt.name, err)
		}
	}
}

func FuzzValidUsername(f *testing.F) {
	for _, s := range []string{"alice", "a", "", "Alice.Smith_2-b", "张伟", strings.Repeat("x", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if validUsername(s) != nil {
			return
		}
		if len(s) < 2 || len(s) > 32 {
			t.Fatalf("accepted %q of length %d", s, len(s))
		}
		for _, r := range s {
			if !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", r) {
				t.Fatalf("accepted %q with %q", s, r)
			}
		}
	})
}

func TestValidPassword(t *testing.T) {
	tests := []struct {
		user, pw string
		ok       bool
		wantText string
	}{
		{"alice", "12345678", true, ""},
		{"alice", strings.Repeat("x", 72), true, ""},
		{"alice", "密码密码密码密码", true, ""}, // 24 bytes
		{"alice", "1234567", false, "8 to 72 bytes"},
		{"alice", strings.Repeat("x", 73), false, "bcrypt uses at most 72"},
		{"alice", "", false, "8 to 72 bytes"},
		{"alicesmith", "AliceSmith", false, "same as the username"},
	}
	for _, tt := range tests {
		err := validPassword(tt.user, tt.pw)
		if (err == nil) != tt.ok {
			t.Errorf("validPassword(%q, %q) = %v, want ok %v", tt.user, tt.pw, err, tt.ok)
			continue
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantText) {
			t.Errorf("validPassword error %q should be ErrInvalid and say %q", err, tt.wantText)
		}
		if len(tt.pw) >= 4 && strings.Contains(err.Error(), tt.pw) {
			t.Errorf("validPassword error %q contains the password", err)
		}
	}
}

func TestValidLanguage(t *testing.T) {
	tests := []struct {
		tag string
		ok  bool
	}{
		{"", true},
		{"en", true},
		{"zh-CN", true},
		{"zh-Hans-CN", true},
		{"es-419", true},
		{"e", false},
		{"english", false},
		{"en_US", false},
		{"en-", false},
		{"-en", false},
		{"12", false},
		{"en-" + strings.Repeat("a", 9), false},
		{strings.Repeat("ab-", 20) + "ab", false},
		{"zh-<script>", false},
	}
	for _, tt := range tests {
		if err := validLanguage(tt.tag); (err == nil) != tt.ok {
			t.Errorf("validLanguage(%q) = %v, want ok %v", tt.tag, err, tt.ok)
		}
	}
}

func FuzzValidLanguage(f *testing.F) {
	for _, s := range []string{"", "en", "zh-CN", "zh-Hans-CN", "en-", "---", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if validLanguage(s) != nil {
			return
		}
		if len(s) > maxLanguage {
			t.Fatalf("accepted %q: too long", s)
		}
		for _, r := range s {
			if !(r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				t.Fatalf("accepted %q with %q", s, r)
			}
		}
	})
}

func TestCleanDisplayName(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"  Zhang Wei ", "Zhang Wei", true},
		{"张伟", "张伟", true},
		{strings.Repeat("张", 64), strings.Repeat("张", 64), true},
		{strings.Repeat("张", 65), "", false},
		{"tab\there", "", false},
		{"bad\xffutf8", "", false},
		{"", "", true},
	}
	for _, tt := range tests {
		got, err := cleanDisplayName(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("cleanDisplayName(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestRandomPassword(t *testing.T) {
	seen := make(map[string]bool)
	for range 50 {
		p, err := randomPassword(20)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != 20 || utf8.RuneCountInString(p) != 20 {
			t.Fatalf("randomPassword(20) = %q", p)
		}
		for _, r := range p {
			if !strings.ContainsRune(passwordAlphabet, r) {
				t.Fatalf("randomPassword gave %q outside the alphabet", r)
			}
		}
		if seen[p] {
			t.Fatalf("randomPassword repeated %q", p)
		}
		seen[p] = true
	}
}

func TestCreateAndReadUsers(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u, err := f.CreateUser(ctx, NewUser{Username: "Zhang.Wei", DisplayName: " 张伟 ", Role: RoleOfficial, Password: "correct horse", Language: "zh-CN"})
	if err != nil {
		t.Fatal(err)
	}
	want := User{ID: u.ID, Username: "Zhang.Wei", DisplayName: "张伟", Role: RoleOfficial, Language: "zh-CN",
		CreatedAt: f.clock.Now(), UpdatedAt: f.clock.Now()}
	if !u.CreatedAt.Equal(want.CreatedAt) || !u.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("CreateUser times = %v, %v; want %v", u.CreatedAt, u.UpdatedAt, want.CreatedAt)
	}
	u.CreatedAt, u.UpdatedAt = want.CreatedAt, want.UpdatedAt
	if u != want {
		t.Errorf("CreateUser = %+v, want %+v", u, want)
	}
	for _, get := range []func() (User, error){
		func() (User, error) { return f.GetUser(ctx, u.ID) },
		func() (User, error) { return f.UserByName(ctx, "zhang.wei") },
		func() (User, error) { return f.UserByName(ctx, "ZHANG.WEI") },
	} {
		got, err := get()
		if err != nil || !got.CreatedAt.Equal(want.CreatedAt) {
			t.Errorf("read back %+v, %v", got, err)
			continue
		}
		got.CreatedAt, got.UpdatedAt = want.CreatedAt, want.UpdatedAt
		if got != want {
			t.Errorf("read back %+v, want %+v", got, want)
		}
	}

	f.mustUser(t, "bob", RoleFacilities)
	f.mustUser(t, "Alice", RoleAdmin)
	f.mustUser(t, "carol", RoleAdmin)
	users, err := f.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Username)
	}
	if got, want := strings.Join(names, " "), "Alice bob carol Zhang.Wei"; got != want {
		t.Errorf("ListUsers order = %s, want %s", got, want)
	}

	if _, err := f.GetUser(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetUser(999) = %v, want ErrNotFound", err)
	}
	if _, err := f.UserByName(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("UserByName(nobody) = %v, want ErrNotFound", err)
	}
}

func TestCreateUserRefusals(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.mustUser(t, "alice", RoleOfficial)
	good := NewUser{Username: "newbie", Role: RoleOfficial, Password: "long enough"}
	tests := []struct {
		name   string
		change func(*NewUser)
		want   error
	}{
		{"taken", func(n *NewUser) { n.Username = "alice" }, ErrUsernameTaken},
		{"taken other case", func(n *NewUser) { n.Username = "ALICE" }, ErrUsernameTaken},
		{"bad username", func(n *NewUser) { n.Username = "a b" }, ErrInvalid},
		{"bad role", func(n *NewUser) { n.Role = "guest" }, ErrInvalid},
		{"empty role", func(n *NewUser) { n.Role = "" }, ErrInvalid},
		{"short password", func(n *NewUser) { n.Password = "short" }, ErrInvalid},
		{"password is username", func(n *NewUser) { n.Password = "Newbie-Newbie"; n.Username = "newbie-newbie" }, ErrInvalid},
		{"bad language", func(n *NewUser) { n.Language = "klingon!" }, ErrInvalid},
		{"bad display name", func(n *NewUser) { n.DisplayName = "a\nb" }, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nu := good
			tt.change(&nu)
			if _, err := f.CreateUser(ctx, nu); !errors.Is(err, tt.want) {
				t.Errorf("CreateUser(%+v) = %v, want %v", nu, err, tt.want)
			}
		})
	}
	users, _ := f.ListUsers(ctx)
	if len(users) != 1 {
		t.Errorf("refused creations left %d users, want 1", len(users))
	}
}

func TestUpdateUser(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.mustUser(t, "root", RoleAdmin)
	u := f.mustUser(t, "alice", RoleOfficial)
	f.clock.Advance(time.Minute)

	name, role, lang := "Alice A.", RoleFacilities, "en"
	got, err := f.UpdateUser(ctx, u.ID, UserUpdate{DisplayName: &name, Role: &role, Language: &lang})
	if err != nil {
		t.Fatal(err)
	}
	if got.DisplayName != name || got.Role != role || got.Language != lang || got.Disabled || !got.UpdatedAt.Equal(f.clock.Now()) || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Errorf("UpdateUser = %+v", got)
	}
	again, _ := f.GetUser(ctx, u.ID)
	if again != got {
		t.Errorf("stored %+v, returned %+v", again, got)
	}
	// Nil fields stay.
	if got, err := f.UpdateUser(ctx, u.ID, UserUpdate{}); err != nil || got.DisplayName != name || got.Role != role {
		t.Errorf("empty update = %+v, %v", got, err)
	}

	bad := []UserUpdate{
		{Role: ptr(Role("guest"))},
		{Language: ptr("x")},
		{DisplayName: ptr(strings.Repeat("n", 65))},
	}
	for _, upd := range bad {
		if _, err := f.UpdateUser(ctx, u.ID, upd); !errors.Is(err, ErrInvalid) {
			t.Errorf("UpdateUser(%+v) = %v, want ErrInvalid", upd, err)
		}
	}
	if _, err := f.UpdateUser(ctx, 999, UserUpdate{DisplayName: &name}); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateUser(999) = %v, want ErrNotFound", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestLastAdmin(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	root := f.mustUser(t, "root", RoleAdmin)
	official := f.mustUser(t, "alice", RoleOfficial)

	refused := []struct {
		name string
		run  func() error
	}{
		{"delete", func() error { return f.DeleteUser(ctx, root.ID) }},
		{"disable", func() error { _, err := f.UpdateUser(ctx, root.ID, UserUpdate{Disabled: ptr(true)}); return err }},
		{"demote", func() error { _, err := f.UpdateUser(ctx, root.ID, UserUpdate{Role: ptr(RoleOfficial)}); return err }},
	}
	for _, r := range refused {
		if err := r.run(); !errors.Is(err, ErrLastAdmin) {
			t.Errorf("%s the last admin: %v, want ErrLastAdmin", r.name, err)
		}
	}
	if u, _ := f.GetUser(ctx, root.ID); u.Role != RoleAdmin || u.Disabled {
		t.Errorf("last admin changed anyway: %+v", u)
	}

	// A disabled admin does not count.
	standby := f.mustUser(t, "standby", RoleAdmin)
	if _, err := f.UpdateUser(ctx, standby.ID, UserUpdate{Disabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if err := f.DeleteUser(ctx, root.ID); !errors.Is(err, ErrLastAdmin) {
		t.Errorf("delete with only a disabled second admin: %v, want ErrLastAdmin", err)
	}
	// Promoting someone frees root; other changes to an admin are fine.
	if _, err := f.UpdateUser(ctx, official.ID, UserUpdate{Role: ptr(RoleAdmin)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.UpdateUser(ctx, root.ID, UserUpdate{Role: ptr(RoleOfficial)}); err != nil {
		t.Errorf("demote with another admin: %v", err)
	}
	if err := f.DeleteUser(ctx, standby.ID); err != nil {
		t.Errorf("delete a disabled admin: %v", err)
	}
	if _, err := f.UpdateUser(ctx, official.ID, UserUpdate{DisplayName: ptr("Boss")}); err != nil {
		t.Errorf("renaming the last admin: %v", err)
	}
	if err := f.DeleteUser(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteUser(999) = %v, want ErrNotFound", err)
	}
}

// TestLastAdminRace disables two admins at once: exactly one may win.
func TestLastAdminRace(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a := f.mustUser(t, "admin-a", RoleAdmin)
	b := f.mustUser(t, "admin-b", RoleAdmin)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, id := range []int64{a.ID, b.ID} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.UpdateUser(ctx, id, UserUpdate{Disabled: ptr(true)})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	var ok, last int
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrLastAdmin):
			last++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 || last != 1 {
		t.Errorf("%d succeeded and %d got ErrLastAdmin, want 1 and 1", ok, last)
	}
}

func TestDeleteUserEndsSessions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.mustUser(t, "root", RoleAdmin)
	u := f.mustUser(t, "alice", RoleOfficial)
	tok := f.mustLogin(t, "alice", "10.0.0.1")
	if err := f.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Authenticate(ctx, tok); !errors.Is(err, ErrNoSession) {
		t.Errorf("Authenticate after delete = %v, want ErrNoSession", err)
	}
	var n int
	if err := f.db.QueryRow(`SELECT count(*) FROM sessions WHERE user_id = ?`, u.ID).Scan(&n); err != nil || n != 0 {
		t.Errorf("sessions of a deleted user: %d, %v", n, err)
	}
}

func TestEnsureAdmin(t *testing.T) {
	ctx := context.Background()
	t.Run("generated", func(t *testing.T) {
		f := newFixture(t)
		created, generated, err := f.EnsureAdmin(ctx, "")
		if err != nil || !created || len(generated) != 20 {
			t.Fatalf("EnsureAdmin(\"\") = %v, %q, %v; want created with a 20-char password", created, generated, err)
		}
		_, sess, err := f.Login(ctx, "admin", generated, "", "")
		if err != nil || sess.User.Role != RoleAdmin {
			t.Fatalf("login with the generated password: %+v, %v", sess, err)
		}
		created, again, err := f.EnsureAdmin(ctx, "")
		if err != nil || created || again != "" {
			t.Errorf("second EnsureAdmin = %v, %q, %v; want a no-op", created, again, err)
		}
		users, _ := f.ListUsers(ctx)
		if len(users) != 1 {
			t.Errorf("%d users, want 1", len(users))
		}
	})
	t.Run("given", func(t *testing.T) {
		f := newFixture(t)
		created, generated, err := f.EnsureAdmin(ctx, "from the environment")
		if err != nil || !created || generated != "" {
			t.Fatalf("EnsureAdmin(pw) = %v, %q, %v", created, generated, err)
		}
		if _, _, err := f.Login(ctx, "admin", "from the environment", "", ""); err != nil {
			t.Errorf("login with the given password: %v", err)
		}
	})
	t.Run("bad password", func(t *testing.T) {
		f := newFixture(t)
		if created, _, err := f.EnsureAdmin(ctx, "short"); !errors.Is(err, ErrInvalid) || created {
			t.Errorf("EnsureAdmin(short) = %v, %v; want ErrInvalid", created, err)
		}
		users, _ := f.ListUsers(ctx)
		if len(users) != 0 {
			t.Errorf("%d users after a refused EnsureAdmin, want 0", len(users))
		}
	})
	t.Run("users exist", func(t *testing.T) {
		f := newFixture(t)
		f.mustUser(t, "alice", RoleOfficial)
		if created, _, err := f.EnsureAdmin(ctx, ""); err != nil || created {
			t.Errorf("EnsureAdmin with users = %v, %v; want a no-op", created, err)
		}
	})
}

// TestSecretsStayInside checks that neither passwords nor hashes nor
// tokens show up in what the package returns.
func TestSecretsStayInside(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	const secret = "Tr0ub4dor&3-very-secret"
	u, err := f.CreateUser(ctx, NewUser{Username: "alice", Role: RoleAdmin, Password: secret})
	if err != nil {
		t.Fatal(err)
	}
	tok, sess, err := f.Login(ctx, "alice", secret, "10.0.0.1", "ua")
	if err != nil {
		t.Fatal(err)
	}
	authed, err := f.Authenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	users, _ := f.ListUsers(ctx)

	var texts []string
	for _, v := range []any{u, sess, authed, users} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, string(b), fmt.Sprintf("%+v", v))
	}
	_, _, err1 := f.Login(ctx, "alice", secret+"x", "10.0.0.1", "")
	_, _, err2 := f.Login(ctx, "nobody", secret, "10.0.0.1", "")
	err3 := f.ChangePassword(ctx, u.ID, secret+"x", "another-long-one", tok)
	err4 := f.SetPassword(ctx, u.ID, "short")
	err5 := f.ChangePassword(ctx, u.ID, secret, secret, tok)
	_, err6 := f.CreateUser(ctx, NewUser{Username: "bob", Role: RoleOfficial, Password: strings.Repeat("s", 80)})
	for _, err := range []error{err1, err2, err3, err4, err5, err6} {
		if err == nil {
			t.Fatal("a refused call succeeded")
		}
		texts = append(texts, err.Error())
	}
	for _, s := range texts {
		for _, leak := range []string{secret, "$2a$", tok, strings.Repeat("s", 80), "short"} {
			if strings.Contains(s, leak) {
				t.Errorf("%q leaks %q", s, leak)
			}
		}
	}
}
