// Package local is the syncer backend for a folder on the local filesystem.
//
// Keys map to paths under the root. Only regular files are objects: folders,
// symlinks and other special files are not listed (List logs each symlink,
// special file and name that cannot be a key it skips) and read as missing. Put
// never shows a partial object under a key: on Linux it writes an unnamed
// file (O_TMPFILE) in the destination folder and links it into place (a
// crash leaves nothing behind); elsewhere, or where the filesystem cannot,
// it writes ".syncer-tmp-<random>-<name>" and renames it into place. List
// skips such names and CleanTemp removes leftovers.
package local

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

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

// Options configures a local backend.
type Options struct {
	Name  string // the config name, used in String()
	Path  string // absolute root folder; need not exist yet
	Fsync bool   // fsync each file, and its folder after the rename, before Put returns
	// Logger gets a line for each entry List skips (symlinks, special files,
	// names that cannot be keys); nil discards them.
	Logger *slog.Logger
}

// Backend stores objects as files under a root folder. It implements
// backends.Backend, backends.Hasher (md5, sha256), backends.Precisioner and,
// between two local folders, backends.ServerSideCopier (a kernel copy).
type Backend struct {
	name    string
	root    string // clean, absolute
	fsync   bool
	log     *slog.Logger
	unnamed atomic.Int32 // unnamedUnknown, unnamedYes or unnamedNo
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
)

// New returns a backend rooted at opts.Path, which must be absolute and, if
// it exists, a folder.
func New(opts Options) (*Backend, error) {
	if opts.Path == "" {
		return nil, fmt.Errorf("local %q: path is empty", opts.Name)
	}
	if !filepath.IsAbs(opts.Path) {
		return nil, fmt.Errorf("local %q: path %q is not absolute", opts.Name, opts.Path)
	}
	root := filepath.Clean(opts.Path)
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

// CheckRoot reports an error when the root folder is missing or is not a
// folder (see backends.RootChecker).
func (b *Backend) CheckRoot(ctx context.Context) error {
	fi, err := os.Stat(b.root)
	switch {
	case missing(err):
		return fmt.Errorf("%s: the folder does not exist", b)
	case err != nil:
		return fmt.Errorf("%s: %w", b, err)
	case !fi.IsDir():
		return fmt.Errorf("%s: not a folder", b)
	}
	return ctx.Err()
}

// Precision reports that file times keep nanoseconds (the filesystem may
// still round them).
func (b *Backend) Precision() time.Duration { return time.Nanosecond }

// path checks key and returns its file path.
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

func (b *Backend) errorf(op, key string, format string, args ...any) error {
	return fmt.Errorf("%s %s: key %q: %s", op, b, key, fmt.Sprintf(format, args...))
}

func (b *Backend) wrap(op, key string, err error) error {
	return fmt.Errorf("%s %s: key %q: %w", op, b, key, err)
}

func (b *Backend) notFound(op, key string) error {
	return fmt.Errorf("%s %s: key %q: %w", op, b, key, backends.ErrNotFound)
}

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

// Stat returns the regular file at key; anything else reads as missing.
func (b *Backend) Stat(ctx context.Context, key string) (backends.Object, error) {
	p, err := b.path(key)
	if err != nil {
		return backends.Object{}, fmt.Errorf("stat %s: %w", b, err)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		if missing(err) {
			return backends.Object{}, b.notFound("stat", key)
		}
		return backends.Object{}, b.wrap("stat", key, err)
	}
	if !fi.Mode().IsRegular() {
		return backends.Object{}, b.notFound("stat", key)
	}
	return object(key, fi), nil
}

// openRegular opens the regular file at key for reading.
func (b *Backend) openRegular(op, key string) (*os.File, fs.FileInfo, error) {
	p, err := b.path(key)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", op, b, err)
	}
	// Lstat first so a symlink at key is not followed.
	if fi, err := os.Lstat(p); err != nil {
		if missing(err) {
			return nil, nil, b.notFound(op, key)
		}
		return nil, nil, b.wrap(op, key, err)
	} else if !fi.Mode().IsRegular() {
		return nil, nil, b.notFound(op, key)
	}
	f, err := os.Open(p)
	if err != nil {
		if missing(err) {
			return nil, nil, b.notFound(op, key)
		}
		return nil, nil, b.wrap(op, key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, b.wrap(op, key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, b.notFound(op, key)
	}
	return f, fi, nil
}

// Open streams the file at key from offset; length < 0 reads to the end.
// Reads fail once ctx is done.
func (b *Backend) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, b.errorf("open", key, "negative offset %d", offset)
	}
	if err := ctx.Err(); err != nil {
		return nil, b.wrap("open", key, err)
	}
	f, _, err := b.openRegular("open", key)
	if err != nil {
		return nil, err
	}
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return nil, b.wrap("open", key, err)
		}
	}
	var r io.Reader = f
	if length >= 0 {
		r = io.LimitReader(f, length)
	}
	return &readCloser{ctxReader: ctxReader{ctx: ctx, r: r}, c: f}, nil
}

