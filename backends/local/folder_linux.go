package local

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// On Linux every operation on a key works through a descriptor of the
// key's folder, opened from a descriptor of the root without following any
// symlink below the root: one openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS)
// call where the kernel has it (5.6+), else one openat(O_NOFOLLOW) per
// folder. The names inside the folder are then used with the *at calls,
// which never resolve the folder's path again, so a folder swapped for a
// symlink while syncer runs cannot redirect a write either. The root itself
// is opened by its path and may be (or lie under) a symlink.

// dirFlags opens a folder for use as the base of *at calls only: O_PATH
// needs no read permission on the folder and reads nothing.
const dirFlags = unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC

// folder is an open folder at or below the root.
type folder struct {
	fd   int
	path string // where it is, for messages and file names
	// shared is set when fd belongs to the folder cache (see
	// cachedFolder): close then lets go of it instead of closing it.
	shared *cachedDir
	cache  *dirCache
}

// isCached reports whether d came from the folder cache.
func (d *folder) isCached() bool { return d.shared != nil }

func (d *folder) close() {
	if d.shared != nil {
		d.cache.release(d.shared)
		return
	}
	unix.Close(d.fd)
}

func (d *folder) join(name string) string { return filepath.Join(d.path, name) }

// openFolder opens the folder dirKey ("" for the root) without following a
// symlink below the root. With create, it makes missing folders (the root
// too) and returns the keys of those it made below the root, outermost
// first. A symlink, or a file, where a folder should be gives a
// *blockedError; a missing folder (without create) an fs.ErrNotExist.
func (b *Backend) openFolder(dirKey string, create bool) (*folder, []string, error) {
	rootFd, err := unix.Open(b.root, dirFlags, 0)
	if err == unix.ENOENT && create {
		if err := b.makeRoot(); err != nil {
			return nil, nil, err
		}
		rootFd, err = unix.Open(b.root, dirFlags, 0)
	}
	if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: b.root, Err: err}
	}
	if dirKey == "" {
		return &folder{fd: rootFd, path: b.root}, nil, nil
	}
	path := filepath.Join(b.root, filepath.FromSlash(dirKey))
	if !b.noOpenat2.Load() {
		fd, err := unix.Openat2(rootFd, dirKey, &unix.OpenHow{
			Flags:   dirFlags,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		switch {
		case err == nil:
			unix.Close(rootFd)
			return &folder{fd: fd, path: path}, nil, nil
		case err == unix.ENOENT && !create:
			unix.Close(rootFd)
			return nil, nil, &fs.PathError{Op: "open", Path: path, Err: err}
		case err == unix.ENOSYS || err == unix.EPERM || err == unix.E2BIG || err == unix.EINVAL:
			// No openat2 (kernel before 5.6, or a seccomp filter that
			// does not know it): walk from now on.
			b.noOpenat2.Store(true)
		}
		// ENOENT (make the missing folders), ELOOP (a symlink: find
		// which), ENOTDIR (a file: find which), EAGAIN, ...: walk, which
		// settles the case on its own.
	}
	fd, created, err := walkFolders(rootFd, dirKey, create)
	if err != nil {
		var be *blockedError
		if !errors.As(err, &be) {
			err = &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return nil, created, err
	}
	return &folder{fd: fd, path: path}, created, nil
}

// walkFolders opens dirKey below the folder rootFd (which it closes) one
// folder at a time, each with O_NOFOLLOW, making missing ones if create.
func walkFolders(rootFd int, dirKey string, create bool) (int, []string, error) {
	fd := rootFd
	var created []string
	n := 0
	for i, seg := range strings.Split(dirKey, "/") {
		if i > 0 {
			n++ // the slash
		}
		n += len(seg)
		prefix := dirKey[:n]
		sub, err := unix.Openat(fd, seg, dirFlags|unix.O_NOFOLLOW, 0)
		if err == unix.ENOENT && create {
			if err = unix.Mkdirat(fd, seg, dirPerm); err == nil {
				created = append(created, prefix)
			}
			if err == nil || err == unix.EEXIST { // EEXIST: a concurrent Put made it
				sub, err = unix.Openat(fd, seg, dirFlags|unix.O_NOFOLLOW, 0)
			}
		}
		if err != nil && err != unix.ENOENT {
			// O_PATH|O_NOFOLLOW|O_DIRECTORY fails with ENOTDIR on a
			// symlink as on a file: tell them apart.
			var st unix.Stat_t
			if unix.Fstatat(fd, seg, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
				switch st.Mode & unix.S_IFMT {
				case unix.S_IFLNK:
					err = &blockedError{folder: prefix, link: true}
				case unix.S_IFDIR:
				default:
					err = &blockedError{folder: prefix}
				}
			}
		}
		unix.Close(fd)
		if err != nil {
			return -1, created, err
		}
		fd = sub
	}
	return fd, created, nil
}

// mode returns the type of the entry name (not following a symlink).
func (d *folder) mode(name string) (fs.FileMode, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return 0, &fs.PathError{Op: "lstat", Path: d.join(name), Err: err}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return 0, nil
	case unix.S_IFDIR:
		return fs.ModeDir, nil
	case unix.S_IFLNK:
		return fs.ModeSymlink, nil
	}
	return fs.ModeIrregular, nil
}

// stat is Lstat of the entry name.
func (d *folder) stat(name string) (fs.FileInfo, error) {
	// O_PATH|O_NOFOLLOW opens a symlink itself, and nothing is read.
	fd, err := unix.Openat(d.fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: d.join(name), Err: err}
	}
	f := os.NewFile(uintptr(fd), d.join(name))
	defer f.Close()
	return f.Stat()
}

