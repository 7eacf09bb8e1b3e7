// Package state is syncer's SQLite state: what each sync last wrote, the
// lineage and serial that date saved plans, the runs, and the lock.
//
// One file, WAL mode, created 0600. A file that is not a syncer state (not
// SQLite, a foreign database, or a newer schema) is refused and never
// written to.
package state

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"

	_ "github.com/mattn/go-sqlite3" // database/sql driver "sqlite3"
)

// applicationID marks a SQLite file as a syncer state ("SYNC").
const applicationID = 0x53594e43

// SchemaVersion is the newest schema this build knows.
const SchemaVersion = 2

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
// anything that is not a syncer state is refused untouched.
func Open(ctx context.Context, path string, create bool) (*Store, error) {
	fresh, err := checkFile(path, create)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite3", dsn(path, "rw"))
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and it keeps the
	// store's transactions strictly ordered.
	db.SetMaxOpenConns(1)
	s := &Store{db: db, path: path}
	if err := s.init(ctx, fresh); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func dsn(path, mode string) string {
	u := url.URL{Scheme: "file", OmitHost: true, Path: path}
	q := url.Values{}
	q.Set("mode", mode)
	q.Set("_busy_timeout", "10000")
	q.Set("_txlock", "immediate")
	q.Set("_synchronous", "NORMAL")
	u.RawQuery = q.Encode()
	return u.String()
}

// checkFile reports whether path is a new, empty file, creating it 0600 when
// missing and create is set, and refuses files that are not SQLite.
func checkFile(path string, create bool) (fresh bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		if !create {
			return false, fmt.Errorf("state %s: %w", path, ErrNoState)
		}
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return false, fmt.Errorf("create state %s: %w", path, err)
		}
		return true, f.Close()
	}
	if err != nil {
		return false, fmt.Errorf("open state %s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, 16)
	n, err := io.ReadFull(f, head)
	if n == 0 && (err == io.EOF) {
		return true, nil // an empty file (e.g. touched by hand) becomes a state
	}
	if err != nil || !bytes.Equal(head, []byte("SQLite format 3\x00")) {
		return false, fmt.Errorf("state %s is not a SQLite database (corrupt, or not a syncer state); refusing to touch it", path)
	}
	return false, nil
}

func (s *Store) init(ctx context.Context, fresh bool) error {
	var appID int64
	if err := s.db.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return s.wrap("read header", err)
	}
	if !fresh && appID != applicationID {
		var tables int
		if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
			return s.wrap("read schema", err)
		}
		if appID != 0 || tables > 0 {
			return fmt.Errorf("state %s is a SQLite database but not a syncer state; refusing to touch it", s.path)
		}
		fresh = true // an empty SQLite database: adopt it
	}
	version := 0
	if !fresh {
		v, err := s.meta(ctx, "schema_version")
		if err != nil {
			return s.wrap("read schema version", err)
		}
		if version, err = strconv.Atoi(v); err != nil {
			return fmt.Errorf("state %s: bad schema version %q", s.path, v)
		}
	}
	if version > SchemaVersion {
		return fmt.Errorf("state %s has schema version %d, newer than this syncer knows (%d): upgrade syncer; the file was left untouched", s.path, version, SchemaVersion)
	}
	// Only now, with the file known to be ours, may it be changed.
	if _, err := s.db.ExecContext(ctx, "PRAGMA journal_mode=WAL"); err != nil {
		return s.wrap("enable WAL", err)
	}
	if version == SchemaVersion {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap("migrate", err)
	}
	defer tx.Rollback()
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

func newLineage() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40 // UUID v4 layout
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (s *Store) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	if msg := err.Error(); strings.Contains(msg, "malformed") || strings.Contains(msg, "not a database") {
		return fmt.Errorf("state %s: %s: %w (the file is corrupt and was left as it is: restore it from a backup, or move it aside to start afresh, which copies everything again)", s.path, what, err)
	}
	return fmt.Errorf("state %s: %s: %w", s.path, what, err)
}

func (s *Store) meta(ctx context.Context, key string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", key).Scan(&v)
	return v, err
}

// Path is the state file's path.
func (s *Store) Path() string { return s.path }

// DB exposes the database for the plan's SQL diff and the apply recorder.
// Callers keep to the tables documented in the schema above.
func (s *Store) DB() *sql.DB { return s.db }

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
