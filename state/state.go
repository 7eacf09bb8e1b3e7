// Package state is syncer's SQLite state: what each sync last wrote, the
// lineage and serial that date saved plans, the runs, and the lock.
//
// One file, WAL mode, created 0600. A file that is not a syncer state (not
// SQLite, a foreign database, or a newer schema), or not a regular file, is
// refused and never written to. SQLite keeps "<state>-wal" and
// "<state>-shm" beside it, so its folder must be writable.
package state

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-sqlite3" // database/sql driver "sqlite3"

	"syncer/sqlitefile"
)

// applicationID marks a SQLite file as a syncer state ("SYNC").
const applicationID = 0x53594e43

// SchemaVersion is the newest schema this build knows.
const SchemaVersion = 4

// migrations[i] takes the schema from version i to i+1.
var migrations = []string{
	`CREATE TABLE meta (
		key   TEXT PRIMARY KEY,
		value TEXT NOT NULL
	) WITHOUT ROWID;
	-- One row per (sync, key) that syncer wrote: the source fingerprint it
	-- copied and the destination fingerprint the write produced. Times are
	-- Unix nanoseconds, 0 when unknown; md5 is lowercase hex or ''.
	CREATE TABLE objects (
		sync       TEXT NOT NULL,
		key        TEXT NOT NULL,
		src_size   INTEGER NOT NULL,
		src_mtime  INTEGER NOT NULL,
		src_etag   TEXT NOT NULL,
		src_md5    TEXT NOT NULL,
		dst_size   INTEGER NOT NULL,
		dst_mtime  INTEGER NOT NULL,
		dst_etag   TEXT NOT NULL,
		dst_md5    TEXT NOT NULL,
		written_at INTEGER NOT NULL,
		PRIMARY KEY (sync, key)
	) WITHOUT ROWID;
	CREATE TABLE runs (
		id          INTEGER PRIMARY KEY,
		operation   TEXT NOT NULL,
		started_at  INTEGER NOT NULL,
		finished_at INTEGER,
		status      TEXT NOT NULL,
		copied      INTEGER NOT NULL DEFAULT 0,
		deleted     INTEGER NOT NULL DEFAULT 0,
		failed      INTEGER NOT NULL DEFAULT 0,
		bytes       INTEGER NOT NULL DEFAULT 0,
		host        TEXT NOT NULL,
		pid         INTEGER NOT NULL,
		version     TEXT NOT NULL
	);
	-- Keys an apply started copying and has not recorded yet. After a
	-- kill, a plan that finds such a key at the destination matching the
	-- source records it instead of copying it again.
	CREATE TABLE pending (
		sync TEXT NOT NULL,
		key  TEXT NOT NULL,
		PRIMARY KEY (sync, key)
	) WITHOUT ROWID;
	-- Who holds the lock, for messages; the lock itself is an flock on
	-- "<state>.lock", which the kernel releases when the holder dies.
	CREATE TABLE lock (
		id         INTEGER PRIMARY KEY CHECK (id = 1),
		operation  TEXT NOT NULL,
		host       TEXT NOT NULL,
		pid        INTEGER NOT NULL,
		started_at INTEGER NOT NULL,
		version    TEXT NOT NULL
	);`,
	// 2: multipart uploads in progress, so a killed apply resumes them.
	`CREATE TABLE uploads (
		sync       TEXT NOT NULL,
		key        TEXT NOT NULL,
		upload_id  TEXT NOT NULL,
		part_size  INTEGER NOT NULL,
		started_at INTEGER NOT NULL,
		-- the source version being uploaded: a changed source restarts
		src_size   INTEGER NOT NULL,
		src_mtime  INTEGER NOT NULL,
		src_etag   TEXT NOT NULL,
		PRIMARY KEY (sync, key)
	) WITHOUT ROWID;
	CREATE TABLE upload_parts (
		sync     TEXT NOT NULL,
		key      TEXT NOT NULL,
		number   INTEGER NOT NULL,
		size     INTEGER NOT NULL,
		etag     TEXT NOT NULL,
		checksum TEXT NOT NULL,
		PRIMARY KEY (sync, key, number)
	) WITHOUT ROWID;`,
	// 3: the keys that failed in the last apply (only that run's).
	`CREATE TABLE failures (
		id     INTEGER PRIMARY KEY,
		run_id INTEGER NOT NULL,
		sync   TEXT NOT NULL,
		key    TEXT NOT NULL,
		action TEXT NOT NULL,
		error  TEXT NOT NULL,
		at     INTEGER NOT NULL
	);`,
	// 4: the stores' ids of what syncer wrote (Drive's file ids), so a
	// backend whose name search lags addresses them by id; '' unknown.
	`ALTER TABLE objects ADD COLUMN src_id TEXT NOT NULL DEFAULT '';
	ALTER TABLE objects ADD COLUMN dst_id TEXT NOT NULL DEFAULT '';
	-- the id a create in flight gave its new object (Drive's generated
	-- ids), so a create whose answer was lost is found by id.
	ALTER TABLE pending ADD COLUMN id TEXT NOT NULL DEFAULT '';
	-- Ids of the folders syncer made in a store (backends.IDJournal):
	-- place names the store's root, key the folder's key below it.
	CREATE TABLE backend_ids (
		place TEXT NOT NULL,
		key   TEXT NOT NULL,
		id    TEXT NOT NULL,
		PRIMARY KEY (place, key)
	) WITHOUT ROWID;`,
}