// ctxReader fails reads once ctx is done. It has only Read, so io.CopyBuffer
// uses the caller's buffer.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

type readCloser struct {
	ctxReader
	c io.Closer
}

func (r *readCloser) Close() error { return r.c.Close() }

// writerOnly hides *os.File's ReadFrom so io.CopyBuffer uses our buffer.
type writerOnly struct{ w io.Writer }

func (w writerOnly) Write(p []byte) (int, error) { return w.w.Write(p) }

// copyBuffered copies src to dst through a pooled buffer, checking ctx
// between reads.
func copyBuffered(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	return io.CopyBuffer(writerOnly{dst}, &ctxReader{ctx: ctx, r: src}, *buf)
}

// Hash computes the md5 or sha256 digest of the file at key by reading it.
func (b *Backend) Hash(ctx context.Context, key string, t backends.HashType) (string, error) {
	var h hash.Hash
	switch t {
	case backends.MD5:
		h = md5.New()
	case backends.SHA256:
		h = sha256.New()
	default:
		return "", b.errorf("hash", key, "unsupported hash type %q", t)
	}
	f, _, err := b.openRegular("hash", key)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := copyBuffered(ctx, h, f); err != nil {
		return "", b.wrap("hash", key, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Put writes r to a new file beside key and then, in one step, puts it in
// place (see the package comment).
func (b *Backend) Put(ctx context.Context, key string, r io.Reader, src backends.Object) (backends.Object, error) {
	return b.put(ctx, key, src, func(f *os.File, limit int64) (int64, error) {
		if limit >= 0 {
			r = io.LimitReader(r, limit)
		}
		return copyBuffered(ctx, f, r)
	})
}

// CanCopyFrom reports whether src is a local folder too: its files are then
// copied by the kernel (copy_file_range), not through syncer's buffers.
func (b *Backend) CanCopyFrom(src backends.Backend) bool {
	_, ok := src.(*Backend)
	return ok
}

// CopyFrom copies the file at srcKey in src (a local Backend) to key, as Put
// of its content would, with the copying done in the kernel.
func (b *Backend) CopyFrom(ctx context.Context, src backends.Backend, srcKey, key string, srcObj backends.Object) (backends.Object, error) {
	return b.CopyOnHost(ctx, src, srcKey, key, srcObj, nil)
}

// CopyOnHost is CopyFrom that calls progress (if not nil) with the bytes of
// each chunk copied.
func (b *Backend) CopyOnHost(ctx context.Context, src backends.Backend, srcKey, key string, srcObj backends.Object, progress func(int64)) (backends.Object, error) {
	from, ok := src.(*Backend)
	if !ok {
		return backends.Object{}, b.errorf("copy", key, "source %s is not a local folder", src)
	}
	in, _, err := from.openRegular("read", srcKey)
	if err != nil {
		return backends.Object{}, err
	}
	defer in.Close()
	return b.put(ctx, key, srcObj, func(f *os.File, limit int64) (int64, error) {
		return copyKernel(ctx, f, in, limit, progress)
	})
}

// copyKernel copies in to f (at most limit bytes if limit >= 0) in chunks,
// checking ctx between them. os.File.ReadFrom uses copy_file_range where
// the kernel can, and falls back to a plain copy.
func copyKernel(ctx context.Context, f, in *os.File, limit int64, progress func(int64)) (int64, error) {
	const chunk = 16 << 20
	var total int64
	for limit < 0 || total < limit {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n := int64(chunk)
		if limit >= 0 {
			n = min(n, limit-total)
		}
		got, err := f.ReadFrom(io.LimitReader(in, n))
		total += got
		if progress != nil && got > 0 {
			progress(got)
		}
		if err != nil {
			return total, err
		}
		if got < n {
			break // end of the source
		}
	}
	return total, nil
}

// put writes a new file for key with fill, which copies at most limit bytes
// (all if limit < 0) into it, and puts it in place.
func (b *Backend) put(ctx context.Context, key string, src backends.Object, fill func(f *os.File, limit int64) (int64, error)) (backends.Object, error) {
	p, err := b.path(key)
	if err != nil {
		return backends.Object{}, fmt.Errorf("put %s: %w", b, err)
	}
	if err := ctx.Err(); err != nil {
		return backends.Object{}, b.wrap("put", key, err)
	}
	dir := filepath.Dir(p)

	var (
		f       *os.File
		tmp     string // the file's temporary name; "" while it is unnamed
		created []string
	)
	// Most puts go to a folder that exists: try the file first, and make
	// folders only when it is missing (saves a stat per file).
	f, tmp, err = b.openTemp(dir, filepath.Base(p))
	for attempt := 1; err != nil; attempt++ {
		c, err := b.mkdirs(dir)
		created = append(created, c...)
		if err == nil {
			f, tmp, err = b.openTemp(dir, filepath.Base(p))
			if err == nil {
				break
			}
			// A concurrent Delete may have pruned the folder we just made.
			if errors.Is(err, fs.ErrNotExist) && attempt < putAttempts {
				continue
			}
		}
		b.pruneCreated(created)
		if errors.Is(err, syscall.ENOTDIR) {
			if blocker := b.fileOnPath(key); blocker != "" {
				return backends.Object{}, b.errorf("put", key, "%q is a file, not a folder", blocker)
			}
		}
		return backends.Object{}, b.wrap("put", key, err)
	}

	err = b.writeTemp(f, src, fill)
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		for attempt := 1; ; attempt++ {
			tmp, err = b.publish(f, tmp, p)
			if tmp != "" || !errors.Is(err, fs.ErrNotExist) || attempt == putAttempts {
				break
			}
			// The folder went away while the file had no name in it (a
			// Delete prunes folders that look empty): make it again.
			c, merr := b.mkdirs(dir)
			created = append(created, c...)
			if merr != nil {
				break
			}
		}
		if errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY) {
			err = fmt.Errorf("%s is a folder, not a file", p)
		}
	}
	var fi fs.FileInfo
	if err == nil {
		// Through the descriptor, after the link or rename (which change
		// the ctime, part of the version tag): the file as a listing sees it.
		fi, err = f.Stat()
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		if tmp != "" {
			os.Remove(tmp)
		}
		b.pruneCreated(created)
		return backends.Object{}, b.wrap("put", key, err)
	}
	if b.fsync {
		// The new name lives in dir; folders we created live in their parents.
		if err := syncDir(dir); err != nil {
			return backends.Object{}, b.wrap("put", key, err)
		}
		for _, d := range created {
			if err := syncDir(filepath.Dir(d)); err != nil {
				return backends.Object{}, b.wrap("put", key, err)
			}
		}
	}
	return object(key, fi), nil
}

// writeTemp fills the new file f (fill copies the data) and sets its mtime; f stays
// open for the caller.
func (b *Backend) writeTemp(f *os.File, src backends.Object, fill func(*os.File, int64) (int64, error)) error {
	if src.Size >= 0 {
		// Read one byte more than promised to detect a long source.
		n, err := fill(f, src.Size+1)
		if err != nil {
			return err
		}
		if n < src.Size {
			return fmt.Errorf("short read: got %d of %d bytes", n, src.Size)
		}
		if n > src.Size {
			return fmt.Errorf("source yielded more than the %d bytes it declared", src.Size)
		}
	} else if _, err := fill(f, -1); err != nil {
		return err
	}
	// Set the mtime before fsync so the fsync makes it durable too.
	if !src.ModTime.IsZero() {
		if err := setModTime(f, src.ModTime); err != nil {
			return err
		}
	}
	if b.fsync {
		return f.Sync()
	}
	return nil
}

// openTemp opens a new file in dir for an object named base: unnamed where
// the filesystem supports it (name is ""), else under a temporary name.
func (b *Backend) openTemp(dir, base string) (f *os.File, name string, err error) {
	if b.unnamed.Load() != unnamedNo {
		f, err := openUnnamed(dir)
		if err == nil {
			if b.unnamed.Load() == unnamedYes || b.probeUnnamed(dir) {
				return f, "", nil
			}
			f.Close()
		} else if missing(err) {
			return nil, "", err // the caller makes the folder and retries
		} else if unsupported(err) {
			b.unnamed.Store(unnamedNo)
		} // else (no permission, no space...) a named file tells why, or works
	}
	f, err = createTemp(dir, base)
	if err != nil {
		return nil, "", err
	}
	return f, f.Name(), nil
}

// unsupported reports whether err means the system or filesystem has no
// unnamed files: EOPNOTSUPP, or EISDIR/EINVAL from kernels before 3.11.
func unsupported(err error) bool {
	return errors.Is(err, errors.ErrUnsupported) || errors.Is(err, syscall.EOPNOTSUPP) ||
		errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.EINVAL)
}

