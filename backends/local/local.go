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
	// noOpenat2 is set once openat2 turns out to be missing (Linux before
	// 5.6, some seccomp filters): folders are then opened one at a time.
	noOpenat2 atomic.Bool
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
	return fmt.Errorf("%s %s: key %q: %s", op, b, key, fmt.Sprintf(format, args...))
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

// Stat returns the regular file at key; anything else reads as missing.
func (b *Backend) Stat(ctx context.Context, key string) (backends.Object, error) {
	if _, err := b.path(key); err != nil {
		return backends.Object{}, fmt.Errorf("stat %s: %w", b, err)
	}
	dirKey, name := splitKey(key)
	d, _, err := b.openFolder(dirKey, false)
	if err != nil {
		if missing(err) {
			return backends.Object{}, b.notFound("stat", key)
		}
		return backends.Object{}, b.wrap("stat", key, err)
	}
	fi, err := d.stat(name)
	d.close()
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
	if _, err := b.path(key); err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", op, b, err)
	}
	dirKey, name := splitKey(key)
	d, _, err := b.openFolder(dirKey, false)
	if err != nil {
		if missing(err) {
			return nil, nil, b.notFound(op, key)
		}
		return nil, nil, b.wrap(op, key, err)
	}
	defer d.close()
	// Check the type first so that a special file (a FIFO would block) is
	// not opened.
	if mode, err := d.mode(name); err != nil {
		if missing(err) {
			return nil, nil, b.notFound(op, key)
		}
		return nil, nil, b.wrap(op, key, err)
	} else if !mode.IsRegular() {
		return nil, nil, b.notFound(op, key)
	}
	f, err := d.open(name)
	if err != nil {
		// ELOOP: replaced by a symlink since.
		if missing(err) || errors.Is(err, syscall.ELOOP) {
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
	return b.put(ctx, key, src, func(f *os.File) error {
		_, err := copyBuffered(ctx, f, backends.NewExactReader(ctx, r, src.Size, nil))
		return err
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
	return b.put(ctx, key, srcObj, func(f *os.File) error {
		// The kernel copies from the file itself, not through an
		// ExactReader: copy one byte more than declared, then check.
		limit := int64(-1)
		if srcObj.Size >= 0 {
			limit = srcObj.Size + 1
		}
		n, err := copyKernel(ctx, f, in, limit, progress)
		if err != nil {
			return err
		}
		return backends.CheckSize(srcObj.Size, n)
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

// put writes a new file for key with fill, which copies src's bytes into
// it (failing when they are not src.Size), and puts it in place.
func (b *Backend) put(ctx context.Context, key string, src backends.Object, fill func(f *os.File) error) (backends.Object, error) {
	p, err := b.path(key)
	if err != nil {
		return backends.Object{}, fmt.Errorf("put %s: %w", b, err)
	}
	if err := ctx.Err(); err != nil {
		return backends.Object{}, b.wrap("put", key, err)
	}
	dirKey, name := splitKey(key)

	var (
		d       *folder  // the key's folder, reached without following a symlink
		f       *os.File // the new file
		tmp     string   // its temporary name in d; "" while it is unnamed
		created []string // keys of the folders this Put made
	)
	// openFolder makes folders only when the folder is missing: most
	// puts go to a folder that exists.
	for attempt := 1; ; attempt++ {
		var c []string
		d, c, err = b.openFolder(dirKey, true)
		created = append(created, c...)
		if err == nil {
			f, tmp, err = b.openTemp(d, name)
			if err == nil {
				break
			}
			d.close()
		}
		// A concurrent Delete may have pruned the folder we just made.
		if errors.Is(err, fs.ErrNotExist) && attempt < putAttempts {
			continue
		}
		b.pruneCreated(created)
		return backends.Object{}, b.wrap("put", key, err)
	}
	defer func() { d.close() }() // d may change below

	err = b.writeTemp(f, src, fill)
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		for attempt := 1; ; attempt++ {
			tmp, err = b.publish(d, f, tmp, name)
			if tmp != "" || !errors.Is(err, fs.ErrNotExist) || attempt == putAttempts {
				break
			}
			// The folder went away while the file had no name in it (a
			// Delete prunes folders that look empty): make it again.
			nd, c, oerr := b.openFolder(dirKey, true)
			created = append(created, c...)
			if oerr != nil {
				var be *blockedError
				if errors.As(oerr, &be) {
					err = oerr
				}
				break
			}
			d.close()
			d = nd
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
			d.remove(tmp)
		}
		b.pruneCreated(created)
		return backends.Object{}, b.wrap("put", key, err)
	}
	if b.fsync {
		// The new name lives in d; folders we made live in their parents.
		if err := d.sync(); err != nil {
			return backends.Object{}, b.wrap("put", key, err)
		}
		for _, c := range created {
			if err := b.syncFolder(parentKey(c)); err != nil {
				return backends.Object{}, b.wrap("put", key, err)
			}
		}
	}
	return object(key, fi), nil
}

func parentKey(key string) string {
	dirKey, _ := splitKey(key)
	return dirKey
}

// syncFolder flushes the entries of the folder dirKey to disk.
func (b *Backend) syncFolder(dirKey string) error {
	d, _, err := b.openFolder(dirKey, false)
	if err != nil {
		return err
	}
	defer d.close()
	return d.sync()
}

// writeTemp fills the new file f (fill copies the data) and sets its
// mtime; f stays open for the caller.
func (b *Backend) writeTemp(f *os.File, src backends.Object, fill func(*os.File) error) error {
	if err := fill(f); err != nil {
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

// openTemp opens a new file in d for an object named base: unnamed where
// the filesystem supports it (name is ""), else under a temporary name.
func (b *Backend) openTemp(d *folder, base string) (f *os.File, name string, err error) {
	if b.unnamed.Load() != unnamedNo {
		f, err := d.openUnnamed()
		if err == nil {
			if b.unnamed.Load() == unnamedYes || b.probeUnnamed(d) {
				return f, "", nil
			}
			f.Close()
		} else if missing(err) {
			return nil, "", err // the folder went away: the caller makes it again
		} else if unsupported(err) {
			b.unnamed.Store(unnamedNo)
		} // else (no permission, no space...) a named file tells why, or works
	}
	return d.createTemp(base)
}

// unsupported reports whether err means the system or filesystem has no
// unnamed files: EOPNOTSUPP, or EISDIR/EINVAL from kernels before 3.11.
func unsupported(err error) bool {
	return errors.Is(err, errors.ErrUnsupported) || errors.Is(err, syscall.EOPNOTSUPP) ||
		errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.EINVAL)
}

// probeUnnamed checks once that an unnamed file made in d can be linked
// into it (that needs /proc), and settles the backend's mode.
func (b *Backend) probeUnnamed(d *folder) bool {
	f, err := d.openUnnamed()
	if err == nil {
		defer f.Close()
		name := tempName("probe")
		if err = d.link(f, name); err == nil {
			d.remove(name)
			b.unnamed.Store(unnamedYes)
			return true
		}
	}
	b.unnamed.Store(unnamedNo)
	return false
}

// publish gives the written file f its final name in d in one step, so that
// the name never shows a partial file. It returns the temporary name f
// still has in d if that step failed ("" if none).
func (b *Backend) publish(d *folder, f *os.File, tmp, name string) (string, error) {
	if tmp == "" {
		err := d.link(f, name)
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
		// name exists: replace it by a rename, which needs a name to move.
		for try := 0; ; try++ {
			tmp = tempName(name)
			err = d.link(f, tmp)
			if err == nil {
				break
			}
			if !errors.Is(err, fs.ErrExist) || try >= 10 {
				return "", err
			}
		}
	}
	if err := d.rename(tmp, name); err != nil {
		return tmp, err
	}
	return "", nil
}

// tempName returns a fresh temporary name for an object named base:
// ".syncer-tmp-<random>-<base, cut to tempBaseMax bytes>".
func tempName(base string) string {
	if len(base) > tempBaseMax {
		n := tempBaseMax
		for n > 0 && !utf8.RuneStart(base[n]) {
			n--
		}
		base = base[:n]
	}
	var rnd [tempRandSize]byte
	rand.Read(rnd[:])
	return TempPrefix + hex.EncodeToString(rnd[:]) + "-" + base
}

// pruneCreated removes, innermost first, folders (keys) a failed Put
// created, as long as they are empty.
func (b *Backend) pruneCreated(created []string) {
	for i := len(created) - 1; i >= 0; i-- {
		if b.removeEmptyFolder(created[i]) != nil {
			return
		}
	}
}

// removeEmptyFolder removes the folder dirKey if it is an empty folder. It
// follows no symlink: not on the way, not at dirKey.
func (b *Backend) removeEmptyFolder(dirKey string) error {
	parent, name := splitKey(dirKey)
	d, _, err := b.openFolder(parent, false)
	if err != nil {
		return err
	}
	defer d.close()
	return d.rmdir(name)
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
// symlink (not objects), is left alone and is not an error. So is a key
// below a symlinked folder: it reads as missing, as List does not follow
// the link, and what the link points to is not syncer's to delete (it is
// logged).
func (b *Backend) Delete(ctx context.Context, key string) error {
	if _, err := b.path(key); err != nil {
		return fmt.Errorf("delete %s: %w", b, err)
	}
	if err := ctx.Err(); err != nil {
		return b.wrap("delete", key, err)
	}
	dirKey, name := splitKey(key)
	d, _, err := b.openFolder(dirKey, false)
	if err != nil {
		var be *blockedError
		if errors.As(err, &be) && be.link {
			b.log.Warn("not deleting through a symlinked folder (symlinks are not followed)",
				"backend", b.String(), "key", key, "symlink", be.folder)
			return nil
		}
		if missing(err) {
			return nil
		}
		return b.wrap("delete", key, err)
	}
	err = b.deleteIn(d, name)
	d.close()
	if err != nil {
		if missing(err) {
			return nil
		}
		return b.wrap("delete", key, err)
	}
	b.pruneEmpty(dirKey)
	return nil
}

// deleteIn removes name from d if it is a regular file.
func (b *Backend) deleteIn(d *folder, name string) error {
	mode, err := d.mode(name)
	if err != nil {
		return err
	}
	if !mode.IsRegular() {
		return fs.ErrNotExist
	}
	return d.remove(name)
}

// pruneEmpty removes the folder dirKey and its parents while they are empty
// folders below the root. Symlinks are never followed nor removed.
func (b *Backend) pruneEmpty(dirKey string) {
	for dirKey != "" {
		if b.removeEmptyFolder(dirKey) != nil { // not empty, gone, or not a folder
			return
		}
		dirKey = parentKey(dirKey)
	}
}

// List walks the folders under prefix, streaming. prefix may end mid-name:
// the walk starts in the folder holding its last segment.
func (b *Backend) List(ctx context.Context, prefix string, fn func(backends.Object) error) error {
	dirKey, namePrefix, err := splitPrefix(prefix)
	if err != nil {
		return fmt.Errorf("list %s: %w", b, err)
	}
	// Symlinked folders on the way are not followed, as in a listing from
	// the root.
	d, err := b.openDir(dirKey)
	if err != nil {
		if missing(err) {
			return ctx.Err()
		}
		return fmt.Errorf("list %s: %w", b, err)
	}
	if dirKey != "" {
		dirKey += "/"
	}
	err = b.walk(ctx, d, dirKey, namePrefix, false, func(_ *os.File, _, key string, fi fs.FileInfo) error {
		return fn(object(key, fi))
	})
	if err != nil {
		return err
	}
	return ctx.Err()
}

// openDir opens the folder dirKey for reading its entries.
func (b *Backend) openDir(dirKey string) (*os.File, error) {
	d, _, err := b.openFolder(dirKey, false)
	if err != nil {
		return nil, err
	}
	defer d.close()
	return d.openDir()
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

// walk calls visit for every regular file below the open folder dir (whose
// key prefix is dirKey, "" or ending in "/"), reading entries in batches,
// and closes dir. visit gets the file's folder, open, and name in it. At
// this level only names starting with namePrefix are visited. Temporary
// files are skipped unless temps is set, in which case only they are
// visited. Names that do not make valid keys are skipped; so are symlinks
// and special files (each logged, unless temps). Subfolders are opened
// through dir, never following a symlink. (The FileInfo of a file is read
// by its path: a folder swapped for a symlink meanwhile can give a wrong
// size or time, never a write or a read outside the root.)
func (b *Backend) walk(ctx context.Context, dir *os.File, dirKey, namePrefix string, temps bool, visit func(dir *os.File, name, key string, fi fs.FileInfo) error) error {
	defer dir.Close()
	for {
		entries, err := dir.ReadDir(listBatch)
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
				sub, err := openSubdir(dir, dir.Name(), name)
				if err != nil {
					// Removed, or replaced by a symlink or a file, since
					// ReadDir.
					if missing(err) || errors.Is(err, syscall.ELOOP) {
						continue
					}
					return fmt.Errorf("list %s: %w", b, err)
				}
				if err := b.walk(ctx, sub, key+"/", "", temps, visit); err != nil {
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
				if err := visit(dir, name, key, fi); err != nil {
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
	root, err := b.openDir("")
	if err != nil {
		if missing(err) {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("clean temp %s: %w", b, err)
	}
	err = b.walk(ctx, root, "", "", true, func(dir *os.File, name, key string, fi fs.FileInfo) error {
		if changeTime(fi).After(cutoff) {
			return nil
		}
		if err := removeIn(dir, dir.Name(), name); err != nil {
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