// Store is an open state file.
type Store struct {
	db   *sql.DB
	path string
}

// ErrNoState is returned by Open with create=false when the file is missing.
var ErrNoState = errors.New("no state file")

// Open opens the state at path. A missing file is created (0600) when create
// is true, else Open fails with ErrNoState. Older schemas are migrated;
// anything that is not a syncer state is refused untouched, and so is
// anything that is not a regular file (a named pipe, a device, a socket, a
// folder). Processes that open the same new or old state at once all get
// the same state, created and migrated once.
func Open(ctx context.Context, path string, create bool) (*Store, error) {
	if err := checkFile(path, create); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite3", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and it keeps the
	// store's transactions strictly ordered.
	db.SetMaxOpenConns(1)
	s := &Store{db: db, path: path}
	if err := s.init(ctx); err != nil {
		db.Close()
		return nil, s.whyCannotOpen(err)
	}
	return s, nil
}

func dsn(path string) string {
	return sqlitefile.DSN(path, "rw", map[string]string{"_txlock": "immediate", "_synchronous": "NORMAL"})
}

// checkFile checks what is at path before SQLite may open it: a regular
// file, or a symbolic link to one, that is empty or starts with the SQLite
// header. A missing file is created 0600 and empty when create is set; if
// another process creates it first, that file is checked instead. Anything
// that is not a regular file is refused from its Stat, never opened: a named
// pipe would block the open, and SQLite would write beside a device.
func checkFile(path string, create bool) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		if !create {
			return fmt.Errorf("state %s: %w", path, ErrNoState)
		}
		// The first apply makes the state's folder, as Terraform does.
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return fmt.Errorf("create state %s: %w", path, err)
		}
		var f *os.File
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			return f.Close() // empty: init makes it a state
		}
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create state %s: %w", path, err)
		}
		// Another syncer created it since the Stat (init copes with
		// that), or path is a symbolic link to nothing.
		fi, err = os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			if target, lerr := os.Readlink(path); lerr == nil {
				return fmt.Errorf("state %s is a symbolic link to %s, which does not exist", path, target)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("open state %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return notRegular(path, fi.Mode())
	}
	// O_NONBLOCK: should a named pipe have replaced the file since the
	// Stat, the open still returns at once, and the Stat below refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("open state %s: %w", path, err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return fmt.Errorf("open state %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return notRegular(path, fi.Mode())
	}
	// An empty file (new, or touched by hand) becomes a state; a database
	// is checked by init.
	if c, _ := sqlitefile.Sniff(f); c != sqlitefile.Other {
		return nil
	}
	return fmt.Errorf("state %s is not a SQLite database (corrupt, or not a syncer state); refusing to touch it", path)
}

func notRegular(path string, m fs.FileMode) error {
	return fmt.Errorf("state %s is not a regular file (%s)", path, sqlitefile.Kind(m))
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) init(ctx context.Context) error {
	// Read only, first: nothing is written before the file is known to be
	// ours (or empty).
	version, err := s.schemaVersion(ctx, s.db)
	if err != nil {
		return err
	}
	if err := s.enableWAL(ctx); err != nil {
		return err
	}
	if version == SchemaVersion {
		return nil
	}
	// The migration is one write transaction (BEGIN IMMEDIATE, see dsn),
	// and SQLite lets one writer in at a time: another syncer opening the
	// same new or old state at this moment may have migrated it since the
	// check above, so decide again inside the transaction.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap("migrate", err)
	}
	defer tx.Rollback()
	if version, err = s.schemaVersion(ctx, tx); err != nil {
		return err
	}
	if version == SchemaVersion {
		return nil // done by another process
	}
	for v := version; v < SchemaVersion; v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return s.wrap(fmt.Sprintf("migrate schema %d to %d", v, v+1), err)
		}
	}
	if version == 0 {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
			return s.wrap("write header", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES ('lineage', ?), ('serial', '0')`, newLineage()); err != nil {
			return s.wrap("write lineage", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)`, strconv.Itoa(SchemaVersion)); err != nil {
		return s.wrap("write schema version", err)
	}
	return s.wrap("migrate", tx.Commit())
}

