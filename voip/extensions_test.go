package voip

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestExtensionCRUD(t *testing.T) {
	env := newTestService(t, Config{})
	s, ctx := env.s, context.Background()
	if _, err := s.db.ExecContext(ctx, `INSERT INTO users (username, role, password_hash, created_at, updated_at, password_changed_at)
		VALUES ('Wang', 'official', 'x', 0, 0, 0)`); err != nil {
		t.Fatal(err)
	}
	in := ExtensionInput{Extension: Extension{Number: "1001", Name: " Front desk ", User: "wang", Department: "Reception", ForwardNoAnswer: "2000"}, Password: "secret1001"}
	if _, err := s.CreateExtension(ctx, in); !errors.Is(err, ErrInvalid) {
		t.Fatalf("forward to a missing number: %v, want ErrInvalid", err)
	}
	in.ForwardNoAnswer = ""
	got, err := s.CreateExtension(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	want := Extension{Number: "1001", Name: "Front desk", User: "Wang", Department: "Reception", NoAnswerSeconds: 20}
	if got != want {
		t.Errorf("created %+v, want %+v", got, want)
	}
	var md5, sha, realm string
	if err := s.db.QueryRowContext(ctx, `SELECT ha1_md5, ha1_sha256, realm FROM extensions WHERE number = '1001'`).Scan(&md5, &sha, &realm); err != nil {
		t.Fatal(err)
	}
	if md5 != computeHA1(algMD5, "1001", "127.0.0.1", "secret1001") || sha != computeHA1(algSHA256, "1001", "127.0.0.1", "secret1001") || realm != "127.0.0.1" {
		t.Errorf("stored HA1 %s / %s for realm %s", md5, sha, realm)
	}
	env.addExtension(t, "1002", "secret1002")

	errorCases := []struct {
		name string
		in   ExtensionInput
		want error
	}{
		{"taken", ExtensionInput{Extension: Extension{Number: "1001", Name: "x"}, Password: "password1"}, ErrExists},
		{"six digits", ExtensionInput{Extension: Extension{Number: "100100", Name: "x"}, Password: "password1"}, ErrInvalid},
		{"one digit", ExtensionInput{Extension: Extension{Number: "1", Name: "x"}, Password: "password1"}, ErrInvalid},
		{"letters", ExtensionInput{Extension: Extension{Number: "10a1", Name: "x"}, Password: "password1"}, ErrInvalid},
		{"no name", ExtensionInput{Extension: Extension{Number: "1003"}, Password: "password1"}, ErrInvalid},
		{"short password", ExtensionInput{Extension: Extension{Number: "1003", Name: "x"}, Password: "short"}, ErrInvalid},
		{"no password", ExtensionInput{Extension: Extension{Number: "1003", Name: "x"}}, ErrInvalid},
		{"unknown user", ExtensionInput{Extension: Extension{Number: "1003", Name: "x", User: "nobody"}, Password: "password1"}, ErrInvalid},
		{"forward to itself", ExtensionInput{Extension: Extension{Number: "1003", Name: "x", ForwardBusy: "1003"}, Password: "password1"}, ErrInvalid},
		{"ring too long", ExtensionInput{Extension: Extension{Number: "1003", Name: "x", NoAnswerSeconds: 1000}, Password: "password1"}, ErrInvalid},
	}
	for _, tt := range errorCases {
		if _, err := s.CreateExtension(ctx, tt.in); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}

	// Update: forwarding to a room and another extension; the password stays.
	up := ExtensionInput{Extension: Extension{Name: "Front desk", ForwardBusy: "1002", ForwardAlways: "123456", DND: true, NoAnswerSeconds: 30}}
	got, err = s.UpdateExtension(ctx, "1001", up)
	if err != nil {
		t.Fatal(err)
	}
	if got.User != "" || got.ForwardBusy != "1002" || got.ForwardAlways != "123456" || !got.DND || got.NoAnswerSeconds != 30 {
		t.Errorf("updated %+v", got)
	}
	var md5After string
	_ = s.db.QueryRowContext(ctx, `SELECT ha1_md5 FROM extensions WHERE number = '1001'`).Scan(&md5After)
	if md5After != md5 {
		t.Error("an update without a password changed it")
	}
	if _, err := s.UpdateExtension(ctx, "1001", ExtensionInput{Extension: Extension{Number: "1009", Name: "x"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("renumbering: %v, want ErrInvalid", err)
	}
	if _, err := s.UpdateExtension(ctx, "1005", up); !errors.Is(err, ErrNotFound) {
		t.Errorf("update of a missing extension: %v, want ErrNotFound", err)
	}
	list, err := s.ListExtensions(ctx)
	if err != nil || len(list) != 2 || list[0] != got || list[1].Number != "1002" {
		t.Errorf("list %+v %v", list, err)
	}
	phones := s.Phones()
	if len(phones) != 2 || phones[0].Extension != got || phones[0].Online || phones[0].Bindings == nil {
		t.Errorf("phones %+v", phones)
	}

	if err := s.DeleteExtension(ctx, "1002"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteExtension(ctx, "1002"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if k := env.bus.kinds("1002"); !slices.Equal(k, []string{KindPhoneChanged, KindPhoneRemoved}) {
		t.Errorf("events of 1002: %v", k)
	}
	if k := env.bus.kinds("1001"); !slices.Equal(k, []string{KindPhoneChanged, KindPhoneChanged}) {
		t.Errorf("events of 1001: %v", k)
	}

	// The console user's deletion unlinks the extension.
	if _, err := s.UpdateExtension(ctx, "1001", ExtensionInput{Extension: Extension{Name: "Front desk", User: "WANG"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM users WHERE username = 'Wang'`); err != nil {
		t.Fatal(err)
	}
	var user sql.NullString
	_ = s.db.QueryRowContext(ctx, `SELECT user FROM extensions WHERE number = '1001'`).Scan(&user)
	if user.Valid {
		t.Errorf("user is %q after the console user was deleted, want NULL", user.String)
	}
}

// TestPasswordChangeTakesEffect: a new password registers, the old one no
// longer does, and a restart (a new Service on the same store) keeps it.
func TestPasswordChangeTakesEffect(t *testing.T) {
	env := newTestService(t, Config{})
	env.addExtension(t, "1001", "first-password")
	if _, err := env.s.UpdateExtension(context.Background(), "1001", ExtensionInput{Extension: Extension{Name: "Desk"}, Password: "second-password"}); err != nil {
		t.Fatal(err)
	}
	for pw, want := range map[string]int{"first-password": 403, "second-password": 200} {
		p := newRawPhone(t, env.s.Addr(), "1001", pw)
		if res := p.registerWith("SHA-256", []string{"<sip:1001@" + p.local + ">"}, "120"); res.StatusCode != want {
			t.Errorf("%s: %d, want %d", pw, res.StatusCode, want)
		}
	}
	again, err := New(Config{Listen: "127.0.0.1:0"}, env.s.db, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Shutdown(context.Background())
	if r := again.exts["1001"]; r == nil || r.ha1MD5 != computeHA1(algMD5, "1001", "127.0.0.1", "second-password") {
		t.Errorf("reloaded record %+v", r)
	}
}

func TestRingGroups(t *testing.T) {
	env := newTestService(t, Config{})
	s, ctx := env.s, context.Background()
	env.addExtension(t, "1001", "secret1001")
	env.addExtension(t, "1002", "secret1002")

	g, err := s.CreateRingGroup(ctx, RingGroup{Number: "600", Name: "Facilities desk", Members: []string{"1002", "1001"}})
	if err != nil {
		t.Fatal(err)
	}
	if g.Strategy != StrategyAll || g.RingSeconds != 20 {
		t.Errorf("defaults: %+v", g)
	}
	errorCases := []struct {
		name string
		g    RingGroup
		want error
	}{
		{"number of an extension", RingGroup{Number: "1001", Name: "x", Members: []string{"1002"}}, ErrExists},
		{"number of a group", RingGroup{Number: "600", Name: "x", Members: []string{"1002"}}, ErrExists},
		{"no members", RingGroup{Number: "601", Name: "x"}, ErrInvalid},
		{"missing member", RingGroup{Number: "601", Name: "x", Members: []string{"1003"}}, ErrInvalid},
		{"member twice", RingGroup{Number: "601", Name: "x", Members: []string{"1001", "1001"}}, ErrInvalid},
		{"bad strategy", RingGroup{Number: "601", Name: "x", Strategy: "random", Members: []string{"1001"}}, ErrInvalid},
		{"room number", RingGroup{Number: "123456", Name: "x", Members: []string{"1001"}}, ErrInvalid},
	}
	for _, tt := range errorCases {
		if _, err := s.CreateRingGroup(ctx, tt.g); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := s.CreateExtension(ctx, ExtensionInput{Extension: Extension{Number: "600", Name: "x"}, Password: "password1"}); !errors.Is(err, ErrExists) {
		t.Errorf("extension on a group's number: %v, want ErrExists", err)
	}
	if _, err := s.CreateExtension(ctx, ExtensionInput{Extension: Extension{Number: "1003", Name: "x", ForwardNoAnswer: "600"}, Password: "password1"}); err != nil {
		t.Errorf("forward to a ring group: %v", err)
	}

	_, err = s.UpdateRingGroup(ctx, "600", RingGroup{Name: "Facilities", Strategy: "order", RingSeconds: 15, Members: []string{"1001", "1003", "1002"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteExtension(ctx, "1003"); err != nil {
		t.Fatal(err)
	}
	groups, err := s.ListRingGroups(ctx)
	want := RingGroup{Number: "600", Name: "Facilities", Strategy: "order", RingSeconds: 15, Members: []string{"1001", "1002"}}
	if err != nil || len(groups) != 1 || !equalGroups(groups[0], want) {
		t.Errorf("groups %+v %v, want %+v (1003 dropped with its extension)", groups, err, want)
	}
	if _, err := s.UpdateRingGroup(ctx, "601", RingGroup{Name: "x", Members: []string{"1001"}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("update of a missing group: %v, want ErrNotFound", err)
	}
	if err := s.DeleteRingGroup(ctx, "600"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRingGroup(ctx, "600"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if groups, _ := s.ListRingGroups(ctx); len(groups) != 0 || groups == nil {
		t.Errorf("groups after delete: %#v, want an empty list", groups)
	}
}

func equalGroups(a, b RingGroup) bool {
	return a.Number == b.Number && a.Name == b.Name && a.Strategy == b.Strategy && a.RingSeconds == b.RingSeconds && slices.Equal(a.Members, b.Members)
}

// TestDeleteRegisteredExtension: deleting an extension drops its bindings
// and says so on the bus.
func TestDeleteRegisteredExtension(t *testing.T) {
	env := newTestService(t, Config{})
	env.addExtension(t, "1001", "secret1001")
	p := newRawPhone(t, env.s.Addr(), "1001", "secret1001")
	if res := p.registerWith("MD5", []string{"<sip:1001@" + p.local + ">"}, "120"); res.StatusCode != 200 {
		t.Fatalf("register: %d", res.StatusCode)
	}
	if err := env.s.DeleteExtension(context.Background(), "1001"); err != nil {
		t.Fatal(err)
	}
	if len(env.s.Phones()) != 0 || len(env.s.aors) != 0 {
		t.Error("the deleted extension's bindings remain")
	}
	if k := env.bus.kinds("1001"); k[len(k)-1] != KindPhoneRemoved {
		t.Errorf("events %v, want the last to be %s", k, KindPhoneRemoved)
	}
	// And it can no longer register.
	if res := p.registerWith("MD5", []string{"<sip:1001@" + p.local + ">"}, "120"); res.StatusCode != 403 {
		t.Errorf("register after delete: %d, want 403", res.StatusCode)
	}
}

// TestPhoneEventJSON pins the payload shape the console reads.
func TestPhoneEventJSON(t *testing.T) {
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	e := PhoneEvent{Kind: KindPhoneOnline, Phone: Phone{
		Extension: Extension{Number: "1001", Name: "Desk", DND: false},
		Online:    true,
		Bindings:  []Binding{{Contact: "sip:1001@10.0.0.5:5060", Transport: "udp", Source: "10.0.0.5:5060", UserAgent: "Yealink", Expires: at, LastSeen: at, Reachable: true}},
	}}
	got := mustJSON(t, e)
	want := `{"phone":{"extension":{"number":"1001","name":"Desk","dnd":false},"online":true,"bindings":[{"contact":"sip:1001@10.0.0.5:5060","transport":"udp","source":"10.0.0.5:5060","user_agent":"Yealink","expires":"2026-03-01T08:00:00Z","last_seen":"2026-03-01T08:00:00Z","reachable":true}]}}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if e.EventTopic() != TopicPhones || e.EventKind() != KindPhoneOnline {
		t.Error("topic or kind")
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