// probeUnnamed checks once that an unnamed file made in dir can be linked
// into it (that needs /proc), and settles the backend's mode.
func (b *Backend) probeUnnamed(dir string) bool {
	f, err := openUnnamed(dir)
	if err == nil {
		defer f.Close()
		name := tempName(dir, "probe")
		if err = linkFile(f, name); err == nil {
			os.Remove(name)
			b.unnamed.Store(unnamedYes)
			return true
		}
	}
	b.unnamed.Store(unnamedNo)
	return false
}

// publish gives the written file f its final name p in one step, so that p
// never shows a partial file. It returns the temporary name f still has if
// that step failed ("" if none).
func (b *Backend) publish(f *os.File, tmp, p string) (string, error) {
	if tmp == "" {
		err := linkFile(f, p)
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
		// p exists: replace it by a rename, which needs a name to move.
		for try := 0; ; try++ {
			tmp = tempName(filepath.Dir(p), filepath.Base(p))
			err = linkFile(f, tmp)
			if err == nil {
				break
			}
			if !errors.Is(err, fs.ErrExist) || try >= 10 {
				return "", err
			}
		}
	}
	if err := os.Rename(tmp, p); err != nil {
		return tmp, err
	}
	return "", nil
}

// tempName returns a fresh temporary path in dir for an object named base:
// ".syncer-tmp-<random>-<base, cut to tempBaseMax bytes>".
func tempName(dir, base string) string {
	if len(base) > tempBaseMax {
		n := tempBaseMax
		for n > 0 && !utf8.RuneStart(base[n]) {
			n--
		}
		base = base[:n]
	}
	var rnd [tempRandSize]byte
	rand.Read(rnd[:])
	return filepath.Join(dir, TempPrefix+hex.EncodeToString(rnd[:])+"-"+base)
}

