package local

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"syscall"

	"syncer/backends"
)

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
	d, _, err := b.cachedFolder(dirKey, false)
	if err != nil {
		if missing(err) {
			return nil, nil, b.notFound(op, key)
		}
		return nil, nil, b.wrap(op, key, err)
	}
	// Check the type first so that a special file (a FIFO would block) is
	// not opened.
	mode, err := d.mode(name)
	if missing(err) && d.isCached() {
		// The cached folder may have been removed (and made again)
		// since: resolve it once more before saying the file is missing.
		b.dropFolder(dirKey)
		d.close()
		if d, _, err = b.openFolder(dirKey, false); err != nil {
			if missing(err) {
				return nil, nil, b.notFound(op, key)
			}
			return nil, nil, b.wrap(op, key, err)
		}
		mode, err = d.mode(name)
	}
	defer d.close()
	if err != nil {
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

// openListed opens the file at key for reading as the version a listing
// described (want): a file changed since fails with ErrSourceChanged.
func (b *Backend) openListed(key string, want backends.Object) (*os.File, fs.FileInfo, error) {
	f, fi, err := b.openRegular("read", key)
	if err != nil {
		return nil, nil, err
	}
	if why := changedSince(want, fi); why != "" {
		f.Close()
		return nil, nil, backends.SourceChanged("read", b, key, why+" since it was listed")
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

// OpenPinned is Open of src.Key that fails with backends.ErrSourceChanged
// when the file is not the version src describes (its version tag where
// src has one, size and mtime), or when its size, mtime or version tag
// change before the last byte of the range is read (a file rewritten in
// place; a file replaced by a rename keeps being read whole from the old
// inode). The range ends at the file's size at open.
func (b *Backend) OpenPinned(ctx context.Context, src backends.Object, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, b.errorf("open", src.Key, "negative offset %d", offset)
	}
	if err := ctx.Err(); err != nil {
		return nil, b.wrap("open", src.Key, err)
	}
	f, fi, err := b.openRegular("open", src.Key)
	if err != nil {
		return nil, err
	}
	if why := changedSince(src, fi); why != "" {
		f.Close()
		return nil, backends.SourceChanged("open", b, src.Key, why+" since it was listed")
	}
	left := max(fi.Size()-offset, 0)
	if length >= 0 {
		left = min(left, length)
	}
	if offset > 0 && left > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return nil, b.wrap("open", src.Key, err)
		}
	}
	r := &readCloser{ctxReader: ctxReader{ctx: ctx, r: io.LimitReader(f, left)}, c: f}
	return backends.EndChecked(r, left, func() error { return b.sameFile(f, fi, src.Key) }), nil
}

// sameFile fails with backends.ErrSourceChanged when the open file f no
// longer has the size, mtime and version tag it had at open (fi).
func (b *Backend) sameFile(f *os.File, fi fs.FileInfo, key string) error {
	now, err := f.Stat()
	if err != nil {
		return b.wrap("read", key, err)
	}
	if why := changedSince(object(key, fi), now); why != "" {
		return backends.SourceChanged("read", b, key, why+" while it was read")
	}
	return nil
}

// changedSince says how the file fi differs from the version o describes
// ("" when it does not): its version tag, when both have one, its size,
// when o knows it, and its mtime, when o has one.
func changedSince(o backends.Object, fi fs.FileInfo) string {
	switch tag := versionTag(fi); {
	case o.Size >= 0 && fi.Size() != o.Size:
		return fmt.Sprintf("its size went from %d to %d bytes", o.Size, fi.Size())
	case !o.ModTime.IsZero() && !fi.ModTime().Equal(o.ModTime):
		return "it was modified"
	case o.ETag != "" && tag != "" && tag != o.ETag:
		return "it was written to or replaced"
	}
	return ""
}
