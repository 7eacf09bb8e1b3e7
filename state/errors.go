package state

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/mattn/go-sqlite3"
	"golang.org/x/sys/unix"
)

// CorruptError says SQLite found the state file damaged (SQLITE_CORRUPT or
// SQLITE_NOTADB). Err is the error as it came, with what was being done.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("state %s is corrupt (%v): restore it from a backup, or move it aside and run plan again", e.Path, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Explain returns err as it is, unless it carries SQLite's word that the
// database is damaged (SQLITE_CORRUPT or SQLITE_NOTADB), as errors of queries
// on AttachTo's views may: then it returns a *CorruptError that names the
// state file and what to do, wrapping err. The Store's own methods already
// return such errors explained; explaining twice changes nothing.
func (s *Store) Explain(err error) error {
	if err == nil || !isCorrupt(err) {
		return err
	}
	if ce := (*CorruptError)(nil); errors.As(err, &ce) {
		return err
	}
	return &CorruptError{Path: s.path, Err: err}
}

func isCorrupt(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.Code == sqlite3.ErrCorrupt || se.Code == sqlite3.ErrNotADB)
}

// openError is a clearer account of an error of SQLite's, which it wraps.
type openError struct {
	msg string
	err error
}

func (e *openError) Error() string { return e.msg }
func (e *openError) Unwrap() error { return e.err }

// whyCannotOpen explains an error of Open's first look at the database.
// SQLite must create "<state>-wal" and "<state>-shm" beside a WAL database
// even to read it, and where it cannot it says "unable to open database
// file: no such file or directory" (SQLITE_CANTOPEN), naming neither the
// files nor the cause; the folder's write permission does.
func (s *Store) whyCannotOpen(err error) error {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code {
	case sqlite3.ErrCantOpen, sqlite3.ErrReadonly, sqlite3.ErrIoErr, sqlite3.ErrPerm:
	default:
		return err
	}
	file := s.path
	if real, rerr := filepath.EvalSymlinks(file); rerr == nil {
		file = real // SQLite puts its files beside the link's target
	}
	dir := filepath.Dir(file)
	if aerr := unix.Access(dir, unix.W_OK|unix.X_OK); aerr != nil {
		base := filepath.Base(file)
		return &openError{
			msg: fmt.Sprintf("state %s: its folder %s is not writable (%v): SQLite must create %s-wal and %s-shm there, even to read the state",
				s.path, dir, aerr, base, base),
			err: err,
		}
	}
	return err
}