// createTemp creates a new temporary file in dir for an object named base.
func createTemp(dir, base string) (*os.File, error) {
	for try := 0; ; try++ {
		name := tempName(dir, base)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, filePerm)
		if errors.Is(err, fs.ErrExist) && try < 10 {
			continue
		}
		return f, err
	}
}

// mkdirs creates dir and its missing parents, returning the folders it
// created, outermost first.
func (b *Backend) mkdirs(dir string) ([]string, error) {
	var missingDirs []string
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return nil, &fs.PathError{Op: "mkdir", Path: d, Err: syscall.ENOTDIR}
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		missingDirs = append(missingDirs, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	if len(missingDirs) == 0 {
		return nil, nil
	}
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return nil, err
	}
	for i, j := 0, len(missingDirs)-1; i < j; i, j = i+1, j-1 {
		missingDirs[i], missingDirs[j] = missingDirs[j], missingDirs[i]
	}
	return missingDirs, nil
}

// pruneCreated removes, innermost first, folders a failed Put created, as
// long as they are empty. The root is kept.
func (b *Backend) pruneCreated(created []string) {
	for i := len(created) - 1; i >= 0; i-- {
		if created[i] == b.root {
			return
		}
		if os.Remove(created[i]) != nil {
			return
		}
	}
}

