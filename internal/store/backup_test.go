package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// userRow is the part of a users row the backup tests compare.
type userRow struct {
	id       int64
	username string
	display  string
}

func allUsers(t *testing.T, db *sql.DB) []userRow {
	t.Helper()
	rows, err := db.Query("SELECT id, username, display_name FROM users ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []userRow
	for rows.Next() {
		var r userRow
		if err := rows.Scan(&r.id, &r.username, &r.display); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func insertUser(db *sql.DB, i int) error {
	_, err := db.Exec(`INSERT INTO users (username, display_name, role, password_hash, created_at, updated_at, password_changed_at)
		VALUES (?, ?, 'official', 'x', 1, 1, 1)`, fmt.Sprintf("u%06d", i), strings.Repeat("d", 200)+fmt.Sprint(i))
	return err
}

func integrityOK(t *testing.T, db *sql.DB) {
	t.Helper()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Errorf("integrity_check = %q, %v", res, err)
	}
}

// TestBackupDuringWrites takes a backup while a writer inserts users and
// checks that the restored copy is exactly the source's rows up to some
// id: a consistent snapshot, with nothing torn or missing.
func TestBackupDuringWrites(t *testing.T) {
	ctx := context.Background()
	src := openT(t, t.TempDir())
	const prefill = 2000 // so VACUUM INTO takes long enough to overlap writes
	tx, err := src.DB().Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := range prefill {
		if _, err := tx.Exec(`INSERT INTO users (username, display_name, role, password_hash, created_at, updated_at, password_changed_at)
			VALUES (?, ?, 'official', 'x', 1, 1, 1)`, fmt.Sprintf("p%06d", i), strings.Repeat("p", 500)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if err := insertUser(src.DB(), i); err != nil {
				done <- err
				return
			}
			if i == 50 {
				close(started)
			}
		}
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("writer: %v", err)
	}
	before := count(t, src.DB(), "users")
	backup := filepath.Join(t.TempDir(), "backup.db")
	berr := src.Backup(ctx, backup)
	after := count(t, src.DB(), "users")
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("writer: %v", err)
	}
	if berr != nil {
		t.Fatalf("Backup: %v", berr)
	}
	t.Logf("%d rows written while the backup ran", after-before)
	// Rows written after the backup must not be in it.
	for i := range 20 {
		if err := insertUser(src.DB(), 1_000_000+i); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v, mode %v; want mode 0600", err, fi.Mode())
	}

	dst := filepath.Join(t.TempDir(), "restored")
	if err := Restore(ctx, dst, backup); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	restored := openT(t, dst)
	integrityOK(t, restored.DB())

	want := allUsers(t, src.DB())
	got := allUsers(t, restored.DB())
	if len(got) < before || len(got) > after {
		t.Errorf("backup has %d users, want between %d and %d", len(got), before, after)
	}
	if len(got) >= len(want) {
		t.Fatalf("backup has %d users, source %d: rows written after the backup leaked in", len(got), len(want))
	}
	for i, r := range got {
		if r.id != int64(i+1) {
			t.Fatalf("backup row %d has id %d: a gap", i, r.id)
		}
		if r != want[i] {
			t.Fatalf("backup row %d = %+v, source has %+v", i, r, want[i])
		}
	}
}

func TestBackupRefusesExistingFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openT(t, dir)
	dst := filepath.Join(t.TempDir(), "exists.db")
	if err := os.WriteFile(dst, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	backups := []struct {
		name string
		run  func() error
	}{
		{"Store.Backup", func() error { return s.Backup(ctx, dst) }},
		{"Backup", func() error { return Backup(ctx, dir, dst) }},
	}
	for _, b := range backups {
		t.Run(b.name, func(t *testing.T) {
			err := b.run()
			if err == nil || !strings.Contains(err.Error(), "already exists") {
				t.Errorf("backup over an existing file: %v, want an 'already exists' error", err)
			}
			if got, _ := os.ReadFile(dst); string(got) != "keep me" {
				t.Errorf("existing file now holds %q", got)
			}
		})
	}
	leftovers, _ := filepath.Glob(dst + ".tmp-*")
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

// TestCLIBackupBesideDaemon is `civicd backup` while the daemon holds the
// data dir.
func TestCLIBackupBesideDaemon(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openT(t, dir)
	for i := range 10 {
		if err := insertUser(s.DB(), i); err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(t.TempDir(), "b.db")
	if err := Backup(ctx, dir, dst); err != nil {
		t.Fatalf("Backup beside a running store: %v", err)
	}
	if err := insertUser(s.DB(), 99); err != nil {
		t.Fatalf("the daemon cannot write after a CLI backup: %v", err)
	}
	db, err := openDB(dst, modeExisting)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := count(t, db, "users"); got != 10 {
		t.Errorf("backup has %d users, want 10", got)
	}

	if err := Backup(ctx, filepath.Join(t.TempDir(), "empty"), filepath.Join(t.TempDir(), "x.db")); err == nil {
		t.Error("Backup of a dir without a store succeeded")
	}
}

func TestRestoreRefusedWhileOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openT(t, dir)
	backup := filepath.Join(t.TempDir(), "b.db")
	if err := s.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	err := Restore(ctx, dir, backup)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Restore beside an open store: %v, want ErrLocked naming %s", err, dir)
	}
	s.Close()
	if err := Restore(ctx, dir, backup); err != nil {
		t.Fatalf("Restore after Close: %v", err)
	}
}

func TestRestoreKeepsOldStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openT(t, dir)
	for i := range 3 {
		if err := insertUser(s.DB(), i); err != nil {
			t.Fatal(err)
		}
	}
	backup := filepath.Join(t.TempDir(), "b.db")
	if err := s.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	for i := 3; i < 5; i++ {
		if err := insertUser(s.DB(), i); err != nil {
			t.Fatal(err)
		}
	}
	old := allUsers(t, s.DB())
	s.Close()

	if err := Restore(ctx, dir, backup); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(filepath.Join(dir, dbName+suffix)); err == nil {
			t.Errorf("stale %s left beside the restored store", suffix)
		}
	}
	baks, _ := filepath.Glob(filepath.Join(dir, dbName+".bak-*"))
	var mains []string
	for _, b := range baks {
		if !strings.HasSuffix(b, "-wal") && !strings.HasSuffix(b, "-shm") {
			mains = append(mains, b)
		}
	}
	if len(mains) != 1 {
		t.Fatalf("old stores kept: %v, want one civic.db.bak-*", baks)
	}
	bak, err := openDB(mains[0], modeExisting)
	if err != nil {
		t.Fatal(err)
	}
	defer bak.Close()
	if got := allUsers(t, bak); len(got) != len(old) {
		t.Errorf("kept store has %d users, want %d", len(got), len(old))
	}

	r := openT(t, dir)
	if got := count(t, r.DB(), "users"); got != 3 {
		t.Errorf("restored store has %d users, want 3", got)
	}
	r.Close()

	// A second restore in the same second keeps both old stores.
	if err := Restore(ctx, dir, backup); err != nil {
		t.Fatal(err)
	}
	baks, _ = filepath.Glob(filepath.Join(dir, dbName+".bak-*"))
	n := 0
	for _, b := range baks {
		if !strings.HasSuffix(b, "-wal") && !strings.HasSuffix(b, "-shm") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("after two restores, old stores kept: %v, want two", baks)
	}
}

