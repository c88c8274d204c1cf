// Package store is civicd's database: SQLite through modernc.org/sqlite
// (pure Go, no cgo) in WAL mode, in one file in the data dir, with
// embedded, versioned migrations applied at start.
//
// A running daemon holds an exclusive lock on DATA_DIR/civicd.lock for as
// long as its Store is open, so a second daemon, or a restore, cannot
// touch the store under it. Backups are consistent copies made with
// VACUUM INTO and can be taken while the daemon runs.
//
// cmd/civicd and the core packages (internal/auth, internal/audit) import
// store; modules get a *sql.DB from main and keep their own tables in
// migrations here, so the whole schema has one version number.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"syscall"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// ErrLocked means another civicd (a running daemon) holds the data dir.
var ErrLocked = errors.New("data dir is in use by another civicd")

// ErrNewerSchema means the database was written by a newer civicd, whose
// schema this one does not know; civicd refuses to start on it.
var ErrNewerSchema = errors.New("store written by a newer civicd")

const (
	dbName   = "civic.db"
	lockName = "civicd.lock"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrationName is the form of a migration file: NNNN_what.sql.
var migrationName = regexp.MustCompile(`^([0-9]{4})_[a-z0-9_]+\.sql$`)

// migration is one embedded schema step.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the embedded migrations in version order. The
// versions must run 1, 2, 3, ... without gaps; anything else is a build
// mistake, reported here and caught by the tests.
func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	out := make([]migration, 0, len(entries))
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration %s: name is not NNNN_name.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1]) // four digits always parse
		b, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: version %d, want %d (versions run 1, 2, 3, ... without gaps)", m.name, m.version, i+1)
		}
	}
	return out, nil
}

// LatestVersion is the schema version this civicd migrates to.
func LatestVersion() int {
	m, err := loadMigrations()
	if err != nil {
		return 0
	}
	return len(m)
}

// Store is the open database of one data dir.
type Store struct {
	db      *sql.DB
	path    string
	version int
	lock    *os.File // nil for a shared (CLI) store

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the store in dataDir, takes the data
// dir's lock, and applies pending migrations. It fails with ErrLocked when
// another daemon holds the dir and with ErrNewerSchema for a store from a
// newer civicd. The lock is held until Close.
func Open(ctx context.Context, dataDir string, logger *slog.Logger) (*Store, error) {
	return open(ctx, dataDir, logger, true)
}

// OpenShared opens and migrates the store like Open but without taking
// the data dir's lock, for the CLI commands that work beside a running
// daemon (user add, user list); SQLite serialises the writers. The daemon
// itself must use Open.
func OpenShared(ctx context.Context, dataDir string, logger *slog.Logger) (*Store, error) {
	return open(ctx, dataDir, logger, false)
}

func open(ctx context.Context, dataDir string, logger *slog.Logger, exclusive bool) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := prepareDir(dataDir); err != nil {
		return nil, err
	}
	s := &Store{path: filepath.Join(dataDir, dbName)}
	if exclusive {
		lock, err := lockDir(dataDir)
		if err != nil {
			return nil, err
		}
		s.lock = lock
	}
	db, err := openDB(s.path, modeDaemon)
	if err != nil {
		s.unlock()
		return nil, err
	}
	s.db = db
	v, err := migrateTo(ctx, db, logger, -1)
	if err != nil {
		db.Close()
		s.unlock()
		return nil, fmt.Errorf("open store %s: %w", s.path, err)
	}
	s.version = v
	return s, nil
}

// prepareDir makes the data dir (0700) if it is missing and checks that it
// is a directory we can list, so a bad data dir fails with its path and
// the OS's reason rather than with SQLite's "unable to open".
func prepareDir(dataDir string) error {
	if dataDir == "" {
		return errors.New("open store: no data dir configured")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("open store: data dir %s: %w", dataDir, err)
	}
	d, err := os.Open(dataDir)
	if err != nil {
		return fmt.Errorf("open store: data dir %s: %w", dataDir, err)
	}
	defer d.Close()
	fi, err := d.Stat()
	if err != nil {
		return fmt.Errorf("open store: data dir %s: %w", dataDir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("open store: data dir %s: not a directory", dataDir)
	}
	if _, err := d.Readdirnames(1); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("open store: data dir %s: %w", dataDir, err)
	}
	return nil
}