// fileOnPath returns the first proper prefix of key that exists and is not a
// folder, or "".
func (b *Backend) fileOnPath(key string) string {
	for i := 0; i < len(key); i++ {
		if key[i] != '/' {
			continue
		}
		fi, err := os.Stat(filepath.Join(b.root, filepath.FromSlash(key[:i])))
		if err != nil {
			return ""
		}
		if !fi.IsDir() {
			return key[:i]
		}
	}
	return ""
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Delete removes the file at key, then any parent folders left empty, up to
// but not including the root. A missing key, or a key naming a folder or a
// symlink (not objects), is left alone and is not an error.
func (b *Backend) Delete(ctx context.Context, key string) error {
	p, err := b.path(key)
	if err != nil {
		return fmt.Errorf("delete %s: %w", b, err)
	}
	if err := ctx.Err(); err != nil {
		return b.wrap("delete", key, err)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		if missing(err) {
			return nil
		}
		return b.wrap("delete", key, err)
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	if err := os.Remove(p); err != nil && !missing(err) {
		return b.wrap("delete", key, err)
	}
	b.pruneEmpty(filepath.Dir(p))
	return nil
}

// pruneEmpty removes dir and its parents while they are empty folders below
// the root. Symlinks are never removed.
func (b *Backend) pruneEmpty(dir string) {
	for len(dir) > len(b.root) && strings.HasPrefix(dir, b.root) {
		fi, err := os.Lstat(dir)
		if err != nil || !fi.IsDir() {
			return
		}
		if os.Remove(dir) != nil { // not empty, or gone
			return
		}
		dir = filepath.Dir(dir)
	}
}

// List walks the folders under prefix, streaming. prefix may end mid-name:
// the walk starts in the folder holding its last segment.
func (b *Backend) List(ctx context.Context, prefix string, fn func(backends.Object) error) error {
	dirKey, namePrefix, err := splitPrefix(prefix)
	if err != nil {
		return fmt.Errorf("list %s: %w", b, err)
	}
	start := b.root
	if dirKey != "" {
		// Walk down component by component so symlinked folders are not
		// followed, as in a listing from the root.
		for _, seg := range strings.Split(dirKey, "/") {
			start = filepath.Join(start, seg)
			fi, err := os.Lstat(start)
			if err != nil {
				if missing(err) {
					return ctx.Err()
				}
				return fmt.Errorf("list %s: %w", b, err)
			}
			if !fi.IsDir() {
				return ctx.Err()
			}
		}
		dirKey += "/"
	}
	err = b.walk(ctx, start, dirKey, namePrefix, false, func(key string, fi fs.FileInfo) error {
		return fn(object(key, fi))
	})
	if err != nil {
		return err
	}
	return ctx.Err()
}

// splitPrefix splits a list prefix into the key of its folder (all but the
// last segment) and the start of a name in it. Every folder segment must be
// valid; the last segment may be partial or empty.
func splitPrefix(prefix string) (dirKey, namePrefix string, err error) {
	if !utf8.ValidString(prefix) || strings.ContainsRune(prefix, 0) || strings.HasPrefix(prefix, "/") {
		return "", "", fmt.Errorf("invalid list prefix %q", prefix)
	}
	i := strings.LastIndexByte(prefix, '/')
	if i < 0 {
		return "", prefix, nil
	}
	dirKey, namePrefix = prefix[:i], prefix[i+1:]
	if err := backends.CheckKey(dirKey); err != nil {
		return "", "", fmt.Errorf("invalid list prefix %q: %w", prefix, err)
	}
	if filepath.Separator != '/' && strings.ContainsRune(prefix, filepath.Separator) {
		return "", "", fmt.Errorf("invalid list prefix %q: not a local path on this system", prefix)
	}
	return dirKey, namePrefix, nil
}

// walk calls visit for every regular file below dir (whose key prefix is
// dirKey, "" or ending in "/"), reading entries in batches. At this level
// only names starting with namePrefix are visited. Temporary files are
// skipped unless temps is set, in which case only they are visited. Names
// that do not make valid keys are skipped; so are symlinks and special files
// (each logged, unless temps).
func (b *Backend) walk(ctx context.Context, dir, dirKey, namePrefix string, temps bool, visit func(key string, fi fs.FileInfo) error) error {
	d, err := os.Open(dir)
	if err != nil {
		if missing(err) {
			return nil // no root yet, or removed while we walked
		}
		return fmt.Errorf("list %s: %w", b, err)
	}
	defer d.Close()
	for {
		entries, err := d.ReadDir(listBatch)
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			name := e.Name()
			if !strings.HasPrefix(name, namePrefix) {
				continue
			}
			key := dirKey + name
			if err := backends.CheckKey(key); err != nil {
				if !temps {
					b.log.Warn("skipping a file or folder whose name cannot be a key", "backend", b.String(),
						"folder", dirKey, "name", fmt.Sprintf("%q", name), "reason", err)
				}
				continue
			}
			switch t := e.Type(); {
			case t.IsDir():
				if err := b.walk(ctx, filepath.Join(dir, name), key+"/", "", temps, visit); err != nil {
					return err
				}
			case t.IsRegular():
				if isTemp(name) != temps {
					continue
				}
				fi, err := e.Info()
				if err != nil {
					if missing(err) {
						continue
					}
					return fmt.Errorf("list %s: %w", b, err)
				}
				if !fi.Mode().IsRegular() { // replaced since ReadDir
					continue
				}
				if err := visit(key, fi); err != nil {
					return err
				}
			case temps:
			case t&fs.ModeSymlink != 0:
				b.log.Info("skipping a symlink (symlinks are not followed)", "backend", b.String(), "key", key)
			default:
				b.log.Info("skipping a special file (not a regular file or folder)", "backend", b.String(), "key", key, "type", t.String())
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", b, err)
		}
	}
}

// CleanTemp removes temporary files left under the root by interrupted
// Puts whose last status change is at least olderThan ago, and returns how
// many it removed. It stops at an unreadable folder; a file it cannot remove
// is reported after the walk.
// Call it only when no Put may be running on the root, or with an age well
// above the longest transfer.
func (b *Backend) CleanTemp(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	var firstErr error
	err := b.walk(ctx, b.root, "", "", true, func(key string, fi fs.FileInfo) error {
		if changeTime(fi).After(cutoff) {
			return nil
		}
		if err := os.Remove(filepath.Join(b.root, filepath.FromSlash(key))); err != nil {
			if !missing(err) && firstErr == nil {
				firstErr = fmt.Errorf("clean temp %s: %w", b, err)
			}
			return nil
		}
		removed++
		return nil
	})
	if err != nil {
		return removed, err
	}
	return removed, firstErr
}