// enableWAL puts the database in WAL mode, where it stays. Switching a
// database that is not yet in WAL mode takes an exclusive lock that SQLite
// does not wait for (the busy timeout does not apply), so while other
// syncers open the same new state at this moment, it tries again.
func (s *Store) enableWAL(ctx context.Context) error {
	deadline := time.Now().Add(sqlitefile.BusyTimeout)
	for {
		var mode string
		err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode)
		var se sqlite3.Error
		busy := errors.As(err, &se) && se.Code == sqlite3.ErrBusy
		if err == nil && strings.EqualFold(mode, "wal") {
			return nil
		}
		if !busy && err != nil || time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("the journal mode stays %q", mode)
			}
			return s.wrap("enable WAL", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// schemaVersion reads the schema version through q: 0 for an empty database
// (a new file, or an empty SQLite database, which is adopted), and an error
// for a database that is not a syncer state or is newer than this build.
func (s *Store) schemaVersion(ctx context.Context, q querier) (int, error) {
	// One statement, so one snapshot: another syncer may be creating the
	// state at this moment.
	var appID, tables int64
	if err := q.QueryRowContext(ctx, `SELECT (SELECT application_id FROM pragma_application_id()),
		(SELECT count(*) FROM sqlite_schema)`).Scan(&appID, &tables); err != nil {
		return 0, s.wrap("read header", err)
	}
	if appID != applicationID {
		if appID != 0 || tables > 0 {
			return 0, fmt.Errorf("state %s is a SQLite database but not a syncer state; refusing to touch it", s.path)
		}
		return 0, nil
	}
	v, err := readMeta(ctx, q, "schema_version")
	if err != nil {
		return 0, s.wrap("read schema version", err)
	}
	version, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("state %s: bad schema version %q", s.path, v)
	}
	if version > SchemaVersion {
		return 0, fmt.Errorf("state %s has schema version %d, newer than this syncer knows (%d): upgrade syncer; the file was left untouched", s.path, version, SchemaVersion)
	}
	return version, nil
}

func newLineage() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40 // UUID v4 layout
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// wrap adds the state's path and what was being done to an error of
// SQLite's; one that says the file is damaged becomes a *CorruptError.
func (s *Store) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%s: %w", what, err)
	if isCorrupt(err) {
		return &CorruptError{Path: s.path, Err: err}
	}
	return fmt.Errorf("state %s: %w", s.path, err)
}

func (s *Store) meta(ctx context.Context, key string) (string, error) {
	return readMeta(ctx, s.db, key)
}

func readMeta(ctx context.Context, q querier, key string) (string, error) {
	var v string
	err := q.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", key).Scan(&v)
	return v, err
}

// Path is the state file's path.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Version is the state's lineage (fixed at creation) and serial (bumped by
// every apply that may change it). A saved plan records both.
type Version struct {
	Lineage string
	Serial  int64
}

// Version reads the lineage and serial.
func (s *Store) Version(ctx context.Context) (Version, error) {
	var v Version
	l, err := s.meta(ctx, "lineage")
	if err != nil {
		return v, s.wrap("read lineage", err)
	}
	sr, err := s.meta(ctx, "serial")
	if err != nil {
		return v, s.wrap("read serial", err)
	}
	n, err := strconv.ParseInt(sr, 10, 64)
	if err != nil {
		return v, fmt.Errorf("state %s: bad serial %q", s.path, sr)
	}
	return Version{Lineage: l, Serial: n}, nil
}

// BumpSerial increments the serial and returns the new version.
func (s *Store) BumpSerial(ctx context.Context) (Version, error) {
	if _, err := s.db.ExecContext(ctx, `UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'serial'`); err != nil {
		return Version{}, s.wrap("bump serial", err)
	}
	return s.Version(ctx)
}
