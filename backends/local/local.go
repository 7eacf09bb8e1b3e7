// Package local is the syncer backend for a folder on the local filesystem.
//
// Keys map to paths under the root. Only regular files are objects: folders,
// symlinks and other special files are not listed (List logs each symlink,
// special file and name that cannot be a key it skips) and read as missing.
//
// No operation follows a symlink below the root: List does not descend into
// a symlinked folder, a key under one reads as missing and deletes as
// missing, and Put refuses to write through it, so a symlink planted in a
// destination cannot make syncer write or delete outside the root. The
// root itself may be a symlink (or lie under one). Put
// never shows a partial object under a key: on Linux it writes an unnamed
// file (O_TMPFILE) in the destination folder and links it into place (a
// crash leaves nothing behind); elsewhere, or where the filesystem cannot,
// it writes ".syncer-tmp-<random>-<name>" and renames it into place. List
// skips such names and CleanTemp removes leftovers.
package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"syncer/backends"
)

// TempPrefix starts the name of every temporary file Put writes.
const TempPrefix = ".syncer-tmp-"

const (
	bufSize      = 256 << 10 // copy buffer, bytes
	tempBaseMax  = 64        // bytes of the key's base name kept in a temp name
	listBatch    = 256       // folder entries read at a time
	putAttempts  = 3         // retries when a concurrent Delete prunes our folder
	dirPerm      = 0o755
	filePerm     = 0o644
	tempRandSize = 8 // random bytes in a temp name (hex encoded)
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// Backend stores objects as files under a root folder. It implements
// backends.Backend, backends.Hasher (md5, sha256), backends.Precisioner and,
// between two local folders, backends.ServerSideCopier (a kernel copy).
type Backend struct {
	name    string
	root    string // clean, absolute
	fsync   bool
	log     *slog.Logger
	unnamed atomic.Int32 // unnamedUnknown, unnamedYes or unnamedNo
	// noOpenat2 is set once openat2 turns out to be missing (Linux before
	// 5.6, some seccomp filters): folders are then opened one at a time.
	noOpenat2 atomic.Bool
	dirs      dirCache // recently used folders' descriptors (Linux)
}

// Whether Put writes unnamed files (O_TMPFILE) and links them into place,
// or falls back to temporary names; settled by the first Put.
const (
	unnamedUnknown = iota
	unnamedYes
	unnamedNo
)

var (
	_ backends.Backend          = (*Backend)(nil)
	_ backends.Hasher           = (*Backend)(nil)
	_ backends.Precisioner      = (*Backend)(nil)
	_ backends.ServerSideCopier = (*Backend)(nil)
	_ backends.HostCopier       = (*Backend)(nil)
	_ backends.RootChecker      = (*Backend)(nil)
	_ backends.TempCleaner      = (*Backend)(nil)
)

// New returns a backend rooted at opts.Path, which must be absolute and, if
// it exists, a folder.
func New(opts Options) (*Backend, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("local %q: %w", opts.Name, err)
	}
	root := opts.Path
	if fi, err := os.Stat(root); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("local %q: path %s is not a folder", opts.Name, root)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Backend{name: opts.Name, root: root, fsync: opts.Fsync, log: log}, nil
}

// String returns e.g. `local "src" (/data/src)`.
func (b *Backend) String() string { return fmt.Sprintf("local %q (%s)", b.name, b.root) }

// Root returns the backend's root folder.
func (b *Backend) Root() string { return b.root }

// CheckRoot reports an error when the root folder, or the folder prefix
// names, is missing or is not a folder (see backends.RootChecker).
func (b *Backend) CheckRoot(ctx context.Context, prefix string) error {
	fi, err := os.Stat(b.root)
	switch {
	case missing(err):
		return fmt.Errorf("%s: the folder does not exist", b)
	case err != nil:
		return fmt.Errorf("%s: %w", b, err)
	case !fi.IsDir():
		return fmt.Errorf("%s: not a folder", b)
	}
	if dirKey := backends.PrefixFolder(prefix); dirKey != "" {
		if err := backends.CheckKey(dirKey); err != nil {
			return fmt.Errorf("%s: prefix %q: %w", b, prefix, err)
		}
		d, _, err := b.openFolder(dirKey, false)
		if err != nil {
			var be *blockedError
			if missing(err) || errors.As(err, &be) {
				return fmt.Errorf("%s: prefix %q: folder %q does not exist (or is not a folder)", b, prefix, dirKey)
			}
			return fmt.Errorf("%s: prefix %q: %w", b, prefix, err)
		}
		d.close()
	}
	return ctx.Err()
}

// Precision reports that file times keep nanoseconds (the filesystem may
// still round them).
func (b *Backend) Precision() time.Duration { return time.Nanosecond }

// path checks key and returns its file path, for messages: operations on
// the file go through openFolder, which follows no symlink below the root.
func (b *Backend) path(key string) (string, error) {
	if err := backends.CheckKey(key); err != nil {
		return "", err
	}
	rel := filepath.FromSlash(key)
	if (filepath.Separator != '/' && strings.ContainsRune(key, filepath.Separator)) || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("invalid key %q: not a local path on this system", key)
	}
	if isTemp(key[strings.LastIndexByte(key, '/')+1:]) {
		return "", fmt.Errorf("invalid key %q: names starting with %q are reserved for temporary files", key, TempPrefix)
	}
	return filepath.Join(b.root, rel), nil
}

func isTemp(name string) bool { return strings.HasPrefix(name, TempPrefix) }

// splitKey splits a (checked) key into the key of its folder ("" for the
// root) and its name in it.
func splitKey(key string) (dirKey, name string) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return "", key
	}
	return key[:i], key[i+1:]
}

// blockedError says that a folder on a key's path below the root is a
// symlink or a file. It unwraps to ENOTDIR: no object is below it.
type blockedError struct {
	folder string // its key
	link   bool   // a symlink, else a file (or other non-folder)
}

func (e *blockedError) Error() string {
	if e.link {
		return fmt.Sprintf("folder %q is a symlink; syncer does not write through symlinks", e.folder)
	}
	return fmt.Sprintf("%q is a file, not a folder", e.folder)
}

func (e *blockedError) Unwrap() error { return syscall.ENOTDIR }

// makeRoot makes the missing root folder and its missing parents (the root
// may lie under a symlink), syncing their parents if b.fsync.
func (b *Backend) makeRoot() error {
	var made []string
	for d := b.root; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
			break
		}
		made = append(made, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	if err := os.MkdirAll(b.root, dirPerm); err != nil {
		return err
	}
	if b.fsync {
		for _, d := range made {
			if err := syncDir(filepath.Dir(d)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *Backend) errorf(op, key string, format string, args ...any) error {
	return backends.Errorf(op, b, key, format, args...)
}

func (b *Backend) wrap(op, key string, err error) error {
	return fmt.Errorf("%s %s: key %q: %w", op, b, key, err)
}

func (b *Backend) notFound(op, key string) error { return backends.NotFound(op, b, key) }

// missing reports whether err from a path operation means nothing is there
// (a parent being a file counts: no object can exist below it).
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// object describes a file. ETag is the file's version tag (inode and ctime),
// which changes with any write, even one that restores the mtime.
func object(key string, fi fs.FileInfo) backends.Object {
	return backends.Object{Key: key, Size: fi.Size(), ModTime: fi.ModTime(), ETag: versionTag(fi)}
}
