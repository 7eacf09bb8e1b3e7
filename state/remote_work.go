package state

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"syncer/sqlitefile"
)

// Working copies of remote state live in the cache folder, each named
// <key>.<what>-<pid>-<random>, beside an owner file <copy>.owner that its
// process holds an flock on while it uses the copy. The kernel drops the
// flock when the process dies (kill -9 too), so a copy whose owner file can
// be locked is an orphan, and the next run in that folder removes it.

// ownerSuffix names the owner file of a working copy.
const ownerSuffix = ".owner"

// workName matches the name of a working copy, or of a file named after
// one (SQLite's -wal and -shm, a plan's temporary listing): group 1 is the
// copy's name.
var workName = regexp.MustCompile(`^(.+\.(?:work|snap|read|push)-\d+-[0-9a-f]{12})(?:[.-].*)?$`)

// orphanAge is how old a working copy without an owner file must be before
// a sweep removes it (one left by a syncer that predates owner files).
const orphanAge = time.Hour

// workCopy is a working copy path held by this process.
type workCopy struct {
	path  string
	name  string // from the key, for a kept copy's name
	owner *os.File
}

// newWork sweeps dir of orphaned copies and reserves a new copy path in it
// (created 0700): the copy itself is not created.
func newWork(dir, key, what string) (*workCopy, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state cache folder %s: %w", dir, err)
	}
	sweepWork(dir)
	b := make([]byte, 6)
	rand.Read(b)
	name := strings.NewReplacer("/", "_", "\\", "_").Replace(key)
	path := filepath.Join(dir, fmt.Sprintf("%s.%s-%d-%s", name, what, os.Getpid(), hex.EncodeToString(b)))
	// The owner file is locked under another name, then renamed: a sweep
	// never sees it unlocked.
	tmp := path + ownerSuffix + ".new"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state cache folder %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("state cache folder %s: lock %s: %w", dir, tmp, err)
	}
	if err := os.Rename(tmp, path+ownerSuffix); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("state cache folder %s: %w", dir, err)
	}
	return &workCopy{path: path, name: name, owner: f}, nil
}

// keep writes a consistent copy of the working copy beside it, named
// <key>.unsaved-<UTC time>.db (never swept), and returns its path.
func (w *workCopy) keep(ctx context.Context) (string, error) {
	stamp := time.Now().UTC().Format("20060102T150405.000Z")
	out := filepath.Join(filepath.Dir(w.path), fmt.Sprintf("%s.unsaved-%s.db", w.name, stamp))
	db, err := sql.Open("sqlite3", sqlitefile.DSN(w.path, "ro", nil))
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", out); err != nil {
		os.Remove(out)
		return "", fmt.Errorf("copy %s to %s: %w", w.path, out, err)
	}
	return out, nil
}

// remove deletes the copy and every file named after it, then its owner
// file, and lets the owner file go. Safe to call twice.
func (w *workCopy) remove() {
	if w == nil || w.owner == nil {
		return
	}
	removeCopy(w.path)
	w.owner.Close()
	w.owner = nil
}

// removeCopy removes the copy at path and the files named after it, its
// owner file last.
func removeCopy(path string) {
	dir, base := filepath.Split(path)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if m := workName.FindStringSubmatch(e.Name()); m != nil && m[1] == base && e.Name() != base+ownerSuffix {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	os.Remove(path + ownerSuffix)
}

// sweepWork removes the working copies in dir whose process is gone: those
// whose owner file is not locked, and files of copies without one (left
// by a syncer that predates owner files) older than orphanAge. Errors are
// ignored: a sweep only tidies.
func sweepWork(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	owned := map[string]bool{}
	for _, e := range entries {
		if m := workName.FindStringSubmatch(e.Name()); m != nil && e.Name() == m[1]+ownerSuffix {
			owned[m[1]] = true
			sweepOwned(filepath.Join(dir, m[1]))
		}
	}
	for _, e := range entries {
		m := workName.FindStringSubmatch(e.Name())
		if m == nil || owned[m[1]] || !e.Type().IsRegular() {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > orphanAge {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// sweepOwned removes the copy at base if no process holds its owner file.
func sweepOwned(base string) {
	f, err := os.OpenFile(base+ownerSuffix, os.O_RDWR, 0)
	if err != nil {
		return // removed by its owner meanwhile
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return // in use
	}
	// Still the same file (not removed and made anew since the open)?
	a, err1 := f.Stat()
	b, err2 := os.Stat(base + ownerSuffix)
	if err1 != nil || err2 != nil || !os.SameFile(a, b) {
		return
	}
	removeCopy(base)
}

// snapshotFile writes a consistent copy of the SQLite database at src to a
// new working copy (VACUUM INTO, on a read-only connection of its own: in
// WAL mode it reads one snapshot, the -wal file's commits included, while
// other connections go on writing). src is never written to.
func snapshotFile(ctx context.Context, src, dir, key, what string) (*workCopy, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", src, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegular(src, fi.Mode())
	}
	out, err := newWork(dir, key, what)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite3", sqlitefile.DSN(src, "ro", nil))
	if err != nil {
		out.remove()
		return nil, fmt.Errorf("state %s: %w", src, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", out.path); err != nil {
		out.remove()
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("state %s: %w", src, err)
		}
		return nil, fmt.Errorf("state %s: take a consistent copy: %w", src, err)
	}
	return out, nil
}

// digestTables are the tables whose content decides whether a state
// changed: the runs table, history only, does not count.
var digestTables = []string{"meta", "objects", "pending", "uploads", "upload_parts"}

// contentDigest hashes the rows of digestTables in the SQLite file at path
// (read-only), streaming them. A table that does not exist counts as empty.
func contentDigest(ctx context.Context, path string) (string, error) {
	db, err := sql.Open("sqlite3", sqlitefile.DSN(path, "ro", nil))
	if err != nil {
		return "", err
	}
	defer db.Close()
	h := sha256.New()
	num := make([]byte, 8)
	writeField := func(tag byte, b []byte) {
		h.Write([]byte{tag})
		binary.BigEndian.PutUint64(num, uint64(len(b)))
		h.Write(num)
		h.Write(b)
	}
	for _, table := range digestTables {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil {
			return "", fmt.Errorf("digest of %s: %w", path, err)
		}
		writeField('T', []byte(table))
		if n == 0 {
			continue
		}
		if err := digestRows(ctx, db, table, writeField); err != nil {
			return "", fmt.Errorf("digest of %s, table %s: %w", path, table, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// digestRows feeds every row of table, in primary key order, to field.
func digestRows(ctx context.Context, db *sql.DB, table string, field func(byte, []byte)) error {
	order := "rowid"
	var pk []string
	prows, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk`, table)
	if err != nil {
		return err
	}
	for prows.Next() {
		var name string
		if err := prows.Scan(&name); err != nil {
			prows.Close()
			return err
		}
		pk = append(pk, `"`+name+`"`)
	}
	prows.Close()
	if len(pk) > 0 {
		order = strings.Join(pk, ", ")
	}
	rows, err := db.QueryContext(ctx, `SELECT * FROM "`+table+`" ORDER BY `+order)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		field('R', nil)
		for _, v := range vals {
			if v == nil {
				field('N', nil)
			} else {
				field('V', v)
			}
		}
	}
	return rows.Err()
}