// open opens the file name for reading; a symlink there is not followed
// (ELOOP).
func (d *folder) open(name string) (*os.File, error) {
	fd, err := unix.Openat(d.fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: d.join(name), Err: err}
	}
	return os.NewFile(uintptr(fd), d.join(name)), nil
}

// openDir opens the folder for reading its entries.
func (d *folder) openDir() (*os.File, error) {
	fd, err := unix.Openat(d.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: d.path, Err: err}
	}
	return os.NewFile(uintptr(fd), d.path), nil
}

// openSubdir opens the folder name in the open folder dir (at path) for
// reading its entries, failing if name is a symlink.
func openSubdir(dir *os.File, path, name string) (*os.File, error) {
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: filepath.Join(path, name), Err: err}
	}
	return os.NewFile(uintptr(fd), filepath.Join(path, name)), nil
}

// removeIn removes the file name from the open folder dir (at path).
func removeIn(dir *os.File, path, name string) error {
	if err := unix.Unlinkat(int(dir.Fd()), name, 0); err != nil {
		return &fs.PathError{Op: "remove", Path: filepath.Join(path, name), Err: err}
	}
	return nil
}

// createTemp creates a new temporary file in d for an object named base,
// and returns it and its name in d.
func (d *folder) createTemp(base string) (*os.File, string, error) {
	for try := 0; ; try++ {
		name := tempName(base)
		fd, err := unix.Openat(d.fd, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, filePerm)
		if err == unix.EEXIST && try < 10 {
			continue
		}
		if err != nil {
			return nil, "", &fs.PathError{Op: "open", Path: d.join(name), Err: err}
		}
		return os.NewFile(uintptr(fd), d.join(name)), name, nil
	}
}

// openUnnamed creates a file in d that has no name yet (O_TMPFILE): a
// crash or a failed write leaves nothing behind, and link names it.
func (d *folder) openUnnamed() (*os.File, error) {
	fd, err := unix.Openat(d.fd, ".", unix.O_RDWR|unix.O_TMPFILE|unix.O_CLOEXEC, filePerm)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: d.path, Err: err}
	}
	return os.NewFile(uintptr(fd), d.path), nil
}

// link gives the unnamed file f the name name in d; it fails with EEXIST
// if name exists. The /proc path works without the privilege that
// linkat's AT_EMPTY_PATH needs.
func (d *folder) link(f *os.File, name string) error {
	err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), d.fd, name, unix.AT_SYMLINK_FOLLOW)
	if err != nil {
		return &os.LinkError{Op: "link", Old: "new file", New: d.join(name), Err: err}
	}
	return nil
}

// rename renames old to name in d, replacing what name was (a symlink
// there is replaced, not followed).
func (d *folder) rename(old, name string) error {
	if err := unix.Renameat(d.fd, old, d.fd, name); err != nil {
		return &os.LinkError{Op: "rename", Old: d.join(old), New: d.join(name), Err: err}
	}
	return nil
}

// remove removes the file (or symlink) name from d.
func (d *folder) remove(name string) error {
	if err := unix.Unlinkat(d.fd, name, 0); err != nil {
		return &fs.PathError{Op: "remove", Path: d.join(name), Err: err}
	}
	return nil
}

// rmdir removes the folder name from d if it is empty. It fails on
// anything else, a symlink to a folder included.
func (d *folder) rmdir(name string) error {
	if err := unix.Unlinkat(d.fd, name, unix.AT_REMOVEDIR); err != nil {
		return &fs.PathError{Op: "remove", Path: d.join(name), Err: err}
	}
	return nil
}

// sync flushes the folder's entries to disk.
func (d *folder) sync() error {
	fd, err := unix.Openat(d.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: d.path, Err: err}
	}
	err = unix.Fsync(fd)
	unix.Close(fd)
	if err != nil {
		return &fs.PathError{Op: "fsync", Path: d.path, Err: err}
	}
	return nil
}
