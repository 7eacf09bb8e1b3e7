package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"unicode/utf8"

	"syncer/backends"
)

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
// each chunk copied. The copy fails with backends.ErrSourceChanged, and
// nothing is put in place, when the source file is not the version srcObj
// describes or changes before its last byte is copied.
func (b *Backend) CopyOnHost(ctx context.Context, src backends.Backend, srcKey, key string, srcObj backends.Object, progress func(int64)) (backends.Object, error) {
	from, ok := src.(*Backend)
	if !ok {
		return backends.Object{}, b.errorf("copy", key, "source %s is not a local folder", src)
	}
	in, fi, err := from.openListed(srcKey, srcObj)
	if err != nil {
		return backends.Object{}, err
	}
	defer in.Close()
	return b.put(ctx, key, srcObj, func(f *os.File) error {
		// The kernel copies from the file itself, not through an
		// ExactReader: copy the declared size, then check. A file that
		// grew since it was opened fails sameFile below; one that was
		// larger already failed changedSince.
		limit := srcObj.Size
		n, err := copyKernel(ctx, f, in, limit, progress)
		if err != nil {
			return err
		}
		// After the last byte, before the copy is put in place: a file
		// rewritten in place meanwhile may have given a mix of versions.
		if err := from.sameFile(in, fi, srcKey); err != nil {
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
		if attempt == 1 {
			d, c, err = b.cachedFolder(dirKey, true)
		} else {
			d, c, err = b.openFolder(dirKey, true)
		}
		created = append(created, c...)
		if err == nil {
			f, tmp, err = b.openTemp(d, name)
			if err == nil {
				break
			}
			d.close()
		}
		if errors.Is(err, fs.ErrNotExist) {
			b.dropFolder(dirKey) // removed since it was cached
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
			b.dropFolder(dirKey)
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
	if err := d.rmdir(name); err != nil {
		return err
	}
	b.dropAllFolders() // it, and what was below it, may be cached
	return nil
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