func TestRestoreRejectsBadBackups(t *testing.T) {
	ctx := context.Background()
	files := t.TempDir()

	notSQLite := filepath.Join(files, "text.db")
	if err := os.WriteFile(notSQLite, []byte("hello, this is not a database at all"), 0o600); err != nil {
		t.Fatal(err)
	}

	newer := filepath.Join(files, "newer.db")
	{
		s := openT(t, t.TempDir())
		if err := s.Backup(ctx, newer); err != nil {
			t.Fatal(err)
		}
		s.Close()
		db, err := openDB(newer, modeExisting)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, db, fmt.Sprintf("PRAGMA user_version = %d", LatestVersion()+1))
		db.Close()
	}

	plain := filepath.Join(files, "plain.db")
	{
		db, err := openDB(plain, modeDaemon)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, db, "CREATE TABLE t (x)")
		db.Close()
	}

	corrupt := filepath.Join(files, "corrupt.db")
	{
		s := openT(t, t.TempDir())
		for i := range 300 {
			if err := insertUser(s.DB(), i); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Backup(ctx, corrupt); err != nil {
			t.Fatal(err)
		}
		s.Close()
		b, err := os.ReadFile(corrupt)
		if err != nil {
			t.Fatal(err)
		}
		// Scribble over the middle of the file, past the schema page.
		for i := len(b) / 2; i < len(b)/2+4096 && i < len(b); i++ {
			b[i] = 0x5a
		}
		if err := os.WriteFile(corrupt, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name    string
		src     string
		wantIs  error
		wantTxt string
	}{
		{name: "missing", src: filepath.Join(files, "nope.db"), wantTxt: "no such file"},
		{name: "not sqlite", src: notSQLite, wantTxt: "not a SQLite database"},
		{name: "newer schema", src: newer, wantIs: ErrNewerSchema, wantTxt: "upgrade civicd"},
		{name: "not civicd", src: plain, wantTxt: "not a civicd store"},
		{name: "corrupt", src: corrupt, wantTxt: "corrupt.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			live := openT(t, dir)
			if err := insertUser(live.DB(), 7); err != nil {
				t.Fatal(err)
			}
			live.Close()

			err := Restore(ctx, dir, tt.src)
			if err == nil {
				t.Fatal("Restore succeeded")
			}
			t.Logf("refused: %v", err)
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v is not %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantTxt) {
				t.Errorf("error %q does not contain %q", err, tt.wantTxt)
			}
			// The live store is untouched and nothing is left behind.
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.Contains(e.Name(), ".restore-") || strings.Contains(e.Name(), ".bak-") {
					t.Errorf("left behind: %s", e.Name())
				}
			}
			s := openT(t, dir)
			if got := count(t, s.DB(), "users"); got != 1 {
				t.Errorf("live store has %d users after a refused restore, want 1", got)
			}
		})
	}
}
