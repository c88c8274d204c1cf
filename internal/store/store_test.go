package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// openT opens a store in dir and closes it when the test ends.
func openT(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir, discard())
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestMigrationFiles(t *testing.T) {
	all, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("no embedded migrations")
	}
	for i, m := range all {
		if m.version != i+1 {
			t.Errorf("migration %d is %s (version %d)", i, m.name, m.version)
		}
		if strings.TrimSpace(m.sql) == "" {
			t.Errorf("migration %s is empty", m.name)
		}
	}
	if got, want := LatestVersion(), len(all); got != want {
		t.Errorf("LatestVersion() = %d, want %d", got, want)
	}
	if LatestVersion() < 2 {
		t.Errorf("LatestVersion() = %d, want at least 2 (users, audit)", LatestVersion())
	}
}

func TestOpenFresh(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "data")
	var logBuf bytes.Buffer
	s, err := Open(context.Background(), dir, slog.New(slog.NewTextHandler(&logBuf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	if got, want := s.Version(), LatestVersion(); got != want {
		t.Errorf("Version() = %d, want %d", got, want)
	}
	if got, want := s.Path(), filepath.Join(dir, "civic.db"); got != want {
		t.Errorf("Path() = %q, want %q", got, want)
	}
	if got, want := strings.Count(logBuf.String(), "store migrated"), LatestVersion(); got != want {
		t.Errorf("logged %d migrations, want %d:\n%s", got, want, logBuf.String())
	}
	modes := []struct {
		path string
		want os.FileMode
	}{
		{dir, 0o700 | os.ModeDir},
		{s.Path(), 0o600},
		{filepath.Join(dir, "civicd.lock"), 0o600},
	}
	for _, m := range modes {
		fi, err := os.Stat(m.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode(); got != m.want {
			t.Errorf("mode of %s = %v, want %v", m.path, got, m.want)
		}
	}

	pragmas := []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"busy_timeout", "5000"},
		{"synchronous", "1"}, // NORMAL
	}
	for _, p := range pragmas {
		var got string
		if err := s.DB().QueryRow("PRAGMA " + p.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != p.want {
			t.Errorf("PRAGMA %s = %q, want %q", p.pragma, got, p.want)
		}
	}
	for _, table := range []string{"users", "sessions", "audit_log"} {
		var n int
		if err := s.DB().QueryRow("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", table).Scan(&n); err != nil || n != 1 {
			t.Errorf("table %s: count %d, err %v", table, n, err)
		}
	}
}

// rowsValidAt inserts, into a database at schema version k, one row into
// each table that version has.
func rowsValidAt(t *testing.T, db *sql.DB, k int) {
	t.Helper()
	if k >= 1 {
		mustExec(t, db, `INSERT INTO users (id, username, role, password_hash, created_at, updated_at, password_changed_at) VALUES (1, 'old', 'official', 'x', 1, 1, 1)`)
		mustExec(t, db, `INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at) VALUES ('h', 1, 1, 1, 2)`)
	}
	if k >= 2 {
		mustExec(t, db, `INSERT INTO audit_log (at, username, role, action, result) VALUES (1, 'old', 'official', 'login', 'ok')`)
	}
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func count(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func TestMigrateFromEveryVersion(t *testing.T) {
	ctx := context.Background()
	latest := LatestVersion()
	for k := 0; k <= latest; k++ {
		t.Run(fmt.Sprintf("from_%d", k), func(t *testing.T) {
			dir := t.TempDir()
			db, err := openDB(filepath.Join(dir, dbName), modeDaemon)
			if err != nil {
				t.Fatal(err)
			}
			got, err := migrateTo(ctx, db, discard(), k)
			if err != nil || got != k {
				db.Close()
				t.Fatalf("migrateTo(%d) = %d, %v", k, got, err)
			}
			rowsValidAt(t, db, k)
			db.Close()

			var logBuf bytes.Buffer
			s, err := Open(ctx, dir, slog.New(slog.NewTextHandler(&logBuf, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Version() != latest {
				t.Errorf("Version() = %d, want %d", s.Version(), latest)
			}
			if got, want := strings.Count(logBuf.String(), "store migrated"), latest-k; got != want {
				t.Errorf("applied %d migrations, want %d", got, want)
			}
			want := map[string]int{"users": 0, "sessions": 0, "audit_log": 0}
			if k >= 1 {
				want["users"], want["sessions"] = 1, 1
			}
			if k >= 2 {
				want["audit_log"] = 1
			}
			for table, n := range want {
				if got := count(t, s.DB(), table); got != n {
					t.Errorf("%s has %d rows after migrating from %d, want %d", table, got, k, n)
				}
			}
			// The fully migrated schema accepts today's rows too.
			rowsAfter := `INSERT INTO users (username, role, password_hash, created_at, updated_at, password_changed_at) VALUES ('new', 'admin', 'x', 2, 2, 2)`
			mustExec(t, s.DB(), rowsAfter)
		})
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	rowsValidAt(t, s.DB(), s.Version())
	s.Close()
	var logBuf bytes.Buffer
	s2, err := Open(context.Background(), dir, slog.New(slog.NewTextHandler(&logBuf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if strings.Contains(logBuf.String(), "store migrated") {
		t.Errorf("reopening an up-to-date store migrated again:\n%s", logBuf.String())
	}
	if got := count(t, s2.DB(), "users"); got != 1 {
		t.Errorf("users = %d, want 1", got)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	newer := LatestVersion() + 5
	mustExec(t, s.DB(), fmt.Sprintf("PRAGMA user_version = %d", newer))
	s.Close()

	_, err := Open(context.Background(), dir, discard())
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Open of a newer store: %v, want ErrNewerSchema", err)
	}
	for _, want := range []string{
		fmt.Sprintf("schema version %d", newer),
		fmt.Sprintf("knows up to %d", LatestVersion()),
		"upgrade civicd or restore a backup",
		filepath.Join(dir, dbName),
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// The refusal released the lock and left the version alone.
	lock, err := lockDir(dir)
	if err != nil {
		t.Fatalf("lock after refused Open: %v", err)
	}
	(&Store{lock: lock}).unlock()
	db, err := openDB(filepath.Join(dir, dbName), modeExisting)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := userVersion(context.Background(), db); err != nil || v != newer {
		t.Errorf("user_version after refusal = %d, %v; want %d", v, err, newer)
	}
}

func TestSecondOpenLocked(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)

	_, err := Open(context.Background(), dir, discard())
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "in use") {
		t.Errorf("error %q should name %s and say it is in use", err, dir)
	}
	// A shared (CLI) open works beside the daemon.
	sh, err := OpenShared(context.Background(), dir, discard())
	if err != nil {
		t.Fatalf("OpenShared beside a daemon: %v", err)
	}
	sh.Close()

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(context.Background(), dir, discard())
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s2.Close()
}

func TestCloseIdempotentAndCheckpoints(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	rowsValidAt(t, s.DB(), s.Version())
	if err := s.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if fi, err := os.Stat(s.Path() + "-wal"); err == nil && fi.Size() != 0 {
		t.Errorf("WAL holds %d bytes after Close, want 0", fi.Size())
	}
}

func TestBadDataDir(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	noAccess := filepath.Join(base, "noaccess")
	if err := os.Mkdir(noAccess, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(noAccess, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(noAccess, 0o700) })

	tests := []struct {
		name     string
		dir      string
		wantText []string
		rootSkip bool
	}{
		{name: "path is a file", dir: file, wantText: []string{file, "not a directory"}},
		{name: "parent is a file", dir: filepath.Join(file, "sub"), wantText: []string{filepath.Join(file, "sub"), "not a directory"}},
		{name: "empty", dir: "", wantText: []string{"no data dir"}},
		{name: "no permission", dir: noAccess, wantText: []string{noAccess, "permission denied"}, rootSkip: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.rootSkip && os.Geteuid() == 0 {
				t.Skip("root reads a chmod 000 dir; the file cases cover the error path")
			}
			s, err := Open(context.Background(), tt.dir, discard())
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", tt.dir)
			}
			for _, want := range tt.wantText {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestDSNEscapesPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "odd ?#% name")
	s := openT(t, dir)
	mustExec(t, s.DB(), `INSERT INTO audit_log (at, username, role, action, result) VALUES (1, 'a', 'admin', 'x', 'ok')`)
	if _, err := os.Stat(filepath.Join(dir, dbName)); err != nil {
		t.Fatalf("database is not where it should be: %v", err)
	}
}
