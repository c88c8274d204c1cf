package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sqliteHeader starts every SQLite 3 database file.
const sqliteHeader = "SQLite format 3\x00"

// Backup writes a consistent copy of the open store to dst, which must not
// exist. The copy is a self-contained database (no -wal) made with VACUUM
// INTO in one read transaction, so writes that run meanwhile are either
// wholly in it or wholly not. It is written to a temporary file next to
// dst, synced, and then put in place.
func (s *Store) Backup(ctx context.Context, dst string) error {
	return vacuumInto(ctx, s.db, dst)
}

// Backup copies the store in dataDir to dst for `civicd backup FILE`. It
// works while a daemon holds the data dir: it does not take the lock, and
// SQLite's WAL lets it read beside the daemon's writers. dst must not
// exist.
func Backup(ctx context.Context, dataDir, dst string) error {
	path := filepath.Join(dataDir, dbName)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("backup: no store in %s: %w", dataDir, err)
	}
	db, err := openDB(path, modeExisting)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer db.Close()
	return vacuumInto(ctx, db, dst)
}

// vacuumInto writes db to dst without ever replacing an existing file.
func vacuumInto(ctx context.Context, db *sql.DB, dst string) error {
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("backup: %s already exists; choose a new file name", dst)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("backup: %s: %w", dst, err)
	}
	// VACUUM INTO accepts an existing empty file and keeps its mode, so
	// making it first keeps the copy (which holds password hashes) 0600.
	tmp := dst + ".tmp-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup to %s: %w", dst, err)
	}
	f.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("backup to %s: %w", dst, err)
	}
	if err := syncFile(tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("backup to %s: %w", dst, err)
	}
	if err := installNew(tmp, dst); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("backup to %s: %w", dst, err)
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return fmt.Errorf("backup to %s: %w", dst, err)
	}
	return nil
}

// installNew moves tmp to dst unless dst exists. A hard link fails on an
// existing dst, so a file that appeared since the check is never replaced;
// on file systems without hard links it falls back to a checked rename.
func installNew(tmp, dst string) error {
	err := os.Link(tmp, dst)
	if err == nil {
		return os.Remove(tmp)
	}
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s already exists; choose a new file name", dst)
	}
	if !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.ENOTSUP) && !errors.Is(err, syscall.EOPNOTSUPP) {
		return err
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("%s already exists; choose a new file name", dst)
	}
	return os.Rename(tmp, dst)
}

// Restore replaces the store in dataDir with the backup src, for `civicd
// restore FILE`. It takes the data dir's lock, so it fails with an error
// wrapping ErrLocked while a daemon runs. src must be a civicd store no
// newer than this civicd (else ErrNewerSchema) and pass SQLite's integrity
// check; the check runs on the very copy that is then installed. The old
// store is kept as civic.db.bak-TIMESTAMP (with its -wal, if it had one),
// so no stale -wal or -shm is left beside the restored file. The copy is
// made in a temporary file, synced, and renamed over civic.db, so a crash
// leaves either the old store or the new one.
func Restore(ctx context.Context, dataDir, src string) error {
	if err := prepareDir(dataDir); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	lock, err := lockDir(dataDir)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	s := &Store{lock: lock}
	defer s.unlock()

	if err := checkHeader(src); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	path := filepath.Join(dataDir, dbName)
	tmp := path + ".restore-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	defer removeDB(tmp) // a no-op once it is installed
	if err := copyFile(src, tmp); err != nil {
		return fmt.Errorf("restore: copy %s: %w", src, err)
	}
	if err := checkBackup(ctx, tmp); err != nil {
		return fmt.Errorf("restore: %s: %w", src, err)
	}
	// Closing the check's connection folds any -wal back in; drop what
	// is left so only the one file is installed.
	os.Remove(tmp + "-wal")
	os.Remove(tmp + "-shm")
	if err := syncFile(tmp); err != nil {
		return fmt.Errorf("restore: %w", err)
	}

	if err := keepOld(path); err != nil {
		return fmt.Errorf("restore: keep the old store: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("restore: install %s: %w", path, err)
	}
	if err := syncDir(dataDir); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// keepOld keeps the live store at path as path.bak-TIMESTAMP: the main
// file by hard link (it stays in place until the new one is renamed over
// it), the -wal by rename, so that the backup copy is complete and no
// stale -wal is left to be applied to the restored file. The -shm is only
// an index and is removed.
func keepOld(path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	stamp := time.Now().UTC().Format("20060102T150405Z")
	bak := path + ".bak-" + stamp
	for i := 2; ; i++ {
		if _, err := os.Lstat(bak); errors.Is(err, os.ErrNotExist) {
			break
		}
		bak = path + ".bak-" + stamp + "-" + strconv.Itoa(i)
	}
	if err := os.Link(path, bak); err != nil {
		if err := copyFile(path, bak); err != nil {
			return err
		}
	}
	if err := os.Rename(path+"-wal", bak+"-wal"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Remove(path + "-shm"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// checkHeader reports whether path starts like a SQLite database.
func checkHeader(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	header := make([]byte, len(sqliteHeader))
	if _, err := io.ReadFull(f, header); err != nil || !bytes.Equal(header, []byte(sqliteHeader)) {
		return fmt.Errorf("%s is not a SQLite database", path)
	}
	return nil
}

// checkBackup opens a copy of a backup and checks that it is a civicd
// store this civicd can run and that SQLite finds it intact.
func checkBackup(ctx context.Context, path string) error {
	db, err := openDB(path, modeExisting)
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := userVersion(ctx, db)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if latest := LatestVersion(); v > latest {
		return fmt.Errorf("%w: schema version %d, but this civicd knows up to %d; upgrade civicd first", ErrNewerSchema, v, latest)
	}
	if v == 0 {
		return errors.New("not a civicd store (schema version 0)")
	}
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("integrity check: %w", err)
		}
		problems = append(problems, strings.ReplaceAll(line, "\n", " "))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	if len(problems) != 1 || problems[0] != "ok" {
		if len(problems) > 5 {
			problems = append(problems[:5], "...")
		}
		return fmt.Errorf("fails the integrity check: %s", strings.Join(problems, "; "))
	}
	return nil
}

// removeDB removes a database file and its -wal and -shm.
func removeDB(path string) {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
}

// copyFile copies src to a new dst (mode 0600) and syncs it.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
