package audit

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"civic/internal/store"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newDB(t *testing.T) *sql.DB {
	t.Helper()
	s, err := store.Open(context.Background(), t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.DB()
}

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func TestAppendAndList(t *testing.T) {
	ctx := context.Background()
	var hooked []Entry
	l := New(newDB(t), func(e Entry) { hooked = append(hooked, e) })
	l.now = func() time.Time { return t0.Add(1234567 * time.Microsecond) }

	in := Entry{User: "alice", Role: "admin", Action: "users.create", Target: "bob", Result: ResultOK, Detail: "role official", Source: "10.0.0.5"}
	if err := l.Append(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, next, err := l.List(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || next != 0 {
		t.Fatalf("List = %d entries, next %d; want 1, 0", len(got), next)
	}
	want := in
	want.ID = got[0].ID
	want.At = time.UnixMilli(t0.Add(1234 * time.Millisecond).UnixMilli())
	if !got[0].At.Equal(want.At) {
		t.Errorf("At = %v, want %v (now, to the millisecond)", got[0].At, want.At)
	}
	got[0].At = want.At
	if got[0] != want {
		t.Errorf("listed %+v, want %+v", got[0], want)
	}
	if got[0].ID <= 0 {
		t.Errorf("ID = %d, want > 0", got[0].ID)
	}
	if len(hooked) != 1 || hooked[0].ID != got[0].ID || !hooked[0].At.Equal(want.At) {
		t.Errorf("onAppend got %+v, want one entry with ID %d and At %v", hooked, got[0].ID, want.At)
	}

	// An explicit At is kept.
	at := t0.Add(-time.Hour)
	if err := l.Append(ctx, Entry{User: "alice", Action: "login", Result: ResultDenied, At: at}); err != nil {
		t.Fatal(err)
	}
	got, _, err = l.List(ctx, Filter{Action: "login"})
	if err != nil || len(got) != 1 || !got[0].At.Equal(at) {
		t.Errorf("List(login) = %+v, %v; want one entry at %v", got, err, at)
	}
}

func TestAppendValidates(t *testing.T) {
	ctx := context.Background()
	calls := 0
	l := New(newDB(t), func(Entry) { calls++ })
	tests := []struct {
		name string
		e    Entry
	}{
		{"no action", Entry{User: "a", Result: ResultOK}},
		{"no result", Entry{User: "a", Action: "x"}},
		{"unknown result", Entry{User: "a", Action: "x", Result: "maybe"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := l.Append(ctx, tt.e); err == nil {
				t.Error("Append accepted an invalid entry")
			}
		})
	}
	got, _, err := l.List(ctx, Filter{})
	if err != nil || len(got) != 0 || calls != 0 {
		t.Errorf("after invalid appends: %d entries, %d hook calls, %v; want none", len(got), calls, err)
	}
}

func TestListFilters(t *testing.T) {
	ctx := context.Background()
	l := New(newDB(t), nil)
	seed := []Entry{
		{User: "alice", Action: "users.create", Result: ResultOK, At: t0},
		{User: "alice", Action: "users.delete", Result: ResultOK, At: t0.Add(1 * time.Minute)},
		{User: "bob", Action: "users.create", Result: ResultDenied, At: t0.Add(2 * time.Minute)},
		{User: "bob", Action: "door.unlock", Result: ResultOK, At: t0.Add(3 * time.Minute)},
		{User: "carol", Action: "usersx.odd", Result: ResultOK, At: t0.Add(4 * time.Minute)},
		{User: "carol", Action: "users", Result: ResultFailed, At: t0.Add(5 * time.Minute)},
		{User: "Alice", Action: "login", Result: ResultOK, At: t0.Add(6 * time.Minute)},
	}
	for _, e := range seed {
		e.Role = "admin"
		if err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	// describe names entries by their position in seed, newest first.
	describe := func(es []Entry) string {
		var b strings.Builder
		for _, e := range es {
			fmt.Fprintf(&b, "%d ", e.ID-1)
		}
		return strings.TrimSpace(b.String())
	}
	tests := []struct {
		name string
		f    Filter
		want string
	}{
		{"all", Filter{}, "6 5 4 3 2 1 0"},
		{"user", Filter{User: "alice"}, "1 0"},
		{"action exact", Filter{Action: "users.create"}, "2 0"},
		{"action prefix", Filter{Action: "users."}, "2 1 0"},
		{"action without dot is exact", Filter{Action: "users"}, "5"},
		{"user and action", Filter{User: "bob", Action: "users."}, "2"},
		{"since inclusive", Filter{Since: t0.Add(5 * time.Minute)}, "6 5"},
		{"until exclusive", Filter{Until: t0.Add(2 * time.Minute)}, "1 0"},
		{"range", Filter{Since: t0.Add(time.Minute), Until: t0.Add(4 * time.Minute)}, "3 2 1"},
		{"before id", Filter{BeforeID: 3}, "1 0"},
		{"limit", Filter{Limit: 2}, "6 5"},
		{"nothing", Filter{User: "nobody"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := l.List(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Error("List returned a nil slice; want an empty one (JSON [])")
			}
			if d := describe(got); d != tt.want {
				t.Errorf("List(%+v) = [%s], want [%s]", tt.f, d, tt.want)
			}
		})
	}
}

func TestPaging(t *testing.T) {
	ctx := context.Background()
	l := New(newDB(t), nil)
	const n = 120
	for i := range n {
		if err := l.Append(ctx, Entry{User: "u", Action: fmt.Sprintf("a.%d", i), Result: ResultOK}); err != nil {
			t.Fatal(err)
		}
	}
	seen := make(map[int64]int)
	var sizes []int
	before := int64(0)
	lastID := int64(1 << 62)
	for page := 0; ; page++ {
		if page > 10 {
			t.Fatal("paging does not end")
		}
		got, next, err := l.List(ctx, Filter{BeforeID: before, Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(got))
		for _, e := range got {
			if e.ID >= lastID {
				t.Errorf("id %d after %d: not newest first", e.ID, lastID)
			}
			lastID = e.ID
			seen[e.ID]++
		}
		if next == 0 {
			break
		}
		if next != got[len(got)-1].ID {
			t.Errorf("next = %d, want the last id of the page, %d", next, got[len(got)-1].ID)
		}
		before = next
	}
	if fmt.Sprint(sizes) != "[50 50 20]" {
		t.Errorf("page sizes %v, want [50 50 20]", sizes)
	}
	if len(seen) != n {
		t.Errorf("saw %d distinct entries, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("entry %d seen %d times", id, c)
		}
	}

	// Limits: default 50, capped at 500, and an exact fit has no next page.
	limits := []struct {
		limit    int
		wantLen  int
		wantNext bool
	}{
		{0, 50, true},
		{-3, 50, true},
		{120, 120, false},
		{119, 119, true},
		{100000, 120, false},
	}
	for _, tt := range limits {
		got, next, err := l.List(ctx, Filter{Limit: tt.limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tt.wantLen || (next != 0) != tt.wantNext {
			t.Errorf("Limit %d: %d entries, next %d; want %d, next set %v", tt.limit, len(got), next, tt.wantLen, tt.wantNext)
		}
	}
}

func TestMaxLimit(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	l := New(db, nil)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for range MaxLimit + 10 {
		if _, err := tx.Exec(`INSERT INTO audit_log (at, username, role, action, result) VALUES (1, 'u', 'r', 'x', 'ok')`); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	got, next, err := l.List(ctx, Filter{Limit: 10 * MaxLimit})
	if err != nil || len(got) != MaxLimit || next == 0 {
		t.Errorf("List(Limit %d) = %d entries, next %d, %v; want %d and a next page", 10*MaxLimit, len(got), next, err, MaxLimit)
	}
}

func TestAppendOnly(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	l := New(db, nil)
	if err := l.Append(ctx, Entry{User: "alice", Action: "door.unlock", Result: ResultOK}); err != nil {
		t.Fatal(err)
	}
	stmts := []string{
		`UPDATE audit_log SET result = 'denied'`,
		`UPDATE audit_log SET username = 'mallory' WHERE id = 1`,
		`DELETE FROM audit_log`,
		`DELETE FROM audit_log WHERE id = 1`,
		`INSERT OR REPLACE INTO audit_log (id, at, username, role, action, result) VALUES (1, 1, 'mallory', 'admin', 'x', 'ok')`,
		`REPLACE INTO audit_log (id, at, username, role, action, result) VALUES (1, 1, 'mallory', 'admin', 'x', 'ok')`,
		`INSERT INTO audit_log (id, at, username, role, action, result) VALUES (1, 1, 'm', 'admin', 'x', 'ok') ON CONFLICT (id) DO UPDATE SET username = 'mallory'`,
	}
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err %v, want the append-only trigger", q, err)
		}
	}
	got, _, err := l.List(ctx, Filter{})
	if err != nil || len(got) != 1 || got[0].User != "alice" || got[0].Result != ResultOK {
		t.Errorf("after tampering: %+v, %v; want the original entry", got, err)
	}
}