// dbMode says how openDB sets up a connection.
type dbMode int

const (
	// modeDaemon is the live store: WAL, normal sync, foreign keys.
	modeDaemon dbMode = iota
	// modeExisting opens a database file that must already exist (a
	// backup source, a copy under restore) and leaves its journal mode
	// alone.
	modeExisting
)

// dsn builds the modernc.org/sqlite DSN for path as a SQLite URI, so
// that any character in the path ('?', '#', '%') is escaped.
func dsn(path string, mode dbMode) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	q := "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_txlock=immediate"
	switch mode {
	case modeDaemon:
		q += "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	case modeExisting:
		q += "&mode=rw"
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q}
	return u.String(), nil
}

// openDB opens a SQLite file with civicd's pragmas. In modeDaemon a
// missing file is first created empty with mode 0600, so the database
// (and its -wal and -shm, which SQLite gives the same mode) is never
// readable by others, not even briefly.
func openDB(path string, mode dbMode) (*sql.DB, error) {
	if mode == modeDaemon {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open store %s: %w", path, err)
		}
		f.Close()
	}
	name, err := dsn(path, mode)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", name)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return db, nil
}

// lockDir takes the exclusive lock of a data dir without blocking. The
// lock file holds the owner's pid, for people; the flock is what counts,
// and the kernel drops it if the process dies.
func lockDir(dataDir string) (*os.File, error) {
	path := filepath.Join(dataDir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open store: data dir %s: %w", dataDir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s (is civicd running?)", ErrLocked, dataDir)
		}
		return nil, fmt.Errorf("lock data dir %s: %w", dataDir, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return f, nil
}

// unlock releases the data dir's lock, if this Store holds it.
func (s *Store) unlock() {
	if s.lock != nil {
		_ = syscall.Flock(int(s.lock.Fd()), syscall.LOCK_UN)
		s.lock.Close()
		s.lock = nil
	}
}

// migrateTo applies every migration above db's current version up to
// target (-1 for the latest), each in its own transaction together with
// the new user_version, and returns the version reached. A db newer than
// this civicd gives ErrNewerSchema and is left untouched.
func migrateTo(ctx context.Context, db *sql.DB, logger *slog.Logger, target int) (int, error) {
	all, err := loadMigrations()
	if err != nil {
		return 0, err
	}
	latest := len(all)
	if target < 0 || target > latest {
		target = latest
	}
	cur, err := userVersion(ctx, db)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if cur > latest {
		return cur, fmt.Errorf("%w: schema version %d, but this civicd knows up to %d; upgrade civicd or restore a backup",
			ErrNewerSchema, cur, latest)
	}
	for _, m := range all {
		if m.version <= cur || m.version > target {
			continue
		}
		applied, err := apply(ctx, db, m)
		if err != nil {
			return cur, err
		}
		if applied {
			logger.Info("store migrated", "version", m.version, "migration", m.name)
		}
		cur = m.version
	}
	return userVersion(ctx, db)
}

// apply runs one migration in an immediate transaction. It reports false
// when another process (a CLI command beside the daemon) applied it first.
func apply(ctx context.Context, db *sql.DB, m migration) (bool, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	defer tx.Rollback()
	var cur int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&cur); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	if cur >= m.version {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	// PRAGMA takes no bound parameters; m.version is an int from the file name.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(m.version)); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	return true, nil
}

func userVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

// DB is the database handle, shared by every package that keeps data in
// the store. It stays valid until Close.
func (s *Store) DB() *sql.DB { return s.db }

// Version is the schema version after migration.
func (s *Store) Version() int { return s.version }

// Path is the database file, DATA_DIR/civic.db.
func (s *Store) Path() string { return s.path }

// Close checkpoints the WAL into the database file (TRUNCATE), closes the
// database and releases the lock. It is safe to call more than once; later
// calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if _, err := s.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			s.closeErr = fmt.Errorf("close store %s: checkpoint: %w", s.path, err)
		}
		if err := s.db.Close(); err != nil && s.closeErr == nil {
			s.closeErr = fmt.Errorf("close store %s: %w", s.path, err)
		}
		s.unlock()
	})
	return s.closeErr
}
